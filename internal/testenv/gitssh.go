package testenv

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// GitSSHServer serves a GitRepos directory over SSH on a loopback port: a
// small SSH server (golang.org/x/crypto/ssh) that accepts one client key and
// runs the real `git upload-pack` for `git-upload-pack '<path>'` exec
// requests. Only fetching is supported.
type GitSSHServer struct {
	// BaseURL is ssh://git@127.0.0.1:PORT (no trailing slash).
	BaseURL string
	// HostKey is the server's host key.
	HostKey ssh.PublicKey
	// KnownHostsFile is a known_hosts file that trusts HostKey for the
	// server's address.
	KnownHostsFile string
	// ClientKeyFile is an unencrypted OpenSSH private key the server accepts.
	ClientKeyFile string
	// OtherKnownHostsFile trusts a different key for the same address (a
	// host key mismatch, as after a man-in-the-middle).
	OtherKnownHostsFile string
	// OtherClientKeyFile is a private key the server does NOT accept.
	OtherClientKeyFile string

	t     testing.TB
	repos *GitRepos
	l     net.Listener
	count gitCounter
	wg    sync.WaitGroup
}

// StartGitSSH starts the SSH Git server for repos and stops it when the test
// ends.
func StartGitSSH(t testing.TB, repos *GitRepos) *GitSSHServer {
	t.Helper()
	dir := t.TempDir()
	hostPub, hostSigner := newEd25519(t)
	otherHostPub, _ := newEd25519(t)
	clientPub, clientSigner := newEd25519(t)
	_, otherClientSigner := newEd25519(t)
	s := &GitSSHServer{t: t, repos: repos, HostKey: hostPub}
	s.ClientKeyFile = writePrivateKey(t, dir, "id_ed25519", clientSigner.key)
	s.OtherClientKeyFile = writePrivateKey(t, dir, "id_other", otherClientSigner.key)

	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			if bytes.Equal(k.Marshal(), clientPub.Marshal()) {
				return &ssh.Permissions{}, nil
			}
			s.count.add(func(g *GitStats) { g.Unauthorized++ })
			return nil, errUnauthorized
		},
	}
	cfg.AddHostKey(hostSigner.signer)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("git ssh server: %v", err)
	}
	s.l = l
	addr := l.Addr().String()
	s.BaseURL = "ssh://git@" + addr
	line := knownhosts.Line([]string{knownhosts.Normalize(addr)}, hostPub)
	s.KnownHostsFile = filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(s.KnownHostsFile, []byte(line+"\n"), 0o600); err != nil {
		t.Fatalf("known_hosts: %v", err)
	}
	other := knownhosts.Line([]string{knownhosts.Normalize(addr)}, otherHostPub)
	s.OtherKnownHostsFile = filepath.Join(dir, "known_hosts_other")
	if err := os.WriteFile(s.OtherKnownHostsFile, []byte(other+"\n"), 0o600); err != nil {
		t.Fatalf("known_hosts: %v", err)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.handle(c, cfg)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		s.wg.Wait()
	})
	return s
}

// errUnauthorized is the server-side refusal of an unknown client key.
var errUnauthorized = errors.New("unknown client key")

// URL returns the ssh:// URL of repository name.
func (s *GitSSHServer) URL(name string) string { return s.BaseURL + "/" + name + ".git" }

// Stats returns the counters (one advertisement per upload-pack session).
func (s *GitSSHServer) Stats() GitStats { return s.count.get() }

// ResetStats sets every counter to zero.
func (s *GitSSHServer) ResetStats() { s.count.reset() }

// handle serves one SSH connection.
func (s *GitSSHServer) handle(c net.Conn, cfg *ssh.ServerConfig) {
	defer c.Close()
	s.count.add(func(g *GitStats) { g.Requests++ })
	sc, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		go s.session(ch, creqs)
	}
}

// session runs one exec request on a session channel.
func (s *GitSSHServer) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	for req := range reqs {
		if req.Type != "exec" {
			_ = req.Reply(req.Type == "env", nil)
			continue
		}
		var p struct{ Command string }
		if err := ssh.Unmarshal(req.Payload, &p); err != nil {
			_ = req.Reply(false, nil)
			return
		}
		dir, ok := s.repoPath(p.Command)
		if !ok {
			_ = req.Reply(false, nil)
			return
		}
		_ = req.Reply(true, nil)
		s.count.add(func(g *GitStats) { g.Advertisements++ })
		cmd := exec.Command(s.repos.git, "upload-pack", dir)
		cmd.Env = gitEnv(s.repos.home)
		wants := &wantDetector{}
		cmd.Stdin = io.TeeReader(ch, wants)
		cw := &countWriter{w: ch}
		cmd.Stdout = cw
		cmd.Stderr = ch.Stderr()
		code := 0
		if err := cmd.Run(); err != nil {
			code = 1
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
		}
		if wants.seen() {
			s.count.add(func(g *GitStats) { g.UploadPacks++; g.PackBytes += cw.n })
		}
		status := make([]byte, 4)
		binary.BigEndian.PutUint32(status, uint32(code))
		_, _ = ch.SendRequest("exit-status", false, status)
		return
	}
}

// countWriter counts bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// repoPath maps "git-upload-pack '/name.git'" to a repository directory
// inside the served root.
func (s *GitSSHServer) repoPath(command string) (string, bool) {
	rest, ok := strings.CutPrefix(command, "git-upload-pack ")
	if !ok {
		return "", false
	}
	rest = strings.Trim(strings.TrimSpace(rest), "'\"")
	clean := filepath.Clean("/" + rest)
	dir := filepath.Join(s.repos.Dir, clean)
	if !strings.HasPrefix(dir, s.repos.Dir+string(filepath.Separator)) {
		return "", false
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", false
	}
	return dir, true
}

// keyPair is a generated ed25519 key with its signer.
type keyPair struct {
	key    ed25519.PrivateKey
	signer ssh.Signer
}

// newEd25519 generates a key pair.
func newEd25519(t testing.TB) (ssh.PublicKey, keyPair) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("ed25519: %v", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatalf("ssh signer: %v", err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatalf("ssh public key: %v", err)
	}
	return sp, keyPair{key: priv, signer: signer}
}

// writePrivateKey writes key in OpenSSH format with mode 0600.
func writePrivateKey(t testing.TB, dir, name string, key ed25519.PrivateKey) string {
	t.Helper()
	block, err := ssh.MarshalPrivateKey(key, "")
	if err != nil {
		t.Fatalf("marshal key: %v", err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatalf("write key: %v", err)
	}
	return p
}
