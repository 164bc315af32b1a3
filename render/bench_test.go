package render

import (
	"syscall"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/universe"
)

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds a cpu-ms/op metric (user+system CPU time of the process
// per operation): a steadier figure than wall time on a shared machine.
func reportCPU(b *testing.B, start time.Duration) {
	if b.N > 0 {
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N)/1e6, "cpu-ms/op")
	}
}

// resetCaches forgets compiled schemas and templates, as a new process
// would.
func resetCaches() {
	for _, c := range []*contentCache{&configCache, &templateCache, &schemaCache} {
		c.m.Range(func(k, _ any) bool { c.m.Delete(k); return true })
		c.n.Store(0)
	}
	regexps.Clear()
	regexpCount.Store(0)
}

// BenchmarkRenderOne renders one typical package (the newest kafka: an SDK
// service with a 30 KB config.json) with default options, warm caches:
// what the controller pays per reconcile of an unchanged release.
func BenchmarkRenderOne(b *testing.B) {
	repo := loadSharedUniverse(b)
	pkg := repo.Latest("kafka")
	if _, err := Render(pkg, nil, Params{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Render(pkg, nil, Params{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderOneCold is BenchmarkRenderOne with nothing cached: the
// schema compiled, the template parsed and the definition label built again.
func BenchmarkRenderOneCold(b *testing.B) {
	dir := loadSharedUniverse(b).Latest("kafka").Location
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		resetCaches()
		repo, _ := universe.LoadDir(dir + "/../../..")
		pkg := repo.Latest("kafka")
		b.StartTimer()
		if _, err := Render(pkg, nil, Params{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderAll is `render --all` of the whole real Universe without
// the file writes, from a cold start: load, defaults, validation (schemas
// compiled), rendering, output checks and labels, on GOMAXPROCS workers
// (target: under 1 s wall on the 2-core machine).
func BenchmarkRenderAll(b *testing.B) {
	dir := loadSharedUniverse(b).Latest("kafka").Location + "/../../.."
	b.ReportAllocs()
	cpu := cpuTime()
	for i := 0; i < b.N; i++ {
		resetCaches()
		repo, problems := universe.LoadDir(dir)
		if len(problems) > 0 {
			b.Fatal(problems)
		}
		jobs := make([]Job, 0, repo.Len())
		for _, p := range repo.Packages() {
			if p.HasTemplate() {
				jobs = append(jobs, Job{Package: p})
			}
		}
		rendered := 0
		for _, o := range RenderMany(jobs, 0) {
			if o.Err == nil {
				rendered++
			}
		}
		if rendered != 1040 {
			b.Fatalf("rendered %d", rendered)
		}
	}
	reportCPU(b, cpu)
}
