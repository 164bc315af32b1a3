package mesos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	mesosv1 "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/codecs"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli/httpmaster"
	"github.com/mesos/mesos-go/api/v1/lib/master"
	"github.com/mesos/mesos-go/api/v1/lib/master/calls"

	"github.com/universe-operator/universe-operator/clients/dcosauth"
	"github.com/universe-operator/universe-operator/errs"
)

// Options configure a Client.
type Options struct {
	// URL is the master's base URL: http://leader.mesos:5050, or
	// <dcos_url>/mesos through Admin Router. The operator endpoint is
	// URL + "/api/v1".
	URL string
	// Transport carries the requests, typically a *dcosauth.Transport.
	// Nil = a clone of http.DefaultTransport.
	Transport http.RoundTripper
	// Timeout bounds each call, redirects included (default 30s).
	Timeout time.Duration
}

// Client calls the Mesos master operator API. It is safe for concurrent use.
type Client struct {
	endpoint string
	timeout  time.Duration
	sender   calls.Sender
}

// conflictRetryAfter is the delay attached to a 409 (errs.Waiting).
const conflictRetryAfter = 5 * time.Second

// maxRedirects bounds the 307 hops from non-leading masters.
const maxRedirects = 3

// New builds a Client. It fails (errs.Permanent) on a malformed URL.
func New(opts Options) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(opts.URL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errs.Permanent(fmt.Errorf("mesos url %q: want http(s)://host[:port][/prefix]", opts.URL))
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/api/v1"
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	rt := opts.Transport
	if rt == nil {
		rt = http.DefaultTransport.(*http.Transport).Clone()
	}
	// Our own http.Client, handed to mesos-go through httpcli.Do: it
	// carries the auth transport and never follows redirects by itself
	// (as mesos-go's default client); followRedirects does it with the
	// body replayed.
	hc := &http.Client{
		Transport:     rt,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	cli := httpcli.New(
		httpcli.Endpoint(u.String()),
		httpcli.Codec(codecs.ByMediaType[codecs.MediaTypeJSON]),
		httpcli.Do(followRedirects(hc.Do)),
		httpcli.ErrorMapper(mapError),
	)
	return &Client{endpoint: u.String(), timeout: opts.Timeout, sender: httpmaster.NewSender(cli.Send)}, nil
}

// Endpoint returns the operator API URL (…/api/v1).
func (c *Client) Endpoint() string { return c.endpoint }

// followRedirects follows a non-leading master's 307 (Location such as
// //10.0.0.2:5050/api/v1, resolved against the request URL) up to
// maxRedirects hops, replaying the body. The auth transport adds the token
// to every hop; an https -> http downgrade is refused.
func followRedirects(do httpcli.DoFunc) httpcli.DoFunc {
	return func(req *http.Request) (*http.Response, error) {
		for hop := 0; ; hop++ {
			resp, err := do(req)
			if err != nil || resp.StatusCode != http.StatusTemporaryRedirect && resp.StatusCode != http.StatusPermanentRedirect {
				return resp, err
			}
			loc := resp.Header.Get("Location")
			if loc == "" || hop >= maxRedirects {
				return resp, nil // mapError reports it
			}
			next, err := req.URL.Parse(loc)
			if err != nil {
				return resp, nil
			}
			if req.URL.Scheme == "https" && next.Scheme != "https" {
				resp.Body.Close()
				return nil, errs.Permanent(fmt.Errorf("refusing redirect from https to %s", next.Redacted()))
			}
			var body io.ReadCloser
			if req.GetBody != nil {
				if body, err = req.GetBody(); err != nil {
					return resp, nil
				}
			}
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			r2 := req.Clone(req.Context())
			r2.URL, r2.Host, r2.Body = next, "", body
			req = r2
		}
	}
}

// APIError is a non-2xx answer from the master.
type APIError struct {
	// Call is the operator call (TEARDOWN, GET_FRAMEWORKS, ...).
	Call string
	// Status is the HTTP status code.
	Status int
	// Body is the master's explanation (text, at most 4 KiB).
	Body string
	// Location is the redirect target of a 307 that was not followed.
	Location string
}

// Error describes the call and the master's answer.
func (e *APIError) Error() string {
	s := fmt.Sprintf("mesos %s: %d", e.Call, e.Status)
	if t := http.StatusText(e.Status); t != "" {
		s += " " + strings.ToLower(t)
	}
	if e.Body != "" {
		s += ": " + e.Body
	}
	if e.Location != "" {
		s += " (redirect to " + e.Location + ")"
	}
	return s
}

// statusError carries the answer out of mesos-go's error mapper; call()
// turns it into an *APIError naming the call.
type statusError struct {
	status   int
	body     string
	location string
}

func (e *statusError) Error() string { return fmt.Sprintf("status %d: %s", e.status, e.body) }

func mapError(res *http.Response) error {
	if res == nil || res.StatusCode < 300 {
		return nil
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 4<<10))
	return &statusError{status: res.StatusCode, body: strings.TrimSpace(string(b)), location: res.Header.Get("Location")}
}

// IsNotFound reports whether the master said the framework, agent or
// endpoint does not exist (404, or 400 "No framework/agent found").
func IsNotFound(err error) bool {
	var e *APIError
	if !errors.As(err, &e) {
		return false
	}
	return e.Status == http.StatusNotFound ||
		e.Status == http.StatusBadRequest && strings.Contains(strings.ToLower(e.Body), "not found") ||
		e.Status == http.StatusBadRequest && strings.Contains(strings.ToLower(e.Body), "no framework found") ||
		e.Status == http.StatusBadRequest && strings.Contains(strings.ToLower(e.Body), "no agent found")
}

// call sends one operator call and returns the decoded response (nil for
// calls without data). Errors are classified.
func (c *Client) call(ctx context.Context, name string, m *master.Call) (*master.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.sender.Send(ctx, calls.NonStreaming(m))
	if resp != nil {
		defer resp.Close()
	}
	if err != nil {
		return nil, c.classify(ctx, name, err)
	}
	if resp == nil {
		return nil, nil
	}
	var out master.Response
	if err := resp.Decode(&out); err != nil {
		return nil, errs.Transient(fmt.Errorf("mesos %s at %s: malformed answer: %w", name, c.host(), err))
	}
	return &out, nil
}

func (c *Client) host() string {
	if u, err := url.Parse(c.endpoint); err == nil {
		return u.Host
	}
	return c.endpoint
}

func (c *Client) classify(ctx context.Context, name string, err error) error {
	var se *statusError
	if errors.As(err, &se) {
		e := &APIError{Call: name, Status: se.status, Body: se.body, Location: se.location}
		switch {
		case se.status == http.StatusTooManyRequests || se.status >= 500:
			return errs.Transient(e)
		case se.status == http.StatusConflict:
			// The resources are not available as described: still used by
			// tasks that a teardown is killing, or changed since they were
			// read. Re-read and retry.
			return errs.Waiting(e, conflictRetryAfter)
		}
		return errs.Permanent(e)
	}
	var le *dcosauth.LoginError
	if errors.As(err, &le) || errs.IsPermanent(err) {
		return fmt.Errorf("mesos %s: %w", name, unwrapURLError(err))
	}
	var pe httpcli.ProtocolError
	if errors.As(err, &pe) {
		return errs.Transient(fmt.Errorf("mesos %s at %s: unexpected answer: %w", name, c.host(), err))
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return errs.Transient(fmt.Errorf("mesos %s at %s: no answer within %s: %w", name, c.host(), c.timeout, unwrapURLError(err)))
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errs.Transient(fmt.Errorf("mesos %s at %s: unreachable: %w", name, c.host(), unwrapURLError(err)))
	}
	return errs.Transient(fmt.Errorf("mesos %s at %s: %w", name, c.host(), unwrapURLError(err)))
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// Framework is a framework registered with the master.
type Framework struct {
	ID        string
	Name      string
	Roles     []string // role and roles of the FrameworkInfo, deduplicated
	Principal string
	WebUIURL  string
	Hostname  string
	Active    bool
	Connected bool
	Recovered bool
}

// Frameworks lists the registered frameworks, active or not (GET_FRAMEWORKS;
// completed, i.e. torn down, frameworks are left out).
func (c *Client) Frameworks(ctx context.Context) ([]Framework, error) {
	resp, err := c.call(ctx, "GET_FRAMEWORKS", calls.GetFrameworks())
	if err != nil {
		return nil, err
	}
	if resp == nil || resp.GetFrameworks == nil {
		return nil, errs.Transient(fmt.Errorf("mesos GET_FRAMEWORKS at %s: answer without get_frameworks", c.host()))
	}
	out := make([]Framework, 0, len(resp.GetFrameworks.Frameworks))
	for _, f := range resp.GetFrameworks.Frameworks {
		info := f.FrameworkInfo
		fw := Framework{
			Name:      info.Name,
			Principal: info.GetPrincipal(),
			WebUIURL:  info.GetWebUiURL(),
			Hostname:  info.GetHostname(),
			Active:    f.Active,
			Connected: f.Connected,
			Recovered: f.Recovered,
		}
		if info.ID != nil {
			fw.ID = info.ID.Value
		}
		seen := map[string]bool{}
		if info.Role != nil && *info.Role != "" {
			fw.Roles = append(fw.Roles, *info.Role)
			seen[*info.Role] = true
		}
		for _, r := range info.Roles {
			if !seen[r] {
				fw.Roles = append(fw.Roles, r)
				seen[r] = true
			}
		}
		out = append(out, fw)
	}
	return out, nil
}

// FrameworksByName lists the registered frameworks with this name.
func (c *Client) FrameworksByName(ctx context.Context, name string) ([]Framework, error) {
	all, err := c.Frameworks(ctx)
	if err != nil {
		return nil, err
	}
	var out []Framework
	for _, f := range all {
		if f.Name == name {
			out = append(out, f)
		}
	}
	return out, nil
}

// Teardown tears a framework down (TEARDOWN): its tasks are killed and it
// is removed. An unknown id is an error for which IsNotFound is true.
func (c *Client) Teardown(ctx context.Context, frameworkID string) error {
	if frameworkID == "" {
		return errs.Permanent(errors.New("mesos TEARDOWN: empty framework id"))
	}
	_, err := c.call(ctx, "TEARDOWN", calls.Teardown(mesosv1.FrameworkID{Value: frameworkID}))
	return err
}

// Roles lists the roles the master knows (GET_ROLES).
func (c *Client) Roles(ctx context.Context) ([]string, error) {
	resp, err := c.call(ctx, "GET_ROLES", calls.GetRoles())
	if err != nil {
		return nil, err
	}
	if resp == nil || resp.GetRoles == nil {
		return nil, errs.Transient(fmt.Errorf("mesos GET_ROLES at %s: answer without get_roles", c.host()))
	}
	out := make([]string, 0, len(resp.GetRoles.Roles))
	for _, r := range resp.GetRoles.Roles {
		out = append(out, r.Name)
	}
	return out, nil
}

// State returns the master's whole state (GET_STATE), as mesos-go types.
func (c *Client) State(ctx context.Context) (*master.Response_GetState, error) {
	resp, err := c.call(ctx, "GET_STATE", calls.GetState())
	if err != nil {
		return nil, err
	}
	if resp == nil || resp.GetState == nil {
		return nil, errs.Transient(fmt.Errorf("mesos GET_STATE at %s: answer without get_state", c.host()))
	}
	return resp.GetState, nil
}
