package uninstall

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/universe-operator/universe-operator/reconcile"
	"github.com/universe-operator/universe-operator/render"
	"github.com/universe-operator/universe-operator/universe"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

var (
	repoOnce sync.Once
	repo     *universe.Repository
	repoErrs []error
)

// testRepo loads the small test universe under testdata/repo/packages.
func testRepo(t testing.TB) *universe.Repository {
	t.Helper()
	repoOnce.Do(func() {
		repo, repoErrs = universe.LoadDir(filepath.Join("testdata", "repo", "packages"),
			universe.WithName("uninstall-tests"), universe.WithSource("file://testdata/repo"))
	})
	if len(repoErrs) > 0 {
		t.Fatalf("loading the test universe: %v", repoErrs)
	}
	return repo
}

// renderApp renders a test package exactly as an install would post it
// and stamps the release's ownership label on it.
func renderApp(t testing.TB, pkg, options, release string) json.RawMessage {
	t.Helper()
	p := testRepo(t).Latest(pkg)
	if p == nil {
		t.Fatalf("no package %s in the test universe", pkg)
	}
	var opts json.RawMessage
	if options != "" {
		opts = json.RawMessage(options)
	}
	res, err := render.Render(p, opts, render.Params{})
	if err != nil {
		t.Fatalf("render %s: %v", pkg, err)
	}
	app, _, err := reconcile.Stamp(res.App, release)
	if err != nil {
		t.Fatalf("stamp %s: %v", pkg, err)
	}
	return app
}

// golden compares got with testdata/<name>, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if string(want) != string(got) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func boolp(b bool) *bool { return &b }
