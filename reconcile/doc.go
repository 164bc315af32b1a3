// Package reconcile holds the pure decisions of the reconcile loop: who owns an
// app, whether Marathon's copy of an app drifted from what a release wants,
// how the DC/OS UI would show the app's health, what to do for each release,
// whether pruning is safe, and which sync state a release is in.
//
// Nothing here does I/O: no network, no files, no clocks. Time is passed in
// (Options.Now, the now argument of Status, SyncInput.Now). App definitions
// travel as raw JSON ([]byte / json.RawMessage) and are never decoded into a
// typed Marathon struct, so fields this package does not model survive.
//
// # Ownership
//
//	const LabelRelease = "UNIVERSE_OPERATOR_RELEASE" // release name (metadata.name)
//	const LabelHash    = "UNIVERSE_OPERATOR_HASH"    // Hash of the rendered app
//	const HashLen      = 16
//	func Hash(app []byte) (string, error)
//	func Stamp(renderedApp []byte, release string) (app []byte, hash string, err error)
//	func Owner(app []byte) (release string, owned bool)
//	func HashLabel(app []byte) string
//	func AppID(app []byte) (string, error)
//	func CanonicalID(id string) string
//
// Hash is the first HashLen hex characters of the SHA-256 of the app's
// canonical form (object keys sorted, compact, strings re-escaped without HTML
// escaping, numbers as written) with the two ownership labels removed (and a
// labels member that is then empty, or null, removed), so Stamp is idempotent. Stamp edits the raw
// bytes: key order, whitespace and number formatting of everything else stay
// as they were.
//
// # Drift
//
//	func Compare(desired, actual []byte) Drift
//	type Drift struct { Changes []Change; Ignored []string; Err error }
//	func (Drift) Drifted() bool; Paths() []string; String() string
//	type Change struct { Path string; Kind ChangeKind; Desired, Actual json.RawMessage; Defaulted string }
//	const ChangeModified, ChangeMissing, ChangeExtra ChangeKind
//	const SideDesired, SideActual = "desired", "actual"
//	func MarathonView(app []byte) ([]byte, error)
//	func Normalize(app []byte) ([]byte, error)
//	func Defaults() []DefaultRule
//
// Compare is not fooled by what Marathon fills in. Both sides are first put in
// the canonical form Marathon itself produces (AppNormalization in Marathon
// 1.5+: uris->fetch, ports->portDefinitions, docker.network/ipAddress->networks,
// docker.portMappings->container.portMappings, default networks, port
// definitions and port mappings, health-check portIndex, resident upgrade
// strategy and residency, canonical ids), null and empty collections are
// dropped, and read-only status fields are stripped (version, versionInfo,
// tasks*, deployments, lastTaskFailure, readinessCheckResults, taskStats,
// tasksStats, counts). The structural comparison then knows Marathon's
// defaults per JSON path (see Defaults and defaults.go): a field present on one
// side only is no drift when its value is a known default; anything else is.
// Fields only the release has that Marathon's App type does not know (a
// template's "maintainer", typos such as readinessChecks[].interval) are
// dropped by Marathon: they are listed in Drift.Ignored, never drift. Fields
// only Marathon has that are not known defaults are drift (ChangeExtra).
// Numbers compare by value (1 == 1.0); service ports a release leaves at 0 match
// whatever port Marathon assigned; arrays Marathon keeps as sets
// (constraints, healthChecks, acceptedResourceRoles, dependencies,
// httpStatusCodesForReady) compare without order. Paths are JSON pointers
// (RFC 6901), e.g. /instances, /env/FOO, /healthChecks/0/path.
//
// MarathonView applies the same model forwards: it returns the app as
// Marathon would answer GET /v2/apps/{id} right after it was posted (defaults
// filled, unknown fields dropped, service ports assigned; status fields are
// not added). Tests use it, and the simulator may; Compare(app,
// MarathonView(app)) never drifts. It is this package's model, not
// Marathon: the hand-written Marathon answers in testdata/compare are the
// independent check.
//
// # Status as the DC/OS UI shows it
//
//	func Status(app []byte, queue *QueueEntry, frameworks []Framework, now time.Time) (AppStatus, error)
//	func (Actual) Status(queue *QueueEntry, frameworks []Framework, now time.Time) (AppStatus, error)
//	func ParseQueue(raw []byte, observedAt time.Time) (map[string]QueueEntry, error)
//	type AppStatus struct { AppID string; Instances int; Tasks TaskCounts; Health Health;
//	                        Status MarathonStatus; ServiceLink string; Deployments []string;
//	                        HealthChecks int; LastTaskFailure *TaskFailure }
//	func (AppStatus) Converged() bool
//	type Health string          // Healthy | Unhealthy | Idle | NA
//	type MarathonStatus string  // Running | Deploying | Delayed | Recovering | Stopped | Deleting | NA
//
// The rules are universe-semantics.md section 7, in its order of precedence.
// app is the raw JSON from GET /v2/apps?embed=apps.tasks&embed=apps.counts&
// embed=apps.deployments&embed=apps.lastTaskFailure (one element of "apps").
//
// # Plan
//
//	func NewActual(app []byte) (Actual, error)
//	func ParseApps(body []byte) ([]Actual, error) // GET /v2/apps in one scan
//	func Plan(desired []Desired, actual []Actual, opts Options) Result
//	type Desired struct { Release, AppID string; App json.RawMessage; Hash string;
//	                      Adopt, Suspended bool; Err error; OwnDeployment *DeploymentRef }
//	type Actual  struct { AppID string; App json.RawMessage; Release, Hash, Version string;
//	                      Deployments []string }
//	type Options struct { Now time.Time; StuckAfter time.Duration; Prune PruneOptions;
//	                      InSync map[string]Verdict }
//	type Result  struct { Actions []Action; Prune PruneResult; InSync map[string]Verdict }
//	type Verdict struct { Hash, Version string }
//	type Action  struct { Kind ActionKind; Release, AppID string; App json.RawMessage;
//	                      Drift Drift; Deployments []string; Reason string; Err error;
//	                      Adopt, Suspended bool }
//	const ActionCreate, ActionUpdate, ActionForceUpdate, ActionDelete, ActionWait,
//	      ActionFail, ActionNothing, ActionOrphan ActionKind
//
// Rules: an app without the ownership label is never changed or deleted
// (unless the release asks to adopt it); an app owned by another release is
// never touched (Fail); a hash-label mismatch or drift means Update; a
// deployment in flight on the app means Wait, unless it is the release's own
// deployment stuck for longer than Options.StuckAfter and there is a change to
// make (ForceUpdate); a suspended release gets Nothing (Suspended set); a
// release whose rendering failed gets Fail with its error and keeps its app;
// owned apps of releases no longer desired are deleted only when PruneDecision
// allows it, else reported as Orphan with the refusal; an owned app of a
// desired release at an id it no longer wants is deleted (Orphan when a
// source failed to load).
//
// Verdicts make a pass with nothing to do cheap: Marathon gives every change
// of an app (definition or scale) a new "version", so a release whose hash
// and app version equal the previous pass's verdict is in sync without a
// field-level compare. Pass Result.InSync back as Options.InSync; leave it
// nil to compare everything (diff). NewActual, ParseApps and Status build
// only the members they read.
//
// # Prune safety
//
//	func PruneDecision(owned []string, desired map[string]bool, sourcesHealthy bool,
//	                   maxFraction float64, allowEmpty bool) (toDelete []string, refused string)
//
// Never when a source failed to load, never when the desired set is empty
// (unless allowEmpty), never more than maxFraction of the owned releases in
// one pass (maxFraction <= 0 means DefaultMaxPruneFraction, >= 1 means no
// limit; no floor: in a small installation a single release may be over
// the fraction).
//
// # Sync state
//
//	func SyncState(in SyncInput) SyncResult
//	type Sync string // Synced | OutOfSync | Progressing | Failed | Suspended
//	type Rollout struct { Started time.Time; Deadline time.Duration; Failed bool; Reason string }
//
// SyncInput carries the plan outcome, the last error (its errs class
// decides), whether a deployment is in flight, the health, and an optional
// Rollout (issue 6: Progressing until healthy within a deadline, then Failed
// with Rollback set).
package reconcile
