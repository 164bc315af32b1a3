package rollout

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/reconcile"
)

func TestJudge(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	entry := Entry{ID: 3, Hash: "h2", Deployment: "d1", DeployedAt: t0, Deadline: time.Minute, Outcome: InProgress}
	healthy := reconcile.AppStatus{Instances: 2, HealthChecks: 1, Health: reconcile.HealthHealthy,
		Tasks: reconcile.TaskCounts{Running: 2, Healthy: 2}}
	deploying := healthy
	deploying.Deployments = []string{"d1"}
	deploying.Health = reconcile.HealthNA
	deploying.Tasks = reconcile.TaskCounts{Running: 1, Healthy: 1}
	unhealthy := healthy
	unhealthy.Health = reconcile.HealthUnhealthy
	unhealthy.Tasks = reconcile.TaskCounts{Running: 2, Healthy: 1, Unhealthy: 1}
	deployingUnhealthy := unhealthy
	deployingUnhealthy.Deployments = []string{"d1"}
	noChecks := reconcile.AppStatus{Instances: 2, Health: reconcile.HealthNA, Tasks: reconcile.TaskCounts{Running: 2}}
	noChecksShort := noChecks
	noChecksShort.Tasks.Running = 1
	deployingShort := noChecksShort
	deployingShort.Deployments = []string{"d1"}
	failedNew := unhealthy
	failedNew.LastTaskFailure = &reconcile.TaskFailure{State: "TASK_FAILED", Message: "boom", TaskID: "t1", Version: "v2"}
	failedOld := healthy
	failedOld.LastTaskFailure = &reconcile.TaskFailure{State: "TASK_FAILED", Message: "old", Version: "v1"}
	other := deploying
	other.Deployments = []string{"d9"}

	obs := func(st reconcile.AppStatus) Observation {
		return Observation{Present: true, Hash: "h2", Version: "v2", Status: st}
	}
	cases := []struct {
		name    string
		app     Observation
		event   string
		now     time.Time
		verdict Verdict
		reason  string
		recheck time.Duration
	}{
		{"app gone", Observation{}, "", t0, VerdictSuperseded, "deleted outside", 0},
		{"hash changed", Observation{Present: true, Hash: "hx", Status: healthy}, "", t0, VerdictSuperseded, "changed outside", 0},
		{"deploying", obs(deploying), "", t0.Add(10 * time.Second), VerdictProgressing, "deployment in flight", 50 * time.Second},
		{"converged healthy", obs(healthy), "", t0.Add(time.Second), VerdictSucceeded, "2/2 tasks healthy", 0},
		{"converged without checks", obs(noChecks), "", t0.Add(time.Second), VerdictSucceeded, "no health checks", 0},
		{"short of instances", obs(noChecksShort), "", t0.Add(time.Second), VerdictFailed, "1/2 tasks running", 0},
		{"short of instances, deploying", obs(deployingShort), "", t0.Add(time.Second), VerdictProgressing, "1/2 tasks running", 59 * time.Second},
		{"deployment ended, unhealthy", obs(unhealthy), "", t0.Add(30 * time.Second), VerdictFailed, "deployment d1 ended but the app did not converge (health Unhealthy, 1/2 tasks healthy)", 0},
		{"deployment in flight, unhealthy", obs(deployingUnhealthy), "", t0.Add(30 * time.Second), VerdictProgressing, "health Unhealthy", 30 * time.Second},
		{"unhealthy past deadline", obs(deployingUnhealthy), "", t0.Add(61 * time.Second), VerdictFailed, "progress deadline of 1m0s", 0},
		{"deploying past deadline", obs(deploying), "", t0.Add(2 * time.Minute), VerdictFailed, "deployment in flight", 0},
		{"task of the new version failed", obs(failedNew), "", t0.Add(time.Second), VerdictFailed, "TASK_FAILED boom (task t1)", 0},
		{"old version's failure ignored", obs(failedOld), "", t0.Add(time.Second), VerdictSucceeded, "", 0},
		{"deployment_failed event", obs(unhealthy), "injected", t0.Add(time.Second), VerdictFailed, "deployment d1 failed: injected", 0},
		{"failed event but ours still listed", obs(deploying), "injected", t0.Add(time.Second), VerdictProgressing, "", 59 * time.Second},
		{"failed event, another deployment in flight", obs(other), "injected", t0.Add(time.Second), VerdictProgressing, "", 59 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := Judge(entry, tc.app, tc.event, tc.now)
			if d.Verdict != tc.verdict || !strings.Contains(d.Reason, tc.reason) || d.Recheck != tc.recheck {
				t.Fatalf("got %+v, want %s containing %q recheck %s", d, tc.verdict, tc.reason, tc.recheck)
			}
		})
	}
	// No deployment id recorded: a missing deployment proves nothing.
	e0 := entry
	e0.Deployment = ""
	if d := Judge(e0, obs(unhealthy), "", t0.Add(time.Second)); d.Verdict != VerdictProgressing {
		t.Fatalf("no deployment id: %+v", d)
	}
	// No deadline: progressing forever, no recheck.
	e := entry
	e.Deadline = 0
	if d := Judge(e, obs(deployingUnhealthy), "", t0.Add(time.Hour)); d.Verdict != VerdictProgressing || d.Recheck != 0 {
		t.Fatalf("no deadline: %+v", d)
	}
}

func TestWaitingFor(t *testing.T) {
	states := map[string]DepState{
		"db":    {Known: true, Sync: "Synced", Health: "Healthy", Ready: true},
		"cache": {Known: true, Sync: "Progressing", Health: "Unhealthy"},
		"late":  {},
	}
	cases := []struct {
		deps []string
		want string
	}{
		{nil, ""},
		{[]string{"db"}, ""},
		{[]string{"db", "cache"}, "waiting for cache (Progressing, health Unhealthy)"},
		{[]string{"late", "nope"}, "waiting for late (not reconciled yet), nope (not reconciled yet)"},
	}
	for _, tc := range cases {
		if got := WaitingFor(tc.deps, states); got != tc.want {
			t.Errorf("WaitingFor(%v) = %q, want %q", tc.deps, got, tc.want)
		}
	}
}

func TestDeleteBlockers(t *testing.T) {
	deps := map[string][]string{
		"web":   {"db", "cache"},
		"batch": {"db"},
		"db":    nil,
		"a":     {"b"},
		"b":     {"a"},
		"c":     {"a"},
	}
	alive := map[string]bool{"web": true, "batch": false, "db": true, "a": true, "b": true, "c": true}
	isAlive := func(n string) bool { return alive[n] }
	cases := []struct {
		name string
		want []string
	}{
		{"db", []string{"web"}},    // batch is gone already
		{"cache", []string{"web"}}, // even when cache is not declared itself
		{"web", nil},               // nobody depends on web
		{"a", []string{"c"}},       // b and a form a cycle: no order between them
		{"b", nil},                 // a depends on b, but b depends on a
		{"unknown", nil},           // nothing known
	}
	for _, tc := range cases {
		if got := DeleteBlockers(tc.name, deps, isAlive); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("DeleteBlockers(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
}
