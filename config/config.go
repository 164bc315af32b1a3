package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/universe-operator/universe-operator/config/strict"
)

// Config is the controller configuration. Every field below is a key of
// the configuration file (its name in the json tag); Load fills defaults
// and derived values.
type Config struct {
	// DCOSURL is the cluster's base URL through Admin Router, e.g.
	// https://dcos.example.com. When set, Marathon is <dcos_url>/service/marathon,
	// Mesos <dcos_url>/mesos, SDK schedulers <dcos_url>/service/<name> and the
	// service-account login <dcos_url>/acs/api/v1/auth/login, unless an
	// endpoint names its own url.
	DCOSURL string `json:"dcos_url,omitempty"`
	// Auth is the cluster authentication every endpoint uses unless it has
	// its own auth block.
	Auth *Auth `json:"auth,omitempty"`
	// CAFile is a PEM bundle trusted for the cluster's TLS (added to the
	// system pool), inherited by endpoints without their own ca_file.
	CAFile string `json:"ca_file,omitempty"`
	// InsecureSkipVerify turns TLS verification off for the cluster
	// endpoints. Never in production: it is reported as a warning.
	InsecureSkipVerify bool `json:"insecure_skip_verify,omitempty"`
	// Marathon is the Marathon endpoint; url may be a comma-separated list
	// of Marathon instances for HA failover.
	Marathon Endpoint `json:"marathon"`
	// Mesos is the Mesos master endpoint (framework teardown, janitor).
	Mesos Endpoint `json:"mesos"`
	// SDK is the base URL under which SDK schedulers answer, as
	// <url>/<service name>/v1/plans/... (default <dcos_url>/service).
	SDK Endpoint `json:"sdk"`
	// ZooKeeper enables leader election and janitor node deletion.
	ZooKeeper *ZooKeeper `json:"zookeeper,omitempty"`
	// Universes are the package sources, first = highest priority.
	Universes []UniverseSource `json:"universes"`
	// Releases says where the release manifests live.
	Releases ReleaseSource `json:"releases"`
	// Interval is the poll period of the sources and the full resync
	// period of the releases (default 60s); webhooks make it immediate.
	Interval strict.Duration `json:"interval"`
	// ProgressDeadline is how long a rollout may take to become Healthy
	// before it is rolled back (default 10m); releases may override it.
	ProgressDeadline strict.Duration `json:"progress_deadline"`
	// StuckDeploymentAfter, when non-zero, lets the controller force past a
	// deployment of the release's own app that has been in flight longer
	// than this; 0 (default) means never force, always wait.
	StuckDeploymentAfter strict.Duration `json:"stuck_deployment_after"`
	// Listen is the address of the UI, JSON API, /metrics, /healthz and the
	// webhook (default 127.0.0.1:8080).
	Listen string `json:"listen"`
	// StateDir holds history and pending cleanups when there is no
	// ZooKeeper (default /var/lib/universe-operator).
	StateDir string `json:"state_dir"`
	// CacheDir holds the Git clones (default <state_dir>/cache).
	CacheDir string `json:"cache_dir"`
	// Prune deletes releases removed from Git (default true).
	Prune *bool `json:"prune,omitempty"`
	// PruneMaxFraction is the largest fraction of the known releases one
	// pass may prune (default 0.5); more is refused and reported.
	PruneMaxFraction float64 `json:"prune_max_fraction"`
	// PruneAllowEmpty allows pruning every release when the release set
	// becomes empty (default false: an empty set is treated as a mistake).
	PruneAllowEmpty bool `json:"prune_allow_empty"`
	// Workers is the number of releases reconciled in parallel (default 4).
	Workers int `json:"workers"`
	// HistoryLimit is how many deployed definitions are kept per release
	// (default 10).
	HistoryLimit int `json:"history_limit"`
	// Webhook holds the shared secret of POST /api/v1/webhook/git; without
	// it the webhook is disabled.
	Webhook *Webhook `json:"webhook,omitempty"`
	// UI holds the token that guards the UI's sync and rollback buttons (and
	// the POST endpoints); without it they are read-only.
	UI *UI `json:"ui,omitempty"`
	// DCOSVersion is the cluster's DC/OS version, used to skip package
	// revisions whose minDcosReleaseVersion is higher ("" = do not filter).
	DCOSVersion string `json:"dcos_version,omitempty"`
	// LogLevel is one of debug, info (default), warn, error.
	LogLevel string `json:"log_level"`

	// File is the path the configuration was loaded from (not a key).
	File string `json:"-"`
	// Warnings are things that are allowed but dangerous (not a key).
	Warnings []string `json:"-"`
}

// Endpoint is one cluster API endpoint.
type Endpoint struct {
	// URL is the endpoint's base URL; for Marathon a comma-separated list of
	// instances (HA failover). Empty = derived from dcos_url.
	URL string `json:"url,omitempty"`
	// Auth overrides the top-level auth for this endpoint.
	Auth *Auth `json:"auth,omitempty"`
	// CAFile overrides the top-level ca_file for this endpoint.
	CAFile string `json:"ca_file,omitempty"`
	// InsecureSkipVerify turns TLS verification off for this endpoint.
	InsecureSkipVerify bool `json:"insecure_skip_verify,omitempty"`

	// URLs are the resolved base URLs, without trailing slash (not a key).
	URLs []string `json:"-"`
	// LoginURL is the resolved service-account login URL (not a key).
	LoginURL string `json:"-"`
}

// Auth is how the controller authenticates to the cluster: exactly one of a
// static token, a service account or basic credentials. Secrets come from
// files or environment variables only.
type Auth struct {
	// TokenFile is a file holding a DC/OS authentication token (re-read after a 401).
	TokenFile string `json:"token_file,omitempty"`
	// TokenEnv is an environment variable holding the token.
	TokenEnv string `json:"token_env,omitempty"`
	// ServiceAccount logs in as a DC/OS service account.
	ServiceAccount *ServiceAccount `json:"service_account,omitempty"`
	// Basic sends HTTP basic credentials (Marathon --http_credentials).
	Basic *BasicAuth `json:"basic,omitempty"`
}

// ServiceAccount is a DC/OS service account (RS256 JWT login).
type ServiceAccount struct {
	// UID is the account's user id.
	UID string `json:"uid"`
	// PrivateKeyFile is a PEM file holding the account's RSA private key.
	PrivateKeyFile string `json:"private_key_file,omitempty"`
	// PrivateKeyEnv is an environment variable holding the PEM key.
	PrivateKeyEnv string `json:"private_key_env,omitempty"`
	// LoginURL overrides <dcos_url>/acs/api/v1/auth/login.
	LoginURL string `json:"login_url,omitempty"`
}

// BasicAuth is HTTP basic credentials.
type BasicAuth struct {
	// Username is the user name (not a secret).
	Username string `json:"username"`
	// PasswordFile is a file holding the password.
	PasswordFile string `json:"password_file,omitempty"`
	// PasswordEnv is an environment variable holding the password.
	PasswordEnv string `json:"password_env,omitempty"`
}

// ZooKeeper configures leader election and janitor node deletion.
type ZooKeeper struct {
	// Servers are host:port pairs (port 2181 when omitted).
	Servers []string `json:"servers"`
	// Path is the controller's root node (default /universe-operator).
	Path string `json:"path"`
	// SessionTimeout is the ZooKeeper session timeout (default 8s: a dead
	// leader is replaced about one session timeout later, and the issue asks
	// for under 15 s with margin for a slow server).
	SessionTimeout strict.Duration `json:"session_timeout"`
}

// UniverseSource is one package source: exactly one of git, dir, url, file.
type UniverseSource struct {
	// Name identifies the source (releases pin it with spec.universe).
	Name string `json:"name"`
	// Git is a Git repository holding a packages tree at git.path.
	Git *GitSource `json:"git,omitempty"`
	// Dir is a packages directory on disk.
	Dir string `json:"dir,omitempty"`
	// URL serves the Universe JSON form (repo-up-to-X.json).
	URL string `json:"url,omitempty"`
	// File holds the Universe JSON form.
	File string `json:"file,omitempty"`
}

// ReleaseSource is where the manifests live: exactly one of git, dir.
type ReleaseSource struct {
	// Git is a Git repository; manifests are under git.path and optionsFile
	// paths are relative to the repository root.
	Git *GitSource `json:"git,omitempty"`
	// Dir is a directory of manifests (also the root for optionsFile).
	Dir string `json:"dir,omitempty"`
}

// GitSource is a path in a Git repository at a ref.
type GitSource struct {
	// URL is the clone URL: https://, http://, ssh://, git://, file:// or
	// scp-like user@host:path. No credentials in it.
	URL string `json:"url"`
	// Ref is a branch, a tag, a full ref (refs/heads/x) or a 40-hex commit;
	// empty = the remote's default branch.
	Ref string `json:"ref,omitempty"`
	// Path is a directory inside the repository ("" = its root).
	Path string `json:"path,omitempty"`
	// Auth holds credentials for HTTPS or SSH.
	Auth *GitAuth `json:"auth,omitempty"`
	// CAFile is an extra PEM bundle trusted for HTTPS.
	CAFile string `json:"ca_file,omitempty"`
	// InsecureSkipVerify turns TLS verification off (reported as a warning).
	InsecureSkipVerify bool `json:"insecure_skip_verify,omitempty"`
	// Timeout bounds one check or fetch (default 60s).
	Timeout strict.Duration `json:"timeout"`
}

// GitAuth is Git credentials, from files or environment variables.
type GitAuth struct {
	// Username is the HTTPS user (default "git" with a token) or SSH user
	// (default: from the URL, else "git").
	Username string `json:"username,omitempty"`
	// PasswordFile is a file holding the HTTPS password.
	PasswordFile string `json:"password_file,omitempty"`
	// PasswordEnv is an environment variable holding the HTTPS password.
	PasswordEnv string `json:"password_env,omitempty"`
	// TokenFile is a file holding an access token (sent as the basic auth
	// password, which GitHub, GitLab and Gitea accept).
	TokenFile string `json:"token_file,omitempty"`
	// TokenEnv is an environment variable holding the token.
	TokenEnv string `json:"token_env,omitempty"`
	// SSHKeyFile is a file holding an SSH private key.
	SSHKeyFile string `json:"ssh_key_file,omitempty"`
	// SSHKeyEnv is an environment variable holding an SSH private key.
	SSHKeyEnv string `json:"ssh_key_env,omitempty"`
	// SSHKeyPassphraseFile is a file holding the key's passphrase.
	SSHKeyPassphraseFile string `json:"ssh_key_passphrase_file,omitempty"`
	// SSHKeyPassphraseEnv is an environment variable holding the passphrase.
	SSHKeyPassphraseEnv string `json:"ssh_key_passphrase_env,omitempty"`
	// KnownHostsFile is the known_hosts file the SSH host key is checked
	// against (default: $SSH_KNOWN_HOSTS, ~/.ssh/known_hosts,
	// /etc/ssh/ssh_known_hosts). Host keys are always checked.
	KnownHostsFile string `json:"known_hosts_file,omitempty"`
}

// Webhook is the webhook's shared secret.
type Webhook struct {
	// SecretFile is a file holding the shared secret.
	SecretFile string `json:"secret_file,omitempty"`
	// SecretEnv is an environment variable holding the shared secret.
	SecretEnv string `json:"secret_env,omitempty"`
}

// UI is the token guarding the UI's write actions.
type UI struct {
	// TokenFile is a file holding the token.
	TokenFile string `json:"token_file,omitempty"`
	// TokenEnv is an environment variable holding the token.
	TokenEnv string `json:"token_env,omitempty"`
}

// Defaults.
const (
	DefaultInterval         = 60 * time.Second
	DefaultProgressDeadline = 10 * time.Minute
	DefaultListen           = "127.0.0.1:8080"
	DefaultStateDir         = "/var/lib/universe-operator"
	DefaultPruneMaxFraction = 0.5
	DefaultWorkers          = 4
	DefaultHistoryLimit     = 10
	DefaultZooKeeperPath    = "/universe-operator"
	DefaultZooKeeperSession = 8 * time.Second // = clients/zookeeper.DefaultSessionTimeout: keeps HA takeover under 15 s
	DefaultGitTimeout       = 60 * time.Second
	DefaultLogLevel         = "info"
)

// Problem is one thing wrong with a configuration file.
type Problem struct {
	// File is the configuration file.
	File string
	// Path is the key path, e.g. universes[0].git.url ("" = the file).
	Path string
	// Reason says what is wrong.
	Reason string
}

// Error returns "FILE: PATH: REASON".
func (p *Problem) Error() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Reason)
	return b.String()
}

// maxConfigSize bounds the configuration file.
const maxConfigSize = 4 << 20

// Load reads, decodes, defaults and validates the configuration file. The
// error, when not nil, joins one *Problem per problem found.
func Load(file string) (*Config, error) {
	st, err := os.Stat(file)
	if err != nil {
		return nil, &Problem{File: file, Reason: "cannot read: " + pathErrReason(err)}
	}
	if st.Size() > maxConfigSize {
		return nil, &Problem{File: file, Reason: fmt.Sprintf("larger than %d bytes", maxConfigSize)}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, &Problem{File: file, Reason: "cannot read: " + pathErrReason(err)}
	}
	return Parse(file, data)
}

// pathErrReason words an *os.PathError without repeating the path.
func pathErrReason(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// Parse decodes configuration bytes; file names the messages and is the
// base for relative paths (its directory). The format is YAML unless the
// file name ends in .json or the data starts with '{'.
func Parse(file string, data []byte) (*Config, error) {
	format := ""
	if strings.HasSuffix(strings.ToLower(file), ".json") {
		format = "json"
	}
	var c Config
	if ps := strict.Decode(data, &c, strict.Options{Format: format, UnknownKey: inlineSecretHint}); len(ps) > 0 {
		errs := make([]error, len(ps))
		for i, p := range ps {
			errs[i] = &Problem{File: file, Path: p.Path, Reason: p.Reason}
		}
		return nil, errors.Join(errs...)
	}
	c.File = file
	v := &validator{file: file, base: filepath.Dir(file)}
	c.resolve(v)
	if len(v.problems) > 0 {
		return nil, errors.Join(v.problems...)
	}
	return &c, nil
}

// inlineSecretHint explains unknown keys that look like inline secrets.
func inlineSecretHint(_ string, key string) string {
	switch strings.ToLower(key) {
	case "token":
		return "inline secrets are not allowed: use token_file or token_env"
	case "password":
		return "inline secrets are not allowed: use password_file or password_env"
	case "private_key", "privatekey", "key":
		return "inline secrets are not allowed: use private_key_file or private_key_env"
	case "secret":
		return "inline secrets are not allowed: use secret_file or secret_env"
	case "ssh_key", "sshkey":
		return "inline secrets are not allowed: use ssh_key_file or ssh_key_env"
	case "passphrase", "ssh_key_passphrase":
		return "inline secrets are not allowed: use ssh_key_passphrase_file or ssh_key_passphrase_env"
	}
	return ""
}

// validator collects problems.
type validator struct {
	file     string
	base     string // directory relative paths are resolved against
	problems []error
}

func (v *validator) add(path, format string, args ...any) {
	v.problems = append(v.problems, &Problem{File: v.file, Path: path, Reason: fmt.Sprintf(format, args...)})
}

// localPath makes a relative path relative to the configuration file's
// directory.
func (v *validator) localPath(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(v.base, p)
}

var (
	// nameRE is the rule for universe source names: a DNS label.
	nameRE      = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	envRE       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	dcosVerRE   = regexp.MustCompile(`^[0-9]+(\.[0-9]+)*$`)
	scpLikeRE   = regexp.MustCompile(`^(?:[A-Za-z0-9._~-]+@)?[A-Za-z0-9.-]+:.+$`)
	logLevels   = map[string]bool{"debug": true, "info": true, "warn": true, "warning": true, "error": true}
	hexCommitRE = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// resolve applies defaults, derives endpoints, makes paths absolute and
// validates everything.
func (c *Config) resolve(v *validator) {
	// Plain scalars and defaults.
	if c.Interval.Duration == 0 {
		c.Interval.Duration = DefaultInterval
	} else if c.Interval.Duration < time.Second {
		v.add("interval", "must be at least 1s, not %s", c.Interval.Duration)
	}
	if c.ProgressDeadline.Duration == 0 {
		c.ProgressDeadline.Duration = DefaultProgressDeadline
	} else if c.ProgressDeadline.Duration < time.Second {
		v.add("progress_deadline", "must be at least 1s, not %s", c.ProgressDeadline.Duration)
	}
	if c.StuckDeploymentAfter.Duration < 0 {
		v.add("stuck_deployment_after", "must not be negative")
	}
	if c.Listen == "" {
		c.Listen = DefaultListen
	} else if _, port, err := net.SplitHostPort(c.Listen); err != nil {
		v.add("listen", "must be host:port (for example 127.0.0.1:8080 or :8080): %v", splitErr(err))
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.add("listen", "port %q is not a number between 0 and 65535", port)
	}
	if c.StateDir == "" {
		c.StateDir = DefaultStateDir
	}
	c.StateDir = v.localPath(c.StateDir)
	if c.CacheDir == "" {
		c.CacheDir = filepath.Join(c.StateDir, "cache")
	}
	c.CacheDir = v.localPath(c.CacheDir)
	if c.Prune == nil {
		t := true
		c.Prune = &t
	}
	if c.PruneMaxFraction == 0 {
		c.PruneMaxFraction = DefaultPruneMaxFraction
	} else if c.PruneMaxFraction < 0 || c.PruneMaxFraction > 1 {
		v.add("prune_max_fraction", "must be greater than 0 and at most 1, not %g", c.PruneMaxFraction)
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	} else if c.Workers < 1 || c.Workers > 256 {
		v.add("workers", "must be between 1 and 256, not %d", c.Workers)
	}
	if c.HistoryLimit == 0 {
		c.HistoryLimit = DefaultHistoryLimit
	} else if c.HistoryLimit < 1 || c.HistoryLimit > 1000 {
		v.add("history_limit", "must be between 1 and 1000, not %d", c.HistoryLimit)
	}
	if c.LogLevel == "" {
		c.LogLevel = DefaultLogLevel
	} else if !logLevels[c.LogLevel] {
		v.add("log_level", "must be one of debug, info, warn, error, not %q", c.LogLevel)
	}
	if c.DCOSVersion != "" && !dcosVerRE.MatchString(c.DCOSVersion) {
		v.add("dcos_version", "must be a numeric version such as 2.2 or 1.13.9, not %q", c.DCOSVersion)
	}

	// Cluster endpoints.
	if c.DCOSURL != "" {
		if u, ok := v.httpURL("dcos_url", c.DCOSURL); ok {
			c.DCOSURL = u
		}
	}
	c.CAFile = v.localPath(c.CAFile)
	if c.Auth != nil {
		v.auth("auth", c.Auth)
	}
	if c.InsecureSkipVerify {
		c.Warnings = append(c.Warnings, "insecure_skip_verify is true: TLS certificates of the cluster are NOT verified")
	}
	c.endpoint(v, "marathon", &c.Marathon, "/service/marathon", true, true)
	c.endpoint(v, "mesos", &c.Mesos, "/mesos", false, false)
	c.endpoint(v, "sdk", &c.SDK, "/service", false, false)

	if c.ZooKeeper != nil {
		z := c.ZooKeeper
		if len(z.Servers) == 0 {
			v.add("zookeeper.servers", "at least one host:port is required")
		}
		for i, s := range z.Servers {
			p := strict.Index("zookeeper.servers", i)
			host, port, err := net.SplitHostPort(s)
			if err != nil {
				host, port = s, "2181"
				z.Servers[i] = net.JoinHostPort(s, "2181")
			}
			if n, err := strconv.Atoi(port); host == "" || strings.ContainsAny(host, "/ ") || err != nil || n <= 0 || n > 65535 {
				v.add(p, "must be host:port, not %q", s)
			}
		}
		if z.Path == "" {
			z.Path = DefaultZooKeeperPath
		} else if !strings.HasPrefix(z.Path, "/") || (len(z.Path) > 1 && strings.HasSuffix(z.Path, "/")) ||
			strings.Contains(z.Path, "//") || path.Clean(z.Path) != z.Path {
			v.add("zookeeper.path", "must be an absolute ZooKeeper path such as /universe-operator, not %q", z.Path)
		}
		if z.SessionTimeout.Duration == 0 {
			z.SessionTimeout.Duration = DefaultZooKeeperSession
		} else if z.SessionTimeout.Duration < time.Second {
			v.add("zookeeper.session_timeout", "must be at least 1s")
		}
	}

	// Sources.
	if len(c.Universes) == 0 {
		v.add("universes", "at least one universe source is required")
	}
	seen := map[string]int{}
	for i := range c.Universes {
		u := &c.Universes[i]
		p := strict.Index("universes", i)
		switch {
		case u.Name == "":
			v.add(p+".name", "required")
		case !nameRE.MatchString(u.Name) || len(u.Name) > 63:
			v.add(p+".name", "%q is not a valid name: use 1-63 lower-case letters, digits and '-', starting and ending with a letter or digit", u.Name)
		default:
			if j, dup := seen[u.Name]; dup {
				v.add(p+".name", "duplicate universe name %q (also universes[%d])", u.Name, j)
			} else {
				seen[u.Name] = i
			}
		}
		n := 0
		if u.Git != nil {
			n++
			c.gitSource(v, p+".git", u.Git)
		}
		if u.Dir != "" {
			n++
			u.Dir = v.localPath(u.Dir)
		}
		if u.URL != "" {
			n++
			if s, ok := v.httpURL(p+".url", u.URL); ok {
				u.URL = s
			}
		}
		if u.File != "" {
			n++
			u.File = v.localPath(u.File)
		}
		if n != 1 {
			v.add(p, "exactly one of git, dir, url, file is required (found %d)", n)
		}
	}
	switch {
	case c.Releases.Git != nil && c.Releases.Dir != "":
		v.add("releases", "exactly one of git, dir is required (found 2)")
	case c.Releases.Git != nil:
		c.gitSource(v, "releases.git", c.Releases.Git)
	case c.Releases.Dir != "":
		c.Releases.Dir = v.localPath(c.Releases.Dir)
	default:
		v.add("releases", "required: git or dir")
	}

	if c.Webhook != nil {
		v.secretPair("webhook", "secret", c.Webhook.SecretFile, c.Webhook.SecretEnv, true)
		c.Webhook.SecretFile = v.localPath(c.Webhook.SecretFile)
	}
	if c.UI != nil {
		v.secretPair("ui", "token", c.UI.TokenFile, c.UI.TokenEnv, true)
		c.UI.TokenFile = v.localPath(c.UI.TokenFile)
	}
}

// splitErr words a net.SplitHostPort error without repeating the input.
func splitErr(err error) string {
	var ae *net.AddrError
	if errors.As(err, &ae) {
		return ae.Err
	}
	return err.Error()
}

// endpoint resolves one cluster endpoint.
func (c *Config) endpoint(v *validator, name string, e *Endpoint, suffix string, list, required bool) {
	if e.URL != "" {
		parts := []string{e.URL}
		if list {
			parts = strings.Split(e.URL, ",")
		} else if strings.Contains(e.URL, ",") {
			v.add(name+".url", "must be one URL (a comma-separated list is only supported for marathon)")
			parts = nil
		}
		for _, part := range parts {
			part = strings.TrimSpace(part)
			if part == "" {
				v.add(name+".url", "empty entry in the URL list")
				continue
			}
			if u, ok := v.httpURL(name+".url", part); ok {
				e.URLs = append(e.URLs, u)
			}
		}
	} else if c.DCOSURL != "" {
		e.URLs = []string{c.DCOSURL + suffix}
	} else if required {
		v.add(name+".url", "required when dcos_url is not set")
	}
	if e.Auth != nil {
		v.auth(name+".auth", e.Auth)
	} else {
		e.Auth = c.Auth
	}
	if e.CAFile == "" {
		e.CAFile = c.CAFile
	} else {
		e.CAFile = v.localPath(e.CAFile)
	}
	if e.InsecureSkipVerify && !c.InsecureSkipVerify {
		c.Warnings = append(c.Warnings, name+".insecure_skip_verify is true: TLS certificates of "+name+" are NOT verified")
	}
	e.InsecureSkipVerify = e.InsecureSkipVerify || c.InsecureSkipVerify
	if e.Auth != nil && e.Auth.ServiceAccount != nil {
		switch {
		case e.Auth.ServiceAccount.LoginURL != "":
			e.LoginURL = e.Auth.ServiceAccount.LoginURL
		case c.DCOSURL != "":
			e.LoginURL = c.DCOSURL + "/acs/api/v1/auth/login"
		case len(e.URLs) > 0:
			v.add(name+".auth.service_account.login_url", "required when dcos_url is not set")
		}
	}
}

// httpURL checks an absolute http(s) URL without credentials, query or
// fragment and returns it without a trailing slash.
func (v *validator) httpURL(p, s string) (string, bool) {
	u, err := url.Parse(s)
	if err != nil {
		v.add(p, "not a valid URL: %v", urlErr(err, s))
		return "", false
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		v.add(p, "must be an http:// or https:// URL, not %q", redactURL(s))
		return "", false
	}
	if u.Host == "" {
		v.add(p, "URL has no host")
		return "", false
	}
	if u.User != nil {
		v.add(p, "credentials in the URL are not allowed: use an auth block with files or environment variables")
		return "", false
	}
	if u.RawQuery != "" || u.Fragment != "" {
		v.add(p, "URL must not have a query or fragment")
		return "", false
	}
	return strings.TrimRight(s, "/"), true
}

// urlErr words a url.Parse error without repeating the input (which might
// hold a secret).
func urlErr(err error, raw string) string {
	var ue *url.Error
	if errors.As(err, &ue) && !strings.Contains(raw, "@") {
		return ue.Err.Error()
	}
	// The parser's message may quote part of the user info: say less.
	return "malformed (check the scheme, host and port; credentials do not belong in URLs)"
}

// redactURL drops user info from a URL for messages.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		u.User = url.User("REDACTED")
		return u.String()
	}
	return s
}

// auth validates a cluster auth block and resolves its paths.
func (v *validator) auth(p string, a *Auth) {
	n := 0
	if a.TokenFile != "" || a.TokenEnv != "" {
		n++
		v.secretPair(p, "token", a.TokenFile, a.TokenEnv, true)
		a.TokenFile = v.localPath(a.TokenFile)
	}
	if sa := a.ServiceAccount; sa != nil {
		n++
		sp := p + ".service_account"
		if sa.UID == "" {
			v.add(sp+".uid", "required")
		}
		v.secretPair(sp, "private_key", sa.PrivateKeyFile, sa.PrivateKeyEnv, true)
		sa.PrivateKeyFile = v.localPath(sa.PrivateKeyFile)
		if sa.LoginURL != "" {
			if u, ok := v.httpURL(sp+".login_url", sa.LoginURL); ok {
				sa.LoginURL = u
			}
		}
	}
	if b := a.Basic; b != nil {
		n++
		bp := p + ".basic"
		if b.Username == "" {
			v.add(bp+".username", "required")
		}
		v.secretPair(bp, "password", b.PasswordFile, b.PasswordEnv, true)
		b.PasswordFile = v.localPath(b.PasswordFile)
	}
	if n != 1 {
		v.add(p, "exactly one of token_file/token_env, service_account, basic is required (found %d)", n)
	}
}

// secretPair checks a <name>_file / <name>_env pair: at most one (exactly
// one when required), and a valid variable name.
func (v *validator) secretPair(p, name, file, env string, required bool) {
	switch {
	case file != "" && env != "":
		v.add(p, "set only one of %s_file and %s_env", name, name)
	case file == "" && env == "" && required:
		v.add(p, "%s_file or %s_env is required", name, name)
	case env != "" && !envRE.MatchString(env):
		v.add(p+"."+name+"_env", "%q is not an environment variable name", env)
	}
}

// gitSource validates a Git source.
func (c *Config) gitSource(v *validator, p string, g *GitSource) {
	kind := ""
	switch {
	case g.URL == "":
		v.add(p+".url", "required")
	default:
		var err error
		kind, err = gitURLKind(g.URL)
		if err != nil {
			v.add(p+".url", "%v", err)
		}
	}
	if g.Ref != "" {
		if err := checkRef(g.Ref); err != nil {
			v.add(p+".ref", "%v", err)
		}
	}
	if g.Path != "" {
		clean := path.Clean(strings.TrimSuffix(g.Path, "/"))
		switch {
		case strings.HasPrefix(g.Path, "/"):
			v.add(p+".path", "must be relative to the repository root, not absolute")
		case clean == ".." || strings.HasPrefix(clean, "../") || hasDotDot(g.Path):
			v.add(p+".path", "must stay inside the repository (no '..')")
		case strings.Contains(g.Path, "\\"):
			v.add(p+".path", "use '/' as the separator")
		default:
			if clean == "." {
				clean = ""
			}
			g.Path = clean
		}
	}
	if g.Timeout.Duration == 0 {
		g.Timeout.Duration = DefaultGitTimeout
	} else if g.Timeout.Duration < time.Second {
		v.add(p+".timeout", "must be at least 1s")
	}
	g.CAFile = v.localPath(g.CAFile)
	if g.InsecureSkipVerify {
		c.Warnings = append(c.Warnings, p+".insecure_skip_verify is true: TLS certificates of "+redactURL(g.URL)+" are NOT verified")
	}
	if a := g.Auth; a != nil {
		ap := p + ".auth"
		pw := 0
		for _, s := range []string{a.PasswordFile, a.PasswordEnv, a.TokenFile, a.TokenEnv} {
			if s != "" {
				pw++
			}
		}
		if pw > 1 {
			v.add(ap, "set only one of password_file, password_env, token_file, token_env")
		}
		for _, e := range []struct{ key, val string }{
			{"password_env", a.PasswordEnv}, {"token_env", a.TokenEnv}, {"ssh_key_env", a.SSHKeyEnv},
			{"ssh_key_passphrase_env", a.SSHKeyPassphraseEnv},
		} {
			if e.val != "" && !envRE.MatchString(e.val) {
				v.add(ap+"."+e.key, "%q is not an environment variable name", e.val)
			}
		}
		if a.SSHKeyFile != "" && a.SSHKeyEnv != "" {
			v.add(ap, "set only one of ssh_key_file and ssh_key_env")
		}
		if a.SSHKeyPassphraseFile != "" && a.SSHKeyPassphraseEnv != "" {
			v.add(ap, "set only one of ssh_key_passphrase_file and ssh_key_passphrase_env")
		}
		hasSSH := a.SSHKeyFile != "" || a.SSHKeyEnv != "" || a.KnownHostsFile != "" ||
			a.SSHKeyPassphraseFile != "" || a.SSHKeyPassphraseEnv != ""
		switch kind {
		case "ssh":
			if pw > 0 {
				v.add(ap, "password/token credentials do not apply to an SSH URL: use ssh_key_file or ssh_key_env")
			}
		case "http":
			if hasSSH {
				v.add(ap, "ssh_key_*/known_hosts_file do not apply to an HTTP(S) URL")
			}
			if pw == 0 && a.Username != "" {
				v.add(ap, "username without password_file, password_env, token_file or token_env")
			}
		case "git", "file":
			if pw > 0 || hasSSH {
				v.add(ap, "%s:// URLs take no credentials", kind)
			}
		}
		for _, f := range []*string{&a.PasswordFile, &a.TokenFile, &a.SSHKeyFile, &a.SSHKeyPassphraseFile, &a.KnownHostsFile} {
			*f = v.localPath(*f)
		}
	}
	if kind == "http" && strings.HasPrefix(g.URL, "http://") && g.Auth != nil {
		c.Warnings = append(c.Warnings, p+": credentials are sent over plain http:// to "+redactURL(g.URL))
	}
}

// hasDotDot reports whether a slash path has a ".." element.
func hasDotDot(p string) bool {
	for _, e := range strings.Split(p, "/") {
		if e == ".." {
			return true
		}
	}
	return false
}

// gitURLKind classifies a Git URL as http, ssh, git or file and rejects
// credentials in it.
func gitURLKind(s string) (string, error) {
	if strings.ContainsAny(s, " \t\r\n") {
		return "", errors.New("URL must not contain white space")
	}
	if !strings.Contains(s, "://") {
		if scpLikeRE.MatchString(s) {
			// user@host:path; a password cannot be expressed here.
			return "ssh", nil
		}
		return "", fmt.Errorf("%q is not a Git URL: use https://, http://, ssh://, git://, file:// or user@host:path", s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("not a valid URL: %s", urlErr(err, s))
	}
	if _, hasPW := u.User.Password(); hasPW {
		return "", errors.New("credentials in the URL are not allowed: use auth.password_file, auth.password_env, auth.token_file or auth.token_env")
	}
	switch u.Scheme {
	case "https", "http":
		if u.User != nil {
			return "", errors.New("user names in an http(s) URL are not allowed: use auth.username")
		}
		if u.Host == "" {
			return "", errors.New("URL has no host")
		}
		return "http", nil
	case "ssh", "git+ssh", "ssh+git":
		if u.Host == "" {
			return "", errors.New("URL has no host")
		}
		return "ssh", nil
	case "git":
		if u.Host == "" {
			return "", errors.New("URL has no host")
		}
		return "git", nil
	case "file":
		return "file", nil
	}
	return "", fmt.Errorf("unsupported URL scheme %q: use https, http, ssh, git or file", u.Scheme)
}

// checkRef checks that a ref is a branch, tag, full ref or commit name git
// would accept.
func checkRef(ref string) error {
	if hexCommitRE.MatchString(ref) {
		return nil
	}
	bad := func(why string) error { return fmt.Errorf("%q is not a valid ref: %s", ref, why) }
	switch {
	case strings.HasPrefix(ref, "-"):
		return bad("it starts with '-'")
	case strings.HasPrefix(ref, "/") || strings.HasSuffix(ref, "/") || strings.Contains(ref, "//"):
		return bad("empty path component")
	case strings.Contains(ref, ".."):
		return bad("it contains '..'")
	case strings.HasSuffix(ref, ".lock") || strings.HasSuffix(ref, "."):
		return bad("it ends with '.lock' or '.'")
	case strings.Contains(ref, "@{"):
		return bad("it contains '@{'")
	case ref == "@":
		return bad("'@' alone")
	}
	for _, r := range ref {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(" ~^:?*[\\", r) {
			return bad(fmt.Sprintf("it contains %q", r))
		}
	}
	for _, e := range strings.Split(ref, "/") {
		if strings.HasPrefix(e, ".") {
			return bad("a component starts with '.'")
		}
	}
	return nil
}

// PruneEnabled reports whether releases removed from Git are deleted.
func (c *Config) PruneEnabled() bool { return c.Prune == nil || *c.Prune }

// UniverseByName returns the universe source of that name, or nil.
func (c *Config) UniverseByName(name string) *UniverseSource {
	for i := range c.Universes {
		if c.Universes[i].Name == name {
			return &c.Universes[i]
		}
	}
	return nil
}

// SDKServiceURL returns the base URL of the SDK scheduler of a service
// (its name may contain '/', e.g. prod/kafka), or "" when there is no SDK
// endpoint.
func (c *Config) SDKServiceURL(name string) string {
	if len(c.SDK.URLs) == 0 {
		return ""
	}
	return c.SDK.URLs[0] + "/" + strings.Trim(name, "/")
}

// Configured reports whether the endpoint has at least one URL.
func (e *Endpoint) Configured() bool { return len(e.URLs) > 0 }
