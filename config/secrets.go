package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"github.com/universe-operator/universe-operator/clients/dcosauth"
)

// maxSecretSize bounds a secret file (a private key is a few KB).
const maxSecretSize = 1 << 20

// ReadSecret reads a secret from a file (preferred when both are set) or an
// environment variable, trimming surrounding white space. The error names
// the file or variable, never the content.
func ReadSecret(file, env string) ([]byte, error) {
	switch {
	case file != "":
		st, err := os.Stat(file)
		if err != nil {
			return nil, fmt.Errorf("secret file %s: %s", file, pathErrReason(err))
		}
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("secret file %s: not a regular file", file)
		}
		if st.Size() > maxSecretSize {
			return nil, fmt.Errorf("secret file %s: larger than %d bytes", file, maxSecretSize)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("secret file %s: %s", file, pathErrReason(err))
		}
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			return nil, fmt.Errorf("secret file %s is empty", file)
		}
		return b, nil
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok {
			return nil, fmt.Errorf("environment variable %s is not set", env)
		}
		b := bytes.TrimSpace([]byte(v))
		if len(b) == 0 {
			return nil, fmt.Errorf("environment variable %s is empty", env)
		}
		return b, nil
	}
	return nil, errors.New("no secret_file or secret_env given")
}

// Secret returns the webhook's shared secret.
func (w *Webhook) Secret() ([]byte, error) {
	b, err := ReadSecret(w.SecretFile, w.SecretEnv)
	if err != nil {
		return nil, fmt.Errorf("webhook secret: %w", err)
	}
	return b, nil
}

// Token returns the UI token.
func (u *UI) Token() (string, error) {
	b, err := ReadSecret(u.TokenFile, u.TokenEnv)
	if err != nil {
		return "", fmt.Errorf("ui token: %w", err)
	}
	return string(b), nil
}

// DCOSAuth builds the dcosauth configuration of the endpoint, reading the
// private key or password now (a static token is read by dcosauth itself,
// again after every 401, so rotation works).
func (e *Endpoint) DCOSAuth() (dcosauth.Config, error) {
	c := dcosauth.Config{CAFile: e.CAFile, InsecureSkipVerify: e.InsecureSkipVerify}
	a := e.Auth
	if a == nil {
		return c, nil
	}
	switch {
	case a.TokenFile != "" || a.TokenEnv != "":
		if _, err := ReadSecret(a.TokenFile, a.TokenEnv); err != nil {
			return c, fmt.Errorf("auth token: %w", err)
		}
		c.Token = &dcosauth.StaticToken{File: a.TokenFile, Env: a.TokenEnv}
	case a.ServiceAccount != nil:
		key, err := ReadSecret(a.ServiceAccount.PrivateKeyFile, a.ServiceAccount.PrivateKeyEnv)
		if err != nil {
			return c, fmt.Errorf("service account %s private key: %w", a.ServiceAccount.UID, err)
		}
		c.ServiceAccount = &dcosauth.ServiceAccount{UID: a.ServiceAccount.UID, PrivateKeyPEM: key, LoginURL: e.LoginURL}
	case a.Basic != nil:
		pw, err := ReadSecret(a.Basic.PasswordFile, a.Basic.PasswordEnv)
		if err != nil {
			return c, fmt.Errorf("basic auth password of %s: %w", a.Basic.Username, err)
		}
		c.Basic = &dcosauth.Basic{Username: a.Basic.Username, Password: string(pw)}
	}
	return c, nil
}

// CheckSecrets reads every secret the configuration names (cluster auth,
// Git auth, webhook, UI token) and every CA/known_hosts file, and returns a
// *Problem for each that is missing, unreadable or empty. Load does not do
// this, so a configuration can be validated where the secrets are absent.
func (c *Config) CheckSecrets() []error {
	var out []error
	add := func(path string, err error) {
		out = append(out, &Problem{File: c.File, Path: path, Reason: err.Error()})
	}
	file := func(path, f string) {
		if f == "" {
			return
		}
		if st, err := os.Stat(f); err != nil {
			add(path, fmt.Errorf("%s: %s", f, pathErrReason(err)))
		} else if !st.Mode().IsRegular() {
			add(path, fmt.Errorf("%s: not a regular file", f))
		}
	}
	secret := func(prefix, name, f, env string) {
		if f == "" && env == "" {
			return
		}
		if _, err := ReadSecret(f, env); err != nil {
			key := name + "_file"
			if f == "" {
				key = name + "_env"
			}
			add(prefix+"."+key, err)
		}
	}
	authSecrets := func(p string, a *Auth) {
		if a == nil {
			return
		}
		secret(p, "token", a.TokenFile, a.TokenEnv)
		if sa := a.ServiceAccount; sa != nil {
			secret(p+".service_account", "private_key", sa.PrivateKeyFile, sa.PrivateKeyEnv)
		}
		if b := a.Basic; b != nil {
			secret(p+".basic", "password", b.PasswordFile, b.PasswordEnv)
		}
	}
	authSecrets("auth", c.Auth)
	file("ca_file", c.CAFile)
	for _, ep := range []struct {
		name string
		e    *Endpoint
	}{{"marathon", &c.Marathon}, {"mesos", &c.Mesos}, {"sdk", &c.SDK}} {
		if ep.e.Auth != c.Auth {
			authSecrets(ep.name+".auth", ep.e.Auth)
		}
		if ep.e.CAFile != c.CAFile {
			file(ep.name+".ca_file", ep.e.CAFile)
		}
	}
	c.eachGit(func(p string, g *GitSource) {
		out = append(out, c.CheckGitSecrets(p, g)...)
	})
	if c.Webhook != nil {
		secret("webhook", "secret", c.Webhook.SecretFile, c.Webhook.SecretEnv)
	}
	if c.UI != nil {
		secret("ui", "token", c.UI.TokenFile, c.UI.TokenEnv)
	}
	return out
}

// CheckGitSecrets checks the secrets and files of one Git source (p is its
// key path, for messages).
func (c *Config) CheckGitSecrets(p string, g *GitSource) []error {
	var out []error
	add := func(path string, err error) {
		out = append(out, &Problem{File: c.File, Path: path, Reason: err.Error()})
	}
	if g.CAFile != "" {
		if _, err := os.Stat(g.CAFile); err != nil {
			add(p+".ca_file", fmt.Errorf("%s: %s", g.CAFile, pathErrReason(err)))
		}
	}
	a := g.Auth
	if a == nil {
		return out
	}
	for _, s := range []struct{ key, file, env string }{
		{"password", a.PasswordFile, a.PasswordEnv},
		{"token", a.TokenFile, a.TokenEnv},
		{"ssh_key", a.SSHKeyFile, a.SSHKeyEnv},
		{"ssh_key_passphrase", a.SSHKeyPassphraseFile, a.SSHKeyPassphraseEnv},
	} {
		if s.file == "" && s.env == "" {
			continue
		}
		if _, err := ReadSecret(s.file, s.env); err != nil {
			key := s.key + "_file"
			if s.file == "" {
				key = s.key + "_env"
			}
			add(p+".auth."+key, err)
		}
	}
	if a.KnownHostsFile != "" {
		if _, err := os.Stat(a.KnownHostsFile); err != nil {
			add(p+".auth.known_hosts_file", fmt.Errorf("%s: %s", a.KnownHostsFile, pathErrReason(err)))
		}
	}
	return out
}

// eachGit calls f for every Git source with its key path.
func (c *Config) eachGit(f func(path string, g *GitSource)) {
	for i := range c.Universes {
		if g := c.Universes[i].Git; g != nil {
			f(fmt.Sprintf("universes[%d].git", i), g)
		}
	}
	if c.Releases.Git != nil {
		f("releases.git", c.Releases.Git)
	}
}
