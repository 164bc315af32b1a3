package controller

import (
	"context"
	"encoding/json"
	"time"

	"github.com/universe-operator/universe-operator/api"
	"github.com/universe-operator/universe-operator/clients/marathon"
	"github.com/universe-operator/universe-operator/controller/webhook"
	"github.com/universe-operator/universe-operator/manifest"
	"github.com/universe-operator/universe-operator/reconcile"
	"github.com/universe-operator/universe-operator/universe"
)

// Marathon is what the controller needs of Marathon. *marathon.Client
// implements it; tests use the real client against the simulator.
type Marathon interface {
	ListApps(ctx context.Context, selector string, embed ...string) ([]marathon.App, error)
	GetApp(ctx context.Context, id string, embed ...string) (*marathon.App, error)
	CreateApp(ctx context.Context, raw json.RawMessage) (marathon.WriteResult, error)
	UpdateApp(ctx context.Context, id string, raw json.RawMessage, force bool) (marathon.WriteResult, error)
	DeleteApp(ctx context.Context, id string, force bool) (marathon.WriteResult, error)
	Queue(ctx context.Context) ([]marathon.QueueItem, error)
	Events(ctx context.Context, types ...string) *marathon.Stream
}

// Sources gives the controller its desired-state inputs: the Universe
// repositories and the release manifests, each as the last good snapshot.
// SourceSet (sources.go) implements it over package source.
type Sources interface {
	// Refresh re-reads every source (the poll). Failures do not stop it:
	// they show in Inputs().Healthy and Inputs().Sources.
	Refresh(ctx context.Context)
	// RefreshPush re-reads the sources a Git push concerns and reports
	// whether it concerned any.
	RefreshPush(ctx context.Context, p webhook.Push) bool
	// Inputs returns the snapshots in force now. It must be cheap and the
	// result immutable: the controller calls it on every pass.
	Inputs() *Inputs
}

// Inputs are the desired-state inputs in force: immutable once returned.
type Inputs struct {
	// Repositories are the loaded Universe repositories, priority order.
	Repositories []*universe.Repository
	// UniverseRevisions maps a repository name to the revision in force
	// (Git commit or content hash).
	UniverseRevisions map[string]string
	// Releases is the manifest set in force (nil before the first load).
	Releases *manifest.Set
	// ReleasesRevision is the revision of the releases source.
	ReleasesRevision string
	// Healthy is true when every source's last check succeeded: only then
	// may anything be pruned.
	Healthy bool
	// Loaded is true when every source has a snapshot in force (readyz).
	Loaded bool
	// UniverseOrder names every universe source in priority order, and
	// Unloaded those of them with no snapshot in force yet: a package
	// found below one of them may not be the one that source would give.
	UniverseOrder, Unloaded []string
	// Sources is the state of each source for the status API.
	Sources []api.SourceStatus
}

// Uninstaller removes the apps of a release that is no longer declared.
// The controller calls it on every pass while the release's app exists,
// so it must be idempotent; it only ever receives apps that carry the
// release's ownership label. DeleteUninstaller is the default; issue 7
// replaces it with Cosmos's full uninstall plus the janitor state machine.
type Uninstaller interface {
	Uninstall(ctx context.Context, req UninstallRequest) (UninstallResult, error)
}

// UninstallRequest names the app to remove.
type UninstallRequest struct {
	// Release is the release name (the app's ownership label).
	Release string
	// AppID is the app's canonical id.
	AppID string
	// App is the app as Marathon holds it (fresh read, status fields
	// included).
	App json.RawMessage
	// Deployments are the deployments in flight on the app.
	Deployments []string
	// Janitor is the release's spec.cleanup.janitor as last declared (nil:
	// unknown or unset; the uninstaller applies its default).
	Janitor *bool
	// Framework is the last declared package revision's "framework" flag
	// (nil when unknown).
	Framework *bool
	// PostUninstallNotes are that revision's postUninstallNotes.
	PostUninstallNotes string
	// Retry asks to run a Failed uninstall again (a manual sync).
	Retry bool
}

// UninstallResult says how far an uninstall got.
type UninstallResult struct {
	// Done is true when nothing is left to do (the controller then waits
	// for the app to disappear from Marathon).
	Done bool
	// DeploymentID is the Marathon deployment started, if any.
	DeploymentID string
	// Cleanup is the state of the uninstall steps, shown in the status API.
	Cleanup *api.Cleanup
	// Message is a one-line progress note for logs and events ("": no
	// event).
	Message string
	// Events are the uninstaller's own events for the release.
	Events []api.Event
	// ShowUntil keeps a finished uninstall (its Cleanup: notes, what was
	// done and what is left) in the status API until then.
	ShowUntil time.Time
}

// Leader gates writes: only the leader writes to Marathon. AlwaysLeader is
// the default (a single replica); issue 6 plugs ZooKeeper election in.
type Leader interface {
	// IsLeader reports whether this replica may write now. The controller
	// asks right before every write.
	IsLeader() bool
	// LeaderID names the current leader, "" when unknown.
	LeaderID() string
	// Changed is signalled when leadership may have changed (the
	// controller then re-reads everything); nil when it never changes.
	Changed() <-chan struct{}
}

// AlwaysLeader is the Leader of a single replica.
type AlwaysLeader struct{ ID string }

// IsLeader implements Leader.
func (AlwaysLeader) IsLeader() bool { return true }

// LeaderID implements Leader.
func (l AlwaysLeader) LeaderID() string { return l.ID }

// Changed implements Leader.
func (AlwaysLeader) Changed() <-chan struct{} { return nil }

// Clock tells the time (tests may fake it).
type Clock interface{ Now() time.Time }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// Frameworks lists the registered Mesos frameworks, for service links of
// framework packages (universe-semantics.md section 7). Optional.
type Frameworks interface {
	Frameworks(ctx context.Context) ([]reconcile.Framework, error)
}

// RolloutTracker follows a release after the controller wrote its app
// (issue 6: health-gated rollouts). The default tracks nothing. It is
// called after every successful create/update with the write's details and
// on every reconcile of a release with its app status, and may return a
// rollout for reconcile.SyncState.
type RolloutTracker interface {
	// Started records a write Marathon accepted.
	Started(release string, w Write)
	// Rollout returns the rollout being followed for a release, or nil.
	Rollout(release string, status reconcile.AppStatus, now time.Time) *reconcile.Rollout
	// Forget drops what is known about a release (it was removed).
	Forget(release string)
}

// Write describes one write the controller made for a release.
type Write struct {
	Kind         reconcile.ActionKind
	AppID        string
	Hash         string
	DeploymentID string
	Version      string // package version
	Release      int    // package releaseVersion
	Manifest     string // manifest revision
	Universe     string // universe revision
	At           time.Time
}

// HistoryRecorder records deployed definitions (issue 6: history and
// rollback). Optional; called after every accepted write.
type HistoryRecorder interface {
	Record(ctx context.Context, release string, w Write, app json.RawMessage) error
	// History returns the release's history for the status API.
	History(release string) []api.Revision
}
