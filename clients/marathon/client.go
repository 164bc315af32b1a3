package marathon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/universe-operator/universe-operator/clients/dcosauth"
	"github.com/universe-operator/universe-operator/errs"
)

// Options configure a Client.
type Options struct {
	// URL is the Marathon base URL, or a comma-separated list of them for
	// HA failover. A base may carry a path prefix (Marathon behind Admin
	// Router: https://dcos.example.com/service/marathon).
	URL string
	// Transport carries the requests, typically a *dcosauth.Transport.
	// Nil = a clone of http.DefaultTransport.
	Transport http.RoundTripper
	// Timeout bounds each attempt of an ordinary request (default 30s) and
	// the wait for the event stream's response headers.
	Timeout time.Duration
	// ClientID, when set, is sent as the X-Client-Id header.
	ClientID string
	// Observer, when set, sees every HTTP attempt (metrics).
	Observer Observer
	// Logger receives failover, redirect and reconnect messages. Nil = silent.
	Logger logrus.FieldLogger
	// LockedRetryAfter is the delay attached (errs.Waiting) to a 409 "app is
	// locked" (default 5s).
	LockedRetryAfter time.Duration
	// ExistsRetryAfter is the delay attached (errs.Waiting) to a 409 "already
	// exists" (default 1s): the caller's view is stale, re-read and re-plan.
	ExistsRetryAfter time.Duration
	// EventBackoffInitial and EventBackoffMax shape the event stream's
	// reconnect backoff (defaults 500ms and 30s; jitter ±50%).
	EventBackoffInitial time.Duration
	EventBackoffMax     time.Duration
	// EventBuffer is the capacity of the event queue in front of the
	// channel (default 256).
	EventBuffer int
	// EventIdleTimeout ends an event stream that has sent nothing, not even
	// a heartbeat, for this long, and reconnects (default 60s; Marathon's
	// Jetty sends a heartbeat every 10s). It catches connections that died
	// without a FIN.
	EventIdleTimeout time.Duration
}

// Observer sees every HTTP attempt the client makes: method, a path
// template without ids ("/v2/apps/{id}"), the status code (0 when no answer
// arrived), the duration and the error (nil for any answer, even 4xx/5xx;
// the transport or decoding error otherwise). It must be fast and safe for
// concurrent use.
type Observer interface {
	Request(method, pathTemplate string, code int, d time.Duration, err error)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(method, pathTemplate string, code int, d time.Duration, err error)

// Request implements Observer.
func (f ObserverFunc) Request(method, pathTemplate string, code int, d time.Duration, err error) {
	f(method, pathTemplate, code, d, err)
}

// Client talks to one Marathon (or an HA set of them). It is safe for
// concurrent use.
type Client struct {
	endpoints []*url.URL
	current   atomic.Int32 // index of the endpoint tried first
	hc        *http.Client // ordinary requests: no redirects followed
	stream    *http.Client // event stream: no overall timeout, no redirects followed
	opts      Options
	log       logrus.FieldLogger
}

// New builds a Client. It fails (errs.Permanent) on an empty or malformed URL.
func New(opts Options) (*Client, error) {
	eps, err := parseEndpoints(opts.URL)
	if err != nil {
		return nil, err
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.LockedRetryAfter <= 0 {
		opts.LockedRetryAfter = 5 * time.Second
	}
	if opts.ExistsRetryAfter <= 0 {
		opts.ExistsRetryAfter = time.Second
	}
	if opts.EventBackoffInitial <= 0 {
		opts.EventBackoffInitial = 500 * time.Millisecond
	}
	if opts.EventBackoffMax <= 0 {
		opts.EventBackoffMax = 30 * time.Second
	}
	if opts.EventBuffer <= 0 {
		opts.EventBuffer = 256
	}
	if opts.EventIdleTimeout <= 0 {
		opts.EventIdleTimeout = 60 * time.Second
	}
	rt := opts.Transport
	if rt == nil {
		rt = http.DefaultTransport.(*http.Transport).Clone()
	}
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c := &Client{
		endpoints: eps,
		// Redirects are never followed automatically: Marathon standbys
		// proxy API calls to the leader, so a redirect on an API call means
		// a wrong URL (reported as such), and Go would turn a redirected
		// POST into a GET. The event stream follows redirects by hand.
		hc:     &http.Client{Transport: rt, CheckRedirect: noRedirect},
		stream: &http.Client{Transport: rt, CheckRedirect: noRedirect},
		opts:   opts,
		log:    opts.Logger,
	}
	if c.log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		c.log = l
	}
	return c, nil
}

func parseEndpoints(list string) ([]*url.URL, error) {
	var eps []*url.URL
	for _, part := range strings.Split(list, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		u, err := url.Parse(part)
		if err != nil {
			return nil, errs.Permanent(fmt.Errorf("marathon url %q: %w", part, err))
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			return nil, errs.Permanent(fmt.Errorf("marathon url %q: want http(s)://host[:port][/prefix]", u.Redacted()))
		}
		u.Path = strings.TrimRight(u.Path, "/")
		u.RawPath = ""
		u.RawQuery, u.Fragment = "", ""
		eps = append(eps, u)
	}
	if len(eps) == 0 {
		return nil, errs.Permanent(errors.New("marathon url is empty"))
	}
	return eps, nil
}

// CurrentURL returns the endpoint the next request tries first (redacted).
func (c *Client) CurrentURL() string {
	return c.endpoints[int(c.current.Load())%len(c.endpoints)].Redacted()
}

// request is one logical API call.
type request struct {
	method string
	path   string // escaped, relative to the base: "/v2/apps/prod/kafka"
	tmpl   string // for the Observer: "/v2/apps/{id}"
	query  string // raw query, already encoded
	body   []byte
	accept string
}

// response is a complete answer (body read).
type response struct {
	status int
	header http.Header
	body   []byte
}

const maxBody = 512 << 20

// endpointURL joins a base with an escaped path and a raw query.
func endpointURL(base *url.URL, path, query string) *url.URL {
	u := *base
	u.User = base.User
	raw := base.EscapedPath() + path
	u.RawPath = raw
	if p, err := url.PathUnescape(raw); err == nil {
		u.Path = p
	}
	if u.Path == raw {
		u.RawPath = ""
	}
	u.RawQuery = query
	return &u
}

// do runs a request with HA failover and returns the answer of the first
// endpoint that gave one worth returning. Non-2xx answers come back as
// classified *APIError errors.
func (c *Client) do(ctx context.Context, r request) (*response, error) {
	n := len(c.endpoints)
	start := int(c.current.Load()) % n
	var lastErr error
	for i := 0; i < n; i++ {
		idx := (start + i) % n
		base := c.endpoints[idx]
		resp, err := c.attempt(ctx, base, r)
		if ctx.Err() != nil {
			return nil, errs.Transient(fmt.Errorf("marathon %s %s: %w", r.method, r.tmpl, ctx.Err()))
		}
		if err != nil {
			var le *dcosauth.LoginError
			if errs.IsPermanent(err) || errors.As(err, &le) || !c.failoverOnError(r.method, err) {
				return nil, err
			}
			lastErr = err
		} else if resp.status == http.StatusBadGateway || resp.status == http.StatusServiceUnavailable || resp.status == http.StatusGatewayTimeout {
			lastErr = c.apiError(r, resp)
		} else {
			c.current.Store(int32(idx))
			if resp.status >= 200 && resp.status < 300 {
				return resp, nil
			}
			return nil, c.apiError(r, resp)
		}
		if i+1 < n {
			c.log.WithField("endpoint", base.Redacted()).WithError(lastErr).Warn("marathon: trying the next endpoint")
		}
	}
	return nil, lastErr
}

// failoverOnError says whether a transport error lets the call move on to
// the next endpoint. Reads always may; writes only when the request cannot
// have reached Marathon (the connection was never established).
func (c *Client) failoverOnError(method string, err error) bool {
	if len(c.endpoints) < 2 {
		return false
	}
	if method == http.MethodGet || method == http.MethodHead {
		return true
	}
	return isDialError(err)
}

func isDialError(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns) || errors.Is(err, syscall.ECONNREFUSED)
}

// attempt makes one HTTP exchange with one endpoint.
func (c *Client) attempt(ctx context.Context, base *url.URL, r request) (*response, error) {
	actx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	u := endpointURL(base, r.path, r.query)
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body) // sets GetBody: the auth layer can replay it after a 401
	}
	req, err := http.NewRequestWithContext(actx, r.method, u.String(), body)
	if err != nil {
		return nil, errs.Permanent(fmt.Errorf("marathon %s %s: %w", r.method, r.tmpl, err))
	}
	accept := r.accept
	if accept == "" {
		accept = "application/json"
	}
	req.Header.Set("Accept", accept)
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c.setCommonHeaders(req)
	t0 := time.Now()
	hr, err := c.hc.Do(req)
	if err != nil {
		err = c.transportError(ctx, actx, r, base, err)
		c.observe(r.method, r.tmpl, 0, time.Since(t0), err)
		return nil, err
	}
	defer hr.Body.Close()
	var buf bytes.Buffer
	if hr.ContentLength > 0 && hr.ContentLength < maxBody {
		buf.Grow(int(hr.ContentLength) + bytes.MinRead)
	}
	_, err = buf.ReadFrom(io.LimitReader(hr.Body, maxBody))
	data := buf.Bytes()
	if err != nil {
		err = c.transportError(ctx, actx, r, base, fmt.Errorf("reading the answer (status %d): %w", hr.StatusCode, err))
		c.observe(r.method, r.tmpl, hr.StatusCode, time.Since(t0), err)
		return nil, err
	}
	c.observe(r.method, r.tmpl, hr.StatusCode, time.Since(t0), nil)
	return &response{status: hr.StatusCode, header: hr.Header, body: data}, nil
}

func (c *Client) setCommonHeaders(req *http.Request) {
	req.Header.Set("User-Agent", "universe-operator")
	if c.opts.ClientID != "" {
		req.Header.Set("X-Client-Id", c.opts.ClientID)
	}
}

// transportError classifies an error that left no usable answer. A class
// set below us (a refused service-account login is Permanent) is kept.
func (c *Client) transportError(ctx, actx context.Context, r request, base *url.URL, err error) error {
	var le *dcosauth.LoginError
	if errors.As(err, &le) {
		return fmt.Errorf("marathon %s %s: %w", r.method, r.tmpl, unwrapURLError(err))
	}
	if ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("no answer within %s: %w", c.opts.Timeout, unwrapURLError(err))
	} else {
		err = unwrapURLError(err)
	}
	return errs.Transient(fmt.Errorf("marathon %s %s at %s: %w", r.method, r.tmpl, base.Host, err))
}

// unwrapURLError drops the *url.Error layer, whose text repeats the whole URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

func (c *Client) observe(method, tmpl string, code int, d time.Duration, err error) {
	if c.opts.Observer != nil {
		c.opts.Observer.Request(method, tmpl, code, d, err)
	}
}

// escapeID turns an app or deployment id into an escaped path tail
// ("/prod/kafka" -> "/prod/kafka"; each segment path-escaped).
func escapeID(id string) string {
	id = strings.Trim(id, "/")
	segs := strings.Split(id, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return "/" + strings.Join(segs, "/")
}
