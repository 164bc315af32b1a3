package reconcile

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/errs"
)

var t0 = time.Date(2024, 5, 2, 10, 0, 0, 0, time.UTC)

// task builds an embedded task; alive lists its health-check results.
func task(state string, alive ...bool) string {
	var res []string
	for i, a := range alive {
		res = append(res, fmt.Sprintf(`{"alive":%v,"consecutiveFailures":%d,"instanceId":"a.marathon-%d"}`, a, map[bool]int{true: 0, false: 2}[a], i))
	}
	hc := ""
	if res != nil {
		hc = `,"healthCheckResults":[` + strings.Join(res, ",") + `]`
	}
	return fmt.Sprintf(`{"appId":"/a","id":"a.instance-x","host":"h","state":%q%s}`, state, hc)
}

// app builds an app answer with the given pieces.
func app(instances int, healthChecks int, tasks []string, deployments []string, extra string) []byte {
	var hcs, deps []string
	for i := 0; i < healthChecks; i++ {
		hcs = append(hcs, `{"protocol":"MESOS_HTTP","path":"/"}`)
	}
	for _, d := range deployments {
		deps = append(deps, fmt.Sprintf(`{"id":%q}`, d))
	}
	running := 0
	for _, t := range tasks {
		if strings.Contains(t, `"TASK_RUNNING"`) {
			running++
		}
	}
	s := fmt.Sprintf(`{"id":"/a","instances":%d,"healthChecks":[%s],"tasks":[%s],"deployments":[%s],"tasksRunning":%d%s}`,
		instances, strings.Join(hcs, ","), strings.Join(tasks, ","), strings.Join(deps, ","), running, extra)
	return []byte(s)
}

func TestStatusHealth(t *testing.T) {
	R := "TASK_RUNNING"
	tests := []struct {
		name      string
		app       []byte
		health    Health
		healthy   int
		unhealthy int
	}{
		{"all tasks healthy", app(2, 1, []string{task(R, true), task(R, true)}, nil, ""), HealthHealthy, 2, 0},
		{"one result not alive makes a task unhealthy", app(2, 2, []string{task(R, true, false), task(R, true, true)}, nil, ""), HealthUnhealthy, 1, 1},
		{"unhealthy wins over healthy", app(3, 1, []string{task(R, true), task(R, true), task(R, false)}, nil, ""), HealthUnhealthy, 2, 1},
		{"a task without results is neither", app(2, 1, []string{task(R, true), task(R)}, nil, ""), HealthNA, 1, 0},
		{"health checks, nothing running: idle", app(1, 1, nil, nil, ""), HealthIdle, 0, 0},
		{"no health checks, running: NA", app(1, 0, []string{task(R)}, nil, ""), HealthNA, 0, 0},
		{"no health checks, nothing running: NA", app(0, 0, nil, nil, ""), HealthNA, 0, 0},
		{"staging task with a failing check is unhealthy", app(1, 1, []string{task("TASK_STAGING", false)}, nil, ""), HealthUnhealthy, 0, 1},
		{"counts without embedded tasks", []byte(`{"id":"/a","healthChecks":[{}],"tasksRunning":2,"tasksHealthy":2,"tasksUnhealthy":0}`), HealthHealthy, 2, 0},
		{"counts without embedded tasks, unhealthy", []byte(`{"id":"/a","healthChecks":[{}],"tasksRunning":2,"tasksHealthy":1,"tasksUnhealthy":1}`), HealthUnhealthy, 1, 1},
		{"healthy count below running", []byte(`{"id":"/a","healthChecks":[{}],"tasksRunning":2,"tasksHealthy":1}`), HealthNA, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Status(tt.app, nil, nil, t0)
			if err != nil {
				t.Fatal(err)
			}
			if s.Health != tt.health || s.Tasks.Healthy != tt.healthy || s.Tasks.Unhealthy != tt.unhealthy {
				t.Errorf("health %s (%+v), want %s healthy %d unhealthy %d", s.Health, s.Tasks, tt.health, tt.healthy, tt.unhealthy)
			}
		})
	}
}

func TestStatusMarathonStatus(t *testing.T) {
	R := "TASK_RUNNING"
	running := []string{task(R)}
	delayed := &QueueEntry{AppID: "/a", Count: 1, Delay: &QueueDelay{TimeLeftSeconds: 60}, ObservedAt: t0}
	overdue := &QueueEntry{AppID: "/a", Count: 1, Delay: &QueueDelay{Overdue: true}, ObservedAt: t0}
	queued := &QueueEntry{AppID: "/a", Count: 1}
	sdk := `,"env":{"SDK_UNINSTALL":"true"}`
	tests := []struct {
		name  string
		app   []byte
		queue *QueueEntry
		now   time.Time
		want  MarathonStatus
	}{
		// each rule on its own
		{"sdk uninstall", app(1, 0, running, nil, sdk), nil, t0, StatusDeleting},
		{"scaled to zero", app(0, 0, nil, nil, ""), nil, t0, StatusStopped},
		{"delay running", app(1, 0, nil, nil, ""), delayed, t0.Add(30 * time.Second), StatusDelayed},
		{"queued, no deployment", app(1, 0, nil, nil, ""), queued, t0, StatusRecovering},
		{"deployment in flight", app(1, 0, nil, []string{"d1"}, ""), nil, t0, StatusDeploying},
		{"running", app(1, 0, running, nil, ""), nil, t0, StatusRunning},
		{"nothing at all", app(1, 0, nil, nil, ""), nil, t0, StatusNA},
		// precedence between neighbours
		{"deleting beats stopped", app(0, 0, nil, nil, sdk), nil, t0, StatusDeleting},
		{"deleting beats deploying", app(1, 0, nil, []string{"d1"}, sdk), nil, t0, StatusDeleting},
		{"empty SDK_UNINSTALL is not set", app(1, 0, running, nil, `,"env":{"SDK_UNINSTALL":""}`), nil, t0, StatusRunning},
		{"stopped beats delayed", app(0, 0, nil, nil, ""), delayed, t0, StatusStopped},
		{"stopped needs no running task", app(0, 0, running, nil, ""), nil, t0, StatusRunning},
		{"delayed beats recovering and deploying", app(1, 0, nil, []string{"d1"}, ""), delayed, t0, StatusDelayed},
		{"delay over by the clock", app(1, 0, nil, nil, ""), delayed, t0.Add(61 * time.Second), StatusRecovering},
		{"overdue delay is not delayed", app(1, 0, nil, nil, ""), overdue, t0, StatusRecovering},
		{"delay without observation time trusts overdue", app(1, 0, nil, nil, ""), &QueueEntry{Delay: &QueueDelay{TimeLeftSeconds: 1}}, t0.Add(time.Hour), StatusDelayed},
		{"queued with a deployment is deploying", app(1, 0, nil, []string{"d1"}, ""), queued, t0, StatusDeploying},
		{"deploying beats running", app(2, 0, running, []string{"d1"}, ""), nil, t0, StatusDeploying},
		{"instances default to 1", []byte(`{"id":"/a"}`), nil, t0, StatusNA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Status(tt.app, tt.queue, nil, tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if s.Status != tt.want {
				t.Errorf("status %s, want %s", s.Status, tt.want)
			}
		})
	}
}

func TestStatusServiceLink(t *testing.T) {
	fws := []Framework{{ID: "f1", Name: "spark", WebUIURL: "http://10.0.0.1:4040"}, {ID: "f2", Name: "nowebui"}}
	tests := []struct {
		name   string
		labels string
		want   string
	}{
		{"scheme and numeric index", `{"DCOS_SERVICE_NAME":"kafka","DCOS_SERVICE_SCHEME":"http","DCOS_SERVICE_PORT_INDEX":"0"}`, "/service/kafka/"},
		{"nested service name", `{"DCOS_SERVICE_NAME":"/prod/kafka","DCOS_SERVICE_SCHEME":"http","DCOS_SERVICE_PORT_INDEX":"1"}`, "/service/prod/kafka/"},
		{"no scheme", `{"DCOS_SERVICE_NAME":"kafka","DCOS_SERVICE_PORT_INDEX":"0"}`, ""},
		{"index not numeric", `{"DCOS_SERVICE_NAME":"kafka","DCOS_SERVICE_SCHEME":"http","DCOS_SERVICE_PORT_INDEX":"api"}`, ""},
		{"negative index", `{"DCOS_SERVICE_NAME":"kafka","DCOS_SERVICE_SCHEME":"http","DCOS_SERVICE_PORT_INDEX":"-1"}`, ""},
		{"framework with web UI", `{"DCOS_PACKAGE_FRAMEWORK_NAME":"spark"}`, "/service/spark/"},
		{"labels win over the framework", `{"DCOS_SERVICE_NAME":"spark-ui","DCOS_SERVICE_SCHEME":"http","DCOS_SERVICE_PORT_INDEX":"0","DCOS_PACKAGE_FRAMEWORK_NAME":"spark"}`, "/service/spark-ui/"},
		{"framework without web UI", `{"DCOS_PACKAGE_FRAMEWORK_NAME":"nowebui"}`, ""},
		{"framework not registered", `{"DCOS_PACKAGE_FRAMEWORK_NAME":"gone"}`, ""},
		{"incomplete service labels fall back to the framework", `{"DCOS_SERVICE_NAME":"x","DCOS_SERVICE_PORT_INDEX":"0","DCOS_PACKAGE_FRAMEWORK_NAME":"spark"}`, "/service/spark/"},
		{"nothing", `{}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Status([]byte(`{"id":"/a","labels":`+tt.labels+`}`), nil, fws, t0)
			if err != nil {
				t.Fatal(err)
			}
			if s.ServiceLink != tt.want {
				t.Errorf("link %q, want %q", s.ServiceLink, tt.want)
			}
		})
	}
}

func TestStatusFixture(t *testing.T) {
	s, err := Status(readFixture(t, "compare/plain-cmd.actual.json"), nil, nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	want := AppStatus{AppID: "/hello-world", Instances: 1, Tasks: TaskCounts{Running: 1, Healthy: 1}, Health: HealthHealthy,
		Status: StatusRunning, ServiceLink: "/service/hello-world/", HealthChecks: 1}
	if s.AppID != want.AppID || s.Instances != want.Instances || s.Tasks != want.Tasks || s.Health != want.Health ||
		s.Status != want.Status || s.ServiceLink != want.ServiceLink || s.HealthChecks != want.HealthChecks {
		t.Errorf("status %+v\nwant %+v", s, want)
	}
	if s.LastTaskFailure == nil || s.LastTaskFailure.State != "TASK_FAILED" || s.LastTaskFailure.Message != "Command exited with status 1" {
		t.Errorf("last task failure %+v", s.LastTaskFailure)
	}
	if !s.Converged() {
		t.Error("a healthy app without deployments has converged")
	}
	s2, _ := Status(readFixture(t, "compare/legacy-ip.actual.json"), nil, nil, t0)
	if s2.Status != StatusDeploying || len(s2.Deployments) != 1 || s2.Converged() {
		t.Errorf("legacy-ip: %+v", s2)
	}
}

func TestConverged(t *testing.T) {
	for _, tt := range []struct {
		s    AppStatus
		want bool
	}{
		{AppStatus{Instances: 2, HealthChecks: 1, Health: HealthHealthy, Tasks: TaskCounts{Running: 2, Healthy: 2}}, true},
		{AppStatus{Instances: 2, HealthChecks: 1, Health: HealthUnhealthy}, false},
		{AppStatus{Instances: 2, HealthChecks: 1, Health: HealthHealthy, Deployments: []string{"d"}}, false},
		{AppStatus{Instances: 2, Tasks: TaskCounts{Running: 2}}, true},
		{AppStatus{Instances: 2, Tasks: TaskCounts{Running: 1}}, false},
		{AppStatus{Instances: 0, HealthChecks: 1, Health: HealthIdle}, true},
	} {
		if got := tt.s.Converged(); got != tt.want {
			t.Errorf("Converged(%+v) = %v", tt.s, got)
		}
	}
}

func TestParseQueue(t *testing.T) {
	raw := readFixture(t, "queue.json")
	q, err := ParseQueue(raw, t0)
	if err != nil {
		t.Fatal(err)
	}
	e, ok := q["/tools/datadog-agent"]
	if !ok || e.Count != 1 || e.Delay == nil || !e.Delay.Overdue || !e.ObservedAt.Equal(t0) {
		t.Errorf("datadog entry %+v", e)
	}
	f := q["/foo"]
	if f.Count != 2 || f.Delay == nil || f.Delay.Overdue || f.Delay.TimeLeftSeconds != 30 {
		t.Errorf("foo entry %+v %+v", f, f.Delay)
	}
	if len(q) != 2 {
		t.Errorf("entries %d (pods must be skipped)", len(q))
	}
	s, _ := Status(app(1, 0, nil, nil, ""), &f, nil, t0.Add(10*time.Second))
	if s.Status != StatusDelayed {
		t.Errorf("status %s", s.Status)
	}
	for _, bad := range []string{`[]`, `{"queue":{}}`, `{`} {
		if _, err := ParseQueue([]byte(bad), t0); !errs.IsPermanent(err) {
			t.Errorf("ParseQueue(%s) = %v", bad, err)
		}
	}
	if q, err := ParseQueue([]byte(`{}`), t0); err != nil || len(q) != 0 {
		t.Errorf("empty queue: %v %v", q, err)
	}
}

func TestStatusErrors(t *testing.T) {
	if _, err := Status([]byte(`[]`), nil, nil, t0); !errs.IsPermanent(err) {
		t.Errorf("err = %v", err)
	}
	// Odd types never panic and fall back to defaults.
	s, err := Status([]byte(`{"id":1,"instances":"x","tasks":{},"deployments":7,"healthChecks":null,"labels":[],"tasksRunning":1e300}`), nil, nil, t0)
	if err != nil || s.Instances != 1 || s.Status != StatusNA {
		t.Errorf("odd app: %+v %v", s, err)
	}
}
