package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/universe-operator/universe-operator/api"
	"github.com/universe-operator/universe-operator/clients/marathon"
	"github.com/universe-operator/universe-operator/errs"
	"github.com/universe-operator/universe-operator/manifest"
	"github.com/universe-operator/universe-operator/reconcile"
	"github.com/universe-operator/universe-operator/render"
	"github.com/universe-operator/universe-operator/rollout"
	"github.com/universe-operator/universe-operator/state"
	"github.com/universe-operator/universe-operator/universe"
)

// Reasons of issue 6 (api.Error.Reason and event reasons).
const (
	ReasonRolloutFailed    = "RolloutFailed"
	ReasonUpgradeRefused   = "UpgradeRefused"
	ReasonDependencies     = "DependencyError"
	ReasonStateUnavailable = "StateUnavailable"
)

// kindSuspended marks a release declared with spec.suspend: kept when its
// manifest is removed while it is suspended (suspend = leave it alone,
// including prune).
const kindSuspended = "suspended"

// DefaultHistoryLimit is the number of deployed definitions kept per release.
const DefaultHistoryLimit = 10

// kindDefinitions holds the raw definitions of the history, one record
// per release and hash ("<release>.<hash>", gzip-compressed), read only
// when rolled back to.
const kindDefinitions = "definitions"

// maxDefinitionBytes bounds the stored (compressed) definitions of one
// release; a single definition must also fit state.MaxValueSize (below
// ZooKeeper's 1 MB znode limit).
const maxDefinitionBytes = 512 << 10

// rollouts is the controller's health gate, history, rollback pins, bad
// definitions, suspend markers and dependsOn ordering (issue 6). The
// durable records live in the state store (kinds history, bad-revisions,
// pins, suspended); only the leader writes them, followers re-read them on
// every full pass. It implements RolloutTracker and HistoryRecorder (the
// defaults of Options.Rollouts and Options.History); the rest is called
// from the worker (begin, follow, gate), publish (decorate) and the loop.
type rollouts struct {
	c     *Controller
	limit int
	log   logrus.FieldLogger

	mu    sync.Mutex
	rels  map[string]*roRel
	index map[string]map[string]bool // kind -> keys present in the store; nil until listed
	// touched holds the index changes made while a listing is on its way
	// (kind -> key -> present), applied over the listing's result: a record
	// saved meanwhile may be missing from it.
	touched   map[string]map[string]bool
	listing   int // listings in progress
	failed    map[string]failedDeployment
	ready     map[string]rollout.DepState
	deps      map[string][]string // dependsOn as last declared
	depGen    uint64
	depProbs  map[string][]error
	wasLeader bool
	listed    bool

	outcomes *prometheus.CounterVec
}

type failedDeployment struct {
	reason string
	at     time.Time
}

// roRel is what rollouts keeps of one release. mu guards it (the worker,
// the HTTP API and the event stream reach it).
type roRel struct {
	mu     sync.Mutex
	name   string
	loaded bool
	stale  bool
	epoch  time.Time // the leadership term the records were read under
	// dropPending holds stored definitions no entry needs any more whose
	// deletion failed or waits for a history save: retried with the next.
	dropPending []string

	hist  *rollout.History
	histV int64
	bad   *rollout.Bad
	badV  int64
	pin   *rollout.Pin
	pinV  int64
	susp  bool
	suspV int64

	ver, seen uint64 // bumped on every change shown in the status

	clone struct {
		from *desiredEntry
		rev  int
		d    *desiredEntry
	}
	inst struct {
		key string
		pkg *universe.Package
	}
	waitKey  string
	baseline *baseline
	// raws are the stored definitions when there is no state store.
	raws map[string]json.RawMessage
}

// baseline is the app found running before the first tracked rollout: a
// rollback target for apps deployed before history existed.
type baseline struct {
	raw     json.RawMessage
	hash    string
	appID   string
	version string
	release int
}

func newRollouts(c *Controller, limit int) (*rollouts, error) {
	if limit <= 0 {
		limit = DefaultHistoryLimit
	}
	r := &rollouts{c: c, limit: limit, log: c.log, rels: map[string]*roRel{}, failed: map[string]failedDeployment{},
		ready: map[string]rollout.DepState{}, deps: map[string][]string{}}
	r.outcomes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "universe_operator_rollouts_total",
		Help: "Rollouts judged, by outcome (Succeeded, Failed, RolledBack, Superseded).",
	}, []string{"outcome"})
	if err := c.opts.Registry.Register(r.outcomes); err != nil {
		return nil, err
	}
	return r, nil
}

// ---- records -----------------------------------------------------------------

func (r *rollouts) rel(name string) *roRel {
	r.mu.Lock()
	defer r.mu.Unlock()
	rr := r.rels[name]
	if rr == nil {
		rr = &roRel{name: name, hist: &rollout.History{}}
		r.rels[name] = rr
	}
	return rr
}

// present reports whether the store may hold kind/name (false only when the
// kind was listed and the key is not in it).
func (r *rollouts) present(kind, name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.listed || r.index == nil {
		return true
	}
	return r.index[kind][name]
}

func (r *rollouts) setIndex(kind, name string, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.listing > 0 {
		if r.touched[kind] == nil {
			r.touched[kind] = map[string]bool{}
		}
		r.touched[kind][name] = on
	}
	markIndex(r.index, kind, name, on)
}

// markIndex records in index (when listed) whether kind/name is stored.
func markIndex(index map[string]map[string]bool, kind, name string, on bool) {
	if index == nil {
		return
	}
	m := index[kind]
	if m == nil {
		m = map[string]bool{}
		index[kind] = m
	}
	if on {
		m[name] = true
	} else {
		delete(m, name)
	}
}

// load reads rr's records from the store when they were not read yet, are
// stale, or were read under another leadership term (a replica that just
// became leader, or lost and regained it, reads what the previous leader
// wrote before it acts). Caller holds rr.mu.
func (r *rollouts) load(ctx context.Context, rr *roRel) error {
	epoch := r.leaderEpoch()
	if rr.loaded && !rr.stale && rr.epoch.Equal(epoch) {
		return nil
	}
	s := r.c.opts.Store
	if s == nil {
		rr.loaded, rr.stale, rr.epoch = true, false, epoch
		return nil
	}
	// After a change of term the index of stored records may be as old as
	// the records: read every kind.
	direct := rr.loaded && !rr.epoch.Equal(epoch)
	lctx, cancel := context.WithTimeout(ctx, r.c.opts.RequestTimeout)
	defer cancel()
	get := func(kind string) ([]byte, int64, error) {
		if !direct && !r.present(kind, rr.name) {
			return nil, 0, nil
		}
		b, v, err := s.Get(lctx, kind, rr.name)
		switch {
		case err == nil:
			return b, v, nil
		case errors.Is(err, state.ErrNotFound), errors.Is(err, state.ErrInvalidKey):
			return nil, 0, nil
		case errors.Is(err, state.ErrCorrupt):
			r.log.WithField("release", rr.name).WithError(err).Warn("ignoring a corrupt " + kind + " record")
			return nil, -1, nil
		}
		return nil, 0, fmt.Errorf("read the release's %s record: %w", kind, err)
	}
	hb, hv, err := get(state.KindHistory)
	if err != nil {
		return err
	}
	bb, bv, err := get(state.KindBadRevisions)
	if err != nil {
		return err
	}
	pb, pv, err := get(state.KindPins)
	if err != nil {
		return err
	}
	sb, sv, err := get(kindSuspended)
	if err != nil {
		return err
	}
	hist := &rollout.History{}
	if hb != nil {
		if h, err := rollout.DecodeHistory(hb); err == nil {
			hist = h
		} else {
			r.log.WithField("release", rr.name).WithError(err).Warn("ignoring an unreadable history record")
		}
	}
	var bad *rollout.Bad
	if bb != nil {
		var b rollout.Bad
		if json.Unmarshal(bb, &b) == nil && b.Hash != "" {
			bad = &b
		}
	}
	var pin *rollout.Pin
	if pb != nil {
		var p rollout.Pin
		if json.Unmarshal(pb, &p) == nil && p.Hash != "" && len(p.Raw) > 0 {
			pin = &p
		}
	}
	changed := !rr.loaded || !sameHistory(rr.hist, hist) || !sameJSON(rr.bad, bad) || !sameJSON(rr.pin, pin) || rr.susp != (sb != nil)
	rr.hist, rr.histV = hist, hv
	rr.bad, rr.badV = bad, bv
	rr.pin, rr.pinV = pin, pv
	rr.susp, rr.suspV = sb != nil, sv
	rr.loaded, rr.stale, rr.epoch = true, false, epoch
	if changed {
		rr.ver++
	}
	return nil
}

// leaderEpoch identifies this replica's current leadership term: when it
// started (zero for a follower, and for a Leader that does not say).
func (r *rollouts) leaderEpoch() time.Time {
	l := r.c.opts.Leader
	if ls, ok := l.(LeaderSince); ok && l.IsLeader() {
		return ls.LeaderSince()
	}
	return time.Time{}
}

func sameHistory(a, b *rollout.History) bool {
	if a == nil || b == nil {
		return a == b
	}
	if len(a.Entries) != len(b.Entries) {
		return false
	}
	for i := range a.Entries {
		if a.Entries[i] != b.Entries[i] {
			return false
		}
	}
	return true
}

func sameJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// save writes (value != nil) or deletes one record of rr. Only the leader
// writes durable state. ver is the record's version (compare-and-set); a
// conflict marks rr stale (another replica wrote: re-read it).
func (r *rollouts) save(ctx context.Context, rr *roRel, kind string, value []byte, ver *int64) error {
	if !r.c.opts.Leader.IsLeader() {
		return ErrNotLeader
	}
	s := r.c.opts.Store
	if s == nil {
		if value == nil {
			*ver = 0
		} else {
			*ver++
		}
		return nil
	}
	sctx, cancel := context.WithTimeout(ctx, r.c.opts.RequestTimeout)
	defer cancel()
	if value == nil {
		if err := s.Delete(sctx, kind, rr.name); err != nil && !errors.Is(err, state.ErrInvalidKey) {
			return fmt.Errorf("delete the release's %s record: %w", kind, err)
		}
		*ver = 0
		r.setIndex(kind, rr.name, false)
		return nil
	}
	expect := *ver
	switch {
	case expect == 0:
		expect = state.Create
	case expect < 0:
		expect = state.Any
	}
	nv, err := s.Put(sctx, kind, rr.name, value, expect)
	if err != nil {
		if errors.Is(err, state.ErrConflict) {
			rr.stale = true
			r.setIndex(kind, rr.name, true) // it exists (or changed): the next load reads it
		}
		return fmt.Errorf("write the release's %s record: %w", kind, err)
	}
	*ver = nv
	r.setIndex(kind, rr.name, true)
	return nil
}

func (r *rollouts) saveHistory(ctx context.Context, rr *roRel) error {
	b, err := rollout.EncodeHistory(rr.hist)
	if err != nil {
		return err
	}
	return r.save(ctx, rr, state.KindHistory, b, &rr.histV)
}

func definitionKey(release, hash string) string { return release + "." + hash }

// storeDefinition stores a raw definition (once per hash) and returns its
// stored size; ok is false when it cannot be stored (too large, store
// failure: the entry is then not rollbackable). Leader only.
func (r *rollouts) storeDefinition(ctx context.Context, rr *roRel, hash string, raw json.RawMessage) (int, bool) {
	if hash == "" || len(raw) == 0 || !r.c.opts.Leader.IsLeader() {
		return 0, false
	}
	b, err := rollout.EncodeDefinition(raw)
	if err != nil {
		return 0, false
	}
	s := r.c.opts.Store
	if s == nil {
		if rr.raws == nil {
			rr.raws = map[string]json.RawMessage{}
		}
		rr.raws[hash] = raw
		return len(b), true
	}
	if rr.hist.Kept(hash) {
		return len(b), true
	}
	sctx, cancel := context.WithTimeout(ctx, r.c.opts.RequestTimeout)
	defer cancel()
	if _, err := s.Put(sctx, kindDefinitions, definitionKey(rr.name, hash), b, state.Any); err != nil {
		r.log.WithField("release", rr.name).WithError(err).Warn("cannot store the definition: it cannot be rolled back to")
		return 0, false
	}
	return len(b), true
}

// definition reads a stored definition back.
func (r *rollouts) definition(ctx context.Context, rr *roRel, hash string) (json.RawMessage, error) {
	s := r.c.opts.Store
	if s == nil {
		if raw := rr.raws[hash]; raw != nil {
			return raw, nil
		}
		return nil, state.ErrNotFound
	}
	sctx, cancel := context.WithTimeout(ctx, r.c.opts.RequestTimeout)
	defer cancel()
	b, _, err := s.Get(sctx, kindDefinitions, definitionKey(rr.name, hash))
	if err != nil {
		return nil, fmt.Errorf("read the stored definition %s: %w", hash, err)
	}
	return rollout.DecodeDefinition(b)
}

// dropDefinitions deletes stored definitions no entry needs any more,
// and retries earlier ones that failed (unless an entry needs them again).
func (r *rollouts) dropDefinitions(ctx context.Context, rr *roRel, hashes []string) {
	todo := slices.Clone(hashes)
	for _, h := range rr.dropPending {
		if !rr.hist.Kept(h) && !slices.Contains(todo, h) {
			todo = append(todo, h)
		}
	}
	rr.dropPending = nil
	for _, h := range todo {
		delete(rr.raws, h)
		if s := r.c.opts.Store; s != nil && r.c.opts.Leader.IsLeader() {
			sctx, cancel := context.WithTimeout(ctx, r.c.opts.RequestTimeout)
			if err := s.Delete(sctx, kindDefinitions, definitionKey(rr.name, h)); err != nil && !errors.Is(err, state.ErrNotFound) {
				r.log.WithField("release", rr.name).WithError(err).Debug("cannot delete a stored definition; retried later")
				r.deferDrop(rr, h)
			}
			cancel()
		}
	}
}

// maxDropPending bounds the deletions kept for a retry per release.
const maxDropPending = 100

// deferDrop keeps a definition to delete with the next deletions.
func (r *rollouts) deferDrop(rr *roRel, hashes ...string) {
	for _, h := range hashes {
		if len(rr.dropPending) < maxDropPending && !slices.Contains(rr.dropPending, h) {
			rr.dropPending = append(rr.dropPending, h)
		}
	}
}

func (r *rollouts) saveBad(ctx context.Context, rr *roRel) error {
	var b []byte
	if rr.bad != nil {
		b, _ = json.Marshal(rr.bad)
	}
	return r.save(ctx, rr, state.KindBadRevisions, b, &rr.badV)
}

func (r *rollouts) savePin(ctx context.Context, rr *roRel) error {
	var b []byte
	if rr.pin != nil {
		b, _ = json.Marshal(rr.pin)
	}
	return r.save(ctx, rr, state.KindPins, b, &rr.pinV)
}

// refresh is called at the start of every full pass: followers (and a
// replica that just became leader) list the store's records again and
// re-read every release's records before using them, so what the leader
// wrote shows; the leader keeps its own records in memory.
func (r *rollouts) refresh(ctx context.Context) {
	leader := r.c.opts.Leader.IsLeader()
	r.mu.Lock()
	again := !r.listed || !leader || leader != r.wasLeader
	r.wasLeader = leader
	r.mu.Unlock()
	if !again {
		return
	}
	index := map[string]map[string]bool{}
	r.mu.Lock()
	if r.listing == 0 {
		r.touched = map[string]map[string]bool{}
	}
	r.listing++
	r.mu.Unlock()
	if s := r.c.opts.Store != nil; s {
		lctx, cancel := context.WithTimeout(ctx, r.c.opts.RequestTimeout)
		defer cancel()
		for _, kind := range []string{state.KindHistory, state.KindBadRevisions, state.KindPins, kindSuspended} {
			keys, err := r.c.opts.Store.List(lctx, kind)
			if err != nil {
				r.log.WithError(err).Warn("cannot list the controller's records; every release reads its own")
				index = nil
				break
			}
			m := map[string]bool{}
			for _, k := range keys {
				m[k] = true
			}
			index[kind] = m
		}
	}
	r.mu.Lock()
	for kind, names := range r.touched { // saved or deleted while listing
		for name, on := range names {
			markIndex(index, kind, name, on)
		}
	}
	if r.listing--; r.listing == 0 {
		r.touched = nil
	}
	r.index, r.listed = index, index != nil
	rels := make([]*roRel, 0, len(r.rels))
	for _, rr := range r.rels {
		rels = append(rels, rr)
	}
	for name, d := range r.failed {
		if time.Since(d.at) > time.Hour {
			delete(r.failed, name)
		}
	}
	r.mu.Unlock()
	for _, rr := range rels {
		rr.mu.Lock()
		rr.stale = true
		rr.mu.Unlock()
	}
}

// bump tells the worker's status memo that rr changed.
func (r *rollouts) bump(rr *roRel, st *relState) {
	if rr.ver != rr.seen {
		rr.seen = rr.ver
		st.ver++
	}
}

// ---- the worker's hooks ----------------------------------------------------

// gitKey fingerprints a release's Git inputs: its manifest content and the
// package revision it resolves to (and what they render). A pin holds
// until it changes.
func gitKey(d *desiredEntry) string {
	if d.rel == nil {
		return "invalid|" + d.fp
	}
	k := d.rel.Digest()
	if d.pkg != nil {
		k += "|" + d.pkg.Repository + "/" + d.pkg.Name + "/" + strconv.Itoa(d.pkg.ReleaseVersion) + "|" + d.pkgDigest
	}
	return k + "|" + d.hash
}

// begin runs first in a declared release's reconcile: it loads the
// release's records, keeps the suspend marker, drops a pin or a bad mark
// that Git changes made obsolete (leader), and returns the desired entry
// in force: the pinned definition while a rollback pin holds.
func (r *rollouts) begin(ctx context.Context, d *desiredEntry, st *relState) (*desiredEntry, outcome, bool) {
	rr := r.rel(d.name)
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if err := r.load(ctx, rr); err != nil {
		r.c.setError(st, errs.Transient(err), ReasonStateUnavailable, nil)
		return d, outcome{act: reconcile.Action{Release: d.name, AppID: d.appID, Reason: err.Error()},
			result: "error", retry: retryBackoff, sync: orUnknown(st.lastSync)}, true
	}
	var deps []string
	if d.rel != nil {
		deps = append(deps, d.rel.Spec.DependsOn...)
	}
	r.mu.Lock()
	r.deps[d.name] = deps
	r.mu.Unlock()

	suspended := d.rel != nil && d.rel.Spec.Suspend
	if r.c.opts.Leader.IsLeader() {
		log := r.c.logFor(d, d.name, d.appID)
		if suspended != rr.susp {
			var v []byte
			if suspended {
				v = []byte(`{"suspended":true}`)
			}
			if err := r.save(ctx, rr, kindSuspended, v, &rr.suspV); err != nil {
				log.WithError(err).Warn("cannot record the release's suspend flag")
			} else {
				rr.susp = suspended
			}
		}
		if rr.pin != nil && gitKey(d) != rr.pin.GitKey {
			old := rr.pin
			rr.pin = nil
			if err := r.savePin(ctx, rr); err != nil {
				rr.pin = old
				log.WithError(err).Warn("cannot remove the rollback pin")
			} else {
				rr.ver++
				r.c.event(st, "Normal", "Unpinned", fmt.Sprintf("the rollback pin to revision #%d is removed: the release's manifest or package revision changed in Git", old.Revision))
				log.WithField("pinned", old.Revision).Info("rollback pin removed: Git changed")
			}
		}
		if rr.bad != nil && rr.pin == nil && d.hash != "" && d.hash != rr.bad.Hash {
			old := rr.bad
			rr.bad = nil
			if err := r.saveBad(ctx, rr); err != nil {
				rr.bad = old
				log.WithError(err).Warn("cannot forget the failed definition")
			} else {
				rr.ver++
				r.c.event(st, "Normal", "FailedDefinitionCleared", fmt.Sprintf("the definition that failed (%s, hash %s) is no longer wanted: the release's inputs changed", describeVersion(old.Version, old.Release), old.Hash))
			}
		}
	}
	r.bump(rr, st)
	if rr.pin == nil || suspended {
		return d, outcome{}, false
	}
	return r.pinned(rr, d), outcome{}, false
}

func orUnknown(s string) string {
	if s == "" {
		return api.SyncUnknown
	}
	return s
}

func describeVersion(version string, release int) string {
	if version == "" {
		return fmt.Sprintf("rev %d", release)
	}
	return fmt.Sprintf("%s (rev %d)", version, release)
}

// pinned returns the desired entry with the pinned definition (memoised:
// the plan memo keys on the entry's address). Caller holds rr.mu.
func (r *rollouts) pinned(rr *roRel, d *desiredEntry) *desiredEntry {
	p := rr.pin
	if rr.clone.from == d && rr.clone.rev == p.Revision && rr.clone.d != nil {
		return rr.clone.d
	}
	cp := *d
	cp.app, cp.hash, cp.appID = p.Raw, p.Hash, p.AppID
	cp.err, cp.reason = nil, ""
	cp.fp = d.fp + "|pin:" + strconv.Itoa(p.Revision) + ":" + p.Hash
	name := ""
	if d.rel != nil {
		name = d.rel.Spec.Package
	}
	cp.pkg = &universe.Package{Name: name, Version: p.Version, ReleaseVersion: p.Release}
	if d.pkg != nil {
		cp.pkg.Name, cp.pkg.Repository = d.pkg.Name, d.pkg.Repository
	}
	rr.clone.from, rr.clone.rev, rr.clone.d = d, p.Revision, &cp
	return &cp
}

// observe returns what Marathon shows of the release's app id.
func (r *rollouts) observe(st *relState, appID string) (rollout.Observation, *appEntry) {
	e := r.c.cache.get(appID)
	if e == nil {
		return rollout.Observation{}, nil
	}
	return rollout.Observation{Present: true, Hash: e.hash, Version: e.app.Version, Status: r.c.appStatus(st, e)}, e
}

// follow judges the release's rollout in progress, once Marathon's answer
// to the controller's last write has been read back: success and
// supersession are recorded; a failure marks the definition bad and rolls
// back to the last good one (leader only). stop is true when the caller
// must return out (a rollback was written, or failed).
func (r *rollouts) follow(ctx context.Context, d *desiredEntry, st *relState, now time.Time, log logrus.FieldLogger) (outcome, bool) {
	rr := r.rel(d.name)
	rr.mu.Lock()
	defer rr.mu.Unlock()
	defer r.bump(rr, st)
	leader := r.c.opts.Leader.IsLeader()
	newest := rr.hist.Newest()
	if newest == nil {
		return outcome{}, false
	}
	if d.rel != nil && d.rel.Spec.Suspend {
		if newest.Outcome == rollout.InProgress && leader {
			r.finish(ctx, rr, newest, rollout.Superseded, "the release was suspended before the rollout was judged", now, st, log)
		}
		return outcome{}, false
	}
	if newest.Outcome == rollout.Failed && newest.RollbackTo > 0 {
		if !leader {
			return outcome{}, false
		}
		obs, _ := r.observe(st, newest.AppID)
		target := rr.hist.Get(newest.RollbackTo)
		switch {
		case target == nil || !target.Kept:
			newest.RollbackTo = 0
			newest.Reason += "; the rollback target is no longer in the history"
		case obs.Present && obs.Hash == target.Hash:
			// The rollback was applied (its answer was lost).
			r.rolledBack(rr, newest, target, "", now)
		case obs.Present && obs.Hash == newest.Hash:
			return r.rollback(ctx, d, rr, st, newest, target, now, log)
		default:
			newest.RollbackTo = 0
			newest.Reason += "; the app was changed outside the controller: no rollback"
		}
		rr.ver++
		if err := r.saveHistory(ctx, rr); err != nil {
			log.WithError(err).Warn("cannot record the rollout in the history")
		}
		return outcome{}, false
	}
	if newest.Outcome != rollout.InProgress {
		return outcome{}, false
	}
	obs, _ := r.observe(st, newest.AppID)
	dec := rollout.Judge(*newest, obs, r.failedReason(newest.Deployment), now)
	switch dec.Verdict {
	case rollout.VerdictProgressing:
		recheck := r.c.opts.WaitRecheck
		if dec.Recheck > 0 && dec.Recheck < recheck {
			recheck = dec.Recheck + 10*time.Millisecond
		}
		r.c.q.AddAfter(d.name, recheck)
		return outcome{}, false
	case rollout.VerdictSucceeded:
		if leader {
			r.finish(ctx, rr, newest, rollout.Succeeded, dec.Reason, now, st, log)
		}
		return outcome{}, false
	case rollout.VerdictSuperseded:
		if leader {
			r.finish(ctx, rr, newest, rollout.Superseded, dec.Reason, now, st, log)
		}
		return outcome{}, false
	}
	// Failed.
	if !leader {
		return outcome{}, false
	}
	return r.onFailure(ctx, d, rr, st, newest, dec.Reason, now, log)
}

// finish records the end of a rollout. Caller holds rr.mu.
func (r *rollouts) finish(ctx context.Context, rr *roRel, e *rollout.Entry, outcomeName, reason string, now time.Time, st *relState, log logrus.FieldLogger) {
	e.Outcome, e.Reason, e.FinishedAt = outcomeName, reason, now.UTC()
	rr.ver++
	r.outcomes.WithLabelValues(outcomeName).Inc()
	if err := r.saveHistory(ctx, rr); err != nil {
		log.WithError(err).Warn("cannot record the rollout in the history")
	}
	what := fmt.Sprintf("#%d, %s", e.ID, describeVersion(e.Version, e.Release))
	switch outcomeName {
	case rollout.Succeeded:
		r.c.event(st, "Normal", "RolloutSucceeded", what+": "+reason)
		log.WithField("entry", e.ID).Info("rollout succeeded: " + reason)
	default:
		r.c.event(st, "Normal", "Rollout"+outcomeName, what+": "+reason)
		log.WithField("entry", e.ID).Info("rollout " + strings.ToLower(outcomeName) + ": " + reason)
	}
}

// failed handles a failed rollout: the entry is marked Failed, its
// definition remembered as bad (not for rollbacks and pins), and the last
// good definition written back when there is one. Caller holds rr.mu.
func (r *rollouts) onFailure(ctx context.Context, d *desiredEntry, rr *roRel, st *relState, e *rollout.Entry, reason string, now time.Time, log logrus.FieldLogger) (outcome, bool) {
	var target *rollout.Entry
	if e.Kind != rollout.KindRollback && e.Kind != rollout.KindPinned {
		if g := rr.hist.LastGood(e.Hash); g != nil && g.AppID == e.AppID {
			target = g
		}
	}
	what := fmt.Sprintf("rollout #%d of %s", e.ID, describeVersion(e.Version, e.Release))
	msg := what + " failed: " + reason
	e.Outcome, e.Reason, e.FinishedAt = rollout.Failed, reason, now.UTC()
	r.outcomes.WithLabelValues(rollout.Failed).Inc()
	switch {
	case target != nil:
		e.RollbackTo = target.ID
		msg += fmt.Sprintf("; rolling back to #%d, %s", target.ID, describeVersion(target.Version, target.Release))
	case e.Kind == rollout.KindRollback:
		msg += "; it was the automatic rollback: nothing more is tried"
	case e.Kind == rollout.KindPinned:
		msg += "; it was a rollback asked through the API: nothing more is tried"
	default:
		msg += "; there is no earlier good definition to roll back to: the app is left as it is"
	}
	if e.Kind != rollout.KindRollback && e.Kind != rollout.KindPinned && e.Kind != rollout.KindObserved {
		rr.bad = &rollout.Bad{Hash: e.Hash, AppID: e.AppID, Version: e.Version, Release: e.Release, Entry: e.ID,
			Reason: msg, At: now.UTC()}
		if err := r.saveBad(ctx, rr); err != nil {
			log.WithError(err).Warn("cannot record the failed definition")
		}
	}
	rr.ver++
	if err := r.saveHistory(ctx, rr); err != nil {
		log.WithError(err).Warn("cannot record the rollout in the history")
	}
	log.WithField("entry", e.ID).Warn(msg)
	r.c.setError(st, errs.Permanent(errors.New(msg)), ReasonRolloutFailed, nil)
	if target != nil {
		return r.rollback(ctx, d, rr, st, e, target, now, log)
	}
	return outcome{act: reconcile.Action{Kind: reconcile.ActionFail, Release: d.name, AppID: e.AppID, Reason: msg, Err: st.lastErr},
		result: "rollout_failed"}, true
}

// rollback writes the target's definition back (PUT ?partialUpdate=false
// &force=true: it replaces the failing deployment, which is ours). Caller
// holds rr.mu.
func (r *rollouts) rollback(ctx context.Context, d *desiredEntry, rr *roRel, st *relState, failed, target *rollout.Entry, now time.Time, log logrus.FieldLogger) (outcome, bool) {
	act := reconcile.Action{Kind: reconcile.ActionForceUpdate, Release: d.name, AppID: failed.AppID,
		Reason: fmt.Sprintf("rollback to #%d", target.ID)}
	raw, err := r.definition(ctx, rr, target.Hash)
	if err != nil {
		if errors.Is(err, state.ErrNotFound) || errs.IsPermanent(err) {
			failed.RollbackTo = 0
			failed.Reason += fmt.Sprintf("; the definition of #%d is no longer stored or cannot be read: no rollback", target.ID)
			rr.ver++
			if serr := r.saveHistory(ctx, rr); serr != nil {
				log.WithError(serr).Warn("cannot record the rollout in the history")
			}
			r.c.setError(st, errs.Permanent(errors.New(failMessage(failed))), ReasonRolloutFailed, nil)
			return outcome{act: reconcile.Action{Kind: reconcile.ActionFail, Release: d.name, AppID: failed.AppID,
				Reason: st.lastErr.Error(), Err: st.lastErr}, result: "rollout_failed"}, true
		}
		r.c.setError(st, errs.Transient(err), ReasonStateUnavailable, nil)
		return outcome{act: act, result: "error", retry: retryBackoff}, true
	}
	act.App = raw
	wctx, cancel, err := r.c.writeContext(ctx)
	if err != nil {
		return outcome{act: act, note: "not the leader: the rollback is left to the leader replica", result: "not_leader"}, true
	}
	defer cancel()
	prev := r.c.cache.get(failed.AppID)
	inf := &inflight{kind: reconcile.ActionForceUpdate, appID: failed.AppID, hash: target.Hash, at: r.c.opts.Clock.Now()}
	if prev != nil {
		inf.prevVersion = prev.app.Version
	}
	res, err := r.c.opts.Marathon.UpdateApp(wctx, failed.AppID, raw, true)
	inf.gen = r.c.cache.markDirty(failed.AppID)
	if err != nil {
		r.c.metrics.writes.WithLabelValues("rollback", "error").Inc()
		out := outcome{act: act, result: "error", retry: retryBackoff}
		if errs.IsPermanent(err) && !authStatus(err) {
			// Marathon refuses the old definition: give up on it.
			failed.RollbackTo = 0
			failed.Reason += "; the rollback was refused by Marathon: " + err.Error()
			rr.ver++
			if serr := r.saveHistory(ctx, rr); serr != nil {
				log.WithError(serr).Warn("cannot record the rollout in the history")
			}
			r.c.setError(st, errs.Permanent(fmt.Errorf("%s; the rollback to #%d was refused: %w", failMessage(failed), target.ID, err)), ReasonRolloutFailed, nil)
			out.act.Kind, out.retry = reconcile.ActionFail, retryNone
			out.act.Err = st.lastErr
			return out, true
		}
		if marathon0(err) && ctx.Err() == nil {
			st.inflight = inf
		}
		log.WithError(err).Warn("the rollback write failed; retrying with backoff")
		return out, true
	}
	r.c.metrics.writes.WithLabelValues("rollback", "ok").Inc()
	inf.acked, inf.deploymentID = true, res.DeploymentID
	st.inflight = inf
	st.memo = ""
	st.lastChange = inf.at
	r.rolledBack(rr, failed, target, res.DeploymentID, inf.at)
	if err := r.saveHistory(ctx, rr); err != nil {
		log.WithError(err).Warn("cannot record the rollback in the history")
	}
	msg := fmt.Sprintf("rolled app %s back to #%d, %s, after #%d failed; deployment %s", failed.AppID, target.ID,
		describeVersion(target.Version, target.Release), failed.ID, res.DeploymentID)
	r.c.event(st, "Warning", "RolledBack", msg)
	log.WithField("deployment", res.DeploymentID).Warn(msg)
	if st.lastErr == nil || !errs.IsPermanent(st.lastErr) {
		r.c.setError(st, errs.Permanent(errors.New(failMessage(failed))), ReasonRolloutFailed, nil)
	}
	return outcome{act: reconcile.Action{Kind: reconcile.ActionFail, Release: d.name, AppID: failed.AppID, Reason: st.lastErr.Error(), Err: st.lastErr},
		result: "rollback", retry: retryAfter, after: r.c.waitDelay(st, inf.at)}, true
}

// rolledBack records a rollback write: the failed entry becomes RolledBack
// and the restored definition a new entry followed as a rollout. Caller
// holds rr.mu.
func (r *rollouts) rolledBack(rr *roRel, failed, target *rollout.Entry, deployment string, at time.Time) {
	failed.Outcome = rollout.RolledBack
	failed.RollbackTo = 0
	failed.Reason += fmt.Sprintf("; rolled back to #%d", target.ID)
	r.outcomes.WithLabelValues(rollout.RolledBack).Inc()
	t := *target
	_, drop := rr.hist.Add(rollout.Entry{Kind: rollout.KindRollback, Version: t.Version, Release: t.Release, Hash: t.Hash, AppID: t.AppID,
		Manifest: t.Manifest, Universe: t.Universe, DeployedAt: at.UTC(), Deadline: t.Deadline, Outcome: rollout.InProgress,
		Deployment: deployment, Reason: fmt.Sprintf("automatic rollback to #%d after #%d failed", t.ID, failed.ID)}, r.limit, maxDefinitionBytes)
	r.dropDefinitions(context.Background(), rr, drop)
	rr.ver++
}

func marathon0(err error) bool { return marathon.StatusOf(err) == 0 }

// failMessage describes a failed rollout entry for people.
func failMessage(e *rollout.Entry) string {
	return fmt.Sprintf("rollout #%d of %s failed: %s", e.ID, describeVersion(e.Version, e.Release), e.Reason)
}

// statusFields are the read-only members of Marathon's answer for an app.
var statusFields = []string{"version", "versionInfo", "tasks", "tasksStaged", "tasksRunning", "tasksHealthy",
	"tasksUnhealthy", "deployments", "lastTaskFailure", "readinessCheckResults", "taskStats", "tasksStats", "counts"}

// definitionOf returns an app as Marathon answered it without its status
// members: a definition that can be written back.
func definitionOf(raw json.RawMessage) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	for _, k := range statusFields {
		delete(m, k)
	}
	return json.Marshal(m)
}

// gate runs after the plan: it reports dependsOn problems, keeps a bad
// definition from being written again, refuses version moves the package's
// upgrade rules (or the release's policy) forbid, and holds writes until
// the release's dependencies are ready. stop is true when the caller must
// return out.
func (r *rollouts) gate(w *world, d *desiredEntry, st *relState, act reconcile.Action, now time.Time, log logrus.FieldLogger) (outcome, bool) {
	if d.rel == nil || d.rel.Spec.Suspend || act.Kind == reconcile.ActionFail || act.Kind == reconcile.ActionOrphan {
		return outcome{}, false
	}
	name := d.name
	if probs := r.depProblems(w)[name]; len(probs) > 0 {
		var msgs []string
		for _, p := range probs {
			msgs = append(msgs, p.Error())
		}
		err := errs.Permanent(errors.New(strings.Join(msgs, "; ")))
		r.c.setError(st, err, ReasonDependencies, nil)
		return outcome{act: reconcile.Action{Kind: reconcile.ActionFail, Release: name, AppID: d.appID, Reason: err.Error(), Err: err},
			result: "dependencies"}, true
	}
	rr := r.rel(name)
	rr.mu.Lock()
	defer rr.mu.Unlock()
	pinned := rr.pin != nil && rr.pin.Hash == d.hash
	if !pinned && rr.bad != nil && rr.bad.Hash == d.hash && act.Kind != reconcile.ActionWait {
		msg := rr.bad.Reason + "; not retried until the package revision or the options change (or a manual sync)"
		err := errs.Permanent(errors.New(msg))
		r.c.setError(st, err, ReasonRolloutFailed, nil)
		return outcome{act: reconcile.Action{Kind: reconcile.ActionFail, Release: name, AppID: d.appID, Reason: msg, Err: err},
			result: "bad_definition"}, true
	}
	switch act.Kind {
	case reconcile.ActionCreate, reconcile.ActionUpdate, reconcile.ActionForceUpdate:
	default:
		return outcome{}, false
	}
	e := r.c.cache.get(act.AppID)
	if !pinned && e != nil && e.owner == name && d.pkg != nil {
		if inst := r.installed(rr, e); inst != nil {
			if err := universe.CheckTransition(inst, d.pkg, d.rel.Policy()); err != nil {
				r.c.setError(st, err, ReasonUpgradeRefused, nil)
				out := outcome{act: act, sync: api.SyncOutOfSync, result: "refused"}
				out.act.Reason = err.Error() + "; the release keeps running " + describeVersion(inst.Version, inst.ReleaseVersion)
				return out, true
			}
		}
	}
	if !pinned {
		if why := r.waitingFor(d.rel.Spec.DependsOn); why != "" {
			if rr.waitKey != why {
				rr.waitKey = why
				r.c.event(st, "Normal", "WaitingForDependencies", why)
				log.Info(why)
			}
			return outcome{act: reconcile.Action{Kind: reconcile.ActionWait, Release: name, AppID: d.appID, Reason: why},
				sync: api.SyncOutOfSync, result: "waiting_dependencies", retry: retryAfter, after: r.c.opts.WaitRecheck}, true
		}
		rr.waitKey = ""
	}
	// The app found running before the first tracked rollout: keep it as
	// a rollback target.
	rr.baseline = nil
	if e != nil && e.owner == name && e.hash != "" && act.Kind != reconcile.ActionCreate && rr.hist.Active() == nil &&
		rr.hist.LastGood("") == nil {
		if s := r.c.appStatus(st, e); s.Converged() {
			if raw, err := definitionOf(e.app.Raw); err == nil {
				b := &baseline{raw: raw, hash: e.hash, appID: e.id, version: e.app.Labels[render.LabelPackageVersion]}
				if inst := r.installed(rr, e); inst != nil {
					b.release = inst.ReleaseVersion
				}
				rr.baseline = b
			}
		}
	}
	return outcome{}, false
}

// installed returns the package revision an app runs, from its
// DCOS_PACKAGE_DEFINITION label (decoded once per app version), or nil
// when unknown. Caller holds rr.mu.
func (r *rollouts) installed(rr *roRel, e *appEntry) *universe.Package {
	label := e.app.Labels[render.LabelPackageDefinition]
	key := e.app.Version + "|" + strconv.Itoa(len(label))
	if rr.inst.key == key {
		return rr.inst.pkg
	}
	var pkg *universe.Package
	if label != "" {
		if p, err := universe.DecodeDefinitionLabel(label); err == nil {
			pkg = p
		}
	}
	rr.inst.key, rr.inst.pkg = key, pkg
	return pkg
}

// depProblems returns the dependsOn problems (unknown targets, cycles) of
// the world's releases, computed once per world.
func (r *rollouts) depProblems(w *world) map[string][]error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.depProbs != nil && r.depGen == w.gen {
		return r.depProbs
	}
	var rels []*manifest.Release
	var present []string
	names := make([]string, 0, len(w.desired))
	for n := range w.desired {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if d := w.desired[n]; d.rel != nil {
			rels = append(rels, d.rel)
		} else {
			present = append(present, n)
		}
	}
	r.depProbs = manifest.CheckDependencies(rels, present...)
	r.depGen = w.gen
	return r.depProbs
}

func (r *rollouts) waitingFor(deps []string) string {
	if len(deps) == 0 {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return rollout.WaitingFor(deps, r.ready)
}

// setReady records whether a release is ready for its dependents and
// queues those when it becomes ready.
func (r *rollouts) setReady(name string, s rollout.DepState) {
	r.mu.Lock()
	old := r.ready[name]
	r.ready[name] = s
	var wake []string
	if s.Ready && !old.Ready {
		for x, ds := range r.deps {
			for _, dn := range ds {
				if dn == name {
					wake = append(wake, x)
				}
			}
		}
	}
	r.mu.Unlock()
	for _, x := range wake {
		r.c.q.Add(x)
	}
}

// ---- RolloutTracker and HistoryRecorder -----------------------------------------

// Started implements RolloutTracker (Record does the work).
func (r *rollouts) Started(string, Write) {}

// Record implements HistoryRecorder: after every write Marathon accepted,
// the written definition becomes a history entry followed as a rollout
// (a write of the definition already recorded and good, e.g. a drift
// correction, is not a new entry).
func (r *rollouts) Record(ctx context.Context, release string, w Write, app json.RawMessage) error {
	rr := r.rel(release)
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if err := r.load(ctx, rr); err != nil {
		return err
	}
	h := rr.hist
	kind := rollout.KindUpdate
	switch {
	case rr.pin != nil && rr.pin.Hash == w.Hash:
		kind = rollout.KindPinned
	case w.Kind == reconcile.ActionCreate:
		kind = rollout.KindCreate
	}
	if n := h.Newest(); n != nil && n.Hash == w.Hash && n.AppID == w.AppID {
		switch n.Outcome {
		case rollout.InProgress:
			if w.DeploymentID != "" {
				n.Deployment = w.DeploymentID
			}
			rr.ver++
			return r.saveHistory(ctx, rr)
		case rollout.Succeeded:
			return nil
		}
	}
	deadline := r.c.opts.ProgressDeadline
	if d := r.c.world.Load().desired[release]; d != nil && d.rel != nil {
		deadline = d.rel.ProgressDeadlineOr(deadline)
	}
	var drop []string
	if b := rr.baseline; b != nil && b.hash != w.Hash && h.Active() == nil && h.LastGood("") == nil {
		size, kept := r.storeDefinition(ctx, rr, b.hash, b.raw)
		_, d := h.Add(rollout.Entry{Kind: rollout.KindObserved, Version: b.version, Release: b.release, Hash: b.hash, AppID: b.appID,
			DeployedAt: w.At.UTC(), FinishedAt: w.At.UTC(), Outcome: rollout.Succeeded, Kept: kept, Size: size,
			Reason: "the definition found running before the first tracked rollout"}, r.limit, maxDefinitionBytes)
		drop = append(drop, d...)
	}
	rr.baseline = nil
	reason := ""
	if kind == rollout.KindPinned {
		reason = fmt.Sprintf("rollback to #%d asked through the API", rr.pin.Revision)
	}
	size, kept := r.storeDefinition(ctx, rr, w.Hash, app)
	_, d := h.Add(rollout.Entry{Kind: kind, Version: w.Version, Release: w.Release, Hash: w.Hash, AppID: w.AppID,
		Manifest: w.Manifest, Universe: w.Universe, DeployedAt: w.At.UTC(), Deadline: deadline,
		Outcome: rollout.InProgress, Deployment: w.DeploymentID, Reason: reason, Kept: kept, Size: size}, r.limit, maxDefinitionBytes)
	drop = append(drop, d...)
	rr.ver++
	err := r.saveHistory(ctx, rr)
	if err == nil {
		r.dropDefinitions(ctx, rr, drop)
	} else {
		r.deferDrop(rr, drop...) // the stored history may still name them
	}
	return err
}

// Rollout implements RolloutTracker: the rollout in progress, for
// reconcile.SyncState (Progressing until converged; Failed past the
// deadline until the leader acts).
func (r *rollouts) Rollout(release string, _ reconcile.AppStatus, _ time.Time) *reconcile.Rollout {
	rr := r.rel(release)
	rr.mu.Lock()
	defer rr.mu.Unlock()
	n := rr.hist.Newest()
	switch {
	case n == nil:
		return nil
	case n.Outcome == rollout.InProgress:
		return &reconcile.Rollout{Started: n.DeployedAt, Deadline: n.Deadline}
	case n.Outcome == rollout.Failed && n.RollbackTo > 0:
		return &reconcile.Rollout{Started: n.DeployedAt, Deadline: n.Deadline, Failed: true,
			Reason: n.Reason + fmt.Sprintf("; rolling back to #%d", n.RollbackTo)}
	}
	return nil
}

// Forget implements RolloutTracker: the release is gone; its records are
// deleted (leader).
func (r *rollouts) Forget(release string) {
	r.mu.Lock()
	rr := r.rels[release]
	delete(r.rels, release)
	delete(r.ready, release)
	delete(r.deps, release)
	r.mu.Unlock()
	if !r.c.opts.Leader.IsLeader() {
		return
	}
	if rr == nil {
		rr = &roRel{name: release, hist: &rollout.History{}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.c.opts.RequestTimeout)
	defer cancel()
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if err := r.load(ctx, rr); err != nil {
		r.log.WithField("release", release).WithError(err).Debug("cannot read the records of a removed release")
		return
	}
	r.dropDefinitions(ctx, rr, rr.hist.Hashes())
	for _, k := range []struct {
		kind string
		v    *int64
	}{{state.KindHistory, &rr.histV}, {state.KindBadRevisions, &rr.badV}, {state.KindPins, &rr.pinV}, {kindSuspended, &rr.suspV}} {
		if err := r.save(ctx, rr, k.kind, nil, k.v); err != nil {
			r.log.WithField("release", release).WithError(err).Debug("cannot delete a record of a removed release")
		}
	}
}

// History implements HistoryRecorder: the entries for the status API,
// newest first, with the one Marathon runs now marked current.
func (r *rollouts) History(release string) []api.Revision {
	rr := r.rel(release)
	rr.mu.Lock()
	defer rr.mu.Unlock()
	h := rr.hist
	if len(h.Entries) == 0 {
		return nil
	}
	appID := ""
	if d := r.c.world.Load().desired[release]; d != nil {
		appID = d.appID
	}
	cur := ""
	if n := h.Newest(); n != nil {
		if e := r.c.cache.get(n.AppID); e != nil && e.owner == release {
			cur = e.hash
		}
	}
	out := make([]api.Revision, 0, len(h.Entries))
	marked := false
	for _, e := range h.Entries {
		rev := api.Revision{ID: e.ID, Kind: e.Kind, Version: e.Version, Release: e.Release, Hash: e.Hash, AppID: e.AppID,
			Manifest: e.Manifest, Universe: e.Universe, DeployedAt: e.DeployedAt, FinishedAt: e.FinishedAt,
			Outcome: e.Outcome, Reason: e.Reason, Deployment: e.Deployment}
		if !marked && cur != "" && e.Hash == cur {
			rev.Current, marked = true, true
		}
		rev.Rollbackable = e.Outcome == rollout.Succeeded && e.Kept && !rev.Current &&
			(appID == "" || e.AppID == appID)
		if rr.pin != nil && rr.pin.Revision == e.ID {
			rev.Pinned = true
		}
		out = append(out, rev)
	}
	return out
}

// decorate adds issue 6's parts to a release's status document (the pin)
// and records whether the release is ready for its dependents.
func (r *rollouts) decorate(doc *api.Release, e *appEntry, status reconcile.AppStatus) {
	rr := r.rel(doc.Name)
	rr.mu.Lock()
	if p := rr.pin; p != nil {
		doc.Pin = &api.Pin{Revision: p.Revision, Version: p.Version, Release: p.Release, Hash: p.Hash, At: p.At,
			Reason: fmt.Sprintf("rolled back to revision #%d through the API; kept until the release's manifest or its package revision changes in Git", p.Revision)}
		if doc.SyncReason == "" {
			doc.SyncReason = fmt.Sprintf("pinned to revision #%d (%s) until Git changes", p.Revision, describeVersion(p.Version, p.Release))
		}
	}
	rr.mu.Unlock()
	ready := e != nil && status.Converged() && (doc.Sync == api.SyncSynced || doc.Sync == api.SyncSuspended)
	r.setReady(doc.Name, rollout.DepState{Known: true, Sync: doc.Sync, Health: doc.Health, Ready: ready})
}

// deploymentFailed records a deployment_failed event (its id and reason).
func (r *rollouts) deploymentFailed(data json.RawMessage) {
	var ev struct {
		ID     string `json:"id"`
		Reason string `json:"reason"`
	}
	if json.Unmarshal(data, &ev) != nil || ev.ID == "" {
		return
	}
	if ev.Reason == "" {
		ev.Reason = "Marathon reported the deployment as failed"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.failed) > 10000 {
		r.failed = map[string]failedDeployment{}
	}
	r.failed[ev.ID] = failedDeployment{reason: ev.Reason, at: time.Now()}
}

func (r *rollouts) failedReason(id string) string {
	if id == "" {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed[id].reason
}

// manualSync is a manual sync of a release (POST .../sync): the definition
// remembered as bad is forgotten, so it is tried again (leader).
func (r *rollouts) manualSync(ctx context.Context, name string, st *relState) {
	rr := r.rel(name)
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if rr.bad == nil || !r.c.opts.Leader.IsLeader() {
		return
	}
	old := rr.bad
	rr.bad = nil
	if err := r.saveBad(ctx, rr); err != nil {
		rr.bad = old
		r.log.WithField("release", name).WithError(err).Warn("cannot forget the failed definition")
		return
	}
	rr.ver++
	r.c.event(st, "Normal", "FailedDefinitionCleared", "a manual sync asked to try the failed definition (hash "+old.Hash+") again")
}

// ---- suspend and deletion order of undeclared releases ----------------------

// keepUndeclared decides for a release no longer declared that still owns
// apps (ids): it is kept when it was suspended when its manifest was
// removed (suspend leaves it alone, prune included). keep is true when the
// caller must return out.
func (r *rollouts) keepUndeclared(ctx context.Context, st *relState, ids []string) (outcome, bool) {
	if len(ids) == 0 {
		return outcome{}, false
	}
	name := st.name
	rr := r.rel(name)
	rr.mu.Lock()
	err := r.load(ctx, rr)
	susp := rr.susp
	r.bump(rr, st)
	rr.mu.Unlock()
	if err != nil {
		why := "cannot read the release's records (suspend flag): nothing is removed until they can be read: " + err.Error()
		return outcome{act: reconcile.Action{Kind: reconcile.ActionOrphan, Release: name, AppID: ids[0], Reason: why},
			note: why, result: "error", retry: retryBackoff}, true
	}
	if susp {
		why := "removed from Git while suspended: left alone (suspend: no change, no deletion); declare it again without suspend to manage or remove it"
		return outcome{act: reconcile.Action{Kind: reconcile.ActionNothing, Release: name, AppID: ids[0], Reason: why},
			sync: api.SyncSuspended, note: why}, true
	}
	return outcome{}, false
}

// deleteBlocked holds the removal of a release while releases that
// depended on it (as last declared in this process) are still being
// removed: dependents first. wait is true when the caller must return out.
func (r *rollouts) deleteBlocked(name, appID string) (outcome, bool) {
	r.mu.Lock()
	deps := make(map[string][]string, len(r.deps))
	for k, v := range r.deps {
		deps[k] = v
	}
	r.mu.Unlock()
	w := r.c.world.Load()
	alive := func(x string) bool {
		if _, declared := w.desired[x]; declared {
			return false
		}
		if len(r.c.cache.owned(x)) > 0 {
			return true
		}
		p, ok := r.c.opts.Uninstaller.(PendingUninstaller)
		return ok && p.Pending(x)
	}
	blockers := rollout.DeleteBlockers(name, deps, alive)
	if len(blockers) == 0 {
		return outcome{}, false
	}
	why := "removed from Git; waiting for the releases that depend on it to be removed first: " + strings.Join(blockers, ", ")
	return outcome{act: reconcile.Action{Kind: reconcile.ActionDelete, Release: name, AppID: appID, Reason: why},
		sync: api.SyncDeleting, note: why, retry: retryAfter, after: r.c.opts.WaitRecheck}, true
}

// suspendedUndeclared reports whether an undeclared release is kept
// because it was suspended (for the prune decision).
func (r *rollouts) suspendedUndeclared(name string) bool {
	rr := r.rel(name)
	rr.mu.Lock()
	defer rr.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), r.c.opts.RequestTimeout)
	defer cancel()
	if err := r.load(ctx, rr); err != nil {
		return true // unknown: keep it
	}
	return rr.susp
}
