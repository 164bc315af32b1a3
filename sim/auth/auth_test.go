package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	keyOnce sync.Once
	keys    [2]*rsa.PrivateKey
)

// testKeys returns two RSA keys shared by the tests (generation is slow).
func testKeys(t *testing.T) (*rsa.PrivateKey, *rsa.PrivateKey) {
	t.Helper()
	keyOnce.Do(func() {
		for i := range keys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			keys[i] = k
		}
	})
	return keys[0], keys[1]
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newTestServer serves login and a protected "ok" handler.
func newTestServer(t *testing.T, a *Authority) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(LoginPath, a.LoginHandler())
	mux.Handle("/control/", http.StripPrefix("/control", a.ControlHandler()))
	mux.Handle("/", a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// login posts body to the login endpoint and returns status and decoded body.
func login(t *testing.T, url string, body any) (int, map[string]string, http.Header) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url+LoginPath, "application/json", strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]string{}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, resp.Header
}

// get calls the protected handler with an Authorization header (if any).
func get(t *testing.T, url, authz string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url+"/anything", nil)
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestServiceAccountLoginAndTokenCheck(t *testing.T) {
	saKey, otherKey := testKeys(t)
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	a := New(Options{
		Enabled:         true,
		TTL:             time.Hour,
		ServiceAccounts: []ServiceAccount{{UID: "universe-operator", PublicKey: &saKey.PublicKey}},
		Now:             clock.Now,
	})
	srv := newTestServer(t, a)

	// No token: 401 as Admin Router answers it.
	code, h, body := get(t, srv.URL, "")
	if code != http.StatusUnauthorized || h.Get("WWW-Authenticate") != "acsjwt" || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Fatalf("no token: %d %v", code, h)
	}
	if !strings.Contains(body, "401") {
		t.Errorf("401 body %q", body)
	}

	// Login with a service login token signed by the account's key.
	lt, err := ServiceLoginToken("universe-operator", saKey, clock.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	code, out, _ := login(t, srv.URL, map[string]string{"uid": "universe-operator", "token": lt})
	if code != http.StatusOK || out["token"] == "" {
		t.Fatalf("login: %d %v", code, out)
	}
	token := out["token"]
	if uid, err := a.Verify(token); err != nil || uid != "universe-operator" {
		t.Fatalf("verify issued token: %q %v", uid, err)
	}
	if code, _, body := get(t, srv.URL, "token="+token); code != http.StatusOK || body != "ok" {
		t.Fatalf("with token: %d %q", code, body)
	}
	// A bearer header is not what Admin Router accepts.
	if code, _, _ := get(t, srv.URL, "Bearer "+token); code != http.StatusUnauthorized {
		t.Errorf("bearer: %d, want 401", code)
	}
	// Cookie works when no header is sent.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/x", nil)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: token})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("cookie: %d", resp.StatusCode)
	}

	// The token expires after the TTL.
	clock.Add(time.Hour + time.Second)
	if code, h, _ := get(t, srv.URL, "token="+token); code != http.StatusUnauthorized || h.Get("WWW-Authenticate") != "acsjwt" {
		t.Errorf("expired token: %d", code)
	}

	// Wrong key, unknown uid, expired login token, uid mismatch: 401 with the IAM shape.
	wrong, _ := ServiceLoginToken("universe-operator", otherKey, clock.Now().Add(time.Minute))
	expired, _ := ServiceLoginToken("universe-operator", saKey, clock.Now().Add(-time.Minute))
	mismatch, _ := ServiceLoginToken("someone-else", saKey, clock.Now().Add(time.Minute))
	for name, req := range map[string]map[string]string{
		"wrong key":   {"uid": "universe-operator", "token": wrong},
		"unknown uid": {"uid": "nobody", "token": lt},
		"expired":     {"uid": "universe-operator", "token": expired},
		"mismatch":    {"uid": "universe-operator", "token": mismatch},
		"garbage":     {"uid": "universe-operator", "token": "not-a-jwt"},
	} {
		code, out, h := login(t, srv.URL, req)
		if code != http.StatusUnauthorized || out["code"] != "ERR_INVALID_CREDENTIALS" || out["title"] == "" || out["description"] == "" {
			t.Errorf("%s: %d %v", name, code, out)
		}
		if h.Get("WWW-Authenticate") != "acsjwt" {
			t.Errorf("%s: WWW-Authenticate %q", name, h.Get("WWW-Authenticate"))
		}
	}
	// A token signed by another key (not issued by the simulator) is refused.
	forged, _ := ServiceLoginToken("universe-operator", otherKey, clock.Now().Add(time.Hour))
	if code, _, _ := get(t, srv.URL, "token="+forged); code != http.StatusUnauthorized {
		t.Errorf("forged token: %d", code)
	}
	// Malformed body: 400.
	resp, err = http.Post(srv.URL+LoginPath, "application/json", strings.NewReader("{"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("malformed login: %d", resp.StatusCode)
	}
}

func TestPasswordLoginBasicAndDisabled(t *testing.T) {
	a := New(Options{Users: []User{{UID: "bootstrapuser", Password: "deleteme"}},
		Basic: &BasicCredentials{Username: "marathon", Password: "secret"}})
	srv := newTestServer(t, a)
	// Disabled: everything passes.
	if code, _, _ := get(t, srv.URL, ""); code != http.StatusOK {
		t.Fatalf("disabled: %d", code)
	}
	a.SetEnabled(true)
	code, out, _ := login(t, srv.URL, map[string]string{"uid": "bootstrapuser", "password": "deleteme"})
	if code != http.StatusOK {
		t.Fatalf("password login: %d %v", code, out)
	}
	if code, _, _ := get(t, srv.URL, "token="+out["token"]); code != http.StatusOK {
		t.Errorf("token from password login: %d", code)
	}
	if code, _, _ := login(t, srv.URL, map[string]string{"uid": "bootstrapuser", "password": "nope"}); code != http.StatusUnauthorized {
		t.Errorf("wrong password: %d", code)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/x", nil)
	req.SetBasicAuth("marathon", "secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("basic: %d", resp.StatusCode)
	}
	req.SetBasicAuth("marathon", "wrong")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong basic: %d", resp.StatusCode)
	}
}

func TestControlAPI(t *testing.T) {
	saKey, _ := testKeys(t)
	a := New(Options{})
	srv := newTestServer(t, a)
	der, _ := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))

	do := func(method, path, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, srv.URL+"/control"+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out := map[string]any{}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	b, _ := json.Marshal(map[string]string{"uid": "sa", "public_key": pemKey})
	if code, out := do("POST", "/service-accounts", string(b)); code != http.StatusCreated {
		t.Fatalf("add account: %d %v", code, out)
	}
	if code, _ := do("POST", "/service-accounts", `{"uid":"x","public_key":"nope"}`); code != http.StatusBadRequest {
		t.Errorf("bad key: %d", code)
	}
	if code, _ := do("PATCH", "/", `{"enabled":true,"ttlSeconds":60}`); code != http.StatusNoContent {
		t.Fatalf("patch: %d", code)
	}
	code, st := do("GET", "/", "")
	if code != http.StatusOK || st["enabled"] != true || st["ttlSeconds"] != float64(60) {
		t.Fatalf("state: %v", st)
	}
	if accts, _ := st["serviceAccounts"].([]any); len(accts) != 1 || accts[0] != "sa" {
		t.Errorf("accounts: %v", st["serviceAccounts"])
	}
	// Login works for the account added through the control API.
	lt, _ := ServiceLoginToken("sa", saKey, time.Now().Add(time.Minute))
	if code, out, _ := login(t, srv.URL, map[string]string{"uid": "sa", "token": lt}); code != http.StatusOK {
		t.Fatalf("login: %d %v", code, out)
	}
	// An expired token from the control API is refused by the middleware.
	code, tok := do("POST", "/tokens", `{"uid":"sa","ttlSeconds":-10}`)
	if code != http.StatusOK {
		t.Fatalf("token: %d", code)
	}
	if code, _, _ := get(t, srv.URL, "token="+tok["token"].(string)); code != http.StatusUnauthorized {
		t.Errorf("expired control token: %d", code)
	}
	if code, _ := do("DELETE", "/service-accounts/sa", ""); code != http.StatusNoContent {
		t.Errorf("delete: %d", code)
	}
	if code, _ := do("DELETE", "/service-accounts/sa", ""); code != http.StatusNotFound {
		t.Errorf("delete again: %d", code)
	}
	if code, _, _ := login(t, srv.URL, map[string]string{"uid": "sa", "token": lt}); code != http.StatusUnauthorized {
		t.Errorf("login after delete: %d", code)
	}
}

func TestParsePublicKeyPEM(t *testing.T) {
	k, _ := testKeys(t)
	pkix, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	for _, b := range []*pem.Block{{Type: "PUBLIC KEY", Bytes: pkix}, {Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.PublicKey)}} {
		got, err := ParsePublicKeyPEM(pem.EncodeToMemory(b))
		if err != nil || !got.Equal(&k.PublicKey) {
			t.Errorf("%s: %v", b.Type, err)
		}
	}
	for _, bad := range []string{"", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"} {
		if _, err := ParsePublicKeyPEM([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
