package source

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/config"
	"github.com/universe-operator/universe-operator/internal/testenv"
	"github.com/universe-operator/universe-operator/universe"
)

// copyTree copies a directory tree (regular files only).
func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRealUniverseFromGit serves the real Universe (../shared) from a
// loopback Git server and checks that loading it through Git (the object
// store, no checkout) gives exactly what loading the directory gives.
func TestRealUniverseFromGit(t *testing.T) {
	if testing.Short() {
		t.Skip("copies the whole Universe into a Git repository")
	}
	pkgs := testenv.UniversePackages(t)
	want, problems := universe.LoadDir(pkgs)
	if want == nil {
		t.Fatalf("load dir: %v", problems)
	}
	rs := testenv.NewGitRepos(t)
	repo := rs.Create("universe")
	copyTree(t, pkgs, filepath.Join(repo.Work, "repo", "packages"))
	repo.Commit("the real universe")
	srv := testenv.StartGitHTTP(t, rs, nil)
	unis, err := NewUniverses([]config.UniverseSource{{Name: "universe",
		Git: &config.GitSource{URL: srv.URL("universe"), Ref: "main", Path: "repo/packages"}}}, Options{Git: newGitB(t)})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	unis.Refresh(context.Background())
	cold := time.Since(start)
	s := unis.Snapshots()[0]
	if !s.Healthy {
		t.Fatal(s.Err)
	}
	got := s.Repository
	if got.Len() != want.Len() || len(got.Names()) != len(want.Names()) || len(s.Problems) != len(problems) {
		t.Fatalf("git load: %d revisions of %d packages (%d problems), dir load: %d of %d (%d problems)",
			got.Len(), len(got.Names()), len(s.Problems), want.Len(), len(want.Names()), len(problems))
	}
	for _, name := range want.Names() {
		w, g := want.Latest(name), got.Latest(name)
		if g == nil || g.Version != w.Version || string(g.Template) != string(w.Template) || string(g.Config) != string(w.Config) {
			t.Fatalf("%s differs between the git and the directory load", name)
		}
	}
	srv.ResetStats()
	start = time.Now()
	if unis.Refresh(context.Background()) {
		t.Fatal("unchanged universe reloaded")
	}
	t.Logf("real Universe (%d revisions) over loopback git: first load %s, no-op re-check %s, %+v",
		got.Len(), cold, time.Since(start), srv.Stats())
}
