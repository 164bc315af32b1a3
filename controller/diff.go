package controller

import (
	"context"
	"fmt"
	"sort"

	"github.com/universe-operator/universe-operator/api"
	"github.com/universe-operator/universe-operator/reconcile"
)

// DiffReport is what a sync would do now: one pass of planning without
// writes (`universe-operator diff`).
type DiffReport struct {
	// Items, by release then app id.
	Items []DiffItem `json:"items"`
	// SourcesHealthy is false when a source failed to load (nothing would
	// be pruned).
	SourcesHealthy bool `json:"sourcesHealthy"`
	// PruneRefused says why releases removed from Git would be kept.
	PruneRefused string `json:"pruneRefused,omitempty"`
	// Sources are the states of the sources read.
	Sources []api.SourceStatus `json:"sources,omitempty"`
}

// DiffItem is the plan for one app of one release.
type DiffItem struct {
	Release string `json:"release"`
	AppID   string `json:"appId,omitempty"`
	// Action is create, update, force-update, delete, wait, fail, nothing
	// or orphan (kept: prune refused or disabled).
	Action  string             `json:"action"`
	Reason  string             `json:"reason,omitempty"`
	Changes []reconcile.Change `json:"changes,omitempty"`
	// Deployments in flight on the app.
	Deployments []string `json:"deployments,omitempty"`
	// Cleanup lists what an uninstall would do (delete actions).
	Cleanup []string `json:"cleanup,omitempty"`
}

// Counts returns how many items have each action.
func (r *DiffReport) Counts() map[string]int {
	out := map[string]int{}
	for _, it := range r.Items {
		out[it.Action]++
	}
	return out
}

// Diff loads the sources, reads every app from Marathon (one list, all
// apps, so ids taken by apps the controller does not own are seen) and
// returns the plan of a pass, prune decision included, without writing
// anything. The Controller must not be running.
func (c *Controller) Diff(ctx context.Context) (*DiffReport, error) {
	c.opts.Sources.Refresh(ctx)
	w := c.rebuildWorld()
	if w.in == nil || !w.in.Loaded {
		rep := &DiffReport{Sources: inputsSources(w.in)}
		return rep, fmt.Errorf("the sources did not load: %s", w.unhealthyWhy)
	}
	lctx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
	defer cancel()
	apps, err := c.opts.Marathon.ListApps(lctx, "", listEmbeds...)
	if err != nil {
		return nil, fmt.Errorf("list Marathon apps: %w", err)
	}
	var actual []reconcile.Actual
	for _, a := range apps {
		x, err := reconcile.NewActual(a.Raw)
		if err != nil {
			continue
		}
		actual = append(actual, x)
	}
	names := make([]string, 0, len(w.desired))
	for n := range w.desired {
		names = append(names, n)
	}
	sort.Strings(names)
	desired := make([]reconcile.Desired, 0, len(names))
	for _, n := range names {
		desired = append(desired, c.desiredOf(w.desired[n], c.state(n)))
	}
	res := reconcile.Plan(desired, actual, reconcile.Options{Now: c.opts.Clock.Now(), StuckAfter: c.opts.StuckAfter,
		Prune: reconcile.PruneOptions{Enabled: c.opts.Prune, SourcesHealthy: w.healthy,
			MaxFraction: c.opts.PruneMaxFraction, AllowEmpty: c.opts.PruneAllowEmpty}})
	rep := &DiffReport{SourcesHealthy: w.healthy, PruneRefused: res.Prune.Refused, Sources: inputsSources(w.in)}
	if !c.opts.Prune && len(res.Prune.Candidates) > 0 {
		rep.PruneRefused = "pruning is disabled in the configuration (prune: false)"
	}
	if res.Prune.Refused != "" && !w.healthy && w.unhealthyWhy != "" {
		rep.PruneRefused += " (" + w.unhealthyWhy + ")"
	}
	for _, a := range res.Actions {
		it := DiffItem{Release: a.Release, AppID: a.AppID, Action: string(a.Kind), Reason: a.Reason,
			Changes: a.Drift.Changes, Deployments: a.Deployments}
		if a.Kind == reconcile.ActionFail && a.Err != nil {
			it.Reason = a.Err.Error()
		}
		if a.Kind == reconcile.ActionDelete {
			it.Cleanup = c.cleanupPlan(a)
		}
		rep.Items = append(rep.Items, it)
	}
	return rep, nil
}

// cleanupPlan describes the uninstall steps of a delete (the default
// uninstaller deletes the app; an Uninstaller may describe more).
func (c *Controller) cleanupPlan(a reconcile.Action) []string {
	if p, ok := c.opts.Uninstaller.(UninstallPlanner); ok {
		return p.Plan(UninstallRequest{Release: a.Release, AppID: a.AppID, App: a.App, Deployments: a.Deployments})
	}
	return []string{"DELETE /v2/apps" + a.AppID + "?force=true"}
}

// UninstallPlanner is optionally implemented by an Uninstaller to describe
// its steps for `diff` before they happen (issue 7: janitor steps).
type UninstallPlanner interface {
	Plan(req UninstallRequest) []string
}

func inputsSources(in *Inputs) []api.SourceStatus {
	if in == nil {
		return nil
	}
	return append([]api.SourceStatus(nil), in.Sources...)
}
