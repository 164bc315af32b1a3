package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

// Path is where the controller mounts the handler.
const Path = "/api/v1/webhook/git"

// DefaultMaxBodyBytes is the default request body limit.
const DefaultMaxBodyBytes = 5 << 20

// Providers.
const (
	GitHub  = "github"
	GitLab  = "gitlab"
	Gitea   = "gitea"
	unknown = "unknown"
)

// Results (the metric's result label).
const (
	ResultAccepted         = "accepted"
	ResultPing             = "ping"
	ResultIgnored          = "ignored"
	ResultUnauthorized     = "unauthorized"
	ResultBadRequest       = "bad_request"
	ResultMethodNotAllowed = "method_not_allowed"
	ResultTooLarge         = "too_large"
)

// Push is a verified push notification.
type Push struct {
	// Provider is github, gitlab or gitea.
	Provider string `json:"provider"`
	// Event is the event header's value ("push", "Push Hook", ...).
	Event string `json:"event"`
	// Ref is the pushed ref: refs/heads/<branch> or refs/tags/<tag>.
	Ref string `json:"ref"`
	// After is the ref's new commit (zeros or "" when it was deleted).
	After string `json:"after,omitempty"`
	// URLs are the repository's URLs found in the payload, as sent.
	URLs []string `json:"urls"`
}

// Options configures a Handler.
type Options struct {
	// Secret is the shared secret (required).
	Secret []byte
	// OnPush is called for every verified push, before the answer is sent;
	// it should only enqueue work.
	OnPush func(Push)
	// Registerer receives the request counter (nil = no metrics).
	Registerer prometheus.Registerer
	// MaxBodyBytes bounds the request body (default 5 MiB).
	MaxBodyBytes int64
	// Logger receives one line per request (never the secret); nil = silent.
	Logger logrus.FieldLogger
}

// Handler serves POST /api/v1/webhook/git.
type Handler struct {
	opts     Options
	requests *prometheus.CounterVec
	log      logrus.FieldLogger
}

// New returns a Handler; the secret is required.
func New(opts Options) (*Handler, error) {
	if len(opts.Secret) == 0 {
		return nil, errors.New("webhook: a shared secret is required")
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	h := &Handler{opts: opts, log: opts.Logger}
	if h.log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		h.log = l
	}
	h.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "universe_operator_webhook_requests_total",
		Help: "Webhook requests by provider (github, gitlab, gitea, unknown) and result (accepted, ping, ignored, unauthorized, bad_request, method_not_allowed, too_large).",
	}, []string{"provider", "result"})
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(h.requests); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, fmt.Errorf("webhook metrics: %w", err)
			}
			existing, ok := are.ExistingCollector.(*prometheus.CounterVec)
			if !ok {
				return nil, fmt.Errorf("webhook metrics: %w", err)
			}
			h.requests = existing
		}
	}
	return h, nil
}

// answer writes a small JSON answer and counts the request.
func (h *Handler) answer(w http.ResponseWriter, provider, result string, status int, msg string, extra map[string]any) {
	h.requests.WithLabelValues(provider, result).Inc()
	body := map[string]any{"status": result}
	if msg != "" {
		body["message"] = msg
	}
	for k, v := range extra {
		body[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	if status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", http.MethodPost)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
	h.log.WithFields(logrus.Fields{"provider": provider, "result": result, "status": status}).Info("webhook request")
}

// provider detects the sender from its event header.
func provider(r *http.Request) (name, event string) {
	for _, hd := range []string{"X-Gitea-Event", "X-Forgejo-Event", "X-Gogs-Event"} {
		if v := r.Header.Get(hd); v != "" {
			return Gitea, v
		}
	}
	if v := r.Header.Get("X-Gitlab-Event"); v != "" {
		return GitLab, v
	}
	if v := r.Header.Get("X-GitHub-Event"); v != "" {
		return GitHub, v
	}
	return unknown, ""
}

// ServeHTTP verifies, parses and dispatches one notification.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	prov, event := provider(r)
	if r.Method != http.MethodPost {
		h.answer(w, prov, ResultMethodNotAllowed, http.StatusMethodNotAllowed, "use POST", nil)
		return
	}
	if prov == unknown { // before reading the body: nothing to verify it with
		h.answer(w, prov, ResultUnauthorized, http.StatusUnauthorized,
			"unknown sender: expected X-GitHub-Event, X-Gitlab-Event or X-Gitea-Event", nil)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.answer(w, prov, ResultTooLarge, http.StatusRequestEntityTooLarge,
				fmt.Sprintf("body larger than %d bytes", h.opts.MaxBodyBytes), nil)
			return
		}
		h.answer(w, prov, ResultBadRequest, http.StatusBadRequest, "cannot read the body", nil)
		return
	}
	if !h.verify(prov, r, body) {
		h.answer(w, prov, ResultUnauthorized, http.StatusUnauthorized, "missing or invalid signature", nil)
		return
	}
	// Verified: now look at the payload.
	if prov == GitHub && event == "ping" {
		h.answer(w, prov, ResultPing, http.StatusOK, "pong", nil)
		return
	}
	if !isPushEvent(prov, event) {
		h.answer(w, prov, ResultIgnored, http.StatusOK, "event "+event+" is not a push", nil)
		return
	}
	payload, err := payloadOf(r, body)
	if err != nil {
		h.answer(w, prov, ResultBadRequest, http.StatusBadRequest, err.Error(), nil)
		return
	}
	push, err := parsePush(prov, event, payload)
	if err != nil {
		h.answer(w, prov, ResultBadRequest, http.StatusBadRequest, err.Error(), nil)
		return
	}
	if h.opts.OnPush != nil {
		h.opts.OnPush(push)
	}
	h.answer(w, prov, ResultAccepted, http.StatusAccepted, "", map[string]any{"ref": push.Ref, "urls": push.URLs})
}

// verify checks the provider's signature or token in constant time.
func (h *Handler) verify(prov string, r *http.Request, body []byte) bool {
	switch prov {
	case GitHub:
		return checkHMAC(h.opts.Secret, body, strings.TrimPrefix(r.Header.Get("X-Hub-Signature-256"), "sha256="),
			strings.HasPrefix(r.Header.Get("X-Hub-Signature-256"), "sha256="))
	case GitLab:
		tok := r.Header.Get("X-Gitlab-Token")
		return tok != "" && subtle.ConstantTimeCompare([]byte(tok), h.opts.Secret) == 1
	case Gitea:
		for _, hd := range []string{"X-Gitea-Signature", "X-Forgejo-Signature", "X-Gogs-Signature"} {
			if sig := r.Header.Get(hd); sig != "" {
				return checkHMAC(h.opts.Secret, body, sig, true)
			}
		}
		if sig := r.Header.Get("X-Hub-Signature-256"); strings.HasPrefix(sig, "sha256=") {
			return checkHMAC(h.opts.Secret, body, strings.TrimPrefix(sig, "sha256="), true)
		}
	}
	return false
}

// checkHMAC compares a hex HMAC-SHA256 of body with sig in constant time.
func checkHMAC(secret, body []byte, sig string, wellFormed bool) bool {
	if !wellFormed || sig == "" {
		return false
	}
	got, err := hex.DecodeString(strings.TrimSpace(sig))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// isPushEvent reports whether an event is a branch or tag push.
func isPushEvent(prov, event string) bool {
	switch prov {
	case GitLab:
		return event == "Push Hook" || event == "Tag Push Hook"
	default:
		return event == "push" || event == "create"
	}
}

// payloadOf returns the JSON payload: the body, or the "payload" form
// field of an application/x-www-form-urlencoded delivery (GitHub's form
// content type).
func payloadOf(r *http.Request, body []byte) ([]byte, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/x-www-form-urlencoded" {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, errors.New("unreadable form body")
		}
		p := form.Get("payload")
		if p == "" {
			return nil, errors.New(`form body without a "payload" field`)
		}
		return []byte(p), nil
	}
	return body, nil
}

// pushPayload is the union of the push payload fields we read.
type pushPayload struct {
	Ref         string      `json:"ref"`
	After       string      `json:"after"`
	CheckoutSHA string      `json:"checkout_sha"`
	RefType     string      `json:"ref_type"` // GitHub/Gitea "create" events
	Repository  *repoFields `json:"repository"`
	Project     *repoFields `json:"project"`
}

// repoFields are the repository URL fields of the three providers.
type repoFields struct {
	CloneURL   string `json:"clone_url"`
	SSHURL     string `json:"ssh_url"`
	HTMLURL    string `json:"html_url"`
	GitURL     string `json:"git_url"`
	GitHTTPURL string `json:"git_http_url"`
	GitSSHURL  string `json:"git_ssh_url"`
	WebURL     string `json:"web_url"`
	Homepage   string `json:"homepage"`
	URL        string `json:"url"`
}

// parsePush reads a push payload.
func parsePush(prov, event string, payload []byte) (Push, error) {
	var p pushPayload
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&p); err != nil {
		return Push{}, fmt.Errorf("payload is not a JSON push event: %v", err)
	}
	push := Push{Provider: prov, Event: event, Ref: p.Ref, After: p.After}
	if push.After == "" {
		push.After = p.CheckoutSHA
	}
	if p.RefType != "" && !strings.HasPrefix(push.Ref, "refs/") {
		// A "create" event names the ref without its prefix.
		switch p.RefType {
		case "branch":
			push.Ref = "refs/heads/" + push.Ref
		case "tag":
			push.Ref = "refs/tags/" + push.Ref
		}
	}
	if push.Ref == "" {
		return Push{}, errors.New(`push payload without "ref"`)
	}
	seen := map[string]bool{}
	for _, rf := range []*repoFields{p.Repository, p.Project} {
		if rf == nil {
			continue
		}
		for _, u := range []string{rf.CloneURL, rf.SSHURL, rf.GitHTTPURL, rf.GitSSHURL, rf.HTMLURL, rf.GitURL, rf.WebURL, rf.Homepage, rf.URL} {
			if u != "" && !seen[u] {
				seen[u] = true
				push.URLs = append(push.URLs, u)
			}
		}
	}
	if len(push.URLs) == 0 {
		return Push{}, errors.New("push payload names no repository URL")
	}
	return push, nil
}
