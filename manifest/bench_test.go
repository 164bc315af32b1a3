package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds a cpu-ms/op metric: CPU time is a steadier figure than
// wall time on a machine shared with other work.
func reportCPU(b *testing.B, start time.Duration, n int) {
	if n > 0 {
		b.ReportMetric(float64(cpuTime()-start)/float64(n)/1e6, "cpu-ms/op")
	}
}

// realistic is a manifest of typical size (about 600 bytes).
func realistic(i int) string {
	return fmt.Sprintf(`apiVersion: universe-operator/v1
kind: PackageRelease
metadata:
  name: release-%05d
spec:
  package: webapp
  version: ">=1.0 <2"
  universe: universe
  appId: /team-%02d/webapp-%05d
  options:
    service:
      name: team-%02d/webapp-%05d
      instances: %d
      ports: [8080, 8443]
  optionsFile: options/team-%02d.json
  progressDeadline: 5m
  dependsOn: [release-%05d]
  cleanup: {janitor: false}
`, i, i%20, i, i%20, i, i%3+1, i%20, (i+1)%2000)
}

// writeReleases writes n manifests and their options files into a directory.
func writeReleases(b testing.TB, n int) string {
	dir := b.(interface{ TempDir() string }).TempDir()
	for i := range 20 {
		p := filepath.Join(dir, "options", fmt.Sprintf("team-%02d.json", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(`{"service": {"instances": 1, "name": "x"}, "extra": {"a": [1, 2, 3]}}`), 0o644)
	}
	for i := range n {
		p := filepath.Join(dir, "releases", fmt.Sprintf("team-%02d", i%20), fmt.Sprintf("release-%05d.yaml", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(realistic(i)), 0o644)
	}
	return dir
}

// BenchmarkLoad2000 loads 2,000 manifests (each with inline options and an
// options file) from a directory. Target: under 300 ms per load.
func BenchmarkLoad2000(b *testing.B) {
	dir := writeReleases(b, 2000)
	b.ReportAllocs()
	n, cpu := 0, cpuTime()
	for b.Loop() {
		n++
		set, err := LoadDir(dir, "releases")
		if err != nil {
			b.Fatal(err)
		}
		if n := len(set.Releases()); n != 2000 {
			b.Fatalf("%d valid releases: %v", n, set.Problems()[:1])
		}
	}
	reportCPU(b, cpu, n)
}

// BenchmarkParse is one manifest.
func BenchmarkParse(b *testing.B) {
	data := []byte(realistic(1))
	b.ReportAllocs()
	for b.Loop() {
		if _, ps := Parse("r.yaml", data); len(ps) > 0 {
			b.Fatal(ps)
		}
	}
}

func TestRealisticManifestIsValid(t *testing.T) {
	r, ps := Parse("r.yaml", []byte(realistic(7)))
	if len(ps) > 0 || !strings.Contains(string(r.Options), `"ports":[8080,8443]`) {
		t.Fatalf("%v %s", ps, r.Options)
	}
}

// BenchmarkReload2000OneChanged reloads 2,000 manifests with a Cache after
// one file changed (what a commit touching one release costs).
func BenchmarkReload2000OneChanged(b *testing.B) {
	dir := writeReleases(b, 2000)
	root, err := os.OpenRoot(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer root.Close()
	var cache Cache
	if _, err := Load(LoadOptions{FS: root.FS(), Path: "releases", Cache: &cache}); err != nil {
		b.Fatal(err)
	}
	file := filepath.Join(dir, "releases", "team-07", "release-00007.yaml")
	i := 0
	for b.Loop() {
		i++
		b.StopTimer()
		os.WriteFile(file, []byte(realistic(7)+fmt.Sprintf("  # change %d\n", i)), 0o644)
		b.StartTimer()
		set, err := Load(LoadOptions{FS: root.FS(), Path: "releases", Cache: &cache})
		if err != nil || len(set.Releases()) != 2000 || cache.Hits() != 1999 {
			b.Fatalf("%v %d hits", err, cache.Hits())
		}
	}
}
