package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/universe-operator/universe-operator/clients/dcosauth"
	"github.com/universe-operator/universe-operator/errs"
)

// Options configure a Client.
type Options struct {
	// URL is the cluster's base URL (dcos_url): schedulers are reached at
	// <URL>/service/<name>/.
	URL string
	// Transport carries the requests, typically a *dcosauth.Transport.
	// Nil = a clone of http.DefaultTransport.
	Transport http.RoundTripper
	// Timeout bounds each call (default 30s).
	Timeout time.Duration
	// NotFoundRetryAfter is the delay attached (errs.Waiting) to a 404
	// (default 10s, Cosmos's poll interval).
	NotFoundRetryAfter time.Duration
}

// Client reads SDK scheduler plans. It is safe for concurrent use.
type Client struct {
	base *url.URL
	hc   *http.Client
	opts Options
}

// New builds a Client. It fails (errs.Permanent) on a malformed URL.
func New(opts Options) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(opts.URL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errs.Permanent(fmt.Errorf("sdk: cluster url %q: want http(s)://host[:port][/prefix]", opts.URL))
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.NotFoundRetryAfter <= 0 {
		opts.NotFoundRetryAfter = 10 * time.Second
	}
	rt := opts.Transport
	if rt == nil {
		rt = http.DefaultTransport.(*http.Transport).Clone()
	}
	return &Client{base: u, opts: opts, hc: &http.Client{Transport: rt, Timeout: opts.Timeout, CheckRedirect: dcosauth.CheckRedirect}}, nil
}

// Plan is a dcos-commons plan as GET /v1/plans/<plan> returns it.
type Plan struct {
	// Code is the HTTP status: 200 complete, 202 not complete, 417 errors.
	Code     int      `json:"-"`
	Status   string   `json:"status"`
	Strategy string   `json:"strategy"`
	Errors   []string `json:"errors"`
	Phases   []Phase  `json:"phases"`
	// Raw is the plan JSON as received.
	Raw json.RawMessage `json:"-"`
}

// Complete reports whether the scheduler answered 200, the signal Cosmos
// waits for before deleting an SDK service's app.
func (p *Plan) Complete() bool { return p != nil && p.Code == http.StatusOK }

// Phase is one phase of a plan.
type Phase struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Status   string `json:"status"`
	Strategy string `json:"strategy"`
	Steps    []Step `json:"steps"`
}

// Step is one step of a phase.
type Step struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

// APIError is an answer other than a plan (200/202/417).
type APIError struct {
	Status  int
	URL     string
	Message string
}

// Error describes the request and the scheduler's answer.
func (e *APIError) Error() string {
	s := fmt.Sprintf("sdk GET %s: %d", e.URL, e.Status)
	if t := http.StatusText(e.Status); t != "" {
		s += " " + strings.ToLower(t)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// IsNotFound reports whether the plan or the service was not found (404):
// a scheduler that is restarting or not registered with Admin Router yet
// answers so too, so callers waiting for an uninstall keep polling.
func IsNotFound(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// PlanURL returns <base>/service/<service>/<apiVersion>/plans/<plan>.
// service may be nested ("/prod/kafka"); apiVersion defaults to v1.
func PlanURL(base, service, apiVersion, plan string) string {
	if apiVersion == "" {
		apiVersion = "v1"
	}
	var segs []string
	for _, s := range strings.Split(strings.Trim(service, "/"), "/") {
		segs = append(segs, url.PathEscape(s))
	}
	return strings.TrimRight(base, "/") + "/service/" + strings.Join(segs, "/") + "/" + url.PathEscape(apiVersion) + "/plans/" + url.PathEscape(plan)
}

// DeployPlan returns the service's deploy plan (during an uninstall, the
// uninstall plan is also named "deploy").
func (c *Client) DeployPlan(ctx context.Context, service, apiVersion string) (*Plan, error) {
	return c.Plan(ctx, service, apiVersion, "deploy")
}

// Plan returns one plan of a service. 200, 202 and 417 answers are results
// (see Plan.Code); everything else is a classified error.
func (c *Client) Plan(ctx context.Context, service, apiVersion, plan string) (*Plan, error) {
	if strings.Trim(service, "/") == "" || plan == "" {
		return nil, errs.Permanent(errors.New("sdk: empty service or plan name"))
	}
	target := PlanURL(c.base.String(), service, apiVersion, plan)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, errs.Permanent(fmt.Errorf("sdk: %w", err))
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "universe-operator")
	shown := redacted(target)
	resp, err := c.hc.Do(req)
	if err != nil {
		var le *dcosauth.LoginError
		inner := unwrapURLError(err)
		if errors.As(err, &le) || errs.IsPermanent(err) {
			return nil, fmt.Errorf("sdk GET %s: %w", shown, inner)
		}
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return nil, errs.Transient(fmt.Errorf("sdk GET %s: no answer within %s: %w", shown, c.opts.Timeout, inner))
		}
		return nil, errs.Transient(fmt.Errorf("sdk GET %s: %w", shown, inner))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, errs.Transient(fmt.Errorf("sdk GET %s: reading the answer: %w", shown, err))
	}
	switch resp.StatusCode {
	case http.StatusOK, http.StatusAccepted, http.StatusExpectationFailed:
		p := &Plan{Code: resp.StatusCode, Raw: body}
		if err := json.Unmarshal(body, p); err != nil || p.Status == "" {
			if err == nil {
				err = errors.New("no plan status")
			}
			return nil, errs.Transient(fmt.Errorf("sdk GET %s: malformed plan (status %d): %w", shown, resp.StatusCode, err))
		}
		return p, nil
	}
	e := &APIError{Status: resp.StatusCode, URL: shown, Message: shortText(body)}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, errs.Waiting(e, c.opts.NotFoundRetryAfter)
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return nil, errs.Transient(e)
	default:
		return nil, errs.Permanent(e)
	}
}

func redacted(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return s
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

func shortText(b []byte) string {
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &m) == nil && m.Message != "" {
		return m.Message
	}
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
