package universe

import (
	"syscall"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/internal/testenv"
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

// BenchmarkLoadUniverse loads the whole real Universe from its directory
// (target: under 0.5 s per load on the 2-core machine).
func BenchmarkLoadUniverse(b *testing.B) {
	dir := testenv.UniversePackages(b)
	b.ReportAllocs()
	cpu := cpuTime()
	for i := 0; i < b.N; i++ {
		repo, problems := LoadDir(dir)
		if len(problems) > 0 || repo.Len() != 1235 {
			b.Fatalf("%d revisions, %v", repo.Len(), problems)
		}
	}
	reportCPU(b, cpu)
}

// BenchmarkLoadServed loads the whole real Universe from its served JSON
// form (about 30 MB).
func BenchmarkLoadServed(b *testing.B) {
	dir := testenv.UniversePackages(b)
	repo, _ := LoadDir(dir)
	t := &testing.T{}
	doc := servedFrom(t, repo.Packages())
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for i := 0; i < b.N; i++ {
		back, problems := LoadServed(doc)
		if len(problems) > 0 || back.Len() != 1235 {
			b.Fatalf("%d revisions, %v", back.Len(), problems)
		}
	}
	reportCPU(b, cpu)
}
