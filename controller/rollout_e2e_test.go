package controller_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/api"
	"github.com/universe-operator/universe-operator/clients/marathon"
	"github.com/universe-operator/universe-operator/reconcile"
	"github.com/universe-operator/universe-operator/state"
)

// trackerRevision is one revision of the test package "tracker": one
// instance with a command health check that never kills (so the simulator's
// health switch decides), env TRACKER_VERSION = version. extra is added to
// package.json (e.g. `,"upgradesFrom":["1.0.0"]`).
func trackerRevision(rev int, version, extra string) map[string]string {
	dir := fmt.Sprintf("packages/T/tracker/%d/", rev)
	return map[string]string{
		dir + "package.json": fmt.Sprintf(`{"packagingVersion":"4.0","name":"tracker","version":%q,"maintainer":"t@example.invalid",`+
			`"description":"rollout tests","tags":["test"]%s}`, version, extra),
		dir + "config.json": `{"type":"object","properties":{"app":{"type":"object","properties":{` +
			`"id":{"type":"string","default":"/trk"},"instances":{"type":"integer","minimum":0,"default":1}}}}}`,
		dir + "marathon.json.mustache": fmt.Sprintf(`{"id":"{{app.id}}","instances":{{app.instances}},"cpus":0.1,"mem":32,`+
			`"cmd":"sleep 1000","env":{"TRACKER_VERSION":%q},"healthChecks":[{"protocol":"COMMAND","command":{"value":"true"},`+
			`"gracePeriodSeconds":1,"intervalSeconds":1,"maxConsecutiveFailures":0}]}`, version),
	}
}

// addRevisions commits package revisions to the universe repository.
func (h *harness) addRevisions(msg string, revs ...map[string]string) {
	h.t.Helper()
	for _, r := range revs {
		h.uni.WriteFiles(r)
	}
	h.uni.Commit(msg)
}

// waitRelease polls the status API until cond holds.
func (h *harness) waitRelease(name, what string, cond func(r api.Release) bool) api.Release {
	h.t.Helper()
	var got api.Release
	h.eventually(name+": "+what, func() (bool, string) {
		r, ok := h.release(name)
		if !ok {
			return false, "not in the status API"
		}
		got = r
		return cond(r), brief(r) + " history=" + historyBrief(r.History)
	})
	return got
}

func historyBrief(hist []api.Revision) string {
	var parts []string
	for _, r := range hist {
		s := fmt.Sprintf("#%d %s %s %s", r.ID, r.Kind, r.Version, r.Outcome)
		if r.Current {
			s += " current"
		}
		if r.Pinned {
			s += " pinned"
		}
		parts = append(parts, s)
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

// waitSettled waits until a release is Synced with nothing in flight,
// whatever its health (the example packages may or may not have health
// checks).
func (h *harness) waitSettled(name string) api.Release {
	h.t.Helper()
	return h.waitRelease(name, "Synced", func(r api.Release) bool { return r.Sync == api.SyncSynced && len(r.Deployments) == 0 })
}

// entry returns the history entry with id, or fails.
func entry(t *testing.T, r api.Release, id int) api.Revision {
	t.Helper()
	for _, e := range r.History {
		if e.ID == id {
			return e
		}
	}
	t.Fatalf("%s has no history entry #%d: %s", r.Name, id, historyBrief(r.History))
	return api.Revision{}
}

// morePasses waits for n more full passes and an idle queue.
func (h *harness) morePasses(n int) {
	h.t.Helper()
	for range n {
		h.waitPassIdle()
	}
}

// appIs checks that Marathon's app is exactly the definition def (a raw
// definition the controller wrote): same hash label, no drift.
func (h *harness) appIs(id string, def []byte) {
	h.t.Helper()
	a := h.app(id)
	if a == nil {
		h.t.Fatalf("app %s is missing", id)
	}
	if want := reconcile.HashLabel(def); a.Labels[reconcile.LabelHash] != want {
		h.t.Fatalf("app %s runs hash %s, want %s", id, a.Labels[reconcile.LabelHash], want)
	}
	if d := reconcile.Compare(def, a.Raw); d.Drifted() {
		h.t.Fatalf("app %s differs from the expected definition:\n%s", id, d)
	}
}

// postJSON sends a POST to the controller's API.
func (h *harness) post(path, body string) (int, string) {
	h.t.Helper()
	resp, err := http.Post(h.apiURL()+path, "application/json", strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestRolloutTracksLatest: a release tracking "latest" moves to every new
// revision committed to the Universe repository without human action (the
// poll), each rollout followed to health and recorded in the history.
func TestRolloutTracksLatest(t *testing.T) {
	h := newHarness(t, harnessOptions{prune: true})
	h.addRevisions("tracker 1.0.0", trackerRevision(0, "1.0.0", ""))
	h.commitReleases(map[string]string{"trk": manifestYAML("trk", "tracker", "latest", "")})
	r := h.waitSynced("trk", api.HealthHealthy)
	if r.DeployedVersion != "1.0.0" || len(r.History) != 1 {
		t.Fatalf("first deploy: %s %s", r.DeployedVersion, historyBrief(r.History))
	}
	h.waitRelease("trk", "#1 succeeded", func(r api.Release) bool { return len(r.History) == 1 && r.History[0].Outcome == "Succeeded" })

	h.addRevisions("tracker 1.1.0", trackerRevision(1, "1.1.0", ""))
	r = h.waitRelease("trk", "1.1.0 deployed and judged", func(r api.Release) bool {
		return r.DeployedVersion == "1.1.0" && r.Sync == api.SyncSynced && len(r.History) == 2 && r.History[0].Outcome == "Succeeded"
	})
	e1, e2 := entry(t, r, 1), entry(t, r, 2)
	if e1.Kind != "create" || e1.Version != "1.0.0" || e1.Release != 0 || e1.Outcome != "Succeeded" || e1.Current || !e1.Rollbackable {
		t.Fatalf("#1: %+v", e1)
	}
	if e2.Kind != "update" || e2.Version != "1.1.0" || e2.Release != 1 || !e2.Current || e2.Rollbackable ||
		e2.Universe == "" || e2.Manifest == "" || e2.Hash == "" || e2.AppID != "/trk" || e2.FinishedAt.Before(e2.DeployedAt) {
		t.Fatalf("#2: %+v", e2)
	}
	if a := h.app("/trk"); !strings.Contains(string(a.Raw), `"TRACKER_VERSION":"1.1.0"`) {
		t.Fatalf("app not upgraded: %s", a.Raw)
	}
	if w := h.writes("/trk"); w.posts != 1 || w.puts != 1 {
		t.Fatalf("writes: %+v", w)
	}
	if !slices.ContainsFunc(r.Events, func(e api.Event) bool { return e.Reason == "RolloutSucceeded" }) {
		t.Fatalf("no RolloutSucceeded event: %+v", r.Events)
	}
}

// TestRolloutWebhook: with the poll an hour away, a push to the Universe
// repository deploys its new revision at once.
func TestRolloutWebhook(t *testing.T) {
	secret := []byte("s3cret")
	h := newHarness(t, harnessOptions{interval: time.Hour, webhook: secret})
	h.addRevisions("tracker 1.0.0", trackerRevision(0, "1.0.0", ""))
	h.commitReleases(map[string]string{"trk": manifestYAML("trk", "tracker", "", "")})
	h.stop() // the poll is an hour away: a restart loads the manifests
	h.start()
	h.waitSynced("trk", api.HealthHealthy)

	h.addRevisions("tracker 1.1.0", trackerRevision(1, "1.1.0", ""))
	body, _ := json.Marshal(map[string]any{
		"ref": "refs/heads/main", "after": h.uni.Head(),
		"repository": map[string]any{"clone_url": h.gitSrv.URL("universe"), "html_url": h.gitSrv.URL("universe")},
	})
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	req, _ := http.NewRequest(http.MethodPost, h.apiURL()+"/api/v1/webhook/git", bytes.NewReader(body))
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("webhook: %d", resp.StatusCode)
	}
	h.waitRelease("trk", "1.1.0 deployed", func(r api.Release) bool {
		return r.DeployedVersion == "1.1.0" && r.Sync == api.SyncSynced && len(r.History) == 2 && r.History[0].Outcome == "Succeeded"
	})
}

// TestRolloutFailureRollsBack: a revision whose deployment fails is rolled
// back to the previous definition, remembered as bad across a restart and
// not retried until the Universe repository changes again.
func TestRolloutFailureRollsBack(t *testing.T) {
	h := newHarness(t, harnessOptions{prune: true})
	h.addRevisions("tracker 1.0.0", trackerRevision(0, "1.0.0", ""))
	h.commitReleases(map[string]string{"trk": manifestYAML("trk", "tracker", "latest", "")})
	h.waitSynced("trk", api.HealthHealthy)
	good := h.desiredApp("trk")
	h.waitRelease("trk", "#1 succeeded", func(r api.Release) bool { return len(r.History) == 1 && r.History[0].Outcome == "Succeeded" })

	h.sim.Marathon.FailNextDeployment("/trk", "Failed to launch container: image not found")
	h.addRevisions("tracker 1.1.0 (broken)", trackerRevision(1, "1.1.0", ""))
	r := h.waitRelease("trk", "rolled back", func(r api.Release) bool {
		return len(r.History) == 3 && r.History[0].Kind == "rollback" && r.History[0].Outcome == "Succeeded" &&
			r.Sync == api.SyncFailed && len(r.Deployments) == 0
	})
	failed := entry(t, r, 2)
	if failed.Outcome != "RolledBack" || failed.Version != "1.1.0" || !strings.Contains(failed.Reason, "rolled back to #1") {
		t.Fatalf("#2: %+v", failed)
	}
	if !strings.Contains(failed.Reason, "failed") {
		t.Fatalf("#2 reason: %q", failed.Reason)
	}
	rb := entry(t, r, 3)
	if rb.Version != "1.0.0" || rb.Hash != entry(t, r, 1).Hash || !rb.Current {
		t.Fatalf("#3: %+v", rb)
	}
	if r.LastError == nil || r.LastError.Reason != "RolloutFailed" || !strings.Contains(r.SyncReason, "1.1.0") {
		t.Fatalf("status: %s %+v", r.SyncReason, r.LastError)
	}
	h.appIs("/trk", good) // the simulator's app is the last good definition
	if r.DeployedVersion != "1.0.0" || r.ResolvedVersion != "1.1.0" {
		t.Fatalf("versions: deployed %s resolved %s", r.DeployedVersion, r.ResolvedVersion)
	}
	for _, reason := range []string{"RolloutFailed", "RolledBack"} {
		if !slices.ContainsFunc(r.Events, func(e api.Event) bool { return e.Reason == reason }) {
			t.Fatalf("no %s event: %+v", reason, r.Events)
		}
	}
	w := h.writes("/trk")
	if w.puts != 2 { // the upgrade, the rollback
		t.Fatalf("PUTs: %d", w.puts)
	}

	// Not retried over several passes, nor after a restart (the bad
	// definition and the history are durable).
	h.morePasses(3)
	h.stop()
	h.start()
	h.morePasses(3)
	if got := h.writes("/trk"); got != w {
		t.Fatalf("writes after passes and a restart: %+v, before %+v", got, w)
	}
	r2 := h.waitRelease("trk", "Failed after the restart", func(r api.Release) bool { return r.Sync == api.SyncFailed })
	if historyBrief(r2.History) != historyBrief(r.History) {
		t.Fatalf("history after restart %s, before %s", historyBrief(r2.History), historyBrief(r.History))
	}
	h.appIs("/trk", good)

	// The Universe repository changes again: the new revision deploys.
	h.addRevisions("tracker 1.2.0", trackerRevision(2, "1.2.0", ""))
	r = h.waitRelease("trk", "1.2.0 deployed", func(r api.Release) bool {
		return r.DeployedVersion == "1.2.0" && r.Sync == api.SyncSynced && r.History[0].Outcome == "Succeeded" && r.LastError == nil
	})
	if e := entry(t, r, 4); e.Version != "1.2.0" || e.Kind != "update" || !e.Current {
		t.Fatalf("#4: %+v", e)
	}
	h.sameAsDesired("trk", "/trk")
}

// TestRolloutDeadline: a revision whose tasks never become healthy is
// rolled back once its progress deadline (spec.progressDeadline) passes.
func TestRolloutDeadline(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.addRevisions("tracker 1.0.0", trackerRevision(0, "1.0.0", ""))
	m := manifestYAML("trk", "tracker", "", "", "progressDeadline: 3s")
	h.commitReleases(map[string]string{"trk": m})
	h.waitSynced("trk", api.HealthHealthy)
	good := h.desiredApp("trk")
	h.waitRelease("trk", "#1 succeeded", func(r api.Release) bool { return len(r.History) == 1 && r.History[0].Outcome == "Succeeded" })

	if err := h.sim.Marathon.SetHealth("/trk", "", false); err != nil {
		t.Fatal(err)
	}
	h.addRevisions("tracker 1.1.0 (never healthy)", trackerRevision(1, "1.1.0", ""))
	h.waitRelease("trk", "Progressing", func(r api.Release) bool {
		return r.Sync == api.SyncProgressing && len(r.History) == 2 && r.History[0].Outcome == "InProgress"
	})
	r := h.waitRelease("trk", "rolled back", func(r api.Release) bool {
		return len(r.History) == 3 && r.History[0].Kind == "rollback"
	})
	// The old definition is healthy again (the switch is the app's).
	if err := h.sim.Marathon.SetHealth("/trk", "", true); err != nil {
		t.Fatal(err)
	}
	if e := entry(t, r, 2); e.Outcome != "RolledBack" || !strings.Contains(e.Reason, "progress deadline of 3s") {
		t.Fatalf("#2: %+v", e)
	}
	if d := entry(t, r, 2).FinishedAt.Sub(entry(t, r, 2).DeployedAt); d < 3*time.Second {
		t.Fatalf("judged after %s, before the deadline", d)
	}
	// The rollback is followed like any rollout (under a very loaded
	// machine its own deadline may pass before the health switch: then it
	// is Failed, and nothing more is tried); the app ends on the old
	// definition, healthy.
	h.waitRelease("trk", "rollback converged", func(r api.Release) bool {
		return r.History[0].Outcome != "InProgress" && r.Sync == api.SyncFailed && r.Health == api.HealthHealthy && len(r.Deployments) == 0
	})
	h.appIs("/trk", good)
	if w := h.writes("/trk"); w.puts != 2 {
		t.Fatalf("PUTs: %+v", w)
	}
}

// TestRolloutCrashLoop: tasks that crash right after starting fail the
// rollout (lastTaskFailure of the new version); the app ends on the last
// good definition.
func TestRolloutCrashLoop(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.addRevisions("tracker 1.0.0", trackerRevision(0, "1.0.0", ""))
	h.commitReleases(map[string]string{"trk": manifestYAML("trk", "tracker", "", "")})
	h.waitSynced("trk", api.HealthHealthy)
	good := h.desiredApp("trk")
	h.waitRelease("trk", "#1 succeeded", func(r api.Release) bool { return len(r.History) == 1 && r.History[0].Outcome == "Succeeded" })

	if err := h.sim.Marathon.SetCrashLoop("/trk", true); err != nil {
		t.Fatal(err)
	}
	h.addRevisions("tracker 1.1.0 (crashes)", trackerRevision(1, "1.1.0", ""))
	r := h.waitRelease("trk", "rolled back", func(r api.Release) bool {
		return len(r.History) == 3 && r.History[0].Kind == "rollback"
	})
	if e := entry(t, r, 2); e.Outcome != "RolledBack" || !strings.Contains(e.Reason, "a task of the new definition failed") {
		t.Fatalf("#2: %+v", e)
	}
	// The simulator's crash loop is per app: the old definition crashes too
	// until it is switched off. The rollback's own rollout may fail first;
	// either way nothing more is written and the app ends on the old
	// definition.
	if err := h.sim.Marathon.SetCrashLoop("/trk", false); err != nil {
		t.Fatal(err)
	}
	puts := h.writes("/trk").puts
	h.eventually("the old definition runs", func() (bool, string) {
		a := h.app("/trk")
		return a != nil && a.TasksHealthy == 1 && len(a.Deployments) == 0, "not yet"
	})
	h.morePasses(2)
	h.appIs("/trk", good)
	if got := h.writes("/trk").puts; got != puts || got != 2 {
		t.Fatalf("PUTs %d (before %d), want 2", got, puts)
	}
	r, _ = h.release("trk")
	if r.Sync != api.SyncFailed {
		t.Fatalf("status: %s", brief(r))
	}
}

// TestFirstInstallFails: no earlier definition to go back to: Failed, the
// app is left as it is (not deleted), and the create is not retried.
func TestFirstInstallFails(t *testing.T) {
	h := newHarness(t, harnessOptions{prune: true})
	h.addRevisions("tracker 1.0.0", trackerRevision(0, "1.0.0", ""))
	h.sim.Marathon.FailNextDeployment("/trk", "Failed to launch container: no such image")
	h.commitReleases(map[string]string{"trk": manifestYAML("trk", "tracker", "", "")})
	r := h.waitRelease("trk", "Failed", func(r api.Release) bool {
		return r.Sync == api.SyncFailed && len(r.History) == 1 && r.History[0].Outcome == "Failed"
	})
	if !strings.Contains(r.SyncReason, "no earlier good definition") || !strings.Contains(r.SyncReason, "no such image") {
		t.Fatalf("reason: %s", r.SyncReason)
	}
	h.morePasses(3)
	if a := h.app("/trk"); a == nil {
		t.Fatal("the app was deleted")
	}
	if w := h.writes("/trk"); w.posts != 1 || w.puts != 0 || w.deletes != 0 {
		t.Fatalf("writes: %+v", w)
	}
	r, _ = h.release("trk")
	if r.Sync != api.SyncFailed {
		t.Fatalf("after passes: %s", brief(r))
	}
}

// TestUpgradeRules: version moves obey upgradesFrom/downgradesTo (the
// example package greeter: 1.0.0 <-> 1.1.0 -> 2.0.0, no way back from
// 2.0.0), for an exact version changed by the operator as for "latest";
// packages without declared paths follow the release's policy.
func TestUpgradeRules(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	opts := `{greeter: {name: /rules/g}}`
	h.commitReleases(map[string]string{"g": manifestYAML("g", "greeter", "1.0.0", opts)})
	h.waitSettled("g")

	refused := func(from, to string) {
		t.Helper()
		r := h.waitRelease("g", to+" refused", func(r api.Release) bool {
			return r.Sync == api.SyncOutOfSync && r.LastError != nil && r.LastError.Reason == "UpgradeRefused" && r.ResolvedVersion == to
		})
		if !strings.Contains(r.SyncReason, "refused") || !strings.Contains(r.SyncReason, "keeps running "+from) {
			t.Fatalf("reason: %s", r.SyncReason)
		}
		if r.DeployedVersion != from {
			t.Fatalf("deployed %s", r.DeployedVersion)
		}
		if !slices.ContainsFunc(r.Events, func(e api.Event) bool { return e.Reason == "UpgradeRefused" }) {
			t.Fatalf("no event: %+v", r.Events)
		}
	}
	// 1.0.0 -> 2.0.0: 2.0.0 upgrades only from 1.1.0.
	h.commitReleases(map[string]string{"g": manifestYAML("g", "greeter", "2.0.0", opts)})
	refused("1.0.0", "2.0.0")
	h.morePasses(2)
	if w := h.writes("/rules/g"); w.puts != 0 {
		t.Fatalf("a refused upgrade was written: %+v", w)
	}
	// 1.0.0 -> 1.1.0 -> latest (2.0.0): allowed.
	h.commitReleases(map[string]string{"g": manifestYAML("g", "greeter", "1.1.0", opts)})
	h.waitRelease("g", "1.1.0", func(r api.Release) bool { return r.DeployedVersion == "1.1.0" && r.Sync == api.SyncSynced })
	h.commitReleases(map[string]string{"g": manifestYAML("g", "greeter", "latest", opts)})
	h.waitRelease("g", "2.0.0", func(r api.Release) bool { return r.DeployedVersion == "2.0.0" && r.Sync == api.SyncSynced })
	// 2.0.0 -> 1.1.0: downgradesTo [] refuses.
	h.commitReleases(map[string]string{"g": manifestYAML("g", "greeter", "1.1.0", opts)})
	refused("2.0.0", "1.1.0")

	// No declared path (tracker): downgrades follow the policy.
	h.addRevisions("tracker", trackerRevision(0, "1.0.0", ""), trackerRevision(1, "1.1.0", ""))
	h.commitReleases(map[string]string{"t": manifestYAML("t", "tracker", "1.1.0", `{app: {id: /rules/t}}`)})
	h.waitSynced("t", api.HealthHealthy)
	h.commitReleases(map[string]string{"t": manifestYAML("t", "tracker", "1.0.0", `{app: {id: /rules/t}}`)})
	h.waitRelease("t", "downgrade refused", func(r api.Release) bool {
		return r.Sync == api.SyncOutOfSync && r.LastError != nil && r.LastError.Reason == "UpgradeRefused" &&
			strings.Contains(r.SyncReason, "policy refuses undeclared downgrades")
	})
	h.commitReleases(map[string]string{"t": manifestYAML("t", "tracker", "1.0.0", `{app: {id: /rules/t}}`, "upgradePolicy: {downgrade: true}")})
	h.waitRelease("t", "downgrade allowed by the policy", func(r api.Release) bool {
		return r.DeployedVersion == "1.0.0" && r.Sync == api.SyncSynced && r.LastError == nil
	})
}

// TestDependsOn: a release waits until its dependencies are Synced and
// Healthy; its app is created only after (Marathon's record of its
// creation is later than the dependency's rollout success); unknown
// dependencies and cycles are reported and nothing of theirs is written.
func TestDependsOn(t *testing.T) {
	h := newHarness(t, harnessOptions{prune: true, fraction: 1})
	h.addRevisions("tracker", trackerRevision(0, "1.0.0", ""))
	api1 := manifestYAML("api", "greeter", "", `{greeter: {name: /dep/api}}`, "dependsOn: [db]")
	h.commitReleases(map[string]string{"api": api1, "keep": manifestYAML("keep", "greeter", "", `{greeter: {name: /dep/keep}}`)})
	r := h.waitRelease("api", "unknown dependency", func(r api.Release) bool {
		return r.Sync == api.SyncFailed && strings.Contains(r.SyncReason, `no release named "db"`)
	})
	if r.LastError == nil || r.LastError.Reason != "DependencyError" {
		t.Fatalf("error: %+v", r.LastError)
	}
	if h.app("/dep/api") != nil {
		t.Fatal("created despite an unknown dependency")
	}

	// The dependency appears, slow to become healthy.
	tm := h.sim.Marathon.Timing()
	slow := tm
	slow.HealthDelay = 3 * time.Second
	h.sim.Marathon.SetTiming(slow)
	h.commitReleases(map[string]string{"db": manifestYAML("db", "tracker", "", `{app: {id: /dep/db}}`)})
	h.waitRelease("api", "waiting for db", func(r api.Release) bool {
		return r.Sync == api.SyncOutOfSync && strings.Contains(r.SyncReason, "waiting for db")
	})
	if h.app("/dep/api") != nil {
		t.Fatal("created before its dependency was healthy")
	}
	h.sim.Marathon.SetTiming(tm)
	h.waitSettled("api")
	db := h.waitSynced("db", api.HealthHealthy)
	dbDone := db.History[len(db.History)-1].FinishedAt
	if dbDone.IsZero() {
		t.Fatalf("db history: %+v", db.History)
	}
	// The dependent's create (POST /v2/apps) came after db was judged
	// healthy; db's came before.
	var posts []time.Time
	for _, rec := range h.requests() {
		if rec.Method == http.MethodPost && rec.Path == "/v2/apps" && rec.Status == http.StatusCreated {
			posts = append(posts, rec.Time)
		}
	}
	if len(posts) != 3 || !posts[1].Before(dbDone) || !posts[2].After(dbDone) { // keep, db, api
		t.Fatalf("POSTs at %v, db healthy at %v", posts, dbDone)
	}
	vers, err := h.mc.GetApp(context.Background(), "/dep/api")
	if err != nil {
		t.Fatal(err)
	}
	created, err := time.Parse(time.RFC3339Nano, vers.Version)
	if err != nil || created.Before(dbDone.Add(-5*time.Millisecond)) {
		t.Fatalf("api created at %s (%v), db healthy at %s", vers.Version, err, dbDone)
	}

	// A cycle: both reported, neither created.
	h.commitReleases(map[string]string{
		"a": manifestYAML("a", "greeter", "", `{greeter: {name: /dep/a}}`, "dependsOn: [b]"),
		"b": manifestYAML("b", "greeter", "", `{greeter: {name: /dep/b}}`, "dependsOn: [a]"),
	})
	for _, n := range []string{"a", "b"} {
		r := h.waitRelease(n, "cycle", func(r api.Release) bool {
			return r.Sync == api.SyncFailed && strings.Contains(r.SyncReason, "cycle")
		})
		if r.LastError == nil || r.LastError.Reason != "DependencyError" || r.LastError.Class != "permanent" {
			t.Fatalf("%s: %+v", n, r.LastError)
		}
	}
	h.morePasses(2)
	if h.app("/dep/a") != nil || h.app("/dep/b") != nil {
		t.Fatal("a release in a cycle was created")
	}

	// Removal: the dependent first (db waits while api still exists).
	h.commitReleases(map[string]string{"db": "", "api": "", "a": "", "b": ""})
	h.eventually("both removed", func() (bool, string) {
		return h.app("/dep/api") == nil && h.app("/dep/db") == nil, "not yet"
	})
	var apiDel, dbDel time.Time
	for _, rec := range h.requests() {
		if rec.Method == http.MethodDelete && rec.Status < 300 {
			switch rec.Path {
			case "/v2/apps/dep/api":
				apiDel = rec.Time
			case "/v2/apps/dep/db":
				dbDel = rec.Time
			}
		}
	}
	if apiDel.IsZero() || dbDel.IsZero() || !dbDel.After(apiDel) {
		t.Fatalf("deletes: api %v, db %v", apiDel, dbDel)
	}
}

// TestSuspend: a suspended release is left alone (drift not corrected, new
// revisions not deployed, not deleted when its manifest goes); resuming
// converges.
func TestSuspend(t *testing.T) {
	h := newHarness(t, harnessOptions{prune: true})
	h.addRevisions("tracker", trackerRevision(0, "1.0.0", ""))
	h.commitReleases(map[string]string{"trk": manifestYAML("trk", "tracker", "", "")})
	h.waitSynced("trk", api.HealthHealthy)

	h.commitReleases(map[string]string{"trk": manifestYAML("trk", "tracker", "", "", "suspend: true")})
	h.waitRelease("trk", "Suspended", func(r api.Release) bool { return r.Sync == api.SyncSuspended && r.Suspended })
	before := h.writes("/trk")
	// Manual drift, a new revision: nothing is done.
	a := h.app("/trk")
	var def map[string]any
	_ = json.Unmarshal(a.Raw, &def)
	for _, k := range []string{"version", "versionInfo", "tasks", "tasksRunning", "tasksStaged", "tasksHealthy", "tasksUnhealthy", "deployments", "lastTaskFailure"} {
		delete(def, k)
	}
	def["instances"] = 2
	b, _ := json.Marshal(def)
	if _, err := h.mc.UpdateApp(context.Background(), "/trk", b, true); err != nil {
		t.Fatal(err)
	}
	h.addRevisions("tracker 1.1.0", trackerRevision(1, "1.1.0", ""))
	h.morePasses(3)
	r := h.waitRelease("trk", "still suspended, health reported", func(r api.Release) bool {
		return r.Sync == api.SyncSuspended && r.Tasks.Instances == 2 && r.Tasks.Running == 2 && r.Health == api.HealthHealthy
	})
	if r.DeployedVersion != "1.0.0" || h.writes("/trk") != before {
		t.Fatalf("a suspended release was changed: %s %+v", r.DeployedVersion, h.writes("/trk"))
	}
	// The manifest removed while suspended: left alone, not pruned.
	h.commitReleases(map[string]string{"trk": "", "other": manifestYAML("other", "greeter", "", `{greeter: {name: /sus/other}}`)})
	h.waitSettled("other")
	h.morePasses(2)
	r = h.waitRelease("trk", "kept", func(r api.Release) bool {
		return r.Sync == api.SyncSuspended && strings.Contains(r.SyncReason, "removed from Git while suspended")
	})
	if h.app("/trk") == nil || h.writes("/trk").deletes != 0 {
		t.Fatal("a suspended release was pruned")
	}
	if l := h.list(); l.Controller == nil || l.Controller.PruneRefused != "" {
		t.Fatalf("prune refusal reported for a suspended release: %+v", l.Controller)
	}
	// Declared again without suspend: it converges (1.1.0, one instance).
	h.commitReleases(map[string]string{"trk": manifestYAML("trk", "tracker", "", "")})
	r = h.waitRelease("trk", "resumed", func(r api.Release) bool {
		return r.Sync == api.SyncSynced && r.DeployedVersion == "1.1.0" && r.Tasks.Running == 1 && r.Health == api.HealthHealthy
	})
	h.sameAsDesired("trk", "/trk")
	_ = r
}

// TestRollbackAPIPin: POST .../rollback pins the release to an earlier
// revision; it stays there (across a restart) until Git changes.
func TestRollbackAPIPin(t *testing.T) {
	h := newHarness(t, harnessOptions{history: 3})
	h.addRevisions("tracker", trackerRevision(0, "1.0.0", ""))
	h.commitReleases(map[string]string{"trk": manifestYAML("trk", "tracker", "", "")})
	h.waitSynced("trk", api.HealthHealthy)
	v1 := h.desiredApp("trk")
	h.addRevisions("tracker 1.1.0", trackerRevision(1, "1.1.0", ""))
	r := h.waitRelease("trk", "1.1.0", func(r api.Release) bool {
		return r.DeployedVersion == "1.1.0" && len(r.History) == 2 && r.History[0].Outcome == "Succeeded"
	})
	v2 := h.desiredApp("trk")

	if code, body := h.post("/api/v1/releases/trk/rollback", `{"revision": 7}`); code != 400 || !strings.Contains(body, "no revision #7") {
		t.Fatalf("unknown revision: %d %s", code, body)
	}
	if !entry(t, r, 1).Rollbackable {
		t.Fatalf("#1 not rollbackable: %+v", r.History)
	}
	code, body := h.post("/api/v1/releases/trk/rollback", `{"revision": 1}`)
	if code != http.StatusAccepted || !strings.Contains(body, "revision 1") {
		t.Fatalf("rollback: %d %s", code, body)
	}
	r = h.waitRelease("trk", "pinned to #1", func(r api.Release) bool {
		return r.Pin != nil && r.Pin.Revision == 1 && r.DeployedVersion == "1.0.0" && r.Sync == api.SyncSynced &&
			len(r.History) == 3 && r.History[0].Kind == "pinned" && r.History[0].Outcome == "Succeeded"
	})
	if !entry(t, r, 1).Pinned || r.Pin.Version != "1.0.0" || !strings.Contains(r.Pin.Reason, "until") {
		t.Fatalf("pin: %+v %s", r.Pin, historyBrief(r.History))
	}
	h.appIs("/trk", v1)
	w := h.writes("/trk")
	// It stays pinned: passes, a restart.
	h.morePasses(2)
	h.stop()
	h.start()
	h.morePasses(2)
	r = h.waitRelease("trk", "still pinned", func(r api.Release) bool { return r.Pin != nil && r.Sync == api.SyncSynced })
	if h.writes("/trk") != w {
		t.Fatalf("a pinned release was written: %+v before %+v", h.writes("/trk"), w)
	}
	h.appIs("/trk", v1)

	// A Git change of the package revision: unpinned, 1.2.0 deploys.
	h.addRevisions("tracker 1.2.0", trackerRevision(2, "1.2.0", ""))
	r = h.waitRelease("trk", "unpinned, 1.2.0", func(r api.Release) bool {
		return r.Pin == nil && r.DeployedVersion == "1.2.0" && r.Sync == api.SyncSynced && r.History[0].Outcome == "Succeeded"
	})
	if !slices.ContainsFunc(r.Events, func(e api.Event) bool { return e.Reason == "Unpinned" }) {
		t.Fatalf("no Unpinned event: %+v", r.Events)
	}
	// history_limit 3: the newest three (#4 1.2.0, #3 pinned, #2 1.1.0).
	if len(r.History) != 3 || r.History[0].ID != 4 || r.History[2].ID != 2 {
		t.Fatalf("history: %s", historyBrief(r.History))
	}
	if v2 == nil {
		t.Fatal("no definition")
	}

	// A pin to the revision running, then a manifest change unpins too.
	code, body = h.post("/api/v1/releases/trk/rollback", `{"revision": 4}`)
	if code != http.StatusAccepted {
		t.Fatalf("pin current: %d %s", code, body)
	}
	h.waitRelease("trk", "pinned to #4", func(r api.Release) bool { return r.Pin != nil && r.Pin.Revision == 4 })
	h.commitReleases(map[string]string{"trk": manifestYAML("trk", "tracker", "", `{app: {instances: 2}}`)})
	h.waitRelease("trk", "unpinned by a manifest change", func(r api.Release) bool {
		return r.Pin == nil && r.Tasks.Running == 2 && r.Sync == api.SyncSynced
	})
}

// TestRollbackToObservedDefinition: an app deployed before any history was
// kept (records lost, or an older controller) still has a rollback target:
// the definition found running before the first tracked rollout.
func TestRollbackToObservedDefinition(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.addRevisions("tracker", trackerRevision(0, "1.0.0", ""))
	h.commitReleases(map[string]string{"trk": manifestYAML("trk", "tracker", "", "")})
	h.waitSynced("trk", api.HealthHealthy)
	good := h.desiredApp("trk")
	h.waitRelease("trk", "#1 succeeded", func(r api.Release) bool { return len(r.History) == 1 && r.History[0].Outcome == "Succeeded" })
	h.stop()
	s, err := state.OpenFile(h.stateDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(context.Background(), state.KindHistory, "trk"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	h.start()
	h.waitSynced("trk", api.HealthHealthy)

	h.sim.Marathon.FailNextDeployment("/trk", "")
	h.addRevisions("tracker 1.1.0", trackerRevision(1, "1.1.0", ""))
	r := h.waitRelease("trk", "rolled back to the observed definition", func(r api.Release) bool {
		return len(r.History) == 3 && r.History[0].Kind == "rollback" && r.History[0].Outcome == "Succeeded"
	})
	if e := entry(t, r, 1); e.Kind != "observed" || e.Outcome != "Succeeded" || e.Version != "1.0.0" {
		t.Fatalf("#1: %+v", e)
	}
	if e := entry(t, r, 2); e.Outcome != "RolledBack" {
		t.Fatalf("#2: %+v", e)
	}
	h.appIs("/trk", good)
}

// TestFollowerAPI: a follower answers sync and rollback with 503 and the
// leader's id, and writes nothing.
func TestFollowerAPI(t *testing.T) {
	h := newHarness(t, harnessOptions{leader: fixedLeader(false)})
	h.addRevisions("tracker", trackerRevision(0, "1.0.0", ""))
	h.commitReleases(map[string]string{"trk": manifestYAML("trk", "tracker", "", "")})
	h.waitRelease("trk", "OutOfSync", func(r api.Release) bool { return r.Sync == api.SyncOutOfSync })
	for _, p := range []string{"/api/v1/releases/trk/sync", "/api/v1/releases/trk/rollback"} {
		resp, err := http.Post(h.apiURL()+p, "application/json", strings.NewReader(`{"revision":1}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("X-Universe-Operator-Leader") != "someone-else" ||
			!strings.Contains(string(b), "someone-else") {
			t.Fatalf("%s: %d %s %v", p, resp.StatusCode, b, resp.Header)
		}
	}
	if l := h.list(); l.Controller == nil || l.Controller.Leader || l.Controller.LeaderID != "someone-else" {
		t.Fatalf("controller info: %+v", l.Controller)
	}
	if len(h.requests()) == 0 {
		t.Fatal("the follower does not read Marathon")
	}
	for _, rec := range h.requests() {
		if rec.Method != http.MethodGet {
			t.Fatalf("a follower wrote: %+v", rec)
		}
	}
	if keys, _ := listKeys(h.stateDir, state.KindHistory); len(keys) != 0 {
		t.Fatalf("a follower wrote history: %v", keys)
	}
}

func listKeys(dir, kind string) ([]string, error) {
	s, err := state.OpenFile(dir)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.List(context.Background(), kind)
}

// A rollback through the API keeps the failed revision remembered: when the
// pin goes (a manifest edit that does not change the rendered app), the
// release stays on the good revision instead of trying the bad one again.
func TestRollbackKeepsBadRevision(t *testing.T) {
	h := newHarness(t, harnessOptions{prune: true})
	h.addRevisions("tracker 1.0.0", trackerRevision(0, "1.0.0", ""))
	h.commitReleases(map[string]string{"trk": manifestYAML("trk", "tracker", "latest", "")})
	h.waitSynced("trk", api.HealthHealthy)
	h.waitRelease("trk", "#1 succeeded", func(r api.Release) bool { return len(r.History) == 1 && r.History[0].Outcome == "Succeeded" })
	h.sim.Marathon.FailNextDeployment("/trk", "image not found")
	h.addRevisions("tracker 1.1.0 (broken)", trackerRevision(1, "1.1.0", ""))
	h.waitRelease("trk", "rolled back", func(r api.Release) bool {
		return len(r.History) == 3 && r.History[0].Kind == "rollback" && r.History[0].Outcome == "Succeeded" && r.Sync == api.SyncFailed
	})
	if code, body := h.post("/api/v1/releases/trk/rollback", `{"revision": 3}`); code != http.StatusAccepted {
		t.Fatalf("rollback: %d %s", code, body)
	}
	h.waitRelease("trk", "pinned", func(r api.Release) bool { return r.Pin != nil })
	h.morePasses(2)
	puts := h.writes("/trk").puts
	h.commitReleases(map[string]string{"trk": manifestYAML("trk", "tracker", "latest", "", "progressDeadline: 10m")})
	h.waitRelease("trk", "pin released by the Git change", func(r api.Release) bool { return r.Pin == nil })
	h.morePasses(4)
	r, _ := h.release("trk")
	if r.DeployedVersion != "1.0.0" || h.writes("/trk").puts != puts {
		t.Fatalf("the known-bad 1.1.0 was tried again: deployed %s, %d PUTs after the pin (was %d); history %s",
			r.DeployedVersion, h.writes("/trk").puts, puts, historyBrief(r.History))
	}
}

// dropPutAnswer forwards every request; once armed, it throws away the
// answer to the next PUT of an app: Marathon applied the write, the
// controller never hears so.
type dropPutAnswer struct {
	next    http.RoundTripper
	armed   atomic.Bool
	dropped atomic.Int32
}

func (d *dropPutAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := d.next.RoundTrip(r)
	if err == nil && r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/v2/apps/") && d.armed.CompareAndSwap(true, false) {
		resp.Body.Close()
		d.dropped.Add(1)
		return nil, errors.New("connection reset by peer (injected)")
	}
	return resp, err
}

// A write whose answer was lost but which Marathon applied is followed as
// a rollout like any other: it enters the history, is judged, and rolled
// back when it fails, without being written twice.
func TestLostAnswerIsStillARollout(t *testing.T) {
	dt := &dropPutAnswer{next: http.DefaultTransport.(*http.Transport).Clone()}
	h := newHarness(t, harnessOptions{progress: 3 * time.Second, marathonFn: func(url string) *marathon.Client {
		mc, err := marathon.New(marathon.Options{URL: url, ClientID: "controller", Transport: dt,
			Timeout: 5 * time.Second, EventBackoffInitial: 50 * time.Millisecond, EventBackoffMax: 500 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return mc
	}})
	h.addRevisions("tracker 1.0.0", trackerRevision(0, "1.0.0", ""))
	h.commitReleases(map[string]string{"trk": manifestYAML("trk", "tracker", "latest", "")})
	h.waitSynced("trk", api.HealthHealthy)
	h.waitRelease("trk", "#1 succeeded", func(r api.Release) bool { return len(r.History) == 1 && r.History[0].Outcome == "Succeeded" })

	dt.armed.Store(true)
	if err := h.sim.Marathon.SetCrashLoop("/trk", true); err != nil {
		t.Fatal(err)
	}
	h.addRevisions("tracker 1.1.0 (crashes)", trackerRevision(1, "1.1.0", ""))
	r := h.waitRelease("trk", "the applied write judged and rolled back", func(r api.Release) bool {
		return len(r.History) == 3 && r.History[0].Kind == "rollback"
	})
	if dt.dropped.Load() != 1 {
		t.Fatalf("answers dropped: %d", dt.dropped.Load())
	}
	if e := entry(t, r, 2); e.Version != "1.1.0" || e.Outcome != "RolledBack" {
		t.Fatalf("#2: %+v", e)
	}
	if err := h.sim.Marathon.SetCrashLoop("/trk", false); err != nil {
		t.Fatal(err)
	}
	h.morePasses(2)
	if got := h.writes("/trk").puts; got != 2 { // 1.1.0 (answer lost) and the rollback
		t.Fatalf("PUTs %d, want 2; history %s", got, historyBrief(r.History))
	}
}

// Writes a browser sends on behalf of another site are refused, token or
// not: a form post (any form content type, e.g. a text/plain body that
// happens to be JSON), a request marked cross-site; trailing data after the
// rollback document is refused too. The UI's and API clients' requests
// (application/json, or no body) pass.
func TestCrossSiteWritesRefused(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.addRevisions("tracker 1.0.0", trackerRevision(0, "1.0.0", ""))
	h.commitReleases(map[string]string{"trk": manifestYAML("trk", "tracker", "latest", "")})
	h.waitSynced("trk", api.HealthHealthy)
	send := func(path, contentType, site, body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, h.apiURL()+path, strings.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if site != "" {
			req.Header.Set("Sec-Fetch-Site", site)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", path)
		}
		return resp.StatusCode, string(b)
	}
	const sync, rollback = "/api/v1/releases/trk/sync", "/api/v1/releases/trk/rollback"
	for _, c := range []struct {
		path, contentType, site, body string
		code                          int
		contains                      string
	}{
		{sync, "application/x-www-form-urlencoded", "", "a=b", 403, "cross-site request refused"},
		{sync, "multipart/form-data; boundary=x", "", "", 403, "cross-site request refused"},
		{rollback, "text/plain", "", `{"revision": 1}=` + "\r\n", 403, "cross-site request refused"},
		{sync, "", "cross-site", "", 403, "Sec-Fetch-Site: cross-site"},
		{sync, "application/json", "same-site", "", 403, "Sec-Fetch-Site: same-site"},
		{rollback, "application/json", "", `{"revision": 1} {"revision": 2}`, 400, "revision"},
		{sync, "", "same-origin", "", 202, "queued"},
		{sync, "", "", "", 202, "queued"},
		{sync, "application/json; charset=utf-8", "none", "", 202, "queued"},
	} {
		if code, body := send(c.path, c.contentType, c.site, c.body); code != c.code || !strings.Contains(body, c.contains) {
			t.Errorf("%s %q %q %q: %d %s, want %d containing %q", c.path, c.contentType, c.site, c.body, code, body, c.code, c.contains)
		}
	}
	if r, _ := h.release("trk"); r.Pin != nil {
		t.Fatalf("pinned by a refused request: %+v", r.Pin)
	}
}
