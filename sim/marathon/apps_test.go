package marathon

import (
	"encoding/json"
	"strings"
	"testing"
)

const sleepApp = `{"id":"/prod/kafka","cmd":"sleep 1000","instances":2,"cpus":0.5,"labels":{"team":"data","tier":"backend"},"custom":{"kept":true}}`

func TestCreateDeployRunAndDefaults(t *testing.T) {
	e := newEnv(t, Options{})
	r := e.do("POST", "/v2/apps", sleepApp)
	if r.status != 201 {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	depID := r.header.Get("Marathon-Deployment-Id")
	if depID == "" || !strings.HasSuffix(r.header.Get("Location"), "/prod/kafka") {
		t.Fatalf("headers: %v", r.header)
	}
	created := r.json(t)
	if deps := created["deployments"].([]any); len(deps) != 1 || deps[0].(map[string]any)["id"] != depID {
		t.Fatalf("deployments in body: %v", created["deployments"])
	}

	// The deployment is listed with its steps while it runs.
	var list []map[string]any
	if err := json.Unmarshal(e.do("GET", "/v2/deployments", "").body, &list); err != nil || len(list) != 1 {
		t.Fatalf("deployments: %v %v", err, list)
	}
	d := list[0]
	if d["id"] != depID || d["totalSteps"].(float64) != 2 || d["currentStep"].(float64) < 1 {
		t.Fatalf("deployment: %v", d)
	}
	steps := d["steps"].([]any)
	if a := steps[0].(map[string]any)["actions"].([]any)[0].(map[string]any); a["action"] != "StartApplication" || a["app"] != "/prod/kafka" {
		t.Fatalf("steps: %v", steps)
	}

	// Locked while it runs.
	if r := e.do("PUT", "/v2/apps/prod/kafka", `{"instances":3}`); r.status != 409 {
		t.Fatalf("PUT while locked: %d %s", r.status, r.body)
	} else if m := r.json(t); !strings.HasPrefix(m["message"].(string), "App is locked by one or more deployments.") ||
		m["deployments"].([]any)[0].(map[string]any)["id"] != depID {
		t.Fatalf("409 body: %s", r.body)
	}

	e.waitIdle()
	app := e.app("/prod/kafka")
	if app["tasksRunning"].(float64) != 2 || len(app["tasks"].([]any)) != 2 || len(app["deployments"].([]any)) != 0 {
		t.Fatalf("after deployment: running=%v tasks=%v deployments=%v", app["tasksRunning"], app["tasks"], app["deployments"])
	}
	// Defaults as Marathon 1.10 fills them in; sent fields kept.
	for k, want := range map[string]any{
		"backoffFactor": 1.15, "backoffSeconds": 1.0, "mem": 128.0, "disk": 0.0, "gpus": 0.0, "executor": "",
		"maxLaunchDelaySeconds": 300.0, "requirePorts": false, "killSelection": "YOUNGEST_FIRST", "role": "slave_public",
		"cpus": 0.5, "instances": 2.0,
	} {
		if app[k] != want {
			t.Errorf("%s = %v, want %v", k, app[k], want)
		}
	}
	if app["custom"].(map[string]any)["kept"] != true {
		t.Errorf("unknown field lost: %v", app["custom"])
	}
	us := app["upgradeStrategy"].(map[string]any)
	if us["minimumHealthCapacity"] != 1.0 || us["maximumOverCapacity"] != 1.0 {
		t.Errorf("upgradeStrategy %v", us)
	}
	pd := app["portDefinitions"].([]any)[0].(map[string]any)
	if p := pd["port"].(float64); p < 10000 || p > 20000 || pd["name"] != "default" || pd["protocol"] != "tcp" {
		t.Errorf("portDefinitions %v", pd)
	}
	if nw := app["networks"].([]any)[0].(map[string]any); nw["mode"] != "host" {
		t.Errorf("networks %v", app["networks"])
	}
	for _, absent := range []string{"env", "constraints", "healthChecks", "fetch", "dependencies", "lastTaskFailure"} {
		if _, ok := app[absent]; ok {
			t.Errorf("%s should be omitted when empty", absent)
		}
	}
	task := app["tasks"].([]any)[0].(map[string]any)
	if task["state"] != "TASK_RUNNING" || !strings.HasPrefix(task["id"].(string), "prod_kafka.instance-") || task["startedAt"] == nil {
		t.Errorf("task %v", task)
	}

	// Duplicate create.
	if r := e.do("POST", "/v2/apps", sleepApp); r.status != 409 || r.json(t)["message"] != "An app with id [/prod/kafka] already exists." {
		t.Fatalf("duplicate: %d %s", r.status, r.body)
	}
	// Unknown app.
	if r := e.do("GET", "/v2/apps/nope", ""); r.status != 404 || r.json(t)["message"] != "App '/nope' does not exist" {
		t.Fatalf("404: %d %s", r.status, r.body)
	}
}

func TestKeyOrderAndRawFieldsKept(t *testing.T) {
	e := newEnv(t, Options{})
	body := `{"zeta":1,"id":"order","cmd":"sleep 1","alpha":{"b":2,"a":1},"instances":0}`
	if r := e.do("POST", "/v2/apps", body); r.status != 201 {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	r := e.do("GET", "/v2/apps/order", "")
	s := string(r.body)
	iz, ii, ia := strings.Index(s, `"zeta"`), strings.Index(s, `"id":"/order"`), strings.Index(s, `"alpha":{"b":2,"a":1}`)
	if iz < 0 || ii < 0 || ia < 0 || !(iz < ii && ii < ia) {
		t.Fatalf("order not kept: %s", s)
	}
}
