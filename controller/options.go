package controller

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/universe-operator/universe-operator/state"
)

// Options configure a Controller. Marathon and Sources are required; every
// other field has a default.
type Options struct {
	// Marathon is the Marathon client (required).
	Marathon Marathon
	// Sources gives the desired state (required).
	Sources Sources
	// Store keeps the deployments the controller started across restarts
	// (for the stuck-deployment rule). Nil: memory only.
	Store state.Store
	// Uninstaller removes the apps of releases no longer declared. Nil:
	// DeleteUninstaller (DELETE /v2/apps/{id}).
	Uninstaller Uninstaller
	// Leader gates writes. Nil: AlwaysLeader.
	Leader Leader
	// Rollouts follows rollouts after writes (issue 6). Nil: the built-in
	// health gate (rollout.go: rollback of failed rollouts, bad
	// definitions not retried); another tracker turns it off.
	Rollouts RolloutTracker
	// History records deployed definitions (issue 6). Nil: the built-in
	// history (state kind history, HistoryLimit entries per release).
	History HistoryRecorder
	// HistoryLimit is the number of deployed definitions kept per release
	// (config history_limit; default DefaultHistoryLimit).
	HistoryLimit int
	// Frameworks lists Mesos frameworks for service links. Nil: links come
	// from the DCOS_SERVICE_* labels only.
	Frameworks Frameworks
	// Clock tells the time. Nil: the system clock.
	Clock Clock
	// Logger receives the controller's logs. Nil: logrus.StandardLogger().
	Logger logrus.FieldLogger
	// Registry receives the metrics. Nil: a new registry (see Registry()).
	Registry *prometheus.Registry

	// Workers is the number of releases reconciled in parallel (default 4).
	Workers int
	// Interval is the period of full passes: sources polled, Marathon
	// listed, every release reconciled (default 60s, ±10% jitter).
	Interval time.Duration
	// StuckAfter lets the controller force an update past its own
	// deployment in flight for longer than this (0 = never force).
	StuckAfter time.Duration
	// ProgressDeadline is passed to the RolloutTracker (default 10m).
	ProgressDeadline time.Duration
	// Prune enables deleting releases removed from Git.
	Prune bool
	// PruneMaxFraction caps the share of owned releases one pass deletes
	// (<= 0: reconcile.DefaultMaxPruneFraction; >= 1: no cap).
	PruneMaxFraction float64
	// PruneAllowEmpty allows deleting everything when nothing is declared.
	PruneAllowEmpty bool
	// DCOSVersion filters package revisions by minDcosReleaseVersion.
	DCOSVersion string

	// BackoffInitial and BackoffMax shape the per-release exponential
	// backoff after transient errors (defaults 1s and 2m).
	BackoffInitial, BackoffMax time.Duration
	// RelistBackoffMax caps the backoff of a failing full list (default 30s).
	RelistBackoffMax time.Duration
	// WaitRecheck is how often a release waiting on a deployment is looked
	// at again when no event arrives (default 5s).
	WaitRecheck time.Duration
	// EventDelay debounces Marathon event hints per release (default 25ms).
	EventDelay time.Duration
	// WriteGrace is how long a write Marathon accepted may take to show in
	// reads before the controller stops waiting for it (default 10s).
	WriteGrace time.Duration
	// UnknownWriteGrace is how long the controller waits after a write
	// whose answer was lost (dropped connection, timeout) before it trusts
	// a read saying the write did not happen (default 3s).
	UnknownWriteGrace time.Duration
	// RequestTimeout bounds one Marathon call (default 30s).
	RequestTimeout time.Duration
	// MaxEvents bounds the recent events kept per release (default 50).
	MaxEvents int

	// Version is the controller's version for the status API.
	Version string
	// ID names this replica (leader id, X-Client-Id); default the host name.
	ID string
	// UIToken, when set, guards POST sync/rollback (Authorization: Bearer).
	UIToken string
	// WebhookSecret, when set, enables POST api/v1/webhook/git.
	WebhookSecret []byte
	// Rollback serves POST api/v1/releases/{name}/rollback (issue 6).
	// Nil: (*Controller).RollbackTo (a rollback pin).
	Rollback RollbackFunc
}

// RollbackFunc rolls a release back to an earlier revision of its history.
type RollbackFunc func(release string, revision int) error

func (o *Options) defaults() error {
	if o.Marathon == nil {
		return errors.New("controller: a Marathon client is required")
	}
	if o.Sources == nil {
		return errors.New("controller: sources are required")
	}
	if o.Uninstaller == nil {
		o.Uninstaller = DeleteUninstaller{Marathon: o.Marathon}
	}
	if o.Leader == nil {
		o.Leader = AlwaysLeader{ID: o.ID}
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.Logger == nil {
		o.Logger = logrus.StandardLogger()
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	def(&o.Interval, 60*time.Second)
	def(&o.ProgressDeadline, 10*time.Minute)
	def(&o.BackoffInitial, time.Second)
	def(&o.BackoffMax, 2*time.Minute)
	def(&o.RelistBackoffMax, 30*time.Second)
	def(&o.WaitRecheck, 5*time.Second)
	def(&o.EventDelay, 25*time.Millisecond)
	def(&o.WriteGrace, 10*time.Second)
	def(&o.UnknownWriteGrace, 3*time.Second)
	def(&o.RequestTimeout, 30*time.Second)
	if o.MaxEvents <= 0 {
		o.MaxEvents = 50
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	return nil
}
