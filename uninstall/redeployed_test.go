package uninstall

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/universe-operator/universe-operator/api"
	"github.com/universe-operator/universe-operator/reconcile"
	"github.com/universe-operator/universe-operator/sim/fault"
)

// downZK is a ZooKeeper that is down until told otherwise and records the
// nodes it deleted.
type downZK struct {
	mu      sync.Mutex
	down    bool
	deleted []string
}

func (z *downZK) DeleteRecursive(_ context.Context, p string) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.down {
		return errors.New("zookeeper: connection refused (injected)")
	}
	z.deleted = append(z.deleted, p)
	return nil
}

// The service's ZooKeeper node is checked right before it is deleted: when
// the release's app was deployed again while the step waited (ZooKeeper
// down), the node is the new scheduler's live state and stays.
func TestZNodeOfARedeployedServiceStays(t *testing.T) {
	e := newEnv(t, envOptions{})
	app := renderApp(t, "fw-test", `{"framework":{"name":"redo"}}`, "redo")
	s := e.deploy(app)
	z := &downZK{down: true}
	m := e.manager("r", nil, func(o *Options) { o.ZooKeeper = z })
	ctx := context.Background()
	if err := m.Start(ctx, Request{Release: "redo", AppID: s.AppID, App: app}); err != nil {
		t.Fatal(err)
	}
	c := advanceUntil(t, m, "redo", func(c api.Cleanup) bool { return c.State == StateIncomplete })
	if !stepIs(&record{Cleanup: c}, StepDeleteZNode, StepPending) && !stepIs(&record{Cleanup: c}, StepDeleteZNode, StepRunning) {
		t.Fatalf("ZooKeeper down: %s", stepStates(c))
	}
	// Deployed again at the same id; its scheduler registers.
	eventually(t, "the app deployed again", func() (bool, string) {
		_, err := e.mar.CreateApp(ctx, app)
		return err == nil, fmt.Sprint(err)
	})
	eventually(t, "its framework registered", func() (bool, string) {
		a, err := e.mar.GetApp(ctx, s.AppID)
		return err == nil && len(a.Deployments) == 0 && len(e.sim.Mesos.FrameworksByName("redo")) == 1, fmt.Sprint(err)
	})
	z.mu.Lock()
	z.down = false
	z.mu.Unlock()
	c, err := drive(t, m, "redo")
	z.mu.Lock()
	defer z.mu.Unlock()
	if len(z.deleted) != 0 {
		t.Fatalf("deleted %v while the service runs again; steps %s, err %v", z.deleted, stepStates(c), err)
	}
	if err != nil || c.State != StateComplete || !stepIs(&record{Cleanup: c}, StepDeleteZNode, StepSkipped) {
		t.Fatalf("want Complete with delete-znode skipped: %s %s %v", c.State, stepStates(c), err)
	}
}

// An app of someone else at the release's id (no ownership label) may run
// the same service: the remaining steps fail for a human, nothing of the
// name is cleaned.
func TestForeignAppAtTheIDStopsTheJanitor(t *testing.T) {
	e := newEnv(t, envOptions{})
	app := renderApp(t, "fw-test", `{"framework":{"name":"other"}}`, "other")
	s := e.deploy(app)
	z := &downZK{down: true}
	m := e.manager("r", nil, func(o *Options) { o.ZooKeeper = z })
	ctx := context.Background()
	if err := m.Start(ctx, Request{Release: "other", AppID: s.AppID, App: app}); err != nil {
		t.Fatal(err)
	}
	advanceUntil(t, m, "other", func(c api.Cleanup) bool { return c.State == StateIncomplete })
	var def map[string]any
	if err := json.Unmarshal(app, &def); err != nil {
		t.Fatal(err)
	}
	delete(def["labels"].(map[string]any), reconcile.LabelRelease)
	foreign, _ := json.Marshal(def)
	eventually(t, "a foreign app at the id", func() (bool, string) {
		_, err := e.mar.CreateApp(ctx, foreign)
		return err == nil, fmt.Sprint(err)
	})
	z.mu.Lock()
	z.down = false
	z.mu.Unlock()
	c, err := drive(t, m, "other")
	z.mu.Lock()
	defer z.mu.Unlock()
	if len(z.deleted) != 0 || !errors.Is(err, ErrNameInUse) || c.State != StateFailed {
		t.Fatalf("deleted %v; %s %s %v", z.deleted, c.State, stepStates(c), err)
	}
}

// Busy is true for every release until the store was listed (at start,
// and again after Resync: another replica may have recorded uninstalls),
// then only for the releases an uninstall holds.
func TestBusyUntilListed(t *testing.T) {
	e := newEnv(t, envOptions{})
	app := renderApp(t, "fw-test", `{"framework":{"name":"held"}}`, "held")
	s := e.deploy(app)
	other := e.manager("other", nil) // both on the env's store
	ctx := context.Background()
	if err := other.Start(ctx, Request{Release: "held", AppID: s.AppID, App: app}); err != nil {
		t.Fatal(err)
	}
	m := e.manager("m", nil)
	if !m.Busy("held") || !m.Busy("free") {
		t.Fatal("not listed yet: every release must count as busy")
	}
	if _, err := m.Pending(ctx); err != nil {
		t.Fatal(err)
	}
	if !m.Busy("held") || m.Busy("free") {
		t.Fatalf("listed: held %t, free %t", m.Busy("held"), m.Busy("free"))
	}
	m.Resync()
	if !m.Busy("free") {
		t.Fatal("after Resync: every release must count as busy until listed again")
	}
}

// An uninstall recorded but deleted from the store before it started (a
// listing expiring the finished record it replaced) is not taken as done:
// Advance says so, and recording it again goes on as usual.
func TestRecordVanishedBeforeStart(t *testing.T) {
	e := newEnv(t, envOptions{})
	app := renderApp(t, "fw-test", `{"framework":{"name":"gone"}}`, "gone")
	s := e.deploy(app)
	m := e.manager("m", nil)
	ctx := context.Background()
	req := Request{Release: "gone", AppID: s.AppID, App: app}
	if err := m.Start(ctx, req); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Delete(ctx, m.opts.Kind, "gone"); err != nil {
		t.Fatal(err)
	}
	if _, done, err := m.Advance(ctx, "gone"); done || !errors.Is(err, ErrIncomplete) {
		t.Fatalf("advance of a vanished record: done %t, %v", done, err)
	}
	if err := m.Start(ctx, req); err != nil {
		t.Fatal(err)
	}
	if c, err := drive(t, m, "gone"); err != nil || c.State != StateComplete {
		t.Fatalf("%s %s %v", c.State, stepStates(c), err)
	}
	if _, err := e.mar.GetApp(ctx, s.AppID); err == nil {
		t.Fatal("the app is still there")
	}
}

// Marathon refusing the app with SDK_UNINSTALL=true (422) does not change
// by retrying: the uninstall is Failed for a human (not Incomplete for
// ever), and the app is left as it is.
func TestSDKUninstallRefusedIsFailed(t *testing.T) {
	e := newEnv(t, envOptions{})
	app := renderApp(t, "sdk-test", `{"service":{"name":"refused"}}`, "refused")
	s := e.deploy(app)
	e.sim.Marathon.Faults().Add(fault.Rule{Method: "PUT", Path: "/v2/apps", Status: 422,
		Body: `{"message":"Object is not valid","details":[{"path":"/env","errors":["injected"]}]}`})
	m := e.manager("m", nil)
	ctx := context.Background()
	if err := m.Start(ctx, Request{Release: "refused", AppID: s.AppID, App: app}); err != nil {
		t.Fatal(err)
	}
	c, err := drive(t, m, "refused")
	if c.State != StateFailed || !stepIs(&record{Cleanup: c}, StepSDKUninstall, StepFailed) || err == nil {
		t.Fatalf("%s %s %v", c.State, stepStates(c), err)
	}
	if _, err := e.mar.GetApp(ctx, s.AppID); err != nil {
		t.Fatalf("the app: %v", err)
	}
}
