// Package git reads Git repositories with github.com/go-git/go-git/v5 (pure
// Go: no git binary at run time) into a local cache, cheaply enough to poll.
//
// One cache directory per (URL, ref) pair holds a bare repository. Nothing
// is checked out: Read hands the caller a read-only fs.FS (TreeFS) over a
// commit's tree, read straight from the object store. Symbolic links in it
// are followed only while they stay inside the tree.
//
// A Sync first lists the remote's refs (one ref advertisement, like `git
// ls-remote`). When the ref still points at the commit already in the cache
// nothing else is transferred. Otherwise it fetches just that ref: the first
// time shallow (depth 1: the tip's tree only), later as a plain incremental
// fetch announcing the commit it has, so a new commit transfers only the new
// objects. If the new tip then still lacks objects (history rewritten by a
// force-push, or a commit restoring content older than the cached commit),
// the cache is dropped and the tip fetched shallow again. Fetches
// force-update the local ref. A ref that no longer exists on the remote (a
// deleted branch) is an error; the cache is kept. A full 40-hex commit ref is
// fetched once (by exact id when the server allows it, else all branches
// and tags) and never asked for again.
//
// Exported API:
//
//	type Options struct {
//		CacheDir   string                // required
//		Timeout    time.Duration         // default per operation when Remote.Timeout is 0 (60s)
//		Logger     logrus.FieldLogger    // optional; never receives secrets
//		Registerer prometheus.Registerer // optional: request counters and latencies
//		Worktrees  bool                  // also write <cache>/trees/<commit> and set Checkout.Dir (CLI tools)
//	}
//	func New(opts Options) (*Client, error)
//
//	type Remote struct {
//		URL                string        // https://, http://, ssh://, user@host:path, git://, file://
//		Ref                string        // branch, tag, refs/..., 40-hex commit; "" = the remote's HEAD
//		Auth               Auth
//		CAFile             string        // extra CA bundle for HTTPS
//		InsecureSkipVerify bool
//		Timeout            time.Duration // whole operation
//	}
//	type Auth struct {
//		Username                                  string // HTTPS basic user / SSH user (default: from URL, else "git")
//		PasswordFile, PasswordEnv                 string // HTTPS basic password
//		TokenFile, TokenEnv                       string // HTTPS token, sent as basic auth password
//		SSHKeyFile, SSHKeyEnv                     string // SSH private key (PEM/OpenSSH)
//		SSHKeyPassphraseFile, SSHKeyPassphraseEnv string
//		KnownHostsFile                            string // SSH known_hosts (default: $SSH_KNOWN_HOSTS, ~/.ssh/known_hosts, /etc/ssh/ssh_known_hosts)
//	}
//
//	type Checkout struct {
//		URL, Ref string     // what was asked
//		FullRef  string     // refs/heads/main, refs/tags/v1, or "" for a commit ref
//		Commit   string     // the resolved commit (40 hex)
//		Dir      string     // the commit's files on disk, only with Options.Worktrees
//		Fetched  bool       // objects were transferred for this call
//		Duration time.Duration
//	}
//	func (c *Client) Sync(ctx context.Context, r Remote) (*Checkout, error)
//	func (c *Client) Read(ctx context.Context, r Remote, commit string, fn func(fsys fs.FS) error) error
//	var ErrSymlinkEscapes error // in *fs.PathError from TreeFS
//	func (c *Client) Resolve(ctx context.Context, r Remote) (commit, fullRef string, err error) // ls-remote only
//	func (c *Client) CacheDirFor(r Remote) string
//	func IsCommitRef(ref string) bool
//	func RedactURL(u string) string // drops any userinfo password, for messages
//
// Errors are classified with package errs: authentication and authorization
// failures, unknown host keys, missing repositories and missing refs are
// errs.Permanent (a human must act; polling still retries them), network
// failures and timeouts errs.Transient. Messages name the URL (without
// credentials) and the ref and never contain a secret.
//
// Concurrency: calls for the same (URL, ref) are serialised (an in-process
// mutex plus an flock on the cache directory, so two processes sharing a
// state directory are safe too); different repositories proceed in parallel.
package git
