package sim

import (
	"bufio"
	"encoding/json"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/universe-operator/universe-operator/sim/mesos"
	"github.com/universe-operator/universe-operator/sim/sdk"
)

// serveService routes /service/<name>/... as Admin Router does: Marathon
// itself, then the longest service name that matches (names may contain
// "/"): an SDK scheduler's API, or the service UI page.
func (c *Cluster) serveService(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/service/")
	name, sub, ok := c.matchService(rest)
	if !ok {
		notFoundPage(w, "No service is registered under /service/"+rest+".")
		return
	}
	if sub == "" {
		target := "/service/" + name + "/"
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusTemporaryRedirect)
		return
	}
	if sub != "/" {
		if h := c.SDK.Handler(name); h != nil {
			r2 := r.Clone(r.Context())
			r2.URL.Path = sub
			r2.URL.RawPath = ""
			h.ServeHTTP(w, r2)
			return
		}
		notFoundPage(w, "The simulated service "+name+" serves no "+sub+".")
		return
	}
	c.serviceUI(w, name)
}

// matchService finds the longest known service name prefixing rest; sub is
// the remainder ("" when rest is exactly the name).
func (c *Cluster) matchService(rest string) (name, sub string, ok bool) {
	names := c.serviceNames()
	sort.Slice(names, func(i, j int) bool { return len(names[i]) > len(names[j]) })
	for _, n := range names {
		if rest == n {
			return n, "", true
		}
		if strings.HasPrefix(rest, n+"/") {
			return n, rest[len(n):], true
		}
	}
	return "", "", false
}

// serviceNames lists what /service/<name>/ can reach: SDK schedulers, apps
// with DCOS_SERVICE_NAME, and registered frameworks with a webui_url.
func (c *Cluster) serviceNames() []string {
	set := map[string]bool{}
	for _, n := range c.SDK.Names() {
		set[n] = true
	}
	c.mu.Lock()
	for n := range c.services {
		set[n] = true
	}
	c.mu.Unlock()
	for _, f := range c.Mesos.Frameworks() {
		if f.WebUIURL != "" && f.Active {
			set[strings.TrimPrefix(f.Name, "/")] = true
		}
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	return out
}

// serviceUITemplate is the small page served at /service/<name>/.
var serviceUITemplate = template.Must(template.New("ui").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Name}} (simulated)</title></head>
<body>
<h1>{{.Name}}</h1>
<p>This is the simulated web UI of the DC/OS service <b>{{.Name}}</b>.</p>
<table>
{{if .AppID}}<tr><th>Marathon app</th><td>{{.AppID}}</td></tr>{{end}}
{{if .Version}}<tr><th>App version</th><td>{{.Version}}</td></tr>{{end}}
{{range .Frameworks}}<tr><th>Framework</th><td>{{.Name}} {{.ID}} (active: {{.Active}}, webui_url {{.WebUIURL}})</td></tr>{{end}}
{{if .Role}}<tr><th>Role</th><td>{{.Role}}</td></tr>{{end}}
{{if .Plan}}<tr><th>Deploy plan</th><td><a href="{{.APIVersion}}/plans/deploy">{{.Plan}}</a></td></tr>{{end}}
</table>
</body></html>
`))

// serviceUI renders the service page of name.
func (c *Cluster) serviceUI(w http.ResponseWriter, name string) {
	data := struct {
		Name, AppID, Version, Role, Plan, APIVersion string
		Frameworks                                   []mesos.Framework
	}{Name: name, Role: sdk.Role(name), APIVersion: "v1"}
	c.mu.Lock()
	if st := c.services[name]; st != nil {
		data.AppID, data.Version = st.ID, st.Version
		if v := st.Labels["DCOS_COMMONS_API_VERSION"]; v != "" {
			data.APIVersion = v
		}
	}
	c.mu.Unlock()
	data.Frameworks = c.Mesos.FrameworksByName(name)
	if sc := c.SDK.Scheduler(name); sc != nil {
		if p, ok := sc.Plan("deploy"); ok {
			data.Plan = p.Status
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = serviceUITemplate.Execute(w, data)
}

// notFoundPage answers 404 with a small HTML page, as Admin Router does.
func notFoundPage(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	_ = template.Must(template.New("404").Parse(`<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1><p>{{.}}</p></body></html>
`)).Execute(w, msg)
}

// rewriteLocation re-prefixes Location headers of a component mounted
// under prefix, as Admin Router's proxy_redirect does, so redirects and
// Created locations stay within the mount point.
func rewriteLocation(prefix string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&locationWriter{ResponseWriter: w, prefix: prefix, host: r.Host}, r)
	})
}

// locationWriter rewrites the Location header before the status is written.
// It keeps Flush and Hijack working (event streams, dropped connections).
type locationWriter struct {
	http.ResponseWriter
	prefix, host string
	wrote        bool
}

// fix rewrites the Location header once.
func (l *locationWriter) fix() {
	if l.wrote {
		return
	}
	l.wrote = true
	loc := l.Header().Get("Location")
	if loc == "" {
		return
	}
	u, err := url.Parse(loc)
	if err != nil {
		return
	}
	if u.Host != "" && u.Host != l.host {
		return
	}
	if strings.HasPrefix(u.Path, "/") && !strings.HasPrefix(u.Path, l.prefix+"/") {
		u.Path = l.prefix + u.Path
		u.RawPath = ""
		l.Header().Set("Location", u.String())
	}
}

// WriteHeader implements http.ResponseWriter.
func (l *locationWriter) WriteHeader(code int) {
	l.fix()
	l.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (l *locationWriter) Write(b []byte) (int, error) {
	l.fix()
	return l.ResponseWriter.Write(b)
}

// Flush implements http.Flusher.
func (l *locationWriter) Flush() {
	l.fix()
	_ = http.NewResponseController(l.ResponseWriter).Flush()
}

// Hijack implements http.Hijacker.
func (l *locationWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(l.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (l *locationWriter) Unwrap() http.ResponseWriter { return l.ResponseWriter }

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// jsonUnmarshal decodes JSON (a seam for tests and one import site).
func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
