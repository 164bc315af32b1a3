package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/universe-operator/universe-operator/api"
	"github.com/universe-operator/universe-operator/internal/browsertest"
	"github.com/universe-operator/universe-operator/internal/testenv"
)

// artifactsDir holds the screenshots of the browser tests (gitignored; the
// README refers to this path for regenerated screenshots).
const artifactsDir = "testdata/artifacts"

// screenshotsEnv, set to 1, also copies the screenshots to docs/screenshots/.
const screenshotsEnv = "UI_UPDATE_SCREENSHOTS"

// TestBrowser drives the UI in headless Chromium against a fake controller
// that serves it under Admin Router's prefix /service/universe-operator/.
// One browser serves every subtest; each subtest has its own tab and its own
// fake controller.
func TestBrowser(t *testing.T) {
	bin := testenv.Binary(t, "chromium")
	if err := os.MkdirAll(artifactsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	browser := startBrowser(t, bin)

	t.Run("overview", func(t *testing.T) { testOverview(t, browser) })
	t.Run("live-update", func(t *testing.T) { testLiveUpdate(t, browser) })
	t.Run("reconnect", func(t *testing.T) { testReconnect(t, browser) })
	t.Run("filter-search", func(t *testing.T) { testFilterSearch(t, browser) })
	t.Run("release-page", func(t *testing.T) { testReleasePage(t, browser) })
	t.Run("release-states", func(t *testing.T) { testReleaseStates(t, browser) })
	t.Run("sync-token", func(t *testing.T) { testSyncToken(t, browser) })
	t.Run("keyboard", func(t *testing.T) { testKeyboard(t, browser) })
	t.Run("phone", func(t *testing.T) { testPhone(t, browser) })
	t.Run("at-root", func(t *testing.T) { testAtRoot(t, browser) })
}

func startBrowser(t *testing.T, bin string) context.Context {
	t.Helper()
	return browsertest.Start(t, bin)
}

// pageWatch collects what a page must never do: JavaScript errors, console
// errors, failed requests and unexpected HTTP errors.
type pageWatch struct {
	mu       sync.Mutex
	urls     map[network.RequestID]string
	types    map[network.RequestID]network.ResourceType
	allowed  []string // "STATUS URL-SUFFIX" that a test expects
	problems []string
	requests []string
}

func (w *pageWatch) allow(status int, pathSuffix string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.allowed = append(w.allowed, fmt.Sprintf("%d %s", status, pathSuffix))
}

func (w *pageWatch) isAllowed(status int64, url string) bool {
	if i := strings.IndexByte(url, '?'); i >= 0 {
		url = url[:i]
	}
	for _, a := range w.allowed {
		st, suffix, _ := strings.Cut(a, " ")
		if st == fmt.Sprint(status) && strings.HasSuffix(url, suffix) {
			return true
		}
	}
	return false
}

func (w *pageWatch) handle(ev any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		w.urls[ev.RequestID] = ev.Request.URL
		w.types[ev.RequestID] = ev.Type
		w.requests = append(w.requests, ev.Request.Method+" "+ev.Request.URL)
	case *network.EventLoadingFailed:
		url := w.urls[ev.RequestID]
		// Requests cut short because the test navigated away (the event
		// stream always, a fetch sometimes) are not failures; blocked ones
		// (CSP, mixed content) are.
		if ev.Canceled && ev.BlockedReason == "" {
			return
		}
		w.problems = append(w.problems, fmt.Sprintf("request failed: %s: %s", url, ev.ErrorText))
	case *network.EventResponseReceived:
		if ev.Response.Status >= 400 && !w.isAllowed(ev.Response.Status, ev.Response.URL) {
			w.problems = append(w.problems, fmt.Sprintf("HTTP %d for %s", ev.Response.Status, ev.Response.URL))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		w.problems = append(w.problems, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, msg))
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			w.problems = append(w.problems, "console."+string(ev.Type)+": "+strings.Join(args, " "))
		}
	case *cdplog.EventEntryAdded:
		e := ev.Entry
		if e.Level != cdplog.EntryLevelError {
			return
		}
		// The browser logs every HTTP error response; expected ones are allowed.
		if e.Source == "network" && strings.Contains(e.Text, "status of ") {
			for _, a := range w.allowed {
				st, suffix, _ := strings.Cut(a, " ")
				u := e.URL
				if i := strings.IndexByte(u, '?'); i >= 0 {
					u = u[:i]
				}
				if strings.Contains(e.Text, "status of "+st) && strings.HasSuffix(u, suffix) {
					return
				}
			}
		}
		w.problems = append(w.problems, fmt.Sprintf("browser log (%s): %s %s", e.Source, e.Text, e.URL))
	}
}

func (w *pageWatch) check(t *testing.T) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range w.problems {
		t.Errorf("page problem: %s", p)
	}
}

// tab opens a new tab that reports page problems at the end of the test.
func tab(t *testing.T, browser context.Context) (context.Context, *pageWatch) {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	w := &pageWatch{urls: map[network.RequestID]string{}, types: map[network.RequestID]network.ResourceType{}}
	if err := chromedp.Listen(ctx, w.handle); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.check(t) }) // runs before the tab closes
	return ctx, w
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	browsertest.Do(t, ctx, steps...)
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	return browsertest.Eval[T](t, ctx, js)
}

func waitFor(t *testing.T, ctx context.Context, what, js string) time.Duration {
	t.Helper()
	return browsertest.WaitFor(t, ctx, what, js)
}

func navigate(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	do(t, ctx, chromedp.Navigate(url))
}

// screenshot saves a full-page PNG (or, with viewport, what the screen
// shows) under testdata/artifacts/ and, with UI_UPDATE_SCREENSHOTS=1, under
// docs/screenshots/ too.
func screenshot(t *testing.T, ctx context.Context, name string, viewport bool) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, browsertest.Step)
	defer cancel()
	// Relative times and the live indicator are steady; let fonts and icons settle.
	_, _ = chromedp.Run(c, chromedp.Evaluate[chromedp.Void](`document.fonts.ready.then(() => true)`, chromedp.EvalAwaitPromise))
	shot := chromedp.FullScreenshot(100)
	if viewport {
		shot = chromedp.CaptureScreenshot()
	}
	buf, err := chromedp.Run(c, shot)
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(artifactsDir, name)
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%d KiB)", p, len(buf)/1024)
	if os.Getenv(screenshotsEnv) == "1" {
		dir := filepath.Join(testenv.RepoRoot(), "docs", "screenshots")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func jsString(s string) string { b, _ := json.Marshal(s); return string(b) }

// rowText is the text of one release's row in the overview.
func rowSel(name string) string {
	return `document.querySelector('#rows tr[data-release=' + CSS.escape(` + jsString(name) + `) + ']')`
}

func waitOverview(t *testing.T, ctx context.Context, f *fakeController) {
	t.Helper()
	n := len(f.snapshot().Releases)
	waitFor(t, ctx, "all releases listed", fmt.Sprintf(`document.querySelectorAll('#rows tr[data-release]').length === %d`, n))
	waitFor(t, ctx, "the live indicator", `document.getElementById('live').dataset.state === 'live'`)
}

func testOverview(t *testing.T, browser context.Context) {
	f := newFakeController(t)
	ctx, _ := tab(t, browser)
	start := time.Now()
	navigate(t, ctx, f.URL())
	waitOverview(t, ctx, f)
	t.Logf("overview loaded and live in %v", time.Since(start).Round(time.Millisecond))

	names := eval[[]string](t, ctx, `Array.from(document.querySelectorAll('#rows tr[data-release]')).map(r => r.dataset.release)`)
	want := []string{}
	for _, r := range f.snapshot().Releases {
		want = append(want, r.Name)
	}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("rows %v, want %v", names, want)
	}

	type cellTexts map[string]string
	row := func(name string) cellTexts {
		return eval[cellTexts](t, ctx, `(() => { const r = `+rowSel(name)+`; const o = {name: r.querySelector('th').innerText};
			for (const td of r.querySelectorAll('td')) o[td.dataset.label] = td.innerText.replace(/\s+/g, ' ').trim(); return o; })()`)
	}
	hello := row("hello-web")
	for label, want := range map[string]string{
		"Sync": "Synced", "Health": "Healthy 3/3", "Status": "Running 3/3", "Service": "/service/hello-web/",
		"Package": "hello-web", "Versions": "Desired latest Resolved 1.2.0 (r3) Deployed 1.2.0 (r3)",
	} {
		if !strings.Contains(hello[label], want) {
			t.Errorf("hello-web %s = %q, want it to contain %q", label, hello[label], want)
		}
	}
	if !strings.Contains(hello["Last change"], "3 min ago") {
		t.Errorf("hello-web last change %q", hello["Last change"])
	}
	kafka := row("kafka-prod")
	for label, want := range map[string]string{"Sync": "Progressing", "Status": "Deploying", "Versions": "→ update pending"} {
		if !strings.Contains(kafka[label], want) {
			t.Errorf("kafka-prod %s = %q, want %q", label, kafka[label], want)
		}
	}
	cass := row("cassandra-analytics-eu-west-1-reporting-cluster-with-a-very-long-release-name")
	if !strings.Contains(cass["Sync"], "Failed") || !strings.Contains(cass["Sync"], "RenderFailed") {
		t.Errorf("failed release sync cell %q: want the state and the error reason", cass["Sync"])
	}
	if lb := row("marathon-lb-internal"); !strings.Contains(lb["Health"], "Unhealthy 1/2") || !strings.Contains(lb["Status"], "1 unhealthy") {
		t.Errorf("marathon-lb health %q status %q", lb["Health"], lb["Status"])
	}
	if redis := row("redis-cache"); !strings.Contains(redis["Health"], "Idle") || !strings.Contains(redis["Status"], "Delayed") {
		t.Errorf("redis health %q status %q", redis["Health"], redis["Status"])
	}
	if jk := row("jenkins-ci"); !strings.Contains(jk["Sync"], "Suspended") {
		t.Errorf("jenkins sync %q", jk["Sync"])
	}
	if sp := row("spark-history"); !strings.Contains(sp["Sync"], "Deleting") || !strings.Contains(sp["Status"], "Deleting") {
		t.Errorf("spark sync %q status %q", sp["Sync"], sp["Status"])
	}

	// Links: the release page is relative; the service link points at the
	// DC/OS root, outside the operator's own prefix.
	links := eval[map[string]string](t, ctx, `(() => { const r = `+rowSel("hello-web")+`;
		return {rel: r.querySelector('a.release-link').getAttribute('href'), relAbs: r.querySelector('a.release-link').href,
		        svc: r.querySelector('a[data-key^="svc:"]').href, exact: r.querySelector('time').title}; })()`)
	if links["rel"] != "release.html?name=hello-web" || links["relAbs"] != f.URL()+"release.html?name=hello-web" {
		t.Errorf("release link %q (%q)", links["rel"], links["relAbs"])
	}
	if links["svc"] != f.srv.URL+"/service/hello-web/" {
		t.Errorf("service link %q, want %q", links["svc"], f.srv.URL+"/service/hello-web/")
	}
	if !strings.HasSuffix(links["exact"], " UTC") {
		t.Errorf("exact time in title %q", links["exact"])
	}
	// Icons: the package icon when given, an initials badge otherwise.
	icons := eval[map[string]string](t, ctx, `({hello: `+rowSel("hello-web")+`.querySelector('img.icon') ? 'img' : 'none',
		lb: (`+rowSel("marathon-lb-internal")+`.querySelector('.badge-icon') || {}).textContent || 'none'})`)
	if icons["hello"] != "img" || icons["lb"] != "ML" {
		t.Errorf("icons %v", icons)
	}
	// Controller strip.
	strip := eval[string](t, ctx, `document.getElementById('controller').innerText`)
	for _, want := range []string{"0.1.0-test", "Leader", "connected", "universe", "releases", "stale", "45c48cce2e2d"} {
		if !strings.Contains(strip, want) {
			t.Errorf("controller strip lacks %q: %q", want, strip)
		}
	}
	// "connected since <time>" is the controller's healthy stream state: an ok pill, not a warning.
	if tone := eval[string](t, ctx, `Array.from(document.querySelectorAll('#controller li')).find(li => li.innerText.includes('Marathon events')).querySelector('.state').className`); !strings.Contains(tone, "tone-ok") {
		t.Errorf("Marathon events pill while connected: class %q", tone)
	}
	if v := eval[string](t, ctx, `document.getElementById('version').textContent`); v != "v0.1.0-test" {
		t.Errorf("footer version %q", v)
	}
	if s := eval[map[string]float64](t, ctx, `({scroll: document.documentElement.scrollWidth, width: window.innerWidth, table: document.getElementById('releases').getBoundingClientRect().right})`); s["scroll"] > s["width"] || s["table"] > s["width"] {
		t.Errorf("horizontal scroll on a 1280 px desktop: %v", s)
		t.Log(eval[[]float64](t, ctx, `Array.from(document.querySelectorAll('#releases thead th')).map(th => th.getBoundingClientRect().width)`))
	}
	if h := eval[string](t, ctx, `document.querySelector('h1, h2, h3, h4').tagName + ' ' + document.querySelectorAll('h1').length`); h != "H1 1" {
		t.Errorf("first heading / h1 count: %q, want one h1 first", h)
	}
	screenshot(t, ctx, "overview-desktop.png", false)

	if _, _, outside := f.recorded(); len(outside) > 0 {
		t.Errorf("requests outside the prefix (URLs must be relative): %v", outside)
	}
}

func testLiveUpdate(t *testing.T, browser context.Context) {
	f := newFakeController(t)
	ctx, _ := tab(t, browser)
	navigate(t, ctx, f.URL())
	waitOverview(t, ctx, f)
	// A marker a reload would lose, and the navigation count.
	eval[chromedp.Void](t, ctx, `window.__marker = 'kept'`)
	navs := eval[int](t, ctx, `performance.getEntriesByType('navigation').length`)

	r := f.release("hello-web")
	r.Health = api.HealthUnhealthy
	r.Tasks = api.TaskCounts{Instances: 3, Running: 3, Healthy: 2, Unhealthy: 1}
	r.LastChange = time.Now().UTC()
	start := time.Now()
	f.set(r)
	waitFor(t, ctx, "the health flip", rowSel("hello-web")+`.querySelector('td[data-label=Health]').innerText.includes('Unhealthy 2/3')`)
	took := time.Since(start)
	t.Logf("health flip shown %v after Publish", took.Round(time.Millisecond))
	if took > 2*time.Second {
		t.Errorf("health flip took %v to show, want < 2 s", took)
	}
	if m := eval[string](t, ctx, `String(window.__marker)`); m != "kept" {
		t.Fatalf("the page reloaded (marker %q)", m)
	}
	if n := eval[int](t, ctx, `performance.getEntriesByType('navigation').length`); n != navs {
		t.Fatalf("navigation entries %d, was %d", n, navs)
	}
	waitFor(t, ctx, "the polite announcement", `document.getElementById('announce').textContent.includes('hello-web: health Unhealthy')`)
	live := eval[map[string]string](t, ctx, `({role: document.getElementById('announce').getAttribute('role'), live: document.getElementById('announce').getAttribute('aria-live')})`)
	if live["role"] != "status" || live["live"] != "polite" {
		t.Errorf("announce region %v", live)
	}

	// Added, removed, and controller events.
	added := rel("zookeeper-prod", api.HealthHealthy)
	added.Package = "zookeeper"
	f.set(added)
	f.remove("spark-history")
	waitFor(t, ctx, "add and remove", `!!`+rowSel("zookeeper-prod")+` && !`+rowSel("spark-history"))
	c := controllerInfo(time.Now())
	c.PruneRefused = "releases source \"releases\" failed to load: not deleting 2 apps"
	c.MarathonEvents = "disconnected"
	f.setController(c)
	waitFor(t, ctx, "the prune refusal", `!document.getElementById('prune').hidden && document.getElementById('prune').innerText.includes('not deleting 2 apps')`)
	waitFor(t, ctx, "Marathon events state", `document.getElementById('controller').innerText.includes('disconnected')`)
	if m := eval[string](t, ctx, `String(window.__marker)`); m != "kept" {
		t.Fatal("the page reloaded")
	}
}

func testReconnect(t *testing.T, browser context.Context) {
	f := newFakeController(t)
	ctx, _ := tab(t, browser)
	navigate(t, ctx, f.URL())
	waitOverview(t, ctx, f)
	eval[chromedp.Void](t, ctx, `window.__marker = 'kept'`)

	// While the browser is cut off, one release disappears and one changes:
	// the snapshot after reconnecting must bring both.
	r := f.release("jenkins-ci")
	r.Sync = api.SyncSynced
	r.Suspended = false
	r.SyncReason = ""
	f.setQuietly(r, "redis-cache")
	if n := f.cutStreams(); n != 1 {
		t.Fatalf("cut %d streams, want 1", n)
	}
	waitFor(t, ctx, "the indicator to leave 'live'", `document.getElementById('live').dataset.state !== 'live'`)
	label := eval[string](t, ctx, `document.getElementById('live-text').textContent`)
	if !strings.Contains(label, "Reconnecting") && !strings.Contains(label, "Offline") {
		t.Errorf("indicator while disconnected: %q", label)
	}
	took := waitFor(t, ctx, "live again", `document.getElementById('live').dataset.state === 'live'`)
	t.Logf("reconnected after %v", took.Round(time.Millisecond))
	waitFor(t, ctx, "the missed changes", `!`+rowSel("redis-cache")+` && `+rowSel("jenkins-ci")+`.querySelector('td[data-label=Sync]').innerText.includes('Synced')`)
	if m := eval[string](t, ctx, `String(window.__marker)`); m != "kept" {
		t.Fatal("the page reloaded")
	}
}

func visibleRows(t *testing.T, ctx context.Context) []string {
	return eval[[]string](t, ctx, `Array.from(document.querySelectorAll('#rows tr[data-release]')).map(r => r.dataset.release)`)
}

func testFilterSearch(t *testing.T, browser context.Context) {
	f := newFakeController(t)
	ctx, _ := tab(t, browser)

	// A shared, filtered URL.
	navigate(t, ctx, f.URL()+"?sync=Failed")
	waitFor(t, ctx, "the filtered list", `document.querySelectorAll('#rows tr[data-release]').length === 1`)
	if got := visibleRows(t, ctx); got[0] != "cassandra-analytics-eu-west-1-reporting-cluster-with-a-very-long-release-name" {
		t.Errorf("sync=Failed shows %v", got)
	}
	if v := eval[string](t, ctx, `document.getElementById('f-sync').value`); v != "Failed" {
		t.Errorf("sync select %q", v)
	}

	// Health filter through the control.
	do(t, ctx, chromedp.Click(chromedp.ID("f-clear")))
	waitFor(t, ctx, "cleared filters", `document.querySelectorAll('#rows tr[data-release]').length === 8 && location.search === ''`)
	do(t, ctx, chromedp.SetValue(chromedp.ID("f-health"), "Healthy"))
	eval[chromedp.Void](t, ctx, `document.getElementById('f-health').dispatchEvent(new Event('change'))`)
	waitFor(t, ctx, "health filter", `location.search === '?health=Healthy'`)
	if got := visibleRows(t, ctx); len(got) != 5 {
		t.Errorf("health=Healthy shows %v, want the 5 healthy releases", got)
	}

	// Search by typing (app id match), combined with the health filter.
	do(t, ctx, chromedp.SendKeys(chromedp.ID("f-q"), "/ci/"))
	waitFor(t, ctx, "search", `document.querySelectorAll('#rows tr[data-release]').length === 1`)
	if got := visibleRows(t, ctx); got[0] != "jenkins-ci" {
		t.Errorf("search /ci/ shows %v", got)
	}
	if s := eval[string](t, ctx, `location.search`); s != "?health=Healthy&q=%2Fci%2F" {
		t.Errorf("query string %q", s)
	}
	summary := eval[string](t, ctx, `document.getElementById('summary').textContent`)
	if !strings.HasPrefix(summary, "Showing 1 of 8 releases") {
		t.Errorf("summary %q", summary)
	}

	// The filtered URL, shared: a fresh load shows the same view.
	url := eval[string](t, ctx, `location.href`)
	navigate(t, ctx, url)
	waitFor(t, ctx, "the shared view", `document.querySelectorAll('#rows tr[data-release]').length === 1 && document.getElementById('f-q').value === '/ci/'`)

	// Search by package name, case-insensitive; nothing matches -> an explanation.
	navigate(t, ctx, f.URL()+"?q=KAFKA")
	waitFor(t, ctx, "package search", `document.querySelectorAll('#rows tr[data-release]').length === 1`)
	navigate(t, ctx, f.URL()+"?q=no-such-thing")
	waitFor(t, ctx, "no match", `document.querySelector('#rows td.empty') && document.querySelector('#rows td.empty').innerText.includes('No release matches')`)

	// A filtered view stays filtered under live updates.
	navigate(t, ctx, f.URL()+"?health=Unhealthy")
	waitFor(t, ctx, "unhealthy only", `document.querySelectorAll('#rows tr[data-release]').length === 1`)
	waitFor(t, ctx, "live", `document.getElementById('live').dataset.state === 'live'`)
	r := f.release("hello-web")
	r.Health = api.HealthUnhealthy
	f.set(r)
	waitFor(t, ctx, "a release entering the filter", `document.querySelectorAll('#rows tr[data-release]').length === 2`)
}

func testReleasePage(t *testing.T, browser context.Context) {
	f := newFakeController(t)
	ctx, _ := tab(t, browser)
	start := time.Now()
	navigate(t, ctx, f.URL()+"release.html?name=nginx-edge")
	waitFor(t, ctx, "the release", `document.getElementById('r-name').textContent === 'nginx-edge' && !document.getElementById('release').hidden`)
	waitFor(t, ctx, "the definition", `document.getElementById('definition').textContent.includes('"id": "/nginx-edge"')`)
	waitFor(t, ctx, "the comparison", `document.querySelectorAll('#compare .line.del').length > 0`)
	waitFor(t, ctx, "live", `document.getElementById('live').dataset.state === 'live'`)
	t.Logf("release page complete in %v", time.Since(start).Round(time.Millisecond))

	if title := eval[string](t, ctx, `document.title`); title != "nginx-edge · universe-operator" {
		t.Errorf("title %q", title)
	}
	// Drift table.
	drift := eval[[][]string](t, ctx, `Array.from(document.querySelectorAll('#drift tbody tr')).map(tr => Array.from(tr.children).map(c => c.innerText.trim()))`)
	wantDrift := [][]string{
		{"/instances", "changed in Marathon", "3", "2"},
		{"/env/NGINX_WORKERS", "changed in Marathon", `"4"`, `"8"`},
		{"/env/LOG_LEVEL", "missing in Marathon", `"info"`, "(absent)"},
		{"/labels/team", "only in Marathon", "(absent)", `"edge"`},
	}
	if fmt.Sprint(drift) != fmt.Sprint(wantDrift) {
		t.Errorf("drift table\n got %q\nwant %q", drift, wantDrift)
	}
	if c := eval[string](t, ctx, `document.querySelector('#drift caption').textContent`); c != "4 differences between Git and Marathon" {
		t.Errorf("drift caption %q", c)
	}
	// Unified comparison: Git's 3 instances against Marathon's 2, Marathon's
	// status fields left out.
	cmp := eval[string](t, ctx, `document.getElementById('compare').textContent`)
	for _, want := range []string{`-   "instances": 3,`, `+   "instances": 2,`, `+   "backoffSeconds": 1,`} {
		if !strings.Contains(cmp, want) {
			t.Errorf("comparison lacks %q:\n%s", want, cmp)
		}
	}
	if strings.Contains(cmp, "tasksRunning") {
		t.Error("comparison shows Marathon's status fields")
	}
	// The definition is collapsible: closed at first, opens by keyboard.
	if open := eval[bool](t, ctx, `document.getElementById('def-details').open`); open {
		t.Error("definition starts open")
	}
	do(t, ctx, chromedp.Focus(chromedp.CSS("#def-details summary")), chromedp.KeyEvent(kb.Enter))
	waitFor(t, ctx, "the definition to open", `document.getElementById('def-details').open`)
	do(t, ctx, chromedp.Click(chromedp.CSS("#cmp-details summary")))
	waitFor(t, ctx, "the comparison to open", `document.getElementById('cmp-details').open`)

	// History with outcomes and rollback buttons for rollbackable revisions.
	hist := eval[[][]string](t, ctx, `Array.from(document.querySelectorAll('#history tbody tr')).map(tr => Array.from(tr.children).map(c => c.innerText.replace(/\s+/g, ' ').trim()))`)
	if len(hist) != 4 {
		t.Fatalf("history rows %q", hist)
	}
	if hist[0][0] != "#4 (current)" || !strings.Contains(hist[0][3], "Succeeded") || hist[0][5] != "current" {
		t.Errorf("history[0] %q", hist[0])
	}
	if !strings.Contains(hist[2][3], "RolledBack") || !strings.Contains(hist[2][4], "progress deadline") || hist[2][5] != "—" {
		t.Errorf("history[2] %q", hist[2])
	}
	buttons := eval[[]string](t, ctx, `Array.from(document.querySelectorAll('#history button')).map(b => b.textContent)`)
	if !slices.Equal(buttons, []string{"Roll back to #3", "Roll back to #1"}) {
		t.Errorf("rollback buttons %q", buttons)
	}

	// Notes: exactly the text, line breaks kept, markup inert.
	notes := eval[map[string]any](t, ctx, `(() => { const p = document.querySelector('#notes pre[data-note=postInstall]');
		return {text: p.textContent, scripts: document.querySelectorAll('#notes script, #notes img').length,
		        ws: getComputedStyle(p).whiteSpace, xss: String(window.__xss), height: p.getBoundingClientRect().height}; })()`)
	if notes["text"] != hostileNotes {
		t.Errorf("notes text %q, want %q", notes["text"], hostileNotes)
	}
	if notes["scripts"].(float64) != 0 || notes["xss"] != "undefined" {
		t.Errorf("notes produced markup: %v", notes)
	}
	if notes["ws"] != "pre-wrap" {
		t.Errorf("notes white-space %v", notes["ws"])
	}
	headings := eval[[]string](t, ctx, `Array.from(document.querySelectorAll('#notes h3')).map(h => h.textContent)`)
	if !slices.Equal(headings, []string{"After install", "After uninstall"}) {
		t.Errorf("notes headings %q", headings)
	}

	// Events, most recent first.
	events := eval[[][]string](t, ctx, `Array.from(document.querySelectorAll('#events tbody tr')).map(tr => Array.from(tr.children).map(c => c.innerText.replace(/\s+/g, ' ').trim()))`)
	if len(events) != 3 || !strings.Contains(events[0][1], "Warning") || events[0][2] != "DriftDetected" || !strings.Contains(events[0][0], "2 min ago") {
		t.Errorf("events %q", events)
	}
	facts := eval[string](t, ctx, `document.getElementById('facts').innerText`)
	for _, want := range []string{"1.25.3 (release 7)", "/nginx-edge", "releases/nginx-edge.yaml", "6512bd43d9ca", "OutOfSync", "differs from Git in 4 fields"} {
		if !strings.Contains(facts, want) {
			t.Errorf("summary lacks %q:\n%s", want, facts)
		}
	}
	if svc := eval[string](t, ctx, `document.getElementById('service-link').href`); svc != f.srv.URL+"/service/nginx-edge/" {
		t.Errorf("service link %q", svc)
	}
	if h := eval[string](t, ctx, `document.querySelector('h1, h2, h3, h4').tagName + ' ' + document.querySelectorAll('h1').length`); h != "H1 1" {
		t.Errorf("first heading / h1 count: %q, want one h1 first", h)
	}
	screenshot(t, ctx, "release-desktop.png", false)

	// Live: a new event and a resolved drift show without a reload.
	eval[chromedp.Void](t, ctx, `window.__marker = 'kept'`)
	r := f.release("nginx-edge")
	r.Sync = api.SyncSynced
	r.SyncReason = ""
	r.Drift = nil
	r.Events = append([]api.Event{{Time: time.Now().UTC(), Type: "Normal", Reason: "Synced", Message: "drift corrected: Marathon runs what Git declares"}}, r.Events...)
	f.set(r)
	waitFor(t, ctx, "the live update", `document.getElementById('drift').innerText.includes('None: Marathon runs what Git declares') && document.querySelector('#events tbody tr').innerText.includes('drift corrected')`)
	if m := eval[string](t, ctx, `String(window.__marker)`); m != "kept" {
		t.Fatal("the page reloaded")
	}
	if _, _, outside := f.recorded(); len(outside) > 0 {
		t.Errorf("requests outside the prefix: %v", outside)
	}
}

// testReleaseStates covers a failed release (error with details, no rendered
// definition), a deleting one (cleanup steps) and a missing one.
func testReleaseStates(t *testing.T, browser context.Context) {
	f := newFakeController(t)
	ctx, w := tab(t, browser)
	failed := "cassandra-analytics-eu-west-1-reporting-cluster-with-a-very-long-release-name"
	w.allow(404, "/releases/"+failed+"/definition") // the new revision does not render
	navigate(t, ctx, f.URL()+"release.html?name="+failed)
	waitFor(t, ctx, "the error", `!document.getElementById('error-sec').hidden`)
	errText := eval[string](t, ctx, `document.getElementById('error').innerText`)
	for _, want := range []string{"permanent", "RenderFailed", `"dcos overlay" does not match pattern`, `"rule": "pattern"`, "Needs a change"} {
		if !strings.Contains(errText, want) {
			t.Errorf("error section lacks %q:\n%s", want, errText)
		}
	}
	waitFor(t, ctx, "the missing definition", `document.getElementById('definition').textContent.includes('No rendered definition (HTTP 404)')`)
	if cleanup := eval[bool](t, ctx, `document.getElementById('cleanup-sec').hidden`); !cleanup {
		t.Error("cleanup section shown for a release that is not deleting")
	}

	navigate(t, ctx, f.URL()+"release.html?name=spark-history")
	waitFor(t, ctx, "the cleanup", `!document.getElementById('cleanup-sec').hidden`)
	steps := eval[[][]string](t, ctx, `Array.from(document.querySelectorAll('#cleanup tbody tr')).map(tr => Array.from(tr.children).slice(0, 2).map(c => c.innerText.replace(/\s+/g, ' ').trim()))`)
	wantSteps := [][]string{{"delete-app", "✓ Done"}, {"teardown-framework", "⟳ Running"}, {"destroy-volumes", "… Pending"}, {"unreserve", "… Pending"}, {"delete-znode", "… Pending"}}
	if fmt.Sprint(steps) != fmt.Sprint(wantSteps) {
		t.Errorf("cleanup steps\n got %q\nwant %q", steps, wantSteps)
	}
	waitFor(t, ctx, "no definition for a deleted release", `document.getElementById('definition').textContent.includes('removed from Git')`)
	waitFor(t, ctx, "post-uninstall notes", `document.querySelector('#notes pre[data-note=postUninstall]').textContent.includes('hdfs dfs -rm -r /history')`)

	// A framework mid-upgrade: deployments, dependencies, all three notes.
	navigate(t, ctx, f.URL()+"release.html?name=kafka-prod")
	waitFor(t, ctx, "kafka", `document.getElementById('r-name').textContent === 'kafka-prod' && document.querySelectorAll('#compare .line').length > 0`)
	facts := eval[string](t, ctx, `document.getElementById('facts').innerText`)
	for _, want := range []string{"Deployments in flight", "2f1c6a7e-9a0d-4c55-8f3e-1d2b3c4d5e6f", "Depends on", "zookeeper-prod", ">=2.8 <3", "2.8.0-2.3.0 (release 52)", "Deploying"} {
		if !strings.Contains(facts, want) {
			t.Errorf("kafka summary lacks %q:\n%s", want, facts)
		}
	}
	if href := eval[string](t, ctx, `document.querySelector('#facts a[data-key="dep:zookeeper-prod"]').getAttribute('href')`); href != "release.html?name=zookeeper-prod" {
		t.Errorf("dependency link %q", href)
	}
	if hs := eval[[]string](t, ctx, `Array.from(document.querySelectorAll('#notes h3')).map(h => h.textContent)`); !slices.Equal(hs, []string{"Before install", "After install", "After uninstall"}) {
		t.Errorf("kafka notes %q", hs)
	}
	if tabs := eval[string](t, ctx, `document.querySelector('#notes pre[data-note=postInstall]').textContent`); !strings.Contains(tabs, "\n\n\tDocumentation:") {
		t.Errorf("notes lost their whitespace: %q", tabs)
	}

	w.allow(404, "/releases/nope")
	navigate(t, ctx, f.URL()+"release.html?name=nope")
	waitFor(t, ctx, "not found", `!document.getElementById('load-error').hidden && document.getElementById('load-error').textContent.includes('no release named “nope”')`)

	navigate(t, ctx, f.URL()+"release.html")
	waitFor(t, ctx, "no name", `document.getElementById('load-error').textContent.includes('release.html?name=')`)

	// A release removed while its page is open says so.
	navigate(t, ctx, f.URL()+"release.html?name=hello-web")
	waitFor(t, ctx, "live", `document.getElementById('live').dataset.state === 'live' && !document.getElementById('release').hidden`)
	f.remove("hello-web")
	waitFor(t, ctx, "the removal notice", `!document.getElementById('removed').hidden`)
}

func testSyncToken(t *testing.T, browser context.Context) {
	f := newFakeController(t)
	ctx, w := tab(t, browser)
	w.allow(401, "/releases/nginx-edge/sync")
	navigate(t, ctx, f.URL()+"release.html?name=nginx-edge")
	waitFor(t, ctx, "the release", `!document.getElementById('release').hidden`)
	eval[chromedp.Void](t, ctx, `sessionStorage.clear()`)

	// Without a token: 401, explained, nothing queued, focus on the token field.
	do(t, ctx, chromedp.Click(chromedp.ID("sync-btn")))
	waitFor(t, ctx, "the 401 message", `document.getElementById('action-error').innerText.includes('HTTP 401')`)
	msg := eval[string](t, ctx, `document.getElementById('action-error').innerText`)
	if !strings.Contains(msg, "needs a UI token") {
		t.Errorf("401 message %q", msg)
	}
	if role := eval[string](t, ctx, `document.getElementById('action-error').getAttribute('role')`); role != "alert" {
		t.Errorf("error region role %q", role)
	}
	if id := eval[string](t, ctx, `document.activeElement.id`); id != "token" {
		t.Errorf("focus after 401 on %q, want the token field", id)
	}
	if syncs, _, _ := f.recorded(); len(syncs) != 0 {
		t.Fatalf("sync queued without a token: %v", syncs)
	}

	// A wrong token: refused, and said so.
	do(t, ctx, chromedp.SendKeys(chromedp.ID("token"), "wrong"), chromedp.Click(chromedp.CSS("#token-form button[type=submit]")))
	do(t, ctx, chromedp.Click(chromedp.ID("sync-btn")))
	waitFor(t, ctx, "the refusal", `document.getElementById('action-error').innerText.includes('refused the saved UI token')`)

	// The right token, entered once, kept in sessionStorage only.
	do(t, ctx, chromedp.SendKeys(chromedp.ID("token"), testToken), chromedp.Click(chromedp.CSS("#token-form button[type=submit]")))
	waitFor(t, ctx, "token saved", `document.getElementById('token-state').textContent === 'A token is saved for this tab.' && document.getElementById('token').value === ''`)
	stored := eval[map[string]string](t, ctx, `({s: sessionStorage.getItem('universe-operator.ui-token') || '', l: String(localStorage.length)})`)
	if stored["s"] != testToken || stored["l"] != "0" {
		t.Errorf("token storage %v", stored)
	}
	do(t, ctx, chromedp.Click(chromedp.ID("sync-btn")))
	waitFor(t, ctx, "the sync response", `document.getElementById('action-status').innerText.includes('sync of nginx-edge queued')`)
	if e := eval[string](t, ctx, `document.getElementById('action-error').innerText`); e != "" {
		t.Errorf("error left after success: %q", e)
	}
	if syncs, _, _ := f.recorded(); !slices.Equal(syncs, []string{"nginx-edge"}) {
		t.Errorf("syncs %v", syncs)
	}

	// Rollback: ask, confirm, done.
	do(t, ctx, chromedp.Click(chromedp.CSS(`#history button[data-key="rb:3"]`)))
	waitFor(t, ctx, "the confirmation", `document.activeElement && document.activeElement.dataset.key === 'rbc:3'`)
	do(t, ctx, chromedp.Click(chromedp.CSS(`#history button[data-key="rbc:3"]`)))
	waitFor(t, ctx, "the rollback response", `document.getElementById('action-status').innerText.includes('rollback of nginx-edge to revision 3 queued')`)
	if _, rb, _ := f.recorded(); !slices.Equal(rb, []int{3}) {
		t.Errorf("rollbacks %v", rb)
	}
	// Cancel leaves it alone.
	do(t, ctx, chromedp.Click(chromedp.CSS(`#history button[data-key="rb:1"]`)))
	do(t, ctx, chromedp.Click(chromedp.CSS(`#history button[data-key="rbx:1"]`)))
	waitFor(t, ctx, "the cancel", `document.querySelector('#history button[data-key="rb:1"]') === document.activeElement`)
	if _, rb, _ := f.recorded(); len(rb) != 1 {
		t.Errorf("rollbacks after cancel %v", rb)
	}

	// The token survives a reload of the tab (sessionStorage) and can be forgotten.
	navigate(t, ctx, f.URL()+"release.html?name=nginx-edge")
	waitFor(t, ctx, "token kept", `document.getElementById('token-state').textContent === 'A token is saved for this tab.'`)
	do(t, ctx, chromedp.Click(chromedp.ID("token-forget")))
	waitFor(t, ctx, "token forgotten", `document.getElementById('token-state').textContent === 'No token saved.' && !sessionStorage.getItem('universe-operator.ui-token')`)
}

func testKeyboard(t *testing.T, browser context.Context) {
	f := newFakeController(t)
	ctx, _ := tab(t, browser)
	navigate(t, ctx, f.URL())
	waitOverview(t, ctx, f)
	eval[chromedp.Void](t, ctx, `document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)`)

	type stop struct {
		ID, Key, Tag, Outline string
	}
	var stops []stop
	for range 30 {
		do(t, ctx, chromedp.KeyEvent(kb.Tab))
		s := eval[stop](t, ctx, `(() => { const a = document.activeElement;
			return {ID: a.id || '', Key: a.dataset.key || '', Tag: a.tagName, Outline: getComputedStyle(a).outlineStyle}; })()`)
		stops = append(stops, s)
		if strings.HasPrefix(s.Key, "rel:") {
			break
		}
	}
	index := func(match func(stop) bool) int { return slices.IndexFunc(stops, match) }
	iSync := index(func(s stop) bool { return s.ID == "f-sync" })
	iHealth := index(func(s stop) bool { return s.ID == "f-health" })
	iQ := index(func(s stop) bool { return s.ID == "f-q" })
	iRow := index(func(s stop) bool { return strings.HasPrefix(s.Key, "rel:") })
	if iSync < 0 || iHealth < iSync || iQ < iHealth || iRow < iQ {
		t.Fatalf("tab order %+v: want skip link …, sync, health, search, …, a release link", stops)
	}
	if stops[0].Tag != "A" || !strings.Contains(eval[string](t, ctx, `document.querySelector('.skip').textContent`), "Skip") {
		t.Errorf("first stop %+v, want the skip link", stops[0])
	}
	for _, s := range stops {
		if s.Outline == "none" {
			t.Errorf("no visible focus on %+v", s)
		}
	}
	t.Logf("tab stops to the first release link: %d", len(stops))

	// Keyboard-only: filter with the keyboard, then open a release with Enter.
	do(t, ctx, chromedp.Focus(chromedp.ID("f-q")), chromedp.KeyEvent("nginx"))
	waitFor(t, ctx, "keyboard search", `document.querySelectorAll('#rows tr[data-release]').length === 1`)
	// Clear button, the table's scroll region, then the release link.
	var focused []string
	for range 3 {
		do(t, ctx, chromedp.KeyEvent(kb.Tab))
		focused = append(focused, eval[string](t, ctx, `document.activeElement.dataset.key || document.activeElement.id || document.activeElement.className`))
	}
	if !slices.Equal(focused, []string{"f-clear", "table-wrap", "rel:nginx-edge"}) {
		t.Fatalf("focus went %q, want the clear button, the table region, the nginx-edge link", focused)
	}
	c, cancel := context.WithTimeout(ctx, browsertest.Step)
	defer cancel()
	if _, err := chromedp.Run(c, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.KeyEvent(kb.Enter))); err != nil {
		t.Fatalf("Enter on the release link: %v", err)
	}
	waitFor(t, ctx, "the release page", `location.pathname.endsWith('/release.html') && document.getElementById('r-name').textContent === 'nginx-edge'`)

	// No click handlers on non-interactive elements: every control is a
	// button, link, input, select or summary.
	bad := eval[[]string](t, ctx, `Array.from(document.querySelectorAll('[tabindex]')).filter(e => !['PRE', 'DIV', 'A', 'BUTTON', 'INPUT', 'SELECT'].includes(e.tagName)).map(e => e.tagName)`)
	if len(bad) > 0 {
		t.Errorf("unexpected focusable elements: %v", bad)
	}
	unlabeled := eval[[]string](t, ctx, `Array.from(document.querySelectorAll('input, select, textarea')).filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.id || e.name)`)
	if len(unlabeled) > 0 {
		t.Errorf("controls without a label: %v", unlabeled)
	}
}

func testPhone(t *testing.T, browser context.Context) {
	f := newFakeController(t)
	ctx, _ := tab(t, browser)
	do(t, ctx, chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile, chromedp.EmulateScale(2)))
	navigate(t, ctx, f.URL())
	waitOverview(t, ctx, f)
	layout := eval[map[string]any](t, ctx, `({scroll: document.documentElement.scrollWidth, width: window.innerWidth,
		row: getComputedStyle(document.querySelector('#rows tr')).display,
		label: getComputedStyle(document.querySelector('#rows td'), '::before').content,
		wide: Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).map(e => e.tagName + '.' + e.className).slice(0, 5)})`)
	if layout["width"].(float64) != 375 {
		t.Fatalf("viewport %v, want 375", layout["width"])
	}
	if layout["scroll"].(float64) > layout["width"].(float64) {
		t.Errorf("horizontal scroll on a phone: scrollWidth %v > %v; too wide: %v", layout["scroll"], layout["width"], layout["wide"])
	}
	if layout["row"] != "block" || layout["label"] != `"Package"` {
		t.Errorf("rows are not cards on a phone: display %v, label %v", layout["row"], layout["label"])
	}
	screenshot(t, ctx, "overview-phone.png", true)

	navigate(t, ctx, f.URL()+"release.html?name=nginx-edge")
	waitFor(t, ctx, "the release", `!document.getElementById('release').hidden && document.querySelectorAll('#compare .line').length > 0`)
	if s := eval[map[string]float64](t, ctx, `({scroll: document.documentElement.scrollWidth, width: window.innerWidth})`); s["scroll"] > s["width"] {
		t.Errorf("horizontal scroll on the release page: %v", s)
	}
	screenshot(t, ctx, "release-phone.png", true)
}

// testAtRoot: the same UI served at "/" (the `dev` command) works too, and
// service links then point at the same host's root.
func testAtRoot(t *testing.T, browser context.Context) {
	f := newFakeControllerAt(t, "/")
	ctx, _ := tab(t, browser)
	navigate(t, ctx, f.URL())
	waitOverview(t, ctx, f)
	if svc := eval[string](t, ctx, rowSel("hello-web")+`.querySelector('a[data-key^="svc:"]').href`); svc != f.srv.URL+"/service/hello-web/" {
		t.Errorf("service link %q", svc)
	}
	do(t, ctx, chromedp.Click(chromedp.CSS(`a[data-key="rel:nginx-edge"]`)))
	waitFor(t, ctx, "the release page", `document.getElementById('r-name').textContent === 'nginx-edge' && document.getElementById('definition').textContent.includes('/nginx-edge')`)
	if loc := eval[string](t, ctx, `location.href`); loc != f.srv.URL+"/release.html?name=nginx-edge" {
		t.Errorf("release page at %q", loc)
	}
}
