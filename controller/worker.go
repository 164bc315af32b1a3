package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/universe-operator/universe-operator/api"
	"github.com/universe-operator/universe-operator/clients/dcosauth"
	"github.com/universe-operator/universe-operator/clients/marathon"
	"github.com/universe-operator/universe-operator/errs"
	"github.com/universe-operator/universe-operator/reconcile"
	"github.com/universe-operator/universe-operator/render"
	"github.com/universe-operator/universe-operator/universe"
)

// relState is what the controller remembers of one release between
// reconciles. Only the worker holding the release's key touches it (the
// queue guarantees one at a time); reset is set from other goroutines.
type relState struct {
	name  string
	reset atomic.Bool // a manual sync asked to forget failFP and the memos

	inflight *inflight
	own      *reconcile.DeploymentRef // the last deployment the controller started
	ownRead  bool

	lastErr error
	errInfo *api.Error
	// failFP is the fingerprint of the inputs (desired state and app
	// versions) a permanent failure happened with: no write is retried
	// until it changes.
	failFP string

	memo      string // plan memo: the inputs that last planned "nothing"
	statusKey string // status memo: the inputs of the published document
	ver       uint64 // bumped when anything shown in the document changes

	events     eventRing
	lastSync   string
	lastHealth string
	lastChange time.Time
	lastDrift  string
	cleanup    *api.Cleanup
	// prefs are the uninstall preferences of the release as last declared
	// (issue 7); showUntil keeps a finished uninstall in the status;
	// retryCleanup asks the uninstaller to rerun a Failed uninstall.
	prefs        uninstallPrefs
	showUntil    time.Time
	retryCleanup bool

	stMemo struct {
		raw   uint64
		queue string
		fwGen uint64
		st    reconcile.AppStatus
		ok    bool
	}
	depMemo struct {
		version string
		ver     string
		rel     *int
	}
}

// inflight is a write the controller made whose effect it has not seen
// yet in a read: while it is, the release waits (no second write).
type inflight struct {
	kind         reconcile.ActionKind
	appID        string
	hash         string // desired hash written ("" for a delete)
	deploymentID string
	prevVersion  string // app version before the write
	at           time.Time
	gen          uint64 // cache generation of the dirty mark made after the write
	acked        bool   // Marathon answered 2xx (false: the answer was lost)
	// What to record (history, rollout) should a write whose answer was
	// lost show as applied: release, the write and the definition written.
	release string
	rec     *Write
	app     json.RawMessage
}

// ownRecord is the persisted form of relState.own (state kind "deployments").
type ownRecord struct {
	ID      string    `json:"id"`
	Started time.Time `json:"started"`
	Hash    string    `json:"hash,omitempty"`
	AppID   string    `json:"appId,omitempty"`
}

const kindDeployments = "deployments"

func (c *Controller) state(name string) *relState {
	c.statesMu.Lock()
	defer c.statesMu.Unlock()
	st := c.states[name]
	if st == nil {
		st = &relState{name: name}
		st.events.max = c.opts.MaxEvents
		c.states[name] = st
	}
	return st
}

func (c *Controller) dropState(name string) {
	c.statesMu.Lock()
	defer c.statesMu.Unlock()
	delete(c.states, name)
}

// retry policies of an outcome.
const (
	retryNone = iota
	retryAfter
	retryBackoff
)

// outcome is the result of one reconcile of a release.
type outcome struct {
	act    reconcile.Action
	result string // metric label
	retry  int
	after  time.Duration
	note   string // extra sync reason (not leader, prune refused)
	sync   string // forced sync state ("" = reconcile.SyncState decides)
}

func (c *Controller) worker(ctx context.Context) {
	for {
		name, ok := c.q.Get()
		if !ok {
			return
		}
		c.process(ctx, name)
		c.q.Done(name)
	}
}

// process reconciles one release.
func (c *Controller) process(ctx context.Context, name string) {
	if ctx.Err() != nil {
		return
	}
	start := time.Now()
	st := c.state(name)
	if st.reset.Swap(false) {
		st.failFP, st.memo, st.statusKey = "", "", ""
		st.retryCleanup = true
		c.ro.manualSync(ctx, name, st)
	}
	w := c.world.Load()
	d := w.desired[name]
	var out outcome
	if d == nil {
		var gone bool
		out, gone = c.reconcileUndeclared(ctx, w, st)
		if gone {
			c.forget(name)
			c.metrics.reconciles.WithLabelValues("removed").Inc()
			return
		}
	} else {
		out = c.reconcileDeclared(ctx, w, d, st)
	}
	var retryAt time.Time
	switch out.retry {
	case retryAfter:
		c.q.Forget(name)
		c.q.AddAfter(name, out.after)
		retryAt = c.opts.Clock.Now().Add(out.after)
	case retryBackoff:
		delay := c.q.Backoff(name)
		retryAt = c.opts.Clock.Now().Add(delay)
	default:
		c.q.Forget(name)
	}
	if st.errInfo != nil && st.lastErr != nil && errs.ClassOf(st.lastErr) != errs.ClassPermanent && !retryAt.IsZero() {
		if !st.errInfo.RetryAt.Equal(retryAt) {
			st.errInfo.RetryAt = retryAt.UTC()
			if out.retry == retryBackoff {
				st.ver++ // a changed retry time is news only for errors
			}
		}
	}
	c.publish(w, d, st, out)
	res := out.result
	if res == "" {
		res = string(out.act.Kind)
	}
	c.metrics.reconciles.WithLabelValues(res).Inc()
	c.metrics.reconcileDur.WithLabelValues(res).Observe(time.Since(start).Seconds())
}

// forget drops everything about a release that is gone.
func (c *Controller) forget(name string) {
	c.dropState(name)
	c.opts.Rollouts.Forget(name)
	if c.book.remove(name) {
		c.stream.Remove(name)
	}
	c.metrics.dropInfo(name)
	if c.opts.Store != nil && c.opts.StuckAfter > 0 {
		c.persist.put(name, nil)
	}
}

func (c *Controller) logFor(d *desiredEntry, name, appID string) logrus.FieldLogger {
	f := logrus.Fields{"release": name}
	if appID != "" {
		f["app"] = appID
	}
	if d != nil && d.pkg != nil {
		f["package"] = d.pkg.Name
		f["revision"] = d.pkg.ReleaseVersion
	}
	return c.log.WithFields(f)
}

// refreshDirty re-reads, one GET each, the apps among ids marked dirty.
func (c *Controller) refreshDirty(ctx context.Context, ids []string) error {
	for _, id := range ids {
		mark, dirty := c.cache.isDirty(id)
		if !dirty {
			continue
		}
		gctx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
		app, err := c.opts.Marathon.GetApp(gctx, id, listEmbeds...)
		cancel()
		switch {
		case err == nil:
			c.cache.stored(id, app, mark, c.opts.Clock.Now())
		case marathon.IsNotFound(err):
			c.cache.stored(id, nil, mark, c.opts.Clock.Now())
		default:
			return fmt.Errorf("read app %s: %w", id, err)
		}
	}
	return nil
}

// idsOf returns the app ids that matter for a release: the one it wants
// and every one it owns.
func (c *Controller) idsOf(name, want string) []string {
	ids := c.cache.owned(name)
	if want != "" && !slices.Contains(ids, want) {
		ids = append(ids, want)
	}
	sort.Strings(ids)
	return ids
}

// versionsKey fingerprints the Marathon side of a decision: per app its
// id, version, owner, hash label and deployments.
func (c *Controller) versionsKey(ids []string) string {
	var b strings.Builder
	for _, id := range ids {
		e := c.cache.get(id)
		if e == nil {
			b.WriteString(id + ":-;")
			continue
		}
		b.WriteString(id + ":" + e.app.Version + ":" + e.owner + ":" + e.hash + ":" + strings.Join(e.app.Deployments, ",") + ";")
	}
	return b.String()
}

// reconcileDeclared decides and acts for a release declared in Git.
func (c *Controller) reconcileDeclared(ctx context.Context, w *world, d *desiredEntry, st *relState) outcome {
	name := d.name
	log := c.logFor(d, name, d.appID)
	var out outcome
	suspended := d.rel != nil && d.rel.Spec.Suspend
	st.prefs = prefsOf(d)
	if p, ok := c.opts.Uninstaller.(PendingUninstaller); ok && p.Pending(name) {
		// Declared again while its previous instance is still being
		// cleaned up: finish that first.
		if c.opts.Leader.IsLeader() {
			if done, o := c.uninstall(ctx, name, st, "", log); !done {
				o.act.Kind, o.act.Reason = reconcile.ActionWait, "waiting for the previous uninstall of the release to finish"
				if o.retry == retryNone {
					o.retry, o.after = retryAfter, c.opts.WaitRecheck
				}
				return o
			}
		} else {
			return outcome{act: reconcile.Action{Kind: reconcile.ActionWait, Release: name,
				Reason: "waiting for the previous uninstall of the release to finish"}, retry: retryAfter, after: c.opts.WaitRecheck}
		}
	}
	if d.waitSource != "" {
		return outcome{act: reconcile.Action{Kind: reconcile.ActionWait, Release: name, AppID: d.appID, Reason: d.waitSource},
			retry: retryAfter, after: c.opts.WaitRecheck}
	}
	// Issue 6: the release's records; a rollback pin replaces Git's definition.
	pd, o, stop := c.ro.begin(ctx, d, st)
	if stop {
		return o
	}
	d = pd
	for round := 0; round < 4; round++ {
		ids := c.idsOf(name, d.appID)
		if d.appID != "" && !c.cache.trusted(d.appID) {
			// No good full list to rely on: read the app before deciding.
			c.cache.markDirty(d.appID)
		}
		if err := c.refreshDirty(ctx, ids); err != nil {
			return c.readFailed(st, d.appID, err)
		}
		ids = c.idsOf(name, d.appID) // ownership may have changed
		now := c.opts.Clock.Now()

		if wait, why, reread := c.inflightWait(ctx, st, now, log); wait {
			return outcome{act: reconcile.Action{Kind: reconcile.ActionWait, Release: name, AppID: d.appID, Reason: why},
				retry: retryAfter, after: c.waitDelay(st, now)}
		} else if reread {
			continue
		}
		if o, stop := c.ro.follow(ctx, d, st, now, log); stop {
			return o
		}

		vkey := c.versionsKey(ids)
		claim := w.byApp[d.appID]
		memoKey := fmt.Sprintf("%p|%d|%t|%s", d, len(claim), w.healthy, vkey)
		if st.memo == memoKey && st.lastErr == nil {
			out.act = reconcile.Action{Kind: reconcile.ActionNothing, Release: name, AppID: d.appID, Reason: "in sync", Suspended: suspended}
			return out
		}

		act, others := c.plan(w, d, st, ids, now)
		if o, stop := c.ro.gate(w, d, st, act, now, log); stop {
			return o
		}
		out.act = act
		failFP := d.fp + "|" + vkey
		switch act.Kind {
		case reconcile.ActionNothing:
			if act.Suspended {
				c.clearError(st)
				return out
			}
			c.clearError(st)
			if len(others) == 0 {
				st.memo = memoKey
			}
			// An owned app left at an old id (the release's app id changed).
			if n, o := c.actOnOthers(ctx, d, st, others, log); n {
				continue
			} else if o.retry != retryNone {
				return o
			}
			return out
		case reconcile.ActionWait:
			return outcome{act: act, retry: retryAfter, after: c.waitDelay(st, now)}
		case reconcile.ActionFail:
			st.memo = ""
			reason := d.reason
			if d.err == nil {
				reason = ReasonAppIDTaken
				if len(claim) > 1 {
					reason = ReasonAppIDConflict
				}
			}
			c.setError(st, act.Err, reason, nil)
			st.failFP = failFP
			return out
		case reconcile.ActionOrphan:
			return out
		}

		// create, update, force-update, delete (an old app of this release)
		st.memo = ""
		if !c.opts.Leader.IsLeader() {
			out.note = "not the leader: changes are left to the leader replica"
			out.result = "not_leader"
			return out
		}
		if st.failFP == failFP && st.lastErr != nil && errs.IsPermanent(st.lastErr) {
			// The same inputs failed permanently before: not again until they change.
			out.act = reconcile.Action{Kind: reconcile.ActionFail, Release: name, AppID: d.appID, Reason: st.lastErr.Error(), Err: st.lastErr}
			return out
		}
		if act.Kind == reconcile.ActionDelete {
			if n, o := c.actOnOthers(ctx, d, st, []reconcile.Action{act}, log); n {
				continue
			} else {
				return o
			}
		}
		next, o := c.write(ctx, d, st, act, failFP, log)
		if !next {
			return o
		}
		// Written: the next round re-reads the app (one GET) and re-plans;
		// the in-flight record makes it wait rather than write again.
	}
	return outcome{act: reconcile.Action{Kind: reconcile.ActionWait, Release: name, AppID: d.appID,
		Reason: "waiting for Marathon to settle"}, retry: retryAfter, after: c.opts.WaitRecheck}
}

// readFailed: the release's app could not be read; nothing is decided and
// the sync state shown stays what it was.
func (c *Controller) readFailed(st *relState, appID string, err error) outcome {
	reason := ReasonMarathonError
	if authStatus(err) {
		reason = ReasonUnauthorized
	}
	c.setError(st, err, reason, nil)
	sync := st.lastSync
	if sync == "" {
		sync = api.SyncUnknown
	}
	return outcome{act: reconcile.Action{Kind: "", Release: st.name, AppID: appID,
		Reason: "cannot read the app from Marathon: " + err.Error()}, result: "error", retry: retryBackoff, sync: sync}
}

// waitDelay is the recheck delay of a waiting release: soon after a write
// (to follow the deployment), WaitRecheck otherwise.
func (c *Controller) waitDelay(st *relState, now time.Time) time.Duration {
	if st.inflight != nil && now.Sub(st.inflight.at) < c.opts.UnknownWriteGrace {
		return min(c.opts.WaitRecheck, 250*time.Millisecond)
	}
	return c.opts.WaitRecheck
}

// plan runs reconcile.Plan for a declared release over the apps that matter
// to it. It returns the action for the release's wanted app and any
// actions on its other apps (an old app id).
func (c *Controller) plan(w *world, d *desiredEntry, st *relState, ids []string, now time.Time) (reconcile.Action, []reconcile.Action) {
	self := c.desiredOf(d, st)
	desired := []reconcile.Desired{self}
	for _, other := range w.byApp[d.appID] {
		if other != d.name {
			if od := w.desired[other]; od != nil {
				desired = append(desired, c.desiredOf(od, nil))
			}
		}
	}
	var actual []reconcile.Actual
	for _, id := range ids {
		e := c.cache.get(id)
		if e == nil {
			continue
		}
		a, err := reconcile.NewActual(e.app.Raw)
		if err != nil {
			continue
		}
		actual = append(actual, a)
	}
	res := reconcile.Plan(desired, actual, reconcile.Options{Now: now, StuckAfter: c.opts.StuckAfter,
		Prune: reconcile.PruneOptions{Enabled: false, SourcesHealthy: w.healthy}})
	var main *reconcile.Action
	var others []reconcile.Action
	for i := range res.Actions {
		a := res.Actions[i]
		if a.Release != d.name {
			continue
		}
		if d.appID == "" || a.AppID == d.appID || a.Kind == reconcile.ActionFail {
			if main == nil {
				main = &a
				continue
			}
		}
		others = append(others, a)
	}
	if main == nil {
		main = &reconcile.Action{Kind: reconcile.ActionNothing, Release: d.name, AppID: d.appID, Reason: "in sync"}
	}
	return *main, others
}

// desiredOf converts a desired entry for reconcile.Plan.
func (c *Controller) desiredOf(d *desiredEntry, st *relState) reconcile.Desired {
	out := reconcile.Desired{Release: d.name, AppID: d.appID, App: d.app, Hash: d.hash, Err: d.err}
	if d.rel != nil {
		out.Adopt = d.rel.Spec.Adopt
		out.Suspended = d.rel.Spec.Suspend
	}
	if st != nil && c.opts.StuckAfter > 0 {
		c.loadOwn(st)
		if st.own != nil {
			own := *st.own
			out.OwnDeployment = &own
		}
	}
	return out
}

// loadOwn reads the persisted own-deployment record once.
func (c *Controller) loadOwn(st *relState) {
	if st.ownRead || c.opts.Store == nil {
		st.ownRead = true
		return
	}
	st.ownRead = true
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, _, err := c.opts.Store.Get(ctx, kindDeployments, st.name)
	if err != nil {
		return
	}
	var r ownRecord
	if json.Unmarshal(b, &r) == nil && r.ID != "" && st.own == nil {
		st.own = &reconcile.DeploymentRef{ID: r.ID, Started: r.Started}
	}
}

// inflightWait decides whether a write of ours is still on its way: then
// the release waits (no second write for the same change). An accepted
// write is settled by the first read made after it (Marathon answers a
// write once it is stored: a later read shows it, with its deployment in
// flight, which Plan waits for). A write whose answer was lost may still be
// applied: the release waits UnknownWriteGrace, then re-reads and plans
// again. reread is true when the app must be read again before planning.
func (c *Controller) inflightWait(ctx context.Context, st *relState, now time.Time, log logrus.FieldLogger) (wait bool, why string, reread bool) {
	inf := st.inflight
	if inf == nil {
		return false, "", false
	}
	e, fresh := c.cache.readSince(inf.appID, inf.gen)
	if inf.acked {
		if !fresh {
			return true, fmt.Sprintf("waiting to read back the %s accepted at %s", inf.kind, inf.at.UTC().Format(time.RFC3339)), false
		}
		if inf.kind == reconcile.ActionDelete && e != nil && inf.deploymentID != "" && slices.Contains(e.app.Deployments, inf.deploymentID) {
			return true, "the app is being deleted (deployment " + inf.deploymentID + ")", false
		}
		st.inflight = nil
		return false, "", false
	}
	// The answer was lost.
	if fresh && inf.kind != reconcile.ActionDelete && e != nil && e.hash == inf.hash && e.app.Version != inf.prevVersion {
		st.inflight = nil // it was applied: a rollout like any other
		if inf.rec != nil {
			w := *inf.rec
			if len(e.app.Deployments) == 1 {
				w.DeploymentID = e.app.Deployments[0]
			}
			log.WithField("kind", inf.kind).WithField("deployment", w.DeploymentID).
				Info("a write whose answer was lost shows as applied; following it as a rollout")
			c.recordWrite(ctx, inf.release, w, inf.app, log)
		}
		return false, "", false
	}
	if fresh && inf.kind == reconcile.ActionDelete && e == nil {
		st.inflight = nil
		return false, "", false
	}
	if now.Sub(inf.at) < c.opts.UnknownWriteGrace {
		return true, fmt.Sprintf("waiting to see whether the %s sent at %s (its answer was lost) was applied",
			inf.kind, inf.at.UTC().Format(time.RFC3339)), false
	}
	log.WithField("kind", inf.kind).Info("a write whose answer was lost did not show; reading the app again before deciding")
	st.inflight = nil
	c.cache.markDirty(inf.appID)
	return false, "", true
}

// write performs a create, update or force-update. next is true when the
// caller should re-read and re-plan (Marathon accepted the write, or said
// the app exists).
func (c *Controller) write(ctx context.Context, d *desiredEntry, st *relState, act reconcile.Action, failFP string, log logrus.FieldLogger) (bool, outcome) {
	prev := c.cache.get(act.AppID)
	inf := &inflight{kind: act.Kind, appID: act.AppID, hash: d.hash, at: c.opts.Clock.Now()}
	if prev != nil {
		inf.prevVersion = prev.app.Version
	}
	w := Write{Kind: act.Kind, AppID: act.AppID, Hash: d.hash, Manifest: d.manifestRev, Universe: d.universeRev, At: inf.at}
	if d.pkg != nil {
		w.Version, w.Release = d.pkg.Version, d.pkg.ReleaseVersion
	}
	inf.release, inf.rec, inf.app = d.name, &w, d.app
	// Under the leader's term (checked now; the write ends with the lease).
	wctx, cancel, err := c.writeContext(ctx)
	if err != nil {
		return false, outcome{act: act, note: "not the leader: changes are left to the leader replica", result: "not_leader"}
	}
	defer cancel()
	var res marathon.WriteResult
	switch act.Kind {
	case reconcile.ActionCreate:
		res, err = c.opts.Marathon.CreateApp(wctx, act.App)
	case reconcile.ActionUpdate:
		res, err = c.opts.Marathon.UpdateApp(wctx, act.AppID, act.App, false)
	case reconcile.ActionForceUpdate:
		res, err = c.opts.Marathon.UpdateApp(wctx, act.AppID, act.App, true)
	}
	inf.gen = c.cache.markDirty(act.AppID)
	if err != nil {
		return c.writeFailed(ctx, d, st, act, inf, err, failFP, log)
	}
	c.metrics.writes.WithLabelValues(string(act.Kind), "ok").Inc()
	inf.acked, inf.deploymentID = true, res.DeploymentID
	st.inflight = inf
	if res.DeploymentID != "" {
		st.own = &reconcile.DeploymentRef{ID: res.DeploymentID, Started: inf.at}
		c.saveOwn(st, d, res.DeploymentID, inf.at)
	}
	c.clearError(st)
	st.failFP = ""
	st.lastChange = inf.at
	reason, msg := writeEvent(act, d, res.DeploymentID)
	c.event(st, "Normal", reason, msg)
	log.WithField("kind", act.Kind).WithField("deployment", res.DeploymentID).WithField("why", act.Reason).Info(msg)
	w.DeploymentID = res.DeploymentID
	c.recordWrite(ctx, d.name, w, d.app, log)
	return true, outcome{}
}

// recordWrite tells the rollout tracker and the history about a write
// Marathon applied.
func (c *Controller) recordWrite(ctx context.Context, release string, w Write, app json.RawMessage, log logrus.FieldLogger) {
	c.opts.Rollouts.Started(release, w)
	if c.opts.History != nil {
		if err := c.opts.History.Record(ctx, release, w, app); err != nil {
			log.WithError(err).Warn("cannot record the deployment in the history")
		}
	}
}

func writeEvent(act reconcile.Action, d *desiredEntry, dep string) (reason, msg string) {
	ver := ""
	if d.pkg != nil {
		ver = fmt.Sprintf(" %s %s (revision %d)", d.pkg.Name, d.pkg.Version, d.pkg.ReleaseVersion)
	}
	switch act.Kind {
	case reconcile.ActionCreate:
		return "Created", fmt.Sprintf("created app %s with%s; deployment %s", act.AppID, ver, dep)
	case reconcile.ActionForceUpdate:
		return "ForcedUpdate", fmt.Sprintf("forced update of app %s to%s (%s); deployment %s", act.AppID, ver, act.Reason, dep)
	default:
		if act.Adopt {
			return "Adopted", fmt.Sprintf("adopted app %s (%s); deployment %s", act.AppID, ver, dep)
		}
		why := act.Reason
		if paths := act.Drift.Paths(); len(paths) > 0 && act.Reason == "the app in Marathon drifted" {
			why = "drift corrected: " + strings.Join(limit(paths, 8), ", ")
		}
		return "Updated", fmt.Sprintf("updated app %s to%s (%s); deployment %s", act.AppID, ver, why, dep)
	}
}

func limit(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("... %d more", len(s)-n))
	}
	return s
}

// writeFailed handles a refused or failed write.
func (c *Controller) writeFailed(ctx context.Context, d *desiredEntry, st *relState, act reconcile.Action, inf *inflight, err error, failFP string, log logrus.FieldLogger) (bool, outcome) {
	out := outcome{act: act}
	l := log.WithField("kind", act.Kind).WithError(err)
	switch {
	case marathon.IsAlreadyExists(err):
		// Our view was stale, or an app we do not own has the id: re-read
		// and plan again (Plan fails the release, or adopts the app).
		c.metrics.writes.WithLabelValues(string(act.Kind), "exists").Inc()
		l.Info("the app already exists; re-reading it")
		if rerr := c.refreshDirty(ctx, []string{act.AppID}); rerr != nil {
			return false, c.readFailed(st, act.AppID, rerr)
		}
		if c.cache.get(act.AppID) != nil {
			return true, outcome{}
		}
		// Marathon says it exists, a read says it does not: retry later.
		c.setError(st, err, ReasonMarathonError, nil)
		out.retry = retryBackoff
		return false, out
	case marathon.IsLocked(err):
		c.metrics.writes.WithLabelValues(string(act.Kind), "locked").Inc()
		deps := marathon.LockingDeployments(err)
		l.WithField("deployments", deps).Info("the app is locked by a deployment; waiting")
		c.setError(st, err, ReasonDeploymentLocked, nil)
		out.act.Kind = reconcile.ActionWait
		out.act.Deployments = deps
		out.act.Reason = "the app is locked by deployment(s) " + strings.Join(deps, ", ")
		out.retry = retryAfter
		out.after = errs.RetryAfter(err)
		if out.after <= 0 {
			out.after = c.opts.WaitRecheck
		}
		return false, out
	case errs.IsPermanent(err) && !authStatus(err):
		c.metrics.writes.WithLabelValues(string(act.Kind), "rejected").Inc()
		var details json.RawMessage
		var ae *marathon.APIError
		if errors.As(err, &ae) && len(ae.Details) > 0 {
			details, _ = json.Marshal(ae.Details)
		}
		l.Warn("Marathon rejected the app")
		c.setError(st, err, ReasonMarathonRejected, details)
		st.failFP = failFP
		out.act = reconcile.Action{Kind: reconcile.ActionFail, Release: d.name, AppID: act.AppID, Reason: err.Error(), Err: err}
		return false, out
	default:
		outcomeLabel := "error"
		if marathon.StatusOf(err) == 0 && ctx.Err() == nil {
			// No answer: the write may have been applied. Wait for it to
			// show before deciding again.
			outcomeLabel = "unknown"
			st.inflight = inf
		}
		c.metrics.writes.WithLabelValues(string(act.Kind), outcomeLabel).Inc()
		l.Warn("write failed; will retry with backoff")
		reason := ReasonMarathonError
		if authStatus(err) {
			reason = ReasonUnauthorized
		}
		c.setError(st, err, reason, nil)
		out.retry = retryBackoff
		return false, out
	}
}

// authStatus: the cluster refused our credentials (401/403, or a refused
// login). Not the release's fault: retried with backoff, never remembered
// as a permanent failure of the release's inputs.
func authStatus(err error) bool {
	s := marathon.StatusOf(err)
	var le *dcosauth.LoginError
	return s == 401 || s == 403 || errors.As(err, &le)
}

// actOnOthers handles actions on apps of a declared release at another id
// (its app id changed): delete them through the Uninstaller once the new
// app runs. next is true when something was done and the caller should
// re-plan.
func (c *Controller) actOnOthers(ctx context.Context, d *desiredEntry, st *relState, others []reconcile.Action, log logrus.FieldLogger) (next bool, out outcome) {
	for _, a := range others {
		if a.Kind != reconcile.ActionDelete {
			continue
		}
		if !c.opts.Leader.IsLeader() {
			return false, outcome{act: a, note: "not the leader"}
		}
		done, o := c.uninstall(ctx, d.name, st, a.AppID, log)
		if !done {
			return false, o
		}
		next = true
	}
	return next, outcome{}
}

// uninstall removes one owned app through the Uninstaller, after a fresh
// read that confirms it is still owned by release.
func (c *Controller) uninstall(ctx context.Context, release string, st *relState, appID string, log logrus.FieldLogger) (bool, outcome) {
	act := reconcile.Action{Kind: reconcile.ActionDelete, Release: release, AppID: appID}
	var e *appEntry
	if appID != "" {
		c.cache.markDirty(appID)
		if err := c.refreshDirty(ctx, []string{appID}); err != nil {
			return false, c.readFailed(st, appID, err)
		}
		e = c.cache.get(appID)
		if e == nil {
			return true, outcome{act: act}
		}
	} else {
		e = &appEntry{}
	}
	if appID != "" && e.owner != release {
		// Never touch an app the release does not own.
		return false, outcome{act: reconcile.Action{Kind: reconcile.ActionNothing, Release: release, AppID: appID,
			Reason: "the app is no longer owned by the release"}}
	}
	// Under the leader's term (checked now; the uninstall ends with the lease).
	uctx, cancel, err := c.writeContext(ctx)
	if err != nil {
		return false, outcome{act: act, note: "not the leader: the uninstall is left to the leader replica", result: "not_leader"}
	}
	defer cancel()
	now := c.opts.Clock.Now()
	res, err := c.opts.Uninstaller.Uninstall(uctx, UninstallRequest{Release: release, AppID: appID,
		App: e.app.Raw, Deployments: e.app.Deployments, Janitor: st.prefs.janitor, Framework: st.prefs.framework,
		PostUninstallNotes: st.prefs.notes, Retry: st.retryCleanup})
	st.retryCleanup = false
	var mark uint64
	if appID != "" {
		mark = c.cache.markDirty(appID)
	}
	if res.Cleanup != nil {
		st.cleanup = res.Cleanup
		st.ver++
	}
	for _, ev := range res.Events {
		c.event(st, ev.Type, ev.Reason, ev.Message)
	}
	st.showUntil = res.ShowUntil
	if err != nil {
		if marathon.IsLocked(err) {
			c.setError(st, err, ReasonDeploymentLocked, nil)
			after := errs.RetryAfter(err)
			if after <= 0 {
				after = c.opts.WaitRecheck
			}
			act.Kind = reconcile.ActionWait
			return false, outcome{act: act, retry: retryAfter, after: after}
		}
		c.metrics.writes.WithLabelValues("delete", "error").Inc()
		c.setError(st, err, uninstallReason(err), nil)
		log.WithField("app", appID).WithError(err).Warn("uninstall failed; will retry with backoff")
		if marathon.StatusOf(err) == 0 && appID != "" {
			st.inflight = &inflight{kind: reconcile.ActionDelete, appID: appID, at: now, gen: mark}
		}
		return false, outcome{act: act, result: "error", retry: retryBackoff}
	}
	c.metrics.writes.WithLabelValues("delete", "ok").Inc()
	c.clearError(st)
	st.lastChange = now
	if appID != "" {
		st.inflight = &inflight{kind: reconcile.ActionDelete, appID: appID, deploymentID: res.DeploymentID, at: now, gen: mark, acked: true}
	}
	if msg := res.Message; msg != "" {
		c.event(st, "Normal", "Deleting", "app "+appID+": "+msg)
		log.WithField("app", appID).WithField("deployment", res.DeploymentID).Info("deleting app: " + msg)
	}
	if !res.Done {
		return false, outcome{act: act, retry: retryAfter, after: c.opts.WaitRecheck}
	}
	return true, outcome{act: act}
}

// reconcileUndeclared handles a release that is not (or no longer) in Git
// but may own apps: prune them if the prune decision allows, else report
// the refusal. gone is true when nothing is left of the release.
func (c *Controller) reconcileUndeclared(ctx context.Context, w *world, st *relState) (outcome, bool) {
	name := st.name
	log := c.logFor(nil, name, "")
	ids := c.idsOf(name, "")
	if st.inflight != nil && !slices.Contains(ids, st.inflight.appID) {
		ids = append(ids, st.inflight.appID)
	}
	if err := c.refreshDirty(ctx, ids); err != nil {
		return c.readFailed(st, "", err), false
	}
	ids = c.idsOf(name, "")
	now := c.opts.Clock.Now()
	if wait, why, reread := c.inflightWait(ctx, st, now, log); wait || reread {
		return outcome{act: reconcile.Action{Kind: reconcile.ActionDelete, Release: name, Reason: why},
			sync: api.SyncDeleting, retry: retryAfter, after: c.waitDelay(st, now)}, false
	}
	if len(ids) == 0 {
		if p, ok := c.opts.Uninstaller.(PendingUninstaller); ok && p.Pending(name) {
			// Cleanup steps remain after the app is gone (issue 7).
			if !c.opts.Leader.IsLeader() {
				return outcome{act: reconcile.Action{Kind: reconcile.ActionDelete, Release: name,
					Reason: "cleanup pending; left to the leader replica"}, sync: api.SyncDeleting}, false
			}
			done, o := c.uninstall(ctx, name, st, "", log)
			if !done {
				o.sync = api.SyncDeleting
				return o, false
			}
		}
		if now := c.opts.Clock.Now(); now.Before(st.showUntil) {
			// Uninstalled: shown a while with its cleanup (notes, what was
			// done, what is left).
			why := "removed from Git and uninstalled; shown until " + st.showUntil.UTC().Format(time.RFC3339)
			return outcome{act: reconcile.Action{Kind: reconcile.ActionNothing, Release: name, Reason: why},
				sync: api.SyncDeleting, retry: retryAfter, after: st.showUntil.Sub(now)}, false
		}
		return outcome{}, true
	}
	if o, keep := c.ro.keepUndeclared(ctx, st, ids); keep {
		return o, false
	}
	ps := c.prune.Load()
	act := reconcile.Action{Kind: reconcile.ActionOrphan, Release: name, AppID: ids[0]}
	if !ps.allowed[name] {
		reason := ps.refused
		if reason == "" {
			reason = "the release is no longer declared; waiting for the next prune decision"
		}
		act.Reason = reason
		if !strings.Contains(st.lastDrift, reason) {
			st.lastDrift = reason
			c.event(st, "Warning", ReasonPruneRefused, reason)
		}
		return outcome{act: act, note: reason}, false
	}
	if !c.opts.Leader.IsLeader() {
		act.Reason = "removed from Git; deletion is left to the leader replica"
		return outcome{act: act, note: act.Reason, sync: api.SyncDeleting}, false
	}
	if o, wait := c.ro.deleteBlocked(name, ids[0]); wait {
		return o, false
	}
	for _, id := range ids {
		done, o := c.uninstall(ctx, name, st, id, log)
		if !done {
			o.sync = api.SyncDeleting
			return o, false
		}
	}
	act.Kind, act.Reason = reconcile.ActionDelete, "the release is no longer declared"
	return outcome{act: act, sync: api.SyncDeleting, retry: retryAfter, after: c.waitDelay(st, now)}, false
}

// PendingUninstaller is optionally implemented by an Uninstaller whose
// uninstall goes on after the app is gone (janitor steps, issue 7): while
// Pending is true the controller keeps calling Uninstall (with an empty
// AppID) for the release, and a release declared again waits for it.
// PendingReleases lists the unfinished uninstalls (after a restart), so
// every full pass queues them.
type PendingUninstaller interface {
	Pending(release string) bool
	PendingReleases(ctx context.Context) []string
}

// uninstallResyncer is optionally implemented by a PendingUninstaller
// whose view of pending uninstalls must be read again from the store when
// this replica becomes leader (another one may have recorded some).
type uninstallResyncer interface {
	Resync()
}

// leadershipChanged makes what the previous leader recorded count before
// this replica acts on it.
func (c *Controller) leadershipChanged() {
	if r, ok := c.opts.Uninstaller.(uninstallResyncer); ok {
		r.Resync()
	}
}

// saveOwn records the deployment the controller started for a release
// (read back after a restart by the stuck-deployment rule, so it is kept
// only when stuck_deployment_after is set). The write is asynchronous: a
// lost record only means a restarted controller waits instead of forcing.
func (c *Controller) saveOwn(st *relState, d *desiredEntry, id string, at time.Time) {
	if c.opts.Store == nil || c.opts.StuckAfter <= 0 {
		return
	}
	b, _ := json.Marshal(ownRecord{ID: id, Started: at.UTC(), Hash: d.hash, AppID: d.appID})
	c.persist.put(st.name, b)
}

// setError records the release's last error.
func (c *Controller) setError(st *relState, err error, reason string, details json.RawMessage) {
	if err == nil {
		c.clearError(st)
		return
	}
	msg := err.Error()
	if st.errInfo != nil && st.errInfo.Message == msg && st.errInfo.Reason == reason {
		st.lastErr = err
		return
	}
	st.lastErr = err
	st.errInfo = &api.Error{Class: errs.ClassOf(err).String(), Reason: reason, Message: msg,
		Time: c.opts.Clock.Now().UTC(), Details: details}
	st.ver++
	c.event(st, "Warning", reason, msg)
}

func (c *Controller) clearError(st *relState) {
	if st.lastErr == nil && st.errInfo == nil {
		return
	}
	st.lastErr, st.errInfo = nil, nil
	st.ver++
}

// event adds an event to a release's recent events.
func (c *Controller) event(st *relState, typ, reason, msg string) {
	st.events.add(api.Event{Time: c.opts.Clock.Now().UTC(), Type: typ, Reason: reason, Message: msg})
	st.ver++
}

// appStatus computes (or reuses) the DC/OS UI status of an app entry.
func (c *Controller) appStatus(st *relState, e *appEntry) reconcile.AppStatus {
	q := c.cache.queueEntry(e.id)
	qkey := ""
	if q != nil {
		qkey = fmt.Sprint(q.Count, q.Delay.TimeLeftSeconds, q.Delay.Overdue, q.ObservedAt.UnixNano())
	}
	fw := c.frameworks.Load()
	m := &st.stMemo
	if m.ok && m.raw == e.rawHash && m.queue == qkey && m.fwGen == fw.gen {
		return m.st
	}
	s, err := reconcile.Status(e.app.Raw, q, fw.list, c.opts.Clock.Now())
	if err != nil {
		return reconcile.AppStatus{AppID: e.id, Health: reconcile.HealthNA, Status: reconcile.StatusNA}
	}
	m.raw, m.queue, m.fwGen, m.st, m.ok = e.rawHash, qkey, fw.gen, s, true
	return s
}

// deployed returns the version and revision of the package an app runs,
// from its labels (the definition label is decoded once per app version).
func (c *Controller) deployed(st *relState, d *desiredEntry, e *appEntry) (string, *int) {
	ver := e.app.Labels[render.LabelPackageVersion]
	if d != nil && d.pkg != nil && e.hash != "" && e.hash == d.hash {
		r := d.pkg.ReleaseVersion
		return ver, &r
	}
	m := &st.depMemo
	if m.version == e.app.Version && m.ver == ver {
		return ver, m.rel
	}
	m.version, m.ver, m.rel = e.app.Version, ver, nil
	if def := e.app.Labels[render.LabelPackageDefinition]; def != "" {
		if p, err := universe.DecodeDefinitionLabel(def); err == nil {
			r := p.ReleaseVersion
			m.rel = &r
		}
	}
	return ver, m.rel
}

// publish builds the release's status document and publishes it when it
// changed.
func (c *Controller) publish(w *world, d *desiredEntry, st *relState, out outcome) {
	now := c.opts.Clock.Now()
	name := st.name
	var e *appEntry
	if d != nil && d.appID != "" {
		if x := c.cache.get(d.appID); x != nil && x.owner == name {
			e = x
		}
	}
	if e == nil {
		ids := c.cache.owned(name)
		sort.Strings(ids)
		if len(ids) > 0 {
			e = c.cache.get(ids[0])
		}
	}
	var status reconcile.AppStatus
	var rawHash uint64
	if e != nil {
		status = c.appStatus(st, e)
		rawHash = e.rawHash
	}
	var rollout *reconcile.Rollout
	if e != nil {
		rollout = c.opts.Rollouts.Rollout(name, status, now)
	}
	leader := c.opts.Leader.IsLeader()
	statusKey := func() string {
		return fmt.Sprintf("%p|%x|%s|%s|%v|%d|%s|%s|%s|%s|%t|%d|%s|%d", d, rawHash, status.Health, status.Status, status.Tasks,
			status.Instances, status.ServiceLink, strings.Join(status.Deployments, ","), out.act.Kind, out.act.Reason+"|"+out.note, leader, st.ver, out.sync,
			len(out.act.Drift.Changes))
	}
	key := statusKey()
	if rollout == nil && st.statusKey == key {
		c.book.touch(name, now.UTC())
		return
	}
	doc := api.Release{Name: name, LastReconcile: now.UTC()}
	if d != nil {
		doc.ManifestFile = d.file
		doc.ManifestRevision = d.manifestRev
		doc.AppID = d.appID
		if d.rel != nil {
			doc.Package = d.rel.Spec.Package
			doc.DesiredVersion = d.rel.VersionSpec()
			doc.Suspended = d.rel.Spec.Suspend
			doc.DependsOn = append([]string(nil), d.rel.Spec.DependsOn...)
		}
		if d.pkg != nil {
			doc.Universe = d.pkg.Repository
			doc.ResolvedVersion = d.pkg.Version
			r := d.pkg.ReleaseVersion
			doc.ResolvedRelease = &r
			doc.UniverseRevision = d.universeRev
			doc.Notes = d.notes
			doc.Icon = d.icon
		}
	}
	if e != nil {
		doc.AppID = e.id
		if doc.Package == "" {
			doc.Package = e.app.Labels[render.LabelPackageName]
		}
		doc.DeployedVersion, doc.DeployedRelease = c.deployed(st, d, e)
		doc.Health = string(status.Health)
		doc.Status = string(status.Status)
		doc.Tasks = api.TaskCounts{Instances: status.Instances, Staged: status.Tasks.Staged, Running: status.Tasks.Running,
			Healthy: status.Tasks.Healthy, Unhealthy: status.Tasks.Unhealthy}
		doc.ServiceLink = status.ServiceLink
		doc.Deployments = append([]string(nil), status.Deployments...)
	} else {
		doc.Health = api.HealthNA
	}
	switch out.act.Kind {
	case reconcile.ActionUpdate, reconcile.ActionForceUpdate, reconcile.ActionWait:
		for _, ch := range out.act.Drift.Changes {
			doc.Drift = append(doc.Drift, api.FieldDiff{Path: ch.Path, Kind: string(ch.Kind), Desired: ch.Desired, Actual: ch.Actual})
		}
	}
	if len(doc.Deployments) == 0 && len(out.act.Deployments) > 0 {
		doc.Deployments = append([]string(nil), out.act.Deployments...)
	}

	// Sync state.
	switch {
	case out.sync != "":
		doc.Sync = out.sync
		doc.SyncReason = out.act.Reason
		if out.note != "" && out.note != doc.SyncReason {
			doc.SyncReason = out.note
		}
	case d == nil:
		doc.Sync = api.SyncOutOfSync
		doc.SyncReason = out.act.Reason
	default:
		in := reconcile.SyncInput{Action: out.act.Kind, Suspended: doc.Suspended, LastError: st.lastErr,
			DeploymentInFlight: len(status.Deployments) > 0, Health: status.Health, Converged: e != nil && status.Converged(),
			Rollout: rollout, Now: now}
		if out.act.Kind == reconcile.ActionFail && in.LastError == nil {
			in.LastError = out.act.Err
		}
		sr := reconcile.SyncState(in)
		doc.Sync, doc.SyncReason = string(sr.State), sr.Reason
		if doc.Sync == api.SyncProgressing && out.act.Kind == reconcile.ActionWait && out.act.Reason != "" {
			doc.SyncReason = out.act.Reason
		}
		if out.note != "" {
			doc.SyncReason = strings.TrimPrefix(doc.SyncReason+"; "+out.note, "; ")
		}
	}
	if st.errInfo != nil {
		ei := *st.errInfo
		doc.LastError = &ei
	}
	if st.cleanup != nil && (d == nil || doc.Sync == api.SyncDeleting) {
		cl := *st.cleanup
		doc.Cleanup = &cl
		if d == nil {
			if doc.Notes.PostUninstall == "" {
				doc.Notes.PostUninstall = cl.PostUninstallNotes
			}
			if doc.AppID == "" {
				doc.AppID = cl.AppID
			}
			if doc.Package == "" {
				doc.Package = cl.Package
			}
		}
	}
	if c.opts.History != nil {
		doc.History = c.opts.History.History(name)
	}
	c.ro.decorate(&doc, e, status)

	// Transitions worth an event.
	if doc.Sync != st.lastSync {
		if st.lastSync != "" || doc.Sync != api.SyncSynced {
			typ := "Normal"
			if doc.Sync == api.SyncFailed || doc.Sync == api.SyncOutOfSync {
				typ = "Warning"
			}
			msg := doc.Sync
			if doc.SyncReason != "" {
				msg += ": " + doc.SyncReason
			}
			c.event(st, typ, "Sync"+doc.Sync, msg)
		}
		if out.act.Kind == reconcile.ActionUpdate && out.act.Reason == "the app in Marathon drifted" {
			c.event(st, "Warning", "DriftDetected", "the app in Marathon differs from Git: "+strings.Join(limit(out.act.Drift.Paths(), 8), ", "))
		}
		st.lastSync = doc.Sync
		st.lastChange = now
	}
	if doc.Health != st.lastHealth {
		if st.lastHealth != "" {
			typ := "Normal"
			if doc.Health == api.HealthUnhealthy {
				typ = "Warning"
			}
			c.event(st, typ, "Health"+doc.Health, fmt.Sprintf("health %s -> %s (%d/%d tasks healthy)",
				st.lastHealth, doc.Health, doc.Tasks.Healthy, doc.Tasks.Running))
		}
		st.lastHealth = doc.Health
		st.lastChange = now
	}
	doc.Events = st.events.list()
	if !st.lastChange.IsZero() {
		doc.LastChange = st.lastChange.UTC()
	}
	st.statusKey = statusKey()
	if c.book.set(doc) {
		c.stream.Publish(doc)
	}
	ver := doc.DeployedVersion
	if ver == "" {
		ver = doc.ResolvedVersion
	}
	c.metrics.setInfo(name, doc.Package, ver, doc.Sync, doc.Health)
}
