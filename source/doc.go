// Package source keeps the controller's view of its inputs: the Universe
// package sources (in priority order) and the release manifests, each as a
// snapshot that stays in force until a newer one loads successfully.
//
// If a source cannot be fetched or parsed, the LAST GOOD snapshot stays in
// force, the failure is reported with its reason and the time it started,
// and nothing is dropped because of it. Callers that delete things (the
// controller's prune) must check Healthy first: a source that is not Healthy
// (failed, or never loaded) means "the desired state is not fully known".
//
// Kinds of universe sources (config.UniverseSource):
//
//	git:  a Git repository (clients/git); the packages directory is git.path.
//	      URI (the DCOS_PACKAGE_SOURCE value): "<url>#<ref>:<path>", git's own
//	      <rev>:<path> notation, e.g.
//	      https://github.com/example/universe.git#main:repo/packages; the ref
//	      part is HEAD when no ref is given, ":<path>" is left out when there
//	      is no path. The commit is NOT part of the URI (it would change every
//	      app's labels, and so redeploy it, on every commit).
//	dir:  a plain directory (a packages directory). URI: file://<abs path>.
//	url:  a served Universe JSON (the repo-up-to-X.json form). URI: the URL.
//	file: a served Universe JSON in a file. URI: file://<abs path>.
//
// Release sources are a Git repository (releases live under git.path,
// optionsFile paths are relative to the repository root) or a directory
// (both the releases path and the root for optionsFile).
//
// Revision ("Commit") of a snapshot: the Git commit for git sources;
// "sha256:<hex>" of the served bytes for url/file sources; "dir:<hex>", a hash
// of the names, sizes, modes and modification times of the files, for dir
// sources (re-read only when that changes).
//
// Exported API:
//
//	type Options struct {
//		Git        *git.Client        // required for git sources
//		HTTPClient *http.Client       // for url sources (default: 60s timeout)
//		Logger     logrus.FieldLogger
//		Now        func() time.Time
//	}
//	type Status struct {
//		Name, Kind, URI string
//		Commit       string    // revision of the snapshot in force ("" = none yet)
//		LoadedAt     time.Time // when the snapshot in force was loaded
//		CheckedAt    time.Time // when the last check finished
//		Healthy      bool      // the last check succeeded: the snapshot in force is current
//		Stale        bool      // the last check failed but an older snapshot is in force
//		Err          error     // why the last check failed (nil when Healthy)
//		FailingSince time.Time // first failure of the current run of failures
//		Problems     []error   // non-fatal load problems of the snapshot in force
//	}
//	func (s Status) Ready() bool     // a snapshot is in force (Healthy or Stale)
//	func (s Status) Reason() string  // Err's text, "" when Healthy
//
//	type UniverseSnapshot struct{ Status; Repository *universe.Repository }
//	type Universes struct{ ... }
//	func NewUniverses(specs []config.UniverseSource, opts Options) (*Universes, error)
//	func (u *Universes) Refresh(ctx context.Context) (changed bool)            // all sources, in parallel
//	func (u *Universes) RefreshSource(ctx context.Context, name string) (changed bool, err error)
//	func (u *Universes) Snapshots() []UniverseSnapshot                        // priority order
//	func (u *Universes) Repositories() []*universe.Repository                // priority order, loaded ones
//	func (u *Universes) Healthy() bool                                        // every source Healthy
//	func (u *Universes) Matching(p webhook.Push) []string                     // names of git sources a push concerns
//
//	type ReleaseSnapshot struct{ Status; Set *manifest.Set }
//	type Releases struct{ ... }
//	func NewReleases(spec config.ReleaseSource, opts Options) (*Releases, error)
//	func (r *Releases) Refresh(ctx context.Context) (changed bool, err error)
//	func (r *Releases) Snapshot() ReleaseSnapshot
//	func (r *Releases) Matches(p webhook.Push) bool
//
//	func PruneBlockers(u *Universes, r *Releases) []string  // reasons pruning is unsafe now ("" = none)
//	func GitRemote(g *config.GitSource) git.Remote
//	func GitURI(url, ref, path string) string
//
// Refresh is safe to call concurrently with itself and with the readers;
// snapshots are immutable once published.
package source
