package sdk

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/sim/fault"
	"github.com/universe-operator/universe-operator/sim/mesos"
)

// memZK is a minimal ZooKeeper for the tests.
type memZK struct {
	mu    sync.Mutex
	nodes map[string][]byte
}

func (z *memZK) Create(path string, data []byte) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.nodes[path] = data
	return nil
}

func (z *memZK) DeleteAll(path string) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	for p := range z.nodes {
		if p == path || strings.HasPrefix(p, path+"/") {
			delete(z.nodes, p)
		}
	}
	return nil
}

func (z *memZK) has(prefix string) bool {
	z.mu.Lock()
	defer z.mu.Unlock()
	for p := range z.nodes {
		if p == prefix || strings.HasPrefix(p, prefix+"/") {
			return true
		}
	}
	return false
}

// fixture is a master, a ZooKeeper and schedulers with fast timing.
type fixture struct {
	m  *mesos.Master
	zk *memZK
	s  *Schedulers
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	m := mesos.New(mesos.Options{})
	zk := &memZK{nodes: map[string][]byte{}}
	s := New(Options{Mesos: m, ZooKeeper: zk, StepDuration: 20 * time.Millisecond, UninstallStepDuration: 20 * time.Millisecond})
	t.Cleanup(s.Close)
	return &fixture{m, zk, s}
}

// get fetches a path from a scheduler's handler.
func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

// waitPlan polls a plan until it reports want (HTTP status), deadline 15 s.
func waitPlan(t *testing.T, s *Schedulers, name, path string, want int) PlanInfo {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		h := s.Handler(name)
		if h != nil {
			code, body := get(t, h, path)
			if code == want {
				var info PlanInfo
				if err := json.Unmarshal([]byte(body), &info); err != nil {
					t.Fatalf("plan body %q: %v", body, err)
				}
				return info
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("plan %s of %s never answered %d", path, name, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNaming(t *testing.T) {
	for _, c := range []struct{ in, esc, role, principal, znode string }{
		{"kafka", "kafka", "kafka-role", "kafka-principal", "/dcos-service-kafka"},
		{"/prod/kafka", "prod__kafka", "prod__kafka-role", "prod/kafka-principal", "/dcos-service-prod__kafka"},
		{"a/b/c", "a__b__c", "a__b__c-role", "a/b/c-principal", "/dcos-service-a__b__c"},
	} {
		if EscapeName(c.in) != c.esc || Role(c.in) != c.role || Principal(c.in) != c.principal || ZNode(c.in) != c.znode {
			t.Errorf("%s: %s %s %s %s", c.in, EscapeName(c.in), Role(c.in), Principal(c.in), ZNode(c.in))
		}
	}
}

func TestDeployThenUninstall(t *testing.T) {
	f := newFixture(t)
	f.s.Run(Spec{Name: "/prod/hello", AppID: "/prod/hello", Version: "v1", WebUIURL: "http://api.prod__hello.marathon.l4lb.thisdcos.directory/"})

	// While deploying: 202 with IN_PROGRESS or PENDING.
	h := f.s.Handler("prod/hello")
	if h == nil {
		t.Fatal("no scheduler")
	}
	code, body := get(t, h, "/v1/plans/deploy")
	if code != http.StatusAccepted || !strings.Contains(body, `"status"`) {
		t.Errorf("deploying: %d %s", code, body)
	}
	if code, body := get(t, h, "/v1/plans"); code != 200 || strings.Join(strings.Fields(body), "") != `["deploy","recovery"]` {
		t.Errorf("plans: %d %s", code, body)
	}
	if code, body := get(t, h, "/v1/plans/nope"); code != 404 || body != "Plan nope not found" {
		t.Errorf("unknown plan: %d %q", code, body)
	}
	if code, _ := get(t, h, "/v2/plans/deploy"); code != 404 {
		t.Errorf("wrong api version: %d", code)
	}

	info := waitPlan(t, f.s, "prod/hello", "/v1/plans/deploy", http.StatusOK)
	if info.Status != StatusComplete || len(info.Phases) != 1 || info.Phases[0].Name != "node" || len(info.Phases[0].Steps) != 3 ||
		info.Phases[0].Steps[0].Name != "node-0:[server]" || info.Strategy != "serial" {
		t.Fatalf("deploy plan: %+v", info)
	}
	role := "prod__hello-role"
	fws := f.m.Frameworks()
	if len(fws) != 1 || fws[0].Name != "prod/hello" || fws[0].Roles[0] != role || fws[0].Principal != "prod/hello-principal" ||
		fws[0].WebUIURL == "" || !fws[0].Active {
		t.Fatalf("framework: %+v", fws)
	}
	if n := len(f.m.Reservations(role)); n != 6 {
		t.Errorf("%d reservations, want 6 (cpus+mem on 3 agents)", n)
	}
	vols := f.m.Volumes(role)
	if len(vols) != 3 {
		t.Errorf("%d volumes", len(vols))
	}
	for _, v := range vols {
		if len(v.Labels) != 1 || v.Labels[0].Key != "resource_id" {
			t.Errorf("volume labels: %+v", v)
		}
	}
	if !f.zk.has("/dcos-service-prod__hello") || len(f.m.Tasks(fws[0].ID)) != 3 {
		t.Fatalf("znode or tasks missing")
	}

	// Restart at the same version: plan complete at once, nothing new reserved.
	f.s.Run(Spec{Name: "prod/hello", AppID: "/prod/hello", Version: "v1"})
	if info, _ := f.s.Scheduler("prod/hello").Plan("deploy"); info.Status != StatusComplete {
		t.Errorf("restart at same version: %s", info.Status)
	}
	if len(f.m.Frameworks()) != 1 || len(f.m.Reservations(role)) != 6 {
		t.Errorf("restart changed state")
	}

	// Uninstall: plan named deploy, 202 then 200; framework, reservations, volumes and znode gone.
	f.s.Run(Spec{Name: "prod/hello", AppID: "/prod/hello", Version: "v2", Uninstall: true})
	code, body = get(t, f.s.Handler("prod/hello"), "/v1/plans/deploy")
	if code != http.StatusAccepted {
		t.Errorf("uninstall in progress: %d %s", code, body)
	}
	if code, body := get(t, f.s.Handler("prod/hello"), "/v1/plans"); code != 200 || strings.Join(strings.Fields(body), "") != `["deploy"]` {
		t.Errorf("plans while uninstalling: %s", body)
	}
	info = waitPlan(t, f.s, "prod/hello", "/v1/plans/deploy", http.StatusOK)
	var names []string
	for _, ph := range info.Phases {
		names = append(names, ph.Name)
	}
	if got := strings.Join(names, ","); got != "kill-tasks,unreserve-resources-10.0.2.10,unreserve-resources-10.0.2.11,unreserve-resources-10.0.2.12,deregister-service" {
		t.Errorf("uninstall phases: %s", got)
	}
	if len(info.Phases[0].Steps) != 3 || !strings.HasPrefix(info.Phases[0].Steps[0].Name, "kill-task-node-0-server__") ||
		!strings.HasPrefix(info.Phases[1].Steps[0].Name, "unreserve-") || info.Phases[4].Steps[0].Name != "deregister" {
		t.Errorf("uninstall steps: %+v", info.Phases)
	}
	if len(f.m.Frameworks()) != 0 || len(f.m.CompletedFrameworks()) != 1 {
		t.Errorf("framework not deregistered: %+v", f.m.Frameworks())
	}
	if len(f.m.Reservations(role))+len(f.m.Volumes(role)) != 0 {
		t.Errorf("left: %+v %+v", f.m.Reservations(role), f.m.Volumes(role))
	}
	if f.zk.has("/dcos-service-prod__hello") {
		t.Errorf("znode left")
	}
	// Still answering 200 until the app is deleted; then gone.
	if code, _ := get(t, f.s.Handler("prod/hello"), "/v1/plans/deploy"); code != 200 {
		t.Errorf("after completion: %d", code)
	}
	f.s.Stop("/prod/hello")
	if f.s.Handler("prod/hello") != nil || len(f.s.Summaries()) != 0 {
		t.Errorf("scheduler still known after its app was deleted")
	}
}

func TestUninstallWithoutFrameworkAndStopMidway(t *testing.T) {
	f := newFixture(t)
	// A scheduler that never registered: empty COMPLETE plan at once.
	f.s.Run(Spec{Name: "fresh", Uninstall: true})
	code, body := get(t, f.s.Handler("fresh"), "/v1/plans/deploy")
	if code != 200 || !strings.Contains(body, `"phases": []`) {
		t.Errorf("empty uninstall: %d %s", code, body)
	}

	// App deleted while deploying: the framework stays, inactive, with what it reserved.
	f.s.Run(Spec{Name: "half", Version: "v1", APIVersion: "v2"})
	deadline := time.Now().Add(15 * time.Second)
	for len(f.m.Volumes("half-role")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no pod deployed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.s.Stop("half")
	fws := f.m.FrameworksByName("half")
	if len(fws) != 1 || fws[0].Active {
		t.Fatalf("orphaned SDK framework: %+v", fws)
	}
	if f.s.Handler("half") != nil {
		t.Errorf("stopped scheduler still served")
	}
	// Re-running it fails over to the same framework and finishes the deployment.
	f.s.Run(Spec{Name: "half", Version: "v1", APIVersion: "v2"})
	waitPlan(t, f.s, "half", "/v2/plans/deploy", http.StatusOK)
	if fws := f.m.FrameworksByName("half"); len(fws) != 1 || fws[0].ID != f.s.Scheduler("half").FrameworkID() || !fws[0].Active {
		t.Errorf("failover: %+v", fws)
	}
	if n := len(f.m.Volumes("half-role")); n != 3 {
		t.Errorf("%d volumes after failover", n)
	}
}

func TestFaultsOnSchedulers(t *testing.T) {
	f := newFixture(t)
	f.s.Run(Spec{Name: "x", Version: "1"})
	f.s.Faults().Add(fault.Rule{Status: 503, Count: 1})
	if code, _ := get(t, f.s.Handler("x"), "/v1/plans/deploy"); code != 503 {
		t.Errorf("fault: %d", code)
	}
	if code, _ := get(t, f.s.Handler("x"), "/v1/plans/deploy"); code == 503 {
		t.Errorf("fault applied twice")
	}
}
