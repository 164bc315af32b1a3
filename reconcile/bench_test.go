package reconcile

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time (user + system) the process has used so far. The
// benchmarks report it per operation ("cpu-ms/op"), because the issue's
// target is CPU time and wall time on a shared machine says little.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU runs the benchmark loop body and reports CPU ms per op.
func reportCPU(b *testing.B, body func()) {
	start := cpuTime()
	n := 0
	for b.Loop() {
		body()
		n++
	}
	if n > 0 {
		b.ReportMetric(float64(cpuTime()-start)/float64(n)/1e6, "cpu-ms/op")
	}
}

// typicalApp is an SDK scheduler app as Cosmos renders it, with a
// DCOS_PACKAGE_DEFINITION label of the median size in the Universe (~8 KB)
// and a stamped release. seed varies the label bytes and the id.
func typicalApp(tb testing.TB, seed int) []byte {
	tb.Helper()
	rng := rand.New(rand.NewPCG(uint64(seed), 42))
	blob := make([]byte, 6*1024)
	for i := range blob {
		blob[i] = byte(rng.Uint32())
	}
	def := base64.StdEncoding.EncodeToString(blob)
	app := mutate(tb, readFixture(tb, "compare/sdk-scheduler.desired.json"),
		set("/id", fmt.Sprintf(`"/prod/kafka-%d"`, seed)),
		set("/labels/DCOS_PACKAGE_DEFINITION", `"`+def+`"`),
		set("/labels/DCOS_PACKAGE_OPTIONS", `"eyJzZXJ2aWNlIjp7Im5hbWUiOiJwcm9kL2thZmthIn19"`),
		set("/labels/DCOS_PACKAGE_SOURCE", `"https://universe.example.com/repo"`),
		set("/labels/DCOS_PACKAGE_NAME", `"kafka"`),
		set("/labels/DCOS_PACKAGE_VERSION", `"2.9.0-2.4.0"`),
		del("/labels/UNIVERSE_OPERATOR_RELEASE"), del("/labels/UNIVERSE_OPERATOR_HASH"))
	out, _, err := Stamp(app, fmt.Sprintf("kafka-%d", seed))
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// answer is Marathon's answer for app with status and one embedded task.
func answer(tb testing.TB, app []byte) []byte {
	tb.Helper()
	view, err := MarathonView(app)
	if err != nil {
		tb.Fatal(err)
	}
	s := strings.TrimSuffix(string(view), "}")
	return []byte(s + `,"version":"2024-05-02T10:11:12.345Z","versionInfo":{"lastScalingAt":"2024-05-02T10:11:12.345Z","lastConfigChangeAt":"2024-05-02T10:11:12.345Z"},` +
		`"tasksStaged":0,"tasksRunning":1,"tasksHealthy":1,"tasksUnhealthy":0,"deployments":[],` +
		`"tasks":[{"appId":"/x","healthCheckResults":[{"alive":true,"consecutiveFailures":0,"instanceId":"x.marathon-1"}],"host":"10.0.1.5",` +
		`"id":"x.instance-1._app.1","ports":[23456],"servicePorts":[10000],"slaveId":"S3","state":"TASK_RUNNING","stagedAt":"2024-05-02T10:11:13.100Z",` +
		`"startedAt":"2024-05-02T10:11:20.500Z","version":"2024-05-02T10:11:12.345Z","role":"*"}]}`)
}

func BenchmarkCompare(b *testing.B) {
	d := typicalApp(b, 1)
	a := answer(b, d)
	if Compare(d, a).Drifted() {
		b.Fatal("typical app drifts")
	}
	b.SetBytes(int64(len(d) + len(a)))
	b.ReportAllocs()
	reportCPU(b, func() {
		if Compare(d, a).Drifted() {
			b.Fatal("drift")
		}
	})
}

func BenchmarkStamp(b *testing.B) {
	d := typicalApp(b, 1)
	b.SetBytes(int64(len(d)))
	b.ReportAllocs()
	reportCPU(b, func() {
		if _, _, err := Stamp(d, "kafka-prod"); err != nil {
			b.Fatal(err)
		}
	})
}

func BenchmarkStatus(b *testing.B) {
	a := answer(b, typicalApp(b, 1))
	b.ReportAllocs()
	reportCPU(b, func() {
		if s, err := Status(a, nil, nil, t0); err != nil || s.Health != HealthHealthy {
			b.Fatal(s, err)
		}
	})
}

// fleet builds n releases in sync with Marathon: desired, and Marathon's
// raw answers.
func fleet(b *testing.B, n int) ([]Desired, [][]byte) {
	b.Helper()
	desired := make([]Desired, n)
	raw := make([][]byte, n)
	for i := range n {
		app := typicalApp(b, i)
		h := HashLabel(app)
		desired[i] = Desired{Release: fmt.Sprintf("kafka-%d", i), AppID: fmt.Sprintf("/prod/kafka-%d", i), App: app, Hash: h}
		raw[i] = answer(b, app)
	}
	return desired, raw
}

// BenchmarkPlan2000 is Plan alone over 2,000 releases with nothing to do
// and no memo: every app is compared field by field (a controller's first
// pass, or `universe-operator diff`).
func BenchmarkPlan2000(b *testing.B) {
	desired, raw := fleet(b, 2000)
	actual := readAll(b, raw)
	opts := Options{Prune: PruneOptions{Enabled: true, SourcesHealthy: true}}
	b.ReportAllocs()
	reportCPU(b, func() {
		res := Plan(desired, actual, opts)
		if len(res.Actions) != 2000 || res.Actions[0].Kind != ActionNothing {
			b.Fatalf("unexpected plan: %d actions, first %s", len(res.Actions), res.Actions[0].Kind)
		}
	})
}

func readAll(b *testing.B, raw [][]byte) []Actual {
	actual := make([]Actual, len(raw))
	for i, r := range raw {
		var err error
		if actual[i], err = NewActual(r); err != nil {
			b.Fatal(err)
		}
	}
	return actual
}

func bytesJoin(raw [][]byte) []byte {
	var out []byte
	for i, r := range raw {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, r...)
	}
	return out
}

// BenchmarkPass2000 is this package's whole share of a steady-state pass
// with nothing to do over 2,000 releases: read the GET /v2/apps body
// (ParseApps, ~30 MB), plan with the previous pass's verdicts, and compute
// every status.
func BenchmarkPass2000(b *testing.B) { benchPass(b, true) }

// BenchmarkPass2000Cold is the same pass without verdicts (after a restart).
func BenchmarkPass2000Cold(b *testing.B) { benchPass(b, false) }

func benchPass(b *testing.B, memo bool) {
	desired, raw := fleet(b, 2000)
	opts := Options{Prune: PruneOptions{Enabled: true, SourcesHealthy: true}}
	if memo {
		opts.InSync = Plan(desired, readAll(b, raw), opts).InSync
		if len(opts.InSync) != 2000 {
			b.Fatalf("verdicts: %d", len(opts.InSync))
		}
	}
	b.ReportAllocs()
	body := []byte(`{"apps":[` + string(bytesJoin(raw)) + `]}`)
	b.SetBytes(int64(len(body)))
	reportCPU(b, func() {
		actual, err := ParseApps(body)
		if err != nil {
			b.Fatal(err)
		}
		res := Plan(desired, actual, opts)
		for _, act := range res.Actions {
			if act.Kind != ActionNothing {
				b.Fatalf("planned %s", act.Kind)
			}
		}
		for i := range actual {
			if _, err := actual[i].Status(nil, nil, t0); err != nil {
				b.Fatal(err)
			}
		}
	})
}
