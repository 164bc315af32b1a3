package controller_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/api"
	"github.com/universe-operator/universe-operator/clients/marathon"
	"github.com/universe-operator/universe-operator/clients/mesos"
	"github.com/universe-operator/universe-operator/clients/sdk"
	"github.com/universe-operator/universe-operator/controller"
	"github.com/universe-operator/universe-operator/sim"
	simmesos "github.com/universe-operator/universe-operator/sim/mesos"
	"github.com/universe-operator/universe-operator/state"
	"github.com/universe-operator/universe-operator/uninstall"
)

// cleanupUninstaller builds, for each controller the harness starts, the
// uninstaller of issue 7 on the harness's simulator, its records in dir.
func cleanupUninstaller(t *testing.T, dir string) func(controller.Uninstaller) controller.Uninstaller {
	return func(def controller.Uninstaller) controller.Uninstaller {
		mc := def.(controller.DeleteUninstaller).Marathon.(*marathon.Client)
		base := strings.TrimSuffix(mc.CurrentURL(), "/service/marathon")
		mes, err := mesos.New(mesos.Options{URL: base + "/mesos", Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		sc, err := sdk.New(sdk.Options{URL: base, Timeout: 5 * time.Second, NotFoundRetryAfter: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		store, err := state.OpenFile(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = store.Close() })
		cu := &controller.CleanupUninstaller{ShowFor: time.Minute}
		m, err := uninstall.New(uninstall.Options{Marathon: mc, Mesos: mes, SDK: sc, Store: store,
			ID: "controller", PollInterval: 100 * time.Millisecond, Logger: testLogger(t), OnEvent: cu.OnEvent})
		if err != nil {
			t.Fatal(err)
		}
		cu.Manager = m
		return cu
	}
}

// The controller deletes an SDK release removed from Git through Cosmos's
// uninstall and the janitor: diff shows the steps first; a controller
// killed in the middle finishes after its restart (one SDK_UNINSTALL PUT);
// the release declared again waits for the cleanup; the finished cleanup
// is shown with its postUninstallNotes and events.
func TestCleanupUninstallerEndToEnd(t *testing.T) {
	so := sim.FastOptions()
	so.SDK.UninstallStepDuration = 500 * time.Millisecond // an uninstall plan of about 4 s
	h := newHarness(t, harnessOptions{prune: true, simOpts: &so, uninstaller: cleanupUninstaller(t, t.TempDir())})
	pp := manifestYAML("pp", "pingpong-framework", "", `{service: {name: pp}}`)
	h.commitReleases(map[string]string{"pp": pp, "keep": manifestYAML("keep", "webapp", "", `{app: {id: /keep}}`)})
	h.eventually("pp deployed", func() (bool, string) {
		sc := h.sim.SDK.Scheduler("pp")
		if sc == nil {
			return false, "no scheduler"
		}
		p, _ := sc.Plan("deploy")
		r, _ := h.release("pp")
		return p.Status == "COMPLETE" && len(h.sim.Mesos.Volumes("pp-role")) > 0 && r.Sync == api.SyncSynced, p.Status + " " + brief(r)
	})

	// diff, before anything happens.
	h.stop()
	h.commitReleases(map[string]string{"pp": ""})
	c, store := h.build(nil)
	rep, err := c.Diff(context.Background())
	store.Close()
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, it := range rep.Items {
		if it.Release == "pp" && it.Action == "delete" {
			steps = it.Cleanup
		}
	}
	want := []string{"sdk-uninstall: PUT /v2/apps/pp?force=true with env SDK_UNINSTALL=true",
		"sdk-uninstall-plan: wait until no deployment is in flight and GET /service/pp/v1/plans/deploy answers 200",
		"delete-app: DELETE /v2/apps/pp", "destroy-volumes: DESTROY_VOLUMES of every persistent volume reserved to role pp-role",
		"unreserve: UNRESERVE_RESOURCES of everything reserved to role pp-role (principal pp-principal)",
		"delete-znode: delete ZooKeeper node /dcos-service-pp"}
	if len(steps) != len(want) {
		t.Fatalf("diff cleanup steps: %q", steps)
	}
	for i := range want {
		if !strings.HasPrefix(steps[i], want[i]) {
			t.Errorf("diff step %d: %q, want prefix %q", i, steps[i], want[i])
		}
	}

	// The uninstall starts; the controller is killed while the scheduler
	// runs its uninstall plan, and comes back.
	h.start()
	h.eventually("uninstall plan running", func() (bool, string) {
		sc := h.sim.SDK.Scheduler("pp")
		r, _ := h.release("pp")
		return sc != nil && sc.Uninstalling(), brief(r)
	})
	h.stop()
	h.start()

	// Declared again meanwhile: it waits for the cleanup.
	h.commitReleases(map[string]string{"pp": pp})
	h.eventually("the re-added release waits", func() (bool, string) {
		r, _ := h.release("pp")
		return strings.Contains(r.SyncReason, "previous uninstall"), brief(r)
	})
	h.eventually("cleaned and deployed again", func() (bool, string) {
		r, _ := h.release("pp")
		sc := h.sim.SDK.Scheduler("pp")
		return r.Sync == api.SyncSynced && sc != nil && !sc.Uninstalling(), brief(r)
	})
	w := h.writes("/pp")
	if w.puts != 1 || w.deletes != 1 {
		t.Errorf("writes on /pp: %+v, want 1 SDK_UNINSTALL PUT, 1 DELETE", w)
	}
	// The new app was created only after the old one was deleted.
	var deleted, created time.Time
	for _, rq := range h.sim.Marathon.RequestLog() {
		switch {
		case rq.ClientID == "controller" && rq.Method == "DELETE" && rq.Path == "/v2/apps/pp" && rq.Status < 300:
			deleted = rq.Time
		case rq.ClientID == "controller" && rq.Method == "POST" && rq.Path == "/v2/apps" && rq.Status < 300 && !deleted.IsZero():
			created = rq.Time
		}
	}
	if deleted.IsZero() || created.IsZero() {
		t.Errorf("no delete then create in the log (%v, %v)", deleted, created)
	}
	r, _ := h.release("pp")
	var reasons []string
	for _, ev := range r.Events {
		reasons = append(reasons, ev.Reason)
	}
	for _, want := range []string{"UninstallStep", "UninstallComplete", "PostUninstallNotes"} { // UninstallStarted was before the restart
		if !slices.Contains(reasons, want) {
			t.Errorf("no %s event: %v", want, reasons)
		}
	}

	// Removed for good: the finished cleanup is shown with the notes.
	h.commitReleases(map[string]string{"pp": ""})
	var got api.Release
	h.eventually("uninstalled and shown", func() (bool, string) {
		r, ok := h.release("pp")
		got = r
		return ok && r.Cleanup != nil && r.Cleanup.State == uninstall.StateComplete, brief(r)
	})
	notes := "The pingpong framework was torn down; its reserved resources and ZooKeeper node are cleaned by the scheduler's uninstall plan."
	if got.Notes.PostUninstall != notes || got.Cleanup.PostUninstallNotes != notes || got.Sync != api.SyncDeleting ||
		got.Cleanup.Package != "pingpong-framework" || got.AppID != "/pp" {
		t.Errorf("shown: %+v / %+v", got, got.Cleanup)
	}
	if h.app("/pp") != nil || len(h.sim.Mesos.FrameworksByName("pp")) > 0 ||
		len(h.sim.Mesos.Reservations("pp-role")) > 0 || len(h.sim.Mesos.Volumes("pp-role")) > 0 {
		t.Error("the service is not clean")
	}
	if _, ok, _ := h.sim.ZooKeeper.Get("/dcos-service-pp"); ok {
		t.Error("znode left")
	}
	if _, ok := h.release("keep"); !ok {
		t.Error("the other release is gone")
	}
}

// A Failed uninstall (several frameworks of the name) holds the release
// with a permanent error naming them; a manual sync after the operator
// fixed it runs it again.
func TestCleanupUninstallerFailedAndRetried(t *testing.T) {
	so := sim.FastOptions()
	h := newHarness(t, harnessOptions{prune: true, simOpts: &so, uninstaller: cleanupUninstaller(t, t.TempDir())})
	h.commitReleases(map[string]string{"fw": manifestYAML("fw", "webapp", "", `{app: {id: /fw}}`, "cleanup: {janitor: true}"),
		"keep": manifestYAML("keep", "webapp", "", `{app: {id: /keep}}`)})
	h.waitSynced("fw", api.HealthHealthy)
	// Two frameworks named like the app's service name (DCOS_SERVICE_NAME
	// /fw, no framework label: the janitor acts on the service name).
	info := simmesos.FrameworkInfo{Name: "fw", Role: "fw-role", Principal: "fw-principal"}
	a, b := h.sim.Mesos.RegisterFramework(info), h.sim.Mesos.RegisterFramework(info)
	for _, f := range []string{a.ID, b.ID} {
		if err := h.sim.Mesos.DeactivateFramework(f); err != nil { // their schedulers are gone
			t.Fatal(err)
		}
	}
	h.commitReleases(map[string]string{"fw": ""})
	h.eventually("failed, named", func() (bool, string) {
		r, _ := h.release("fw")
		return r.LastError != nil && r.LastError.Class == "permanent" && strings.Contains(r.LastError.Message, a.ID) &&
			strings.Contains(r.LastError.Message, b.ID) && r.Cleanup != nil && r.Cleanup.State == uninstall.StateFailed, brief(r)
	})
	if h.app("/fw") != nil {
		t.Error("app not deleted")
	}
	if len(h.sim.Mesos.FrameworksByName("fw")) != 2 {
		t.Error("something was torn down")
	}
	_ = h.sim.Mesos.Teardown(b.ID)
	_ = h.sim.Mesos.Teardown(a.ID)
	if !h.ctl().Sync("fw") {
		t.Fatal("sync refused")
	}
	h.eventually("retried and complete", func() (bool, string) {
		r, ok := h.release("fw")
		return ok && r.Cleanup != nil && r.Cleanup.State == uninstall.StateComplete && r.LastError == nil, brief(r)
	})
}
