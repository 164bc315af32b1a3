package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed assets
var assetFS embed.FS

// Options configure Handler.
type Options struct {
	// Title is the product name in the page titles and the header
	// (default "universe-operator").
	Title string
	// Version is the version string shown in the footer (e.g. the build's
	// version); empty hides it.
	Version string
}

// ContentSecurityPolicy is the policy sent with every page: scripts, styles,
// fonts and fetches from the UI's own origin only, no inline script or style.
// Images may also be data: URIs and http(s) URLs because package icons
// (api.Release.Icon, from the package's resource.json) usually live on the
// package author's host; the UI falls back to a generated badge when an icon
// does not load (an offline cluster). Framing is allowed from the same origin
// only (the DC/OS UI on the same host), never from another site.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data: https: http:; connect-src 'self'; font-src 'self'; manifest-src 'self'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'self'"

// immutableMaxAge is the cache lifetime of static files requested with their
// current content hash (?v=...).
const immutableMaxAge = 365 * 24 * time.Hour

// asset is one file ready to serve.
type asset struct {
	body        []byte
	contentType string
	hash        string // hex sha256 prefix of body: the ETag and the ?v= value
}

func newAsset(name string, body []byte) *asset {
	sum := sha256.Sum256(body)
	return &asset{body: body, contentType: contentType(name), hash: hex.EncodeToString(sum[:8])}
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".ico":
		return "image/x-icon"
	case ".json":
		return "application/json"
	case ".webmanifest":
		return "application/manifest+json"
	case ".txt":
		return "text/plain; charset=utf-8"
	}
	return "application/octet-stream"
}

// uiHandler serves the embedded UI.
type uiHandler struct {
	static map[string]*asset // "static/app.css" -> file
	pages  map[string]*asset // "index.html", "release.html" -> rendered page
	err    error             // a build error of the embedded UI (a bug); every request answers 500
}

// pageData is what the page templates see.
type pageData struct {
	Title   string
	Version string
	Page    string
}

// Handler returns the web UI: the overview at "/" (and "/index.html"), the
// release page at "/release.html?name=NAME", static files under "/static/"
// and "/favicon.ico". Request paths are relative to the mount point: mount
// the handler at "/" or strip the prefix with http.StripPrefix. Only GET and
// HEAD are served.
func Handler(opts Options) http.Handler {
	if opts.Title == "" {
		opts.Title = "universe-operator"
	}
	h, err := build(opts)
	if err != nil {
		return &uiHandler{err: err}
	}
	return h
}

func build(opts Options) (*uiHandler, error) {
	h := &uiHandler{static: map[string]*asset{}, pages: map[string]*asset{}}
	err := fs.WalkDir(assetFS, "assets/static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := assetFS.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "assets/")
		h.static[name] = newAsset(name, body)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ui: reading embedded static files: %w", err)
	}
	funcs := template.FuncMap{
		// asset returns the relative URL of a static file with its content
		// hash, so a new build is never served from an old cache.
		"asset": func(name string) (string, error) {
			a, ok := h.static[name]
			if !ok {
				return "", fmt.Errorf("no static file %q", name)
			}
			return name + "?v=" + a.hash, nil
		},
	}
	tmpl, err := template.New("").Funcs(funcs).ParseFS(assetFS, "assets/pages/*.html")
	if err != nil {
		return nil, fmt.Errorf("ui: parsing page templates: %w", err)
	}
	for _, page := range []string{"index.html", "release.html"} {
		var buf bytes.Buffer
		data := pageData{Title: opts.Title, Version: opts.Version, Page: strings.TrimSuffix(page, ".html")}
		if err := tmpl.ExecuteTemplate(&buf, page, data); err != nil {
			return nil, fmt.Errorf("ui: rendering %s: %w", page, err)
		}
		h.pages[page] = newAsset(page, buf.Bytes())
	}
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *uiHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "same-origin")
	if h.err != nil {
		http.Error(w, h.err.Error(), http.StatusInternalServerError)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	if p == "" {
		// Mounted with http.StripPrefix("/prefix", ...) and asked for
		// "/prefix" without its slash: relative URLs need the slash. The
		// Location is relative ("prefix/") so it is right behind any proxy;
		// http.Redirect would make it absolute from the stripped path.
		orig := r.RequestURI
		if i := strings.IndexByte(orig, '?'); i >= 0 {
			orig = orig[:i]
		}
		target := path.Base(orig)
		if target == "/" || target == "." || target == "" {
			target = "."
		}
		target += "/"
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		hdr.Set("Location", target)
		w.WriteHeader(http.StatusMovedPermanently)
		return
	}
	p = strings.TrimPrefix(p, "/")
	switch p {
	case "", "index.html":
		h.serve(w, r, h.pages["index.html"], true)
		return
	case "release.html":
		h.serve(w, r, h.pages["release.html"], true)
		return
	case "favicon.ico":
		h.serve(w, r, h.static["static/favicon.svg"], false)
		return
	}
	if a, ok := h.static[p]; ok {
		h.serve(w, r, a, false)
		return
	}
	http.NotFound(w, r)
}

func (h *uiHandler) serve(w http.ResponseWriter, r *http.Request, a *asset, page bool) {
	hdr := w.Header()
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("ETag", `"`+a.hash+`"`)
	switch {
	case page:
		hdr.Set("Content-Security-Policy", ContentSecurityPolicy)
		hdr.Set("X-Frame-Options", "SAMEORIGIN")
		hdr.Set("Cache-Control", "no-cache")
	case r.URL.Query().Get("v") == a.hash:
		hdr.Set("Cache-Control", fmt.Sprintf("public, max-age=%d, immutable", int(immutableMaxAge.Seconds())))
	default:
		hdr.Set("Cache-Control", "no-cache")
	}
	// ServeContent answers HEAD, If-None-Match (304) and ranges.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
