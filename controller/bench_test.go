package controller_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/api"
	"github.com/universe-operator/universe-operator/clients/marathon"
	"github.com/universe-operator/universe-operator/sim"
)

// benchReleases is the size of the big benchmarks (UO_BENCH_RELEASES
// overrides it).
func benchReleases() int {
	if n, err := strconv.Atoi(os.Getenv("UO_BENCH_RELEASES")); err == nil && n > 0 {
		return n
	}
	return 2000
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func rssMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// converge commits n greeter releases and waits until every one is Synced.
func converge(b *testing.B, h *harness, n int) time.Duration {
	files := map[string]string{}
	for i := range n {
		name := fmt.Sprintf("g%04d", i)
		files[name] = manifestYAML(name, "greeter", "", fmt.Sprintf(`{greeter: {name: /bench/%s}}`, name))
	}
	h.stop()
	h.commitReleases(files)
	start := time.Now()
	h.start()
	end := time.Now().Add(10 * time.Minute)
	for {
		l := h.ctl().Releases()
		synced := 0
		for _, r := range l.Releases {
			if r.Sync == api.SyncSynced && len(r.Deployments) == 0 && r.Tasks.Running == 1 {
				synced++
			}
		}
		if synced == n {
			return time.Since(start)
		}
		if time.Now().After(end) {
			b.Fatalf("not converged after 10 minutes: %d/%d synced", synced, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// BenchmarkConverge2000 measures the wall time from an empty Marathon to
// 2,000 releases Synced (deploy, follow, status), controller and simulator
// in one process.
func BenchmarkConverge2000(b *testing.B) {
	n := benchReleases()
	for range b.N {
		so := sim.FastOptions()
		h := newHarness(b, harnessOptions{interval: time.Hour, simOpts: &so, workers: 8})
		d := converge(b, h, n)
		b.ReportMetric(d.Seconds(), "s-to-converge")
		b.ReportMetric(float64(len(h.requests())), "marathon-requests")
		w := h.writes("/")
		b.ReportMetric(float64(w.posts), "posts")
		h.stop()
	}
}

// frozenMarathon serves captured answers of GET /v2/apps and GET
// /v2/queue (and an idle event stream) at almost no CPU cost, so the
// controller's own CPU per pass can be measured; any other request is a
// 503 and counted.
type frozenMarathon struct {
	apps, queue []byte
	others      int
	lists       int
}

func (f *frozenMarathon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v2/apps":
		f.lists++
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(f.apps)
	case r.Method == http.MethodGet && r.URL.Path == "/v2/queue":
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(f.queue)
	case r.URL.Path == "/v2/events":
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	default:
		f.others++
		http.Error(w, `{"message":"frozen"}`, http.StatusServiceUnavailable)
	}
}

func capture(b *testing.B, url string) []byte {
	resp, err := http.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("capture %s: %d %v", url, resp.StatusCode, err)
	}
	return body
}

// BenchmarkNoOpPass2000 measures the CPU time of a full pass with nothing
// to do over 2,000 converged releases: one list of the owned apps (with
// tasks, counts, deployments, last failure), one read of the launch queue,
// every release checked. Marathon's answers are replayed from a capture of
// the simulator so that only the controller's CPU is counted.
func BenchmarkNoOpPass2000(b *testing.B) {
	n := benchReleases()
	h := newHarness(b, harnessOptions{interval: time.Hour, workers: 8})
	converge(b, h, n)
	h.stop()
	base := h.sim.URL + "/service/marathon"
	frozen := &frozenMarathon{
		apps:  capture(b, base+"/v2/apps?label=UNIVERSE_OPERATOR_RELEASE&embed=apps.tasks&embed=apps.counts&embed=apps.deployments&embed=apps.lastTaskFailure"),
		queue: capture(b, base+"/v2/queue"),
	}
	fs := httptest.NewServer(frozen)
	defer fs.Close()
	h.opts.marathonFn = func(string) *marathon.Client {
		mc, err := marathon.New(marathon.Options{URL: fs.URL, ClientID: "controller"})
		if err != nil {
			b.Fatal(err)
		}
		return mc
	}
	h.start()
	defer h.stop() // before fs.Close: the controller holds an event stream open
	wait := func() {
		for !h.ctl().Idle() {
			time.Sleep(2 * time.Millisecond)
		}
	}
	for h.ctl().Passes() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	wait()
	// Two warm-up passes (renders and decisions cached).
	for range 2 {
		p := h.ctl().Passes()
		h.ctl().TriggerPass()
		for h.ctl().Passes() == p {
			time.Sleep(2 * time.Millisecond)
		}
		wait()
	}
	if frozen.others != 0 {
		b.Fatalf("the converged controller tried %d other requests", frozen.others)
	}
	runtime.GC()
	lists := frozen.lists
	cpu0 := cpuTime()
	b.ResetTimer()
	for range b.N {
		p := h.ctl().Passes()
		h.ctl().TriggerPass()
		for h.ctl().Passes() == p {
			time.Sleep(time.Millisecond)
		}
		wait()
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/pass")
	b.ReportMetric(float64(frozen.lists-lists)/float64(b.N), "lists/pass")
	b.ReportMetric(float64(frozen.others), "other-requests")
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
	b.ReportMetric(rssMB(), "rss-MB(with-sim)")
	if len(h.ctl().Releases().Releases) != n {
		b.Fatalf("releases: %d", len(h.ctl().Releases().Releases))
	}
}

// BenchmarkWebhookToWrite measures the time from a Git push webhook to the
// first Marathon write it causes (the POST of a new release), with the
// poll interval an hour away.
func BenchmarkWebhookToWrite(b *testing.B) {
	secret := []byte("bench")
	h := newHarness(b, harnessOptions{interval: time.Hour, webhook: secret})
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		name := fmt.Sprintf("w%04d", i)
		h.commitReleases(map[string]string{name: manifestYAML(name, "greeter", "", fmt.Sprintf(`{greeter: {name: /hook/%s}}`, name))})
		body, _ := json.Marshal(map[string]any{"ref": "refs/heads/main", "after": h.rel.Head(),
			"repository": map[string]any{"clone_url": h.gitSrv.URL("releases")}})
		mac := hmac.New(sha256.New, secret)
		mac.Write(body)
		req, _ := http.NewRequest(http.MethodPost, h.apiURL()+"/api/v1/webhook/git", bytes.NewReader(body))
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
		before := len(h.sim.Marathon.RequestLog())
		b.StartTimer()
		t0 := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		var at time.Time
		for at.IsZero() {
			for _, r := range h.sim.Marathon.RequestLog()[before:] {
				if r.Method == http.MethodPost && r.Path == "/v2/apps" && r.ClientID == "controller" {
					at = r.Time
					break
				}
			}
			if at.IsZero() {
				time.Sleep(time.Millisecond)
			}
			if time.Since(t0) > time.Minute {
				b.Fatal("no write within a minute")
			}
		}
		lat = append(lat, at.Sub(t0))
	}
	b.StopTimer()
	reportLatencies(b, lat, "webhook-to-write")
}

// BenchmarkHealthFlip measures the time from a health change in Marathon
// (the simulator's control API) to the status API showing it.
func BenchmarkHealthFlip(b *testing.B) {
	h := newHarness(b, harnessOptions{interval: time.Hour})
	h.stop()
	h.commitReleases(map[string]string{"web": manifestYAML("web", "webapp", "", `{app: {id: /health/web}}`)})
	h.start()
	h.waitSynced("web", api.HealthHealthy)
	var lat []time.Duration
	waitHealth := func(want string) {
		end := time.Now().Add(time.Minute)
		for {
			if r, ok := h.ctl().Release("web"); ok && r.Health == want {
				return
			}
			if time.Now().After(end) {
				b.Fatalf("health never became %s", want)
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if err := h.sim.Marathon.SetHealth("/health/web", "", false); err != nil {
			b.Fatal(err)
		}
		waitHealth(api.HealthUnhealthy)
		lat = append(lat, time.Since(t0))
		b.StopTimer()
		if err := h.sim.Marathon.SetHealth("/health/web", "", true); err != nil {
			b.Fatal(err)
		}
		waitHealth(api.HealthHealthy)
		b.StartTimer()
	}
	b.StopTimer()
	reportLatencies(b, lat, "health-visible")
}

func reportLatencies(b *testing.B, lat []time.Duration, name string) {
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	var sum time.Duration
	for _, l := range lat {
		sum += l
	}
	b.ReportMetric(float64(sum.Microseconds())/1000/float64(len(lat)), name+"-ms(mean)")
	b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, name+"-ms(p95)")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, name+"-ms(max)")
}
