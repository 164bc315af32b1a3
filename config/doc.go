// Package config loads the controller configuration file (YAML or JSON, the
// format of docs/product.md) strictly: every unknown key is an error naming
// the key and its path (`universes[1].git.auth.tokn: unknown key (did you
// mean "token_file"?)`), every problem in the file is reported at once
// (errors.Join of *Problem, one line each: "FILE: PATH: REASON"), and secrets
// are never accepted inline (`auth.token: inline secrets are not allowed: use
// token_file or token_env`; credentials in URLs are refused too).
//
// Exported API:
//
//	func Load(path string) (*Config, error)               // read, decode strictly, default, derive, validate
//	func Parse(file string, data []byte) (*Config, error) // the same from bytes (file names messages, its dir is the base of relative paths)
//	type Problem struct{ File, Path, Reason string }      // Error(): "FILE: PATH: REASON"
//
//	type Config struct {
//		DCOSURL            string          // dcos_url
//		Auth               *Auth           // auth: default for every cluster endpoint
//		CAFile             string          // ca_file
//		InsecureSkipVerify bool            // insecure_skip_verify (adds a Warning)
//		Marathon, Mesos, SDK Endpoint      // marathon (url = comma-separated HA list), mesos, sdk
//		ZooKeeper          *ZooKeeper      // zookeeper: {servers, path, session_timeout}
//		Universes          []UniverseSource
//		Releases           ReleaseSource
//		Interval, ProgressDeadline, StuckDeploymentAfter strict.Duration
//		Listen, StateDir, CacheDir, DCOSVersion, LogLevel string
//		Prune              *bool           // use PruneEnabled()
//		PruneMaxFraction   float64
//		PruneAllowEmpty    bool
//		Workers, HistoryLimit int
//		Webhook            *Webhook        // {secret_file|secret_env}
//		UI                 *UI             // {token_file|token_env}
//		File               string          // the file it was loaded from (not a key)
//		Warnings           []string        // dangerous but allowed settings (not a key)
//	}
//	func (c *Config) PruneEnabled() bool
//	func (c *Config) UniverseByName(name string) *UniverseSource
//	func (c *Config) SDKServiceURL(name string) string   // <sdk base>/<name>, "" without one
//	func (c *Config) CheckSecrets() []error             // every secret file/variable exists and is not empty
//	func (c *Config) CheckGitSecrets(path string, g *GitSource) []error
//
//	type Endpoint struct {
//		URL                string   // as written
//		Auth               *Auth    // resolved: its own, else the top-level auth
//		CAFile             string   // resolved likewise
//		InsecureSkipVerify bool     // resolved likewise
//		URLs               []string // resolved: the explicit list, or derived from dcos_url
//		LoginURL           string   // resolved service-account login URL
//	}
//	func (e *Endpoint) Configured() bool
//	func (e *Endpoint) DCOSAuth() (dcosauth.Config, error) // reads the key/password now; a token file is re-read by dcosauth
//
//	type Auth struct {
//		TokenFile, TokenEnv string
//		ServiceAccount      *ServiceAccount // {uid, private_key_file|private_key_env, login_url}
//		Basic               *BasicAuth      // {username, password_file|password_env}
//	}
//	type UniverseSource struct{ Name string; Git *GitSource; Dir, URL, File string } // exactly one of git/dir/url/file
//	type ReleaseSource struct{ Git *GitSource; Dir string }                          // exactly one of git/dir
//	type GitSource struct {
//		URL, Ref, Path     string
//		Auth               *GitAuth
//		CAFile             string
//		InsecureSkipVerify bool
//		Timeout            strict.Duration
//	}
//	type GitAuth struct {
//		Username                                       string
//		PasswordFile, PasswordEnv, TokenFile, TokenEnv string
//		SSHKeyFile, SSHKeyEnv                          string
//		SSHKeyPassphraseFile, SSHKeyPassphraseEnv      string
//		KnownHostsFile                                 string
//	}
//	type ZooKeeper struct{ Servers []string; Path string; SessionTimeout strict.Duration }
//	type Webhook struct{ SecretFile, SecretEnv string }
//	func (w *Webhook) Secret() ([]byte, error)
//	type UI struct{ TokenFile, TokenEnv string }
//	func (u *UI) Token() (string, error)
//	func ReadSecret(file, env string) ([]byte, error) // file wins; surrounding white space trimmed; errors never hold the value
//
// Endpoint derivation (explicit urls always win): with dcos_url D, Marathon is
// D/service/marathon, Mesos D/mesos, SDK schedulers D/service/<name>, and the
// service-account login D/acs/api/v1/auth/login. An endpoint without its own
// auth/ca_file inherits the top-level ones; insecure_skip_verify is on for an
// endpoint when set at the top or on the endpoint.
//
// Relative paths (dir, file, ca_file, *_file, state_dir, cache_dir) are
// relative to the configuration file's directory.
//
// Defaults: interval 60s, progress_deadline 10m, listen 127.0.0.1:8080,
// state_dir /var/lib/universe-operator, cache_dir <state_dir>/cache, prune
// true, prune_max_fraction 0.5, prune_allow_empty false, workers 4,
// history_limit 10, zookeeper.path /universe-operator,
// zookeeper.session_timeout 8s, git timeout 60s, stuck_deployment_after 0
// (never force a stuck deployment), log_level info.
//
// The strict decoder behind this package (subpackage config/strict) is also
// used by package manifest.
package config
