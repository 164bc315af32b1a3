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
//	                UninstallPlanner (steps shown by diff). Issue 7:
//	                CleanupUninstaller (package uninstall: Cosmos's uninstall,
//	                the janitor, a durable state machine) implements all three;
//	                `run` and `diff` wire it.
//	Leader          IsLeader before every write; AlwaysLeader by default,
//	                ElectionLeader with ZooKeeper (also a WriteFence: every
//	                write runs under a context bound to the term's lease).
//	RolloutTracker  Started after every accepted write, Rollout per reconcile
//	                (→ reconcile.SyncState's Rollout). Default: the built-in
//	                health gate (rollout.go). Issue 6.
//	HistoryRecorder Record after every accepted write, History in the status.
//	                Default: the built-in history (rollout.go). Issue 6.
//	Options.Rollback serves POST .../rollback; default RollbackTo (a pin). Issue 6.
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
// # Rollouts, history, pins, suspend, ordering, HA (issue 6; rollout.go, package rollout)
//
// Every write Marathon accepts (create, update) becomes a history entry
// (state kind history: the last HistoryLimit definitions per release, raw
// JSON kept once per hash, gzip-compressed, old raws dropped to stay under
// ZooKeeper's 1 MB) and is followed as a rollout:
//
//	write accepted ─► InProgress ──(deployment done, app Healthy or running
//	                      │          all instances without health checks)──► Succeeded (the last good)
//	                      ├──(app deleted / another hash written outside)───► Superseded
//	                      ├──(a newer write of ours, or spec.suspend)───────► Superseded
//	                      └──(deployment_failed event for its deployment; a
//	                          lastTaskFailure of the app's new version; not
//	                          converged past progressDeadline)──────────────► Failed
//	Failed ─► bad definition recorded (state kind bad-revisions: its hash)
//	       ├─ a last good definition exists (same app id): PUT ?force=true of
//	       │  its raw JSON ─► RolledBack; the restored definition is a new
//	       │  entry (kind rollback) followed as a rollout; if it fails too,
//	       │  nothing more is tried (no rollback loops)
//	       └─ none (first install): the app is left as it is; Failed
//
// A bad definition is not written again: the release shows Failed until
// its desired hash changes (a new package revision or other options; the
// record is then dropped) or a manual sync forgets it. Rollbacks asked
// through POST .../rollback {"revision": N} (RollbackTo) pin the release to
// entry N (state kind pins) until the release's manifest or its package
// revision changes in Git; a pinned rollout that fails is reported, not
// rolled back. Before a version move, universe.CheckTransition is applied
// from the installed revision (the app's DCOS_PACKAGE_DEFINITION label) to
// the candidate, with the release's policy where the package declares no
// path; a refused move is OutOfSync with reason UpgradeRefused and nothing
// is written. This holds for "latest", constraints and a changed exact
// version alike (Cosmos Enterprise checks every version change); pins and
// automatic rollbacks go back to what ran before and are not checked.
// spec.suspend: no write of any kind (drift, upgrades, rollbacks, pins,
// deletion); a release removed from Git while suspended is kept (state
// kind suspended). spec.dependsOn: writes wait until every dependency is
// Synced (or Suspended) and converged; unknown targets and cycles are
// Failed (DependencyError) on every release concerned; on removal, a
// release waits while releases that depended on it (as last declared in
// this process) are still being removed.
//
// HA: only the leader writes to Marathon (WriteFence) and to the state
// store (history, pins, bad definitions, suspend markers; compare-and-set
// on the record versions); followers read Marathon and the sources, re-read
// the records every full pass, and show the same status (leader=false,
// leaderId). POST sync and rollback on a follower answer 503 with the
// leader's id (header X-Universe-Operator-Leader); replicas do not forward.
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
//	universe_operator_rollouts_total{outcome} (Succeeded, Failed, RolledBack, Superseded)
//
// Logs use logrus with the fields release, package, app and revision.
package controller
