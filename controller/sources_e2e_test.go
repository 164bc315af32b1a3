package controller_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/clients/git"
	"github.com/universe-operator/universe-operator/clients/marathon"
	"github.com/universe-operator/universe-operator/config"
	"github.com/universe-operator/universe-operator/controller"
	"github.com/universe-operator/universe-operator/examples"
	"github.com/universe-operator/universe-operator/source"
	"github.com/universe-operator/universe-operator/state"
)

// runWithPrimary runs a controller on the harness's cluster and repositories
// whose universe sources are [dir primary (first), the harness's Git
// universe]. It returns the controller and a stop function.
func runWithPrimary(h *harness, primary string) (*controller.Controller, func()) {
	t := h.t
	log := testLogger(t)
	gc, err := git.New(git.Options{CacheDir: h.cacheDir, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	sopts := source.Options{Git: gc, Logger: log}
	u, err := source.NewUniverses([]config.UniverseSource{{Name: "primary", Dir: primary},
		{Name: "universe", Git: &config.GitSource{URL: h.gitSrv.URL("universe"), Ref: "main", Path: "packages"}}}, sopts)
	if err != nil {
		t.Fatal(err)
	}
	r, err := source.NewReleases(config.ReleaseSource{Git: &config.GitSource{URL: h.gitSrv.URL("releases"), Ref: "main", Path: "releases"}}, sopts)
	if err != nil {
		t.Fatal(err)
	}
	mc, err := marathon.New(marathon.Options{URL: h.sim.URL + "/service/marathon", ClientID: "controller", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	store, err := state.OpenFile(h.stateDir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := controller.New(controller.Options{Marathon: mc, Sources: controller.NewSourceSet(u, r, log), Store: store, Logger: log,
		Workers: 4, Interval: 300 * time.Millisecond, Prune: true, PruneMaxFraction: 0.5,
		BackoffInitial: 50 * time.Millisecond, BackoffMax: 500 * time.Millisecond, RelistBackoffMax: 500 * time.Millisecond,
		WaitRecheck: 200 * time.Millisecond, EventDelay: 5 * time.Millisecond, WriteGrace: 3 * time.Second,
		UnknownWriteGrace: time.Second, RequestTimeout: 5 * time.Second, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); defer store.Close(); _ = c.Run(ctx) }()
	return c, func() { cancel(); <-done }
}

// A universe source that has not loaded yet (at start-up) holds back every
// release whose package it could provide: the controller does not rewrite
// an app from a lower-priority copy in the meantime, says why, and goes on
// once the source loads.
func TestUnloadedPrioritySourceHoldsWrites(t *testing.T) {
	h := newHarness(t, harnessOptions{prune: true})
	h.stop()
	primary := filepath.Join(t.TempDir(), "primary")
	if err := fs.WalkDir(examples.Packages(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(examples.Packages(), p)
		if err != nil {
			return err
		}
		dst := filepath.Join(primary, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	}); err != nil {
		t.Fatal(err)
	}
	h.commitReleases(map[string]string{"a": manifestYAML("a", "greeter", "", `{greeter: {name: /two/a}}`)})
	_, stop := runWithPrimary(h, primary)
	h.eventually("a created from the primary source", func() (bool, string) {
		a := h.app("/two/a")
		return a != nil && len(a.Deployments) == 0 && strings.HasPrefix(a.Labels["DCOS_PACKAGE_SOURCE"], "file://"), "not yet"
	})
	stop()
	before := h.app("/two/a")

	// Restarted while the primary source cannot be read.
	if err := os.Rename(primary, primary+".away"); err != nil {
		t.Fatal(err)
	}
	c, stop := runWithPrimary(h, primary)
	defer stop()
	h.eventually("the release says why it waits", func() (bool, string) {
		r, ok := c.Release("a")
		return ok && strings.Contains(r.SyncReason, "universe source primary has not loaded yet"), r.SyncReason
	})
	time.Sleep(time.Second) // several passes
	if a := h.app("/two/a"); a.Version != before.Version {
		t.Fatalf("rewritten from the lower-priority source while the primary had not loaded: %s", a.Labels["DCOS_PACKAGE_SOURCE"])
	}
	// The primary comes back: nothing to change, the release is Synced.
	if err := os.Rename(primary+".away", primary); err != nil {
		t.Fatal(err)
	}
	h.eventually("Synced once the primary loaded", func() (bool, string) {
		r, _ := c.Release("a")
		return r.Sync == "Synced", string(r.Sync) + " " + r.SyncReason
	})
	if a := h.app("/two/a"); a.Version != before.Version {
		t.Fatalf("rewritten after the primary loaded: %s", a.Labels["DCOS_PACKAGE_SOURCE"])
	}
}
