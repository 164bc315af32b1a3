package controller

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/universe-operator/universe-operator/api"
	"github.com/universe-operator/universe-operator/clients/marathon"
	"github.com/universe-operator/universe-operator/controller/webhook"
	"github.com/universe-operator/universe-operator/reconcile"
	"github.com/universe-operator/universe-operator/ui"
)

// The embeds of the one list call a pass makes.
var listEmbeds = []string{"apps.tasks", "apps.counts", "apps.deployments", "apps.lastTaskFailure"}

// Controller keeps Marathon equal to what Git declares. Create it with
// New, run it with Run, serve its API with Handler.
type Controller struct {
	opts    Options
	log     logrus.FieldLogger
	q       *queue
	cache   *appCache
	book    *book
	stream  *ui.Stream
	metrics *metrics

	world    atomic.Pointer[world]
	worldMu  sync.Mutex // one world builder at a time
	worldGen atomic.Uint64
	prune    atomic.Pointer[pruneState]

	statesMu sync.Mutex
	states   map[string]*relState

	frameworks atomic.Pointer[frameworkSet]
	persist    *persister
	ro         *rollouts // issue 6: health gate, history, pins, ordering

	relistCh chan string // coalesced requests for a full pass (value: trigger)
	pushCh   chan webhook.Push

	ctrlMu      sync.Mutex
	ctrlInfo    api.ControllerInfo
	lastListErr error
	lastSummary string
	events      atomic.Pointer[marathon.Stream]
	ready       atomic.Bool
	running     atomic.Bool
	lastPass    atomic.Int64 // unix nanos of the last successful full list
	passes      atomic.Uint64
	wasLeader   atomic.Bool
}

type frameworkSet struct {
	gen  uint64
	list []reconcile.Framework
}

// pruneState is the last prune decision.
type pruneState struct {
	allowed    map[string]bool
	refused    string
	candidates []string
}

// New builds a Controller. It does not start anything.
func New(opts Options) (*Controller, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	if opts.ID == "" {
		opts.ID, _ = os.Hostname()
	}
	c := &Controller{
		opts:     opts,
		log:      opts.Logger,
		q:        newQueue(opts.BackoffInitial, opts.BackoffMax),
		cache:    newAppCache(),
		book:     newBook(),
		states:   map[string]*relState{},
		relistCh: make(chan string, 1),
		pushCh:   make(chan webhook.Push, 16),
	}
	c.stream = ui.NewStream(c.snapshot)
	c.persist = newPersister(opts.Store, kindDeployments, opts.Logger)
	m, err := newMetrics(opts.Registry, c.q)
	if err != nil {
		return nil, err
	}
	c.metrics = m
	if c.ro, err = newRollouts(c, opts.HistoryLimit); err != nil {
		return nil, err
	}
	if c.opts.Rollouts == nil {
		c.opts.Rollouts = c.ro
	}
	if c.opts.History == nil {
		c.opts.History = c.ro
	}
	if c.opts.Rollback == nil {
		c.opts.Rollback = c.RollbackTo
	}
	c.prune.Store(&pruneState{})
	c.world.Store(&world{desired: map[string]*desiredEntry{}, byApp: map[string][]string{}})
	c.frameworks.Store(&frameworkSet{})
	c.ctrlInfo = api.ControllerInfo{Version: opts.Version, MarathonEvents: "not connected"}
	return c, nil
}

// Registry returns the Prometheus registry the controller's metrics are on.
func (c *Controller) Registry() *prometheus.Registry { return c.opts.Registry }

// Stream returns the server-sent events broadcaster of the status API.
func (c *Controller) Stream() *ui.Stream { return c.stream }

// Run reconciles until ctx ends: it loads the sources, lists Marathon,
// reconciles every release, and then follows the triggers (poll interval
// with jitter, webhook pushes, manual syncs, Marathon events, leadership
// changes). It returns nil when ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("controller: Run called twice")
	}
	var wg sync.WaitGroup
	defer func() {
		c.q.ShutDown()
		wg.Wait()
	}()
	for range c.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.worker(ctx)
		}()
	}
	wg.Add(4)
	go func() { defer wg.Done(); c.persist.run(ctx) }()
	go func() { defer wg.Done(); c.watchEvents(ctx) }()
	go func() { defer wg.Done(); c.watchPushes(ctx) }()
	go func() { defer wg.Done(); c.watchController(ctx) }()

	c.wasLeader.Store(c.opts.Leader.IsLeader())
	c.log.WithField("workers", c.opts.Workers).WithField("interval", c.opts.Interval).Info("controller starting")
	// First pass: sources, then Marathon.
	c.fullPass(ctx, true, "start")
	c.ready.Store(true)

	relistBackoff := backoff.NewExponentialBackOff()
	relistBackoff.InitialInterval = c.opts.BackoffInitial
	relistBackoff.MaxInterval = c.opts.RelistBackoffMax
	relistBackoff.MaxElapsedTime = 0
	relistBackoff.Reset()

	nextPoll := time.NewTimer(jitter(c.opts.Interval))
	defer nextPoll.Stop()
	var retry *time.Timer
	var retryC <-chan time.Time
	leaderC := c.opts.Leader.Changed()
	for {
		ok := c.lastListErrNil()
		if !ok && retry == nil {
			d := relistBackoff.NextBackOff()
			retry = time.NewTimer(d)
			retryC = retry.C
			c.log.WithField("retry_in", d.Round(time.Millisecond)).Warn("marathon list failed; retrying")
		} else if ok {
			relistBackoff.Reset()
		}
		select {
		case <-ctx.Done():
			c.log.Info("controller stopping")
			return nil
		case <-nextPoll.C:
			c.fullPass(ctx, true, "poll")
			nextPoll.Reset(jitter(c.opts.Interval))
		case trig := <-c.relistCh:
			c.fullPass(ctx, false, trig)
		case <-retryC:
			retry, retryC = nil, nil
			c.fullPass(ctx, false, "retry")
		case <-leaderC:
			c.leadershipChanged()
			c.fullPass(ctx, false, "leader")
		}
	}
}

// jitter returns d ± 10%.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()*0.2-0.1)*float64(d))
}

// requestPass asks the loop for a full pass (list Marathon, queue
// everything) without polling the sources.
func (c *Controller) requestPass(trigger string) {
	select {
	case c.relistCh <- trigger:
	default:
	}
}

func (c *Controller) lastListErrNil() bool {
	c.ctrlMu.Lock()
	defer c.ctrlMu.Unlock()
	return c.lastListErr == nil
}

// fullPass: (optionally) refresh the sources, rebuild the desired state,
// list Marathon once, decide prune, queue every release.
func (c *Controller) fullPass(ctx context.Context, refresh bool, trigger string) {
	if ctx.Err() != nil {
		return
	}
	if refresh {
		c.opts.Sources.Refresh(ctx)
	}
	c.rebuildWorld()
	c.ro.refresh(ctx)
	err := c.relist(ctx)
	result := "ok"
	if err != nil {
		result = "error"
	}
	c.metrics.passes.WithLabelValues(trigger, result).Inc()
	c.decidePrune()
	c.enqueueAll()
	c.publishController()
	c.logPass(trigger, err)
}

// logPass reports the progress of the loop: at info when the counts by
// sync state changed since the last pass, else at debug.
func (c *Controller) logPass(trigger string, err error) {
	w := c.world.Load()
	counts := map[string]int{}
	for _, r := range c.book.list() {
		counts[r.Sync]++
	}
	f := logrus.Fields{"trigger": trigger, "declared": len(w.desired), "owners": len(c.cache.owners()),
		"queued": c.q.Len(), "sync": counts, "sources_healthy": w.healthy}
	if err != nil {
		f["marathon_error"] = err.Error()
	}
	summary := fmt.Sprint(len(w.desired), counts, w.healthy, err != nil)
	c.ctrlMu.Lock()
	changed := summary != c.lastSummary
	c.lastSummary = summary
	c.ctrlMu.Unlock()
	if changed {
		c.log.WithFields(f).Info("pass")
	} else {
		c.log.WithFields(f).Debug("pass")
	}
}

// rebuildWorld computes the desired state from the sources in force.
func (c *Controller) rebuildWorld() *world {
	c.worldMu.Lock()
	defer c.worldMu.Unlock()
	in := c.opts.Sources.Inputs()
	prev := c.world.Load()
	if prev != nil && prev.in == in {
		return prev
	}
	w := c.buildWorld(in, prev, c.worldGen.Add(1))
	c.world.Store(w)
	if in.Healthy {
		c.metrics.sourcesHealthy.Set(1)
	} else {
		c.metrics.sourcesHealthy.Set(0)
	}
	return w
}

// relist reads every owned app (one GET /v2/apps with the ownership label
// selector and the status embeds) and the launch queue, and installs them
// in the cache. On failure the cache is marked dirty: no release is written
// on the strength of an old list.
func (c *Controller) relist(ctx context.Context) error {
	start := time.Now()
	gen := c.cache.listStart()
	lctx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
	defer cancel()
	apps, err := c.opts.Marathon.ListApps(lctx, reconcile.LabelRelease, listEmbeds...)
	var queue map[string]reconcile.QueueEntry
	if err == nil {
		var items []marathon.QueueItem
		items, err = c.opts.Marathon.Queue(lctx)
		if err == nil {
			queue = queueEntries(items, c.opts.Clock.Now())
		}
	}
	c.metrics.passDur.Observe(time.Since(start).Seconds())
	c.ctrlMu.Lock()
	c.lastListErr = err
	c.ctrlMu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			c.log.WithError(err).Warn("cannot list Marathon apps; every release will re-read its app before acting")
		}
		c.cache.markAllDirty()
		return err
	}
	c.cache.replace(gen, apps, queue, c.opts.Clock.Now())
	c.lastPass.Store(c.opts.Clock.Now().UnixNano())
	c.passes.Add(1)
	c.refreshFrameworks(ctx)
	return nil
}

func queueEntries(items []marathon.QueueItem, now time.Time) map[string]reconcile.QueueEntry {
	out := make(map[string]reconcile.QueueEntry, len(items))
	for _, it := range items {
		if it.AppID == "" {
			continue
		}
		id := reconcile.CanonicalID(it.AppID)
		e := reconcile.QueueEntry{AppID: id, Count: it.Count, ObservedAt: now,
			Delay: &reconcile.QueueDelay{TimeLeftSeconds: float64(it.Delay.TimeLeftSeconds), Overdue: it.Delay.Overdue}}
		out[id] = e
	}
	return out
}

// refreshFrameworks reads the Mesos frameworks (service links of framework
// packages) when a Frameworks source is configured.
func (c *Controller) refreshFrameworks(ctx context.Context) {
	if c.opts.Frameworks == nil {
		return
	}
	fctx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
	defer cancel()
	list, err := c.opts.Frameworks.Frameworks(fctx)
	if err != nil {
		c.log.WithError(err).Debug("cannot list Mesos frameworks; service links of framework packages may be missing")
		return
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	old := c.frameworks.Load()
	if frameworksEqual(old.list, list) {
		return
	}
	c.frameworks.Store(&frameworkSet{gen: old.gen + 1, list: list})
}

func frameworksEqual(a, b []reconcile.Framework) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// decidePrune decides which undeclared releases owning apps may be deleted
// (reconcile.PruneDecision) and reports a refusal loudly.
func (c *Controller) decidePrune() {
	w := c.world.Load()
	owners := c.cache.owners()
	var candidates []string
	kept := owners[:0:0] // releases removed from Git while suspended are left alone
	for _, r := range owners {
		if _, declared := w.desired[r]; !declared {
			if c.ro.suspendedUndeclared(r) {
				continue
			}
			candidates = append(candidates, r)
		}
		kept = append(kept, r)
	}
	owners = kept
	sort.Strings(candidates)
	ps := &pruneState{allowed: map[string]bool{}, candidates: candidates}
	if len(candidates) > 0 {
		if !c.opts.Prune {
			ps.refused = "pruning is disabled in the configuration (prune: false); keeping: " + joinNames(candidates)
		} else {
			declared := make(map[string]bool, len(w.desired))
			for n := range w.desired {
				declared[n] = true
			}
			healthy := w.healthy
			toDelete, refused := reconcile.PruneDecision(owners, declared, healthy, c.opts.PruneMaxFraction, c.opts.PruneAllowEmpty)
			if refused != "" && !healthy && w.unhealthyWhy != "" {
				refused += " (" + w.unhealthyWhy + ")"
			}
			ps.refused = refused
			for _, r := range toDelete {
				ps.allowed[r] = true
			}
		}
	}
	old := c.prune.Swap(ps)
	if ps.refused != "" && c.opts.Prune {
		c.metrics.pruneRefused.Inc()
		c.metrics.pruneRefusing.Set(1)
		if old.refused != ps.refused {
			c.log.WithField("candidates", candidates).WithField("reason", ps.refused).Warn("PRUNE REFUSED")
		}
	} else {
		c.metrics.pruneRefusing.Set(0)
	}
	if old.refused != ps.refused {
		c.publishController()
	}
}

func joinNames(names []string) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ", "
		}
		out += n
	}
	return out
}

// enqueueAll queues every release the controller knows: declared, owning
// an app, or shown in the status API.
func (c *Controller) enqueueAll() {
	w := c.world.Load()
	seen := map[string]bool{}
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			c.q.Add(n)
		}
	}
	// Pending uninstalls first: listing them is what lets a release
	// declared again know it must wait for its old instance's cleanup.
	var pending []string
	if p, ok := c.opts.Uninstaller.(PendingUninstaller); ok {
		ctx, cancel := context.WithTimeout(context.Background(), c.opts.RequestTimeout)
		defer cancel()
		pending = p.PendingReleases(ctx)
	}
	names := make([]string, 0, len(w.desired))
	for n := range w.desired {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		add(n)
	}
	for _, n := range c.cache.owners() {
		add(n)
	}
	for _, n := range c.book.names() {
		add(n)
	}
	for _, n := range pending {
		add(n)
	}
}

// Sync queues a release for an immediate reconcile, forgetting its backoff
// and its remembered permanent failure (the manual sync of the API). It
// reports whether the release is known.
func (c *Controller) Sync(name string) bool {
	return c.requeue(name, true)
}

// requeue re-reads a release's apps and queues it now; with reset (a
// manual sync) it also clears the release's failure records, so a failed
// definition is tried again. A rollback requeues without reset: the bad
// revision it moves away from must stay remembered.
func (c *Controller) requeue(name string, reset bool) bool {
	w := c.world.Load()
	_, declared := w.desired[name]
	_, shown := c.book.get(name)
	owned := len(c.cache.owned(name)) > 0
	if !declared && !shown && !owned {
		return false
	}
	if reset {
		c.state(name).reset.Store(true)
	}
	if d := w.desired[name]; d != nil && d.appID != "" {
		c.cache.markDirty(d.appID)
	}
	for _, id := range c.cache.owned(name) {
		c.cache.markDirty(id)
	}
	c.q.Forget(name)
	c.q.Add(name)
	return true
}

// Push handles a verified Git push: the matching sources are fetched now
// and the releases they affect are queued (asynchronously).
func (c *Controller) Push(p webhook.Push) {
	select {
	case c.pushCh <- p:
	default:
		// A burst of pushes: the ones queued already refresh everything
		// they concern; drop the excess (the poll catches up anyway).
		c.log.WithField("ref", p.Ref).Warn("webhook push dropped: too many pushes queued")
	}
}

func (c *Controller) watchPushes(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-c.pushCh:
			if !c.opts.Sources.RefreshPush(ctx, p) {
				c.metrics.webhookTriggers.WithLabelValues("ignored").Inc()
				c.log.WithField("ref", p.Ref).WithField("urls", p.URLs).Debug("webhook push matched no source")
				continue
			}
			c.metrics.webhookTriggers.WithLabelValues("refreshed").Inc()
			c.applyInputs()
		}
	}
}

// applyInputs rebuilds the desired state after a source changed and queues
// the releases whose inputs changed (and those removed), without listing
// Marathon again.
func (c *Controller) applyInputs() {
	prev := c.world.Load()
	w := c.rebuildWorld()
	if w == prev {
		return
	}
	c.decidePrune()
	for name, d := range w.desired {
		if old := prev.desired[name]; old == nil || old.fp != d.fp || old.manifestRev != d.manifestRev {
			c.q.Add(name)
		}
	}
	for name := range prev.desired {
		if _, ok := w.desired[name]; !ok {
			c.q.Add(name)
		}
	}
	// A change of the prune decision concerns every candidate.
	for _, r := range c.prune.Load().candidates {
		c.q.Add(r)
	}
	c.publishController()
}

// watchController publishes controller status changes (event stream
// state, leadership) about once a second.
func (c *Controller) watchController(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			leader := c.opts.Leader.IsLeader()
			if was := c.wasLeader.Swap(leader); was != leader && leader {
				c.leadershipChanged()
				c.requestPass("leader")
			}
			c.publishController()
		}
	}
}

// controllerInfo builds the controller's status document.
func (c *Controller) controllerInfo() api.ControllerInfo {
	info := api.ControllerInfo{Version: c.opts.Version, Leader: c.opts.Leader.IsLeader(), LeaderID: c.opts.Leader.LeaderID()}
	if ls, ok := c.opts.Leader.(LeaderSince); ok && info.Leader {
		info.LeaderSince = ls.LeaderSince().UTC()
	}
	w := c.world.Load()
	if w.in != nil {
		info.Sources = append([]api.SourceStatus(nil), w.in.Sources...)
	}
	if p := c.prune.Load(); p.refused != "" {
		info.PruneRefused = p.refused
	}
	info.MarathonEvents = c.eventsState()
	if ns := c.lastPass.Load(); ns > 0 {
		info.LastPass = time.Unix(0, ns).UTC()
	}
	c.ctrlMu.Lock()
	if c.lastListErr != nil {
		info.MarathonError = c.lastListErr.Error()
	}
	c.ctrlMu.Unlock()
	return info
}

func (c *Controller) publishController() {
	info := c.controllerInfo()
	c.ctrlMu.Lock()
	same := controllerInfoEqual(c.ctrlInfo, info)
	c.ctrlInfo = info
	c.ctrlMu.Unlock()
	if !same {
		c.stream.PublishController(info)
	}
}

func controllerInfoEqual(a, b api.ControllerInfo) bool {
	if a.Version != b.Version || a.Leader != b.Leader || a.LeaderID != b.LeaderID || a.PruneRefused != b.PruneRefused ||
		a.MarathonEvents != b.MarathonEvents || a.MarathonError != b.MarathonError || !a.LastPass.Equal(b.LastPass) ||
		!a.LeaderSince.Equal(b.LeaderSince) ||
		len(a.Sources) != len(b.Sources) {
		return false
	}
	for i := range a.Sources {
		x, y := a.Sources[i], b.Sources[i]
		if x.Name != y.Name || x.Revision != y.Revision || x.Healthy != y.Healthy || x.Stale != y.Stale ||
			x.Error != y.Error || !x.LoadedAt.Equal(y.LoadedAt) || len(x.Problems) != len(y.Problems) {
			return false
		}
	}
	return true
}

// snapshot is the full state for a new stream subscriber.
func (c *Controller) snapshot() api.ReleaseList {
	info := c.controllerInfo()
	return api.ReleaseList{Releases: c.book.list(), Controller: &info}
}

// Releases returns the status of every release (sorted by name).
func (c *Controller) Releases() api.ReleaseList { return c.snapshot() }

// Release returns one release's status.
func (c *Controller) Release(name string) (api.Release, bool) { return c.book.get(name) }

// Ready reports whether the sources loaded once and Marathon answered the
// last list (readyz).
func (c *Controller) Ready() (bool, string) {
	if !c.ready.Load() {
		return false, "the first pass has not finished"
	}
	w := c.world.Load()
	if w.in == nil || !w.in.Loaded {
		return false, "the sources have not loaded yet"
	}
	c.ctrlMu.Lock()
	err := c.lastListErr
	c.ctrlMu.Unlock()
	if err != nil {
		return false, "marathon is not reachable: " + err.Error()
	}
	return true, "ok"
}

// Idle reports whether no release is queued or being reconciled (tests and
// benchmarks wait for it).
func (c *Controller) Idle() bool { return !c.q.Busy() }

// Passes returns the number of successful full lists so far.
func (c *Controller) Passes() uint64 { return c.passes.Load() }

// TriggerPass asks for a full pass (list Marathon, reconcile everything)
// without polling the sources; it returns at once.
func (c *Controller) TriggerPass() { c.requestPass("manual") }
