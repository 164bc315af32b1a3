package git

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/universe-operator/universe-operator/errs"
	"github.com/universe-operator/universe-operator/internal/testenv"
)

// server is what the tests need from a loopback Git server.
type server interface {
	URL(name string) string
	Stats() testenv.GitStats
	ResetStats()
	Stop()
	Start()
}

// servers starts both loopback servers over the same repositories.
func servers(t *testing.T, rs *testenv.GitRepos) map[string]server {
	return map[string]server{
		"http":   testenv.StartGitHTTP(t, rs, nil),
		"daemon": testenv.StartGitDaemon(t, rs),
	}
}

func newClient(t testing.TB) *Client {
	t.Helper()
	c, err := New(Options{CacheDir: t.TempDir(), Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// randomText returns n bytes of incompressible-ish text.
func randomText(r *rand.Rand, n int) string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 \n"
	b := make([]byte, n)
	for i := range b {
		b[i] = letters[r.Intn(len(letters))]
	}
	return string(b)
}

// readAt reads one file of a synced commit through Client.Read.
func readAt(t *testing.T, c *Client, r Remote, commit, name string) string {
	t.Helper()
	var out string
	err := c.Read(context.Background(), r, commit, func(fsys fs.FS) error {
		b, err := fs.ReadFile(fsys, name)
		out = string(b)
		return err
	})
	if err != nil {
		t.Fatalf("read %s at %s: %v", name, commit, err)
	}
	return out
}

func TestCloneIncrementalAndNoopFetch(t *testing.T) {
	rs := testenv.NewGitRepos(t)
	rnd := rand.New(rand.NewSource(1))
	files := map[string]string{}
	for i := range 200 {
		files[fmt.Sprintf("repo/packages/P/pkg%03d/0/package.json", i)] = randomText(rnd, 2000)
	}
	for name, srv := range servers(t, rs) {
		repo := rs.Create("universe-" + name)
		repo.WriteFiles(files)
		repo.Commit("initial")
		t.Run(name, func(t *testing.T) {
			c := newClient(t)
			ctx := context.Background()
			remote := Remote{URL: srv.URL("universe-" + name), Ref: "main"}

			srv.ResetStats()
			co, err := c.Sync(ctx, remote)
			if err != nil {
				t.Fatal(err)
			}
			if co.Commit != repo.Head() || !co.Fetched || co.FullRef != "refs/heads/main" {
				t.Fatalf("clone: %+v, want commit %s fetched", co, repo.Head())
			}
			if got := readAt(t, c, remote, co.Commit, "repo/packages/P/pkg007/0/package.json"); got != files["repo/packages/P/pkg007/0/package.json"] {
				t.Fatal("exported file content differs")
			}
			clone := srv.Stats()
			if clone.UploadPacks != 1 || clone.PackBytes < 200*1000 {
				t.Fatalf("initial clone stats %+v: want one pack of at least 200 KB", clone)
			}

			// Nothing changed: one ref advertisement, no pack.
			srv.ResetStats()
			co2, err := c.Sync(ctx, remote)
			if err != nil {
				t.Fatal(err)
			}
			if st := srv.Stats(); st.Advertisements != 1 || st.UploadPacks != 0 || st.PackBytes != 0 {
				t.Fatalf("no-op sync stats %+v: want exactly one ref advertisement and no pack", st)
			}
			if co2.Fetched || co2.Commit != co.Commit {
				t.Fatalf("no-op sync: %+v", co2)
			}

			// A new commit transfers only the new objects.
			repo.Write("repo/packages/P/pkg007/0/package.json", "changed")
			second := repo.Commit("change one file")
			srv.ResetStats()
			co3, err := c.Sync(ctx, remote)
			if err != nil {
				t.Fatal(err)
			}
			inc := srv.Stats()
			if co3.Commit != second || !co3.Fetched {
				t.Fatalf("incremental sync: %+v, want %s", co3, second)
			}
			if inc.UploadPacks != 1 || inc.PackBytes*20 > clone.PackBytes {
				t.Fatalf("incremental fetch sent %d bytes (initial clone %d): want only the new objects", inc.PackBytes, clone.PackBytes)
			}
			t.Logf("%s: initial clone %d bytes, incremental fetch %d bytes", name, clone.PackBytes, inc.PackBytes)
			if got := readAt(t, c, remote, co3.Commit, "repo/packages/P/pkg007/0/package.json"); got != "changed" {
				t.Fatalf("new tree has %q", got)
			}

			// Restoring old content (a revert) needs objects the shallow
			// cache never had: the tip's tree is fetched afresh, correctly.
			repo.Write("repo/packages/P/pkg007/0/package.json", files["repo/packages/P/pkg007/0/package.json"])
			reverted := repo.Commit("revert")
			co4, err := c.Sync(ctx, remote)
			if err != nil || co4.Commit != reverted {
				t.Fatalf("revert: %+v %v", co4, err)
			}
			if got := readAt(t, c, remote, co4.Commit, "repo/packages/P/pkg007/0/package.json"); got != files["repo/packages/P/pkg007/0/package.json"] {
				t.Fatal("reverted content differs")
			}
		})
	}
}

func TestTagsAndCommitRefs(t *testing.T) {
	rs := testenv.NewGitRepos(t)
	repo := rs.Create("rel")
	repo.Write("a.txt", "v1")
	c1 := repo.Commit("one")
	repo.Tag("v1", false)
	repo.Tag("v1-annotated", true)
	repo.Write("a.txt", "v2")
	c2 := repo.Commit("two")
	srv := testenv.StartGitHTTP(t, rs, nil)
	c := newClient(t)
	ctx := context.Background()

	for _, tc := range []struct{ ref, commit, full, content string }{
		{"v1", c1, "refs/tags/v1", "v1"},
		{"v1-annotated", c1, "refs/tags/v1-annotated", "v1"},
		{"refs/tags/v1", c1, "refs/tags/v1", "v1"},
		{"main", c2, "refs/heads/main", "v2"},
		{"", c2, "refs/heads/main", "v2"},
		{c1, c1, "", "v1"},
	} {
		co, err := c.Sync(ctx, Remote{URL: srv.URL("rel"), Ref: tc.ref})
		if err != nil {
			t.Fatalf("ref %q: %v", tc.ref, err)
		}
		if co.Commit != tc.commit || co.FullRef != tc.full {
			t.Fatalf("ref %q: commit %s full %q, want %s %q", tc.ref, co.Commit, co.FullRef, tc.commit, tc.full)
		}
		if got := readAt(t, c, Remote{URL: srv.URL("rel"), Ref: tc.ref}, co.Commit, "a.txt"); got != tc.content {
			t.Fatalf("ref %q: a.txt = %q, want %q", tc.ref, got, tc.content)
		}
		commit, full, err := c.Resolve(ctx, Remote{URL: srv.URL("rel"), Ref: tc.ref})
		if err != nil || commit != tc.commit || full != tc.full {
			t.Fatalf("resolve %q = %s %q %v", tc.ref, commit, full, err)
		}
	}

	// A pinned commit is never asked for again.
	srv.ResetStats()
	if _, err := c.Sync(ctx, Remote{URL: srv.URL("rel"), Ref: c1}); err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats(); st.Requests != 0 {
		t.Fatalf("pinned commit re-check made %d requests, want 0", st.Requests)
	}
	// A moved tag is followed.
	repo.Tag("v1", false) // now at c2
	co, err := c.Sync(ctx, Remote{URL: srv.URL("rel"), Ref: "v1"})
	if err != nil || co.Commit != c2 {
		t.Fatalf("moved tag: %+v %v", co, err)
	}
	// A commit that does not exist.
	_, err = c.Sync(ctx, Remote{URL: srv.URL("rel"), Ref: strings.Repeat("ab", 20)})
	if err == nil || !errs.IsPermanent(err) || !strings.Contains(err.Error(), "commit not found") {
		t.Fatalf("unknown commit: %v", err)
	}
	// A ref that does not exist.
	_, err = c.Sync(ctx, Remote{URL: srv.URL("rel"), Ref: "nope"})
	if err == nil || !errs.IsPermanent(err) || !strings.Contains(err.Error(), "ref not found") {
		t.Fatalf("unknown ref: %v", err)
	}
}

func TestForcePushAndDeletedBranch(t *testing.T) {
	rs := testenv.NewGitRepos(t)
	repo := rs.Create("hist")
	repo.Write("f", "1")
	repo.Commit("c1")
	repo.Write("f", "2")
	c2 := repo.Commit("c2")
	for name, srv := range servers(t, rs) {
		t.Run(name, func(t *testing.T) {
			c := newClient(t)
			ctx := context.Background()
			remote := Remote{URL: srv.URL("hist"), Ref: "main"}
			co, err := c.Sync(ctx, remote)
			if err != nil || co.Commit != repo.Head() {
				t.Fatalf("sync: %+v %v", co, err)
			}
			// Rewrite history: main no longer contains the commit we have.
			rewritten := repo.RewriteHistory("HEAD~1", map[string]string{"f": "rewritten-" + name}, "rewrite")
			co, err = c.Sync(ctx, remote)
			if err != nil {
				t.Fatalf("sync after force-push: %v", err)
			}
			if co.Commit != rewritten || readAt(t, c, remote, co.Commit, "f") != "rewritten-"+name {
				t.Fatalf("after force-push: commit %s, want %s", co.Commit, rewritten)
			}
			_ = c2

			// A branch that gets deleted.
			repo.Checkout("feature-" + name)
			repo.Write("g", "feature")
			feat := repo.Commit("feature")
			fr := Remote{URL: srv.URL("hist"), Ref: "feature-" + name}
			co, err = c.Sync(ctx, fr)
			if err != nil || co.Commit != feat {
				t.Fatalf("feature: %+v %v", co, err)
			}
			lastGood := co.Commit
			repo.DeleteBranch("feature-" + name)
			repo.Checkout("main")
			_, err = c.Sync(ctx, fr)
			if err == nil || !errs.IsPermanent(err) || !strings.Contains(err.Error(), "ref not found") {
				t.Fatalf("deleted branch: %v", err)
			}
			if !strings.Contains(err.Error(), "feature-"+name) || !strings.Contains(err.Error(), srv.URL("hist")) {
				t.Fatalf("error does not name ref and url: %v", err)
			}
			if readAt(t, c, fr, lastGood, "g") != "feature" {
				t.Fatal("last good commit no longer readable")
			}
		})
	}
}

func TestServerDownAndTimeout(t *testing.T) {
	rs := testenv.NewGitRepos(t)
	repo := rs.Create("r")
	repo.Write("f", "1")
	repo.Commit("c1")
	for name, srv := range servers(t, rs) {
		t.Run(name, func(t *testing.T) {
			c := newClient(t)
			ctx := context.Background()
			remote := Remote{URL: srv.URL("r"), Ref: "main", Timeout: 5 * time.Second}
			co, err := c.Sync(ctx, remote)
			if err != nil {
				t.Fatal(err)
			}
			srv.Stop()
			_, err = c.Sync(ctx, remote)
			if err == nil || errs.ClassOf(err) != errs.ClassTransient || !strings.Contains(err.Error(), srv.URL("r")) {
				t.Fatalf("server down: %v (class %v)", err, errs.ClassOf(err))
			}
			if readAt(t, c, remote, co.Commit, "f") != "1" {
				t.Fatal("tree lost while the server was down")
			}
			srv.Start()
			if _, err := c.Sync(ctx, remote); err != nil {
				t.Fatalf("after restart: %v", err)
			}
		})
	}
	t.Run("timeout", func(t *testing.T) {
		srv := testenv.StartGitHTTP(t, rs, nil)
		srv.SetDelay(30 * time.Second)
		c := newClient(t)
		start := time.Now()
		_, err := c.Sync(context.Background(), Remote{URL: srv.URL("r"), Ref: "main", Timeout: 300 * time.Millisecond})
		if err == nil || !strings.Contains(err.Error(), "timed out") || errs.ClassOf(err) != errs.ClassTransient {
			t.Fatalf("slow server: %v", err)
		}
		// The server would answer after 30s: giving up well before shows the
		// timeout works (generous bound for a loaded machine).
		if d := time.Since(start); d > 15*time.Second {
			t.Fatalf("timeout took %s", d)
		}
		srv.SetDelay(0)
		srv.SetStatus(http.StatusServiceUnavailable)
		_, err = c.Sync(context.Background(), Remote{URL: srv.URL("r"), Ref: "main"})
		if err == nil || errs.ClassOf(err) != errs.ClassTransient {
			t.Fatalf("503: %v", err)
		}
	})
}

func TestHTTPCredentials(t *testing.T) {
	rs := testenv.NewGitRepos(t)
	repo := rs.Create("private")
	repo.Write("f", "secret stuff")
	repo.Commit("c1")
	const password = "correct-horse-battery-staple"
	srv := testenv.StartGitHTTP(t, rs, &testenv.GitHTTPOptions{Username: "alice", Password: password})
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	bad := filepath.Join(dir, "bad")
	os.WriteFile(good, []byte(password+"\n"), 0o600)
	os.WriteFile(bad, []byte("wrong-password-xyz"), 0o600)
	c := newClient(t)
	ctx := context.Background()

	_, err := c.Sync(ctx, Remote{URL: srv.URL("private"), Ref: "main"})
	if err == nil || !errs.IsPermanent(err) || !strings.Contains(err.Error(), "authentication required") {
		t.Fatalf("no credentials: %v", err)
	}
	_, err = c.Sync(ctx, Remote{URL: srv.URL("private"), Ref: "main", Auth: Auth{Username: "alice", PasswordFile: bad}})
	if err == nil || !errs.IsPermanent(err) || !strings.Contains(err.Error(), "authentication failed") {
		t.Fatalf("wrong password: %v", err)
	}
	if strings.Contains(err.Error(), "wrong-password-xyz") || strings.Contains(err.Error(), password) {
		t.Fatalf("secret in error message: %v", err)
	}
	_, err = c.Sync(ctx, Remote{URL: srv.URL("private"), Ref: "main", Auth: Auth{Username: "alice", PasswordFile: filepath.Join(dir, "missing")}})
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing password file: %v", err)
	}
	co, err := c.Sync(ctx, Remote{URL: srv.URL("private"), Ref: "main", Auth: Auth{Username: "alice", PasswordFile: good}})
	if err != nil || readAt(t, c, Remote{URL: srv.URL("private"), Ref: "main"}, co.Commit, "f") != "secret stuff" {
		t.Fatalf("good password: %v", err)
	}
	t.Setenv("UO_TEST_GIT_TOKEN", password)
	if _, err := c.Sync(ctx, Remote{URL: srv.URL("private"), Ref: "main", Auth: Auth{Username: "alice", TokenEnv: "UO_TEST_GIT_TOKEN"}}); err != nil {
		t.Fatalf("token from env: %v", err)
	}
	_, err = c.Sync(ctx, Remote{URL: srv.URL("private"), Ref: "main", Auth: Auth{TokenEnv: "UO_TEST_UNSET_VARIABLE"}})
	if err == nil || !strings.Contains(err.Error(), "UO_TEST_UNSET_VARIABLE") {
		t.Fatalf("unset env: %v", err)
	}
}

func TestSSH(t *testing.T) {
	rs := testenv.NewGitRepos(t)
	repo := rs.Create("viassh")
	repo.Write("f", "over ssh")
	head := repo.Commit("c1")
	srv := testenv.StartGitSSH(t, rs)
	c := newClient(t)
	ctx := context.Background()
	remote := Remote{URL: srv.URL("viassh"), Ref: "main", Auth: Auth{SSHKeyFile: srv.ClientKeyFile, KnownHostsFile: srv.KnownHostsFile}}
	co, err := c.Sync(ctx, remote)
	if err != nil {
		t.Fatal(err)
	}
	if co.Commit != head || readAt(t, c, remote, co.Commit, "f") != "over ssh" {
		t.Fatalf("ssh sync: %+v", co)
	}
	srv.ResetStats()
	if _, err := c.Sync(ctx, remote); err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats(); st.Advertisements != 1 || st.UploadPacks != 0 {
		t.Fatalf("no-op over ssh: %+v", st)
	}

	mitm := remote
	mitm.Auth.KnownHostsFile = srv.OtherKnownHostsFile
	_, err = newClient(t).Sync(ctx, mitm)
	if err == nil || !errs.IsPermanent(err) || !strings.Contains(err.Error(), "host key does not match") {
		t.Fatalf("host key mismatch: %v", err)
	}
	wrongKey := remote
	wrongKey.Auth.SSHKeyFile = srv.OtherClientKeyFile
	_, err = newClient(t).Sync(ctx, wrongKey)
	if err == nil || !errs.IsPermanent(err) || !strings.Contains(err.Error(), "SSH authentication failed") {
		t.Fatalf("wrong key: %v", err)
	}
	noKey := remote
	noKey.Auth.SSHKeyFile = ""
	_, err = newClient(t).Sync(ctx, noKey)
	if err == nil || !strings.Contains(err.Error(), "ssh_key_file") {
		t.Fatalf("no key: %v", err)
	}
	garbage := filepath.Join(t.TempDir(), "garbage")
	os.WriteFile(garbage, []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n"), 0o600)
	badKey := remote
	badKey.Auth.SSHKeyFile = garbage
	_, err = newClient(t).Sync(ctx, badKey)
	if err == nil || !strings.Contains(err.Error(), "not a valid private key") || strings.Contains(err.Error(), "not a key") {
		t.Fatalf("garbage key: %v", err)
	}
}

func TestTenThousandFiles(t *testing.T) {
	rs := testenv.NewGitRepos(t)
	repo := rs.Create("big")
	files := make(map[string]string, 10000)
	for i := range 10000 {
		files[fmt.Sprintf("releases/team%02d/rel-%05d.yaml", i%50, i)] = fmt.Sprintf(
			"apiVersion: universe-operator/v1\nkind: PackageRelease\nmetadata:\n  name: rel-%05d\nspec:\n  package: hello\n", i)
	}
	repo.WriteFiles(files)
	repo.Commit("10k manifests")
	srv := testenv.StartGitHTTP(t, rs, nil)
	c := newClient(t)
	ctx := context.Background()
	start := time.Now()
	co, err := c.Sync(ctx, Remote{URL: srv.URL("big"), Ref: "main"})
	if err != nil {
		t.Fatal(err)
	}
	clone := time.Since(start)
	start = time.Now()
	n := 0
	err = c.Read(ctx, Remote{URL: srv.URL("big"), Ref: "main"}, co.Commit, func(fsys fs.FS) error {
		return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() {
				b, err := fs.ReadFile(fsys, p)
				if err != nil {
					return err
				}
				if !strings.Contains(string(b), "kind: PackageRelease") {
					return fmt.Errorf("%s: unexpected content", p)
				}
				n++
			}
			return nil
		})
	})
	if err != nil || n != 10000 {
		t.Fatalf("read %d files (%v), want 10000", n, err)
	}
	readAll := time.Since(start)
	start = time.Now()
	srv.ResetStats()
	if _, err := c.Sync(ctx, Remote{URL: srv.URL("big"), Ref: "main"}); err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats(); st.UploadPacks != 0 {
		t.Fatalf("no-op on the big repo fetched: %+v", st)
	}
	t.Logf("10,000 files: shallow clone %s, reading every file %s, no-op re-check %s", clone, readAll, time.Since(start))
}

func TestConcurrentSyncsAndMetrics(t *testing.T) {
	rs := testenv.NewGitRepos(t)
	repo := rs.Create("conc")
	repo.Write("f", "1")
	head := repo.Commit("c1")
	srv := testenv.StartGitHTTP(t, rs, nil)
	reg := prometheus.NewRegistry()
	c, err := New(Options{CacheDir: t.TempDir(), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	// A second client on the same registry and cache shares the collectors
	// and is serialised by the file lock.
	c2, err := New(Options{CacheDir: c.opts.CacheDir, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errsCh := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := c
			if i%2 == 1 {
				cl = c2
			}
			co, err := cl.Sync(context.Background(), Remote{URL: srv.URL("conc"), Ref: "main"})
			if err == nil && co.Commit != head {
				err = fmt.Errorf("commit %s", co.Commit)
			}
			errsCh <- err
		}()
	}
	wg.Wait()
	close(errsCh)
	for err := range errsCh {
		if err != nil {
			t.Fatal(err)
		}
	}
	if st := srv.Stats(); st.UploadPacks != 1 {
		t.Fatalf("16 concurrent syncs fetched %d times, want 1", st.UploadPacks)
	}
	if n := testutil.ToFloat64(c.metrics.requests.WithLabelValues("ls-remote", "ok")); n != 16 {
		t.Fatalf("ls-remote ok counter = %v, want 16", n)
	}
}

func TestCacheDirNamesAndRedaction(t *testing.T) {
	c := newClient(t)
	a := c.CacheDirFor(Remote{URL: "https://example.com/a/b.git", Ref: "main"})
	b := c.CacheDirFor(Remote{URL: "https://example.com/a/b.git", Ref: "dev"})
	if a == b || strings.ContainsAny(filepath.Base(a), ":/?") {
		t.Fatalf("cache dirs %q %q", a, b)
	}
	if got := RedactURL("https://u:secret@example.com/x.git"); strings.Contains(got, "secret") {
		t.Fatalf("RedactURL = %q", got)
	}
	if !IsCommitRef(strings.Repeat("a", 40)) || IsCommitRef("main") || IsCommitRef(strings.Repeat("a", 39)) {
		t.Fatal("IsCommitRef")
	}
}

func TestWorktrees(t *testing.T) {
	rs := testenv.NewGitRepos(t)
	repo := rs.Create("wt")
	repo.WriteFiles(map[string]string{"a/b.txt": "b", "c.txt": "c"})
	repo.Symlink("a/b.txt", "link")
	repo.Commit("one")
	srv := testenv.StartGitHTTP(t, rs, nil)
	c, err := New(Options{CacheDir: t.TempDir(), Worktrees: true})
	if err != nil {
		t.Fatal(err)
	}
	remote := Remote{URL: srv.URL("wt"), Ref: "main"}
	var dirs []string
	for i := range 5 {
		co, err := c.Sync(context.Background(), remote)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(co.Dir, "a", "b.txt"))
		if err != nil || string(b) != "b" {
			t.Fatalf("worktree: %q %v", b, err)
		}
		if target, err := os.Readlink(filepath.Join(co.Dir, "link")); err != nil || target != "a/b.txt" {
			t.Fatalf("symlink: %q %v", target, err)
		}
		dirs = append(dirs, co.Dir)
		repo.Write("c.txt", fmt.Sprint(i))
		repo.Commit("more")
	}
	entries, _ := os.ReadDir(filepath.Dir(dirs[0]))
	if len(entries) != keepTrees {
		t.Fatalf("%d trees kept, want %d", len(entries), keepTrees)
	}
	if _, err := os.Stat(dirs[4]); err != nil {
		t.Fatal("newest tree removed")
	}
	for _, bad := range []string{"../x", "/abs", "a/../b", ".git/config", "a//b", ""} {
		if _, ok := safeRel(bad); ok {
			t.Fatalf("safeRel(%q) accepted", bad)
		}
	}
	plain := newClient(t)
	if co, err := plain.Sync(context.Background(), remote); err != nil || co.Dir != "" {
		t.Fatalf("without Worktrees: %+v %v", co, err)
	}
}

func TestLocalRepositoryWithoutGitBinary(t *testing.T) {
	rs := testenv.NewGitRepos(t)
	repo := rs.Create("local")
	repo.Write("f", "1")
	first := repo.Commit("one")
	path := os.Getenv("PATH")
	noGit := t.TempDir()
	c := newClient(t)
	remote := Remote{URL: "file://" + repo.Bare, Ref: "main"}
	// No git binary at run time: hide it from PATH while the client works.
	t.Setenv("PATH", noGit)
	co, err := c.Sync(context.Background(), remote)
	if err != nil || co.Commit != first || readAt(t, c, remote, co.Commit, "f") != "1" {
		t.Fatalf("local clone: %+v %v", co, err)
	}
	if co, err = c.Sync(context.Background(), remote); err != nil || co.Fetched {
		t.Fatalf("local no-op: %+v %v", co, err)
	}
	t.Setenv("PATH", path)
	repo.Write("f", "2")
	second := repo.Commit("two")
	t.Setenv("PATH", noGit)
	co, err = c.Sync(context.Background(), remote)
	if err != nil || co.Commit != second || !co.Fetched || readAt(t, c, remote, co.Commit, "f") != "2" {
		t.Fatalf("local incremental: %+v %v", co, err)
	}
}

// A local work tree (not bare) is a source as it is for the git binary:
// its .git directory is served, whether the URL names the work tree or its
// .git directory.
func TestLocalWorkTree(t *testing.T) {
	rs := testenv.NewGitRepos(t)
	repo := rs.Create("worktree")
	repo.Write("f", "1")
	first := repo.Commit("one")
	for _, u := range []string{"file://" + repo.Work, repo.Work, "file://" + filepath.Join(repo.Work, ".git")} {
		c := newClient(t)
		remote := Remote{URL: u, Ref: repo.Branch}
		co, err := c.Sync(context.Background(), remote)
		if err != nil || co.Commit != first || readAt(t, c, remote, co.Commit, "f") != "1" {
			t.Fatalf("%s: %+v %v", u, co, err)
		}
	}
	// A directory that is no repository at all still says so.
	c := newClient(t)
	if _, err := c.Sync(context.Background(), Remote{URL: "file://" + t.TempDir(), Ref: "main"}); err == nil {
		t.Fatal("a plain directory synced as a repository")
	}
}
