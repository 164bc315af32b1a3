package source

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/universe-operator/universe-operator/clients/git"
	"github.com/universe-operator/universe-operator/config"
	"github.com/universe-operator/universe-operator/errs"
)

// Kinds of sources.
const (
	KindGit  = "git"
	KindDir  = "dir"
	KindURL  = "url"
	KindFile = "file"
)

// Options are the dependencies of the sources.
type Options struct {
	// Git fetches Git sources; required when any source is a Git source.
	Git *git.Client
	// HTTPClient fetches url sources (default: a client with a 60s timeout).
	HTTPClient *http.Client
	// Logger receives state changes with fields (source, commit); nil = silent.
	Logger logrus.FieldLogger
	// Now is the clock (tests); nil = time.Now.
	Now func() time.Time
}

func (o *Options) defaults() {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 60 * time.Second}
	}
	if o.Logger == nil {
		l := logrus.New()
		l.SetOutput(discard{})
		o.Logger = l
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// discard drops log output.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// Status is the state of one source.
type Status struct {
	// Name is the source's name ("releases" for the release source).
	Name string `json:"name"`
	// Kind is git, dir, url or file.
	Kind string `json:"kind"`
	// URI identifies the source (for universes: the DCOS_PACKAGE_SOURCE value).
	URI string `json:"uri"`
	// Commit is the revision of the snapshot in force ("" = none yet).
	Commit string `json:"commit,omitempty"`
	// LoadedAt is when the snapshot in force was loaded.
	LoadedAt time.Time `json:"loadedAt,omitzero"`
	// CheckedAt is when the last check finished.
	CheckedAt time.Time `json:"checkedAt,omitzero"`
	// Healthy is true when the last check succeeded: the snapshot in force
	// is the source's current content.
	Healthy bool `json:"healthy"`
	// Stale is true when the last check failed but an older snapshot is in
	// force (and still used).
	Stale bool `json:"stale"`
	// Err says why the last check failed (nil when Healthy).
	Err error `json:"-"`
	// FailingSince is when the current run of failures started.
	FailingSince time.Time `json:"failingSince,omitzero"`
	// Problems are non-fatal load problems of the snapshot in force
	// (malformed files that were skipped).
	Problems []error `json:"-"`
}

// Ready reports whether a snapshot is in force.
func (s Status) Ready() bool { return s.Commit != "" }

// Reason returns the last check's error text, "" when Healthy.
func (s Status) Reason() string {
	if s.Err == nil {
		return ""
	}
	return s.Err.Error()
}

// snapshot is an immutable published state of one source.
type snapshot[T any] struct {
	status Status
	value  T
}

// tracker holds the published snapshot of one source and serialises its
// refreshes.
type tracker[T any] struct {
	name, kind, uri string
	refresh         sync.Mutex
	cur             atomic.Pointer[snapshot[T]]
	// failedRev is a revision whose load failed permanently (a broken
	// tree): it is not loaded again until the revision changes.
	failedRev string
	failedErr error
}

func newTracker[T any](name, kind, uri string) *tracker[T] {
	t := &tracker[T]{name: name, kind: kind, uri: uri}
	t.cur.Store(&snapshot[T]{status: Status{Name: name, Kind: kind, URI: uri}})
	return t
}

// get returns the published snapshot.
func (t *tracker[T]) get() *snapshot[T] { return t.cur.Load() }

// succeed publishes a check that found the snapshot current.
func (t *tracker[T]) unchanged(now time.Time, log logrus.FieldLogger) {
	old := t.get()
	st := old.status
	if st.Err != nil {
		log.WithFields(logrus.Fields{"source": t.name, "commit": st.Commit}).Info("source recovered")
	}
	st.CheckedAt, st.Healthy, st.Stale, st.Err, st.FailingSince = now, true, false, nil, time.Time{}
	t.cur.Store(&snapshot[T]{status: st, value: old.value})
}

// loaded publishes a new snapshot.
func (t *tracker[T]) loaded(now time.Time, rev string, value T, problems []error, log logrus.FieldLogger) {
	old := t.get().status
	st := Status{Name: t.name, Kind: t.kind, URI: t.uri, Commit: rev, LoadedAt: now, CheckedAt: now,
		Healthy: true, Problems: problems}
	t.cur.Store(&snapshot[T]{status: st, value: value})
	t.failedRev, t.failedErr = "", nil
	log.WithFields(logrus.Fields{"source": t.name, "commit": rev, "previous": old.Commit, "problems": len(problems)}).
		Info("source loaded")
}

// failed records a failed check; the snapshot in force stays.
func (t *tracker[T]) failed(now time.Time, err error, log logrus.FieldLogger) {
	old := t.get()
	st := old.status
	if st.Err == nil {
		st.FailingSince = now
		log.WithFields(logrus.Fields{"source": t.name, "commit": st.Commit}).Warnf("source check failed, keeping the last good snapshot: %v", err)
	} else if st.Err.Error() != err.Error() {
		log.WithFields(logrus.Fields{"source": t.name, "commit": st.Commit}).Warnf("source still failing: %v", err)
	}
	st.CheckedAt, st.Healthy, st.Err = now, false, err
	st.Stale = st.Commit != ""
	t.cur.Store(&snapshot[T]{status: st, value: old.value})
}

// GitRemote converts a configured Git source to a clients/git Remote.
func GitRemote(g *config.GitSource) git.Remote {
	r := git.Remote{URL: g.URL, Ref: g.Ref, CAFile: g.CAFile, InsecureSkipVerify: g.InsecureSkipVerify,
		Timeout: g.Timeout.Duration}
	if a := g.Auth; a != nil {
		r.Auth = git.Auth{
			Username: a.Username, PasswordFile: a.PasswordFile, PasswordEnv: a.PasswordEnv,
			TokenFile: a.TokenFile, TokenEnv: a.TokenEnv, SSHKeyFile: a.SSHKeyFile, SSHKeyEnv: a.SSHKeyEnv,
			SSHKeyPassphraseFile: a.SSHKeyPassphraseFile, SSHKeyPassphraseEnv: a.SSHKeyPassphraseEnv,
			KnownHostsFile: a.KnownHostsFile,
		}
	}
	return r
}

// GitURI is the URI of a Git source: "<url>#<ref>:<path>" (git's own
// <rev>:<path> notation), with ref HEAD when empty and ":<path>" left out
// when path is empty. The commit is not part of it.
func GitURI(url, ref, p string) string {
	if ref == "" {
		ref = "HEAD"
	}
	u := git.RedactURL(url) + "#" + ref
	if p = strings.Trim(p, "/"); p != "" && p != "." {
		u += ":" + p
	}
	return u
}

// fileURI is file://<absolute path>.
func fileURI(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		abs = p
	}
	return "file://" + filepath.ToSlash(abs)
}

// dirRevision hashes the names, sizes, modes and modification times of the
// files under dir (not their content), so an unchanged directory is not
// read again. Symbolic links are hashed by their target.
func dirRevision(dir string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00%o\x00%d\x00", rel, info.Size(), info.Mode(), info.ModTime().UnixNano())
		if d.Type()&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			fmt.Fprintf(h, "%s\x00", target)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return "dir:" + hex.EncodeToString(h.Sum(nil))[:16], nil
}

// contentRevision names served bytes by their hash.
func contentRevision(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])[:16]
}

// dirFS opens dir as an os.Root (symlinks cannot leave it) and calls fn.
func dirFS(dir string, fn func(fs.FS) error) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return errs.Permanent(fmt.Errorf("directory %s: %s", dir, pathReason(err)))
	}
	defer root.Close()
	return fn(root.FS())
}

// subFS returns the sub-tree p of fsys ("" = fsys), checking it is a
// directory.
func subFS(fsys fs.FS, p string) (fs.FS, error) {
	p = strings.Trim(p, "/")
	if p == "" || p == "." {
		return fsys, nil
	}
	p = path.Clean(p)
	st, err := fs.Stat(fsys, p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errs.Permanent(fmt.Errorf("path %q does not exist", p))
		}
		return nil, errs.Permanent(fmt.Errorf("path %q: %v", p, pathReason(err)))
	}
	if !st.IsDir() {
		return nil, errs.Permanent(fmt.Errorf("path %q is not a directory", p))
	}
	return fs.Sub(fsys, p)
}

// pathReason drops the path of an *fs.PathError.
func pathReason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// shortRev shortens a revision for messages.
func shortRev(rev string) string {
	if git.IsCommitRef(rev) {
		return rev[:12]
	}
	return rev
}
