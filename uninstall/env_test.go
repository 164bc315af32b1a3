package uninstall

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/sirupsen/logrus"

	"github.com/universe-operator/universe-operator/api"
	"github.com/universe-operator/universe-operator/clients/marathon"
	"github.com/universe-operator/universe-operator/clients/mesos"
	"github.com/universe-operator/universe-operator/clients/sdk"
	"github.com/universe-operator/universe-operator/clients/zookeeper"
	"github.com/universe-operator/universe-operator/errs"
	"github.com/universe-operator/universe-operator/internal/testenv"
	"github.com/universe-operator/universe-operator/sim"
	"github.com/universe-operator/universe-operator/state"
)

// env is a simulated cluster with clients on it and, when asked, a real
// ZooKeeper that the simulator's services write their nodes to.
type env struct {
	t     testing.TB
	sim   *sim.Server
	mar   *marathon.Client
	mes   *mesos.Client
	sdk   *sdk.Client
	zk    *zookeeper.Client // rooted at "/"; nil without ZooKeeper
	conn  *zk.Conn          // the simulator's connection
	store state.Store

	mu     sync.Mutex
	events []api.Event
}

type envOptions struct {
	zk      *testenv.ZooKeeper
	agents  int
	fwAgent int
}

// newEnv starts a simulated cluster for one test.
func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	opts := sim.FastOptions()
	opts.Mesos.Agents = o.agents
	opts.FrameworkAgents = o.fwAgent
	e := &env{t: t}
	if o.zk != nil {
		conn, _, err := zk.Connect([]string{o.zk.Addr}, 5*time.Second, zk.WithLogInfo(false), zk.WithLogger(zkLogger{newTestWriter(t)}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(conn.Close)
		e.conn = conn
		opts.ZooKeeper = sim.NewZooKeeperConn(conn)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		quiet := logrus.New()
		quiet.SetOutput(newTestWriter(t))
		c, err := zookeeper.Connect(ctx, []string{o.zk.Addr}, zookeeper.WithLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		e.zk = c
	}
	e.sim = sim.NewServer(opts)
	t.Cleanup(e.sim.Close)
	var err error
	if e.mar, err = marathon.New(marathon.Options{URL: e.sim.URL + "/service/marathon", ClientID: "uninstall-test", Timeout: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if e.mes, err = mesos.New(mesos.Options{URL: e.sim.URL + "/mesos", Timeout: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if e.sdk, err = sdk.New(sdk.Options{URL: e.sim.URL, Timeout: 10 * time.Second, NotFoundRetryAfter: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	fs, err := state.OpenFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fs.Close() })
	e.store = fs
	return e
}

// manager returns a Manager on the cluster; store nil = the env's store.
func (e *env) manager(id string, store state.Store, mod ...func(*Options)) *Manager {
	e.t.Helper()
	if store == nil {
		store = e.store
	}
	log := logrus.New()
	log.SetLevel(logrus.DebugLevel)
	log.SetOutput(newTestWriter(e.t))
	opts := Options{Marathon: e.mar, Mesos: e.mes, SDK: e.sdk, Store: store, Logger: log,
		PollInterval: 20 * time.Millisecond, ID: id, Lease: time.Minute,
		OnEvent: func(release string, ev api.Event) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.events = append(e.events, ev)
		}}
	if e.zk != nil {
		opts.ZooKeeper = e.zk
	}
	for _, f := range mod {
		f(&opts)
	}
	m, err := New(opts)
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// testWriter sends log output to the test log until the test ends
// (background goroutines of clients may still log while they close).
type testWriter struct {
	t   testing.TB
	off *atomic.Bool
}

func newTestWriter(t testing.TB) testWriter {
	w := testWriter{t: t, off: &atomic.Bool{}}
	t.Cleanup(func() { w.off.Store(true) })
	return w
}

// zkLogger sends go-zookeeper's messages to the test log.
type zkLogger struct{ w testWriter }

func (l zkLogger) Printf(format string, args ...any) {
	_, _ = l.w.Write([]byte("zk: " + fmt.Sprintf(format, args...)))
}

func (w testWriter) Write(p []byte) (int, error) {
	if w.off.Load() {
		return len(p), nil
	}
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// eventually polls cond until it holds or 20 s pass.
func eventually(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within 20s: %s", what, why)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// deploy creates an app and waits until the simulated cluster runs it: its
// SDK deploy plan complete, or its plain framework registered with its
// reservations, volumes and node.
func (e *env) deploy(app json.RawMessage) Spec {
	t := e.t
	t.Helper()
	s, err := NewSpec(Request{App: app})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := e.mar.CreateApp(ctx, app); err != nil {
		t.Fatalf("create %s: %v", s.AppID, err)
	}
	eventually(t, "app "+s.AppID+" running", func() (bool, string) {
		a, err := e.mar.GetApp(ctx, s.AppID)
		if err != nil {
			return false, err.Error()
		}
		return a.TasksRunning == a.Instances && len(a.Deployments) == 0, fmt.Sprintf("%d/%d running, deployments %v", a.TasksRunning, a.Instances, a.Deployments)
	})
	switch {
	case s.SDK:
		eventually(t, "sdk service "+s.Service+" deployed", func() (bool, string) {
			sc := e.sim.SDK.Scheduler(strings.TrimPrefix(s.Service, "/"))
			if sc == nil {
				return false, "no scheduler"
			}
			p, ok := sc.Plan("deploy")
			return ok && p.Status == "COMPLETE" && len(e.sim.Mesos.Volumes(s.Role)) > 0, fmt.Sprintf("plan %s, volumes %d", p.Status, len(e.sim.Mesos.Volumes(s.Role)))
		})
	case s.FrameworkName != "":
		eventually(t, "framework "+s.FrameworkName+" running", func() (bool, string) {
			fws := e.sim.Mesos.FrameworksByName(s.FrameworkName)
			return len(fws) == 1 && len(e.sim.Mesos.Volumes(s.Role)) > 0 && e.znodeExists(s.ZNode),
				fmt.Sprintf("%d frameworks, %d volumes", len(fws), len(e.sim.Mesos.Volumes(s.Role)))
		})
	}
	return s
}

// znodeExists asks the ZooKeeper the simulator writes to.
func (e *env) znodeExists(p string) bool {
	e.t.Helper()
	if e.conn != nil {
		ok, _, err := e.conn.Exists(p)
		if err != nil {
			e.t.Fatalf("exists %s: %v", p, err)
		}
		return ok
	}
	_, ok, err := e.sim.ZooKeeper.Get(p)
	if err != nil {
		e.t.Fatal(err)
	}
	return ok
}

// assertClean checks that nothing of the service is left on the cluster.
func (e *env) assertClean(s Spec) {
	t := e.t
	t.Helper()
	ctx := context.Background()
	if _, err := e.mar.GetApp(ctx, s.AppID); !marathon.IsNotFound(err) {
		t.Errorf("app %s still exists (%v)", s.AppID, err)
	}
	for _, n := range []string{s.FrameworkName, s.Service} {
		if n == "" {
			continue
		}
		if fws := e.sim.Mesos.FrameworksByName(n); len(fws) > 0 {
			t.Errorf("frameworks named %s still registered: %+v", n, fws)
		}
	}
	if s.Role != "" {
		if r := e.sim.Mesos.Reservations(s.Role); len(r) > 0 {
			t.Errorf("reservations of %s left: %+v", s.Role, r)
		}
		if v := e.sim.Mesos.Volumes(s.Role); len(v) > 0 {
			t.Errorf("volumes of %s left: %+v", s.Role, v)
		}
	}
	// Without ZooKeeper the uninstall cannot delete the node (Left says so).
	if e.zk != nil && s.ZNode != "" && e.znodeExists(s.ZNode) {
		t.Errorf("znode %s still exists", s.ZNode)
	}
}

// drive advances the release until the uninstall is done.
func drive(t testing.TB, m *Manager, release string) (api.Cleanup, error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, done, err := m.Advance(context.Background(), release)
		if done {
			return c, err
		}
		if err != nil && errs.ClassOf(err) == errs.ClassPermanent && !errors.Is(err, ErrIncomplete) {
			t.Fatalf("advance %s: permanent error before done: %v", release, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("advance %s: not done within 30s: %+v (%v)", release, c, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// marathonWrites counts the Marathon requests of a method on an app path.
func (e *env) marathonWrites(method, appID string) int {
	n := 0
	for _, r := range e.sim.Marathon.RequestLog() {
		if r.Method == method && r.Path == "/v2/apps"+appID {
			n++
		}
	}
	return n
}

// completed counts the torn-down frameworks of a name.
func (e *env) completed(name string) int {
	n := 0
	for _, f := range e.sim.Mesos.CompletedFrameworks() {
		if f.Name == name {
			n++
		}
	}
	return n
}

func (e *env) eventReasons() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.events {
		out = append(out, ev.Reason)
	}
	return out
}

func stepStates(c api.Cleanup) string {
	var out []string
	for _, s := range c.Steps {
		out = append(out, s.Name+"="+s.State)
	}
	return strings.Join(out, " ")
}

// errKilled is what a "killed" store answers.
var errKilled = errs.Transient(errors.New("test: the process was killed"))

// crashStore kills the Manager using it at a chosen point: the failAt-th
// Put fails without writing (the step it records was carried out, its
// completion is lost), or right after the cancelAfter-th Put succeeded the
// context is cancelled (nothing further happens). After that every call
// fails, as for a dead process.
type crashStore struct {
	state.Store
	mu          sync.Mutex
	puts        int
	failAt      int
	cancelAfter int
	cancel      context.CancelFunc
	dead        bool
}

func (s *crashStore) isDead() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dead
}

func (s *crashStore) Put(ctx context.Context, kind, key string, value []byte, expect int64) (int64, error) {
	s.mu.Lock()
	if s.dead {
		s.mu.Unlock()
		return 0, errKilled
	}
	s.puts++
	n := s.puts
	if n == s.failAt {
		s.dead = true
		s.mu.Unlock()
		return 0, errKilled
	}
	s.mu.Unlock()
	v, err := s.Store.Put(ctx, kind, key, value, expect)
	if err == nil && n == s.cancelAfter {
		s.mu.Lock()
		s.dead = true
		s.mu.Unlock()
		if s.cancel != nil {
			s.cancel()
		}
	}
	return v, err
}

func (s *crashStore) Get(ctx context.Context, kind, key string) ([]byte, int64, error) {
	if s.isDead() {
		return nil, 0, errKilled
	}
	return s.Store.Get(ctx, kind, key)
}

func (s *crashStore) List(ctx context.Context, kind string) ([]string, error) {
	if s.isDead() {
		return nil, errKilled
	}
	return s.Store.List(ctx, kind)
}

func (s *crashStore) Delete(ctx context.Context, kind, key string) error {
	if s.isDead() {
		return errKilled
	}
	return s.Store.Delete(ctx, kind, key)
}

// advanceUntil advances until cond holds for the returned state.
func advanceUntil(t testing.TB, m *Manager, release string, cond func(api.Cleanup) bool) api.Cleanup {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, done, err := m.Advance(context.Background(), release)
		if cond(c) {
			return c
		}
		if done || time.Now().After(deadline) {
			t.Fatalf("advance %s: condition not reached: %+v done=%v err=%v", release, c, done, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// overlapTracker records Marathon calls of several replicas and counts
// calls that started while another replica had one in flight.
type overlapTracker struct {
	mu       sync.Mutex
	inflight map[string]int
	overlap  int
}

func (o *overlapTracker) begin(who string) func() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.inflight == nil {
		o.inflight = map[string]int{}
	}
	for w, n := range o.inflight {
		if w != who && n > 0 {
			o.overlap++
		}
	}
	o.inflight[who]++
	return func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.inflight[who]--
	}
}

func (o *overlapTracker) overlaps() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.overlap
}

func (o *overlapTracker) wrap(who string, m Marathon) Marathon { return trackedMarathon{o, who, m} }

type trackedMarathon struct {
	o   *overlapTracker
	who string
	m   Marathon
}

func (t trackedMarathon) GetApp(ctx context.Context, id string, embed ...string) (*marathon.App, error) {
	defer t.o.begin(t.who)()
	return t.m.GetApp(ctx, id, embed...)
}

func (t trackedMarathon) ListApps(ctx context.Context, selector string, embed ...string) ([]marathon.App, error) {
	defer t.o.begin(t.who)()
	return t.m.ListApps(ctx, selector, embed...)
}

func (t trackedMarathon) UpdateApp(ctx context.Context, id string, raw json.RawMessage, force bool) (marathon.WriteResult, error) {
	defer t.o.begin(t.who)()
	return t.m.UpdateApp(ctx, id, raw, force)
}

func (t trackedMarathon) DeleteApp(ctx context.Context, id string, force bool) (marathon.WriteResult, error) {
	defer t.o.begin(t.who)()
	return t.m.DeleteApp(ctx, id, force)
}
