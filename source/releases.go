package source

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/universe-operator/universe-operator/config"
	"github.com/universe-operator/universe-operator/controller/webhook"
	"github.com/universe-operator/universe-operator/errs"
	"github.com/universe-operator/universe-operator/manifest"
)

// ReleasesName is the Status.Name of the release source.
const ReleasesName = "releases"

// ReleaseSnapshot is the release source's state and the manifests in force
// (Set is nil until the first successful load).
type ReleaseSnapshot struct {
	Status
	// Set holds one result per manifest file (valid or broken).
	Set *manifest.Set
}

// Releases is the source of the release manifests.
type Releases struct {
	opts  Options
	spec  config.ReleaseSource
	t     *tracker[*manifest.Set]
	cache manifest.Cache // parse results between loads (refreshes are serialised)
}

// NewReleases prepares the release source (nothing is read until Refresh).
func NewReleases(spec config.ReleaseSource, opts Options) (*Releases, error) {
	opts.defaults()
	r := &Releases{opts: opts, spec: spec}
	switch {
	case spec.Git != nil:
		if opts.Git == nil {
			return nil, errors.New("releases: a Git client is required for a Git source")
		}
		r.t = newTracker[*manifest.Set](ReleasesName, KindGit, GitURI(spec.Git.URL, spec.Git.Ref, spec.Git.Path))
	case spec.Dir != "":
		r.t = newTracker[*manifest.Set](ReleasesName, KindDir, fileURI(spec.Dir))
	default:
		return nil, errors.New("releases: no git or dir")
	}
	return r, nil
}

// Snapshot returns the state and the manifests in force.
func (r *Releases) Snapshot() ReleaseSnapshot {
	snap := r.t.get()
	return ReleaseSnapshot{Status: snap.status, Set: snap.value}
}

// Matches reports whether a push concerns the release source.
func (r *Releases) Matches(p webhook.Push) bool {
	return r.spec.Git != nil && webhook.Matches(p, r.spec.Git.URL, r.spec.Git.Ref)
}

// Refresh checks the source and loads the manifests when their revision
// changed. It reports whether a new set was published; on failure the
// previous set stays in force and the error is also in the status.
func (r *Releases) Refresh(ctx context.Context) (bool, error) {
	r.t.refresh.Lock()
	defer r.t.refresh.Unlock()
	rev, set, same, err := r.load(ctx)
	now := r.opts.Now()
	switch {
	case err != nil:
		r.t.failed(now, fmt.Errorf("releases: %w", err), r.opts.Logger)
		return false, r.t.get().status.Err
	case same:
		r.t.unchanged(now, r.opts.Logger)
		return false, nil
	default:
		r.t.loaded(now, rev, set, set.Problems(), r.opts.Logger)
		return true, nil
	}
}

// current reports whether rev is in force or already failed permanently.
func (r *Releases) current(rev string) (bool, error) {
	if snap := r.t.get(); snap.value != nil && snap.status.Commit == rev {
		return true, nil
	}
	if r.t.failedRev == rev {
		return false, r.t.failedErr
	}
	return false, nil
}

// load reads the manifests when the revision changed.
func (r *Releases) load(ctx context.Context) (string, *manifest.Set, bool, error) {
	var rev string
	var read func(fn func(fs.FS) error) error
	path := ""
	switch {
	case r.spec.Git != nil:
		remote := GitRemote(r.spec.Git)
		co, err := r.opts.Git.Sync(ctx, remote)
		if err != nil {
			return "", nil, false, err
		}
		rev, path = co.Commit, r.spec.Git.Path
		read = func(fn func(fs.FS) error) error { return r.opts.Git.Read(ctx, remote, rev, fn) }
	default:
		var err error
		rev, err = dirRevision(r.spec.Dir)
		if err != nil {
			return "", nil, false, errs.Permanent(fmt.Errorf("directory %s: %s", r.spec.Dir, pathReason(err)))
		}
		read = func(fn func(fs.FS) error) error { return dirFS(r.spec.Dir, fn) }
	}
	if same, ferr := r.current(rev); same || ferr != nil {
		return rev, nil, same, ferr
	}
	var set *manifest.Set
	err := read(func(fsys fs.FS) error {
		var err error
		set, err = manifest.Load(manifest.LoadOptions{FS: fsys, Path: path, Cache: &r.cache})
		if err != nil {
			return errs.Permanent(fmt.Errorf("revision %s: %w", shortRev(rev), err))
		}
		return nil
	})
	if err != nil {
		if errs.IsPermanent(err) {
			r.t.failedRev, r.t.failedErr = rev, err
		}
		return "", nil, false, err
	}
	return rev, set, false, nil
}

// PruneBlockers returns why deleting releases that are absent from the
// manifests would be unsafe now, as far as the sources can tell: a source
// that is not Healthy (failed, stale or never loaded) means the desired
// state is not fully known, and a manifest whose release name cannot be read
// might be any release. Empty means the sources allow pruning; the
// controller's own guards (prune_max_fraction, prune_allow_empty) still
// apply.
func PruneBlockers(u *Universes, r *Releases) []string {
	var out []string
	if u != nil {
		for _, s := range u.Snapshots() {
			if !s.Healthy {
				out = append(out, fmt.Sprintf("universe source %s is not healthy: %s", s.Name, statusReason(s.Status)))
			}
		}
	}
	if r != nil {
		s := r.Snapshot()
		if !s.Healthy {
			out = append(out, "release source is not healthy: "+statusReason(s.Status))
		}
		if s.Set != nil {
			for _, f := range s.Set.Unnamed() {
				out = append(out, "manifest "+f+" is broken and its release name cannot be read")
			}
		}
	}
	return out
}

// statusReason words why a source is not healthy.
func statusReason(s Status) string {
	if s.Err != nil {
		return s.Err.Error()
	}
	return "not loaded yet"
}
