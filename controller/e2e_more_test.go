package controller_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/api"
	"github.com/universe-operator/universe-operator/sim"
	"github.com/universe-operator/universe-operator/sim/fault"
)

// waitIdle waits until a full pass has run after now and the queue drained.
func (h *harness) waitPassIdle() {
	h.t.Helper()
	p := h.ctl().Passes()
	h.ctl().TriggerPass()
	h.eventually("a pass", func() (bool, string) { return h.ctl().Passes() > p, "" })
	h.eventually("idle", func() (bool, string) { return h.ctl().Idle(), "busy" })
}

func TestNoOpPassMakesAtMostTwoRequests(t *testing.T) {
	h := newHarness(t, harnessOptions{interval: time.Hour})
	files := map[string]string{}
	for i := range 5 {
		n := fmt.Sprintf("g%d", i)
		files[n] = manifestYAML(n, "greeter", "", fmt.Sprintf(`{greeter: {name: /noop/%s}}`, n))
	}
	files["web"] = manifestYAML("web", "webapp", "", `{app: {id: /noop/web}}`)
	h.commitReleases(files)
	// The poll is an hour away: a restart loads the new manifests.
	h.stop()
	h.start()
	for n := range files {
		h.waitSynced(n, api.HealthHealthy)
	}
	h.waitPassIdle()
	time.Sleep(200 * time.Millisecond)
	for round := range 3 {
		p0 := h.ctl().Passes()
		before := len(h.requests())
		h.waitPassIdle()
		time.Sleep(100 * time.Millisecond)
		passes := int(h.ctl().Passes() - p0)
		var made []string
		for _, r := range h.requests()[before:] {
			if r.Path == "/v2/events" {
				continue
			}
			made = append(made, r.Method+" "+r.Path)
		}
		if len(made) > 2*passes {
			t.Fatalf("round %d: %d pass(es) with nothing to do made %d Marathon requests: %v", round, passes, len(made), made)
		}
		if !slices.Contains(made, "GET /v2/apps") {
			t.Fatalf("round %d: the pass did not list the apps: %v", round, made)
		}
	}
}

func TestDriftIsReportedAndCorrected(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.commitReleases(map[string]string{"web": manifestYAML("web", "webapp", "", `{app: {id: /test/drift}}`)})
	h.waitSynced("web", api.HealthHealthy)
	desired := h.desiredApp("web")
	h.stop()

	// Manual edits that keep the ownership labels.
	var m map[string]any
	if err := json.Unmarshal(desired, &m); err != nil {
		t.Fatal(err)
	}
	m["instances"] = 2
	m["env"].(map[string]any)["MESSAGE"] = "hacked"
	m["container"].(map[string]any)["docker"].(map[string]any)["image"] = "evil/image:6.6"
	delete(m, "healthChecks")
	edited, _ := json.Marshal(m)
	if _, err := h.mc.UpdateApp(context.Background(), "/test/drift", edited, true); err != nil {
		t.Fatal(err)
	}
	h.eventually("manual edit deployed", func() (bool, string) {
		a := h.app("/test/drift")
		return a.Instances == 2 && len(a.Deployments) == 0, "deploying"
	})
	putsBefore := h.writes("/test/drift").puts

	// diff shows the field-level difference.
	c, store := h.build(nil)
	rep, err := c.Diff(context.Background())
	store.Close()
	if err != nil {
		t.Fatal(err)
	}
	var item *struct{ paths []string }
	for _, it := range rep.Items {
		if it.Release == "web" {
			if it.Action != "update" {
				t.Fatalf("diff action %s: %+v", it.Action, it)
			}
			var paths []string
			for _, ch := range it.Changes {
				paths = append(paths, ch.Path)
			}
			item = &struct{ paths []string }{paths}
		}
	}
	if item == nil {
		t.Fatalf("diff has no item for web: %+v", rep.Items)
	}
	for _, want := range []string{"/instances", "/env/MESSAGE", "/container/docker/image", "/healthChecks"} {
		if !slices.ContainsFunc(item.paths, func(p string) bool { return strings.HasPrefix(p, want) }) {
			t.Fatalf("diff misses %s: %v", want, item.paths)
		}
	}

	// A read-only replica shows OutOfSync with the drift.
	h.startWith(fixedLeader(false))
	h.eventually("OutOfSync with drift", func() (bool, string) {
		r, _ := h.release("web")
		var paths []string
		for _, d := range r.Drift {
			paths = append(paths, d.Path)
		}
		return r.Sync == api.SyncOutOfSync && slices.Contains(paths, "/instances") && slices.Contains(paths, "/env/MESSAGE"),
			brief(r) + fmt.Sprint(paths)
	})
	h.stop()

	// The leader corrects it on its next pass, with one update.
	h.start()
	h.waitSynced("web", api.HealthHealthy)
	h.sameAsDesired("web", "/test/drift")
	if w := h.writes("/test/drift"); w.puts != putsBefore+1 {
		t.Fatalf("corrections: %d PUTs, want 1", w.puts-putsBefore)
	}
	r, _ := h.release("web")
	if !slices.ContainsFunc(r.Events, func(e api.Event) bool { return e.Reason == "Updated" && strings.Contains(e.Message, "drift") }) {
		t.Fatalf("no drift event: %+v", r.Events)
	}
	// A manual edit while running: corrected without a restart.
	if _, err := h.mc.UpdateApp(context.Background(), "/test/drift", edited, true); err != nil {
		t.Fatal(err)
	}
	h.eventually("corrected again", func() (bool, string) {
		a := h.app("/test/drift")
		return a.Instances == 1 && len(a.Deployments) == 0 && h.writes("/test/drift").puts == putsBefore+2, "not yet"
	})
	h.waitSynced("web", api.HealthHealthy)
}

func TestPruneRefusals(t *testing.T) {
	h := newHarness(t, harnessOptions{prune: true, fraction: 0.5})
	files := map[string]string{}
	for i := range 4 {
		n := fmt.Sprintf("p%d", i)
		files[n] = manifestYAML(n, "greeter", "", fmt.Sprintf(`{greeter: {name: /prune/%s}}`, n))
	}
	h.commitReleases(files)
	for n := range files {
		h.waitSynced(n, api.HealthHealthy)
	}
	pruneRefused := func(contains string) func() (bool, string) {
		return func() (bool, string) {
			l := h.list()
			return l.Controller != nil && strings.Contains(l.Controller.PruneRefused, contains), fmt.Sprint(l.Controller)
		}
	}

	// More than the fraction (3 of 4 > 50%): refused, nothing deleted.
	h.commitReleases(map[string]string{"p1": "", "p2": "", "p3": ""})
	h.eventually("fraction refusal", pruneRefused("more than the allowed"))
	var r api.Release
	h.eventually("p1 shows the refusal", func() (bool, string) {
		r, _ = h.release("p1")
		return r.Sync == api.SyncOutOfSync && strings.Contains(r.SyncReason, "PRUNE REFUSED"), brief(r)
	})
	if !slices.ContainsFunc(r.Events, func(e api.Event) bool { return e.Reason == "PruneRefused" }) {
		t.Fatalf("no refusal event: %+v", r.Events)
	}
	metrics := h.metrics()
	if !strings.Contains(metrics, "universe_operator_prune_refusing 1") {
		t.Fatal("prune refusal gauge not set")
	}
	h.waitPassIdle()
	for _, n := range []string{"p1", "p2", "p3"} {
		if h.app("/prune/"+n) == nil {
			t.Fatalf("%s deleted despite the refusal", n)
		}
	}

	// All manifests removed: refused (no prune_allow_empty).
	h.commitReleases(map[string]string{"p0": ""})
	h.eventually("empty refusal", pruneRefused("no release is declared"))
	h.waitPassIdle()
	if h.app("/prune/p0") == nil {
		t.Fatal("p0 deleted although everything looked removed")
	}

	// A source down: refused.
	h.commitReleases(map[string]string{"p0": files["p0"], "p1": files["p1"], "p2": files["p2"], "p3": files["p3"]})
	h.eventually("refusal cleared", func() (bool, string) {
		l := h.list()
		return l.Controller.PruneRefused == "", l.Controller.PruneRefused
	})
	h.uni.BareGit("update-ref", "-d", "refs/heads/main") // the universe source fails from now on
	h.eventually("the universe source failing", func() (bool, string) {
		for _, s := range h.list().Controller.Sources {
			if s.Role == "universe" && !s.Healthy && s.Error != "" {
				return true, ""
			}
		}
		return false, "healthy"
	})
	h.commitReleases(map[string]string{"p3": ""})
	h.eventually("source refusal", pruneRefused("a source failed to load"))
	h.waitPassIdle()
	if h.app("/prune/p3") == nil {
		t.Fatal("p3 deleted while a source failed")
	}
	// The source back: p3 goes (one of four is within the fraction).
	h.uni.Commit("back")
	h.eventually("p3 deleted", func() (bool, string) { return h.app("/prune/p3") == nil, "still there" })
	if h.app("/prune/p0") == nil || h.app("/prune/p1") == nil {
		t.Fatal("deleted too much")
	}
}

func (h *harness) metrics() string {
	resp, err := http.Get(h.apiURL() + "/metrics")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}

func TestMarathonFaults(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	faults := h.sim.Marathon.Faults()

	// 503 on everything: the release says why; converges after.
	faults.Add(fault.Rule{Path: "/v2/", Status: 503})
	h.commitReleases(map[string]string{"a": manifestYAML("a", "greeter", "", `{greeter: {name: /faults/a}}`)})
	h.eventually("a says why", func() (bool, string) {
		r, _ := h.release("a")
		return r.LastError != nil && r.LastError.Reason == "MarathonUnavailable" && strings.Contains(r.LastError.Message, "503") &&
			r.LastError.Class == "transient" && !r.LastError.RetryAt.IsZero(), brief(r)
	})
	h.eventually("controller says why", func() (bool, string) {
		l := h.list()
		return strings.Contains(l.Controller.MarathonError, "503"), l.Controller.MarathonError
	})
	faults.Clear()
	h.waitSynced("a", api.HealthHealthy)
	if w := h.writes("/faults/a"); w.posts != 1 {
		t.Fatalf("posts: %+v", w)
	}

	// Dropped connections on writes: the answer is lost; no duplicate.
	faults.Add(fault.Rule{Method: "POST", Path: "/v2/apps", Drop: true, Count: 2})
	h.commitReleases(map[string]string{"b": manifestYAML("b", "greeter", "", `{greeter: {name: /faults/b}}`)})
	h.waitSynced("b", api.HealthHealthy)
	if w := h.writes("/faults/b"); w.posts != 2 { // a's POST and b's
		t.Fatalf("posts: %+v", w)
	}
	// Dropped list calls: the loop keeps going.
	faults.Add(fault.Rule{Method: "GET", Path: "/v2/apps", Drop: true, Count: 3})
	h.waitPassIdle()
	h.waitSynced("b", api.HealthHealthy)

	// 409: a deployment started by hand is waited for, not forced.
	tm := h.sim.Marathon.Timing()
	slow := tm
	slow.DeploymentDuration = time.Minute
	h.sim.Marathon.SetTiming(slow)
	res, err := h.mc.UpdateApp(context.Background(), "/faults/a", json.RawMessage(`{"id":"/faults/a","instances":1,"cmd":"sleep 99","cpus":0.1,"mem":32,"labels":{"UNIVERSE_OPERATOR_RELEASE":"a","UNIVERSE_OPERATOR_HASH":"x"}}`), false)
	if err != nil {
		t.Fatal(err)
	}
	h.sim.Marathon.SetTiming(tm)
	h.commitReleases(map[string]string{"a": manifestYAML("a", "greeter", "", `{greeter: {name: /faults/a, message: changed}}`)})
	h.eventually("new definition loaded", func() (bool, string) {
		return strings.Contains(string(h.desiredApp("a")), "changed"), "old"
	})
	h.eventually("a waits (Progressing)", func() (bool, string) {
		r, _ := h.release("a")
		return r.Sync == api.SyncProgressing && slices.Contains(r.Deployments, res.DeploymentID), brief(r)
	})
	h.waitPassIdle()
	if w := h.writes("/faults/a"); w.puts != 0 {
		t.Fatalf("a was written while a deployment was in flight: %+v", w)
	}
	// The deployment ends (cancelled by hand): the change is made, once.
	if _, err := h.mc.DeleteDeployment(context.Background(), res.DeploymentID, true); err != nil {
		t.Fatal(err)
	}
	h.eventually("a updated", func() (bool, string) {
		a := h.app("/faults/a")
		return strings.Contains(string(a.Raw), "changed") && len(a.Deployments) == 0, "not yet"
	})
	h.waitSynced("a", api.HealthHealthy)
	forced := 0
	for _, r := range h.requests() {
		if r.Method == "PUT" && strings.Contains(r.Query, "force=true") {
			forced++
		}
	}
	if forced != 0 {
		t.Fatalf("%d forced writes", forced)
	}
	if w := h.writes("/faults/a"); w.puts != 1 {
		t.Fatalf("a: %d PUTs for one change", w.puts)
	}

	// 409 from Marathon on the write itself (a deployment started between
	// our read and our write): waited for, then done once.
	locked := `{"message":"App is locked by one or more deployments. Override with the option '?force=true'. View details at '/v2/deployments/<DEPLOYMENT_ID>'.","deployments":[{"id":"d-by-hand"}]}`
	faults.Add(fault.Rule{Method: "PUT", Path: "/v2/apps/faults/b", Status: 409, Body: locked, Count: 2})
	h.commitReleases(map[string]string{"b": manifestYAML("b", "greeter", "", `{greeter: {name: /faults/b, message: new}}`)})
	h.eventually("b waits on the lock", func() (bool, string) {
		r, _ := h.release("b")
		return r.LastError != nil && r.LastError.Reason == "DeploymentInFlight", brief(r)
	})
	h.eventually("b updated", func() (bool, string) {
		return strings.Contains(string(h.app("/faults/b").Raw), `"new"`), "not yet"
	})
	h.waitSynced("b", api.HealthHealthy)
	if w := h.writes("/faults/b"); w.puts != 1 {
		t.Fatalf("b: %d accepted PUTs", w.puts)
	}

	// 422: Failed with Marathon's details, not retried until the input changes.
	h.commitReleases(map[string]string{"bad": manifestYAML("bad", "badapp", "", `{cpus: -1, id: /faults/bad}`)})
	h.eventually("bad Failed", func() (bool, string) {
		r, _ := h.release("bad")
		return r.Sync == api.SyncFailed && r.LastError != nil && r.LastError.Reason == "MarathonRejected" &&
			strings.Contains(string(r.LastError.Details), "/cpus"), brief(r)
	})
	attempts := func() int {
		n := 0
		for _, r := range h.requests() {
			if r.Method == "POST" && r.Path == "/v2/apps" && r.Status == 422 {
				n++
			}
		}
		return n
	}
	n := attempts()
	h.waitPassIdle()
	h.waitPassIdle()
	if attempts() != n {
		t.Fatalf("a permanent failure was retried without an input change: %d -> %d", n, attempts())
	}
	h.commitReleases(map[string]string{"bad": manifestYAML("bad", "badapp", "", `{cpus: 0.2, id: /faults/bad}`)})
	h.waitSynced("bad", api.HealthNA) // badapp defines no health checks

	// A closed event stream: reconnected, events flow again.
	h.sim.Marathon.CloseEventStreams()
	h.eventually("reconnected", func() (bool, string) {
		l := h.list()
		return strings.HasPrefix(l.Controller.MarathonEvents, "connected"), l.Controller.MarathonEvents
	})
	// Everything converged; no duplicate deployments for any change.
	for _, n := range []string{"a", "b"} {
		h.waitSynced(n, api.HealthHealthy)
	}
	h.waitSynced("bad", api.HealthNA) // badapp defines no health checks
	if w := h.writes("/faults/a"); w.puts != 1 {
		t.Fatalf("a: %+v", w)
	}
}

func TestRestartMidDeployment(t *testing.T) {
	so := simOptionsSlow(1500 * time.Millisecond)
	h := newHarness(t, harnessOptions{simOpts: &so})
	h.commitReleases(map[string]string{"web": manifestYAML("web", "webapp", "", `{app: {id: /test/restart}}`)})
	h.eventually("POST made", func() (bool, string) { return h.writes("/test/restart").posts == 1, "" })
	a := h.app("/test/restart")
	if a == nil || len(a.Deployments) == 0 {
		t.Fatalf("the deployment should still run: %+v", a)
	}
	h.stop() // killed mid-deployment
	h.start()
	h.waitSynced("web", api.HealthHealthy)
	h.sameAsDesired("web", "/test/restart")
	if w := h.writes("/test/restart"); w.posts != 1 || w.puts != 0 {
		t.Fatalf("duplicate deployment after restart: %+v", w)
	}

	// Mid-update too.
	h.commitReleases(map[string]string{"web": manifestYAML("web", "webapp", "", `{app: {id: /test/restart, message: v2}}`)})
	h.eventually("PUT made", func() (bool, string) { return h.writes("/test/restart").puts == 1, "" })
	h.stop()
	h.start()
	h.waitSynced("web", api.HealthHealthy)
	if w := h.writes("/test/restart"); w.posts != 1 || w.puts != 1 {
		t.Fatalf("duplicate deployment after restart: %+v", w)
	}
}

func simOptionsSlow(d time.Duration) sim.Options {
	o := sim.FastOptions()
	o.Marathon.Timing.DeploymentDuration = d
	return o
}
