package controller_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/universe-operator/universe-operator/api"
	"github.com/universe-operator/universe-operator/reconcile"
)

// desiredApp fetches the release's desired definition from the API.
func (h *harness) desiredApp(name string) []byte {
	h.t.Helper()
	resp, err := http.Get(h.apiURL() + "/api/v1/releases/" + name + "/definition")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil || resp.StatusCode != 200 {
		h.t.Fatalf("definition of %s: %d %v", name, resp.StatusCode, err)
	}
	return raw
}

// sameAsDesired checks that Marathon's app is exactly the desired one: no
// drift (Marathon's defaults aside) and the very same labels.
func (h *harness) sameAsDesired(name, id string) {
	h.t.Helper()
	desired := h.desiredApp(name)
	a := h.app(id)
	if a == nil {
		h.t.Fatalf("app %s is missing", id)
	}
	if d := reconcile.Compare(desired, a.Raw); d.Drifted() {
		h.t.Fatalf("app %s differs from the rendered definition:\n%s", id, d)
	}
	var want struct {
		Labels map[string]string `json:"labels"`
	}
	if err := json.Unmarshal(desired, &want); err != nil {
		h.t.Fatal(err)
	}
	if len(want.Labels) != len(a.Labels) {
		h.t.Fatalf("labels differ: want %v, got %v", want.Labels, a.Labels)
	}
	for k, v := range want.Labels {
		if a.Labels[k] != v {
			h.t.Fatalf("label %s: want %q, got %q", k, v, a.Labels[k])
		}
	}
	if a.Labels[reconcile.LabelRelease] != name {
		h.t.Fatalf("ownership label: %q", a.Labels[reconcile.LabelRelease])
	}
}

func TestLifecycle(t *testing.T) {
	h := newHarness(t, harnessOptions{prune: true})

	// A release appears in Git: the app is created exactly as rendered.
	h.commitReleases(map[string]string{"web": manifestYAML("web", "webapp", "1.0.0", `{app: {id: /test/web, message: one}}`)})
	r := h.waitSynced("web", api.HealthHealthy)
	if r.AppID != "/test/web" || r.Package != "webapp" || r.ResolvedVersion != "1.0.0" || r.DeployedVersion != "1.0.0" {
		t.Fatalf("status: %+v", r)
	}
	if r.Icon != "https://example.invalid/webapp-small.png" || r.Notes.PreInstall != "pre" || r.Notes.PostUninstall != "gone" {
		t.Fatalf("icon/notes: %q %+v", r.Icon, r.Notes)
	}
	if r.Tasks.Running != 1 || r.Tasks.Healthy != 1 || r.Status != "Running" {
		t.Fatalf("tasks/status: %+v %s", r.Tasks, r.Status)
	}
	h.sameAsDesired("web", "/test/web")
	if w := h.writes("/test/web"); w.posts != 1 || w.puts != 0 {
		t.Fatalf("writes after create: %+v", w)
	}

	// An options change: updated.
	h.commitReleases(map[string]string{"web": manifestYAML("web", "webapp", "1.0.0", `{app: {id: /test/web, message: two, instances: 2}}`)})
	h.eventually("update", func() (bool, string) {
		a := h.app("/test/web")
		return a != nil && a.Instances == 2 && a.TasksRunning == 2, "instances"
	})
	h.waitSynced("web", api.HealthHealthy)
	h.sameAsDesired("web", "/test/web")
	if a := h.app("/test/web"); !strings.Contains(string(a.Raw), `"MESSAGE":"two"`) {
		t.Fatalf("env not updated: %s", a.Raw)
	}
	if w := h.writes("/test/web"); w.posts != 1 || w.puts != 1 {
		t.Fatalf("writes after update: %+v", w)
	}

	// A new package revision whose template drops a field: gone in Marathon.
	if !strings.Contains(string(h.app("/test/web").Raw), "constraints") {
		t.Fatal("revision 0 should have constraints")
	}
	h.uni.WriteFiles(webappRevision(1, webappPkg1(), webappTemplate1))
	h.uni.Commit("webapp 1.1.0")
	h.commitReleases(map[string]string{"web": manifestYAML("web", "webapp", "latest", `{app: {id: /test/web, message: two, instances: 2}}`)})
	h.eventually("template update", func() (bool, string) {
		r, _ := h.release("web")
		return r.DeployedVersion == "1.1.0" && r.Sync == api.SyncSynced, brief(r)
	})
	a := h.app("/test/web")
	if strings.Contains(string(a.Raw), "constraints") {
		t.Fatalf("the dropped field is still in Marathon: %s", a.Raw)
	}
	h.sameAsDesired("web", "/test/web")
	if w := h.writes("/test/web"); w.posts != 1 || w.puts != 2 {
		t.Fatalf("writes after template change: %+v", w)
	}

	// The release removed: app deleted, release gone from the API.
	h.commitReleases(map[string]string{"web": "", "other": manifestYAML("other", "greeter", "", `{greeter: {name: /test/other}}`)})
	h.eventually("delete", func() (bool, string) {
		_, ok := h.release("web")
		return h.app("/test/web") == nil && !ok, "still there"
	})
	h.waitSynced("other", api.HealthHealthy)
	if w := h.writes("/test/web"); w.deletes != 1 {
		t.Fatalf("deletes: %+v", w)
	}
}

func TestUnownedAppIsNeverTouched(t *testing.T) {
	h := newHarness(t, harnessOptions{prune: true})
	// Someone else's app at the id a release wants.
	foreign := `{"id":"/test/taken","cmd":"sleep 100","cpus":0.1,"mem":32,"instances":1,"labels":{"OWNER":"someone"}}`
	if _, err := h.mc.CreateApp(context.Background(), json.RawMessage(foreign)); err != nil {
		t.Fatal(err)
	}
	h.eventually("foreign app running", func() (bool, string) {
		a := h.app("/test/taken")
		return a != nil && len(a.Deployments) == 0, "deploying"
	})
	before := h.app("/test/taken")
	h.commitReleases(map[string]string{"taken": manifestYAML("taken", "webapp", "", `{app: {id: /test/taken}}`)})
	h.eventually("Failed AppIDTaken", func() (bool, string) {
		r, _ := h.release("taken")
		return r.Sync == api.SyncFailed && r.LastError != nil && r.LastError.Reason == "AppIDTaken", brief(r)
	})
	r, _ := h.release("taken")
	if !strings.Contains(r.LastError.Message, "does not own") && !strings.Contains(r.SyncReason, "not own") {
		t.Fatalf("reason: %+v", r.LastError)
	}
	// Several more passes: still untouched, and no repeated POSTs.
	passes := h.ctl().Passes()
	h.eventually("two more passes", func() (bool, string) { return h.ctl().Passes() >= passes+2, "" })
	after := h.app("/test/taken")
	if after.Version != before.Version || after.Labels[reconcile.LabelRelease] != "" {
		t.Fatalf("the unowned app was changed: %s", after.Raw)
	}
	if w := h.writes("/test/taken"); w.puts != 0 || w.deletes != 0 || w.posts != 0 {
		t.Fatalf("writes to an unowned app: %+v", w)
	}
	// Removing the release does not delete the unowned app.
	h.commitReleases(map[string]string{"taken": "", "x": manifestYAML("x", "greeter", "", `{greeter: {name: /test/x}}`)})
	h.waitSynced("x", api.HealthHealthy)
	h.eventually("release gone", func() (bool, string) { _, ok := h.release("taken"); return !ok, "" })
	if h.app("/test/taken") == nil {
		t.Fatal("the unowned app was deleted")
	}
}
