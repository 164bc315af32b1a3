package marathon

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// universeLikeApp is an app the size and shape of a rendered Universe
// package (labels, env, a health check, fetch, one dynamic port).
func universeLikeApp(i int) string {
	return fmt.Sprintf(`{"id":"/bench/pkg-%d","cmd":"./start.sh --name pkg-%d","cpus":0.5,"mem":512,"instances":1,
"env":{"JVM_OPTS":"-Xmx256m","PACKAGE":"pkg-%d","LOG_LEVEL":"INFO"},
"labels":{"UNIVERSE_OPERATOR_RELEASE":"pkg-%d","UNIVERSE_OPERATOR_HASH":"%016x","DCOS_PACKAGE_NAME":"pkg","DCOS_PACKAGE_VERSION":"1.2.%d",
 "DCOS_PACKAGE_SOURCE":"https://universe.example.com/repo","DCOS_PACKAGE_FRAMEWORK_NAME":"pkg-%d","DCOS_SERVICE_NAME":"pkg-%d",
 "DCOS_PACKAGE_OPTIONS":"eyJzZXJ2aWNlIjp7Im5hbWUiOiJwa2cifX0=","tier":"%s"},
"portDefinitions":[{"port":0,"name":"api","protocol":"tcp","labels":{"VIP_0":"/pkg-%d:80"}}],
"healthChecks":[{"protocol":"MESOS_HTTP","path":"/v1/health","portIndex":0,"gracePeriodSeconds":900,"intervalSeconds":30,"maxConsecutiveFailures":0}],
"fetch":[{"uri":"https://downloads.example.com/pkg/1.2.%d/pkg.tgz"},{"uri":"https://downloads.example.com/jre.tgz","cache":true}],
"upgradeStrategy":{"minimumHealthCapacity":0,"maximumOverCapacity":0},"constraints":[["hostname","UNIQUE"]]}`,
		i, i, i, i, i*7919, i%50, i, i, []string{"front", "back", "data"}[i%3], i, i%50)
}

type benchEnv struct {
	srv *Server
	api *httptest.Server
}

var (
	benchMu   sync.Mutex
	benchEnvs = map[int]*benchEnv{}
)

// loadedEnv returns a simulator holding n running apps created through the
// HTTP API, shared by the benchmarks of that size.
func loadedEnv(b *testing.B, n int) *benchEnv {
	benchMu.Lock()
	defer benchMu.Unlock()
	if e := benchEnvs[n]; e != nil {
		return e
	}
	srv := New(Options{Timing: Timing{DeploymentDuration: 2 * time.Millisecond, TaskStageDuration: time.Millisecond, HealthDelay: time.Millisecond}})
	e := &benchEnv{srv: srv, api: httptest.NewServer(srv.Handler())}
	start := time.Now()
	client := &http.Client{}
	for i := 0; i < n; i++ {
		resp, err := client.Post(e.api.URL+"/v2/apps", "application/json", strings.NewReader(universeLikeApp(i)))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 201 {
			b.Fatalf("POST %d: %d", i, resp.StatusCode)
		}
	}
	for {
		srv.mu.Lock()
		busy := len(srv.deployments)
		srv.mu.Unlock()
		if busy == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.Logf("loaded %d apps (all deployed, tasks healthy) in %s; heap in use %.1f MB", n, time.Since(start).Round(time.Millisecond), float64(ms.HeapInuse)/1e6)
	benchEnvs[n] = e
	return e
}

func benchList(b *testing.B, n int, query string) {
	e := loadedEnv(b, n)
	client := &http.Client{}
	var size int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := client.Get(e.api.URL + "/v2/apps?" + query)
		if err != nil {
			b.Fatal(err)
		}
		size, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/answer")
	b.ReportMetric(float64(size)/1e6, "MB/answer")
}

// BenchmarkListApps measures GET /v2/apps?embed=apps.tasks&label=... through
// real HTTP on loopback (the whole answer read), over 2,000 and 10,000 apps:
// a selector matching every app (the controller's ownership label), and one
// matching a single app.
func BenchmarkListApps(b *testing.B) {
	for _, n := range []int{2000, 10000} {
		b.Run(fmt.Sprintf("apps=%d/label=all", n), func(b *testing.B) {
			benchList(b, n, "embed=apps.tasks&embed=apps.deployments&label=UNIVERSE_OPERATOR_RELEASE")
		})
		b.Run(fmt.Sprintf("apps=%d/label=one", n), func(b *testing.B) {
			benchList(b, n, "embed=apps.tasks&label=UNIVERSE_OPERATOR_RELEASE==pkg-1234")
		})
		b.Run(fmt.Sprintf("apps=%d/label=tier-in", n), func(b *testing.B) {
			benchList(b, n, "embed=apps.tasks&label=UNIVERSE_OPERATOR_RELEASE,tier+in+(front,data)")
		})
	}
}

// BenchmarkEventStream runs 1,000 deployments (4 ms each) started at a
// given pace while one unfiltered /v2/events subscriber with Marathon's
// default 50-event buffer reads every event (decoding deployment_success).
// It reports the deployment rate, the events delivered and whether the
// subscriber was disconnected as too slow (1) or not (0).
func BenchmarkEventStream(b *testing.B) {
	for _, pace := range []time.Duration{10 * time.Millisecond, 2 * time.Millisecond, 0} {
		b.Run(fmt.Sprintf("pace=%s", pace), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				e := newEnv(b, Options{Timing: Timing{DeploymentDuration: 4 * time.Millisecond, TaskStageDuration: time.Millisecond}})
				ev := e.subscribeDecoding("", "deployment_success")
				ev.next(b, "event_stream_attached")
				res := runDeployments(b, e, ev, 1000, pace)
				dropped := 0.0
				if res.missing != "" {
					dropped = 1
					b.Log(res.missing)
				} else {
					b.ReportMetric(1000/res.elapsed.Minutes(), "deployments/min")
				}
				b.ReportMetric(dropped, "disconnected")
			}
		})
	}
}

// BenchmarkCreateApp measures POST /v2/apps of a Universe-sized app.
func BenchmarkCreateApp(b *testing.B) {
	srv := New(Options{Timing: Timing{DeploymentDuration: time.Millisecond, TaskStageDuration: time.Millisecond}})
	defer srv.Close()
	api := httptest.NewServer(srv.Handler())
	defer api.Close()
	client := &http.Client{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		body := strings.Replace(universeLikeApp(i%9000), `"portDefinitions":[{"port":0`, `"portDefinitions":[{"port":`+itoa(30000+i%9000), 1)
		body = strings.Replace(body, "/bench/pkg-", fmt.Sprintf("/bench/r%d/pkg-", i/9000), 1)
		resp, err := client.Post(api.URL+"/v2/apps", "application/json", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 201 {
			b.Fatalf("POST: %d", resp.StatusCode)
		}
	}
}
