package ui_test

import (
	"io"
	"io/fs"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/universe-operator/universe-operator/ui"
)

func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var assetRef = regexp.MustCompile(`(?:href|src)="([^"]+)"`)

func TestHandlerPages(t *testing.T) {
	h := ui.Handler(ui.Options{Title: `Ops <script>x</script>`, Version: "v1.2.3"})
	for _, p := range []string{"/", "/index.html", "/release.html"} {
		resp := get(t, h, "GET", p+"?name=x", nil)
		b := body(t, resp)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d", p, resp.StatusCode)
		}
		want := map[string]string{
			"Content-Type":            "text/html; charset=utf-8",
			"X-Content-Type-Options":  "nosniff",
			"Content-Security-Policy": ui.ContentSecurityPolicy,
			"Cache-Control":           "no-cache",
			"X-Frame-Options":         "SAMEORIGIN",
		}
		for k, v := range want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", p, k, got, v)
			}
		}
		if resp.Header.Get("ETag") == "" {
			t.Errorf("%s: no ETag", p)
		}
		if strings.Contains(b, "<script>x</script>") || !strings.Contains(b, "Ops &lt;script&gt;x&lt;/script&gt;") {
			t.Errorf("%s: title not escaped", p)
		}
		if !strings.Contains(b, "v1.2.3") {
			t.Errorf("%s: version missing from footer", p)
		}
		// Every reference is relative and resolves to something the handler serves.
		for _, m := range assetRef.FindAllStringSubmatch(b, -1) {
			ref := m[1]
			if strings.HasPrefix(ref, "/") || strings.Contains(ref, "://") || strings.HasPrefix(ref, "//") {
				t.Errorf("%s: non-relative reference %q", p, ref)
				continue
			}
			if strings.HasPrefix(ref, "#") {
				continue
			}
			r := get(t, h, "GET", "/"+strings.TrimPrefix(ref, "./"), nil)
			if r.StatusCode != 200 {
				t.Errorf("%s: reference %q answers %d", p, ref, r.StatusCode)
			}
		}
	}
	resp := get(t, h, "GET", "/release.html", nil)
	if !strings.Contains(body(t, resp), `static/release.js?v=`) {
		t.Error("release page does not load release.js")
	}
}

func TestHandlerStaticCaching(t *testing.T) {
	h := ui.Handler(ui.Options{})
	page := body(t, get(t, h, "GET", "/", nil))
	m := regexp.MustCompile(`static/app\.css\?v=([0-9a-f]+)`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no hashed stylesheet reference in the page")
	}
	cases := []struct {
		target, ctype, cache string
	}{
		{"/static/app.css?v=" + m[1], "text/css; charset=utf-8", "public, max-age=31536000, immutable"},
		{"/static/app.css", "text/css; charset=utf-8", "no-cache"},
		{"/static/app.css?v=stale", "text/css; charset=utf-8", "no-cache"},
		{"/static/common.js", "text/javascript; charset=utf-8", "no-cache"},
		{"/static/overview.js", "text/javascript; charset=utf-8", "no-cache"},
		{"/static/release.js", "text/javascript; charset=utf-8", "no-cache"},
		{"/static/favicon.svg", "image/svg+xml", "no-cache"},
		{"/favicon.ico", "image/svg+xml", "no-cache"},
	}
	for _, c := range cases {
		resp := get(t, h, "GET", c.target, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d", c.target, resp.StatusCode)
		}
		if got := resp.Header.Get("Content-Type"); got != c.ctype {
			t.Errorf("%s: Content-Type %q, want %q", c.target, got, c.ctype)
		}
		if got := resp.Header.Get("Cache-Control"); got != c.cache {
			t.Errorf("%s: Cache-Control %q, want %q", c.target, got, c.cache)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", c.target)
		}
		etag := resp.Header.Get("ETag")
		if etag == "" {
			t.Fatalf("%s: no ETag", c.target)
		}
		again := get(t, h, "GET", c.target, map[string]string{"If-None-Match": etag})
		if again.StatusCode != http.StatusNotModified {
			t.Errorf("%s: If-None-Match answered %d, want 304", c.target, again.StatusCode)
		}
	}
	head := get(t, h, "HEAD", "/static/app.css", nil)
	if head.StatusCode != 200 || body(t, head) != "" {
		t.Errorf("HEAD: status %d", head.StatusCode)
	}
}

func TestHandlerErrors(t *testing.T) {
	h := ui.Handler(ui.Options{})
	for _, p := range []string{"/nope", "/static/nope.js", "/static/", "/assets/pages/index.html", "/../go.mod", "/api/v1/releases"} {
		if resp := get(t, h, "GET", p, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", p, resp.StatusCode)
		}
	}
	resp := get(t, h, "POST", "/", nil)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: status %d Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

func TestHandlerRedirectsToSlashUnderPrefix(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/service/universe-operator/", http.StripPrefix("/service/universe-operator", ui.Handler(ui.Options{})))
	mux.Handle("/service/universe-operator", http.StripPrefix("/service/universe-operator", ui.Handler(ui.Options{})))
	resp := get(t, mux, "GET", "/service/universe-operator?sync=Failed", nil)
	if resp.StatusCode != http.StatusMovedPermanently {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// Relative, so it is right whatever prefix a proxy added in front.
	if loc := resp.Header.Get("Location"); loc != "universe-operator/?sync=Failed" {
		t.Errorf("Location %q", loc)
	}
	if resp := get(t, mux, "GET", "/service/universe-operator/", nil); resp.StatusCode != 200 {
		t.Errorf("prefix with slash: status %d", resp.StatusCode)
	}
}

// TestAssetsRules checks the rules of the front end on its source: relative
// URLs only, no external resources, no inline scripts, styles or event
// handler attributes, and no HTML parsing of data.
func TestAssetsRules(t *testing.T) {
	root := "assets"
	forbidden := []struct {
		re  *regexp.Regexp
		why string
	}{
		{regexp.MustCompile(`\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function\(`), "parses strings as HTML or code"},
		{regexp.MustCompile(`(?i)https?://`), "external resource (the cluster may be offline)"},
		{regexp.MustCompile(`(?:src|href|action)="/`), "absolute URL (breaks under /service/universe-operator/)"},
		{regexp.MustCompile(`url\(\s*['"]?/`), "absolute URL in CSS"},
		{regexp.MustCompile(`(?:fetch|EventSource|request|post)\(\s*['"]/`), "absolute URL in a request"},
		{regexp.MustCompile(`<script>|<script [^>]*>[^<]+</script>`), "inline script"},
		{regexp.MustCompile(`<style|\sstyle="`), "inline style"},
		{regexp.MustCompile(`\son[a-z]+="`), "inline event handler"},
		{regexp.MustCompile(`@import`), "CSS import"},
	}
	allowHTTP := map[string]bool{"static/favicon.svg": true} // the SVG namespace URI is not a request
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		src := string(b)
		// Comments may mention URLs and forbidden calls to explain them.
		src = regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAllString(src, "")
		src = regexp.MustCompile(`(?m)^\s*//.*$|\s//\s.*$`).ReplaceAllString(src, "")
		for _, f := range forbidden {
			if f.why == "external resource (the cluster may be offline)" && allowHTTP[filepath.ToSlash(rel)] {
				continue
			}
			if loc := f.re.FindStringIndex(src); loc != nil {
				t.Errorf("%s: %s: %q", rel, f.why, src[max(0, loc[0]-30):min(len(src), loc[1]+30)])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 7 {
		t.Fatalf("checked only %d files", n)
	}
}

// TestPaletteContrast recomputes the WCAG contrast ratios stated in app.css
// from its colour variables, for the light and the dark palette.
func TestPaletteContrast(t *testing.T) {
	css, err := os.ReadFile("assets/static/app.css")
	if err != nil {
		t.Fatal(err)
	}
	s := string(css)
	block := func(start, end string) map[string]string {
		i := strings.Index(s, start)
		j := strings.Index(s, end)
		if i < 0 || j < i {
			t.Fatalf("palette markers %q..%q not found", start, end)
		}
		vars := map[string]string{}
		for _, m := range regexp.MustCompile(`--([a-z-]+):\s*(#[0-9a-fA-F]{6})`).FindAllStringSubmatch(s[i:j], -1) {
			vars[m[1]] = m[2]
		}
		return vars
	}
	light := block("/* palette:light */", "/* palette:dark */")
	dark := block("/* palette:dark */", "/* palette:end */")
	pairs := [][2]string{
		{"fg", "bg"}, {"muted", "bg"}, {"muted", "surface"}, {"link", "bg"}, {"link", "surface"}, {"fg", "surface"},
		{"ok-fg", "ok-bg"}, {"bad-fg", "bad-bg"}, {"warn-fg", "warn-bg"}, {"info-fg", "info-bg"},
		{"neutral-fg", "neutral-bg"}, {"btn-fg", "btn-bg"}, {"focus", "bg"},
		{"link", "bg"}, {"bad-fg", "bg"}, {"ok-fg", "bg"}, {"warn-fg", "bg"},
	}
	for name, pal := range map[string]map[string]string{"light": light, "dark": dark} {
		for _, p := range pairs {
			fg, bg := pal[p[0]], pal[p[1]]
			if fg == "" || bg == "" {
				t.Errorf("%s: --%s or --%s not defined", name, p[0], p[1])
				continue
			}
			if r := contrast(fg, bg); r < 4.5 {
				t.Errorf("%s: --%s %s on --%s %s: contrast %.2f < 4.5", name, p[0], fg, p[1], bg, r)
			}
		}
	}
	for _, m := range regexp.MustCompile(`\.bg\d \{ background: (#[0-9a-f]{6}); \}`).FindAllStringSubmatch(s, -1) {
		if r := contrast("#ffffff", m[1]); r < 4.5 {
			t.Errorf("initial badge white on %s: %.2f < 4.5", m[1], r)
		}
	}
}

func contrast(a, b string) float64 {
	lum := func(hex string) float64 {
		var c [3]float64
		for i := range 3 {
			v, _ := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
			x := float64(v) / 255
			if x <= 0.03928 {
				c[i] = x / 12.92
			} else {
				c[i] = math.Pow((x+0.055)/1.055, 2.4)
			}
		}
		return 0.2126*c[0] + 0.7152*c[1] + 0.0722*c[2]
	}
	la, lb := lum(a), lum(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}
