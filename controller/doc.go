// Package controller is universe-operator's reconcile loop and HTTP server:
// it keeps Marathon equal to what Git declares and reports what it sees.
//
// # Architecture
//
//	triggers (only enqueue)                       desired state (pure, cached)
//	─────────────────────────                      ───────────────────────────
//	poll interval ±10% ─┐                          Sources.Inputs()  (last-good snapshots)
//	webhook push ───────┤ RefreshPush                 │ per release: universe.Select
//	POST .../sync ──────┤                             │   → render.Render → reconcile.Stamp
//	Marathon SSE ───────┤ hint: app → release         │   (memo: manifest + package content
//	(resync → relist)   │ + mark app dirty            ▼    + options + app id + source)
//	leader change ──────┘                          world{desired, byApp, healthy}
//	        │                                          │
//	        ▼                                          │     actual state (informer-like)
//	de-duplicating queue of release keys               │     ───────────────────────────
//	per-key backoff+jitter / fixed waits               │     one GET /v2/apps?label=…&embed=…
//	        │                                          │     + GET /v2/queue per pass;
//	        ▼                                          │     dirty apps re-read with ONE GET
//	N workers: process(release) ◄──────────────────────┴──── appCache
//	   1. re-read dirty apps (GET)       4. act: POST / PUT ?partialUpdate=false /
//	   2. in-flight write? → Wait           Uninstaller (DELETE) — leader only,
//	   3. reconcile.Plan (memo: no-op)      never on unowned apps
//	   5. reconcile.Status + SyncState → api.Release → book → ui.Stream, metrics
//	        │
//	prune: reconcile.PruneDecision per pass (sources healthy, not empty,
//	       ≤ prune_max_fraction) → Uninstaller, or a loud refusal
//
// # API
//
//	func New(opts Options) (*Controller, error)
//	func (c *Controller) Run(ctx context.Context) error   // the loop, until ctx ends
//	func (c *Controller) Handler() http.Handler            // API, stream, webhook, healthz, readyz, metrics, UI
//	func (c *Controller) Diff(ctx context.Context) (*DiffReport, error) // one pass of planning, no writes
//	func (c *Controller) Sync(name string) bool            // manual sync (what POST .../sync does)
//	func (c *Controller) Push(p webhook.Push)              // what the webhook does
//	func (c *Controller) Releases() api.ReleaseList
//	func (c *Controller) Release(name string) (api.Release, bool)
//	func (c *Controller) Ready() (bool, string)
//	func (c *Controller) Stream() *ui.Stream
//	func (c *Controller) Registry() *prometheus.Registry
//	func (c *Controller) TriggerPass(); Passes() uint64; Idle() bool // tests and benchmarks
//	func NewSourceSet(u *source.Universes, r *source.Releases, log) *SourceSet // Sources over package source
//	func NewElectionLeader(ctx, cand *zookeeper.Candidate) *ElectionLeader     // Leader over ZooKeeper
//	func MarathonObserver(reg *prometheus.Registry) (marathon.Observer, error) // request metrics
//
// Interfaces, defined here where they are used (tests plug in the
// simulator, a loopback Git server and real clients):
//
//	Marathon        the raw-JSON client (clients/marathon implements it)
//	Sources         Refresh, RefreshPush, Inputs (SourceSet implements it)
//	Uninstaller     removes an owned app of a release no longer declared;
//	                default DeleteUninstaller (DELETE /v2/apps/{id}?force=true).
//	                Optional: PendingUninstaller (cleanup after the app is gone),
//	                UninstallPlanner (steps shown by diff). Issue 7.
//	Leader          IsLeader before every write; AlwaysLeader by default,
//	                ElectionLeader with ZooKeeper. Issue 6.
//	RolloutTracker  Started after every accepted write, Rollout per reconcile
//	                (→ reconcile.SyncState's Rollout). Issue 6.
//	HistoryRecorder Record after every accepted write, History in the status. Issue 6.
//	Options.Rollback serves POST .../rollback (501 until set). Issue 6.
//	Frameworks      Mesos frameworks for service links of framework packages.
//	Clock           the time.
//
// # Guarantees
//
//   - Apps without the ownership label are never changed or deleted; a
//     release whose app id is taken by one is Failed (AppIDTaken) unless it
//     asks to adopt. Before a delete the app is re-read to confirm ownership.
//   - No deployment is issued twice for the same change: after a write the
//     app is marked dirty and re-read (one GET) before any further decision;
//     a write whose answer was lost is waited for (UnknownWriteGrace) and
//     re-read; a full list started before a write cannot overwrite what was
//     read after it (cache generations).
//   - 409 locked → wait (errs.RetryAfter), never force, unless the release's
//     own deployment is stuck past StuckAfter (reconcile decides ForceUpdate).
//     422 → Failed with Marathon's details in lastError.details, not retried
//     until an input (manifest, package revision, source commit, options,
//     app version) changes. 5xx, timeouts, dropped connections → exponential
//     backoff with jitter per release. 401/403 → backoff, reason Unauthorized.
//   - Prune never when a source is not Healthy or a manifest name cannot be
//     read, never to empty (unless PruneAllowEmpty), never more than
//     PruneMaxFraction of the owned releases per pass; a refusal is logged at
//     warn, counted (universe_operator_prune_refused_total, gauge
//     universe_operator_prune_refusing), shown in ControllerInfo.pruneRefused
//     and as a PruneRefused event and sync reason on each kept release.
//   - A pass with nothing to do makes two Marathon requests (list + queue)
//     and skips rendering, planning and status building (memoised on the
//     inputs' fingerprints and the apps' versions and raw hashes).
//
// # Metrics (Prometheus, on Options.Registry)
//
//	universe_operator_reconcile_total{result}, universe_operator_reconcile_duration_seconds{result}
//	universe_operator_queue_depth, universe_operator_queue_delayed
//	universe_operator_passes_total{trigger,result}, universe_operator_list_duration_seconds
//	universe_operator_marathon_writes_total{kind,outcome}
//	universe_operator_marathon_requests_total{method,path,code,outcome},
//	universe_operator_marathon_request_duration_seconds{method,path,outcome} (MarathonObserver)
//	universe_operator_marathon_events_total{type}, universe_operator_marathon_event_stream_connected
//	universe_operator_prune_refused_total, universe_operator_prune_refusing
//	universe_operator_release_info{release,package,version,sync,health} (one series per release)
//	universe_operator_releases{sync}, universe_operator_sources_healthy
//	universe_operator_webhook_triggers_total{effect}; webhook and Git metrics of their packages
//
// Logs use logrus with the fields release, package, app and revision.
package controller
