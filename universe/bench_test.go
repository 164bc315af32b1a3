package universe

import (
	"testing"

	"github.com/universe-operator/universe-operator/internal/testenv"
)

// BenchmarkLoadUniverse loads the whole real Universe from its directory
// (target: under 0.5 s per load on the 2-core machine).
func BenchmarkLoadUniverse(b *testing.B) {
	dir := testenv.UniversePackages(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		repo, problems := LoadDir(dir)
		if len(problems) > 0 || repo.Len() != 1235 {
			b.Fatalf("%d revisions, %v", repo.Len(), problems)
		}
	}
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
	for i := 0; i < b.N; i++ {
		back, problems := LoadServed(doc)
		if len(problems) > 0 || back.Len() != 1235 {
			b.Fatalf("%d revisions, %v", back.Len(), problems)
		}
	}
}
