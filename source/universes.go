package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"
	"sync"

	"github.com/universe-operator/universe-operator/config"
	"github.com/universe-operator/universe-operator/controller/webhook"
	"github.com/universe-operator/universe-operator/errs"
	"github.com/universe-operator/universe-operator/universe"
)

// maxServed bounds a served repository document (the public Universe is
// about 50 MB).
const maxServed = 512 << 20

// UniverseSnapshot is one universe source's state and the repository in
// force (nil until the first successful load).
type UniverseSnapshot struct {
	Status
	// Repository is the last good load, or nil.
	Repository *universe.Repository
}

// universeSource is one configured package source.
type universeSource struct {
	spec config.UniverseSource
	t    *tracker[*universe.Repository]
	// etag / lastModified of the served URL's last 200 answer.
	etag, lastModified string
}

// Universes are the package sources in priority order.
type Universes struct {
	opts    Options
	sources []*universeSource
}

// NewUniverses prepares the sources (nothing is fetched until Refresh).
func NewUniverses(specs []config.UniverseSource, opts Options) (*Universes, error) {
	opts.defaults()
	u := &Universes{opts: opts}
	for _, s := range specs {
		kind, uri := "", ""
		switch {
		case s.Git != nil:
			if opts.Git == nil {
				return nil, fmt.Errorf("universe %s: a Git client is required for Git sources", s.Name)
			}
			kind, uri = KindGit, GitURI(s.Git.URL, s.Git.Ref, s.Git.Path)
		case s.Dir != "":
			kind, uri = KindDir, fileURI(s.Dir)
		case s.URL != "":
			kind, uri = KindURL, s.URL
		case s.File != "":
			kind, uri = KindFile, fileURI(s.File)
		default:
			return nil, fmt.Errorf("universe %s: no git, dir, url or file", s.Name)
		}
		u.sources = append(u.sources, &universeSource{spec: s, t: newTracker[*universe.Repository](s.Name, kind, uri)})
	}
	return u, nil
}

// Refresh checks every source (in parallel) and loads the changed ones. It
// reports whether any snapshot changed; failures are in the statuses.
func (u *Universes) Refresh(ctx context.Context) bool {
	var wg sync.WaitGroup
	changed := make([]bool, len(u.sources))
	for i, s := range u.sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			changed[i], _ = u.refresh(ctx, s)
		}()
	}
	wg.Wait()
	for _, c := range changed {
		if c {
			return true
		}
	}
	return false
}

// RefreshSource checks one source by name.
func (u *Universes) RefreshSource(ctx context.Context, name string) (bool, error) {
	for _, s := range u.sources {
		if s.spec.Name == name {
			return u.refresh(ctx, s)
		}
	}
	return false, fmt.Errorf("no universe source named %q", name)
}

// Snapshots returns every source's state, in priority order.
func (u *Universes) Snapshots() []UniverseSnapshot {
	out := make([]UniverseSnapshot, len(u.sources))
	for i, s := range u.sources {
		snap := s.t.get()
		out[i] = UniverseSnapshot{Status: snap.status, Repository: snap.value}
	}
	return out
}

// Repositories returns the repositories in force, in priority order
// (sources never loaded are left out).
func (u *Universes) Repositories() []*universe.Repository {
	var out []*universe.Repository
	for _, s := range u.sources {
		if r := s.t.get().value; r != nil {
			out = append(out, r)
		}
	}
	return out
}

// Healthy reports whether every source's last check succeeded.
func (u *Universes) Healthy() bool {
	for _, s := range u.sources {
		if !s.t.get().status.Healthy {
			return false
		}
	}
	return true
}

// Matching returns the names of the Git sources a push concerns.
func (u *Universes) Matching(p webhook.Push) []string {
	var out []string
	for _, s := range u.sources {
		if g := s.spec.Git; g != nil && webhook.Matches(p, g.URL, g.Ref) {
			out = append(out, s.spec.Name)
		}
	}
	return out
}

// refresh checks one source; it returns whether a new snapshot was
// published and the check's error.
func (u *Universes) refresh(ctx context.Context, s *universeSource) (bool, error) {
	s.t.refresh.Lock()
	defer s.t.refresh.Unlock()
	log := u.opts.Logger
	var (
		rev      string
		repo     *universe.Repository
		problems []error
		same     bool
		err      error
	)
	switch s.t.kind {
	case KindGit:
		rev, repo, problems, same, err = u.loadGit(ctx, s)
	case KindDir:
		rev, repo, problems, same, err = u.loadDir(s)
	case KindURL:
		rev, repo, problems, same, err = u.loadURL(ctx, s)
	case KindFile:
		rev, repo, problems, same, err = u.loadFile(s)
	}
	now := u.opts.Now()
	switch {
	case err != nil:
		s.t.failed(now, fmt.Errorf("universe %s: %w", s.spec.Name, err), log)
		return false, s.t.get().status.Err
	case same:
		s.t.unchanged(now, log)
		return false, nil
	default:
		s.t.loaded(now, rev, repo, problems, log)
		return true, nil
	}
}

// current reports whether rev is the revision in force, or one whose load
// already failed permanently (then its error is returned again).
func (s *universeSource) current(rev string) (bool, error) {
	if snap := s.t.get(); snap.value != nil && snap.status.Commit == rev {
		return true, nil
	}
	if s.t.failedRev == rev {
		return false, s.t.failedErr
	}
	return false, nil
}

// remember records a permanent load failure of rev.
func (s *universeSource) remember(rev string, err error) error {
	if errs.IsPermanent(err) {
		s.t.failedRev, s.t.failedErr = rev, err
	}
	return err
}

// loadGit syncs and, when the commit changed, loads the packages tree.
func (u *Universes) loadGit(ctx context.Context, s *universeSource) (string, *universe.Repository, []error, bool, error) {
	g := s.spec.Git
	remote := GitRemote(g)
	co, err := u.opts.Git.Sync(ctx, remote)
	if err != nil {
		return "", nil, nil, false, err
	}
	if same, ferr := s.current(co.Commit); same || ferr != nil {
		return co.Commit, nil, nil, same, ferr
	}
	var repo *universe.Repository
	var problems []error
	err = u.opts.Git.Read(ctx, remote, co.Commit, func(fsys fs.FS) error {
		sub, err := subFS(fsys, g.Path)
		if err != nil {
			return fmt.Errorf("commit %s: %w", shortRev(co.Commit), err)
		}
		repo, problems = universe.LoadFS(sub, universe.WithName(s.spec.Name), universe.WithSource(s.t.uri))
		prefixLocations(repo, problems, g.Path)
		if repo == nil {
			return loadFailure(co.Commit, problems)
		}
		return nil
	})
	if err != nil {
		return "", nil, nil, false, s.remember(co.Commit, err)
	}
	return co.Commit, repo, problems, false, nil
}

// loadDir loads a packages directory when its revision changed.
func (u *Universes) loadDir(s *universeSource) (string, *universe.Repository, []error, bool, error) {
	rev, err := dirRevision(s.spec.Dir)
	if err != nil {
		return "", nil, nil, false, errs.Permanent(fmt.Errorf("directory %s: %s", s.spec.Dir, pathReason(err)))
	}
	if same, ferr := s.current(rev); same || ferr != nil {
		return rev, nil, nil, same, ferr
	}
	var repo *universe.Repository
	var problems []error
	err = dirFS(s.spec.Dir, func(fsys fs.FS) error {
		repo, problems = universe.LoadFS(fsys, universe.WithName(s.spec.Name), universe.WithSource(s.t.uri))
		prefixLocations(repo, problems, s.spec.Dir)
		if repo == nil {
			return loadFailure(rev, problems)
		}
		return nil
	})
	if err != nil {
		return "", nil, nil, false, s.remember(rev, err)
	}
	return rev, repo, problems, false, nil
}

// loadURL fetches a served repository (conditionally: an unchanged answer
// costs a 304 or a hash comparison, not a parse).
func (u *Universes) loadURL(ctx context.Context, s *universeSource) (string, *universe.Repository, []error, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.spec.URL, nil)
	if err != nil {
		return "", nil, nil, false, errs.Permanent(err)
	}
	req.Header.Set("Accept", universe.ServedMediaType)
	req.Header.Set("User-Agent", "universe-operator")
	if s.t.get().value != nil {
		if s.etag != "" {
			req.Header.Set("If-None-Match", s.etag)
		}
		if s.lastModified != "" {
			req.Header.Set("If-Modified-Since", s.lastModified)
		}
	}
	resp, err := u.opts.HTTPClient.Do(req)
	if err != nil {
		return "", nil, nil, false, errs.Transient(fmt.Errorf("GET %s: %v", s.spec.URL, urlReason(err)))
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified && s.t.get().value != nil {
		return s.t.get().status.Commit, nil, nil, true, nil
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		e := fmt.Errorf("GET %s: HTTP %s: %s", s.spec.URL, resp.Status, strings.TrimSpace(string(msg)))
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout {
			return "", nil, nil, false, errs.Transient(e)
		}
		return "", nil, nil, false, errs.Permanent(e)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxServed+1))
	if err != nil {
		return "", nil, nil, false, errs.Transient(fmt.Errorf("GET %s: reading the answer: %v", s.spec.URL, err))
	}
	if len(data) > maxServed {
		return "", nil, nil, false, errs.Permanent(fmt.Errorf("GET %s: answer larger than %d bytes", s.spec.URL, maxServed))
	}
	rev := contentRevision(data)
	if same, ferr := s.current(rev); same || ferr != nil {
		s.etag, s.lastModified = resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
		return rev, nil, nil, same, ferr
	}
	repo, problems := universe.LoadServed(data, universe.WithName(s.spec.Name), universe.WithSource(s.t.uri))
	if repo == nil {
		return "", nil, nil, false, s.remember(rev, loadFailure(rev, problems))
	}
	s.etag, s.lastModified = resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	return rev, repo, problems, false, nil
}

// urlReason drops the repeated URL from a client error.
func urlReason(err error) string {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && ue.Unwrap() != nil {
		return ue.Unwrap().Error()
	}
	return err.Error()
}

// loadFile loads a served repository from a file when its content changed.
func (u *Universes) loadFile(s *universeSource) (string, *universe.Repository, []error, bool, error) {
	st, err := os.Stat(s.spec.File)
	if err != nil {
		return "", nil, nil, false, errs.Permanent(fmt.Errorf("file %s: %s", s.spec.File, pathReason(err)))
	}
	if st.Size() > maxServed {
		return "", nil, nil, false, errs.Permanent(fmt.Errorf("file %s: larger than %d bytes", s.spec.File, maxServed))
	}
	data, err := os.ReadFile(s.spec.File)
	if err != nil {
		return "", nil, nil, false, errs.Permanent(fmt.Errorf("file %s: %s", s.spec.File, pathReason(err)))
	}
	rev := contentRevision(data)
	if same, ferr := s.current(rev); same || ferr != nil {
		return rev, nil, nil, same, ferr
	}
	repo, problems := universe.LoadServed(data, universe.WithName(s.spec.Name), universe.WithSource(s.t.uri))
	if repo == nil {
		return "", nil, nil, false, s.remember(rev, loadFailure(rev, problems))
	}
	return rev, repo, problems, false, nil
}

// loadFailure words a load that produced no repository at all.
func loadFailure(rev string, problems []error) error {
	msg := "cannot be loaded"
	if len(problems) > 0 {
		msg = problems[0].Error()
	}
	return errs.Permanent(fmt.Errorf("revision %s: %s", shortRev(rev), msg))
}

// prefixLocations makes the locations of an fs.FS load relative to the
// source's root again (LoadFS reports paths inside the sub-tree).
func prefixLocations(repo *universe.Repository, problems []error, prefix string) {
	if !strings.HasPrefix(prefix, "/") {
		prefix = strings.Trim(prefix, "/")
	}
	if prefix == "" || prefix == "." {
		return
	}
	join := func(p string) string {
		if p == "" || p == "." {
			return prefix
		}
		return path.Join(prefix, p)
	}
	for _, e := range problems {
		var fe *universe.FileError
		if errors.As(e, &fe) {
			fe.Path = join(fe.Path)
		}
	}
	if repo != nil {
		for _, p := range repo.Packages() {
			p.Location = join(p.Location)
		}
	}
}
