package marathon

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/universe-operator/universe-operator/internal/testenv"
)

func readExample(t *testing.T, name string) []byte {
	t.Helper()
	dir := testenv.Shared(t, "marathon-api/v1.10-raml/v2/examples")
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// keptIn reports the first difference where got does not keep a value of
// sent: every field sent must come back unchanged, except port numbers 0
// (Marathon assigns service ports) and ids (made absolute). Fields Marathon
// adds with their defaults are allowed.
func keptIn(path string, sent, got any) string {
	switch s := sent.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: sent an object, got %v", path, got)
		}
		for k, v := range s {
			gv, ok := g[k]
			if !ok {
				return fmt.Sprintf("%s/%s: missing", path, k)
			}
			if (k == "port" || k == "servicePort") && v == 0.0 {
				if n, _ := gv.(float64); n < 10000 || n > 20000 {
					return fmt.Sprintf("%s/%s: port 0 came back as %v, want an assigned service port", path, k, gv)
				}
				continue
			}
			if path == "" && k == "id" {
				if gv != canonicalID(v.(string)) {
					return fmt.Sprintf("/id: %v came back as %v", v, gv)
				}
				continue
			}
			if diff := keptIn(path+"/"+k, v, gv); diff != "" {
				return diff
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(s) {
			return fmt.Sprintf("%s: sent %v, got %v", path, sent, got)
		}
		for i := range s {
			if diff := keptIn(fmt.Sprintf("%s(%d)", path, i), s[i], g[i]); diff != "" {
				return diff
			}
		}
		return ""
	default:
		if !reflect.DeepEqual(sent, got) {
			return fmt.Sprintf("%s: sent %v, got %v", path, sent, got)
		}
		return ""
	}
}

func unmarshal(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return v
}

func TestExamplesRoundTrip(t *testing.T) {
	e := newEnv(t, Options{})

	// app.json as published is not valid for Marathon 1.10 (cmd with args,
	// ipAddress with port definitions, an env secret the secrets map does not
	// hold): Marathon answers 422 and so does the simulator.
	appJSON := readExample(t, "app.json")
	r := e.do("POST", "/v2/apps", string(appJSON))
	if r.status != 422 {
		t.Fatalf("app.json: %d %s", r.status, r.body)
	}
	for _, want := range []string{"cannot specify both an IP address and port", "ipAddress/discovery is not allowed for Docker containers"} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("app.json 422 lacks %q: %s", want, r.body)
		}
	}
	// Made valid, every field it sends comes back.
	var fixed map[string]any
	_ = json.Unmarshal(appJSON, &fixed)
	delete(fixed, "args")
	delete(fixed, "ipAddress")
	fixed["env"].(map[string]any)["PASSWORD"] = map[string]any{"secret": "secret1"}
	body, _ := json.Marshal(fixed)
	if r := e.do("POST", "/v2/apps", string(body)); r.status != 201 {
		t.Fatalf("fixed app.json: %d %s", r.status, r.body)
	} else if diff := keptIn("", unmarshal(t, body), unmarshal(t, r.body)); diff != "" {
		t.Errorf("POST answer of app.json: %s", diff)
	}
	if diff := keptIn("", unmarshal(t, body), e.app("/foo")); diff != "" {
		t.Errorf("app.json read back: %s", diff)
	}

	// A relative id and the 1.10 app check.
	check := readExample(t, "app-check-http-example.json")
	if r := e.do("POST", "/v2/apps", string(check)); r.status != 201 {
		t.Fatalf("app-check-http-example.json: %d %s", r.status, r.body)
	}
	if diff := keptIn("", unmarshal(t, check), e.app("/http-index-test")); diff != "" {
		t.Errorf("app-check-http-example.json: %s", diff)
	}

	// apps_create.json through PUT /v2/apps, then apps_patch.json and
	// app_patch.json through PATCH.
	create := readExample(t, "apps_create.json")
	r = e.do("PUT", "/v2/apps", string(create))
	if r.status != 200 || r.json(t)["deploymentId"] == nil {
		t.Fatalf("apps_create.json: %d %s", r.status, r.body)
	}
	var apps []map[string]any
	_ = json.Unmarshal(create, &apps)
	for _, a := range apps {
		if diff := keptIn("", a, e.app(a["id"].(string))); diff != "" {
			t.Errorf("apps_create.json %s: %s", a["id"], diff)
		}
	}
	e.waitIdle()
	if r := e.do("PATCH", "/v2/apps", string(readExample(t, "apps_patch.json"))); r.status != 200 {
		t.Fatalf("apps_patch.json: %d %s", r.status, r.body)
	}
	if got := e.app("/test/sleep60"); got["cpus"] != 0.3 || got["cmd"] != "sleep 60" {
		t.Errorf("apps_patch.json lost fields: %v", got)
	}
	e.waitIdle()
	if r := e.do("PATCH", "/v2/apps/foo", string(readExample(t, "app_patch.json"))); r.status != 200 {
		t.Fatalf("app_patch.json: %d %s", r.status, r.body)
	}
	if got := e.app("/foo"); got["instances"] != 2.0 || got["user"] != "root" {
		t.Errorf("app_patch.json: %v", got)
	}
}

// keysOf returns the sorted keys of a JSON object.
func keysOf(v any) []string {
	m, _ := v.(map[string]any)
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestResponseShapesMatchExamples checks that answers carry every field of
// the published example answers.
func TestResponseShapesMatchExamples(t *testing.T) {
	e := newEnv(t, Options{})
	r := e.do("POST", "/v2/apps", `{"id":"/foo","cmd":"sleep 1","instances":2}`)
	depID := r.header.Get("Marathon-Deployment-Id")

	check := func(name string, example, got any) {
		t.Helper()
		have := map[string]bool{}
		for _, k := range keysOf(got) {
			have[k] = true
		}
		for _, k := range keysOf(example) {
			if !have[k] && k != "lastUnusedOffers" {
				t.Errorf("%s: answer lacks %q (has %v)", name, k, keysOf(got))
			}
		}
	}
	var deps []any
	_ = json.Unmarshal(e.do("GET", "/v2/deployments", "").body, &deps)
	exDeps := unmarshal(t, readExample(t, "deployments.json")).([]any)
	if len(deps) != 1 {
		t.Fatalf("deployments: %v", deps)
	}
	check("deployments.json", exDeps[0], deps[0])
	check("deployments.json currentActions", exDeps[0].(map[string]any)["currentActions"].([]any)[0],
		deps[0].(map[string]any)["currentActions"].([]any)[0])
	check("deployment_steps.json", unmarshal(t, readExample(t, "deployment_steps.json")), map[string]any{"steps": deps[0].(map[string]any)["steps"]})

	r = e.do("PUT", "/v2/apps/foo?force=true", `{"instances":3}`)
	check("deployments_result.json", unmarshal(t, readExample(t, "deployments_result.json")), r.json(t))
	if r.json(t)["deploymentId"] == depID {
		t.Error("forced update reused the deployment id")
	}

	check("info.json", unmarshal(t, readExample(t, "info.json")), e.do("GET", "/v2/info", "").json(t))
	exInfo := unmarshal(t, readExample(t, "info.json")).(map[string]any)
	info := e.do("GET", "/v2/info", "").json(t)
	check("info.json zookeeper_config", exInfo["zookeeper_config"], info["zookeeper_config"])

	e.waitIdle()
	app := e.app("/foo")
	exList := unmarshal(t, readExample(t, "app_list.json")).(map[string]any)["apps"].([]any)[0].(map[string]any)
	for _, k := range []string{"tasksStaged", "tasksRunning", "tasksHealthy", "tasksUnhealthy", "deployments", "version", "versionInfo", "upgradeStrategy", "backoffFactor", "labels"} {
		if _, ok := exList[k]; !ok {
			t.Fatalf("example lacks %s", k)
		}
		if _, ok := app[k]; !ok {
			t.Errorf("app lacks %s", k)
		}
	}
	exTask := unmarshal(t, readExample(t, "app_tasks.json")).(map[string]any)["tasks"].([]any)[0].(map[string]any)
	task := e.do("GET", "/v2/apps/foo/tasks", "").json(t)["tasks"].([]any)[0].(map[string]any)
	for _, k := range keysOf(exTask) {
		if _, ok := task[k]; !ok && k != "region" && k != "zone" {
			t.Errorf("task lacks %q", k)
		}
	}

	// The queue shows an app whose task crashed, waiting out its backoff.
	e.srv.SetTiming(Timing{DeploymentDuration: fastTiming.DeploymentDuration, TaskStageDuration: fastTiming.TaskStageDuration, TimeScale: 5})
	if _, err := e.srv.KillTasks("/foo", ""); err != nil {
		t.Fatal(err)
	}
	q := e.do("GET", "/v2/queue", "").json(t)["queue"].([]any)
	if len(q) != 1 {
		t.Fatalf("queue: %v", q)
	}
	exQueue := unmarshal(t, readExample(t, "queue.json")).(map[string]any)["queue"].([]any)[0]
	check("queue.json", exQueue, q[0])
	check("queue.json delay", exQueue.(map[string]any)["delay"], q[0].(map[string]any)["delay"])
}
