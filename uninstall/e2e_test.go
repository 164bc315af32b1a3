package uninstall

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/api"
	"github.com/universe-operator/universe-operator/errs"
	"github.com/universe-operator/universe-operator/internal/testenv"
	"github.com/universe-operator/universe-operator/sim/fault"
	simmesos "github.com/universe-operator/universe-operator/sim/mesos"
)

// The SDK path end to end: SDK_UNINSTALL, the scheduler's uninstall plan,
// the delete, and a janitor that finds nothing left and says so; the
// simulator's nodes live in a real ZooKeeper.
func TestSDKServiceEndToEnd(t *testing.T) {
	zkSrv := testenv.StartZooKeeper(t)
	e := newEnv(t, envOptions{zk: zkSrv})
	app := renderApp(t, "sdk-test", `{"service":{"name":"prod/kafka"}}`, "kafka-prod")
	s := e.deploy(app)
	if !e.znodeExists("/dcos-service-prod__kafka") {
		t.Fatal("the SDK scheduler did not write its node")
	}
	m := e.manager("replica-1", nil)
	if err := m.Start(context.Background(), Request{Release: "kafka-prod", AppID: s.AppID, App: app}); err != nil {
		t.Fatal(err)
	}
	if !m.Busy("kafka-prod") {
		t.Error("not Busy after Start")
	}
	c, err := drive(t, m, "kafka-prod")
	if err != nil {
		t.Fatalf("uninstall: %v (%+v)", err, c)
	}
	if c.State != StateComplete || c.Kind != KindSDK || c.AppID != "/prod/kafka" || c.Service != "prod/kafka" {
		t.Errorf("cleanup = %+v", c)
	}
	want := "sdk-uninstall=Done sdk-uninstall-plan=Done delete-app=Done destroy-volumes=Done unreserve=Done delete-znode=Done"
	if got := stepStates(c); got != want {
		t.Errorf("steps %s\nwant  %s", got, want)
	}
	if c.PostUninstallNotes != "sdk-test was uninstalled; its scheduler removed its reservations and ZooKeeper state." {
		t.Errorf("notes %q", c.PostUninstallNotes)
	}
	if !strings.Contains(c.Steps[1].Message, "/service/prod/kafka/v1/plans/deploy answered 200") ||
		!strings.Contains(c.Steps[3].Message, "no persistent volume of role prod__kafka-role is left") ||
		!strings.Contains(c.Steps[4].Message, "nothing reserved to role prod__kafka-role is left") {
		t.Errorf("messages: %+v", c.Steps)
	}
	if len(c.Left) != 0 || c.Finished.IsZero() {
		t.Errorf("left %v finished %v", c.Left, c.Finished)
	}
	e.assertClean(s)
	if n := e.marathonWrites("PUT", s.AppID); n != 1 {
		t.Errorf("%d SDK_UNINSTALL PUTs, want 1", n)
	}
	if m.Busy("kafka-prod") {
		t.Error("Busy after completion")
	}
	reasons := e.eventReasons()
	for _, r := range []string{"UninstallStarted", "UninstallStep", "UninstallComplete", "PostUninstallNotes"} {
		if !slices.Contains(reasons, r) {
			t.Errorf("no %s event in %v", r, reasons)
		}
	}
	// Done is sticky, and reading it again does not touch anything.
	if c2, done, err := m.Advance(context.Background(), "kafka-prod"); !done || err != nil || c2.State != StateComplete {
		t.Errorf("advance after completion: %+v %v %v", c2, done, err)
	}
}

// The PUT body is the app as Marathon returned it, with SDK_UNINSTALL set
// and without uris/version/status fields: check what the simulated
// Marathon holds after the PUT.
func TestSDKUninstallPutKeepsTheApp(t *testing.T) {
	e := newEnv(t, envOptions{})
	app := renderApp(t, "sdk-test", `{"service":{"name":"hdfs","principal":"hdfs-sa"}}`, "hdfs")
	s := e.deploy(app)
	before, err := e.mar.GetApp(context.Background(), s.AppID)
	if err != nil {
		t.Fatal(err)
	}
	m := e.manager("r", nil)
	if err := m.Start(context.Background(), Request{Release: "hdfs", AppID: s.AppID, App: app}); err != nil {
		t.Fatal(err)
	}
	rec := record{Release: "hdfs", Spec: s}
	if r := m.sdkUninstall(context.Background(), &rec); r.state != StepDone {
		t.Fatalf("sdk-uninstall: %+v", r)
	}
	after, err := e.mar.GetApp(context.Background(), s.AppID)
	if err != nil {
		t.Fatal(err)
	}
	var b, a map[string]any
	_ = json.Unmarshal(before.Raw, &b)
	_ = json.Unmarshal(after.Raw, &a)
	env := a["env"].(map[string]any)
	if env["SDK_UNINSTALL"] != "true" || env["FRAMEWORK_PRINCIPAL"] != "hdfs-sa" || env["JAVA_OPTS"] != "-Xmx32m" {
		t.Errorf("env after the PUT: %v", env)
	}
	for _, k := range []string{"cmd", "cpus", "mem", "instances", "labels", "fetch", "portDefinitions"} {
		bj, _ := json.Marshal(b[k])
		aj, _ := json.Marshal(a[k])
		if string(bj) != string(aj) {
			t.Errorf("%s changed: %s -> %s", k, bj, aj)
		}
	}
	// A second run finds SDK_UNINSTALL already set and does not PUT.
	if r := m.sdkUninstall(context.Background(), &rec); r.state != StepDone || !strings.Contains(r.msg, "already carries") {
		t.Errorf("second run: %+v", r)
	}
	if n := e.marathonWrites("PUT", s.AppID); n != 1 {
		t.Errorf("%d PUTs", n)
	}
	if s.Principal != "hdfs-sa" {
		t.Errorf("principal %q", s.Principal)
	}
}

// The plain path: delete, TEARDOWN the framework, then the janitor destroys
// the volumes and reservations the framework left on every agent and
// deletes its node in the real ZooKeeper.
func TestPlainFrameworkEndToEnd(t *testing.T) {
	zkSrv := testenv.StartZooKeeper(t)
	e := newEnv(t, envOptions{zk: zkSrv, agents: 5, fwAgent: 3})
	app := renderApp(t, "fw-test", `{"framework":{"name":"hello"}}`, "hello")
	s := e.deploy(app)
	// Three agents hold the framework's reservations and volumes; add a
	// second volume on one of them and a reservation and a volume on a
	// fourth, as a framework that grew would have.
	agents := e.sim.Mesos.Agents()
	for _, v := range []simmesos.Volume{
		{AgentID: agents[0].ID, Size: 64, Role: "hello-role", Principal: "hello-principal", PersistenceID: "extra-0", ContainerPath: "data2"},
		{AgentID: agents[3].ID, Size: 64, Role: "hello-role", Principal: "hello-principal", PersistenceID: "extra-3", ContainerPath: "data"},
	} {
		if err := e.sim.Mesos.Reserve(v.AgentID, simmesos.Reservation{Name: "disk", Amount: v.Size, Role: v.Role, Principal: v.Principal}); err != nil {
			t.Fatal(err)
		}
		if err := e.sim.Mesos.CreateVolume(v.AgentID, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.sim.Mesos.Reserve(agents[4].ID, simmesos.Reservation{Name: "cpus", Amount: 0.5, Role: "hello-role", Principal: "hello-principal"}); err != nil {
		t.Fatal(err)
	}
	hosts := map[string]bool{}
	for _, v := range e.sim.Mesos.Volumes("hello-role") {
		hosts[v.AgentID] = true
	}
	if len(e.sim.Mesos.Volumes("hello-role")) != 5 || len(hosts) != 4 {
		t.Fatalf("setup: volumes %+v", e.sim.Mesos.Volumes("hello-role"))
	}

	m := e.manager("replica-1", nil)
	if err := m.Start(context.Background(), Request{Release: "hello", AppID: s.AppID, App: app}); err != nil {
		t.Fatal(err)
	}
	c, err := drive(t, m, "hello")
	if err != nil {
		t.Fatalf("uninstall: %v", err)
	}
	want := "delete-app=Done teardown-framework=Done destroy-volumes=Done unreserve=Done delete-znode=Done"
	if got := stepStates(c); got != want || c.State != StateComplete {
		t.Errorf("%s: steps %s\nwant  %s", c.State, got, want)
	}
	if !strings.Contains(c.Steps[2].Message, "DESTROY_VOLUMES of 5 volume(s) of role hello-role") {
		t.Errorf("destroy message %q", c.Steps[2].Message)
	}
	if !strings.Contains(c.Steps[1].Message, "TEARDOWN of framework \"hello\"") {
		t.Errorf("teardown message %q", c.Steps[1].Message)
	}
	if c.PostUninstallNotes == "" {
		t.Error("no notes")
	}
	e.assertClean(s)
	if n := e.completed("hello"); n != 1 {
		t.Errorf("%d torn-down frameworks named hello", n)
	}
	if n := e.marathonWrites("DELETE", s.AppID); n != 1 {
		t.Errorf("%d DELETEs", n)
	}
}

func TestPlainAppEndToEnd(t *testing.T) {
	e := newEnv(t, envOptions{})
	app := renderApp(t, "web-test", "", "web")
	s := e.deploy(app)
	m := e.manager("r", nil)
	if err := m.Start(context.Background(), Request{Release: "web", AppID: s.AppID, App: app}); err != nil {
		t.Fatal(err)
	}
	c, err := drive(t, m, "web")
	if err != nil || c.State != StateComplete || stepStates(c) != "delete-app=Done" {
		t.Fatalf("%+v %v", c, err)
	}
	if c.PostUninstallNotes != "web-test is gone." {
		t.Errorf("notes %q", c.PostUninstallNotes)
	}
	e.assertClean(s)
	got, ok := m.Get(context.Background(), "web")
	if !ok || got.State != StateComplete || got.PostUninstallNotes != "web-test is gone." {
		t.Errorf("Get = %+v %v", got, ok)
	}
}

// Mesos down during the teardown: Incomplete with the reason, retried,
// never forgotten (Pending lists it after a restart), complete once Mesos
// answers again.
func TestMesosDownDuringTeardown(t *testing.T) {
	e := newEnv(t, envOptions{})
	app := renderApp(t, "fw-test", "", "fw")
	s := e.deploy(app)
	e.sim.Mesos.Faults().Add(fault.Rule{Status: 503})
	m := e.manager("r", nil)
	ctx := context.Background()
	if err := m.Start(ctx, Request{Release: "fw", AppID: s.AppID, App: app}); err != nil {
		t.Fatal(err)
	}
	c := advanceUntil(t, m, "fw", func(c api.Cleanup) bool { return c.State == StateIncomplete })
	if !strings.HasPrefix(c.Reason, "IncompleteUninstall: teardown-framework: ") || !strings.Contains(c.Reason, "503") {
		t.Errorf("reason %q", c.Reason)
	}
	if c.Steps[0].State != StepDone || c.Steps[1].State != StepRunning {
		t.Errorf("steps %s", stepStates(c))
	}
	// Retried: still incomplete, attempts counted, error classified.
	c2, done, err := m.Advance(ctx, "fw")
	if done || !errors.Is(err, ErrIncomplete) || errs.ClassOf(err) != errs.ClassTransient || c2.Attempts < 2 {
		t.Errorf("retry: %+v %v %v", c2, done, err)
	}
	// A restarted controller finds it.
	m2 := e.manager("r", nil)
	if p, err := m2.Pending(ctx); err != nil || !slices.Equal(p, []string{"fw"}) {
		t.Fatalf("pending %v %v", p, err)
	}
	if !m2.Busy("fw") {
		t.Error("not busy")
	}
	e.sim.Mesos.Faults().Clear()
	c, err = drive(t, m2, "fw")
	if err != nil || c.State != StateComplete || c.Reason != "" {
		t.Fatalf("%+v %v", c, err)
	}
	e.assertClean(s)
	if !slices.Contains(e.eventReasons(), "IncompleteUninstall") {
		t.Errorf("no IncompleteUninstall event: %v", e.eventReasons())
	}
}

// Several frameworks of the name: a permanent error naming them, nothing
// torn down, nothing cleaned, the uninstall Failed with what is left.
func TestSeveralFrameworksSameName(t *testing.T) {
	e := newEnv(t, envOptions{})
	app := renderApp(t, "fw-test", "", "fw")
	s := e.deploy(app)
	other := e.sim.Mesos.RegisterFramework(simmesos.FrameworkInfo{Name: "fw-test", Role: "elsewhere-role", Principal: "x"})
	first := e.sim.Mesos.FrameworksByName("fw-test")[0]
	m := e.manager("r", nil)
	if err := m.Start(context.Background(), Request{Release: "fw", AppID: s.AppID, App: app}); err != nil {
		t.Fatal(err)
	}
	c, err := drive(t, m, "fw")
	if !errors.Is(err, ErrSeveralFrameworks) || !errs.IsPermanent(err) {
		t.Fatalf("err = %v", err)
	}
	for _, id := range []string{other.ID, first.ID} {
		if !strings.Contains(err.Error(), id) || !strings.Contains(strings.Join(c.Left, " "), id) {
			t.Errorf("id %s not named: %v / %v", id, err, c.Left)
		}
	}
	if c.State != StateFailed || !strings.Contains(c.Left[0], "framework fw-test could not be torn down: several frameworks named fw-test (ids ") {
		t.Errorf("cleanup %+v", c)
	}
	want := "delete-app=Done teardown-framework=Failed destroy-volumes=Skipped unreserve=Skipped delete-znode=Skipped"
	if stepStates(c) != want {
		t.Errorf("steps %s", stepStates(c))
	}
	if n := len(e.sim.Mesos.FrameworksByName("fw-test")); n != 2 || e.completed("fw-test") != 0 {
		t.Errorf("frameworks torn down: %d left, %d completed", n, e.completed("fw-test"))
	}
	if len(e.sim.Mesos.Volumes("fw-test-role")) == 0 {
		t.Error("the janitor ran despite the failure")
	}
	// Failed holds the release for a human; Advance keeps the error; a
	// restarted controller still finds it.
	if !m.Busy("fw") {
		t.Error("a Failed uninstall does not hold the release")
	}
	if _, done, err := m.Advance(context.Background(), "fw"); !done || !errs.IsPermanent(err) {
		t.Errorf("advance after failure: %v %v", done, err)
	}
	if p, err := e.manager("r", nil).Pending(context.Background()); err != nil || !slices.Equal(p, []string{"fw"}) {
		t.Errorf("pending after a restart: %v %v", p, err)
	}
	// The operator tears the stray framework down and retries.
	if err := e.sim.Mesos.Teardown(other.ID); err != nil {
		t.Fatal(err)
	}
	if err := m.Retry(context.Background(), "fw"); err != nil {
		t.Fatal(err)
	}
	c, err = drive(t, m, "fw")
	if err != nil || c.State != StateComplete || len(c.Left) != 1 || !strings.Contains(c.Left[0], "no ZooKeeper configured") {
		t.Fatalf("after the retry: %+v %v", c, err)
	}
	if stepStates(c) != "delete-app=Done teardown-framework=Done destroy-volumes=Done unreserve=Done delete-znode=Skipped" {
		t.Errorf("steps after the retry: %s", stepStates(c))
	}
	if m.Busy("fw") {
		t.Error("busy after completion")
	}
	if len(e.sim.Mesos.Volumes("fw-test-role")) != 0 || len(e.sim.Mesos.FrameworksByName("fw-test")) != 0 {
		t.Error("not clean after the retry")
	}
}

// Another app using the framework name: nothing of that name is touched.
func TestNameInUseByAnotherApp(t *testing.T) {
	e := newEnv(t, envOptions{})
	app := renderApp(t, "fw-test", "", "fw")
	s := e.deploy(app)
	// Someone installs the same framework by hand under another id.
	if _, err := e.mar.CreateApp(context.Background(), json.RawMessage(
		`{"id":"/manual/fw-test","cmd":"sleep 1000","cpus":0.1,"mem":32,"labels":{"DCOS_PACKAGE_FRAMEWORK_NAME":"fw-test"}}`)); err != nil {
		t.Fatal(err)
	}
	m := e.manager("r", nil)
	if err := m.Start(context.Background(), Request{Release: "fw", AppID: s.AppID, App: app}); err != nil {
		t.Fatal(err)
	}
	c, err := drive(t, m, "fw")
	if !errors.Is(err, ErrNameInUse) || c.State != StateFailed || !strings.Contains(err.Error(), "/manual/fw-test") {
		t.Fatalf("%+v %v", c, err)
	}
	if e.completed("fw-test") != 0 || len(e.sim.Mesos.Volumes("fw-test-role")) == 0 {
		t.Error("something of the name was torn down or cleaned")
	}
}

// Without ZooKeeper the node step is skipped and named in Left; the
// uninstall still completes.
func TestNoZooKeeperConfigured(t *testing.T) {
	e := newEnv(t, envOptions{})
	app := renderApp(t, "fw-test", "", "fw")
	s := e.deploy(app)
	m := e.manager("r", nil)
	if err := m.Start(context.Background(), Request{Release: "fw", AppID: s.AppID, App: app}); err != nil {
		t.Fatal(err)
	}
	c, err := drive(t, m, "fw")
	if err != nil || c.State != StateComplete {
		t.Fatalf("%+v %v", c, err)
	}
	if c.Steps[4].State != StepSkipped || len(c.Left) != 1 || !strings.Contains(c.Left[0], "ZooKeeper node /dcos-service-fw-test was not checked") {
		t.Errorf("%s left %v", stepStates(c), c.Left)
	}
	if !e.znodeExists("/dcos-service-fw-test") {
		t.Error("node gone without ZooKeeper?")
	}
	if len(e.sim.Mesos.Volumes("fw-test-role")) != 0 {
		t.Error("volumes left")
	}
}

// Janitor off: Cosmos's uninstall only; what the framework reserved stays.
func TestJanitorOff(t *testing.T) {
	e := newEnv(t, envOptions{})
	app := renderApp(t, "fw-test", "", "fw")
	s := e.deploy(app)
	m := e.manager("r", nil)
	if err := m.Start(context.Background(), Request{Release: "fw", AppID: s.AppID, App: app, Janitor: boolp(false)}); err != nil {
		t.Fatal(err)
	}
	c, err := drive(t, m, "fw")
	if err != nil || stepStates(c) != "delete-app=Done teardown-framework=Done destroy-volumes=Skipped unreserve=Skipped delete-znode=Skipped" {
		t.Fatalf("%s %v", stepStates(c), err)
	}
	if e.completed("fw-test") != 1 || len(e.sim.Mesos.Volumes("fw-test-role")) == 0 {
		t.Error("janitor off: the framework must be torn down and its volumes kept")
	}
}

// An SDK app deleted (by someone) before its uninstall plan finished: the
// scheduler stops, its framework stays registered and inactive with its
// reservations; the janitor tears that leftover down and cleans.
func TestSDKAppDeletedBeforePlanFinished(t *testing.T) {
	e := newEnv(t, envOptions{})
	app := renderApp(t, "sdk-test", `{"service":{"name":"cassandra"}}`, "cass")
	s := e.deploy(app)
	ctx := context.Background()
	if _, err := e.mar.DeleteApp(ctx, s.AppID, true); err != nil {
		t.Fatal(err)
	}
	eventually(t, "app gone", func() (bool, string) {
		_, err := e.mar.GetApp(ctx, s.AppID)
		return err != nil, ""
	})
	m := e.manager("r", nil)
	if err := m.Start(ctx, Request{Release: "cass", AppID: s.AppID, App: app}); err != nil {
		t.Fatal(err)
	}
	c, err := drive(t, m, "cass")
	if err != nil || c.State != StateComplete {
		t.Fatalf("%+v %v", c, err)
	}
	if !strings.Contains(c.Steps[0].Message, "already gone") {
		t.Errorf("steps %+v", c.Steps)
	}
	e.assertClean(s)
	if e.completed("cassandra") != 1 {
		t.Errorf("leftover framework not torn down")
	}
}

// Start is idempotent; one app at a time per release; Forget.
func TestStartGetForget(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	m := e.manager("r", nil)
	app := renderApp(t, "web-test", "", "web")
	if err := m.Start(ctx, Request{Release: "web", AppID: "/web-test", App: app}); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx, Request{Release: "web", AppID: "/web-test", App: app}); err != nil {
		t.Fatalf("second Start: %v", err)
	}
	if err := m.Start(ctx, Request{Release: "web", AppID: "/other"}); errs.ClassOf(err) != errs.ClassWaiting {
		t.Errorf("Start of another app while pending: %v", err)
	}
	c, ok := m.Get(ctx, "web")
	if !ok || c.State != StatePending || c.PostUninstallNotes != "" || stepStates(*c) != "delete-app=Pending" {
		t.Errorf("Get = %+v", c)
	}
	if err := m.Forget(ctx, "web"); errs.ClassOf(err) != errs.ClassWaiting {
		t.Errorf("Forget of a pending uninstall: %v", err)
	}
	// The app never existed: delete-app finds it gone.
	if c, err := drive(t, m, "web"); err != nil || c.State != StateComplete || !strings.Contains(c.Steps[0].Message, "already gone") {
		t.Fatalf("%+v %v", c, err)
	}
	// A finished uninstall is replaced by a new Start.
	if err := m.Start(ctx, Request{Release: "web", AppID: "/other"}); err != nil {
		t.Fatal(err)
	}
	if c, _ := m.Get(ctx, "web"); c.AppID != "/other" || c.State != StatePending {
		t.Errorf("after restart: %+v", c)
	}
	if _, err := drive(t, m, "web"); err != nil {
		t.Fatal(err)
	}
	if err := m.Forget(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Get(ctx, "web"); ok || m.Busy("web") {
		t.Error("record kept after Forget")
	}
	if c, done, err := m.Advance(ctx, "web"); !done || err != nil || c.State != "" {
		t.Errorf("advance of nothing: %+v %v %v", c, done, err)
	}
	if p, err := m.Pending(ctx); err != nil || len(p) != 0 {
		t.Errorf("pending %v %v", p, err)
	}
}

// Two replicas advancing the same uninstall at once never act at the same
// time: the claim makes one wait.
func TestTwoReplicasNeverOverlap(t *testing.T) {
	e := newEnv(t, envOptions{})
	app := renderApp(t, "sdk-test", `{"service":{"name":"es"}}`, "es")
	s := e.deploy(app)
	tr := &overlapTracker{}
	m1 := e.manager("replica-1", nil, func(o *Options) { o.Marathon = tr.wrap("replica-1", e.mar) })
	m2 := e.manager("replica-2", nil, func(o *Options) { o.Marathon = tr.wrap("replica-2", e.mar) })
	if err := m1.Start(context.Background(), Request{Release: "es", AppID: s.AppID, App: app}); err != nil {
		t.Fatal(err)
	}
	if err := m2.Start(context.Background(), Request{Release: "es", AppID: s.AppID, App: app}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([]error, 2)
	for i, m := range []*Manager{m1, m2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			deadline := time.Now().Add(30 * time.Second)
			for time.Now().Before(deadline) {
				_, done, err := m.Advance(context.Background(), "es")
				if done {
					results[i] = err
					return
				}
				time.Sleep(time.Millisecond)
			}
			results[i] = errors.New("not done")
		}()
	}
	wg.Wait()
	if results[0] != nil || results[1] != nil {
		t.Fatalf("results %v", results)
	}
	if tr.overlaps() > 0 {
		t.Errorf("%d Marathon calls of one replica ran while the other had one in flight", tr.overlaps())
	}
	if n := e.marathonWrites("PUT", s.AppID); n != 1 {
		t.Errorf("%d PUTs", n)
	}
	e.assertClean(s)
}

// A replica that died holding the claim blocks another replica until its
// lease runs out; the same replica (same ID) takes it back at once.
func TestClaimLease(t *testing.T) {
	e := newEnv(t, envOptions{})
	app := renderApp(t, "web-test", "", "web")
	s := e.deploy(app)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	ctx, cancel := context.WithCancel(context.Background())
	cs := &crashStore{Store: e.store, cancelAfter: 2, cancel: cancel} // Start, then the claim
	m1 := e.manager("a", cs, func(o *Options) { o.Now = clock })
	if err := m1.Start(ctx, Request{Release: "web", AppID: s.AppID, App: app}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m1.Advance(ctx, "web"); err == nil {
		t.Fatal("m1 survived")
	}
	m2 := e.manager("b", nil, func(o *Options) { o.Now = clock })
	_, done, err := m2.Advance(context.Background(), "web")
	if done || !errors.Is(err, ErrClaimed) || errs.ClassOf(err) != errs.ClassWaiting || errs.RetryAfter(err) < 30*time.Second {
		t.Fatalf("m2 while a holds the claim: %v %v", done, err)
	}
	if _, err := e.mar.GetApp(context.Background(), s.AppID); err != nil {
		t.Fatalf("the app was touched: %v", err)
	}
	// The same replica, restarted, continues at once.
	m1b := e.manager("a", nil, func(o *Options) { o.Now = clock })
	if _, _, err := m1b.Advance(context.Background(), "web"); errors.Is(err, ErrClaimed) {
		t.Fatalf("a, restarted, does not get its own claim back: %v", err)
	}
	if c, err := drive(t, m1b, "web"); err != nil || c.State != StateComplete {
		t.Fatalf("a, restarted: %+v %v", c, err)
	}
	// And another replica after the lease: use a fresh uninstall.
	app2 := renderApp(t, "fw-test", "", "fw")
	s2 := e.deploy(app2)
	ctx3, cancel3 := context.WithCancel(context.Background())
	cs3 := &crashStore{Store: e.store, cancelAfter: 2, cancel: cancel3}
	m3 := e.manager("c", cs3, func(o *Options) { o.Now = clock })
	if err := m3.Start(ctx3, Request{Release: "fw", AppID: s2.AppID, App: app2}); err != nil {
		t.Fatal(err)
	}
	_, _, _ = m3.Advance(ctx3, "fw")
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	if c, err := drive(t, m2, "fw"); err != nil || c.State != StateComplete {
		t.Fatalf("m2 after the lease: %+v %v", c, err)
	}
	e.assertClean(s2)
}

// ZooKeeper down when the janitor deletes the node: Incomplete with the
// reason, retried, complete once ZooKeeper is back (its data kept).
func TestZooKeeperDownDuringJanitor(t *testing.T) {
	zkSrv := testenv.StartZooKeeper(t)
	e := newEnv(t, envOptions{zk: zkSrv})
	app := renderApp(t, "fw-test", `{"framework":{"name":"zkdown"}}`, "zkdown")
	s := e.deploy(app)
	zkSrv.Stop()
	m := e.manager("r", nil, func(o *Options) { o.StepTimeout = time.Second })
	ctx := context.Background()
	if err := m.Start(ctx, Request{Release: "zkdown", AppID: s.AppID, App: app}); err != nil {
		t.Fatal(err)
	}
	c := advanceUntil(t, m, "zkdown", func(c api.Cleanup) bool { return c.State == StateIncomplete })
	if !strings.HasPrefix(c.Reason, "IncompleteUninstall: delete-znode: ") ||
		stepStates(c) != "delete-app=Done teardown-framework=Done destroy-volumes=Done unreserve=Done delete-znode=Running" {
		t.Errorf("%s: %s", c.Reason, stepStates(c))
	}
	if _, _, err := m.Advance(ctx, "zkdown"); !errors.Is(err, ErrIncomplete) || errs.ClassOf(err) != errs.ClassTransient {
		t.Errorf("retry: %v", err)
	}
	if err := zkSrv.Start(); err != nil {
		t.Fatal(err)
	}
	c, err := drive(t, m, "zkdown")
	if err != nil || c.State != StateComplete {
		t.Fatalf("%+v %v", c, err)
	}
	eventually(t, "the simulator's ZooKeeper session back", func() (bool, string) {
		_, _, err := e.conn.Exists("/")
		return err == nil, fmt.Sprint(err)
	})
	e.assertClean(s)
}

// An app at the id that no longer carries the release's ownership label is
// never touched.
func TestNeverTouchesAnAppNotOwned(t *testing.T) {
	e := newEnv(t, envOptions{})
	app := renderApp(t, "web-test", "", "web")
	s := e.deploy(app)
	m := e.manager("r", nil)
	ctx := context.Background()
	if err := m.Start(ctx, Request{Release: "web", AppID: s.AppID, App: app}); err != nil {
		t.Fatal(err)
	}
	// Meanwhile another release took the id over.
	other := renderApp(t, "web-test", "", "other-release")
	if _, err := e.mar.UpdateApp(ctx, s.AppID, other, true); err != nil {
		t.Fatal(err)
	}
	c, err := drive(t, m, "web")
	if err != nil || c.State != StateComplete || c.Steps[0].State != StepSkipped ||
		!strings.Contains(c.Steps[0].Message, "now belongs to other-release") {
		t.Fatalf("%+v %v", c, err)
	}
	if n := e.marathonWrites("DELETE", s.AppID); n != 0 {
		t.Errorf("%d DELETEs of an app not owned", n)
	}
	if _, err := e.mar.GetApp(ctx, s.AppID); err != nil {
		t.Errorf("the app is gone: %v", err)
	}
}

// Records of completed uninstalls are kept for KeepFinished, then Pending
// deletes them; unfinished ones are never deleted.
func TestFinishedRecordsExpire(t *testing.T) {
	e := newEnv(t, envOptions{})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	m := e.manager("r", nil, func(o *Options) { o.Now = clock; o.KeepFinished = time.Hour })
	ctx := context.Background()
	if err := m.Start(ctx, Request{Release: "done", AppID: "/never-existed"}); err != nil {
		t.Fatal(err)
	}
	if _, err := drive(t, m, "done"); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx, Request{Release: "held", AppID: "/held"}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	p, err := m.Pending(ctx)
	if err != nil || !slices.Equal(p, []string{"held"}) {
		t.Fatalf("pending %v %v", p, err)
	}
	if _, ok := m.Get(ctx, "done"); ok {
		t.Error("the old completed record is kept")
	}
	if c, ok := m.Get(ctx, "held"); !ok || c.State != StatePending {
		t.Error("the pending record is gone")
	}
}

// A release whose app moved to another id keeps its service name there:
// the old app is deleted, and nothing of the name is torn down or cleaned.
func TestAppIDChangeKeepsTheService(t *testing.T) {
	e := newEnv(t, envOptions{})
	old := renderApp(t, "fw-test", `{"framework":{"name":"moving"}}`, "mv")
	s := e.deploy(old)
	// The release's new app, at another id, runs the same framework name.
	var m map[string]any
	_ = json.Unmarshal(old, &m)
	m["id"] = "/moved/moving"
	moved, _ := json.Marshal(m)
	if _, err := e.mar.CreateApp(context.Background(), moved); err != nil {
		t.Fatal(err)
	}
	mgr := e.manager("r", nil)
	if err := mgr.Start(context.Background(), Request{Release: "mv", AppID: s.AppID, App: old}); err != nil {
		t.Fatal(err)
	}
	c, err := drive(t, mgr, "mv")
	if err != nil || c.State != StateComplete {
		t.Fatalf("%+v %v", c, err)
	}
	if got := stepStates(c); got != "delete-app=Done teardown-framework=Skipped destroy-volumes=Skipped unreserve=Skipped delete-znode=Skipped" {
		t.Errorf("steps %s", got)
	}
	for _, st := range c.Steps[1:] {
		if !strings.Contains(st.Message, "used by the release's current app /moved/moving") {
			t.Errorf("%s: %q", st.Name, st.Message)
		}
	}
	if len(c.Left) != 0 {
		t.Errorf("left %v", c.Left)
	}
	if !strings.Contains(c.Steps[1].Message, "used by the release's current app /moved/moving") {
		t.Errorf("teardown message %q", c.Steps[1].Message)
	}
	if e.completed("moving") != 0 || len(e.sim.Mesos.Volumes("moving-role")) == 0 {
		t.Error("the moved service lost its framework or volumes")
	}
}
