package git

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"

	"github.com/universe-operator/universe-operator/errs"
)

// maxSecret bounds a secret file.
const maxSecret = 1 << 20

// readSecret reads a secret from a file or an environment variable,
// trimming white space. Errors name the file or variable, never the value.
func readSecret(what, file, env string) ([]byte, error) {
	switch {
	case file != "":
		st, err := os.Stat(file)
		if err != nil {
			return nil, errs.Permanent(fmt.Errorf("git auth %s: cannot read %s: %v", what, file, pathReason(err)))
		}
		if st.Size() > maxSecret || !st.Mode().IsRegular() {
			return nil, errs.Permanent(fmt.Errorf("git auth %s: %s is not a regular file of at most %d bytes", what, file, maxSecret))
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, errs.Permanent(fmt.Errorf("git auth %s: cannot read %s: %v", what, file, pathReason(err)))
		}
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			return nil, errs.Permanent(fmt.Errorf("git auth %s: %s is empty", what, file))
		}
		return b, nil
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok || strings.TrimSpace(v) == "" {
			return nil, errs.Permanent(fmt.Errorf("git auth %s: environment variable %s is not set or empty", what, env))
		}
		return []byte(strings.TrimSpace(v)), nil
	}
	return nil, nil
}

// pathReason drops the path from an *os.PathError.
func pathReason(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// readCA reads a CA bundle file ("" = none).
func readCA(file string) ([]byte, error) {
	if file == "" {
		return nil, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, errs.Permanent(fmt.Errorf("git ca_file %s: %v", file, pathReason(err)))
	}
	return b, nil
}

// isSSH reports whether a URL uses the SSH transport.
func isSSH(u string) bool {
	ep, err := transport.NewEndpoint(u)
	return err == nil && ep.Protocol == "ssh"
}

// authMethod builds the transport auth for a remote, reading secrets now.
func authMethod(r Remote, timeout time.Duration) (transport.AuthMethod, error) {
	a := r.Auth
	if isSSH(r.URL) {
		return sshAuth(r, timeout)
	}
	token, err := readSecret("token", a.TokenFile, a.TokenEnv)
	if err != nil {
		return nil, err
	}
	if token != nil {
		user := a.Username
		if user == "" {
			user = "git"
		}
		return &githttp.BasicAuth{Username: user, Password: string(token)}, nil
	}
	pw, err := readSecret("password", a.PasswordFile, a.PasswordEnv)
	if err != nil {
		return nil, err
	}
	if pw != nil {
		return &githttp.BasicAuth{Username: a.Username, Password: string(pw)}, nil
	}
	return nil, nil
}

// sshKeyAuth is public-key auth with a connection timeout.
type sshKeyAuth struct {
	*gitssh.PublicKeys
	timeout time.Duration
}

// ClientConfig adds the timeout to the library's configuration.
func (a *sshKeyAuth) ClientConfig() (*ssh.ClientConfig, error) {
	cfg, err := a.PublicKeys.ClientConfig()
	if err != nil {
		return nil, err
	}
	cfg.Timeout = a.timeout
	return cfg, nil
}

// sshAuth builds SSH public-key auth with strict known_hosts checking.
func sshAuth(r Remote, timeout time.Duration) (transport.AuthMethod, error) {
	a := r.Auth
	key, err := readSecret("ssh key", a.SSHKeyFile, a.SSHKeyEnv)
	if err != nil {
		return nil, err
	}
	if key == nil {
		return nil, errs.Permanent(fmt.Errorf("git %s: an SSH URL needs auth.ssh_key_file or auth.ssh_key_env", describe(r)))
	}
	pass, err := readSecret("ssh key passphrase", a.SSHKeyPassphraseFile, a.SSHKeyPassphraseEnv)
	if err != nil {
		return nil, err
	}
	ep, err := transport.NewEndpoint(r.URL)
	if err != nil {
		return nil, errs.Permanent(fmt.Errorf("git %s: %v", describe(r), err))
	}
	user := ep.User
	if user == "" {
		user = a.Username
	}
	if user == "" {
		user = "git"
	}
	pk, err := gitssh.NewPublicKeys(user, key, string(pass))
	if err != nil {
		// The library's message names the key format problem, not the key.
		return nil, errs.Permanent(fmt.Errorf("git %s: cannot use the SSH key: %s", describe(r), keyReason(err)))
	}
	files, err := knownHostsFiles(a.KnownHostsFile)
	if err != nil {
		return nil, errs.Permanent(fmt.Errorf("git %s: %w", describe(r), err))
	}
	db, err := gitssh.NewKnownHostsDb(files...)
	if err != nil {
		return nil, errs.Permanent(fmt.Errorf("git %s: known_hosts: %v", describe(r), err))
	}
	port := ep.Port
	if port <= 0 {
		port = 22
	}
	pk.HostKeyCallback = db.HostKeyCallback()
	pk.HostKeyAlgorithms = db.HostKeyAlgorithms(net.JoinHostPort(ep.Host, strconv.Itoa(port)))
	return &sshKeyAuth{PublicKeys: pk, timeout: timeout}, nil
}

// keyReason words an SSH key parsing error.
func keyReason(err error) string {
	var pm *ssh.PassphraseMissingError
	if errors.As(err, &pm) {
		return "the key is encrypted: set auth.ssh_key_passphrase_file or auth.ssh_key_passphrase_env"
	}
	if strings.Contains(err.Error(), "decryption password incorrect") {
		return "wrong passphrase"
	}
	return "not a valid private key"
}

// knownHostsFiles returns the known_hosts files to check: the configured
// one, else $SSH_KNOWN_HOSTS, ~/.ssh/known_hosts, /etc/ssh/ssh_known_hosts
// (those that exist).
func knownHostsFiles(configured string) ([]string, error) {
	if configured != "" {
		if _, err := os.Stat(configured); err != nil {
			return nil, fmt.Errorf("known_hosts_file %s: %s", configured, pathReason(err))
		}
		return []string{configured}, nil
	}
	var cands []string
	if env := os.Getenv("SSH_KNOWN_HOSTS"); env != "" {
		cands = append(cands, filepath.SplitList(env)...)
	}
	if home, err := os.UserHomeDir(); err == nil {
		cands = append(cands, filepath.Join(home, ".ssh", "known_hosts"))
	}
	cands = append(cands, "/etc/ssh/ssh_known_hosts")
	var out []string
	for _, f := range cands {
		if _, err := os.Stat(f); err == nil {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no known_hosts file found: set auth.known_hosts_file (host keys are always checked)")
	}
	return out, nil
}
