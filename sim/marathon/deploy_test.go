package marathon

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

const webApp = `{"id":"/web","cmd":"python3 -m http.server $PORT0","instances":2,
 "healthChecks":[{"protocol":"HTTP","path":"/","gracePeriodSeconds":3,"intervalSeconds":2,"maxConsecutiveFailures":3}]}`

func TestDeploymentWaitsForHealth(t *testing.T) {
	e := newEnv(t, Options{Timing: Timing{
		DeploymentDuration: 20 * time.Millisecond, TaskStageDuration: 5 * time.Millisecond,
		HealthDelay: 300 * time.Millisecond, TimeScale: 0.01,
	}})
	ev := e.subscribe("?event_type=health_status_changed_event&event_type=deployment_success")
	start := time.Now()
	if r := e.do("POST", "/v2/apps", webApp); r.status != 201 {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	// Tasks run long before their first health result; the deployment waits.
	waitFor(t, "tasks running", func() bool { return e.app("/web")["tasksRunning"].(float64) == 2 })
	app := e.app("/web")
	if time.Since(start) < 300*time.Millisecond {
		if app["tasksHealthy"].(float64) != 0 || len(app["deployments"].([]any)) != 1 {
			t.Fatalf("healthy before the health delay: %v %v", app["tasksHealthy"], app["deployments"])
		}
		task := app["tasks"].([]any)[0].(map[string]any)
		if res := task["healthCheckResults"].([]any); len(res) != 0 {
			t.Fatalf("health results before delaySeconds: %v", res)
		}
	}
	hc := app["healthChecks"].([]any)[0].(map[string]any)
	for k, want := range map[string]any{"timeoutSeconds": 20.0, "delaySeconds": 15.0, "portIndex": 0.0, "ignoreHttp1xx": false, "ipProtocol": "IPv4"} {
		if hc[k] != want {
			t.Errorf("health check default %s = %v, want %v", k, hc[k], want)
		}
	}
	m := ev.next(t, "health_status_changed_event")
	if m.data["appId"] != "/web" || m.data["alive"] != true || m.data["instanceId"] == nil {
		t.Fatalf("health event %v", m.raw)
	}
	ev.next(t, "deployment_success")
	if time.Since(start) < 300*time.Millisecond {
		t.Fatal("deployment finished before tasks were healthy")
	}
	app = e.app("/web")
	if app["tasksHealthy"].(float64) != 2 || app["tasksUnhealthy"].(float64) != 0 {
		t.Fatalf("counts %v/%v", app["tasksHealthy"], app["tasksUnhealthy"])
	}
	res := app["tasks"].([]any)[0].(map[string]any)["healthCheckResults"].([]any)[0].(map[string]any)
	if res["alive"] != true || res["consecutiveFailures"] != 0.0 || res["firstSuccess"] == nil || res["lastFailureCause"] != nil {
		t.Fatalf("health result %v", res)
	}
}

func TestHealthFlipGraceAndKill(t *testing.T) {
	e := newEnv(t, Options{})
	ev := e.subscribe("?event_type=health_status_changed_event&event_type=unhealthy_instance_kill_event&event_type=instance_health_changed_event")
	// grace 3 s, interval 2 s, scaled by 0.01: 30 ms and 20 ms.
	if r := e.do("POST", "/v2/apps", webApp); r.status != 201 {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	e.waitIdle()
	app := e.app("/web")
	if app["tasksHealthy"].(float64) != 2 {
		t.Fatalf("not healthy: %v", app["tasksHealthy"])
	}
	taskID := app["tasks"].([]any)[0].(map[string]any)["id"].(string)
	for len(ev.events) > 0 { // drop the startup events
		<-ev.events
	}

	// Flip one task: counts change, events report it.
	if r := e.control("POST", "/apps/web/health", `{"healthy":false,"taskId":"`+taskID+`"}`); r.status != 204 {
		t.Fatalf("flip: %d %s", r.status, r.body)
	}
	waitFor(t, "one unhealthy", func() bool {
		a := e.app("/web")
		return a["tasksUnhealthy"].(float64) == 1 && a["tasksHealthy"].(float64) == 1
	})
	m := ev.next(t, "health_status_changed_event")
	for m.data["alive"] != false {
		m = ev.next(t, "health_status_changed_event")
	}
	if m.data["appId"] != "/web" || !strings.HasPrefix(taskID, m.data["instanceId"].(string)) {
		t.Fatalf("event %s", m.raw)
	}
	if ih := ev.next(t, "instance_health_changed_event"); ih.data["runSpecId"] != "/web" {
		t.Fatalf("instance health event %s", ih.raw)
	}
	// maxConsecutiveFailures (3) kills the task; Marathon replaces it.
	kill := ev.next(t, "unhealthy_instance_kill_event")
	if kill.data["taskId"] != taskID {
		t.Fatalf("kill event %s", kill.raw)
	}
	waitFor(t, "replacement healthy", func() bool {
		a := e.app("/web")
		if a["tasksHealthy"].(float64) != 2 {
			return false
		}
		for _, tk := range a["tasks"].([]any) {
			if tk.(map[string]any)["id"] == taskID {
				return false
			}
		}
		return true
	})
	if ltf := e.app("/web")["lastTaskFailure"].(map[string]any); ltf["taskId"] != taskID || ltf["state"] != "TASK_KILLED" {
		t.Fatalf("lastTaskFailure %v", ltf)
	}

	// Whole app unhealthy; then healthy again.
	e.control("POST", "/apps/web/health", `{"healthy":false}`)
	waitFor(t, "all unhealthy", func() bool { return e.app("/web")["tasksUnhealthy"].(float64) == 2 })
	e.control("POST", "/apps/web/health", `{"healthy":true}`)
	waitFor(t, "all healthy", func() bool {
		a := e.app("/web")
		return a["tasksHealthy"].(float64) == 2 && a["tasksUnhealthy"].(float64) == 0
	})
}

func TestGracePeriodIgnoresFailures(t *testing.T) {
	e := newEnv(t, Options{Timing: Timing{DeploymentDuration: 20 * time.Millisecond, TaskStageDuration: 5 * time.Millisecond,
		HealthDelay: 10 * time.Millisecond, TimeScale: 0.01}})
	// grace 300 s scaled = 3 s: failing checks in that window leave no result.
	if r := e.do("POST", "/v2/apps", `{"id":"/slow","cmd":"x y","healthChecks":[{"protocol":"TCP","gracePeriodSeconds":300,"intervalSeconds":1}]}`); r.status != 201 {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	if err := e.srv.SetHealth("/slow", "", false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "running", func() bool { return e.app("/slow")["tasksRunning"].(float64) == 1 })
	time.Sleep(200 * time.Millisecond)
	app := e.app("/slow")
	res := app["tasks"].([]any)[0].(map[string]any)["healthCheckResults"].([]any)
	if len(res) != 0 || app["tasksUnhealthy"].(float64) != 0 || app["tasksHealthy"].(float64) != 0 {
		t.Fatalf("failures within the grace period counted: %v", app)
	}
	if len(app["deployments"].([]any)) != 1 {
		t.Fatal("deployment of an app that never got healthy finished")
	}
}

func TestForcedUpdateCancelsRunningDeployment(t *testing.T) {
	e := newEnv(t, Options{Timing: Timing{DeploymentDuration: 2 * time.Second, TaskStageDuration: 10 * time.Millisecond}})
	ev := e.subscribe("?event_type=deployment_failed&event_type=deployment_info")
	r := e.do("POST", "/v2/apps", `{"id":"/f","cmd":"sleep 1","instances":1}`)
	first := r.header.Get("Marathon-Deployment-Id")
	if r := e.do("PUT", "/v2/apps/f", `{"instances":3}`); r.status != 409 {
		t.Fatalf("expected 409, got %d", r.status)
	}
	r = e.do("PUT", "/v2/apps/f?force=true", `{"instances":3,"cmd":"sleep 2"}`)
	if r.status != 200 || r.json(t)["deploymentId"] == first {
		t.Fatalf("forced PUT: %d %s", r.status, r.body)
	}
	second := r.json(t)["deploymentId"].(string)
	if r.header.Get("Marathon-Deployment-Id") != second {
		t.Fatal("Marathon-Deployment-Id header missing")
	}
	f := ev.next(t, "deployment_failed")
	if f.data["id"] != first {
		t.Fatalf("deployment_failed for %v, want %s", f.data["id"], first)
	}
	var list []map[string]any
	_ = json.Unmarshal(e.do("GET", "/v2/deployments", "").body, &list)
	if len(list) != 1 || list[0]["id"] != second {
		t.Fatalf("deployments after force: %v", list)
	}
	app := e.app("/f")
	if app["cmd"] != "sleep 2" || app["instances"] != 3.0 {
		t.Fatalf("definition not updated: %v", app)
	}
	if a := list[0]["steps"].([]any)[0].(map[string]any)["actions"].([]any)[0].(map[string]any); a["action"] != "RestartApplication" {
		t.Fatalf("config change should restart: %v", a)
	}
}

func TestRevertAndCancelDeployment(t *testing.T) {
	e := newEnv(t, Options{})
	e.do("POST", "/v2/apps", `{"id":"/r","cmd":"sleep 1","instances":1,"labels":{"v":"1"}}`)
	e.waitIdle()
	before := e.app("/r")
	e.srv.SetTiming(Timing{DeploymentDuration: 5 * time.Second, TaskStageDuration: 10 * time.Millisecond})
	r := e.do("PUT", "/v2/apps/r", `{"cmd":"sleep 2","labels":{"v":"2"}}`)
	dep := r.json(t)["deploymentId"].(string)
	if got := e.app("/r"); got["cmd"] != "sleep 2" || got["version"] == before["version"] {
		t.Fatalf("update not visible: %v", got)
	}
	// DELETE without force reverts: a new deployment restores the definition.
	e.srv.SetTiming(fastTiming)
	r = e.do("DELETE", "/v2/deployments/"+dep, "")
	if r.status != 200 || r.json(t)["deploymentId"] == dep {
		t.Fatalf("revert: %d %s", r.status, r.body)
	}
	e.waitIdle()
	after := e.app("/r")
	if after["cmd"] != "sleep 1" || after["labels"].(map[string]any)["v"] != "1" || after["version"] != before["version"] {
		t.Fatalf("definition not restored: %v", after)
	}
	if after["tasksRunning"].(float64) != 1 {
		t.Fatalf("tasks after revert: %v", after["tasksRunning"])
	}

	// force=true cancels without rollback: 202, empty body.
	e.srv.SetTiming(Timing{DeploymentDuration: 5 * time.Second, TaskStageDuration: 10 * time.Millisecond})
	r = e.do("PUT", "/v2/apps/r", `{"instances":2}`)
	dep = r.json(t)["deploymentId"].(string)
	r = e.do("DELETE", "/v2/deployments/"+dep+"?force=true", "")
	if r.status != 202 || len(r.body) != 0 {
		t.Fatalf("cancel: %d %q", r.status, r.body)
	}
	if e.deploymentCount() != 0 || e.app("/r")["instances"] != 2.0 {
		t.Fatal("cancel should keep the new definition and drop the deployment")
	}
	if r := e.do("DELETE", "/v2/deployments/nope", ""); r.status != 404 || r.json(t)["message"] != "DeploymentPlan nope does not exist" {
		t.Fatalf("unknown deployment: %d %s", r.status, r.body)
	}

	// Reverting a creation removes the app.
	r = e.do("POST", "/v2/apps", `{"id":"/new","cmd":"sleep 1"}`)
	e.do("DELETE", "/v2/deployments/"+r.header.Get("Marathon-Deployment-Id"), "")
	e.srv.SetTiming(fastTiming)
	waitFor(t, "app removed", func() bool { return e.do("GET", "/v2/apps/new", "").status == 404 })
}

type recObserver struct {
	mu     sync.Mutex
	events []string
}

func (o *recObserver) AppRunning(v AppView) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, "running "+v.ID+" "+v.Env["SDK_UNINSTALL"]+" "+v.Labels["team"])
}

func (o *recObserver) AppRemoved(id string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, "removed "+id)
}

func (o *recObserver) list() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.events...)
}

func TestDeleteRestartAndObserver(t *testing.T) {
	e := newEnv(t, Options{})
	obs := &recObserver{}
	e.srv.AddObserver(obs)
	ev := e.subscribe("?event_type=app_terminated_event&event_type=status_update_event")
	e.do("POST", "/v2/apps", `{"id":"/d","cmd":"sleep 1","labels":{"team":"x"},"env":{"A":"1","S":{"secret":"s"}},"secrets":{"s":{"source":"/p"}}}`)
	e.waitIdle()
	first := e.app("/d")["tasks"].([]any)[0].(map[string]any)["id"]

	r := e.do("POST", "/v2/apps/d/restart", "")
	if r.status != 200 {
		t.Fatalf("restart: %d %s", r.status, r.body)
	}
	e.waitIdle()
	app := e.app("/d")
	if id := app["tasks"].([]any)[0].(map[string]any)["id"]; id == first || len(app["tasks"].([]any)) != 1 {
		t.Fatalf("restart did not replace the task: %v", app["tasks"])
	}
	vi := app["versionInfo"].(map[string]any)
	if vi["lastConfigChangeAt"] != app["version"] {
		t.Fatalf("restart is a config change: %v", vi)
	}

	e.do("PUT", "/v2/apps/d", `{"env":{"SDK_UNINSTALL":"true","S":{"secret":"s"}}}`)
	e.waitIdle()
	r = e.do("DELETE", "/v2/apps/d", "")
	if r.status != 200 || r.json(t)["deploymentId"] == nil {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if e.do("GET", "/v2/apps/d", "").status != 404 {
		t.Fatal("app still visible after DELETE")
	}
	if m := ev.next(t, "app_terminated_event"); m.data["appId"] != "/d" {
		t.Fatalf("terminated %s", m.raw)
	}
	waitFor(t, "observer calls", func() bool { return len(obs.list()) >= 4 })
	got := strings.Join(obs.list(), "|")
	want := "running /d  x|running /d  x|running /d true x|removed /d"
	if got != want {
		t.Fatalf("observer saw %q, want %q", got, want)
	}
	if r := e.do("DELETE", "/v2/apps/d", ""); r.status != 404 {
		t.Fatalf("second delete: %d", r.status)
	}
}

func TestFailNextDeploymentThenRecovers(t *testing.T) {
	e := newEnv(t, Options{})
	ev := e.subscribe("?event_type=deployment_failed&event_type=deployment_step_failure&event_type=status_update_event")
	e.srv.FailNextDeployment("/bad", "")
	e.do("POST", "/v2/apps", `{"id":"/bad","cmd":"sleep 1"}`)
	ev.next(t, "deployment_step_failure")
	f := ev.next(t, "deployment_failed")
	if f.data["reason"] == "" || f.data["plan"].(map[string]any)["target"] == nil {
		t.Fatalf("failed event %s", f.raw)
	}
	app := e.app("/bad")
	ltf, ok := app["lastTaskFailure"].(map[string]any)
	if !ok || ltf["state"] != "TASK_FAILED" || ltf["appId"] != "/bad" {
		t.Fatalf("lastTaskFailure %v", app["lastTaskFailure"])
	}
	if e.deploymentCount() != 0 {
		t.Fatal("failed deployment still listed")
	}
	// Marathon keeps launching after the backoff; the app comes up.
	waitFor(t, "relaunched", func() bool { return e.app("/bad")["tasksRunning"].(float64) == 1 })
}

func TestVersionsAndRollback(t *testing.T) {
	e := newEnv(t, Options{})
	e.do("POST", "/v2/apps", `{"id":"/v","cmd":"sleep 1","labels":{"n":"1"}}`)
	e.waitIdle()
	v1 := e.app("/v")["version"].(string)
	e.do("PUT", "/v2/apps/v", `{"labels":{"n":"2"}}`)
	e.waitIdle()
	var vs struct{ Versions []string }
	_ = json.Unmarshal(e.do("GET", "/v2/apps/v/versions", "").body, &vs)
	if len(vs.Versions) != 2 || vs.Versions[1] != v1 {
		t.Fatalf("versions %v", vs.Versions)
	}
	old := e.do("GET", "/v2/apps/v/versions/"+v1, "")
	if old.status != 200 || old.json(t)["labels"].(map[string]any)["n"] != "1" {
		t.Fatalf("old version: %d %s", old.status, old.body)
	}
	if r := e.do("PUT", "/v2/apps/v", `{"version":"`+v1+`","cmd":"x y"}`); r.status != 422 ||
		!strings.Contains(string(r.body), "The 'version' field may only be combined with the 'id' field.") {
		t.Fatalf("version plus fields: %d %s", r.status, r.body)
	}
	if r := e.do("PUT", "/v2/apps/v", `{"id":"/v","version":"`+v1+`"}`); r.status != 200 {
		t.Fatalf("rollback: %d %s", r.status, r.body)
	}
	e.waitIdle()
	if app := e.app("/v"); app["labels"].(map[string]any)["n"] != "1" || app["version"] == v1 {
		t.Fatalf("rollback result %v", app)
	}
	if r := e.do("GET", "/v2/apps/v/versions/2001-01-01T00:00:00.000Z", ""); r.status != 404 {
		t.Fatalf("unknown version: %d", r.status)
	}
}

func TestPartialUpdateAndReplace(t *testing.T) {
	e := newEnv(t, Options{})
	e.do("POST", "/v2/apps", `{"id":"/p","cmd":"sleep 1","env":{"A":"1"},"labels":{"x":"y"}}`)
	e.waitIdle()
	// Default partialUpdate=true merges top-level fields: env survives.
	r0 := e.do("PUT", "/v2/apps/p", `{"cmd":"sleep 2"}`)
	e.waitIdle()
	if app := e.app("/p"); app["env"] == nil || app["cmd"] != "sleep 2" {
		t.Fatalf("merge lost env: %v", app)
	} else if app["version"] != r0.json(t)["version"] {
		t.Fatalf("PUT answered version %v, the app has %v", r0.json(t)["version"], app["version"])
	}
	// partialUpdate=false replaces the definition: env is gone.
	if r := e.do("PUT", "/v2/apps/p?partialUpdate=false", `{"cmd":"sleep 3","labels":{"x":"y"}}`); r.status != 200 {
		t.Fatalf("replace: %d %s", r.status, r.body)
	}
	e.waitIdle()
	if app := e.app("/p"); app["env"] != nil || app["cmd"] != "sleep 3" {
		t.Fatalf("replace kept env: %v", app)
	}
	// Unchanged PUT: deployment with no steps, version kept.
	v := e.app("/p")["version"]
	r := e.do("PUT", "/v2/apps/p?partialUpdate=false", `{"cmd":"sleep 3","labels":{"x":"y"}}`)
	if r.status != 200 {
		t.Fatalf("same PUT: %d", r.status)
	}
	e.waitIdle()
	if e.app("/p")["version"] != v {
		t.Fatal("unchanged definition got a new version")
	}
	// Scale only: lastConfigChangeAt stays, lastScalingAt moves.
	e.do("PUT", "/v2/apps/p", `{"instances":2}`)
	e.waitIdle()
	vi := e.app("/p")["versionInfo"].(map[string]any)
	if vi["lastScalingAt"] == vi["lastConfigChangeAt"] {
		t.Fatalf("scale counted as config change: %v", vi)
	}
	// PUT to a missing app creates it; PATCH does not.
	if r := e.do("PUT", "/v2/apps/made/by/put", `{"cmd":"sleep 1"}`); r.status != 201 || r.header.Get("Location") == "" {
		t.Fatalf("PUT create: %d %s", r.status, r.body)
	}
	if r := e.do("PATCH", "/v2/apps/missing", `{"cmd":"sleep 1"}`); r.status != 404 {
		t.Fatalf("PATCH missing: %d", r.status)
	}
	if r := e.do("PATCH", "/v2/apps/p", `{"instances":1}`); r.status != 200 {
		t.Fatalf("PATCH: %d %s", r.status, r.body)
	}
	if e.app("/made/by/put")["cmd"] != "sleep 1" {
		t.Fatal("nested id not created")
	}
}

// TestRestartHonoursUpgradeStrategy follows task starts and ends through the
// event stream while an app restarts, and checks the number of live tasks
// against the upgradeStrategy: 0/0 (an SDK scheduler) replaces in place, 1/0
// may go one over, 1/1 may double.
func TestRestartHonoursUpgradeStrategy(t *testing.T) {
	for _, tc := range []struct {
		name     string
		strategy string
		n, max   int
	}{
		{"single instance 0/0", `"labels":{"MARATHON_SINGLE_INSTANCE_APP":"true"},"upgradeStrategy":{"minimumHealthCapacity":0,"maximumOverCapacity":0}`, 1, 1},
		{"no over-capacity 1/0", `"upgradeStrategy":{"minimumHealthCapacity":1,"maximumOverCapacity":0}`, 3, 4},
		{"default 1/1", ``, 3, 6},
		{"half 0.5/0", `"upgradeStrategy":{"minimumHealthCapacity":0.5,"maximumOverCapacity":0}`, 4, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			body := `{"id":"/u","cmd":"sleep 1","instances":` + itoa(tc.n)
			if tc.strategy != "" {
				body += "," + tc.strategy
			}
			if r := e.do("POST", "/v2/apps", body+"}"); r.status != 201 {
				t.Fatalf("POST: %d %s", r.status, r.body)
			}
			e.waitIdle()
			ev := e.subscribe("?event_type=status_update_event&event_type=deployment_success")
			waitFor(t, "subscriber", func() bool { return e.srv.bus.count() == 1 })
			live := tc.n
			peak := live
			e.do("POST", "/v2/apps/u/restart", "")
			for {
				m := ev.next(t)
				if m.typ == "deployment_success" {
					break
				}
				switch m.data["taskStatus"] {
				case "TASK_STAGING":
					live++
				case "TASK_KILLED", "TASK_FAILED":
					live--
				}
				peak = max(peak, live)
			}
			if peak > tc.max || live != tc.n {
				t.Fatalf("peak %d live tasks (max %d), %d at the end (want %d)", peak, tc.max, live, tc.n)
			}
			if tc.max > tc.n && peak <= tc.n && tc.name == "default 1/1" {
				t.Fatalf("1/1 should start the new tasks before killing the old: peak %d", peak)
			}
		})
	}
}
