package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const secret = "webhook-secret"

func sign(body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return hex.EncodeToString(m.Sum(nil))
}

const githubPush = `{"ref":"refs/heads/main","before":"0000","after":"1111111111111111111111111111111111111111",
 "repository":{"name":"universe","clone_url":"https://github.com/Example/Universe.git","ssh_url":"git@github.com:Example/Universe.git",
 "html_url":"https://github.com/Example/Universe","git_url":"git://github.com/Example/Universe.git"}}`

const gitlabPush = `{"object_kind":"push","ref":"refs/heads/main","checkout_sha":"2222222222222222222222222222222222222222",
 "project":{"git_http_url":"https://gitlab.example.com/ops/releases.git","git_ssh_url":"git@gitlab.example.com:ops/releases.git","web_url":"https://gitlab.example.com/ops/releases"},
 "repository":{"git_http_url":"https://gitlab.example.com/ops/releases.git","git_ssh_url":"git@gitlab.example.com:ops/releases.git","homepage":"https://gitlab.example.com/ops/releases"}}`

const gitlabTagPush = `{"object_kind":"tag_push","ref":"refs/tags/v1.2.0","checkout_sha":"3333",
 "project":{"git_http_url":"https://gitlab.example.com/ops/releases.git"}}`

const giteaPush = `{"ref":"refs/heads/prod","after":"4444","repository":{"clone_url":"http://gitea.local:3000/ops/universe.git",
 "ssh_url":"ssh://git@gitea.local:2222/ops/universe.git","html_url":"http://gitea.local:3000/ops/universe"}}`

type rig struct {
	h      *Handler
	reg    *prometheus.Registry
	mu     sync.Mutex
	pushes []Push
}

func newRig(t *testing.T, max int64) *rig {
	t.Helper()
	r := &rig{reg: prometheus.NewRegistry()}
	h, err := New(Options{Secret: []byte(secret), Registerer: r.reg, MaxBodyBytes: max, OnPush: func(p Push) {
		r.mu.Lock()
		r.pushes = append(r.pushes, p)
		r.mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	r.h = h
	return r
}

func (r *rig) do(method string, headers map[string]string, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, Path, strings.NewReader(body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	r.h.ServeHTTP(w, req)
	return w
}

func (r *rig) count(provider, result string) float64 {
	return testutil.ToFloat64(r.h.requests.WithLabelValues(provider, result))
}

func TestProviders(t *testing.T) {
	cases := []struct {
		name     string
		headers  map[string]string
		body     string
		status   int
		provider string
		result   string
		ref      string
		urls     int
	}{
		{"github push", map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sign(githubPush)}, githubPush, 202, GitHub, ResultAccepted, "refs/heads/main", 4},
		{"github ping", map[string]string{"X-GitHub-Event": "ping", "X-Hub-Signature-256": "sha256=" + sign(`{"zen":"x"}`)}, `{"zen":"x"}`, 200, GitHub, ResultPing, "", 0},
		{"github other event", map[string]string{"X-GitHub-Event": "issues", "X-Hub-Signature-256": "sha256=" + sign(`{}`)}, `{}`, 200, GitHub, ResultIgnored, "", 0},
		{"github bad signature", map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sign(githubPush+" ")}, githubPush, 401, GitHub, ResultUnauthorized, "", 0},
		{"github no signature", map[string]string{"X-GitHub-Event": "push"}, githubPush, 401, GitHub, ResultUnauthorized, "", 0},
		{"github sha1 only", map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature": "sha1=abc"}, githubPush, 401, GitHub, ResultUnauthorized, "", 0},
		{"github signature not hex", map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=zz"}, githubPush, 401, GitHub, ResultUnauthorized, "", 0},
		{"github signature without prefix", map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": sign(githubPush)}, githubPush, 401, GitHub, ResultUnauthorized, "", 0},
		{"gitlab push", map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": secret}, gitlabPush, 202, GitLab, ResultAccepted, "refs/heads/main", 3},
		{"gitlab tag push", map[string]string{"X-Gitlab-Event": "Tag Push Hook", "X-Gitlab-Token": secret}, gitlabTagPush, 202, GitLab, ResultAccepted, "refs/tags/v1.2.0", 1},
		{"gitlab wrong token", map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": secret + "x"}, gitlabPush, 401, GitLab, ResultUnauthorized, "", 0},
		{"gitlab no token", map[string]string{"X-Gitlab-Event": "Push Hook"}, gitlabPush, 401, GitLab, ResultUnauthorized, "", 0},
		{"gitlab merge request", map[string]string{"X-Gitlab-Event": "Merge Request Hook", "X-Gitlab-Token": secret}, `{}`, 200, GitLab, ResultIgnored, "", 0},
		{"gitea push", map[string]string{"X-Gitea-Event": "push", "X-Gitea-Signature": sign(giteaPush)}, giteaPush, 202, Gitea, ResultAccepted, "refs/heads/prod", 3},
		{"gitea also sending github headers", map[string]string{"X-Gitea-Event": "push", "X-GitHub-Event": "push", "X-Gitea-Signature": sign(giteaPush), "X-Hub-Signature-256": "sha256=" + sign(giteaPush)}, giteaPush, 202, Gitea, ResultAccepted, "refs/heads/prod", 3},
		{"gitea bad signature", map[string]string{"X-Gitea-Event": "push", "X-Gitea-Signature": sign("other")}, giteaPush, 401, Gitea, ResultUnauthorized, "", 0},
		{"forgejo push", map[string]string{"X-Forgejo-Event": "push", "X-Forgejo-Signature": sign(giteaPush)}, giteaPush, 202, Gitea, ResultAccepted, "refs/heads/prod", 3},
		{"unknown sender", map[string]string{"X-Hub-Signature-256": "sha256=" + sign(githubPush)}, githubPush, 401, unknown, ResultUnauthorized, "", 0},
		{"signed garbage", map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sign("not json")}, "not json", 400, GitHub, ResultBadRequest, "", 0},
		{"signed push without ref", map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sign(`{"repository":{"clone_url":"x"}}`)}, `{"repository":{"clone_url":"x"}}`, 400, GitHub, ResultBadRequest, "", 0},
		{"signed push without repository", map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sign(`{"ref":"refs/heads/x"}`)}, `{"ref":"refs/heads/x"}`, 400, GitHub, ResultBadRequest, "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, 0)
			w := r.do(http.MethodPost, c.headers, c.body)
			if w.Code != c.status {
				t.Fatalf("status %d, want %d: %s", w.Code, c.status, w.Body)
			}
			if got := r.count(c.provider, c.result); got != 1 {
				t.Fatalf("counter {%s,%s} = %v, want 1", c.provider, c.result, got)
			}
			if c.ref == "" {
				if len(r.pushes) != 0 {
					t.Fatalf("callback called: %+v", r.pushes)
				}
				return
			}
			if len(r.pushes) != 1 || r.pushes[0].Ref != c.ref || len(r.pushes[0].URLs) != c.urls || r.pushes[0].Provider != c.provider {
				t.Fatalf("pushes = %+v", r.pushes)
			}
			if strings.Contains(w.Body.String(), secret) {
				t.Fatal("secret in the answer")
			}
		})
	}
}

func TestFormEncodedGitHubPush(t *testing.T) {
	r := newRig(t, 0)
	body := "payload=" + url.QueryEscape(githubPush)
	w := r.do(http.MethodPost, map[string]string{"X-GitHub-Event": "push", "Content-Type": "application/x-www-form-urlencoded",
		"X-Hub-Signature-256": "sha256=" + sign(body)}, body)
	if w.Code != 202 || len(r.pushes) != 1 || r.pushes[0].After != "1111111111111111111111111111111111111111" {
		t.Fatalf("%d %s %+v", w.Code, w.Body, r.pushes)
	}
}

func TestLimitsAndMethod(t *testing.T) {
	r := newRig(t, 100)
	big := strings.Repeat("x", 200)
	w := r.do(http.MethodPost, map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sign(big)}, big)
	if w.Code != http.StatusRequestEntityTooLarge || r.count(GitHub, ResultTooLarge) != 1 {
		t.Fatalf("too large: %d", w.Code)
	}
	w = r.do(http.MethodGet, map[string]string{"X-GitHub-Event": "push"}, "")
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "POST" || r.count(GitHub, ResultMethodNotAllowed) != 1 {
		t.Fatalf("GET: %d", w.Code)
	}
	if _, err := New(Options{}); err == nil {
		t.Fatal("empty secret accepted")
	}
	// Two handlers on one registry share the counter.
	h2, err := New(Options{Secret: []byte("s"), Registerer: r.reg})
	if err != nil || h2.requests != r.h.requests {
		t.Fatalf("second handler: %v", err)
	}
	n, err := testutil.GatherAndCount(r.reg, "universe_operator_webhook_requests_total")
	if err != nil || n != 2 {
		t.Fatalf("series = %d %v", n, err)
	}
}

func TestNormalizeURL(t *testing.T) {
	same := []string{
		"https://github.com/Example/Universe.git",
		"https://GitHub.com/example/universe",
		"https://github.com/example/universe/",
		"http://github.com:443/example/universe.git/",
		"git@github.com:example/universe.git",
		"github.com:example/universe",
		"ssh://git@github.com/example/universe.git",
		"ssh://git@github.com:22/example/universe",
		"git://github.com/example/universe.git",
		"https://user@github.com/example/universe.git",
		" https://github.com/example/universe.git ",
	}
	for _, u := range same {
		if got := NormalizeURL(u); got != "github.com/example/universe" {
			t.Errorf("NormalizeURL(%q) = %q", u, got)
		}
	}
	for _, pair := range [][2]string{
		{"https://github.com/example/universe", "https://github.com/example/universe2"},
		{"https://github.com/example/universe", "https://gitlab.com/example/universe"},
		{"https://github.com/a/universe", "https://github.com/b/universe"},
		{"", ""},
	} {
		if SameRepository(pair[0], pair[1]) {
			t.Errorf("%q and %q must differ", pair[0], pair[1])
		}
	}
	if NormalizeURL("file:///srv/git/repo.git") != "srv/git/repo" {
		t.Errorf("file url: %q", NormalizeURL("file:///srv/git/repo.git"))
	}
}

func TestMatches(t *testing.T) {
	push := Push{Ref: "refs/heads/main", URLs: []string{"https://github.com/Example/Universe.git", "git@github.com:Example/Universe.git"}}
	tag := Push{Ref: "refs/tags/v1", URLs: push.URLs}
	cases := []struct {
		p        Push
		url, ref string
		want     bool
	}{
		{push, "git@github.com:example/universe.git", "main", true},
		{push, "https://github.com/example/universe", "", true},
		{push, "https://github.com/example/universe", "HEAD", true},
		{push, "https://github.com/example/universe", "refs/heads/main", true},
		{push, "https://github.com/example/universe", "dev", false},
		{push, "https://github.com/example/universe", "refs/heads/dev", false},
		{push, "https://github.com/example/other", "main", false},
		{push, "https://github.com/example/universe", strings.Repeat("a", 40), false},
		{tag, "https://github.com/example/universe", "v1", true},
		{tag, "https://github.com/example/universe", "refs/tags/v1", true},
		{tag, "https://github.com/example/universe", "", false},
		{tag, "https://github.com/example/universe", "v2", false},
	}
	for _, c := range cases {
		if got := Matches(c.p, c.url, c.ref); got != c.want {
			t.Errorf("Matches(%s, %s, %q) = %v", c.p.Ref, c.url, c.ref, got)
		}
	}
}

// FuzzServeHTTP: no body or header crashes the handler, and an unsigned
// request is never accepted.
func FuzzServeHTTP(f *testing.F) {
	f.Add("push", "", githubPush)
	f.Add("Push Hook", secret, gitlabPush)
	f.Add("push", sign(giteaPush), giteaPush)
	h, err := New(Options{Secret: []byte(secret), MaxBodyBytes: 1 << 16})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, event, sig, body string) {
		for _, hdr := range [][2]string{{"X-GitHub-Event", "X-Hub-Signature-256"}, {"X-Gitlab-Event", "X-Gitlab-Token"}, {"X-Gitea-Event", "X-Gitea-Signature"}} {
			req := httptest.NewRequest(http.MethodPost, Path, strings.NewReader(body))
			req.Header.Set(hdr[0], event)
			req.Header.Set(hdr[1], sig)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code == http.StatusAccepted {
				valid := sig == "sha256="+sign(body) || sig == secret || sig == sign(body)
				if !valid {
					t.Fatalf("accepted an unsigned request: %s %q", hdr[0], sig)
				}
			}
		}
	})
}
