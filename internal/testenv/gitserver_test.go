package testenv

import (
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gitClient runs the git binary as a client (protocol version v) and
// returns its combined output and error.
func gitClient(t *testing.T, rs *GitRepos, proto string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(rs.git, append([]string{"-c", "protocol.version=" + proto}, args...)...)
	cmd.Env = rs.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestGitHTTPServesAndCounts(t *testing.T) {
	rs := NewGitRepos(t)
	r := rs.Create("demo")
	r.Write("a.txt", "one")
	first := r.Commit("first")
	srv := StartGitHTTP(t, rs, nil)

	for _, proto := range []string{"0", "2"} {
		srv.ResetStats()
		out, err := gitClient(t, rs, proto, "ls-remote", srv.URL("demo"), "refs/heads/main")
		if err != nil || !strings.HasPrefix(out, first) {
			t.Fatalf("protocol %s: ls-remote = %q, %v", proto, out, err)
		}
		if st := srv.Stats(); st.Advertisements != 1 || st.UploadPacks != 0 || st.PackBytes != 0 {
			t.Fatalf("protocol %s: ls-remote stats = %+v, want one advertisement and no pack", proto, st)
		}
		srv.ResetStats()
		dst := filepath.Join(t.TempDir(), "clone")
		if out, err := gitClient(t, rs, proto, "clone", "--quiet", srv.URL("demo"), dst); err != nil {
			t.Fatalf("protocol %s: clone: %v: %s", proto, err, out)
		}
		if st := srv.Stats(); st.Advertisements != 1 || st.UploadPacks != 1 || st.PackBytes == 0 {
			t.Fatalf("protocol %s: clone stats = %+v", proto, st)
		}
	}
}

func TestGitHTTPBasicAuthStopStartAndStatus(t *testing.T) {
	rs := NewGitRepos(t)
	r := rs.Create("secret")
	r.Commit("empty")
	srv := StartGitHTTP(t, rs, &GitHTTPOptions{Username: "alice", Password: "s3cret"})
	if _, err := gitClient(t, rs, "0", "ls-remote", srv.URL("secret")); err == nil {
		t.Fatal("ls-remote without credentials succeeded")
	}
	if srv.Stats().Unauthorized == 0 {
		t.Fatal("unauthorized request not counted")
	}
	authURL := strings.Replace(srv.URL("secret"), "http://", "http://alice:s3cret@", 1)
	if out, err := gitClient(t, rs, "0", "ls-remote", authURL); err != nil {
		t.Fatalf("ls-remote with credentials: %v: %s", err, out)
	}
	srv.Stop()
	if _, err := gitClient(t, rs, "0", "ls-remote", authURL); err == nil {
		t.Fatal("ls-remote succeeded against a stopped server")
	}
	srv.Start()
	if out, err := gitClient(t, rs, "0", "ls-remote", authURL); err != nil {
		t.Fatalf("ls-remote after restart: %v: %s", err, out)
	}
	srv.SetStatus(http.StatusServiceUnavailable)
	if _, err := gitClient(t, rs, "0", "ls-remote", authURL); err == nil {
		t.Fatal("ls-remote succeeded against a failing server")
	}
}

func TestGitDaemonServesAndCounts(t *testing.T) {
	rs := NewGitRepos(t)
	r := rs.Create("demo")
	r.Write("a.txt", "one")
	first := r.Commit("first")
	d := StartGitDaemon(t, rs)
	out, err := gitClient(t, rs, "0", "ls-remote", d.URL("demo"))
	if err != nil || !strings.Contains(out, first) {
		t.Fatalf("ls-remote = %q, %v", out, err)
	}
	if st := d.Stats(); st.Advertisements != 1 || st.UploadPacks != 0 {
		t.Fatalf("ls-remote stats = %+v", st)
	}
	d.ResetStats()
	dst := filepath.Join(t.TempDir(), "clone")
	if out, err := gitClient(t, rs, "0", "clone", "--quiet", d.URL("demo"), dst); err != nil {
		t.Fatalf("clone: %v: %s", err, out)
	}
	if st := d.Stats(); st.UploadPacks != 1 || st.PackBytes == 0 {
		t.Fatalf("clone stats = %+v", st)
	}
	d.Stop()
	if _, err := gitClient(t, rs, "0", "ls-remote", d.URL("demo")); err == nil {
		t.Fatal("ls-remote succeeded against a stopped daemon")
	}
	d.Start()
	if out, err := gitClient(t, rs, "0", "ls-remote", d.URL("demo")); err != nil {
		t.Fatalf("ls-remote after restart: %v: %s", err, out)
	}
}

func TestGitRepoHistoryOperations(t *testing.T) {
	rs := NewGitRepos(t)
	r := rs.Create("hist")
	r.Write("a", "1")
	c1 := r.Commit("c1")
	r.Write("a", "2")
	c2 := r.Commit("c2")
	r.Tag("v1", true)
	c3 := r.RewriteHistory("HEAD~1", map[string]string{"b": "x"}, "rewritten")
	if c3 == c2 || r.Git("rev-parse", "HEAD~1") != c1 {
		t.Fatalf("history not rewritten: c1=%s c2=%s c3=%s", c1, c2, c3)
	}
	if got := r.BareGit("rev-parse", "refs/heads/main"); got != c3 {
		t.Fatalf("bare main = %s, want %s", got, c3)
	}
	r.Checkout("feature")
	c4 := r.Commit("on feature")
	if got := r.BareGit("rev-parse", "refs/heads/feature"); got != c4 {
		t.Fatalf("bare feature = %s, want %s", got, c4)
	}
	r.DeleteBranch("feature")
	if rs.tryRun(r.Bare, "rev-parse", "--verify", "--quiet", "refs/heads/feature") {
		t.Fatal("feature branch still exists after DeleteBranch")
	}
}
