package git

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	gogit "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	gitserver "github.com/go-git/go-git/v5/plumbing/transport/server"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/universe-operator/universe-operator/errs"
)

// DefaultTimeout bounds one Sync or Resolve when neither the Remote nor
// the Options give a timeout.
const DefaultTimeout = 60 * time.Second

// Options configures a Client.
type Options struct {
	// CacheDir holds one directory per (URL, ref). Required.
	CacheDir string
	// Timeout is the default per-operation timeout (default 60s).
	Timeout time.Duration
	// Logger receives progress with fields; never secrets. Nil = silent.
	Logger logrus.FieldLogger
	// Registerer, when set, receives the client's metrics.
	Registerer prometheus.Registerer
	// Worktrees makes Sync also write the commit's files to
	// <cache>/trees/<commit> and set Checkout.Dir, for command-line tools
	// that need a directory. It costs one file creation per file for every
	// new commit; the controller reads through Read instead.
	Worktrees bool
}

// Remote is a repository at a ref.
type Remote struct {
	// URL is the clone URL (no credentials in it).
	URL string
	// Ref is a branch, tag, full ref or 40-hex commit; "" = remote HEAD.
	Ref string
	// Auth holds the credentials' locations.
	Auth Auth
	// CAFile is an extra PEM bundle trusted for HTTPS.
	CAFile string
	// InsecureSkipVerify turns TLS verification off.
	InsecureSkipVerify bool
	// Timeout bounds the whole operation (0 = the client's default).
	Timeout time.Duration
}

// Auth says where credentials are; secrets are read at each operation, so
// rotated files are picked up, and never logged.
type Auth struct {
	// Username is the HTTPS basic user, or the SSH user.
	Username string
	// PasswordFile and PasswordEnv hold the HTTPS basic password.
	PasswordFile, PasswordEnv string
	// TokenFile and TokenEnv hold an HTTPS access token (basic auth password).
	TokenFile, TokenEnv string
	// SSHKeyFile and SSHKeyEnv hold an SSH private key.
	SSHKeyFile, SSHKeyEnv string
	// SSHKeyPassphraseFile and SSHKeyPassphraseEnv hold the key's passphrase.
	SSHKeyPassphraseFile, SSHKeyPassphraseEnv string
	// KnownHostsFile is checked for the SSH host key.
	KnownHostsFile string
}

// Checkout is the result of a Sync.
type Checkout struct {
	// URL and Ref are what was asked.
	URL, Ref string
	// FullRef is the resolved ref name ("" for a commit ref).
	FullRef string
	// Commit is the resolved commit, 40 hex.
	Commit string
	// Dir is the commit's files on disk (the whole repository), only with
	// Options.Worktrees; "" otherwise. Symbolic links in it are kept as
	// stored: read it through os.Root to stay inside.
	Dir string
	// Fetched is true when objects were transferred by this call.
	Fetched bool
	// Duration is how long the call took.
	Duration time.Duration
}

// Client syncs remotes into its cache. It is safe for concurrent use.
type Client struct {
	opts    Options
	log     logrus.FieldLogger
	metrics *metrics

	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// New creates a Client; the cache directory is created when missing.
func New(opts Options) (*Client, error) {
	if opts.CacheDir == "" {
		return nil, errors.New("git: a cache directory is required")
	}
	if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("git cache directory %s: %w", opts.CacheDir, err)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	c := &Client{opts: opts, log: opts.Logger, locks: map[string]*sync.Mutex{}}
	if c.log == nil {
		l := logrus.New()
		l.SetOutput(discard{})
		c.log = l
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	c.metrics = m
	return c, nil
}

// The file:// transport of go-git runs the git binary (git-upload-pack);
// serve local repositories in process instead, so no git binary is needed
// at run time. That server cannot do shallow fetches: local repositories
// are fetched in full (see isLocal).
func init() {
	client.InstallProtocol("file", gitserver.NewClient(workTreeLoader{}))
}

// workTreeLoader serves a local repository in process: a bare repository
// at the path, or the .git directory of a work tree at the path, as the git
// binary does (go-git's own loader only opens bare repositories and calls
// a work tree "empty").
type workTreeLoader struct{}

// Load opens the repository an endpoint names.
func (workTreeLoader) Load(ep *transport.Endpoint) (storer.Storer, error) {
	if fi, err := os.Stat(filepath.Join(ep.Path, ".git")); err == nil && fi.IsDir() {
		inner := *ep
		inner.Path = filepath.Join(ep.Path, ".git")
		return gitserver.DefaultLoader.Load(&inner)
	}
	return gitserver.DefaultLoader.Load(ep)
}

// isLocal reports whether a URL is served by the in-process file transport.
func isLocal(u string) bool {
	ep, err := transport.NewEndpoint(u)
	return err == nil && ep.Protocol == "file"
}

// discard is an io.Writer that drops everything.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

var commitRE = regexp.MustCompile(`^[0-9a-fA-F]{40}$`)

// IsCommitRef reports whether ref is a full 40-hex commit id.
func IsCommitRef(ref string) bool { return commitRE.MatchString(ref) }

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// CacheDirFor returns the cache directory of a (URL, ref) pair: a readable
// prefix plus a hash of both, so names are safe and unique.
func (c *Client) CacheDirFor(r Remote) string {
	sum := sha256.Sum256([]byte(r.URL + "\x00" + r.Ref))
	label := RedactURL(r.URL)
	if i := strings.Index(label, "://"); i >= 0 {
		label = label[i+3:]
	}
	label = strings.Trim(unsafeChars.ReplaceAllString(label+"_"+r.Ref, "_"), "_.")
	if len(label) > 60 {
		label = label[len(label)-60:]
	}
	return filepath.Join(c.opts.CacheDir, label+"-"+hex.EncodeToString(sum[:6]))
}

// RedactURL removes a password from a URL's user info, for messages.
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return u
	}
	if _, ok := p.User.Password(); ok {
		p.User = url.UserPassword(p.User.Username(), "REDACTED")
	}
	return p.String()
}

// lock serialises work on one cache directory within the process.
func (c *Client) lock(dir string) func() {
	c.mu.Lock()
	m, ok := c.locks[dir]
	if !ok {
		m = &sync.Mutex{}
		c.locks[dir] = m
	}
	c.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// timeout returns the operation's timeout.
func (c *Client) timeout(r Remote) time.Duration {
	if r.Timeout > 0 {
		return r.Timeout
	}
	return c.opts.Timeout
}

// describe names a remote in messages: URL (redacted) and ref.
func describe(r Remote) string {
	ref := r.Ref
	if ref == "" {
		ref = "HEAD"
	}
	return fmt.Sprintf("%s (ref %s)", RedactURL(r.URL), ref)
}

// Sync brings the cache up to date with the remote's ref and returns the
// resolved commit and its exported tree. When the ref still points at the
// cached commit, it costs one ref listing and transfers no objects.
func (c *Client) Sync(ctx context.Context, r Remote) (co *Checkout, err error) {
	start := time.Now()
	if r.URL == "" {
		return nil, errs.Permanent(errors.New("git: no URL given"))
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout(r))
	defer cancel()
	dir := c.CacheDirFor(r)
	unlock := c.lock(dir)
	defer unlock()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("git cache %s: %w", dir, err)
	}
	release, err := flock(ctx, filepath.Join(dir, ".lock"))
	if err != nil {
		return nil, c.classify(ctx, r, "lock", err)
	}
	defer release()

	repo, err := c.openRepo(dir, r.URL)
	if err != nil {
		return nil, err
	}
	auth, err := authMethod(r, c.timeout(r))
	if err != nil {
		return nil, err
	}
	ca, err := readCA(r.CAFile)
	if err != nil {
		return nil, err
	}
	tr := transportOpts{auth: auth, ca: ca, insecure: r.InsecureSkipVerify}
	log := c.log.WithFields(logrus.Fields{"url": RedactURL(r.URL), "ref": r.Ref})

	co = &Checkout{URL: r.URL, Ref: r.Ref}
	var commit plumbing.Hash
	if IsCommitRef(r.Ref) {
		commit = plumbing.NewHash(strings.ToLower(r.Ref))
		if _, err := repo.CommitObject(commit); err != nil {
			log.Info("fetching pinned commit")
			if err := c.fetchCommit(ctx, repo, r, tr, commit); err != nil {
				return nil, err
			}
			co.Fetched = true
		}
	} else {
		fullRef, remoteHash, err := c.resolve(ctx, repo, r, tr)
		if err != nil {
			return nil, err
		}
		co.FullRef = fullRef.String()
		local, lerr := repo.Storer.Reference(fullRef)
		have := lerr == nil && local.Hash() == remoteHash && hasObject(repo, remoteHash)
		if !have {
			log.WithField("commit", remoteHash.String()).Info("fetching new commit")
			if repo, err = c.fetchRef(ctx, repo, dir, r, tr, fullRef); err != nil {
				return nil, err
			}
			co.Fetched = true
		}
		local, err = repo.Storer.Reference(fullRef)
		if err != nil {
			return nil, errs.Transient(fmt.Errorf("git %s: fetched ref %s is missing locally: %w", describe(r), fullRef, err))
		}
		commit, err = peel(repo, local.Hash())
		if err != nil {
			return nil, errs.Permanent(fmt.Errorf("git %s: %w", describe(r), err))
		}
	}
	co.Commit = commit.String()
	if c.opts.Worktrees {
		if co.Dir, err = export(repo, dir, commit); err != nil {
			return nil, fmt.Errorf("git %s: write the files of %s: %w", describe(r), commit, err)
		}
	}
	co.Duration = time.Since(start)
	return co, nil
}

// Read calls fn with a read-only file system over the tree of commit (a
// commit returned by Sync for the same remote), read straight from the
// cache's object store. The cache is locked while fn runs, so a concurrent
// Sync of the same remote waits; fn must not call Sync or Read for it.
func (c *Client) Read(ctx context.Context, r Remote, commit string, fn func(fsys fs.FS) error) error {
	if !IsCommitRef(commit) {
		return errs.Permanent(fmt.Errorf("git %s: %q is not a commit id", describe(r), commit))
	}
	dir := c.CacheDirFor(r)
	unlock := c.lock(dir)
	defer unlock()
	release, err := flock(ctx, filepath.Join(dir, ".lock"))
	if err != nil {
		return c.classify(ctx, r, "lock", err)
	}
	defer release()
	// Keep pack files open while reading: opening the pack for every
	// object is most of the cost otherwise.
	repoDir := filepath.Join(dir, "repo")
	if _, err := os.Stat(filepath.Join(repoDir, "objects")); err != nil {
		return errs.Transient(fmt.Errorf("git %s: the cache holds no repository: sync first", describe(r)))
	}
	st := filesystem.NewStorageWithOptions(osfs.New(repoDir), cache.NewObjectLRUDefault(), filesystem.Options{KeepDescriptors: true})
	defer st.Close()
	repo, err := gogit.Open(st, nil)
	if err != nil {
		return errs.Transient(fmt.Errorf("git %s: the cache holds no repository: sync first", describe(r)))
	}
	co, err := repo.CommitObject(plumbing.NewHash(strings.ToLower(commit)))
	if err != nil {
		return errs.Transient(fmt.Errorf("git %s: commit %s is not in the cache (it was replaced): sync again", describe(r), commit))
	}
	return fn(newTreeFS(repo.Storer, co.TreeHash))
}

// Resolve lists the remote's refs and returns the commit the ref points to
// (peeled for annotated tags) and the full ref name. A commit ref is
// returned as is without any network access.
func (c *Client) Resolve(ctx context.Context, r Remote) (commit, fullRef string, err error) {
	if IsCommitRef(r.Ref) {
		return strings.ToLower(r.Ref), "", nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout(r))
	defer cancel()
	auth, err := authMethod(r, c.timeout(r))
	if err != nil {
		return "", "", err
	}
	ca, err := readCA(r.CAFile)
	if err != nil {
		return "", "", err
	}
	refs, err := c.listRefs(ctx, r, transportOpts{auth: auth, ca: ca, insecure: r.InsecureSkipVerify})
	if err != nil {
		return "", "", err
	}
	name, hash, peeled, err := pickRef(refs, r)
	if err != nil {
		return "", "", err
	}
	if !peeled.IsZero() {
		hash = peeled
	}
	return hash.String(), name.String(), nil
}

// openRepo opens the bare repository in dir/repo, creating it (with remote
// "origin" = url) when missing or unreadable.
func (c *Client) openRepo(dir, rawURL string) (*gogit.Repository, error) {
	path := filepath.Join(dir, "repo")
	repo, err := gogit.PlainOpen(path)
	if err == nil {
		if rem, rerr := repo.Remote("origin"); rerr == nil && len(rem.Config().URLs) > 0 && rem.Config().URLs[0] == rawURL {
			return repo, nil
		}
	}
	if err != nil && !errors.Is(err, gogit.ErrRepositoryNotExists) {
		c.log.WithField("dir", path).Warnf("git cache unreadable, recreating: %v", err)
	}
	return c.resetRepo(dir, rawURL)
}

// resetRepo replaces dir/repo with an empty bare repository whose remote
// "origin" is url. Exported trees are kept.
func (c *Client) resetRepo(dir, rawURL string) (*gogit.Repository, error) {
	path := filepath.Join(dir, "repo")
	if err := os.RemoveAll(path); err != nil {
		return nil, fmt.Errorf("git cache %s: %w", path, err)
	}
	repo, err := gogit.PlainInit(path, true)
	if err != nil {
		return nil, fmt.Errorf("git cache %s: %w", path, err)
	}
	if _, err := repo.CreateRemote(&gitconfig.RemoteConfig{Name: "origin", URLs: []string{rawURL}}); err != nil {
		return nil, fmt.Errorf("git cache %s: %w", path, err)
	}
	return repo, nil
}

// hasObject reports whether the object is in the repository.
func hasObject(repo *gogit.Repository, h plumbing.Hash) bool {
	return repo.Storer.HasEncodedObject(h) == nil
}

// peel follows annotated tags to the commit.
func peel(repo *gogit.Repository, h plumbing.Hash) (plumbing.Hash, error) {
	for range 10 {
		obj, err := repo.Storer.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("object %s: %w", h, err)
		}
		switch obj.Type() {
		case plumbing.CommitObject:
			return h, nil
		case plumbing.TagObject:
			tag, err := object.DecodeTag(repo.Storer, obj)
			if err != nil {
				return plumbing.ZeroHash, fmt.Errorf("tag %s: %w", h, err)
			}
			h = tag.Target
		default:
			return plumbing.ZeroHash, fmt.Errorf("ref points at a %s, not a commit", obj.Type())
		}
	}
	return plumbing.ZeroHash, errors.New("tag chain too long")
}

// transportOpts are the per-call transport settings.
type transportOpts struct {
	auth     transport.AuthMethod
	ca       []byte
	insecure bool
}

// listRefs runs the ref advertisement (ls-remote).
func (c *Client) listRefs(ctx context.Context, r Remote, tr transportOpts) ([]*plumbing.Reference, error) {
	rem := gogit.NewRemote(nil, &gitconfig.RemoteConfig{Name: "origin", URLs: []string{r.URL}})
	start := time.Now()
	refs, err := rem.ListContext(ctx, &gogit.ListOptions{
		Auth: tr.auth, CABundle: tr.ca, InsecureSkipTLS: tr.insecure, PeelingOption: gogit.AppendPeeled,
	})
	c.metrics.observe("ls-remote", err, time.Since(start))
	if err != nil {
		return nil, c.classify(ctx, r, "list refs of", err)
	}
	return refs, nil
}

// resolve lists the remote refs and picks r.Ref.
func (c *Client) resolve(ctx context.Context, _ *gogit.Repository, r Remote, tr transportOpts) (plumbing.ReferenceName, plumbing.Hash, error) {
	refs, err := c.listRefs(ctx, r, tr)
	if err != nil {
		return "", plumbing.ZeroHash, err
	}
	name, hash, _, err := pickRef(refs, r)
	return name, hash, err
}

// pickRef finds r.Ref among advertised refs the way git does: refs/<ref>,
// refs/tags/<ref>, refs/heads/<ref>; "" = HEAD's branch. It returns the ref
// name, the advertised hash (a tag object for annotated tags) and the
// peeled commit when advertised.
func pickRef(refs []*plumbing.Reference, r Remote) (plumbing.ReferenceName, plumbing.Hash, plumbing.Hash, error) {
	byName := map[plumbing.ReferenceName]*plumbing.Reference{}
	for _, ref := range refs {
		byName[ref.Name()] = ref
	}
	var candidates []plumbing.ReferenceName
	switch {
	case r.Ref == "" || r.Ref == "HEAD":
		head, ok := byName[plumbing.HEAD]
		if !ok {
			if len(refs) == 0 {
				return "", plumbing.ZeroHash, plumbing.ZeroHash, errs.Permanent(fmt.Errorf("git %s: ref not found: the repository has no branches or tags", describe(r)))
			}
			return "", plumbing.ZeroHash, plumbing.ZeroHash, errs.Permanent(fmt.Errorf("git %s: the remote advertises no HEAD: set a ref", describe(r)))
		}
		if head.Type() == plumbing.SymbolicReference {
			candidates = []plumbing.ReferenceName{head.Target()}
		} else {
			// No symref capability: find the branch HEAD points at.
			for _, pref := range []plumbing.ReferenceName{"refs/heads/main", "refs/heads/master"} {
				if b, ok := byName[pref]; ok && b.Hash() == head.Hash() {
					candidates = []plumbing.ReferenceName{pref}
				}
			}
			if candidates == nil {
				for _, ref := range refs {
					if ref.Name().IsBranch() && ref.Hash() == head.Hash() {
						candidates = []plumbing.ReferenceName{ref.Name()}
						break
					}
				}
			}
		}
	case strings.HasPrefix(r.Ref, "refs/"):
		candidates = []plumbing.ReferenceName{plumbing.ReferenceName(r.Ref)}
	default:
		candidates = []plumbing.ReferenceName{
			plumbing.ReferenceName("refs/" + r.Ref),
			plumbing.NewTagReferenceName(r.Ref),
			plumbing.NewBranchReferenceName(r.Ref),
		}
	}
	for _, n := range candidates {
		ref, ok := byName[n]
		if !ok || ref.Type() != plumbing.HashReference {
			continue
		}
		var peeled plumbing.Hash
		if p, ok := byName[plumbing.ReferenceName(n.String()+"^{}")]; ok {
			peeled = p.Hash()
		}
		return n, ref.Hash(), peeled, nil
	}
	why := "was the branch or tag deleted or renamed?"
	if len(refs) == 0 {
		why = "the repository has no branches or tags"
	}
	return "", plumbing.ZeroHash, plumbing.ZeroHash, errs.Permanent(fmt.Errorf(
		"git %s: ref not found on the remote (%s)", describe(r), why))
}

// fetchRef fetches one ref, force-updating the local copy. The first fetch
// is shallow (depth 1: the tip's tree only). Later fetches are plain
// incremental fetches that announce the commit we have, so the server sends
// only objects that are new since it. When the new tip's tree is then still
// incomplete (history was rewritten, or a commit brought back content the
// shallow cache never had), the cache is dropped and the tip is fetched
// shallow again: correct in every case, and only the unusual case pays for
// a whole tree.
func (c *Client) fetchRef(ctx context.Context, repo *gogit.Repository, dir string, r Remote, tr transportOpts, ref plumbing.ReferenceName) (*gogit.Repository, error) {
	specs := []gitconfig.RefSpec{gitconfig.RefSpec("+" + ref.String() + ":" + ref.String())}
	if tooManyPacks(dir) {
		c.log.WithFields(logrus.Fields{"url": RedactURL(r.URL), "ref": r.Ref}).Info("git cache holds many packs: cloning afresh")
		var err error
		if repo, err = c.resetRepo(dir, r.URL); err != nil {
			return nil, err
		}
	}
	depth := 0
	if _, err := repo.Storer.Reference(ref); err != nil && !isLocal(r.URL) {
		depth = 1
	}
	if err := c.fetch(ctx, repo, r, tr, specs, depth); err != nil {
		return repo, err
	}
	if depth == 0 {
		if local, err := repo.Storer.Reference(ref); err == nil {
			if commit, err := peel(repo, local.Hash()); err == nil && treeComplete(repo, commit) {
				return repo, nil
			}
		}
		c.log.WithFields(logrus.Fields{"url": RedactURL(r.URL), "ref": r.Ref}).
			Info("new commit needs objects older than the cached one (rewritten history or restored content): fetching its tree afresh")
		var err error
		if repo, err = c.resetRepo(dir, r.URL); err != nil {
			return nil, err
		}
		if err := c.fetch(ctx, repo, r, tr, specs, depthFor(r.URL)); err != nil {
			return repo, err
		}
	}
	return repo, nil
}

// depthFor is the depth of a fresh fetch: 1, or 0 (full) for local
// repositories, whose in-process server cannot do shallow fetches.
func depthFor(u string) int {
	if isLocal(u) {
		return 0
	}
	return 1
}

// treeComplete reports whether every object of commit's tree is present.
func treeComplete(repo *gogit.Repository, commit plumbing.Hash) bool {
	co, err := repo.CommitObject(commit)
	if err != nil {
		return false
	}
	tree, err := co.Tree()
	if err != nil {
		return false
	}
	w := object.NewTreeWalker(tree, true, nil)
	defer w.Close()
	for {
		_, e, err := w.Next()
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
		if e.Mode == filemode.Submodule {
			continue
		}
		if !hasObject(repo, e.Hash) {
			return false
		}
	}
}

// fetchCommit fetches a pinned commit: by exact id when the server allows
// it, else every branch and tag.
func (c *Client) fetchCommit(ctx context.Context, repo *gogit.Repository, r Remote, tr transportOpts, commit plumbing.Hash) error {
	exact := gitconfig.RefSpec(commit.String() + ":refs/pinned/" + commit.String())
	depth := 1
	if isLocal(r.URL) {
		depth = 0
	}
	err := c.fetch(ctx, repo, r, tr, []gitconfig.RefSpec{exact}, depth)
	if err == nil && hasObject(repo, commit) {
		return nil
	}
	if err != nil && errs.IsPermanent(err) {
		// Credentials or a missing repository: the full fetch would fail too.
		return err
	}
	all := []gitconfig.RefSpec{"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"}
	if err := c.fetch(ctx, repo, r, tr, all, 0); err != nil {
		return err
	}
	if !hasObject(repo, commit) {
		return errs.Permanent(fmt.Errorf("git %s: commit not found in any branch or tag of the remote", describe(r)))
	}
	if _, err := repo.CommitObject(commit); err != nil {
		return errs.Permanent(fmt.Errorf("git %s: %s is not a commit: %w", describe(r), commit, err))
	}
	return nil
}

// fetch runs one fetch; "already up to date" is success.
func (c *Client) fetch(ctx context.Context, repo *gogit.Repository, r Remote, tr transportOpts, specs []gitconfig.RefSpec, depth int) error {
	start := time.Now()
	err := repo.FetchContext(ctx, &gogit.FetchOptions{
		RemoteName:      "origin",
		RefSpecs:        specs,
		Depth:           depth,
		Auth:            tr.auth,
		Tags:            gogit.NoTags,
		Force:           true,
		CABundle:        tr.ca,
		InsecureSkipTLS: tr.insecure,
	})
	if errors.Is(err, gogit.NoErrAlreadyUpToDate) {
		err = nil
	}
	c.metrics.observe("fetch", err, time.Since(start))
	if err != nil {
		return c.classify(ctx, r, "fetch", err)
	}
	return nil
}

// classify turns a library error into a classified, secret-free error.
func (c *Client) classify(ctx context.Context, r Remote, op string, err error) error {
	what := fmt.Sprintf("git %s %s", op, describe(r))
	authGiven := r.Auth != (Auth{})
	msg := err.Error()
	switch {
	case ctx.Err() == context.DeadlineExceeded || errors.Is(err, context.DeadlineExceeded):
		return errs.Transient(fmt.Errorf("%s: timed out after %s", what, c.timeout(r)))
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: %w", what, context.Canceled)
	case errors.Is(err, transport.ErrAuthenticationRequired) && authGiven:
		return errs.Permanent(fmt.Errorf("%s: authentication failed: the server refused the configured credentials (check auth.username and the password or token file/variable)", what))
	case errors.Is(err, transport.ErrAuthenticationRequired):
		return errs.Permanent(fmt.Errorf("%s: authentication required: configure auth with password_file/password_env or token_file/token_env", what))
	case errors.Is(err, transport.ErrAuthorizationFailed):
		return errs.Permanent(fmt.Errorf("%s: access denied: the credentials are not allowed to read this repository", what))
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return errs.Permanent(fmt.Errorf("%s: repository not found", what))
	case errors.Is(err, transport.ErrEmptyRemoteRepository):
		return errs.Permanent(fmt.Errorf("%s: the repository is empty", what))
	case strings.Contains(msg, "knownhosts: key mismatch"):
		return errs.Permanent(fmt.Errorf("%s: SSH host key does not match known_hosts: refusing to connect (possible man-in-the-middle, or the host key changed)", what))
	case strings.Contains(msg, "knownhosts: key is unknown"):
		return errs.Permanent(fmt.Errorf("%s: SSH host key is not in known_hosts: add it to auth.known_hosts_file", what))
	case strings.Contains(msg, "unable to authenticate"):
		return errs.Permanent(fmt.Errorf("%s: SSH authentication failed: the server refused the configured key", what))
	case strings.Contains(msg, "repository not found") || strings.Contains(msg, "does not appear to be a git repository"):
		return errs.Permanent(fmt.Errorf("%s: repository not found", what))
	}
	return errs.Transient(fmt.Errorf("%s: %s", what, scrub(msg, r)))
}

// scrub removes anything secret-looking from a library message: the URL's
// password (none should be there) is replaced.
func scrub(msg string, r Remote) string {
	if p, err := url.Parse(r.URL); err == nil && p.User != nil {
		if pw, ok := p.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "REDACTED")
		}
	}
	return msg
}
