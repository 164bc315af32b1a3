package uninstall

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/internal/testenv"
	"github.com/universe-operator/universe-operator/state"
)

// crashCase is one uninstall path to kill at every point.
type crashCase struct {
	name string
	// app renders the app for a unique service name.
	app func(t testing.TB, name string) []byte
}

var crashCases = []crashCase{
	{"sdk", func(t testing.TB, n string) []byte {
		return renderApp(t, "sdk-test", fmt.Sprintf(`{"service":{"name":"team/%s"}}`, n), "rel")
	}},
	{"framework", func(t testing.TB, n string) []byte {
		return renderApp(t, "fw-test", fmt.Sprintf(`{"framework":{"name":%q}}`, n), "rel")
	}},
	{"app", func(t testing.TB, _ string) []byte { return renderApp(t, "web-test", "", "rel") }},
}

// TestKilledAtEveryPoint kills the Manager at every write of the record
// (the write fails after the step it records was carried out: "killed
// before recording"; or the context is cancelled right after the write
// succeeded: "killed after recording"), starts a new Manager on the same
// store, and checks that Pending finds the uninstall, that it completes
// with the cluster clean, and that nothing harmful was repeated (one
// SDK_UNINSTALL PUT, one TEARDOWN).
func TestKilledAtEveryPoint(t *testing.T) {
	if testing.Short() {
		t.Skip("long: kills the uninstall at every point of three paths")
	}
	zkSrv := testenv.StartZooKeeper(t)
	for _, cc := range crashCases {
		t.Run(cc.name, func(t *testing.T) {
			// A clean run tells how many writes there are to kill at.
			n := crashRun(t, zkSrv, cc, cc.name+"-ref", "", 0)
			if n < 3 {
				t.Fatalf("only %d writes in a clean run", n)
			}
			t.Logf("%s: %d record writes in a clean run", cc.name, n)
			for _, mode := range []string{"fail", "cancel"} {
				for k := 1; k <= n; k++ {
					name := fmt.Sprintf("%s-%s-%d", cc.name, mode, k)
					t.Run(name, func(t *testing.T) {
						t.Parallel()
						crashRun(t, zkSrv, cc, name, mode, k)
					})
				}
			}
		})
	}
}

// crashRun runs one uninstall, killing its Manager at write k (mode "" =
// never), finishes it with a new Manager and returns the number of writes
// the first Manager made.
func crashRun(t *testing.T, zkSrv *testenv.ZooKeeper, cc crashCase, name, mode string, k int) int {
	e := newEnv(t, envOptions{zk: zkSrv})
	app := cc.app(t, name)
	s := e.deploy(app)
	req := Request{Release: "rel", AppID: s.AppID, App: app}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs := &crashStore{Store: e.store, cancel: cancel}
	switch mode {
	case "fail":
		cs.failAt = k
	case "cancel":
		cs.cancelAfter = k
	}
	m1 := e.manager("replica", cs)
	if err := m1.Start(ctx, req); err == nil {
		deadline := time.Now().Add(30 * time.Second)
		for !cs.isDead() && time.Now().Before(deadline) {
			if _, done, _ := m1.Advance(ctx, "rel"); done {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	cs.mu.Lock()
	puts := cs.puts
	cs.mu.Unlock()

	// The controller comes back.
	m2 := e.manager("replica", nil)
	pending, err := m2.Pending(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(pending, "rel") {
		c, ok := m2.Get(context.Background(), "rel")
		switch {
		case !ok:
			// Killed before the uninstall was recorded: nothing may
			// have been touched; the controller starts it again.
			if _, err := e.mar.GetApp(context.Background(), s.AppID); err != nil {
				t.Fatalf("the app was touched before the uninstall was recorded: %v", err)
			}
			if e.marathonWrites("PUT", s.AppID)+e.marathonWrites("DELETE", s.AppID) != 0 {
				t.Fatal("Marathon written before the uninstall was recorded")
			}
			if err := m2.Start(context.Background(), req); err != nil {
				t.Fatal(err)
			}
		case c.State != StateComplete:
			t.Fatalf("not pending but %s", c.State)
		}
	} else if !m2.Busy("rel") {
		t.Error("pending but not Busy")
	}
	c, err := drive(t, m2, "rel")
	if err != nil || c.State != StateComplete {
		t.Fatalf("after the restart: %+v %v", c, err)
	}
	for _, st := range c.Steps {
		if st.State != StepDone {
			t.Errorf("step %s %s: %s", st.Name, st.State, st.Message)
		}
	}
	e.assertClean(s)
	if s.SDK {
		if n := e.marathonWrites("PUT", s.AppID); n != 1 {
			t.Errorf("%d SDK_UNINSTALL PUTs, want 1", n)
		}
	}
	if s.FrameworkName != "" && !s.SDK {
		if n := e.completed(s.FrameworkName); n != 1 {
			t.Errorf("%d TEARDOWNs of %s, want 1", n, s.FrameworkName)
		}
	}
	if strings.Contains(c.Reason, "Incomplete") {
		t.Errorf("reason %q", c.Reason)
	}
	return puts
}

// The same with the ZooKeeper state backend (what a controller with
// zookeeper: configured uses), killed in the middle of the SDK path.
func TestKilledWithZooKeeperStore(t *testing.T) {
	zkSrv := testenv.StartZooKeeper(t)
	e := newEnv(t, envOptions{zk: zkSrv})
	e.store = state.NewZooKeeper(e.zk.At("/universe-operator"))
	app := renderApp(t, "sdk-test", `{"service":{"name":"zk-store"}}`, "rel")
	s := e.deploy(app)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs := &crashStore{Store: e.store, cancelAfter: 4, cancel: cancel}
	m1 := e.manager("replica", cs)
	if err := m1.Start(ctx, Request{Release: "rel", AppID: s.AppID, App: app}); err != nil {
		t.Fatal(err)
	}
	for !cs.isDead() {
		if _, done, _ := m1.Advance(ctx, "rel"); done {
			t.Fatal("finished before being killed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	m2 := e.manager("replica", nil)
	if p, err := m2.Pending(context.Background()); err != nil || !slices.Equal(p, []string{"rel"}) {
		t.Fatalf("pending %v %v", p, err)
	}
	if c, err := drive(t, m2, "rel"); err != nil || c.State != StateComplete {
		t.Fatalf("%+v %v", c, err)
	}
	e.assertClean(s)
	if ok, _, err := e.conn.Exists("/universe-operator/state/cleanups/rel"); err != nil || !ok {
		t.Errorf("the record is not in ZooKeeper: %v %v", ok, err)
	}
}
