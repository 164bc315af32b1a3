// Package api defines the JSON documents of the controller's HTTP API
// (/api/v1/...): what the status API returns, what the UI renders and what
// `universe-operator status` prints. It holds types only, so the server, the
// UI, the CLI client and tests share one definition of the wire format.
//
// Field names follow ../shared/docs/product.md where it names them (name,
// package, sync, health, ...). Times are RFC 3339 in UTC. Optional fields are
// omitted when empty so a release that never deployed does not show zero
// values as facts.
package api

import (
	"encoding/json"
	"time"
)

// Sync states of a release (product.md).
const (
	SyncSynced      = "Synced"      // Marathon holds what Git declares and the rollout finished
	SyncOutOfSync   = "OutOfSync"   // Marathon differs from Git; a change is pending or was refused
	SyncProgressing = "Progressing" // a deployment of the release is in flight
	SyncFailed      = "Failed"      // the release cannot converge without a human (reason in lastError)
	SyncSuspended   = "Suspended"   // spec.suspend: the controller leaves it alone
	SyncDeleting    = "Deleting"    // removed from Git; uninstall/cleanup in progress
	SyncUnknown     = "Unknown"     // not reconciled yet (e.g. just started, not leader yet)
)

// Health values exactly as the DC/OS UI shows them (universe-semantics.md §7).
const (
	HealthHealthy   = "Healthy"
	HealthUnhealthy = "Unhealthy"
	HealthIdle      = "Idle"
	HealthNA        = "NA"
)

// ReleaseList is the document of GET /api/v1/releases.
type ReleaseList struct {
	Releases []Release `json:"releases"`
	// Controller describes the controller that answered.
	Controller *ControllerInfo `json:"controller,omitempty"`
}

// ControllerInfo says who answered and what it knows about its inputs.
type ControllerInfo struct {
	Version  string         `json:"version"`
	Leader   bool           `json:"leader"`             // this replica writes to Marathon
	LeaderID string         `json:"leaderId,omitempty"` // identity of the current leader, when known
	Sources  []SourceStatus `json:"sources,omitempty"`
	// Prune explains the last prune decision when it refused to delete.
	PruneRefused string `json:"pruneRefused,omitempty"`
	// MarathonEvents says whether the Marathon event stream is connected.
	MarathonEvents string    `json:"marathonEvents,omitempty"`
	LastPass       time.Time `json:"lastPass,omitzero"`
	// MarathonError is why the last full read of Marathon failed ("" when
	// it succeeded): until it succeeds again, every release re-reads its
	// app before acting.
	MarathonError string `json:"marathonError,omitempty"`
	// LeaderSince is when this replica's current term as leader started
	// (with ZooKeeper election; zero when not leading).
	LeaderSince time.Time `json:"leaderSince,omitzero"`
}

// SourceStatus is the state of one Git/dir/URL source (universes and releases).
type SourceStatus struct {
	Name         string    `json:"name"`
	Kind         string    `json:"kind"` // git | dir | url | file
	Role         string    `json:"role"` // universe | releases
	URI          string    `json:"uri"`
	Revision     string    `json:"revision,omitempty"`
	Healthy      bool      `json:"healthy"`
	Stale        bool      `json:"stale,omitempty"`
	Error        string    `json:"error,omitempty"`
	FailingSince time.Time `json:"failingSince,omitzero"`
	LoadedAt     time.Time `json:"loadedAt,omitzero"`
	CheckedAt    time.Time `json:"checkedAt,omitzero"`
	Problems     []string  `json:"problems,omitempty"`
}

// Release is the status of one release: GET /api/v1/releases/{name}.
type Release struct {
	Name     string `json:"name"`
	Package  string `json:"package"`
	Universe string `json:"universe,omitempty"` // source the package was resolved from

	// DesiredVersion is what the manifest asks for (exact, "latest" or a constraint).
	DesiredVersion string `json:"desiredVersion"`
	// ResolvedVersion and ResolvedRelease are the revision the request resolves to now.
	ResolvedVersion string `json:"resolvedVersion,omitempty"`
	ResolvedRelease *int   `json:"resolvedRelease,omitempty"`
	// DeployedVersion and DeployedRelease are what Marathon runs (from its labels).
	DeployedVersion string `json:"deployedVersion,omitempty"`
	DeployedRelease *int   `json:"deployedRelease,omitempty"`

	AppID string `json:"appId,omitempty"`
	// ManifestFile is the manifest's path in the releases repository.
	ManifestFile string `json:"manifestFile,omitempty"`
	// ManifestRevision and UniverseRevision are the Git commits (or content hashes) in force.
	ManifestRevision string `json:"manifestRevision,omitempty"`
	UniverseRevision string `json:"universeRevision,omitempty"`

	Sync       string `json:"sync"`
	SyncReason string `json:"syncReason,omitempty"`
	Suspended  bool   `json:"suspended,omitempty"`

	Health      string     `json:"health"`
	Tasks       TaskCounts `json:"tasks"`
	Status      string     `json:"status,omitempty"` // Marathon status: Running | Deploying | Delayed | Recovering | Stopped | Deleting | NA
	ServiceLink string     `json:"serviceLink,omitempty"`
	// Icon is a URL of the package's small icon (resource.json images), when it has one.
	Icon string `json:"icon,omitempty"`

	// Deployments in flight for the app (Marathon deployment ids).
	Deployments []string `json:"deployments,omitempty"`
	// Drift lists field-level differences between Git and Marathon when OutOfSync.
	Drift []FieldDiff `json:"drift,omitempty"`

	Notes     Notes      `json:"notes,omitzero"`
	LastError *Error     `json:"lastError,omitempty"`
	Events    []Event    `json:"events,omitempty"` // most recent first, bounded
	History   []Revision `json:"history,omitempty"`
	Cleanup   *Cleanup   `json:"cleanup,omitempty"`
	DependsOn []string   `json:"dependsOn,omitempty"`
	// Pin is set while the release is pinned to an earlier definition by
	// POST .../rollback (kept until its manifest or package revision
	// changes in Git).
	Pin *Pin `json:"pin,omitempty"`

	// LastChange is when the controller last changed the app (or its status moved).
	LastChange time.Time `json:"lastChange,omitzero"`
	// LastReconcile is when the release was last reconciled.
	LastReconcile time.Time `json:"lastReconcile,omitzero"`
}

// TaskCounts are Marathon's task counters plus the configured instances.
type TaskCounts struct {
	Instances int `json:"instances"`
	Staged    int `json:"staged"`
	Running   int `json:"running"`
	Healthy   int `json:"healthy"`
	Unhealthy int `json:"unhealthy"`
}

// Notes are the package's notes for the operator.
type Notes struct {
	PreInstall    string `json:"preInstall,omitempty"`
	PostInstall   string `json:"postInstall,omitempty"`
	PostUninstall string `json:"postUninstall,omitempty"`
}

// Error is the last error of a release, with its class and reason.
type Error struct {
	// Class is permanent (needs a human), waiting (retried after a delay) or transient (backoff).
	Class string `json:"class"`
	// Reason is a short CamelCase cause, e.g. RenderFailed, OptionsInvalid, AppIDTaken, MarathonRejected.
	Reason  string    `json:"reason"`
	Message string    `json:"message"`
	Time    time.Time `json:"time"`
	// Details carries Marathon's 422 details or similar structured detail.
	Details json.RawMessage `json:"details,omitempty"`
	// RetryAt is when the controller will try again, for non-permanent errors.
	RetryAt time.Time `json:"retryAt,omitzero"`
}

// Event is one entry in a release's recent events.
type Event struct {
	Time    time.Time `json:"time"`
	Type    string    `json:"type"` // Normal | Warning
	Reason  string    `json:"reason"`
	Message string    `json:"message"`
}

// FieldDiff is one field-level difference between Git and Marathon.
type FieldDiff struct {
	Path    string          `json:"path"`
	Kind    string          `json:"kind"` // modified | missing | extra
	Desired json.RawMessage `json:"desired,omitempty"`
	Actual  json.RawMessage `json:"actual,omitempty"`
}

// Revision is one deployed definition in a release's history.
type Revision struct {
	ID int `json:"id"` // increasing per release
	// Kind says why it was written: create, update (a Git change),
	// rollback (automatic, after a failed rollout), pinned (POST
	// .../rollback) or observed (found running before the first tracked
	// rollout).
	Kind       string    `json:"kind,omitempty"`
	Version    string    `json:"version"`
	Release    int       `json:"release"` // package releaseVersion
	Hash       string    `json:"hash"`
	AppID      string    `json:"appId,omitempty"`
	Manifest   string    `json:"manifestRevision,omitempty"`
	Universe   string    `json:"universeRevision,omitempty"`
	DeployedAt time.Time `json:"deployedAt"`
	// FinishedAt is when the rollout was judged (zero while InProgress).
	FinishedAt   time.Time `json:"finishedAt,omitzero"`
	Outcome      string    `json:"outcome"` // InProgress | Succeeded | Failed | RolledBack | Superseded
	Reason       string    `json:"reason,omitempty"`
	Deployment   string    `json:"deploymentId,omitempty"`
	Current      bool      `json:"current,omitempty"`
	Rollbackable bool      `json:"rollbackable,omitempty"`
	// Pinned marks the revision a rollback pin holds the release to.
	Pinned bool `json:"pinned,omitempty"`
}

// Pin is a rollback pin: the release runs an earlier definition of its
// history until Git changes.
type Pin struct {
	Revision int       `json:"revision"` // the history entry (Revision.ID)
	Version  string    `json:"version,omitempty"`
	Release  int       `json:"release"`
	Hash     string    `json:"hash"`
	At       time.Time `json:"at"`
	Reason   string    `json:"reason,omitempty"`
}

// Cleanup is the state of an uninstall and its janitor steps.
type Cleanup struct {
	State  string        `json:"state"` // Pending | Running | Complete | Incomplete | Failed
	Steps  []CleanupStep `json:"steps"`
	Reason string        `json:"reason,omitempty"`
	// Left says what the controller could not do and the operator must do by hand.
	Left []string `json:"left,omitempty"`
	// AppID is the Marathon app being uninstalled.
	AppID string `json:"appId,omitempty"`
	// Package is the app's package (label DCOS_PACKAGE_NAME), when known.
	Package string `json:"package,omitempty"`
	// Kind is how it is uninstalled: "sdk" (SDK_UNINSTALL and the
	// scheduler's uninstall plan) or "marathon" (delete, then tear down).
	Kind string `json:"kind,omitempty"`
	// Service is the service name the janitor steps act on ("" when none).
	Service string `json:"service,omitempty"`
	// PostUninstallNotes are the package's postUninstallNotes, set once the
	// uninstall has finished: what the operator may still have to do.
	PostUninstallNotes string `json:"postUninstallNotes,omitempty"`
	// Started and Finished bound the uninstall (Finished is zero until it
	// is Complete or Failed).
	Started  time.Time `json:"started,omitzero"`
	Finished time.Time `json:"finished,omitzero"`
	// Attempts counts the step runs that failed (unreachable components);
	// they are retried with backoff.
	Attempts int `json:"attempts,omitempty"`
}

// CleanupStep is one step of an uninstall.
type CleanupStep struct {
	Name    string    `json:"name"`  // e.g. sdk-uninstall, delete-app, teardown-framework, destroy-volumes, unreserve, delete-znode
	State   string    `json:"state"` // Pending | Running | Done | Failed | Skipped
	Message string    `json:"message,omitempty"`
	Time    time.Time `json:"time,omitzero"`
}

// SyncResponse is the answer of POST /api/v1/releases/{name}/sync and /rollback.
type SyncResponse struct {
	Release string `json:"release"`
	Queued  bool   `json:"queued"`
	Message string `json:"message,omitempty"`
}

// ErrorResponse is the body of every non-2xx answer of the API.
type ErrorResponse struct {
	Message string `json:"message"`
}
