package marathon

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestListFiltersAndEmbeds(t *testing.T) {
	e := newEnv(t, Options{})
	for _, a := range []string{
		`{"id":"/prod/kafka","cmd":"kafka","labels":{"env":"prod","tier":"data","owner":"a b"}}`,
		`{"id":"/prod/web","cmd":"nginx","labels":{"env":"prod","tier":"front"}}`,
		`{"id":"/dev/web","cmd":"nginx -g","labels":{"env":"dev","tier":"front"}}`,
		`{"id":"/nolabels","cmd":"sleep 1"}`,
	} {
		if r := e.do("POST", "/v2/apps", a); r.status != 201 {
			t.Fatalf("POST: %d %s", r.status, r.body)
		}
	}
	e.waitIdle()
	ids := func(q string) string {
		t.Helper()
		r := e.do("GET", "/v2/apps"+q, "")
		if r.status != 200 {
			t.Fatalf("%s: %d %s", q, r.status, r.body)
		}
		var out []string
		for _, a := range r.json(t)["apps"].([]any) {
			out = append(out, a.(map[string]any)["id"].(string))
		}
		return strings.Join(out, ",")
	}
	for q, want := range map[string]string{
		"":                                     "/dev/web,/nolabels,/prod/kafka,/prod/web",
		"?label=env":                           "/dev/web,/prod/kafka,/prod/web",
		"?label=env==prod":                     "/prod/kafka,/prod/web",
		"?label=env!=prod":                     "/dev/web",
		"?label=tier+in+(front,data)":          "/dev/web,/prod/kafka,/prod/web",
		"?label=tier+in+(front,front)":         "/dev/web,/prod/web",
		"?label=env==prod,tier+notin+(data)":   "/prod/web",
		"?label=owner==a%5C+b":                 "/prod/kafka",
		"?label=missing":                       "",
		"?id=WEB":                              "/dev/web,/prod/web",
		"?id=/prod/":                           "/prod/kafka,/prod/web",
		"?cmd=nginx&label=tier==front":         "/dev/web,/prod/web",
		"?label=env==dev&embed=apps.tasks":     "/dev/web",
		"?label=env%3D%3Dprod&id=kafka":        "/prod/kafka",
		"?label=tier%20in%20(front)%2Cenv":     "/dev/web,/prod/web",
		"?label=env%3D%3Dprod%2Ctier%3D%3Dfoo": "",
	} {
		if got := ids(q); got != want {
			t.Errorf("%s: got %q, want %q", q, got, want)
		}
	}
	if r := e.do("GET", "/v2/apps?label=env%3D%3D", ""); r.status != 422 || !strings.Contains(r.json(t)["message"].(string), "Can not parse label selector") {
		t.Errorf("bad selector: %d %s", r.status, r.body)
	}

	// Embeds: counts and deployments always; the rest on request.
	app := func(q string) map[string]any {
		t.Helper()
		return e.do("GET", "/v2/apps"+q, "").json(t)["apps"].([]any)[0].(map[string]any)
	}
	plain := app("?id=kafka")
	for _, k := range []string{"tasksRunning", "tasksStaged", "tasksHealthy", "tasksUnhealthy", "deployments"} {
		if _, ok := plain[k]; !ok {
			t.Errorf("list lacks %s", k)
		}
	}
	for _, k := range []string{"tasks", "lastTaskFailure", "taskStats", "readinessCheckResults"} {
		if _, ok := plain[k]; ok {
			t.Errorf("list without embed has %s", k)
		}
	}
	full := app("?id=kafka&embed=apps.tasks&embed=apps.taskStats&embed=apps.readiness&embed=apps.lastTaskFailure")
	if len(full["tasks"].([]any)) != 1 || full["readinessCheckResults"] == nil {
		t.Errorf("embedded: %v", full)
	}
	stats := full["taskStats"].(map[string]any)["totalSummary"].(map[string]any)["stats"].(map[string]any)
	if stats["counts"].(map[string]any)["running"] != 1.0 || stats["lifeTime"] == nil {
		t.Errorf("taskStats %v", full["taskStats"])
	}
	if _, ok := app("?id=kafka&embed=apps.failures")["tasks"]; !ok {
		t.Error("apps.failures should embed tasks")
	}
	// The label indexes follow label changes.
	e.do("PUT", "/v2/apps/prod/web", `{"labels":{"env":"staging","tier":"front"}}`)
	if got := ids("?label=env==prod"); got != "/prod/kafka" {
		t.Errorf("after relabel env==prod: %q", got)
	}
	if got := ids("?label=env+in+(staging,dev)"); got != "/dev/web,/prod/web" {
		t.Errorf("after relabel env in: %q", got)
	}
	if r := e.do("PUT", "/v2/apps/prod/web?partialUpdate=false", `{"cmd":"nginx"}`); r.status != 409 {
		t.Errorf("update during the relabel deployment: %d", r.status)
	}
	e.waitIdle()
	if r := e.do("PUT", "/v2/apps/prod/web?partialUpdate=false", `{"cmd":"nginx"}`); r.status != 200 {
		t.Errorf("replace: %d %s", r.status, r.body)
	}
	if got := ids("?label=tier"); got != "/dev/web,/prod/kafka" {
		t.Errorf("after dropping labels: %q", got)
	}
	// Group listing.
	r := e.do("GET", "/v2/apps/prod/*", "")
	if r.status != 200 || len(r.json(t)["*"].([]any)) != 2 {
		t.Errorf("group listing: %d %s", r.status, r.body)
	}
}

func TestKillBackoffQueueAndTasks(t *testing.T) {
	// Backoff 1 s scaled by 0.2 = 200 ms, growing by backoffFactor.
	e := newEnv(t, Options{Timing: Timing{DeploymentDuration: 20 * time.Millisecond, TaskStageDuration: 5 * time.Millisecond, TimeScale: 0.2}})
	ev := e.subscribe("?event_type=status_update_event")
	e.do("POST", "/v2/apps", `{"id":"/k","cmd":"sleep 1","instances":2,"backoffSeconds":1,"backoffFactor":2}`)
	e.waitIdle()
	tasks := e.do("GET", "/v2/apps/k/tasks", "").json(t)["tasks"].([]any)
	victim := tasks[0].(map[string]any)["id"].(string)

	r := e.control("POST", "/apps/k/kill", `{"taskId":"`+victim+`"}`)
	if r.status != 200 || !strings.Contains(string(r.body), victim) {
		t.Fatalf("kill: %d %s", r.status, r.body)
	}
	// The replacement waits out the backoff: /v2/queue shows it.
	q := e.do("GET", "/v2/queue", "").json(t)["queue"].([]any)
	if len(q) != 1 {
		t.Fatalf("queue %v", q)
	}
	entry := q[0].(map[string]any)
	delay := entry["delay"].(map[string]any)
	if entry["count"] != 1.0 || delay["overdue"] != false || delay["timeLeftSeconds"].(float64) < 1 || entry["app"].(map[string]any)["id"] != "/k" {
		t.Fatalf("queue entry %v", entry)
	}
	for {
		m := ev.next(t, "status_update_event")
		if m.data["taskId"] == victim && m.data["taskStatus"] == "TASK_FAILED" {
			break
		}
	}
	app := e.app("/k")
	if app["tasksRunning"].(float64) != 1 || app["lastTaskFailure"].(map[string]any)["taskId"] != victim {
		t.Fatalf("after kill: %v", app)
	}
	waitFor(t, "replacement", func() bool { return e.app("/k")["tasksRunning"].(float64) == 2 })
	if q := e.do("GET", "/v2/queue", "").json(t)["queue"].([]any); len(q) != 0 {
		t.Fatalf("queue after relaunch %v", q)
	}

	// Crash loop: the delay grows (1 s, 2 s, 4 s... scaled).
	if r := e.control("POST", "/apps/k/crash-loop", `{"enabled":true}`); r.status != 204 {
		t.Fatalf("crash-loop: %d", r.status)
	}
	var delays []float64
	waitFor(t, "growing backoff", func() bool {
		q := e.do("GET", "/v2/queue", "").json(t)["queue"].([]any)
		if len(q) == 1 {
			d := q[0].(map[string]any)["delay"].(map[string]any)["timeLeftSeconds"].(float64)
			if len(delays) == 0 || d != delays[len(delays)-1] {
				delays = append(delays, d)
			}
		}
		return len(delays) >= 1 && delays[len(delays)-1] >= 2
	})
	// DELETE /v2/queue/{id}/delay resets it.
	if r := e.do("DELETE", "/v2/queue/k/delay", ""); r.status != 200 {
		t.Fatalf("reset delay: %d %s", r.status, r.body)
	}
	e.control("POST", "/apps/k/crash-loop", `{"enabled":false}`)
	waitFor(t, "recovered", func() bool { return e.app("/k")["tasksRunning"].(float64) == 2 })
	if r := e.do("DELETE", "/v2/queue/k/delay", ""); r.status != 404 {
		t.Fatalf("reset without delay: %d", r.status)
	}

	// API kills: the task is replaced at once; with scale=true the app shrinks.
	tasks = e.do("GET", "/v2/apps/k/tasks", "").json(t)["tasks"].([]any)
	one := tasks[0].(map[string]any)["id"].(string)
	r = e.do("DELETE", "/v2/apps/k/tasks/"+one, "")
	if r.status != 200 || r.json(t)["task"].(map[string]any)["id"] != one {
		t.Fatalf("kill task: %d %s", r.status, r.body)
	}
	waitFor(t, "replaced", func() bool { return e.app("/k")["tasksRunning"].(float64) == 2 })
	two := e.do("GET", "/v2/apps/k/tasks", "").json(t)["tasks"].([]any)[0].(map[string]any)["id"].(string)
	r = e.do("DELETE", "/v2/apps/k/tasks/"+two+"?scale=true", "")
	if r.status != 200 || r.json(t)["deploymentId"] == nil {
		t.Fatalf("kill and scale: %d %s", r.status, r.body)
	}
	e.waitIdle()
	if app := e.app("/k"); app["instances"] != 1.0 || app["tasksRunning"].(float64) != 1 {
		t.Fatalf("after scale down: %v %v", app["instances"], app["tasksRunning"])
	}
	if r := e.do("DELETE", "/v2/apps/k/tasks/nope", ""); r.status != 404 {
		t.Fatalf("unknown task: %d", r.status)
	}
	if r := e.do("GET", "/v2/tasks?status=running", ""); len(r.json(t)["tasks"].([]any)) != 1 {
		t.Fatalf("/v2/tasks %s", r.body)
	}
}

func TestFaults(t *testing.T) {
	e := newEnv(t, Options{})
	// Two 503s on /v2/apps, then normal service.
	if r := e.control("POST", "/faults", `{"rules":[{"path":"/v2/apps","count":2}]}`); r.status != 204 {
		t.Fatalf("fault: %d %s", r.status, r.body)
	}
	for i := 0; i < 2; i++ {
		if r := e.do("GET", "/v2/apps", ""); r.status != 503 {
			t.Fatalf("call %d: %d", i, r.status)
		}
	}
	if r := e.do("GET", "/v2/apps", ""); r.status != 200 {
		t.Fatalf("after faults: %d", r.status)
	}
	// A dropped connection.
	e.srv.Faults().Add(faultRule("GET", "/v2/info", true))
	if _, err := http.Get(e.api.URL + "/v2/info"); err == nil {
		t.Fatal("dropped connection answered")
	}
	// Latency.
	e.control("DELETE", "/faults", "")
	e.control("POST", "/faults", `{"latencyMs":80}`)
	start := time.Now()
	e.do("GET", "/ping", "")
	if time.Since(start) < 80*time.Millisecond {
		t.Fatal("latency not applied")
	}
	e.control("DELETE", "/faults", "")
	log := e.srv.RequestLog()
	statuses := map[int]int{}
	for _, rec := range log {
		statuses[rec.Status]++
	}
	if statuses[503] != 2 || statuses[0] < 1 {
		t.Fatalf("request log statuses %v", statuses)
	}
}

func TestRequestLogClientID(t *testing.T) {
	e := newEnv(t, Options{RequestLogLimit: 2})
	e.do("GET", "/ping", "")
	e.do("POST", "/v2/apps", `{"id":"/x","cmd":"sleep 1"}`, "X-Client-Id", "controller-1")
	e.do("GET", "/v2/apps?label=a", "", "X-Client-Id", "controller-2")
	log := e.srv.RequestLog()
	if len(log) != 2 || log[0].ClientID != "controller-1" || log[0].Method != "POST" || log[0].Status != 201 ||
		log[1].ClientID != "controller-2" || log[1].Query != "label=a" || log[1].Path != "/v2/apps" {
		t.Fatalf("log %+v", log)
	}
}

func TestLeaderChangeAndStandby(t *testing.T) {
	e := newEnv(t, Options{Leader: "10.0.0.1:8080"})
	standby := httptest.NewServer(NewStandby(e.srv, func() string { return e.api.URL }))
	defer standby.Close()
	if got := e.do("GET", "/v2/leader", "").json(t)["leader"]; got != "10.0.0.1:8080" {
		t.Fatalf("leader %v", got)
	}
	if info := e.do("GET", "/v2/info", "").json(t); info["leader"] != "10.0.0.1:8080" || info["elected"] != true {
		t.Fatalf("info %v", info)
	}
	ev := e.subscribe("")
	ev.next(t, "event_stream_attached")

	// A leader change closes event streams and leaves no leader for a while.
	r := e.control("POST", "/leader", `{"leader":"10.0.0.2:8080","gapMs":300}`)
	if r.status != 200 {
		t.Fatalf("leader change: %d", r.status)
	}
	for range ev.events {
	}
	if r := e.do("GET", "/v2/leader", ""); r.status != 404 || r.json(t)["message"] != "There is no leader" {
		t.Fatalf("during election: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v2/apps", ""); r.status != 503 {
		t.Fatalf("API during election: %d", r.status)
	}
	waitFor(t, "new leader", func() bool { return e.do("GET", "/v2/leader", "").status == 200 })
	if got := e.do("GET", "/v2/leader", "").json(t)["leader"]; got != "10.0.0.2:8080" {
		t.Fatalf("new leader %v", got)
	}

	// The standby proxies the API and redirects the event stream.
	r = doReq(t, "POST", standby.URL+"/v2/apps", `{"id":"/via-standby","cmd":"sleep 1"}`)
	if r.status != 201 || r.header.Get("X-Marathon-Via") == "" {
		t.Fatalf("proxied POST: %d %v %s", r.status, r.header, r.body)
	}
	if e.app("/via-standby")["id"] != "/via-standby" {
		t.Fatal("proxied create not on the leader")
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", standby.URL+"/v2/events?event_type=deployment_success", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 307 || resp.Header.Get("Location") != e.api.URL+"/v2/events?event_type=deployment_success" {
		t.Fatalf("standby events: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if r := doReq(t, "GET", standby.URL+"/ping", ""); r.status != 200 || string(r.body) != "pong" {
		t.Fatalf("standby ping %d %s", r.status, r.body)
	}
	noLeader := httptest.NewServer(NewStandby(e.srv, func() string { return "" }))
	defer noLeader.Close()
	if r := doReq(t, "GET", noLeader.URL+"/v2/apps", ""); r.status != 503 {
		t.Fatalf("standby without leader: %d", r.status)
	}

	// DELETE /v2/leader abdicates.
	if r := e.do("DELETE", "/v2/leader", ""); r.status != 200 || r.json(t)["message"] != "Leadership abdicated" {
		t.Fatalf("abdicate: %d %s", r.status, r.body)
	}
	waitFor(t, "re-election", func() bool {
		r := e.do("GET", "/v2/leader", "")
		return r.status == 200 && r.json(t)["leader"] != "10.0.0.2:8080"
	})
}

func TestPingInfoPods(t *testing.T) {
	e := newEnv(t, Options{})
	if r := e.do("GET", "/ping", ""); string(r.body) != "pong" || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("ping %q %v", r.body, r.header)
	}
	if r := e.do("GET", "/ping", "", "Accept", "application/json"); string(r.body) != `"pong"` {
		t.Fatalf("json ping %q", r.body)
	}
	if r := e.do("GET", "/v2/pods", ""); string(r.body) != "[]" {
		t.Fatalf("pods %s", r.body)
	}
	if r := e.do("GET", "/v2/nope", ""); r.status != 404 {
		t.Fatalf("unknown route %d", r.status)
	}
	if r := e.do("POST", "/v2/info", "{}"); r.status != 405 {
		t.Fatalf("method %d", r.status)
	}
	state := e.control("GET", "/", "").json(t)
	if state["leader"] == nil || state["timing"] == nil {
		t.Fatalf("state %v", state)
	}
	r := e.control("PUT", "/timing", `{"deploymentDurationMs":1234,"timeScale":0.5}`)
	var tj map[string]float64
	_ = json.Unmarshal(r.body, &tj)
	if tj["deploymentDurationMs"] != 1234 || tj["timeScale"] != 0.5 || e.srv.Timing().DeploymentDuration != 1234*time.Millisecond {
		t.Fatalf("timing %s", r.body)
	}
	if r := e.control("POST", "/apps/nope/health", `{"healthy":false}`); r.status != 404 {
		t.Fatalf("control unknown app %d", r.status)
	}
	if r := e.control("POST", "/apps/nope/health", `{"bad":1}`); r.status != 400 {
		t.Fatalf("control bad body %d", r.status)
	}
	ids := []string{}
	for k := range state {
		ids = append(ids, k)
	}
	sort.Strings(ids)
	t.Logf("control state keys %v", ids)
}
