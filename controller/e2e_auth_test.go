package controller_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/api"
	"github.com/universe-operator/universe-operator/clients/dcosauth"
	"github.com/universe-operator/universe-operator/clients/marathon"
	"github.com/universe-operator/universe-operator/controller"
	"github.com/universe-operator/universe-operator/sim"
	"github.com/universe-operator/universe-operator/sim/auth"
)

// jumpClock is a clock the test can move forward.
type jumpClock struct {
	mu   sync.Mutex
	skew time.Duration
}

func (c *jumpClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.skew)
}

func (c *jumpClock) jump(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.skew += d
}

func TestAuthServiceAccount(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: mustPKCS8(t, key)})
	clock := &jumpClock{}
	so := sim.FastOptions()
	so.Auth = auth.Options{Enabled: true, TTL: 30 * time.Second, Now: clock.Now,
		ServiceAccounts: []auth.ServiceAccount{{UID: "universe-operator", PublicKey: &key.PublicKey}}}
	var transports []*dcosauth.Transport
	var tmu sync.Mutex
	client := func(url, id string) *marathon.Client {
		rt, err := dcosauth.NewTransport(dcosauth.Config{ServiceAccount: &dcosauth.ServiceAccount{
			UID: "universe-operator", PrivateKeyPEM: keyPEM, LoginURL: dcosauth.LoginURL(strings.TrimSuffix(url, "/service/marathon"))}})
		if err != nil {
			t.Fatal(err)
		}
		if id == "controller" {
			tmu.Lock()
			transports = append(transports, rt)
			tmu.Unlock()
		}
		mc, err := marathon.New(marathon.Options{URL: url, Transport: rt, ClientID: id, Timeout: 5 * time.Second,
			EventBackoffInitial: 50 * time.Millisecond, EventBackoffMax: 500 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return mc
	}
	h := newHarness(t, harnessOptions{simOpts: &so, marathonFn: func(url string) *marathon.Client { return client(url, "controller") }})
	h.mc = client(h.sim.URL+"/service/marathon", "test")

	// Without a token the simulator refuses: auth really is on.
	resp, err := http.Get(h.sim.URL + "/service/marathon/v2/apps")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("auth is off: %d", resp.StatusCode)
	}

	h.commitReleases(map[string]string{"a": manifestYAML("a", "greeter", "", `{greeter: {name: /auth/a}}`)})
	h.waitSynced("a", api.HealthHealthy)
	tmu.Lock()
	rt := transports[0]
	tmu.Unlock()
	logins := rt.Logins()
	if logins < 1 {
		t.Fatalf("logins: %d", logins)
	}

	// Every token expires (the cluster's clock jumps past the token TTL but
	// not past our login JWT's): the next request gets a 401, the transport
	// logs in again and replays it, the loop goes on.
	clock.jump(time.Minute)
	h.commitReleases(map[string]string{"b": manifestYAML("b", "greeter", "", `{greeter: {name: /auth/b}}`)})
	h.waitSynced("b", api.HealthHealthy)
	if rt.Logins() <= logins {
		t.Fatalf("no new login after the tokens expired: %d", rt.Logins())
	}
	if w := h.writes("/auth/b"); w.posts != 2 { // a and b
		t.Fatalf("posts: %+v", w)
	}
}

func mustPKCS8(t testing.TB, key *rsa.PrivateKey) []byte {
	b, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWebhookTriggersImmediately(t *testing.T) {
	secret := []byte("s3cret")
	h := newHarness(t, harnessOptions{interval: time.Hour, webhook: secret})
	h.waitPassIdle()
	h.commitReleases(map[string]string{"hook": manifestYAML("hook", "greeter", "", `{greeter: {name: /hook/a}}`)})
	body, _ := json.Marshal(map[string]any{
		"ref": "refs/heads/main", "after": h.rel.Head(),
		"repository": map[string]any{"clone_url": h.gitSrv.URL("releases"), "html_url": h.gitSrv.URL("releases")},
	})
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	req, _ := http.NewRequest(http.MethodPost, h.apiURL()+"/api/v1/webhook/git", strings.NewReader(string(body)))
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("webhook: %d", resp.StatusCode)
	}
	h.waitSynced("hook", api.HealthHealthy)

	// A bad signature is refused and triggers nothing.
	req, _ = http.NewRequest(http.MethodPost, h.apiURL()+"/api/v1/webhook/git", strings.NewReader(string(body)))
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-Hub-Signature-256", "sha256=00")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad signature: %d", resp.StatusCode)
	}
	if m := h.metrics(); !strings.Contains(m, `universe_operator_webhook_triggers_total{effect="refreshed"} 1`) {
		t.Fatalf("webhook metrics:\n%s", grep(m, "webhook"))
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestHealthChangeVisible(t *testing.T) {
	h := newHarness(t, harnessOptions{interval: time.Hour})
	h.commitReleases(map[string]string{"web": manifestYAML("web", "webapp", "", `{app: {id: /health/web}}`)})
	h.stop()
	h.start()
	h.waitSynced("web", api.HealthHealthy)
	if err := h.sim.Marathon.SetHealth("/health/web", "", false); err != nil {
		t.Fatal(err)
	}
	h.eventually("Unhealthy", func() (bool, string) {
		r, _ := h.release("web")
		return r.Health == api.HealthUnhealthy && r.Tasks.Unhealthy == 1, brief(r)
	})
	if err := h.sim.Marathon.SetHealth("/health/web", "", true); err != nil {
		t.Fatal(err)
	}
	h.waitSynced("web", api.HealthHealthy)
}

func TestHTTPAPI(t *testing.T) {
	h := newHarness(t, harnessOptions{uiToken: "tok"})
	h.commitReleases(map[string]string{
		"web":    manifestYAML("web", "webapp", "", `{app: {id: /api/web}}`),
		"broken": manifestYAML("broken", "webapp", "", `{app: {instances: -3}}`),
	})
	h.waitSynced("web", api.HealthHealthy)
	h.eventually("broken Failed", func() (bool, string) {
		r, _ := h.release("broken")
		return r.Sync == api.SyncFailed && r.LastError != nil && r.LastError.Reason == "OptionsInvalid" &&
			r.LastError.Class == "permanent", brief(r)
	})
	do := func(method, path, token string, body string) (int, string) {
		req, _ := http.NewRequest(method, h.apiURL()+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	cases := []struct {
		method, path, token, body string
		code                      int
		contains                  string
	}{
		{"GET", "/healthz", "", "", 200, "ok"},
		{"GET", "/readyz", "", "", 200, "ok"},
		{"GET", "/api/v1/releases", "", "", 200, `"name":"web"`},
		{"GET", "/api/v1/releases/web", "", "", 200, `"sync":"Synced"`},
		{"GET", "/api/v1/releases/nope", "", "", 404, `"message"`},
		{"GET", "/api/v1/releases/web/definition", "", "", 200, `"UNIVERSE_OPERATOR_RELEASE":"web"`},
		{"GET", "/api/v1/releases/broken/definition", "", "", 404, "instances"},
		{"GET", "/api/v1/releases/web/app", "", "", 200, `"tasks"`},
		{"GET", "/api/v1/releases/broken/app", "", "", 404, "no app"},
		{"POST", "/api/v1/releases/web/sync", "", "", 401, "token"},
		{"POST", "/api/v1/releases/web/sync", "wrong", "", 401, "token"},
		{"POST", "/api/v1/releases/web/sync", "tok", "", 202, `"queued":true`},
		{"POST", "/api/v1/releases/nope/sync", "tok", "", 404, "nope"},
		{"POST", "/api/v1/releases/web/rollback", "", `{"revision":1}`, 401, "token"},
		{"POST", "/api/v1/releases/web/rollback", "tok", `{"revision":99}`, 400, "no revision #99"},
		{"POST", "/api/v1/releases/web/rollback", "tok", `{"rev":1}`, 400, "revision"},
		{"POST", "/api/v1/releases/nope/rollback", "tok", `{"revision":1}`, 404, "nope"},
		{"POST", "/api/v1/webhook/git", "", "{}", 404, "disabled"},
		{"GET", "/metrics", "", "", 200, `universe_operator_release_info{health="Healthy",package="webapp",release="web",sync="Synced",version="1.0.0"} 1`},
		{"GET", "/", "", "", 200, "<html"},
	}
	for _, c := range cases {
		code, body := do(c.method, c.path, c.token, c.body)
		if code != c.code || !strings.Contains(body, c.contains) {
			t.Errorf("%s %s: %d %.300s; want %d containing %q", c.method, c.path, code, body, c.code, c.contains)
		}
	}
	// The stream starts with the full state.
	req, _ := http.NewRequest("GET", h.apiURL()+"/api/v1/stream", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 0, 64<<10)
	for !strings.Contains(string(buf), "event: ready") {
		chunk := make([]byte, 8<<10)
		n, err := resp.Body.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if err != nil {
			t.Fatalf("stream: %v after %q", err, buf)
		}
	}
	for _, want := range []string{"event: controller", "event: release", `"name":"web"`, `"name":"broken"`} {
		if !strings.Contains(string(buf), want) {
			t.Errorf("stream snapshot lacks %q", want)
		}
	}
	// A release removed: its metric series goes.
	h.commitReleases(map[string]string{"broken": ""})
	h.eventually("broken gone", func() (bool, string) { _, ok := h.release("broken"); return !ok, "" })
	if m := h.metrics(); strings.Contains(m, `release="broken"`) {
		t.Fatalf("the removed release's series is still exported:\n%s", grep(m, "broken"))
	}
}

// slowCleanup is an Uninstaller whose cleanup goes on after the app is gone
// until released (issue 7's janitor steps, in miniature).
type slowCleanup struct {
	def     controller.Uninstaller
	mu      sync.Mutex
	pending map[string]bool
	hold    bool
	calls   int
}

func (s *slowCleanup) Uninstall(ctx context.Context, req controller.UninstallRequest) (controller.UninstallResult, error) {
	s.mu.Lock()
	s.calls++
	s.pending[req.Release] = true
	hold := s.hold
	s.mu.Unlock()
	if req.AppID != "" {
		if _, err := s.def.Uninstall(ctx, req); err != nil {
			return controller.UninstallResult{}, err
		}
	}
	if hold {
		return controller.UninstallResult{Message: "janitor running", Cleanup: &api.Cleanup{State: "Running"}}, nil
	}
	s.mu.Lock()
	delete(s.pending, req.Release)
	s.mu.Unlock()
	return controller.UninstallResult{Done: true, Cleanup: &api.Cleanup{State: "Complete"}}, nil
}

func (s *slowCleanup) Pending(release string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending[release]
}

func (s *slowCleanup) PendingReleases(context.Context) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for r := range s.pending {
		out = append(out, r)
	}
	return out
}

func TestPendingUninstallHoldsTheRelease(t *testing.T) {
	sc := &slowCleanup{pending: map[string]bool{}, hold: true}
	h := newHarness(t, harnessOptions{prune: true, uninstaller: func(def controller.Uninstaller) controller.Uninstaller {
		sc.def = def
		return sc
	}})
	m := manifestYAML("jan", "greeter", "", `{greeter: {name: /jan/a}}`)
	h.commitReleases(map[string]string{"jan": m, "keep": manifestYAML("keep", "greeter", "", `{greeter: {name: /jan/keep}}`)})
	h.waitSynced("jan", api.HealthHealthy)
	h.commitReleases(map[string]string{"jan": ""})
	h.eventually("app gone, cleanup pending", func() (bool, string) {
		r, ok := h.release("jan")
		return h.app("/jan/a") == nil && ok && r.Sync == api.SyncDeleting, brief(r)
	})
	// Declared again while the cleanup runs: it waits.
	h.commitReleases(map[string]string{"jan": m})
	h.eventually("waits for the cleanup", func() (bool, string) {
		r, _ := h.release("jan")
		return r.Sync == api.SyncProgressing && strings.Contains(r.SyncReason, "previous uninstall"), brief(r)
	})
	h.waitPassIdle()
	if h.app("/jan/a") != nil {
		t.Fatal("re-created before the cleanup finished")
	}
	sc.mu.Lock()
	sc.hold = false
	sc.mu.Unlock()
	h.waitSynced("jan", api.HealthHealthy)
	if w := h.writes("/jan/a"); w.deletes != 1 {
		t.Fatalf("deletes: %+v", w)
	}
}
