package source

import (
	"context"
	"fmt"
	"testing"

	"github.com/universe-operator/universe-operator/config"
	"github.com/universe-operator/universe-operator/internal/testenv"
)

// BenchmarkNoopRefresh re-checks an unchanged Git release source of 2,000
// manifests over loopback smart HTTP: one ref advertisement, no pack, no
// parsing. Target: under 50 ms.
func BenchmarkNoopRefresh(b *testing.B) {
	rs := testenv.NewGitRepos(b)
	repo := rs.Create("r")
	files := map[string]string{}
	for i := range 2000 {
		files[fmt.Sprintf("releases/r%04d.yaml", i)] = release(fmt.Sprintf("r%04d", i), "webapp")
	}
	repo.WriteFiles(files)
	repo.Commit("2000 releases")
	srv := testenv.StartGitHTTP(b, rs, nil)
	rels, err := NewReleases(config.ReleaseSource{Git: &config.GitSource{URL: srv.URL("r"), Ref: "main", Path: "releases"}},
		Options{Git: newGitB(b)})
	if err != nil {
		b.Fatal(err)
	}
	if changed, err := rels.Refresh(context.Background()); err != nil || !changed {
		b.Fatal(err)
	}
	srv.ResetStats()
	for b.Loop() {
		if changed, err := rels.Refresh(context.Background()); err != nil || changed {
			b.Fatalf("changed=%v err=%v", changed, err)
		}
	}
	if st := srv.Stats(); st.UploadPacks != 0 {
		b.Fatalf("no-op refreshes fetched: %+v", st)
	}
}

// BenchmarkLoadNewCommit is a refresh after a commit that changes one of
// 2,000 manifests: ref listing, incremental fetch, reading the tree from
// the object store, parsing (cached for unchanged files).
func BenchmarkLoadNewCommit(b *testing.B) {
	rs := testenv.NewGitRepos(b)
	repo := rs.Create("r")
	files := map[string]string{}
	for i := range 2000 {
		files[fmt.Sprintf("releases/r%04d.yaml", i)] = release(fmt.Sprintf("r%04d", i), "webapp")
	}
	repo.WriteFiles(files)
	repo.Commit("2000 releases")
	srv := testenv.StartGitHTTP(b, rs, nil)
	rels, _ := NewReleases(config.ReleaseSource{Git: &config.GitSource{URL: srv.URL("r"), Ref: "main", Path: "releases"}},
		Options{Git: newGitB(b)})
	if _, err := rels.Refresh(context.Background()); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		b.StopTimer()
		i++
		repo.Write("releases/r0007.yaml", release("r0007", "webapp")+fmt.Sprintf("# %d\n", i))
		repo.Commit("change")
		b.StartTimer()
		if changed, err := rels.Refresh(context.Background()); err != nil || !changed {
			b.Fatalf("changed=%v err=%v", changed, err)
		}
	}
}
