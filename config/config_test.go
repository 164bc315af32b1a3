package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// minimal is the smallest valid configuration.
const minimal = `
dcos_url: https://dcos.example.com
universes:
  - name: universe
    dir: /srv/universe/repo/packages
releases:
  dir: /srv/releases
`

func TestDefaultsAndDerivedEndpoints(t *testing.T) {
	c, err := Parse("/etc/uo/config.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"interval", c.Interval.Duration, 60 * time.Second},
		{"progress_deadline", c.ProgressDeadline.Duration, 10 * time.Minute},
		{"listen", c.Listen, "127.0.0.1:8080"},
		{"state_dir", c.StateDir, "/var/lib/universe-operator"},
		{"cache_dir", c.CacheDir, "/var/lib/universe-operator/cache"},
		{"prune", c.PruneEnabled(), true},
		{"prune_max_fraction", c.PruneMaxFraction, 0.5},
		{"prune_allow_empty", c.PruneAllowEmpty, false},
		{"workers", c.Workers, 4},
		{"history_limit", c.HistoryLimit, 10},
		{"log_level", c.LogLevel, "info"},
		{"marathon", strings.Join(c.Marathon.URLs, ","), "https://dcos.example.com/service/marathon"},
		{"mesos", strings.Join(c.Mesos.URLs, ","), "https://dcos.example.com/mesos"},
		{"sdk", c.SDKServiceURL("prod/kafka"), "https://dcos.example.com/service/prod/kafka"},
		{"stuck_deployment_after", c.StuckDeploymentAfter.Duration, time.Duration(0)},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestFullConfigAsInProductDoc(t *testing.T) {
	dir := t.TempDir()
	cfg := `
dcos_url: https://dcos.example.com/
auth:
  service_account: {uid: universe-operator, private_key_file: keys/sa.pem}
ca_file: ca.pem
marathon:
  url: http://m1.mesos:8080, http://m2.mesos:8080
  auth: {token_file: /run/secrets/token}
mesos:
  url: http://leader.mesos:5050
zookeeper:
  servers: [master.mesos:2181, zk2]
  path: /universe-operator
universes:
  - name: universe
    git: {url: https://github.com/example/universe.git, ref: main, path: repo/packages/, auth: {username: bot, token_env: GIT_TOKEN}}
  - name: local
    dir: universe/packages
  - name: served
    url: https://universe.example.com/repo
releases:
  git: {url: "git@github.com:example/releases.git", ref: main, path: releases/, auth: {ssh_key_file: id_ed25519, known_hosts_file: known_hosts}}
interval: 30s
progress_deadline: 5m
listen: 0.0.0.0:8080
state_dir: state
prune: false
prune_max_fraction: 0.25
prune_allow_empty: true
workers: 8
history_limit: 20
webhook: {secret_env: WEBHOOK_SECRET}
ui: {token_file: ui-token}
dcos_version: "2.2"
log_level: debug
`
	file := filepath.Join(dir, "config.yaml")
	c, err := Parse(file, []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Marathon.URLs; len(got) != 2 || got[0] != "http://m1.mesos:8080" || got[1] != "http://m2.mesos:8080" {
		t.Errorf("marathon urls = %v", got)
	}
	if c.Marathon.Auth.TokenFile != "/run/secrets/token" || c.Marathon.LoginURL != "" {
		t.Errorf("marathon auth = %+v login %q", c.Marathon.Auth, c.Marathon.LoginURL)
	}
	if c.Mesos.Auth == nil || c.Mesos.Auth.ServiceAccount == nil || c.Mesos.LoginURL != "https://dcos.example.com/acs/api/v1/auth/login" {
		t.Errorf("mesos inherits auth: %+v %q", c.Mesos.Auth, c.Mesos.LoginURL)
	}
	if c.Auth.ServiceAccount.PrivateKeyFile != filepath.Join(dir, "keys/sa.pem") || c.Mesos.CAFile != filepath.Join(dir, "ca.pem") {
		t.Errorf("relative paths not resolved: %q %q", c.Auth.ServiceAccount.PrivateKeyFile, c.Mesos.CAFile)
	}
	if c.ZooKeeper.Servers[1] != "zk2:2181" || c.ZooKeeper.SessionTimeout.Duration != DefaultZooKeeperSession {
		t.Errorf("zookeeper = %+v", c.ZooKeeper)
	}
	if g := c.Universes[0].Git; g.Path != "repo/packages" || g.Timeout.Duration != DefaultGitTimeout || g.Auth.TokenEnv != "GIT_TOKEN" {
		t.Errorf("universe git = %+v", g)
	}
	if c.Universes[1].Dir != filepath.Join(dir, "universe/packages") || c.UniverseByName("served").URL != "https://universe.example.com/repo" {
		t.Errorf("universes = %+v", c.Universes)
	}
	if c.Releases.Git.Auth.SSHKeyFile != filepath.Join(dir, "id_ed25519") || c.Releases.Git.Path != "releases" {
		t.Errorf("releases = %+v", c.Releases.Git)
	}
	if c.PruneEnabled() || c.PruneMaxFraction != 0.25 || !c.PruneAllowEmpty || c.Workers != 8 || c.HistoryLimit != 20 {
		t.Errorf("prune/workers: %+v", c)
	}
	if c.StateDir != filepath.Join(dir, "state") || c.CacheDir != filepath.Join(dir, "state", "cache") {
		t.Errorf("state %q cache %q", c.StateDir, c.CacheDir)
	}
	if c.Interval.Duration != 30*time.Second || c.ProgressDeadline.Duration != 5*time.Minute {
		t.Errorf("durations %v %v", c.Interval, c.ProgressDeadline)
	}
	if c.DCOSURL != "https://dcos.example.com" {
		t.Errorf("dcos_url = %q", c.DCOSURL)
	}

	// The same as JSON.
	js := `{"marathon": {"url": "http://marathon.mesos:8080"}, "universes": [{"name": "u", "dir": "/u"}],
	        "releases": {"dir": "/r"}}`
	cj, err := Parse(filepath.Join(dir, "c.json"), []byte(js))
	if err != nil {
		t.Fatal(err)
	}
	if cj.Marathon.URLs[0] != "http://marathon.mesos:8080" || cj.Mesos.Configured() || cj.SDKServiceURL("x") != "" {
		t.Errorf("json config: %+v", cj)
	}
}

func TestWarnings(t *testing.T) {
	c, err := Parse("c.yaml", []byte(minimal+"insecure_skip_verify: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) == 0 || !strings.Contains(c.Warnings[0], "NOT verified") || !c.Marathon.InsecureSkipVerify {
		t.Fatalf("warnings = %v", c.Warnings)
	}
}

// TestErrors: every problem names the file, the key path and the reason.
func TestErrors(t *testing.T) {
	base := func(extra string) string { return minimal + extra }
	cases := []struct {
		name, doc string
		want      []string // each must appear in the error
	}{
		{"unknown top-level key", base("intervall: 5s\n"), []string{"c.yaml: intervall: unknown key", `did you mean "interval"`}},
		{"unknown nested key", base("zookeeper: {servers: [a:1], pth: /x}\n"), []string{"zookeeper.pth: unknown key"}},
		{"unknown key in list", `universes: [{name: u, dir: /u, gti: {}}]
releases: {dir: /r}
marathon: {url: "http://m:8080"}`, []string{"universes[0].gti: unknown key"}},
		{"inline token", base("auth: {token: abc123}\n"), []string{"auth.token: inline secrets are not allowed: use token_file or token_env"}},
		{"inline password", `marathon: {url: "http://m:8080", auth: {basic: {username: u, password: hunter2}}}
universes: [{name: u, dir: /u}]
releases: {dir: /r}`, []string{"marathon.auth.basic.password: inline secrets are not allowed"}},
		{"inline private key", base("auth: {service_account: {uid: x, private_key: KEY}}\n"), []string{"auth.service_account.private_key: inline secrets"}},
		{"inline webhook secret", base("webhook: {secret: s3cr3t}\n"), []string{"webhook.secret: inline secrets are not allowed: use secret_file or secret_env"}},
		{"webhook without secret", base("webhook: {}\n"), []string{"webhook: secret_file or secret_env is required"}},
		{"inline git password", `marathon: {url: "http://m:8080"}
universes: [{name: u, git: {url: "https://g/x.git", auth: {password: pw}}}]
releases: {dir: /r}`, []string{"universes[0].git.auth.password: inline secrets"}},
		{"password in git url", `marathon: {url: "http://m:8080"}
universes: [{name: u, git: {url: "https://bob:pw@g.example/x.git"}}]
releases: {dir: /r}`, []string{"universes[0].git.url: credentials in the URL are not allowed"}},
		{"unparsable url with a password", `marathon: {url: "http://m:8080"}
universes: [{name: u, git: {url: "https://bob:s3cr3t@host:p0rt/x.git"}}]
releases: {dir: /r}`, []string{"universes[0].git.url: not a valid URL: malformed"}},
		{"password in marathon url", `marathon: {url: "http://bob:pw@m:8080"}
universes: [{name: u, dir: /u}]
releases: {dir: /r}`, []string{"marathon.url: credentials in the URL are not allowed"}},
		{"wrong type", base("interval: 60\n"), []string{"interval: must be a duration string"}},
		{"bad duration", base("progress_deadline: 10 minutes\n"), []string{`progress_deadline: invalid duration "10 minutes"`}},
		{"short interval", base("interval: 10ms\n"), []string{"interval: must be at least 1s"}},
		{"wrong bool", base("prune: yes please\n"), []string{"prune: must be true or false"}},
		{"fraction", base("prune_max_fraction: 1.5\n"), []string{"prune_max_fraction: must be greater than 0 and at most 1"}},
		{"workers", base("workers: -1\n"), []string{"workers: must be between 1 and 256"}},
		{"listen", base("listen: localhost\n"), []string{"listen: must be host:port"}},
		{"log level", base("log_level: chatty\n"), []string{"log_level: must be one of"}},
		{"dcos version", base("dcos_version: two\n"), []string{"dcos_version: must be a numeric version"}},
		{"no marathon", `universes: [{name: u, dir: /u}]
releases: {dir: /r}`, []string{"marathon.url: required when dcos_url is not set"}},
		{"bad dcos url", `dcos_url: dcos.example.com
universes: [{name: u, dir: /u}]
releases: {dir: /r}`, []string{"dcos_url: must be an http:// or https:// URL"}},
		{"mesos list", base("mesos: {url: 'http://a:5050,http://b:5050'}\n"), []string{"mesos.url: must be one URL"}},
		{"no universes", `dcos_url: https://d
releases: {dir: /r}`, []string{"universes: at least one universe source is required"}},
		{"two kinds", `dcos_url: https://d
universes: [{name: u, dir: /u, url: "https://x"}]
releases: {dir: /r}`, []string{"universes[0]: exactly one of git, dir, url, file is required (found 2)"}},
		{"duplicate universe", `dcos_url: https://d
universes: [{name: u, dir: /u}, {name: u, dir: /v}]
releases: {dir: /r}`, []string{`universes[1].name: duplicate universe name "u" (also universes[0])`}},
		{"bad universe name", `dcos_url: https://d
universes: [{name: My_Universe, dir: /u}]
releases: {dir: /r}`, []string{`universes[0].name: "My_Universe" is not a valid name`}},
		{"no releases", `dcos_url: https://d
universes: [{name: u, dir: /u}]`, []string{"releases: required: git or dir"}},
		{"git without url", `dcos_url: https://d
universes: [{name: u, dir: /u}]
releases: {git: {ref: main}}`, []string{"releases.git.url: required"}},
		{"git bad ref", `dcos_url: https://d
universes: [{name: u, dir: /u}]
releases: {git: {url: "https://g/x.git", ref: "a..b"}}`, []string{`releases.git.ref: "a..b" is not a valid ref`}},
		{"git path escapes", `dcos_url: https://d
universes: [{name: u, dir: /u}]
releases: {git: {url: "https://g/x.git", path: "../x"}}`, []string{"releases.git.path: must stay inside the repository"}},
		{"git absolute path", `dcos_url: https://d
universes: [{name: u, dir: /u}]
releases: {git: {url: "https://g/x.git", path: "/x"}}`, []string{"releases.git.path: must be relative"}},
		{"git scheme", `dcos_url: https://d
universes: [{name: u, dir: /u}]
releases: {git: {url: "ftp://g/x.git"}}`, []string{`releases.git.url: unsupported URL scheme "ftp"`}},
		{"git ssh key on https", `dcos_url: https://d
universes: [{name: u, dir: /u}]
releases: {git: {url: "https://g/x.git", auth: {ssh_key_file: k}}}`, []string{"releases.git.auth: ssh_key_*/known_hosts_file do not apply"}},
		{"git token on ssh", `dcos_url: https://d
universes: [{name: u, dir: /u}]
releases: {git: {url: "ssh://git@g/x.git", auth: {token_file: t}}}`, []string{"releases.git.auth: password/token credentials do not apply to an SSH URL"}},
		{"git two secrets", `dcos_url: https://d
universes: [{name: u, dir: /u}]
releases: {git: {url: "https://g/x.git", auth: {password_file: a, token_env: B}}}`, []string{"releases.git.auth: set only one of password_file"}},
		{"bad env name", base("ui: {token_env: 'not a var'}\n"), []string{`ui.token_env: "not a var" is not an environment variable name`}},
		{"two auth methods", base("auth: {token_file: t, basic: {username: u, password_file: p}}\n"), []string{"auth: exactly one of token_file/token_env, service_account, basic is required (found 2)"}},
		{"service account no uid", base("auth: {service_account: {private_key_env: K}}\n"), []string{"auth.service_account.uid: required"}},
		{"service account no login url", `marathon: {url: "http://m:8080", auth: {service_account: {uid: x, private_key_env: K}}}
universes: [{name: u, dir: /u}]
releases: {dir: /r}`, []string{"marathon.auth.service_account.login_url: required when dcos_url is not set"}},
		{"zookeeper empty", base("zookeeper: {servers: []}\n"), []string{"zookeeper.servers: at least one host:port is required"}},
		{"zookeeper path", base("zookeeper: {servers: [zk:2181], path: uo/}\n"), []string{"zookeeper.path: must be an absolute ZooKeeper path"}},
		{"duplicate key", base("listen: a:1\nlisten: b:2\n"), []string{`already set in map`}},
		{"not an object", "[1, 2]", []string{"c.yaml: must be an object, not an array"}},
		{"empty", "", []string{"c.yaml: empty document"}},
		{"syntax", "listen: [", []string{"c.yaml: yaml: line 1"}},
		{"two documents", minimal + "---\nlisten: a:1\n", []string{"more than one YAML document"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(c.doc))
			if err == nil {
				t.Fatalf("no error for %q", c.doc)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "c.yaml: ") {
					t.Errorf("line %q does not name the file", line)
				}
			}
			for _, secret := range []string{"abc123", "hunter2", "s3cr3t", "KEY", "bob:pw"} {
				if strings.Contains(c.doc, secret) && strings.Contains(err.Error(), secret) {
					t.Errorf("error repeats the secret %q: %v", secret, err)
				}
			}
		})
	}
}

func TestAllProblemsAtOnce(t *testing.T) {
	_, err := Parse("c.yaml", []byte("intervall: 5s\nworkerz: 2\nlisten: 3\n"))
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 problems (two unknown keys and a type error), got %d: %v", len(lines), err)
	}
}

func TestLoadFileAndSecrets(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml: cannot read") {
		t.Fatalf("missing file: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "token"), []byte("tok-123\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "empty"), nil, 0o600)
	os.WriteFile(filepath.Join(dir, "key.pem"), []byte("-----BEGIN KEY-----\n"), 0o600)
	cfg := `
dcos_url: https://d
auth: {token_file: token}
mesos: {auth: {service_account: {uid: sa, private_key_file: key.pem}}}
sdk: {auth: {basic: {username: u, password_env: UO_TEST_PW}}}
universes: [{name: u, git: {url: "https://g/x.git", auth: {token_file: empty}}}]
releases: {dir: /r}
webhook: {secret_env: UO_TEST_UNSET}
ui: {token_file: token}
`
	file := filepath.Join(dir, "c.yaml")
	os.WriteFile(file, []byte(cfg), 0o600)
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("UO_TEST_PW", "pw-value")
	problems := c.CheckSecrets()
	text := ""
	for _, p := range problems {
		text += p.Error() + "\n"
	}
	if len(problems) != 2 || !strings.Contains(text, "universes[0].git.auth.token_file: secret file") ||
		!strings.Contains(text, "is empty") || !strings.Contains(text, "webhook.secret_env: environment variable UO_TEST_UNSET is not set") {
		t.Fatalf("CheckSecrets = %s", text)
	}
	if tok, err := c.UI.Token(); err != nil || tok != "tok-123" {
		t.Fatalf("ui token = %q %v", tok, err)
	}
	ma, err := c.Marathon.DCOSAuth()
	if err != nil || ma.Token == nil || ma.Token.File != filepath.Join(dir, "token") {
		t.Fatalf("marathon auth = %+v %v", ma, err)
	}
	me, err := c.Mesos.DCOSAuth()
	if err != nil || me.ServiceAccount == nil || me.ServiceAccount.LoginURL != "https://d/acs/api/v1/auth/login" ||
		string(me.ServiceAccount.PrivateKeyPEM) != "-----BEGIN KEY-----" {
		t.Fatalf("mesos auth = %+v %v", me, err)
	}
	sd, err := c.SDK.DCOSAuth()
	if err != nil || sd.Basic == nil || sd.Basic.Password != "pw-value" {
		t.Fatalf("sdk auth = %+v %v", sd, err)
	}
	if _, err := c.Webhook.Secret(); err == nil || strings.Contains(err.Error(), "pw-value") {
		t.Fatalf("webhook secret: %v", err)
	}
}
