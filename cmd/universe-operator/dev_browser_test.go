package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/universe-operator/universe-operator/api"
	"github.com/universe-operator/universe-operator/devenv"
	"github.com/universe-operator/universe-operator/internal/browsertest"
	"github.com/universe-operator/universe-operator/internal/testenv"
)

// devArtifacts holds the browser tests' screenshots (gitignored).
const devArtifacts = "testdata/artifacts"

// screenshotsEnvVar, set to 1, makes TestDevBrowser also write the README's
// screenshots to docs/screenshots/ (hack/screenshots.sh sets it).
const screenshotsEnvVar = "UNIVERSE_OPERATOR_SCREENSHOTS"

// TestDevBrowser drives the UI of `dev` (the real controller on the
// simulated cluster, in process) in headless Chromium: the overview lists
// the releases, a health flip in the simulator shows without a reload
// within 2 s of Marathon reporting it, everything works under Admin
// Router's prefix, and screenshots are saved.
func TestDevBrowser(t *testing.T) {
	bin := testenv.Binary(t, "chromium")
	if err := os.MkdirAll(devArtifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	env := startDev(t, demoSimulator())
	took := waitReady(t, env)
	t.Logf("dev: all releases up %v after start", took.Round(time.Millisecond))
	browser := startChromium(t, bin)

	t.Run("overview", func(t *testing.T) { testDevOverview(t, browser, env) })
	t.Run("health-flip-under-prefix", func(t *testing.T) { testDevHealthFlip(t, browser, env) })
	t.Run("release-page-under-prefix", func(t *testing.T) { testDevReleasePage(t, browser, env) })
	t.Run("screenshots", func(t *testing.T) { testDevScreenshots(t, browser, env) })
}

func startChromium(t *testing.T, bin string) context.Context {
	t.Helper()
	return browsertest.Start(t, bin)
}

// devPage watches a tab: JavaScript exceptions, console errors, failed
// requests and HTTP errors are problems; every request URL is kept.
type devPage struct {
	mu       sync.Mutex
	urls     map[network.RequestID]string
	requests []string
	problems []string
}

// external are hosts the example packages' icons point at; they cannot
// resolve here, and the UI falls back to a badge.
func external(url string) bool { return strings.Contains(url, "example.invalid") }

func (p *devPage) handle(ev any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		p.urls[ev.RequestID] = ev.Request.URL
		p.requests = append(p.requests, ev.Request.URL)
	case *network.EventLoadingFailed:
		url := p.urls[ev.RequestID]
		if (ev.Canceled && ev.BlockedReason == "") || external(url) {
			return
		}
		p.problems = append(p.problems, fmt.Sprintf("request failed: %s: %s", url, ev.ErrorText))
	case *network.EventResponseReceived:
		if ev.Response.Status >= 400 {
			p.problems = append(p.problems, fmt.Sprintf("HTTP %d for %s", ev.Response.Status, ev.Response.URL))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		p.problems = append(p.problems, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, msg))
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			p.problems = append(p.problems, "console.error: "+strings.Join(args, " "))
		}
	}
}

func (p *devPage) requested() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.requests)
}

func devTab(t *testing.T, browser context.Context) (context.Context, *devPage) {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	p := &devPage{urls: map[network.RequestID]string{}}
	if err := chromedp.Listen(ctx, p.handle); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, pr := range p.problems {
			t.Errorf("page problem: %s", pr)
		}
	})
	return ctx, p
}

func browse(t *testing.T, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	browsertest.Do(t, ctx, actions...)
}

func jsEval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	return browsertest.Eval[T](t, ctx, js)
}

func jsWait(t *testing.T, ctx context.Context, what, js string) time.Duration {
	t.Helper()
	return browsertest.WaitFor(t, ctx, what, js)
}

func rowJS(name string) string {
	b, _ := json.Marshal(name)
	return `document.querySelector('#rows tr[data-release=' + CSS.escape(` + string(b) + `) + ']')`
}

func cellJS(name, label string) string {
	return rowJS(name) + `.querySelector('td[data-label=` + label + `]').innerText`
}

func waitDevOverview(t *testing.T, ctx context.Context) {
	t.Helper()
	jsWait(t, ctx, "the three releases", `document.querySelectorAll('#rows tr[data-release]').length === 3`)
	jsWait(t, ctx, "the live indicator", `document.getElementById('live').dataset.state === 'live'`)
}

// shoot saves a screenshot under testdata/artifacts/ (as dev-NAME) and,
// for a README screenshot (readme) when UNIVERSE_OPERATOR_SCREENSHOTS=1,
// as docs/screenshots/NAME.
func shoot(t *testing.T, ctx context.Context, name string, viewport, readme bool) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, browsertest.Step)
	defer cancel()
	_, _ = chromedp.Run(c, chromedp.Evaluate[chromedp.Void](`document.fonts.ready.then(() => true)`, chromedp.EvalAwaitPromise))
	action := chromedp.FullScreenshot(100)
	if viewport {
		action = chromedp.CaptureScreenshot()
	}
	buf, err := chromedp.Run(c, action)
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(devArtifacts, "dev-"+name)
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%d KiB)", p, len(buf)/1024)
	if readme && os.Getenv(screenshotsEnvVar) == "1" {
		dst := filepath.Join(testenv.RepoRoot(), "docs", "screenshots", name)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, buf, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("README screenshot %s", dst)
	}
}

func testDevOverview(t *testing.T, browser context.Context, env *devenv.Env) {
	ctx, page := devTab(t, browser)
	start := time.Now()
	browse(t, ctx, chromedp.Navigate(env.UIURL))
	waitDevOverview(t, ctx)
	t.Logf("overview listed the releases and went live %v after navigating", time.Since(start).Round(time.Millisecond))
	names := jsEval[[]string](t, ctx, `Array.from(document.querySelectorAll('#rows tr[data-release]')).map(r => r.dataset.release)`)
	if !slices.Equal(names, []string{"greeter", "hello-web", "pingpong"}) {
		t.Errorf("rows %v", names)
	}
	for name, want := range map[string]map[string]string{
		"hello-web": {"Sync": "Synced", "Health": "Healthy 2/2", "Status": "Running", "Package": "hello-web", "Service": "/service/hello-web/"},
		"pingpong":  {"Sync": "Synced", "Health": "Healthy 1/1", "Package": "pingpong-framework", "Service": "/service/pingpong/"},
		"greeter":   {"Sync": "Synced", "Status": "Running", "Package": "greeter"},
	} {
		for label, text := range want {
			if got := jsEval[string](t, ctx, cellJS(name, label)); !strings.Contains(got, text) {
				t.Errorf("%s %s = %q, want it to contain %q", name, label, got, text)
			}
		}
	}
	// The service link leads to the simulated service, through the same
	// address (as Admin Router would route it).
	svc := jsEval[string](t, ctx, rowJS("hello-web")+`.querySelector('a[data-key^="svc:"]').href`)
	if svc != env.UIURL+"service/hello-web/" {
		t.Errorf("service link %q", svc)
	}
	resp, err := http.Get(svc)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the service link answers %d", resp.StatusCode)
	}
	shoot(t, ctx, "overview-root.png", false, false)
	if reqs := page.requested(); len(reqs) == 0 {
		t.Error("no requests recorded")
	}
}

// marathonUnhealthySince polls the simulated Marathon until the app reports
// an unhealthy task and returns when it first saw it.
func marathonUnhealthySince(ctx context.Context, base, app string) <-chan time.Time {
	ch := make(chan time.Time, 1)
	go func() {
		for ctx.Err() == nil {
			resp, err := http.Get(base + "/service/marathon/v2/apps/" + app)
			if err == nil {
				var v struct {
					App struct {
						TasksUnhealthy int `json:"tasksUnhealthy"`
					} `json:"app"`
				}
				_ = json.NewDecoder(resp.Body).Decode(&v)
				resp.Body.Close()
				if v.App.TasksUnhealthy > 0 {
					ch <- time.Now()
					return
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return ch
}

func setHealth(t *testing.T, env *devenv.Env, app string, healthy bool) {
	t.Helper()
	body := fmt.Sprintf(`{"healthy":%v}`, healthy)
	resp, err := http.Post(env.SimulatorURL+"/simulator/v1/marathon/apps/"+app+"/health", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("health flip: HTTP %d", resp.StatusCode)
	}
}

// testDevHealthFlip loads the overview under Admin Router's prefix (so the
// API calls and the event stream go through it too), flips hello-web's
// health in the simulator and measures how long the page takes to show it.
func testDevHealthFlip(t *testing.T, browser context.Context, env *devenv.Env) {
	ctx, page := devTab(t, browser)
	browse(t, ctx, chromedp.Navigate(env.PrefixURL))
	waitDevOverview(t, ctx)
	jsEval[chromedp.Void](t, ctx, `window.__marker = 'kept'`)
	navs := jsEval[int](t, ctx, `performance.getEntriesByType('navigation').length`)

	wctx, stop := context.WithCancel(context.Background())
	defer stop()
	seen := marathonUnhealthySince(wctx, env.SimulatorURL, "hello-web")
	flipped := time.Now()
	setHealth(t, env, "hello-web", false)
	jsWait(t, ctx, "hello-web Unhealthy", cellJS("hello-web", "Health")+`.includes('Unhealthy')`)
	shown := time.Now()
	var inMarathon time.Time
	select {
	case inMarathon = <-seen:
	case <-time.After(5 * time.Second):
		t.Fatal("Marathon never reported the unhealthy task, yet the page did")
	}
	lag := max(shown.Sub(inMarathon), 0)
	t.Logf("health flip: Marathon reported it %v after the control call (next health check), the page showed it %v later (%v after the call)",
		inMarathon.Sub(flipped).Round(time.Millisecond), lag.Round(time.Millisecond), shown.Sub(flipped).Round(time.Millisecond))
	if lag > 2*time.Second {
		t.Errorf("the page showed the flip %v after Marathon reported it, want < 2 s", lag)
	}
	if m := jsEval[string](t, ctx, `String(window.__marker)`); m != "kept" {
		t.Fatal("the page reloaded")
	}
	if n := jsEval[int](t, ctx, `performance.getEntriesByType('navigation').length`); n != navs {
		t.Fatalf("the page navigated (%d navigation entries, was %d)", n, navs)
	}
	shoot(t, ctx, "overview-unhealthy.png", false, false)

	start := time.Now()
	setHealth(t, env, "hello-web", true)
	jsWait(t, ctx, "hello-web Healthy again", cellJS("hello-web", "Health")+`.includes('Healthy 2/2') && `+cellJS("hello-web", "Sync")+`.includes('Synced')`)
	t.Logf("healed: the page showed Healthy again %v after the control call", time.Since(start).Round(time.Millisecond))

	// Every request of the page stayed under the prefix: relative URLs.
	for _, u := range page.requested() {
		if !strings.HasPrefix(u, env.PrefixURL) && !external(u) {
			t.Errorf("request outside the prefix: %s", u)
		}
	}
	if reqs := strings.Join(page.requested(), "\n"); !strings.Contains(reqs, env.PrefixURL+"api/v1/stream") || !strings.Contains(reqs, env.PrefixURL+"api/v1/releases") {
		t.Errorf("the page did not use the API and stream under the prefix:\n%s", reqs)
	}
}

// testDevReleasePage follows the release link under the prefix and checks
// the release page's data came through it.
func testDevReleasePage(t *testing.T, browser context.Context, env *devenv.Env) {
	ctx, page := devTab(t, browser)
	browse(t, ctx, chromedp.Navigate(env.PrefixURL))
	waitDevOverview(t, ctx)
	browse(t, ctx, chromedp.Click(chromedp.CSS(`a[data-key="rel:hello-web"]`)))
	jsWait(t, ctx, "the release page", `document.getElementById('r-name').textContent === 'hello-web' && document.getElementById('definition').textContent.includes('"id": "hello-web"')`)
	if loc := jsEval[string](t, ctx, `location.href`); loc != env.PrefixURL+"release.html?name=hello-web" {
		t.Errorf("release page at %q", loc)
	}
	text := jsEval[string](t, ctx, `document.body.textContent`)
	for _, want := range []string{"hello-web serves one page on its first port.", "DCOS_SERVICE_NAME", "1.0.0"} {
		if !strings.Contains(text, want) {
			t.Errorf("release page lacks %q", want)
		}
	}
	jsWait(t, ctx, "live", `document.getElementById('live').dataset.state === 'live'`)
	for _, u := range page.requested() {
		if !strings.HasPrefix(u, env.PrefixURL) && !external(u) {
			t.Errorf("request outside the prefix: %s", u)
		}
	}
	shoot(t, ctx, "release-prefix.png", false, false)
}

// testDevScreenshots makes the README's screenshots: an upgrade of
// hello-web and of greeter (the printed commands, run with git) gives the
// release page a history, then the overview and a release page on a
// desktop and a phone.
func testDevScreenshots(t *testing.T, browser context.Context, env *devenv.Env) {
	git := testenv.Binary(t, "git")
	steps := env.Steps()
	for _, s := range []devenv.Step{steps[0], steps[1]} {
		c := exec.Command("/bin/sh", "-c", s.Command)
		c.Env = append(os.Environ(), "PATH="+filepath.Dir(git)+string(os.PathListSeparator)+os.Getenv("PATH"))
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", s.Command, err, out)
		}
	}
	waitRelease(t, env.UIURL, "hello-web", "hello-web 1.1.0", func(r api.Release, _ bool) bool {
		return r.DeployedVersion == "1.1.0" && devenv.Up(r, true)
	})
	waitRelease(t, env.UIURL, "greeter", "greeter 1.1.0", func(r api.Release, _ bool) bool {
		return r.DeployedVersion == "1.1.0" && devenv.Up(r, false)
	})

	ctx, _ := devTab(t, browser)
	browse(t, ctx, chromedp.Navigate(env.PrefixURL))
	waitDevOverview(t, ctx)
	jsWait(t, ctx, "the upgrade shown", cellJS("hello-web", "Versions")+`.includes('1.1.0') && `+cellJS("greeter", "Versions")+`.includes('1.1.0')`)
	shoot(t, ctx, "overview-desktop.png", false, true)
	browse(t, ctx, chromedp.Navigate(env.PrefixURL+"release.html?name=hello-web"))
	jsWait(t, ctx, "the release page", `document.getElementById('r-name').textContent === 'hello-web' && document.querySelectorAll('#compare .line').length > 0`)
	shoot(t, ctx, "release-desktop.png", false, true)

	phone, _ := devTab(t, browser)
	browse(t, phone, chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile, chromedp.EmulateScale(2)))
	browse(t, phone, chromedp.Navigate(env.PrefixURL))
	waitDevOverview(t, phone)
	if s := jsEval[map[string]float64](t, phone, `({scroll: document.documentElement.scrollWidth, width: window.innerWidth})`); s["scroll"] > s["width"] {
		t.Errorf("horizontal scroll on a phone: %v", s)
	}
	shoot(t, phone, "overview-phone.png", true, true)
	browse(t, phone, chromedp.Navigate(env.PrefixURL+"release.html?name=hello-web"))
	jsWait(t, phone, "the release page", `document.getElementById('r-name').textContent === 'hello-web' && document.querySelectorAll('#compare .line').length > 0`)
	shoot(t, phone, "release-phone.png", true, true)
}
