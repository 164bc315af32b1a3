package uninstall

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/universe-operator/universe-operator/api"
	"github.com/universe-operator/universe-operator/clients/marathon"
	"github.com/universe-operator/universe-operator/clients/mesos"
	"github.com/universe-operator/universe-operator/clients/sdk"
	"github.com/universe-operator/universe-operator/errs"
	"github.com/universe-operator/universe-operator/state"
)

// Marathon is the part of the Marathon client the uninstall uses
// (*marathon.Client).
type Marathon interface {
	GetApp(ctx context.Context, id string, embed ...string) (*marathon.App, error)
	ListApps(ctx context.Context, selector string, embed ...string) ([]marathon.App, error)
	UpdateApp(ctx context.Context, id string, raw json.RawMessage, force bool) (marathon.WriteResult, error)
	DeleteApp(ctx context.Context, id string, force bool) (marathon.WriteResult, error)
}

// Mesos is the part of the Mesos operator client the uninstall uses
// (*mesos.Client).
type Mesos interface {
	Frameworks(ctx context.Context) ([]mesos.Framework, error)
	Teardown(ctx context.Context, frameworkID string) error
	ReservedResources(ctx context.Context, role string) ([]mesos.AgentResources, error)
	DestroyVolumes(ctx context.Context, agentID string, volumes []mesos.Resource) error
	Unreserve(ctx context.Context, agentID string, res []mesos.Resource) error
}

// SDK reads an SDK scheduler's deploy plan (*sdk.Client).
type SDK interface {
	DeployPlan(ctx context.Context, service, apiVersion string) (*sdk.Plan, error)
}

// ZooKeeper deletes a service's node and everything below it; a missing
// node is success. A *zookeeper.Client must be rooted at "/" (c.At("/")),
// since the service nodes live at the top of the tree.
type ZooKeeper interface {
	DeleteRecursive(ctx context.Context, path string) error
}

// Options configures a Manager.
type Options struct {
	// Marathon and Store are required.
	Marathon Marathon
	Store    state.Store
	// Mesos, SDK and ZooKeeper may be nil: steps that need a missing one
	// are Skipped and named in Cleanup.Left (SDK: the uninstall waits,
	// Incomplete, until one is configured).
	Mesos     Mesos
	SDK       SDK
	ZooKeeper ZooKeeper
	// Logger receives progress with fields release, app, step (default: discarded).
	Logger logrus.FieldLogger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// PollInterval is the delay attached to errs.Waiting while a step waits
	// (SDK uninstall plan, deployments, resources in use). Default 10s,
	// Cosmos's ServiceUninstaller.RetryInterval.
	PollInterval time.Duration
	// ID identifies this replica in the record's claim. Use an identity
	// that survives a restart (host:port) so a restarted controller takes
	// its own claim back at once. Default: the host name.
	ID string
	// Lease is how long a claim holds when its owner disappears (default 2m).
	Lease time.Duration
	// StepTimeout bounds one step run (default 1m): a component that
	// accepts connections but never answers makes the uninstall
	// Incomplete instead of stalling it.
	StepTimeout time.Duration
	// Kind is the state.Store kind of the records (default state.KindCleanups).
	Kind string
	// KeepFinished is how long the record of a Complete uninstall is kept
	// (Get shows it) before Pending deletes it (default 24h).
	KeepFinished time.Duration
	// OnEvent, when set, receives one event per step transition (called
	// without locks held).
	OnEvent func(release string, ev api.Event)
}

// Errors callers can test with errors.Is.
var (
	// ErrIncomplete: a component could not be reached (Cosmos's
	// IncompleteUninstall); the uninstall stays recorded and is retried.
	ErrIncomplete = errors.New("incomplete uninstall")
	// ErrSeveralFrameworks: more than one registered framework carries the
	// name to tear down; a human must choose (errs.Permanent).
	ErrSeveralFrameworks = errors.New("several frameworks of that name")
	// ErrNameInUse: another Marathon app uses the framework or service name;
	// nothing of that name is torn down or cleaned (errs.Permanent).
	ErrNameInUse = errors.New("framework or service name in use by another app")
	// ErrClaimed: another replica is advancing this uninstall (errs.Waiting).
	ErrClaimed = errors.New("uninstall claimed by another replica")
)

// Manager runs uninstalls. It is safe for concurrent use; one release is
// advanced by one caller at a time.
type Manager struct {
	opts Options
	log  logrus.FieldLogger

	mu      sync.Mutex
	running map[string]bool
	known   map[string]api.Cleanup // last state read or written, per release
	// listed is true once Pending listed the store (and until Resync): only
	// then does known hold every unfinished uninstall. verified holds the
	// releases whose record this Manager read or wrote since (known, or
	// known to be absent).
	listed   bool
	verified map[string]bool
}

// New returns a Manager.
func New(opts Options) (*Manager, error) {
	if opts.Marathon == nil {
		return nil, errs.Permanent(errors.New("uninstall: a Marathon client is required"))
	}
	if opts.Store == nil {
		return nil, errs.Permanent(errors.New("uninstall: a state store is required"))
	}
	if r, ok := opts.ZooKeeper.(interface{ Root() string }); ok && opts.ZooKeeper != nil && r.Root() != "/" {
		return nil, errs.Permanent(fmt.Errorf("uninstall: the ZooKeeper client is rooted at %s; service nodes live at the top of the tree (use client.At(\"/\"))", r.Root()))
	}
	if opts.Logger == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		opts.Logger = l
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 10 * time.Second
	}
	if opts.Lease <= 0 {
		opts.Lease = 2 * time.Minute
	}
	if opts.StepTimeout <= 0 {
		opts.StepTimeout = time.Minute
	}
	if opts.KeepFinished <= 0 {
		opts.KeepFinished = 24 * time.Hour
	}
	if opts.ID == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "universe-operator"
		}
		opts.ID = h
	}
	if opts.Kind == "" {
		opts.Kind = state.KindCleanups
	}
	return &Manager{opts: opts, log: opts.Logger, running: map[string]bool{}, known: map[string]api.Cleanup{},
		verified: map[string]bool{}}, nil
}

// record is what the store holds per release.
type record struct {
	Format  int         `json:"format"`
	Release string      `json:"release"`
	Spec    Spec        `json:"spec"`
	Cleanup api.Cleanup `json:"cleanup"`
	// LeftBy remembers which step added which Cleanup.Left entries (a
	// retried step takes its own back).
	LeftBy map[string][]string `json:"leftBy,omitempty"`
	// DeleteDeployment is the deployment of the app's DELETE, once sent.
	DeleteDeployment string `json:"deleteDeployment,omitempty"`
	// Owner and LeaseUntil are the claim of the replica advancing it.
	Owner      string    `json:"owner,omitempty"`
	LeaseUntil time.Time `json:"leaseUntil,omitzero"`
}

// terminal: Advance does nothing more (Complete or Failed).
func terminal(state string) bool { return state == StateComplete || state == StateFailed }

// holds: the uninstall still holds its release (anything but Complete; a
// Failed one waits for a human and Retry).
func holds(state string) bool { return state != StateComplete }

// Plan returns the steps the uninstall of app would run (see the package
// function Plan). It does no I/O.
func (m *Manager) Plan(app json.RawMessage, janitor *bool) []api.CleanupStep {
	return Plan(app, janitor)
}

// Start records the uninstall of req.AppID for req.Release, durably, before
// anything is touched. It is idempotent: an unfinished uninstall of the same
// app is left as it is; a finished one is replaced. An unfinished uninstall
// of another app of the release is errs.Waiting (one at a time per release).
func (m *Manager) Start(ctx context.Context, req Request) error {
	spec, err := NewSpec(req)
	if err != nil {
		return err
	}
	log := m.log.WithFields(logrus.Fields{"release": req.Release, "app": spec.AppID})
	for range 5 {
		raw, ver, err := m.opts.Store.Get(ctx, m.opts.Kind, req.Release)
		switch {
		case errors.Is(err, state.ErrNotFound):
			ver = state.Create
		case errors.Is(err, state.ErrCorrupt):
			log.WithError(err).Warn("replacing an unreadable uninstall record")
			ver = state.Any
		case err != nil:
			return fmt.Errorf("uninstall %s: reading its record: %w", req.Release, err)
		default:
			var old record
			if err := json.Unmarshal(raw, &old); err != nil {
				log.WithError(err).Warn("replacing an unreadable uninstall record")
			} else if holds(old.Cleanup.State) {
				m.remember(req.Release, old.Cleanup)
				if old.Spec.AppID == spec.AppID {
					return nil
				}
				return errs.Waiting(fmt.Errorf("uninstall %s: the uninstall of app %s is not finished; %s waits for it",
					req.Release, old.Spec.AppID, spec.AppID), m.opts.PollInterval)
			}
		}
		now := m.now()
		rec := record{Format: 1, Release: req.Release, Spec: spec, Cleanup: api.Cleanup{
			State: StatePending, Steps: spec.Steps(), AppID: spec.AppID, Package: spec.Package, Kind: spec.Kind(),
			Service: spec.Service, Started: now}}
		for i := range rec.Cleanup.Steps {
			if rec.Cleanup.Steps[i].State == StepSkipped {
				rec.Cleanup.Steps[i].Time = now
			}
		}
		if _, err := m.put(ctx, &rec, ver); err != nil {
			if errors.Is(err, state.ErrConflict) {
				continue
			}
			return fmt.Errorf("uninstall %s: recording it: %w", req.Release, err)
		}
		m.remember(req.Release, rec.Cleanup)
		log.WithFields(logrus.Fields{"kind": spec.Kind(), "janitor": spec.Janitor, "service": spec.Service}).
			Info("uninstall recorded")
		msg := fmt.Sprintf("uninstall of app %s recorded (%s; janitor %s: %s)", spec.AppID, spec.Kind(), onOff(spec.Janitor), spec.JanitorReason)
		m.emit(req.Release, "Normal", "UninstallStarted", msg)
		return nil
	}
	return errs.Waiting(fmt.Errorf("uninstall %s: its record keeps changing", req.Release), m.opts.PollInterval)
}

// Advance runs the next steps of the release's uninstall, in order,
// recording each one's completion, until one has to wait or fails, or all
// are done. It returns the uninstall's state, done (nothing more will be
// done: Complete, Failed, or no uninstall recorded) and the reason it
// stopped: errs.Waiting while a step waits (deployment, uninstall plan,
// resources in use, another replica's claim), ErrIncomplete wrapped around
// the component's error when one could not be reached, errs.Permanent for
// a Failed uninstall (ErrSeveralFrameworks, ErrNameInUse).
func (m *Manager) Advance(ctx context.Context, release string) (api.Cleanup, bool, error) {
	if !m.enter(release) {
		c, _ := m.cached(release)
		return c, false, errs.Waiting(fmt.Errorf("uninstall %s: already being advanced", release), m.opts.PollInterval)
	}
	defer m.leave(release)

	raw, ver, err := m.opts.Store.Get(ctx, m.opts.Kind, release)
	if errors.Is(err, state.ErrNotFound) {
		c, had := m.cached(release)
		m.forget(release)
		if had && c.State == StatePending {
			// Recorded and not started, yet gone: a listing expiring the
			// finished record it replaced deleted it. Not done: the caller
			// records it again (its app is untouched).
			return api.Cleanup{}, false, errs.Transient(fmt.Errorf("%w: %s: its record vanished before it started; it is recorded again", ErrIncomplete, release))
		}
		return api.Cleanup{}, true, nil
	}
	if err != nil {
		c, _ := m.cached(release)
		return c, false, fmt.Errorf("%w: %s: reading its record: %w", ErrIncomplete, release, err)
	}
	var rec record
	if err := json.Unmarshal(raw, &rec); err != nil {
		return api.Cleanup{}, false, errs.Permanent(fmt.Errorf("uninstall %s: unreadable record: %w", release, err))
	}
	m.remember(release, rec.Cleanup)
	if terminal(rec.Cleanup.State) {
		return copyCleanup(rec.Cleanup), true, rec.failure()
	}

	// Claim the record.
	now := m.now()
	if rec.Owner != "" && rec.Owner != m.opts.ID && now.Before(rec.LeaseUntil) {
		return copyCleanup(rec.Cleanup), false, errs.Waiting(fmt.Errorf("uninstall %s: %w: %s holds it until %s",
			release, ErrClaimed, rec.Owner, rec.LeaseUntil.Format(time.RFC3339)), max(rec.LeaseUntil.Sub(now), time.Second))
	}
	rec.Owner, rec.LeaseUntil = m.opts.ID, now.Add(m.opts.Lease)
	if ver, err = m.put(ctx, &rec, ver); err != nil {
		if errors.Is(err, state.ErrConflict) {
			return copyCleanup(rec.Cleanup), false, errs.Waiting(fmt.Errorf("uninstall %s: %w (its record changed)", release, ErrClaimed), time.Second)
		}
		return copyCleanup(rec.Cleanup), false, fmt.Errorf("%w: %s: claiming its record: %w", ErrIncomplete, release, err)
	}

	stopErr := m.run(ctx, &rec, &ver)

	// Release the claim and record the final state. A cancelled ctx (the
	// controller shutting down) must not keep the claim for a whole lease.
	rec.Owner, rec.LeaseUntil = "", time.Time{}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := m.put(wctx, &rec, ver); err != nil {
		m.log.WithField("release", release).WithError(err).Warn("cannot record the uninstall's state; it is redone on the next pass")
		if stopErr == nil {
			stopErr = fmt.Errorf("%w: %s: recording its state: %w", ErrIncomplete, release, err)
		}
	}
	m.remember(release, rec.Cleanup)
	return copyCleanup(rec.Cleanup), terminal(rec.Cleanup.State), stopErr
}

// failure is the error of a Failed record.
func (r *record) failure() error {
	if r.Cleanup.State != StateFailed {
		return nil
	}
	return errs.Permanent(fmt.Errorf("uninstall %s: %s", r.Release, r.Cleanup.Reason))
}

// run executes steps until one stops; each completion is recorded.
func (m *Manager) run(ctx context.Context, rec *record, ver *int64) error {
	restarts := 0
	for {
		i := nextStep(rec.Cleanup.Steps)
		if i < 0 {
			m.finish(rec, StateComplete, "")
			return nil
		}
		st := &rec.Cleanup.Steps[i]
		log := m.log.WithFields(logrus.Fields{"release": rec.Release, "app": rec.Spec.AppID, "step": st.Name})
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%w: %s: %s: %w", ErrIncomplete, rec.Release, st.Name, err)
		}
		sctx, cancel := context.WithTimeout(ctx, m.opts.StepTimeout)
		res := m.runStep(sctx, rec, st.Name)
		cancel()
		now := m.now()
		if len(res.left) > 0 {
			rec.Cleanup.Left = appendNew(rec.Cleanup.Left, res.left...)
			if rec.LeftBy == nil {
				rec.LeftBy = map[string][]string{}
			}
			rec.LeftBy[st.Name] = appendNew(rec.LeftBy[st.Name], res.left...)
		}
		switch res.state {
		case StepDone, StepSkipped:
			st.State, st.Message, st.Time = res.state, res.msg, now
			rec.Cleanup.State, rec.Cleanup.Reason = StateRunning, ""
			log.Info(strings.ToLower(res.state) + ": " + res.msg)
			m.emit(rec.Release, "Normal", "UninstallStep", st.Name+": "+res.msg)
			if err := m.save(ctx, rec, ver); err != nil {
				return err
			}
		case stepRestart:
			// A later step found an earlier one undone (the app lost
			// SDK_UNINSTALL): run it again, once per pass.
			for j := range rec.Cleanup.Steps {
				if rec.Cleanup.Steps[j].Name == res.restart {
					rec.Cleanup.Steps[j].State, rec.Cleanup.Steps[j].Message = StepPending, res.msg
				}
			}
			log.Warn(res.msg)
			m.emit(rec.Release, "Warning", "UninstallStep", st.Name+": "+res.msg)
			if restarts++; restarts > 1 {
				st.State, st.Message = StepRunning, res.msg
				return errs.Waiting(fmt.Errorf("uninstall %s: %s: %s", rec.Release, st.Name, res.msg), m.opts.PollInterval)
			}
		case StepRunning:
			// One event when a step starts waiting (or stops failing);
			// progress while it waits is logged only.
			if st.State != StepRunning || rec.Cleanup.State != StateRunning {
				m.emit(rec.Release, "Normal", "UninstallWaiting", st.Name+": "+res.msg)
			}
			if st.Message != res.msg {
				log.Info("waiting: " + res.msg)
			}
			if st.State != StepRunning {
				st.Time = now
			}
			st.State, st.Message = StepRunning, res.msg
			rec.Cleanup.State, rec.Cleanup.Reason = StateRunning, ""
			after := res.after
			if after <= 0 {
				after = m.opts.PollInterval
			}
			return errs.Waiting(fmt.Errorf("uninstall %s: %s: %s", rec.Release, st.Name, res.msg), after)
		case StepFailed:
			st.State, st.Message, st.Time = StepFailed, res.err.Error(), now
			for j := i + 1; j < len(rec.Cleanup.Steps); j++ {
				if s := &rec.Cleanup.Steps[j]; s.State == StepPending || s.State == StepRunning {
					s.State, s.Message, s.Time = StepSkipped, notRunPrefix+st.Name+" failed", now
				}
			}
			m.finish(rec, StateFailed, st.Name+": "+res.err.Error())
			log.WithError(res.err).Error("uninstall failed: it needs a human")
			return errs.Permanent(fmt.Errorf("uninstall %s: %s: %w", rec.Release, st.Name, res.err))
		default: // an error: the step stays where it is; retried later
			reason := "IncompleteUninstall: " + st.Name + ": " + res.err.Error()
			if rec.Cleanup.Reason != reason {
				log.WithError(res.err).Warn("incomplete uninstall; retried with backoff")
				m.emit(rec.Release, "Warning", "IncompleteUninstall", st.Name+": "+res.err.Error())
			}
			if st.State == StepPending {
				st.State, st.Time = StepRunning, now
			}
			st.Message = "failed, retried: " + res.err.Error()
			rec.Cleanup.State, rec.Cleanup.Reason = StateIncomplete, reason
			rec.Cleanup.Attempts++
			return fmt.Errorf("%w: %s: %s: %w", ErrIncomplete, rec.Release, st.Name, res.err)
		}
	}
}

// notRunPrefix starts the message of a step skipped because an earlier one
// failed.
const notRunPrefix = "not run: "

// finish ends the uninstall in a terminal state.
func (m *Manager) finish(rec *record, state, reason string) {
	c := &rec.Cleanup
	c.State, c.Reason, c.Finished = state, reason, m.now()
	c.PostUninstallNotes = rec.Spec.PostUninstallNotes
	log := m.log.WithFields(logrus.Fields{"release": rec.Release, "app": rec.Spec.AppID})
	if state == StateComplete {
		msg := "uninstall of app " + rec.Spec.AppID + " complete"
		if len(c.Left) > 0 {
			msg += "; left for the operator: " + strings.Join(c.Left, "; ")
		}
		log.Info(msg)
		m.emit(rec.Release, "Normal", "UninstallComplete", msg)
	} else {
		m.emit(rec.Release, "Warning", "UninstallFailed", reason)
	}
	if c.PostUninstallNotes != "" {
		m.emit(rec.Release, "Normal", "PostUninstallNotes", c.PostUninstallNotes)
	}
}

// save records progress, keeping the claim.
func (m *Manager) save(ctx context.Context, rec *record, ver *int64) error {
	rec.LeaseUntil = m.now().Add(m.opts.Lease)
	v, err := m.put(ctx, rec, *ver)
	if err != nil {
		if errors.Is(err, state.ErrConflict) {
			return errs.Waiting(fmt.Errorf("uninstall %s: %w (its record changed)", rec.Release, ErrClaimed), time.Second)
		}
		return fmt.Errorf("%w: %s: recording progress: %w", ErrIncomplete, rec.Release, err)
	}
	*ver = v
	m.remember(rec.Release, rec.Cleanup)
	return nil
}

func (m *Manager) put(ctx context.Context, rec *record, ver int64) (int64, error) {
	b, err := json.Marshal(rec)
	if err != nil {
		return 0, errs.Permanent(err)
	}
	return m.opts.Store.Put(ctx, m.opts.Kind, rec.Release, b, ver)
}

// nextStep is the index of the first step not finished, or -1.
func nextStep(steps []api.CleanupStep) int {
	for i, s := range steps {
		if s.State == StepPending || s.State == StepRunning {
			return i
		}
	}
	return -1
}

// Pending returns the releases whose uninstall still holds them (not
// Complete: Failed ones included, they wait for a human and Retry), from
// the store (after a restart: the controller advances each). It refreshes
// what Busy answers, and deletes the records of uninstalls that completed
// more than Options.KeepFinished ago.
func (m *Manager) Pending(ctx context.Context) ([]string, error) {
	keys, err := m.opts.Store.List(ctx, m.opts.Kind)
	if err != nil {
		return nil, fmt.Errorf("uninstall: listing pending uninstalls: %w", err)
	}
	var out []string
	seen := map[string]bool{}
	for _, k := range keys {
		seen[k] = true
		raw, _, err := m.opts.Store.Get(ctx, m.opts.Kind, k)
		if errors.Is(err, state.ErrNotFound) {
			m.forget(k)
			continue
		}
		if err != nil && !errors.Is(err, state.ErrCorrupt) {
			return nil, fmt.Errorf("uninstall: reading %s: %w", k, err)
		}
		var rec record
		if err != nil || json.Unmarshal(raw, &rec) != nil {
			// Unreadable: keep it visible rather than forget it.
			m.log.WithField("release", k).Warn("unreadable uninstall record")
			m.remember(k, api.Cleanup{State: StateIncomplete, Reason: "unreadable uninstall record"})
			out = append(out, k)
			continue
		}
		if rec.Cleanup.State == StateComplete && m.now().Sub(rec.Cleanup.Finished) > m.opts.KeepFinished {
			// Old news: keep the store small.
			if err := m.opts.Store.Delete(ctx, m.opts.Kind, k); err == nil {
				m.forget(k)
				seen[k] = false
				continue
			}
		}
		m.remember(k, rec.Cleanup)
		if holds(rec.Cleanup.State) {
			out = append(out, k)
		}
	}
	m.mu.Lock()
	for k := range m.known {
		if !seen[k] {
			delete(m.known, k)
		}
	}
	m.listed = true
	m.mu.Unlock()
	return out, nil
}

// Resync forgets that the store was listed: until Pending lists it again,
// Busy answers true for every release (another replica may have recorded
// uninstalls meanwhile). Called when this replica becomes leader.
func (m *Manager) Resync() {
	m.mu.Lock()
	m.listed = false
	clear(m.verified)
	m.mu.Unlock()
}

// Get returns the state of the release's uninstall (the last one, finished
// or not). When the store cannot be read it answers from memory.
func (m *Manager) Get(ctx context.Context, release string) (*api.Cleanup, bool) {
	raw, _, err := m.opts.Store.Get(ctx, m.opts.Kind, release)
	if errors.Is(err, state.ErrNotFound) {
		m.forget(release)
		return nil, false
	}
	var rec record
	if err == nil {
		err = json.Unmarshal(raw, &rec)
	}
	if err != nil {
		c, ok := m.cached(release)
		if !ok {
			return nil, false
		}
		return &c, true
	}
	m.remember(release, rec.Cleanup)
	c := copyCleanup(rec.Cleanup)
	return &c, true
}

// Busy reports whether an uninstall holds the release (any state but
// Complete: a Failed uninstall holds it until a human fixes the cause and
// calls Retry), from what this Manager last read or wrote (Start, Advance,
// Get, Pending). A release re-added while Busy must wait. Before Pending
// has listed the store (at start, after Resync) the answer is true for
// every release whose record was not read or written since: the caller
// then asks the store (Advance), which tells.
func (m *Manager) Busy(release string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.listed && !m.verified[release] {
		return true
	}
	c, ok := m.known[release]
	return ok && holds(c.State)
}

// Retry sends a Failed uninstall back to work: its failed step and the
// steps skipped because of it run again on the next Advance (after a human
// fixed the cause, e.g. tore down the stale framework of a name). Other
// states are left as they are.
func (m *Manager) Retry(ctx context.Context, release string) error {
	for range 5 {
		raw, ver, err := m.opts.Store.Get(ctx, m.opts.Kind, release)
		if errors.Is(err, state.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("uninstall %s: reading its record: %w", release, err)
		}
		var rec record
		if err := json.Unmarshal(raw, &rec); err != nil {
			return errs.Permanent(fmt.Errorf("uninstall %s: unreadable record: %w", release, err))
		}
		if rec.Cleanup.State != StateFailed {
			return nil
		}
		c := &rec.Cleanup
		for i := range c.Steps {
			st := &c.Steps[i]
			if st.State == StepFailed || (st.State == StepSkipped && strings.HasPrefix(st.Message, notRunPrefix)) {
				if st.State == StepFailed {
					drop := rec.LeftBy[st.Name]
					c.Left = slices.DeleteFunc(c.Left, func(l string) bool { return slices.Contains(drop, l) })
					delete(rec.LeftBy, st.Name)
				}
				st.State, st.Message = StepPending, "retried: "+st.Message
			}
		}
		c.State, c.Reason, c.Finished, c.PostUninstallNotes = StateRunning, "", time.Time{}, ""
		if _, err := m.put(ctx, &rec, ver); err != nil {
			if errors.Is(err, state.ErrConflict) {
				continue
			}
			return fmt.Errorf("uninstall %s: recording the retry: %w", release, err)
		}
		m.remember(release, rec.Cleanup)
		m.log.WithFields(logrus.Fields{"release": release, "app": rec.Spec.AppID}).Info("failed uninstall retried")
		m.emit(release, "Normal", "UninstallRetried", "the failed uninstall of app "+rec.Spec.AppID+" runs again")
		return nil
	}
	return errs.Waiting(fmt.Errorf("uninstall %s: its record keeps changing", release), m.opts.PollInterval)
}

// Forget deletes the record of a finished uninstall (e.g. when the release
// is deployed again). An unfinished one is errs.Waiting and kept.
func (m *Manager) Forget(ctx context.Context, release string) error {
	raw, _, err := m.opts.Store.Get(ctx, m.opts.Kind, release)
	if errors.Is(err, state.ErrNotFound) {
		m.forget(release)
		return nil
	}
	if err != nil && !errors.Is(err, state.ErrCorrupt) {
		return fmt.Errorf("uninstall %s: reading its record: %w", release, err)
	}
	var rec record
	if err == nil && json.Unmarshal(raw, &rec) == nil && !terminal(rec.Cleanup.State) {
		return errs.Waiting(fmt.Errorf("uninstall %s: not finished (%s)", release, rec.Cleanup.State), m.opts.PollInterval)
	}
	if err := m.opts.Store.Delete(ctx, m.opts.Kind, release); err != nil {
		return fmt.Errorf("uninstall %s: deleting its record: %w", release, err)
	}
	m.forget(release)
	return nil
}

func (m *Manager) enter(release string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.running[release] {
		return false
	}
	m.running[release] = true
	return true
}

func (m *Manager) leave(release string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.running, release)
}

func (m *Manager) remember(release string, c api.Cleanup) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.known[release] = copyCleanup(c)
	m.verified[release] = true
}

func (m *Manager) forget(release string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.known, release)
	m.verified[release] = true
}

func (m *Manager) cached(release string) (api.Cleanup, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.known[release]
	if !ok {
		return api.Cleanup{}, false
	}
	return copyCleanup(c), true
}

func (m *Manager) now() time.Time { return m.opts.Now().UTC() }

func (m *Manager) emit(release, typ, reason, msg string) {
	if m.opts.OnEvent == nil {
		return
	}
	m.opts.OnEvent(release, api.Event{Time: m.now(), Type: typ, Reason: reason, Message: msg})
}

func copyCleanup(c api.Cleanup) api.Cleanup {
	c.Steps = append([]api.CleanupStep(nil), c.Steps...)
	c.Left = append([]string(nil), c.Left...)
	return c
}

func appendNew(list []string, add ...string) []string {
	for _, a := range add {
		dup := false
		for _, l := range list {
			if l == a {
				dup = true
				break
			}
		}
		if !dup {
			list = append(list, a)
		}
	}
	return list
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
