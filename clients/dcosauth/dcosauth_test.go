package dcosauth

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/sirupsen/logrus"

	"github.com/universe-operator/universe-operator/errs"
)

// testKey is generated once: RSA generation is slow under -race.
var (
	keyOnce sync.Once
	testKey *rsa.PrivateKey
)

func key(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		testKey = k
	})
	return testKey
}

func keyPEM(t *testing.T) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key(t))})
}

// fakeIAM is a login endpoint plus an API that accepts only the tokens it
// issued (and not revoked).
type fakeIAM struct {
	t       *testing.T
	pub     *rsa.PublicKey
	uid     string
	ttl     time.Duration
	now     func() time.Time
	logins  atomic.Int64
	loginFn func(w http.ResponseWriter) bool // optional override; true = handled

	mu     sync.Mutex
	valid  map[string]bool
	bodies []string
	seen   []string // Authorization headers seen by the API
	reject int      // API answers 401 to this many more requests regardless
}

func newFakeIAM(t *testing.T) *fakeIAM {
	return &fakeIAM{t: t, pub: &key(t).PublicKey, uid: "svc", ttl: time.Hour, now: time.Now, valid: map[string]bool{}}
}

func (f *fakeIAM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/acs/api/v1/auth/login" {
		f.login(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	auth := r.Header.Get("Authorization")
	f.mu.Lock()
	f.seen = append(f.seen, auth)
	f.bodies = append(f.bodies, string(body))
	ok := f.valid[strings.TrimPrefix(auth, "token=")] && strings.HasPrefix(auth, "token=")
	if f.reject > 0 {
		f.reject--
		ok = false
	}
	f.mu.Unlock()
	if !ok {
		w.Header().Set("WWW-Authenticate", "acsjwt")
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	fmt.Fprint(w, "ok:"+string(body))
}

func (f *fakeIAM) login(w http.ResponseWriter, r *http.Request) {
	if f.loginFn != nil && f.loginFn(w) {
		return
	}
	if r.Header.Get("Authorization") != "" {
		f.t.Errorf("login request carries an Authorization header")
	}
	var req struct{ UID, Token string }
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, `{"title":"bad request"}`, http.StatusBadRequest)
		return
	}
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(f.now)).ParseWithClaims(req.Token, claims, func(*jwt.Token) (any, error) { return f.pub, nil })
	if err != nil || req.UID != f.uid || claims["uid"] != f.uid {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"title":"Bad credentials","description":"Login token signature cannot be verified.","code":"ERR_INVALID_CREDENTIALS"}`)
		return
	}
	if _, ok := claims["exp"].(float64); !ok {
		f.t.Errorf("login token without numeric exp: %v", claims)
	}
	n := f.logins.Add(1)
	// The cluster's token: an (unsigned for our purposes) JWT with exp.
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"uid": f.uid, "exp": f.now().Add(f.ttl).Unix(), "n": n,
	}).SignedString([]byte("cluster-secret"))
	f.mu.Lock()
	f.valid[tok] = true
	f.mu.Unlock()
	json.NewEncoder(w).Encode(map[string]string{"token": tok})
}

func (f *fakeIAM) revokeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.valid = map[string]bool{}
}

func saConfig(t *testing.T, srv *httptest.Server) Config {
	return Config{ServiceAccount: &ServiceAccount{UID: "svc", PrivateKeyPEM: keyPEM(t), LoginURL: LoginURL(srv.URL)}}
}

func get(t *testing.T, hc *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestStaticTokenValue(t *testing.T) {
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get("Authorization"))
	}))
	defer srv.Close()
	rt, err := NewTransport(Config{Token: &StaticToken{Value: "abc"}})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got.Load() != "token=abc" {
		t.Fatalf("Authorization = %q, want token=abc", got.Load())
	}
	if req.Header.Get("Authorization") != "" {
		t.Fatal("the caller's request was modified")
	}
}

func TestStaticTokenEnv(t *testing.T) {
	t.Setenv("UO_TEST_TOKEN", " envtok\n")
	rt, err := NewTransport(Config{Token: &StaticToken{Env: "UO_TEST_TOKEN"}})
	if err != nil {
		t.Fatal(err)
	}
	if tok, _ := rt.Token(context.Background()); tok != "envtok" {
		t.Fatalf("token = %q", tok)
	}
	_, err = NewTransport(Config{Token: &StaticToken{Env: "UO_TEST_TOKEN_UNSET"}})
	if !errs.IsPermanent(err) || !strings.Contains(err.Error(), "UO_TEST_TOKEN_UNSET") {
		t.Fatalf("unset env: %v", err)
	}
}

func TestStaticTokenFileRotatedAfter401(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	os.WriteFile(file, []byte("old\n"), 0o600)
	var seen []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		if r.Header.Get("Authorization") != "token=new" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	}))
	defer srv.Close()
	hc, err := NewClient(Config{Token: &StaticToken{File: file}})
	if err != nil {
		t.Fatal(err)
	}
	// Unchanged file: the 401 comes back, one request only.
	resp, err := hc.Post(srv.URL, "application/json", strings.NewReader(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || len(seen) != 1 {
		t.Fatalf("status %d after %d requests, want 401 after 1", resp.StatusCode, len(seen))
	}
	// Rotated file: replayed once with the new token and the same body.
	os.WriteFile(file, []byte("new"), 0o600)
	resp, err = hc.Post(srv.URL, "application/json", strings.NewReader(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != `{"a":1}` {
		t.Fatalf("after rotation: %d %q", resp.StatusCode, b)
	}
	want := []string{"token=old", "token=old", "token=new"}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("headers seen %q, want %q", seen, want)
	}
}

func TestBasic(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != "marathon" || p != "s3cret" {
			w.WriteHeader(401)
		}
	}))
	defer srv.Close()
	hc, err := NewClient(Config{Basic: &Basic{Username: "marathon", Password: "s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, hc, srv.URL); code != 200 {
		t.Fatalf("status %d", code)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := map[string]Config{
		"two methods":   {Token: &StaticToken{Value: "x"}, Basic: &Basic{Username: "u"}},
		"empty uid":     {ServiceAccount: &ServiceAccount{PrivateKeyPEM: []byte("x"), LoginURL: "http://x"}},
		"no login url":  {ServiceAccount: &ServiceAccount{UID: "u", PrivateKeyPEM: []byte("x")}},
		"bad key":       {ServiceAccount: &ServiceAccount{UID: "u", PrivateKeyPEM: []byte("not a key"), LoginURL: "http://x"}},
		"no token":      {Token: &StaticToken{}},
		"missing file":  {Token: &StaticToken{File: "/nonexistent/token"}},
		"missing ca":    {CAFile: "/nonexistent/ca.pem"},
		"ca not pem":    {CAPEM: []byte("nope")},
		"empty basic":   {Basic: &Basic{}},
		"empty pem key": {ServiceAccount: &ServiceAccount{UID: "u", LoginURL: "http://x"}},
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := NewTransport(cfg)
			if !errs.IsPermanent(err) {
				t.Fatalf("err = %v, want a permanent error", err)
			}
			if strings.Contains(err.Error(), "BEGIN") {
				t.Fatalf("error leaks key material: %v", err)
			}
		})
	}
}

func TestServiceAccountLoginSharedByConcurrentRequests(t *testing.T) {
	iam := newFakeIAM(t)
	var loginDelay sync.WaitGroup
	loginDelay.Add(1)
	iam.loginFn = func(http.ResponseWriter) bool { loginDelay.Wait(); return false }
	srv := httptest.NewServer(iam)
	defer srv.Close()
	tr, err := NewTransport(saConfig(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			code, body := get(t, hc, fmt.Sprintf("%s/api/%d", srv.URL, i))
			if code != 200 || !strings.HasPrefix(body, "ok:") {
				t.Errorf("request %d: %d %s", i, code, body)
			}
		}(i)
	}
	time.Sleep(50 * time.Millisecond) // let the requests pile up behind the login
	loginDelay.Done()
	wg.Wait()
	if n := iam.logins.Load(); n != 1 {
		t.Fatalf("%d logins for 20 concurrent requests, want 1", n)
	}
	if tr.Logins() != 1 {
		t.Fatalf("Logins() = %d", tr.Logins())
	}
}

func TestServiceAccountRefreshBeforeExpiry(t *testing.T) {
	var mu sync.Mutex
	clock := time.Unix(1_700_000_000, 0)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	iam := newFakeIAM(t)
	iam.ttl, iam.now = 100*time.Second, now
	srv := httptest.NewServer(iam)
	defer srv.Close()
	cfg := saConfig(t, srv)
	cfg.Now = now
	hc, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	get(t, hc, srv.URL+"/a")
	advance(79 * time.Second)
	get(t, hc, srv.URL+"/b")
	if n := iam.logins.Load(); n != 1 {
		t.Fatalf("logins before 80%% of the token life: %d, want 1", n)
	}
	advance(2 * time.Second) // 81% of the life
	if code, _ := get(t, hc, srv.URL+"/c"); code != 200 {
		t.Fatalf("status %d", code)
	}
	if n := iam.logins.Load(); n != 2 {
		t.Fatalf("logins after 80%% of the token life: %d, want 2", n)
	}
}

func TestServiceAccountEarlyRefreshFailureKeepsCurrentToken(t *testing.T) {
	var mu sync.Mutex
	clock := time.Unix(1_700_000_000, 0)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	iam := newFakeIAM(t)
	iam.ttl, iam.now = 100*time.Second, now
	var down atomic.Bool
	iam.loginFn = func(w http.ResponseWriter) bool {
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	}
	srv := httptest.NewServer(iam)
	defer srv.Close()
	cfg := saConfig(t, srv)
	cfg.Now = now
	hc, _ := NewClient(cfg)
	get(t, hc, srv.URL+"/a")
	down.Store(true)
	mu.Lock()
	clock = clock.Add(90 * time.Second) // past refresh, before expiry
	mu.Unlock()
	if code, _ := get(t, hc, srv.URL+"/b"); code != 200 {
		t.Fatalf("status %d: the still-valid token should have been used", code)
	}
	mu.Lock()
	clock = clock.Add(20 * time.Second) // expired
	mu.Unlock()
	_, err := hc.Get(srv.URL + "/c")
	if err == nil || errs.ClassOf(err) != errs.ClassTransient {
		t.Fatalf("expired token and login down: err = %v, want transient", err)
	}
}

func TestServiceAccount401ReloginReplaysBody(t *testing.T) {
	iam := newFakeIAM(t)
	srv := httptest.NewServer(iam)
	defer srv.Close()
	tr, _ := NewTransport(saConfig(t, srv))
	hc := &http.Client{Transport: tr}
	get(t, hc, srv.URL+"/warm")
	iam.revokeAll() // the cluster forgot our token
	resp, err := hc.Post(srv.URL+"/write", "application/json", bytes.NewReader([]byte(`{"id":"/x"}`)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != `ok:{"id":"/x"}` {
		t.Fatalf("after re-login: %d %q", resp.StatusCode, b)
	}
	if tr.Logins() != 2 {
		t.Fatalf("logins = %d, want 2", tr.Logins())
	}
	iam.mu.Lock()
	defer iam.mu.Unlock()
	last := iam.bodies[len(iam.bodies)-2:]
	if last[0] != `{"id":"/x"}` || last[1] != `{"id":"/x"}` {
		t.Fatalf("bodies sent: %q, want the same body twice", last)
	}
	if iam.seen[len(iam.seen)-1] == iam.seen[len(iam.seen)-2] {
		t.Fatal("the replay carried the old token")
	}
}

func TestServiceAccount401TwiceReturns401(t *testing.T) {
	iam := newFakeIAM(t)
	srv := httptest.NewServer(iam)
	defer srv.Close()
	tr, _ := NewTransport(saConfig(t, srv))
	hc := &http.Client{Transport: tr}
	iam.mu.Lock()
	iam.reject = 100 // every API request is refused
	iam.mu.Unlock()
	code, _ := get(t, hc, srv.URL+"/x")
	if code != 401 {
		t.Fatalf("status %d, want 401", code)
	}
	iam.mu.Lock()
	n := len(iam.seen)
	iam.mu.Unlock()
	if n != 2 || tr.Logins() != 2 {
		t.Fatalf("%d API requests and %d logins, want 2 and 2 (one retry only)", n, tr.Logins())
	}
}

type onlyReader struct{ io.Reader }

func TestServiceAccount401BodyNotReplayable(t *testing.T) {
	iam := newFakeIAM(t)
	srv := httptest.NewServer(iam)
	defer srv.Close()
	tr, _ := NewTransport(saConfig(t, srv))
	hc := &http.Client{Transport: tr}
	get(t, hc, srv.URL+"/warm")
	iam.revokeAll()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/x", onlyReader{strings.NewReader("body")})
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("status %d, want the 401 back", resp.StatusCode)
	}
}

func TestServiceAccountLoginRefused(t *testing.T) {
	iam := newFakeIAM(t)
	iam.uid = "someone-else"
	srv := httptest.NewServer(iam)
	defer srv.Close()
	var logs bytes.Buffer
	lg := logrus.New()
	lg.SetOutput(&logs)
	lg.SetLevel(logrus.DebugLevel)
	cfg := saConfig(t, srv)
	cfg.Logger = lg
	hc, _ := NewClient(cfg)
	_, err := hc.Get(srv.URL + "/x")
	if err == nil {
		t.Fatal("no error")
	}
	if !errs.IsPermanent(err) {
		t.Fatalf("class %v, want permanent: %v", errs.ClassOf(err), err)
	}
	var le *LoginError
	if !errors.As(err, &le) || le.Status != 401 || le.UID != "svc" {
		t.Fatalf("LoginError = %+v", le)
	}
	for _, want := range []string{"svc", "wrong uid or private key", "Login token signature cannot be verified"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if strings.Contains(err.Error()+logs.String(), "eyJ") || strings.Contains(err.Error()+logs.String(), "PRIVATE KEY") {
		t.Fatalf("a secret leaked: %v / %s", err, logs.String())
	}
}

func TestServiceAccountLoginErrorsClassified(t *testing.T) {
	cases := []struct {
		status int
		class  errs.Class
	}{
		{400, errs.ClassPermanent}, {403, errs.ClassPermanent}, {404, errs.ClassPermanent},
		{500, errs.ClassTransient}, {503, errs.ClassTransient}, {429, errs.ClassTransient},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.status), func(t *testing.T) {
			iam := newFakeIAM(t)
			iam.loginFn = func(w http.ResponseWriter) bool { w.WriteHeader(c.status); return true }
			srv := httptest.NewServer(iam)
			defer srv.Close()
			tr, _ := NewTransport(saConfig(t, srv))
			_, err := tr.Token(context.Background())
			if errs.ClassOf(err) != c.class {
				t.Fatalf("login %d: class %v, want %v (%v)", c.status, errs.ClassOf(err), c.class, err)
			}
		})
	}
	t.Run("malformed answer", func(t *testing.T) {
		iam := newFakeIAM(t)
		iam.loginFn = func(w http.ResponseWriter) bool { fmt.Fprint(w, "<html>"); return true }
		srv := httptest.NewServer(iam)
		defer srv.Close()
		tr, _ := NewTransport(saConfig(t, srv))
		if _, err := tr.Token(context.Background()); errs.ClassOf(err) != errs.ClassTransient || !strings.Contains(err.Error(), "malformed") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("network", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		cfg := saConfig(t, srv)
		srv.Close()
		tr, _ := NewTransport(cfg)
		_, err := tr.Token(context.Background())
		if err == nil || errs.ClassOf(err) != errs.ClassTransient {
			t.Fatalf("err = %v, want transient", err)
		}
	})
}

func TestLoginSurvivesCallerCancellation(t *testing.T) {
	iam := newFakeIAM(t)
	release := make(chan struct{})
	iam.loginFn = func(http.ResponseWriter) bool { <-release; return false }
	srv := httptest.NewServer(iam)
	defer srv.Close()
	tr, _ := NewTransport(saConfig(t, srv))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := tr.Token(ctx); done <- err }()
	other := make(chan error, 1)
	go func() { _, err := tr.Token(context.Background()); other <- err }()
	time.Sleep(30 * time.Millisecond)
	cancel()
	if err := <-done; err == nil {
		t.Fatal("cancelled caller got no error")
	}
	close(release)
	if err := <-other; err != nil {
		t.Fatalf("the other caller failed because the first gave up: %v", err)
	}
}

func TestCAFileAndInsecure(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	file := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(file, certPEM, 0o600)

	hc, err := NewClient(Config{CAFile: file})
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, hc, srv.URL); code != 200 {
		t.Fatalf("with CA file: %d", code)
	}
	plain, _ := NewClient(Config{})
	if _, err := plain.Get(srv.URL); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without CA: err = %v, want a certificate error", err)
	}
	insecure, _ := NewClient(Config{InsecureSkipVerify: true})
	if code, _ := get(t, insecure, srv.URL); code != 200 {
		t.Fatalf("insecure: %d", code)
	}
}

func TestCheckRedirectRefusesDowngrade(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the token reached a plain-http server")
	}))
	defer plain.Close()
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/x", http.StatusTemporaryRedirect)
	}))
	defer tlsSrv.Close()
	hc, _ := NewClient(Config{Token: &StaticToken{Value: "t"}, InsecureSkipVerify: true})
	_, err := hc.Get(tlsSrv.URL)
	if err == nil || !strings.Contains(err.Error(), "refusing redirect from https") {
		t.Fatalf("err = %v", err)
	}
}

func TestRedirectKeepsTokenAcrossHosts(t *testing.T) {
	var got atomic.Value
	leader := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get("Authorization"))
	}))
	defer leader.Close()
	// "localhost" vs "127.0.0.1": a different host for Go's redirect rules.
	leaderURL := strings.Replace(leader.URL, "127.0.0.1", "localhost", 1)
	standby := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, leaderURL+"/v2/x", http.StatusTemporaryRedirect)
	}))
	defer standby.Close()
	hc, _ := NewClient(Config{Token: &StaticToken{Value: "tok"}})
	if code, _ := get(t, hc, standby.URL); code != 200 {
		t.Fatalf("status %d", code)
	}
	if got.Load() != "token=tok" {
		t.Fatalf("leader saw Authorization %q", got.Load())
	}
}
