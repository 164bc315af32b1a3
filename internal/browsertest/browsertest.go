// Package browsertest drives a headless Chromium for the UI tests (the
// embedded UI against a fake controller, and `dev` end to end): starting
// the browser on this machine's closed network, running actions with a
// time limit, evaluating and polling JavaScript, and describing the page
// when a step fails.
package browsertest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Step bounds one browser step (an action, an evaluation, a wait).
const Step = 30 * time.Second

// Start launches the Chromium at bin (headless, no sandbox, a fresh
// profile, 1280x900, nothing phoning home) and returns the browser's
// context; the browser is stopped when the test ends.
func Start(t *testing.T, bin string) context.Context {
	t.Helper()
	var out strings.Builder
	var mu sync.Mutex
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		// Without these Chromium phones home, and this machine's closed
		// network refuses its connections.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter"),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(writerFunc(func(p []byte) {
			mu.Lock()
			defer mu.Unlock()
			if out.Len() < 1<<16 {
				out.Write(p)
			}
		})),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	start := time.Now()
	if err := chromedp.Do(ctx); err != nil { // starts the browser, without a time limit
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("starting chromium: %v\n%s", err, out.String())
	}
	t.Logf("chromium started in %v", time.Since(start).Round(time.Millisecond))
	return ctx
}

type writerFunc func([]byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }

// Do runs actions in the tab ctx within Step; a failure ends the test with
// the page's address and text.
func Do(t *testing.T, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, Step)
	defer cancel()
	if err := chromedp.Do(c, actions...); err != nil {
		t.Fatalf("browser: %v\npage: %s", err, PageText(ctx))
	}
}

// Eval evaluates js in the tab ctx and returns its value.
func Eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, Step)
	defer cancel()
	v, err := chromedp.Run(c, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluating %s: %v", js, err)
	}
	return v
}

// WaitFor polls a JavaScript condition in the page every 20 ms (up to 25 s)
// and returns how long it took. A condition that throws (the page is still
// loading) counts as false, and a navigation that replaces the page's
// context is waited through.
func WaitFor(t *testing.T, ctx context.Context, what, js string) time.Duration {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, Step)
	defer cancel()
	start := time.Now()
	safe := "(() => { try { return !!(" + js + "); } catch (e) { return false; } })()"
	for {
		_, err := chromedp.Run(c, chromedp.Poll[chromedp.Void](safe,
			chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(25*time.Second)))
		if err == nil {
			return time.Since(start)
		}
		if c.Err() == nil && (strings.Contains(err.Error(), "context with specified id") || strings.Contains(err.Error(), "context was destroyed")) {
			continue
		}
		t.Fatalf("waiting for %s (%s): %v\npage: %s", what, js, err, PageText(ctx))
	}
}

// PageText is the tab's address and the start of its visible text, for
// failure messages.
func PageText(ctx context.Context) string {
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(c, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText.slice(0, 3000)`))
	if err != nil {
		return "(unavailable: " + err.Error() + ")"
	}
	return s
}
