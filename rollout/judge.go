package rollout

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/universe-operator/universe-operator/reconcile"
)

// Observation is what Marathon shows of a release's app now.
type Observation struct {
	// Present is false when the app does not exist.
	Present bool
	// Hash is the app's UNIVERSE_OPERATOR_HASH label.
	Hash string
	// Version is the app's version (Marathon gives every change a new one).
	Version string
	// Status is the app's DC/OS UI status (deployments, health, tasks,
	// lastTaskFailure).
	Status reconcile.AppStatus
}

// Verdict is the judgement on a rollout.
type Verdict string

// Verdicts.
const (
	VerdictProgressing Verdict = "Progressing"
	VerdictSucceeded   Verdict = "Succeeded"
	VerdictFailed      Verdict = "Failed"
	VerdictSuperseded  Verdict = "Superseded"
)

// Decision is a verdict with its reason and, while Progressing, when to
// look again at the latest (the deadline).
type Decision struct {
	Verdict Verdict
	Reason  string
	// Recheck is the time left to the deadline while Progressing (0: no
	// deadline).
	Recheck time.Duration
}

// Judge decides a rollout (the history entry e, InProgress) from what the
// app looks like now. failedEvent is the reason of a deployment_failed
// event seen for e.Deployment ("" when none).
func Judge(e Entry, app Observation, failedEvent string, now time.Time) Decision {
	st := app.Status
	switch {
	case !app.Present:
		return Decision{Verdict: VerdictSuperseded, Reason: "the app was deleted outside the controller before the rollout finished"}
	case app.Hash != e.Hash:
		return Decision{Verdict: VerdictSuperseded, Reason: "the app was changed outside the controller before the rollout finished"}
	}
	if failedEvent != "" && len(st.Deployments) == 0 {
		return Decision{Verdict: VerdictFailed, Reason: fmt.Sprintf("deployment %s failed: %s", e.Deployment, failedEvent)}
	}
	if f := st.LastTaskFailure; f != nil && app.Version != "" && f.Version == app.Version {
		r := fmt.Sprintf("a task of the new definition failed: %s", strings.TrimSpace(f.State+" "+f.Message))
		if f.TaskID != "" {
			r += " (task " + f.TaskID + ")"
		}
		return Decision{Verdict: VerdictFailed, Reason: r}
	}
	if st.Converged() {
		return Decision{Verdict: VerdictSucceeded, Reason: convergedReason(st)}
	}
	if e.Deployment != "" && len(st.Deployments) == 0 {
		// Marathon ends a deployment once its target runs (and is healthy):
		// one that is gone while the app is not there ended otherwise.
		return Decision{Verdict: VerdictFailed, Reason: fmt.Sprintf("deployment %s ended but the app did not converge (%s)", e.Deployment, describe(st))}
	}
	if e.Deadline > 0 {
		left := e.DeployedAt.Add(e.Deadline).Sub(now)
		if left <= 0 {
			return Decision{Verdict: VerdictFailed, Reason: fmt.Sprintf("not converged within the progress deadline of %s (%s)", e.Deadline, describe(st))}
		}
		return Decision{Verdict: VerdictProgressing, Reason: describe(st), Recheck: left}
	}
	return Decision{Verdict: VerdictProgressing, Reason: describe(st)}
}

func convergedReason(st reconcile.AppStatus) string {
	if st.HealthChecks > 0 {
		return fmt.Sprintf("deployment finished, %d/%d tasks healthy", st.Tasks.Healthy, st.Instances)
	}
	return fmt.Sprintf("deployment finished, %d/%d tasks running (no health checks)", st.Tasks.Running, st.Instances)
}

// describe summarises an app's progress for people.
func describe(st reconcile.AppStatus) string {
	var parts []string
	if len(st.Deployments) > 0 {
		parts = append(parts, "deployment in flight")
	}
	parts = append(parts, fmt.Sprintf("health %s", st.Health))
	if st.HealthChecks > 0 {
		parts = append(parts, fmt.Sprintf("%d/%d tasks healthy", st.Tasks.Healthy, st.Instances))
	} else {
		parts = append(parts, fmt.Sprintf("%d/%d tasks running", st.Tasks.Running, st.Instances))
	}
	return strings.Join(parts, ", ")
}

// DepState is what a dependent needs to know of a dependency.
type DepState struct {
	// Known is false when the dependency was not reconciled yet.
	Known bool
	// Sync and Health are its status (api.Release.Sync, .Health).
	Sync, Health string
	// Ready: Synced (or Suspended) and its app converged (Healthy, or
	// running all instances when it has no health checks).
	Ready bool
}

// WaitingFor returns why a release must wait for its dependencies ("" when
// every one is ready): "waiting for a (Progressing, health Unhealthy), b
// (not reconciled yet)".
func WaitingFor(deps []string, states map[string]DepState) string {
	var out []string
	for _, d := range deps {
		s, ok := states[d]
		switch {
		case !ok || !s.Known:
			out = append(out, d+" (not reconciled yet)")
		case !s.Ready:
			out = append(out, fmt.Sprintf("%s (%s, health %s)", d, s.Sync, s.Health))
		}
	}
	if len(out) == 0 {
		return ""
	}
	return "waiting for " + strings.Join(out, ", ")
}

// DeleteBlockers returns, sorted, the releases that must be removed before
// name can be: those alive (still owning apps or being uninstalled) whose
// dependsOn (deps, as last declared) names name, except where name itself
// depends on them (directly or not): a cycle is removed in any order.
func DeleteBlockers(name string, deps map[string][]string, alive func(string) bool) []string {
	var out []string
	for x, ds := range deps {
		if x == name || !slices.Contains(ds, name) || !alive(x) {
			continue
		}
		if reaches(name, x, deps) {
			continue
		}
		out = append(out, x)
	}
	sort.Strings(out)
	return out
}

// reaches reports whether from depends on to, directly or not.
func reaches(from, to string, deps map[string][]string) bool {
	seen := map[string]bool{}
	stack := []string{from}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, d := range deps[n] {
			if d == to {
				return true
			}
			if !seen[d] {
				seen[d] = true
				stack = append(stack, d)
			}
		}
	}
	return false
}
