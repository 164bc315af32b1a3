package dcosauth

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/sirupsen/logrus"
	"golang.org/x/sync/singleflight"

	"github.com/universe-operator/universe-operator/errs"
)

// Config says how to authenticate to one DC/OS cluster and how to reach it.
// At most one of Token, ServiceAccount and Basic may be set; none means the
// requests go out unauthenticated (an open cluster, or a plain Marathon).
type Config struct {
	// Token is a fixed DC/OS authentication token.
	Token *StaticToken
	// ServiceAccount logs in as a DC/OS service account.
	ServiceAccount *ServiceAccount
	// Basic sends HTTP basic credentials (Marathon's --http_credentials).
	Basic *Basic

	// CAFile names a PEM file whose certificates are trusted for TLS, in
	// addition to the system pool (DC/OS clusters use their own CA).
	CAFile string
	// CAPEM is the same as CAFile, as bytes.
	CAPEM []byte
	// InsecureSkipVerify turns TLS certificate verification off (tests only).
	InsecureSkipVerify bool

	// DialTimeout bounds connection establishment (default 10s).
	DialTimeout time.Duration
	// TLSHandshakeTimeout bounds the TLS handshake (default 10s).
	TLSHandshakeTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for response headers (0 = none;
	// keep it 0 or generous: Marathon may take seconds to answer a write).
	ResponseHeaderTimeout time.Duration
	// Timeout is the whole-request timeout of the client built by NewClient
	// and of each login request (default 30s).
	Timeout time.Duration

	// Base replaces the transport built from the TLS and timeout settings
	// above (which are then ignored). Tests use it; nil is the normal case.
	Base http.RoundTripper
	// Logger receives login events; it never receives secrets. Nil = silent.
	Logger logrus.FieldLogger
	// Now is the clock (tests); nil = time.Now.
	Now func() time.Time
}

// StaticToken is a fixed DC/OS authentication token. Exactly one source is
// used, in this order: Value, File, Env.
type StaticToken struct {
	// Value is the token itself (callers load it; never put it in a config file).
	Value string
	// File names a file holding the token (surrounding white space ignored).
	// It is read again after a 401, so a rotated token is picked up.
	File string
	// Env names an environment variable holding the token.
	Env string
}

// ServiceAccount is a DC/OS service account: the transport logs in with an
// RS256 JWT {"uid", "exp"} signed by the account's private key.
type ServiceAccount struct {
	// UID is the account's user id.
	UID string
	// PrivateKeyPEM is the account's RSA private key (PKCS#1 or PKCS#8 PEM),
	// loaded by the caller from a file or an environment variable.
	PrivateKeyPEM []byte
	// LoginURL is <dcos_url>/acs/api/v1/auth/login (see LoginURL).
	LoginURL string
	// LoginTokenTTL is the lifetime of the login JWT we sign (default 5m).
	LoginTokenTTL time.Duration
	// RefreshAt is the fraction of the returned token's life after which the
	// transport logs in again before using it (default 0.8).
	RefreshAt float64
}

// Basic holds HTTP basic credentials.
type Basic struct {
	Username string
	Password string
}

// LoginError is a failed service-account login. It never holds the key or
// a token.
type LoginError struct {
	// Status is the HTTP status of the login answer (0 when there was none).
	Status int
	// UID is the account that tried to log in.
	UID string
	// URL is the login endpoint.
	URL string
	// Message is the cluster's explanation or ours.
	Message string
	// Err is the underlying error (network, decoding), if any.
	Err error
}

// Error says which login failed and why.
func (e *LoginError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "dcos login as %q at %s", e.UID, e.URL)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": status %d", e.Status)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying cause, for errors.Is and errors.As.
func (e *LoginError) Unwrap() error { return e.Err }

// LoginURL returns the service-account login endpoint of a cluster reached
// through Admin Router at dcosURL.
func LoginURL(dcosURL string) string {
	return strings.TrimRight(dcosURL, "/") + "/acs/api/v1/auth/login"
}

// Transport is an http.RoundTripper that authenticates every request it
// carries. It is safe for concurrent use.
type Transport struct {
	base  http.RoundTripper
	log   logrus.FieldLogger
	now   func() time.Time
	login *http.Client

	static *StaticToken
	basic  *Basic
	sa     *ServiceAccount
	key    *rsa.PrivateKey

	mu        sync.Mutex
	token     string
	refreshAt time.Time // zero: no proactive refresh (expiry unknown)
	expiresAt time.Time // zero: unknown

	group  singleflight.Group
	logins atomic.Int64
}

// NewTransport builds a Transport from cfg. It validates the configuration
// (one auth method, a parseable key, a readable token file or CA file) so
// mistakes show at start-up, not on the first request.
func NewTransport(cfg Config) (*Transport, error) {
	n := 0
	for _, set := range []bool{cfg.Token != nil, cfg.ServiceAccount != nil, cfg.Basic != nil} {
		if set {
			n++
		}
	}
	if n > 1 {
		return nil, errs.Permanent(errors.New("dcos auth: configure only one of token, service_account and basic"))
	}
	base := cfg.Base
	if base == nil {
		tr, err := baseTransport(cfg)
		if err != nil {
			return nil, err
		}
		base = tr
	}
	t := &Transport{base: base, log: cfg.Logger, now: cfg.Now, basic: cfg.Basic}
	if t.log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		t.log = l
	}
	if t.now == nil {
		t.now = time.Now
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	// The login client carries no auth and follows no redirects: a login
	// endpoint that redirects is misconfigured, and the body holds a
	// credential.
	t.login = &http.Client{
		Transport:     base,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	switch {
	case cfg.Token != nil:
		st := *cfg.Token
		t.static = &st
		tok, err := st.read()
		if err != nil {
			return nil, err
		}
		t.token = tok
	case cfg.ServiceAccount != nil:
		sa := *cfg.ServiceAccount
		if sa.UID == "" {
			return nil, errs.Permanent(errors.New("dcos auth: service account uid is empty"))
		}
		if sa.LoginURL == "" {
			return nil, errs.Permanent(errors.New("dcos auth: service account login url is empty"))
		}
		if len(sa.PrivateKeyPEM) == 0 {
			return nil, errs.Permanent(fmt.Errorf("dcos auth: service account %q: private key is empty", sa.UID))
		}
		key, err := jwt.ParseRSAPrivateKeyFromPEM(sa.PrivateKeyPEM)
		if err != nil {
			// The parser's message does not echo the key.
			return nil, errs.Permanent(fmt.Errorf("dcos auth: service account %q: private key: %w", sa.UID, err))
		}
		if sa.LoginTokenTTL <= 0 {
			sa.LoginTokenTTL = 5 * time.Minute
		}
		if sa.RefreshAt <= 0 || sa.RefreshAt >= 1 {
			sa.RefreshAt = 0.8
		}
		t.sa, t.key = &sa, key
	case cfg.Basic != nil:
		if cfg.Basic.Username == "" {
			return nil, errs.Permanent(errors.New("dcos auth: basic auth username is empty"))
		}
	}
	return t, nil
}

// NewClient returns an *http.Client using NewTransport(cfg), cfg.Timeout
// (default 30s) and the CheckRedirect policy.
func NewClient(cfg Config) (*http.Client, error) {
	t, err := NewTransport(cfg)
	if err != nil {
		return nil, err
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return &http.Client{Transport: t, Timeout: timeout, CheckRedirect: CheckRedirect}, nil
}

// CheckRedirect is the redirect policy of NewClient's client: at most 5
// hops, and never from https to http (the transport adds the token on every
// hop, so a downgrade would send it in clear text).
func CheckRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("stopped after 5 redirects")
	}
	if len(via) > 0 && via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
		return fmt.Errorf("refusing redirect from https to %s://%s", req.URL.Scheme, req.URL.Host)
	}
	return nil
}

func baseTransport(cfg Config) (*http.Transport, error) {
	dial := cfg.DialTimeout
	if dial <= 0 {
		dial = 10 * time.Second
	}
	hs := cfg.TLSHandshakeTimeout
	if hs <= 0 {
		hs = 10 * time.Second
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: dial, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = hs
	tr.ResponseHeaderTimeout = cfg.ResponseHeaderTimeout
	tr.MaxIdleConnsPerHost = 16
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify} //nolint:gosec // opt-in, documented
	pemData := cfg.CAPEM
	if cfg.CAFile != "" {
		b, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, errs.Permanent(fmt.Errorf("dcos auth: ca file: %w", err))
		}
		pemData = append(append([]byte(nil), pemData...), b...)
	}
	if len(pemData) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pemData) {
			name := cfg.CAFile
			if name == "" {
				name = "ca pem"
			}
			return nil, errs.Permanent(fmt.Errorf("dcos auth: %s: no PEM certificate found", name))
		}
		tlsCfg.RootCAs = pool
	}
	tr.TLSClientConfig = tlsCfg
	return tr, nil
}

func (s *StaticToken) read() (string, error) {
	switch {
	case s.Value != "":
		return s.Value, nil
	case s.File != "":
		b, err := os.ReadFile(s.File)
		if err != nil {
			return "", errs.Permanent(fmt.Errorf("dcos auth: token file: %w", err))
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return "", errs.Permanent(fmt.Errorf("dcos auth: token file %s is empty", s.File))
		}
		return tok, nil
	case s.Env != "":
		tok := strings.TrimSpace(os.Getenv(s.Env))
		if tok == "" {
			return "", errs.Permanent(fmt.Errorf("dcos auth: environment variable %s is empty or unset", s.Env))
		}
		return tok, nil
	}
	return "", errs.Permanent(errors.New("dcos auth: token: set one of value, file or env"))
}

// Logins returns how many service-account logins have succeeded.
func (t *Transport) Logins() int { return int(t.logins.Load()) }

// Invalidate forgets the cached service-account token, so the next request
// logs in again.
func (t *Transport) Invalidate() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sa != nil {
		t.token, t.refreshAt, t.expiresAt = "", time.Time{}, time.Time{}
	}
}

// Token returns the token the next request will carry, logging in first if
// needed. It returns "" when the transport does not use token auth.
func (t *Transport) Token(ctx context.Context) (string, error) {
	switch {
	case t.sa != nil:
		return t.saToken(ctx)
	case t.static != nil:
		t.mu.Lock()
		defer t.mu.Unlock()
		return t.token, nil
	}
	return "", nil
}

// saToken returns a usable service-account token: the cached one while it
// is fresh, else the result of a (shared) login. When an early refresh
// fails but the cached token has not expired yet, the cached token is used
// and the failure logged.
func (t *Transport) saToken(ctx context.Context) (string, error) {
	now := t.now()
	t.mu.Lock()
	tok, refreshAt, expiresAt := t.token, t.refreshAt, t.expiresAt
	t.mu.Unlock()
	if tok != "" && (refreshAt.IsZero() || now.Before(refreshAt)) {
		return tok, nil
	}
	fresh, err := t.doLogin(ctx)
	if err != nil {
		if tok != "" && (expiresAt.IsZero() || now.Before(expiresAt)) {
			t.log.WithError(err).Warn("dcos auth: early token refresh failed; using the current token until it expires")
			return tok, nil
		}
		return "", err
	}
	return fresh, nil
}

// doLogin logs in once for all concurrent callers. The login runs on a
// context detached from the caller's cancellation (one caller giving up must
// not fail the others), bounded by the login client's timeout.
func (t *Transport) doLogin(ctx context.Context) (string, error) {
	ch := t.group.DoChan("login", func() (any, error) {
		return t.loginOnce(context.WithoutCancel(ctx))
	})
	select {
	case <-ctx.Done():
		return "", errs.Transient(fmt.Errorf("dcos login as %q: %w", t.sa.UID, ctx.Err()))
	case r := <-ch:
		if r.Err != nil {
			return "", r.Err
		}
		return r.Val.(string), nil
	}
}

func (t *Transport) loginOnce(ctx context.Context) (string, error) {
	sa := t.sa
	start := t.now()
	signed, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"uid": sa.UID,
		"exp": start.Add(sa.LoginTokenTTL).Unix(),
	}).SignedString(t.key)
	if err != nil {
		return "", errs.Permanent(&LoginError{UID: sa.UID, URL: sa.LoginURL, Message: "cannot sign the login token", Err: err})
	}
	body, _ := json.Marshal(map[string]string{"uid": sa.UID, "token": signed})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sa.LoginURL, bytes.NewReader(body))
	if err != nil {
		return "", errs.Permanent(&LoginError{UID: sa.UID, URL: sa.LoginURL, Message: "invalid login url", Err: err})
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := t.login.Do(req)
	if err != nil {
		return "", errs.Transient(&LoginError{UID: sa.UID, URL: sa.LoginURL, Err: stripURL(err)})
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", errs.Transient(&LoginError{UID: sa.UID, URL: sa.LoginURL, Status: resp.StatusCode, Message: "reading the answer", Err: err})
	}
	if resp.StatusCode != http.StatusOK {
		le := &LoginError{UID: sa.UID, URL: sa.LoginURL, Status: resp.StatusCode, Message: clusterMessage(data)}
		switch {
		case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
			le.Message = joinMsg("login refused: wrong uid or private key, or the account is not registered with the cluster", le.Message)
			return "", errs.Permanent(le)
		case resp.StatusCode == http.StatusBadRequest:
			le.Message = joinMsg("login request rejected", le.Message)
			return "", errs.Permanent(le)
		case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed:
			le.Message = joinMsg("no login endpoint at this url: check dcos_url / login_url", le.Message)
			return "", errs.Permanent(le)
		default:
			return "", errs.Transient(le)
		}
	}
	var answer struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(data, &answer); err != nil || answer.Token == "" {
		if err == nil {
			err = errors.New("no token in the answer")
		}
		return "", errs.Transient(&LoginError{UID: sa.UID, URL: sa.LoginURL, Status: resp.StatusCode, Message: "malformed login answer", Err: err})
	}
	t.store(answer.Token, start)
	t.logins.Add(1)
	return answer.Token, nil
}

// store caches a fresh token with its refresh time. The token's exp claim
// is read without verifying the signature: the cluster verifies tokens, we
// only need to know when to log in again.
func (t *Transport) store(tok string, issued time.Time) {
	var refreshAt, expiresAt time.Time
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok, claims); err == nil {
		if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
			expiresAt = exp.Time
			if life := expiresAt.Sub(issued); life > 0 {
				refreshAt = issued.Add(time.Duration(float64(life) * t.sa.RefreshAt))
			} else {
				// Clocks disagree: rely on 401s rather than logging in on
				// every request.
				expiresAt = time.Time{}
				t.log.Warn("dcos auth: the new token is already expired by our clock; refreshing on 401 only")
			}
		}
	}
	t.mu.Lock()
	t.token, t.refreshAt, t.expiresAt = tok, refreshAt, expiresAt
	t.mu.Unlock()
	e := t.log.WithField("uid", t.sa.UID)
	if !expiresAt.IsZero() {
		e = e.WithField("expires", expiresAt.UTC().Format(time.RFC3339)).WithField("refresh", refreshAt.UTC().Format(time.RFC3339))
	}
	e.Info("dcos auth: logged in")
}

// forgetIf drops the cached token if it is still tok (another request may
// already have replaced it).
func (t *Transport) forgetIf(tok string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token == tok {
		t.token, t.refreshAt, t.expiresAt = "", time.Time{}, time.Time{}
	}
}

// rereadStatic reads a file-backed static token again; it reports whether
// the token changed.
func (t *Transport) rereadStatic(old string) (string, bool) {
	if t.static == nil || t.static.Value != "" || t.static.File == "" {
		return old, false
	}
	tok, err := t.static.read()
	if err != nil {
		t.log.WithError(err).Warn("dcos auth: re-reading the token file failed")
		return old, false
	}
	t.mu.Lock()
	t.token = tok
	t.mu.Unlock()
	return tok, tok != old
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	var tok string
	switch {
	case t.sa != nil:
		var err error
		if tok, err = t.saToken(ctx); err != nil {
			closeBody(req)
			return nil, err
		}
	case t.static != nil:
		t.mu.Lock()
		tok = t.token
		t.mu.Unlock()
	case t.basic != nil:
		r := req.Clone(ctx)
		r.SetBasicAuth(t.basic.Username, t.basic.Password)
		return t.base.RoundTrip(r)
	default:
		return t.base.RoundTrip(req)
	}
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	resp, err := t.base.RoundTrip(withToken(req, req.Body, tok))
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !replayable {
		return resp, err
	}

	// 401: the token expired or was revoked. Get a new one and replay once.
	var fresh string
	if t.sa != nil {
		t.forgetIf(tok)
		fresh, err = t.saToken(ctx)
		if err != nil {
			drain(resp)
			return nil, err
		}
	} else {
		var changed bool
		if fresh, changed = t.rereadStatic(tok); !changed {
			return resp, nil
		}
	}
	var body io.ReadCloser
	if req.Body != nil && req.Body != http.NoBody {
		if body, err = req.GetBody(); err != nil {
			// Cannot replay: hand the 401 back.
			return resp, nil
		}
	}
	drain(resp)
	t.log.WithField("method", req.Method).WithField("path", req.URL.Path).Debug("dcos auth: replaying request after 401 with a new token")
	return t.base.RoundTrip(withToken(req, body, fresh))
}

func withToken(req *http.Request, body io.ReadCloser, tok string) *http.Request {
	r := req.Clone(req.Context())
	r.Body = body
	r.Header.Set("Authorization", "token="+tok)
	return r
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// clusterMessage extracts a short explanation from an error answer: the
// "description"/"message"/"title" of DC/OS IAM errors, or the text itself.
func clusterMessage(data []byte) string {
	var m struct {
		Title       string `json:"title"`
		Description string `json:"description"`
		Message     string `json:"message"`
		Code        string `json:"code"`
	}
	if json.Unmarshal(data, &m) == nil {
		switch {
		case m.Description != "":
			return m.Description
		case m.Message != "":
			return m.Message
		case m.Title != "":
			return m.Title
		}
	}
	s := strings.TrimSpace(string(data))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

func joinMsg(ours, theirs string) string {
	if theirs == "" {
		return ours
	}
	return ours + " (" + theirs + ")"
}

// stripURL removes the *url.Error layer (its text repeats method and URL,
// which LoginError already names).
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}
