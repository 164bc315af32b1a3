package controller

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/universe-operator/universe-operator/api"
	"github.com/universe-operator/universe-operator/controller/webhook"
	"github.com/universe-operator/universe-operator/ui"
)

// Handler returns the controller's HTTP API, relative to its mount point
// (behind Admin Router the prefix /service/universe-operator/ is stripped):
//
//	GET  api/v1/releases                     api.ReleaseList
//	GET  api/v1/releases/{name}              api.Release (404 api.ErrorResponse)
//	GET  api/v1/releases/{name}/definition   the desired app JSON (rendered and stamped), raw
//	GET  api/v1/releases/{name}/app          Marathon's app JSON as last read, raw (404 when none)
//	POST api/v1/releases/{name}/sync         api.SyncResponse (202); Bearer token when configured
//	POST api/v1/releases/{name}/rollback     {"revision": N} -> api.SyncResponse (Options.Rollback; else 501)
//	GET  api/v1/stream                       server-sent events (ui.Stream)
//	POST api/v1/webhook/git                  Git push webhook (when a secret is configured)
//	GET  healthz, readyz, metrics
//	GET  /, release.html, static/...          the UI (ui.Handler)
func (c *Controller) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/releases", c.serveList)
	mux.HandleFunc("GET /api/v1/releases/{name}", c.serveRelease)
	mux.HandleFunc("GET /api/v1/releases/{name}/definition", c.serveDefinition)
	mux.HandleFunc("GET /api/v1/releases/{name}/app", c.serveApp)
	mux.HandleFunc("POST /api/v1/releases/{name}/sync", c.guard(c.serveSync))
	mux.HandleFunc("POST /api/v1/releases/{name}/rollback", c.guard(c.serveRollback))
	mux.Handle("GET /api/v1/stream", c.stream)
	mux.Handle(webhook.Path, c.webhookHandler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		ok, why := c.Ready()
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_, _ = io.WriteString(w, why+"\n")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(c.opts.Registry, promhttp.HandlerOpts{Registry: c.opts.Registry}))
	mux.Handle("/", ui.Handler(ui.Options{Version: c.opts.Version}))
	return mux
}

// webhookHandler is the Git push webhook, or a 404 explaining it is off.
func (c *Controller) webhookHandler() http.Handler {
	if len(c.opts.WebhookSecret) > 0 {
		h, err := webhook.New(webhook.Options{Secret: c.opts.WebhookSecret, OnPush: c.Push,
			Registerer: c.opts.Registry, Logger: c.log})
		if err == nil {
			return h
		}
		c.log.WithError(err).Error("webhook disabled")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "the webhook is disabled: configure webhook.secret_file or webhook.secret_env")
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encoding the answer: "+err.Error())
		return
	}
	jsonHeaders(w)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// jsonHeaders sets the headers of every JSON answer: never cached, never
// sniffed as anything else (app definitions and notes are package text).
func jsonHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

func writeRaw(w http.ResponseWriter, b []byte) {
	jsonHeaders(w)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(api.ErrorResponse{Message: msg})
	jsonHeaders(w)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (c *Controller) serveList(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, c.snapshot())
}

func (c *Controller) serveRelease(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	doc, ok := c.book.get(name)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no release %q", name))
		return
	}
	writeJSON(w, http.StatusOK, doc)
}

func (c *Controller) serveDefinition(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	d := c.world.Load().desired[name]
	if d == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no release %q is declared", name))
		return
	}
	if d.app == nil {
		msg := fmt.Sprintf("release %q has no definition", name)
		if d.err != nil {
			msg += ": " + d.err.Error()
		}
		writeError(w, http.StatusNotFound, msg)
		return
	}
	writeRaw(w, d.app)
}

func (c *Controller) serveApp(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var e *appEntry
	if d := c.world.Load().desired[name]; d != nil && d.appID != "" {
		if x := c.cache.get(d.appID); x != nil && x.owner == name {
			e = x
		}
	}
	if e == nil {
		if ids := c.cache.owned(name); len(ids) > 0 {
			e = c.cache.get(ids[0])
		}
	}
	if e == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("release %q has no app in Marathon", name))
		return
	}
	writeRaw(w, e.app.Raw)
}

// guard protects the write routes (sync, rollback): it refuses requests a
// browser sends on behalf of another site (cross-site request forgery: the
// DC/OS session cookie goes along through Admin Router), and checks the UI
// token when one is configured.
func (c *Controller) guard(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if why := crossSite(r); why != "" {
			writeError(w, http.StatusForbidden, "cross-site request refused: "+why)
			return
		}
		if c.opts.UIToken != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(c.opts.UIToken)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="universe-operator"`)
				writeError(w, http.StatusUnauthorized, "a valid token is required (Authorization: Bearer <token>)")
				return
			}
		}
		next(w, r)
	}
}

// crossSite says why a write request looks sent by a page of another site
// ("" when it does not): a browser marks it with Sec-Fetch-Site, and only
// a form or a no-cors fetch can reach us without a CORS preflight, which
// carry no body or one of the form content types; our UI and API clients
// send application/json (or nothing).
func crossSite(r *http.Request) string {
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "", "same-origin", "none":
	default:
		return "Sec-Fetch-Site: " + site
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return fmt.Sprintf("Content-Type must be application/json, not %q", ct)
		}
	}
	return ""
}

func (c *Controller) serveSync(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !c.opts.Leader.IsLeader() {
		c.notLeader(w)
		return
	}
	if !c.Sync(name) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no release %q", name))
		return
	}
	writeJSON(w, http.StatusAccepted, api.SyncResponse{Release: name, Queued: true, Message: "reconcile queued"})
}

func (c *Controller) serveRollback(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if c.opts.Rollback == nil {
		writeError(w, http.StatusNotImplemented, "rollback is not available in this version")
		return
	}
	var body struct {
		Revision *int `json:"revision"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.Revision == nil || dec.Decode(&struct{}{}) != io.EOF {
		writeError(w, http.StatusBadRequest, `the body must be {"revision": N}`)
		return
	}
	if err := c.opts.Rollback(name, *body.Revision); err != nil {
		status := http.StatusBadRequest
		switch {
		case errors.Is(err, ErrUnknownRelease):
			status = http.StatusNotFound
		case errors.Is(err, ErrNotLeader):
			c.notLeader(w)
			return
		case errors.Is(err, ErrSuspended):
			status = http.StatusConflict
		case !errors.Is(err, ErrNotRollbackable):
			status = http.StatusServiceUnavailable // the state store failed
		}
		writeError(w, status, err.Error())
		return
	}
	c.requeue(name, false) // not a manual sync: the failed revision stays remembered
	writeJSON(w, http.StatusAccepted, api.SyncResponse{Release: name, Queued: true,
		Message: fmt.Sprintf("rollback to revision %d queued", *body.Revision)})
}

// notLeader answers a write request on a follower: 503, the leader's id
// in the message and in the X-Universe-Operator-Leader header (replicas do
// not forward: send the request to the leader).
func (c *Controller) notLeader(w http.ResponseWriter) {
	id := c.opts.Leader.LeaderID()
	msg := "this replica is a follower: only the leader syncs and rolls back; the leader is unknown right now, retry shortly"
	if id != "" {
		w.Header().Set("X-Universe-Operator-Leader", id)
		msg = "this replica is a follower: only the leader syncs and rolls back; send the request to the leader " + id
	}
	w.Header().Set("Retry-After", "5")
	writeError(w, http.StatusServiceUnavailable, msg)
}

// ErrUnknownRelease is returned by a RollbackFunc for a release it does not know.
var ErrUnknownRelease = errors.New("unknown release")
