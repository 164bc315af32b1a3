package testenv

import (
	"bytes"
	"compress/gzip"
	"crypto/subtle"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// GitStats counts what a loopback Git server was asked since it started (or
// since ResetStats). A ref advertisement is the server listing its refs
// (what `git ls-remote` and the first step of every fetch cost); an
// upload-pack request is a negotiation that asks for objects, and PackBytes
// are the bytes the server sent in answer to those (the pack and its
// negotiation lines). A fetch that finds nothing new must leave UploadPacks
// and PackBytes unchanged.
type GitStats struct {
	// Advertisements counts ref advertisements served.
	Advertisements int
	// UploadPacks counts object negotiations (requests that sent "want").
	UploadPacks int
	// PackBytes is the number of bytes sent in answer to upload-pack requests.
	PackBytes int64
	// Requests counts every HTTP request or git:// / ssh connection.
	Requests int
	// Unauthorized counts requests refused for missing or wrong credentials.
	Unauthorized int
}

// gitCounter is the shared, locked counter behind the servers' Stats.
type gitCounter struct {
	mu sync.Mutex
	s  GitStats
}

func (c *gitCounter) add(f func(*GitStats)) {
	c.mu.Lock()
	f(&c.s)
	c.mu.Unlock()
}

func (c *gitCounter) get() GitStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s
}

func (c *gitCounter) reset() {
	c.mu.Lock()
	c.s = GitStats{}
	c.mu.Unlock()
}

// GitHTTPOptions configures StartGitHTTP.
type GitHTTPOptions struct {
	// Username and Password, when Username is set, require HTTP basic auth
	// on every request (401 with a WWW-Authenticate challenge otherwise).
	Username, Password string
}

// GitHTTPServer serves a GitRepos directory over Git's smart HTTP protocol
// through the real `git http-backend` (net/http/cgi) on a loopback port.
type GitHTTPServer struct {
	// BaseURL is http://127.0.0.1:PORT (no trailing slash).
	BaseURL string

	t       testing.TB
	addr    string
	handler http.Handler
	count   gitCounter

	mu     sync.Mutex
	srv    *http.Server
	status int           // when non-zero, every request gets this status
	delay  time.Duration // added before every request is served
}

// StartGitHTTP starts a smart-HTTP Git server for repos and stops it when
// the test ends. opts may be nil (no authentication).
func StartGitHTTP(t testing.TB, repos *GitRepos, opts *GitHTTPOptions) *GitHTTPServer {
	t.Helper()
	if opts == nil {
		opts = &GitHTTPOptions{}
	}
	execPath := repos.run("", "--exec-path")
	backend := filepath.Join(execPath, "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		Missing(t, "git-http-backend is not installed at %s", backend)
	}
	cgiHandler := &cgi.Handler{
		Path: backend,
		Root: "/",
		Dir:  repos.Dir,
		Env: append(gitEnv(repos.home),
			"GIT_PROJECT_ROOT="+repos.Dir,
			"GIT_HTTP_EXPORT_ALL=1",
		),
		Stderr: io.Discard,
	}
	s := &GitHTTPServer{t: t}
	s.handler = s.wrap(cgiHandler, opts)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("git http server: %v", err)
	}
	s.addr = l.Addr().String()
	s.BaseURL = "http://" + s.addr
	s.serve(l)
	t.Cleanup(s.Stop)
	return s
}

// wrap adds authentication, fault injection and counting around the CGI
// handler.
func (s *GitHTTPServer) wrap(next http.Handler, opts *GitHTTPOptions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		status, delay := s.status, s.delay
		s.mu.Unlock()
		s.count.add(func(g *GitStats) { g.Requests++ })
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		if status != 0 {
			http.Error(w, http.StatusText(status), status)
			return
		}
		if opts.Username != "" {
			u, p, ok := r.BasicAuth()
			if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(opts.Username)) != 1 ||
				subtle.ConstantTimeCompare([]byte(p), []byte(opts.Password)) != 1 {
				s.count.add(func(g *GitStats) { g.Unauthorized++ })
				w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		v2 := strings.Contains(r.Header.Get("Git-Protocol"), "version=2")
		switch {
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/info/refs") &&
			r.URL.Query().Get("service") == "git-upload-pack":
			// Protocol v0/v1 lists the refs here; v2 only its capabilities.
			if !v2 {
				s.count.add(func(g *GitStats) { g.Advertisements++ })
			}
			next.ServeHTTP(w, r)
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-upload-pack"):
			body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			plain := body
			if r.Header.Get("Content-Encoding") == "gzip" {
				if zr, err := gzip.NewReader(bytes.NewReader(body)); err == nil {
					plain, _ = io.ReadAll(zr)
				}
			}
			cw := &countingWriter{ResponseWriter: w}
			next.ServeHTTP(cw, r)
			switch {
			case bytes.Contains(plain, []byte("command=ls-refs")):
				s.count.add(func(g *GitStats) { g.Advertisements++ })
			case bytes.Contains(plain, []byte("want ")):
				s.count.add(func(g *GitStats) { g.UploadPacks++; g.PackBytes += cw.n })
			}
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// countingWriter counts the body bytes written through it.
type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	return n, err
}

// serve starts an http.Server on l.
func (s *GitHTTPServer) serve(l net.Listener) {
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(l) }()
}

// URL returns the clone URL of repository name.
func (s *GitHTTPServer) URL(name string) string { return s.BaseURL + "/" + name + ".git" }

// Stats returns the counters.
func (s *GitHTTPServer) Stats() GitStats { return s.count.get() }

// ResetStats sets every counter to zero.
func (s *GitHTTPServer) ResetStats() { s.count.reset() }

// SetStatus makes every request answer with status (0 restores normal
// service): a server that is up but failing.
func (s *GitHTTPServer) SetStatus(status int) {
	s.mu.Lock()
	s.status = status
	s.mu.Unlock()
}

// SetDelay delays every request by d (0 restores): a slow server, for
// timeout tests.
func (s *GitHTTPServer) SetDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// Stop closes the server: connections to its port are refused until Start.
func (s *GitHTTPServer) Stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Start serves again on the same address after Stop.
func (s *GitHTTPServer) Start() {
	s.t.Helper()
	l, err := listenRetry(s.addr)
	if err != nil {
		s.t.Fatalf("git http server restart: %v", err)
	}
	s.serve(l)
}

// listenRetry listens on addr, retrying for a few seconds while the port
// is still held by the previous listener.
func listenRetry(addr string) (net.Listener, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		l, err := net.Listen("tcp", addr)
		if err == nil || time.Now().After(deadline) {
			return l, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// GitDaemon serves a GitRepos directory over git:// with the real
// `git daemon`, behind a counting TCP proxy on a loopback port.
type GitDaemon struct {
	// BaseURL is git://127.0.0.1:PORT (no trailing slash).
	BaseURL string

	t          testing.TB
	addr       string // the proxy's address (what clients use)
	daemonAddr string
	cmd        *exec.Cmd
	count      gitCounter

	mu    sync.Mutex
	l     net.Listener
	conns map[net.Conn]struct{}
}

// StartGitDaemon starts `git daemon --export-all` for repos and stops it
// when the test ends.
func StartGitDaemon(t testing.TB, repos *GitRepos) *GitDaemon {
	t.Helper()
	port := freePort(t)
	d := &GitDaemon{t: t, daemonAddr: fmt.Sprintf("127.0.0.1:%d", port), conns: map[net.Conn]struct{}{}}
	cmd := exec.Command(repos.git, "daemon", "--export-all", "--reuseaddr", "--informative-errors",
		"--listen=127.0.0.1", fmt.Sprintf("--port=%d", port), "--base-path="+repos.Dir, repos.Dir)
	cmd.Env = gitEnv(repos.home)
	var logb safeBuffer
	cmd.Stdout, cmd.Stderr = &logb, &logb
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("git daemon: %v", err)
	}
	d.cmd = cmd
	t.Cleanup(d.kill)
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", d.daemonAddr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("git daemon did not listen on %s within 20s: %s", d.daemonAddr, logb.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("git daemon proxy: %v", err)
	}
	d.addr = l.Addr().String()
	d.BaseURL = "git://" + d.addr
	d.proxy(l)
	t.Cleanup(d.Stop)
	return d
}

// safeBuffer is a bytes.Buffer safe for concurrent writes and reads.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *safeBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *safeBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// kill stops the daemon process group.
func (d *GitDaemon) kill() {
	if d.cmd != nil && d.cmd.Process != nil {
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		_ = d.cmd.Wait()
		d.cmd = nil
	}
}

// proxy accepts connections on l and forwards them to the daemon, counting
// each connection (every git:// connection starts with a ref advertisement)
// and whether the client asked for objects.
func (d *GitDaemon) proxy(l net.Listener) {
	d.mu.Lock()
	d.l = l
	d.mu.Unlock()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go d.forward(c)
		}
	}()
}

// forward pipes one client connection to the daemon.
func (d *GitDaemon) forward(c net.Conn) {
	d.mu.Lock()
	d.conns[c] = struct{}{}
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.conns, c)
		d.mu.Unlock()
		c.Close()
	}()
	up, err := net.DialTimeout("tcp", d.daemonAddr, 5*time.Second)
	if err != nil {
		return
	}
	defer up.Close()
	d.count.add(func(g *GitStats) { g.Requests++; g.Advertisements++ })
	wants := &wantDetector{}
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.MultiWriter(up, wants), c)
		if tc, ok := up.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		close(done)
	}()
	n, _ := io.Copy(c, up)
	<-done
	if wants.seen() {
		d.count.add(func(g *GitStats) { g.UploadPacks++; g.PackBytes += n })
	}
}

// wantDetector watches a client's stream for a "want " pkt-line.
type wantDetector struct {
	mu   sync.Mutex
	tail []byte
	hit  bool
}

func (w *wantDetector) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.hit {
		buf := append(w.tail, p...)
		if bytes.Contains(buf, []byte("want ")) {
			w.hit = true
		}
		if len(buf) > 8 {
			buf = buf[len(buf)-8:]
		}
		w.tail = append(w.tail[:0], buf...)
	}
	return len(p), nil
}

func (w *wantDetector) seen() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.hit
}

// URL returns the git:// URL of repository name.
func (d *GitDaemon) URL(name string) string { return d.BaseURL + "/" + name + ".git" }

// Stats returns the counters (one advertisement per connection).
func (d *GitDaemon) Stats() GitStats { return d.count.get() }

// ResetStats sets every counter to zero.
func (d *GitDaemon) ResetStats() { d.count.reset() }

// Stop refuses new connections and drops open ones until Start.
func (d *GitDaemon) Stop() {
	d.mu.Lock()
	l := d.l
	d.l = nil
	for c := range d.conns {
		c.Close()
	}
	d.mu.Unlock()
	if l != nil {
		_ = l.Close()
	}
}

// Start accepts connections again on the same address after Stop.
func (d *GitDaemon) Start() {
	d.t.Helper()
	l, err := listenRetry(d.addr)
	if err != nil {
		d.t.Fatalf("git daemon proxy restart: %v", err)
	}
	d.proxy(l)
}
