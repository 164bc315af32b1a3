package testenv

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// GitRepos is a directory of bare Git repositories that the loopback servers
// (StartGitHTTP, StartGitDaemon, StartGitSSH) serve. Each repository has a
// work clone the test commits into with the git binary.
//
//	repos := testenv.NewGitRepos(t)
//	r := repos.Create("universe")
//	r.WriteFiles(map[string]string{"releases/a.yaml": "..."})
//	sha := r.Commit("add a")
//	srv := testenv.StartGitHTTP(t, repos, nil)
//	url := srv.URL("universe") // http://127.0.0.1:PORT/universe.git
type GitRepos struct {
	// Dir holds the bare repositories, NAME.git each.
	Dir  string
	t    testing.TB
	git  string
	home string
	env  []string
}

// NewGitRepos creates an empty directory of repositories. It skips the test
// (or fails on CI) when git is not installed.
func NewGitRepos(t testing.TB) *GitRepos {
	t.Helper()
	git := Binary(t, "git")
	base := t.TempDir()
	rs := &GitRepos{Dir: filepath.Join(base, "srv"), t: t, git: git, home: filepath.Join(base, "home")}
	for _, d := range []string{rs.Dir, rs.home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatalf("git repos: %v", err)
		}
	}
	rs.env = gitEnv(rs.home)
	return rs
}

// gitEnv is a clean environment for running git in tests: no user or system
// configuration, a fixed identity.
func gitEnv(home string) []string {
	env := []string{
		"HOME=" + home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=universe-operator tests",
		"GIT_AUTHOR_EMAIL=tests@universe-operator.invalid",
		"GIT_COMMITTER_NAME=universe-operator tests",
		"GIT_COMMITTER_EMAIL=tests@universe-operator.invalid",
		"GIT_TERMINAL_PROMPT=0",
		"LC_ALL=C",
	}
	if p := os.Getenv("PATH"); p != "" {
		env = append(env, "PATH="+p)
	}
	return env
}

// GitRepo is one bare repository (served) with a work clone (for commits).
// Its methods fail the test on error. They are safe for concurrent use, but
// a test normally drives one repository from one goroutine.
type GitRepo struct {
	// Name is the repository name: it is served as NAME.git.
	Name string
	// Bare is the path of the bare repository.
	Bare string
	// Work is the path of the work clone.
	Work string
	// Branch is the branch the work clone has checked out and Commit pushes.
	Branch string

	repos *GitRepos
	mu    sync.Mutex
}

// Create makes a bare repository NAME.git (default branch main) and its work
// clone.
func (rs *GitRepos) Create(name string) *GitRepo {
	rs.t.Helper()
	r := &GitRepo{
		Name:   name,
		Bare:   filepath.Join(rs.Dir, name+".git"),
		Work:   filepath.Join(filepath.Dir(rs.Dir), "work", name),
		Branch: "main",
		repos:  rs,
	}
	rs.run("", "init", "--quiet", "--bare", "--initial-branch=main", r.Bare)
	rs.run("", "init", "--quiet", "--initial-branch=main", r.Work)
	r.Git("remote", "add", "origin", r.Bare)
	return r
}

// run executes git in dir and returns its trimmed standard output.
func (rs *GitRepos) run(dir string, args ...string) string {
	rs.t.Helper()
	cmd := exec.Command(rs.git, args...)
	cmd.Dir = dir
	cmd.Env = rs.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		rs.t.Fatalf("git %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return strings.TrimSpace(out.String())
}

// Git runs git with args in the work clone and returns its trimmed output.
func (r *GitRepo) Git(args ...string) string {
	r.repos.t.Helper()
	return r.repos.run(r.Work, args...)
}

// Write writes one file (path relative to the work tree, slash separated),
// creating directories.
func (r *GitRepo) Write(path, content string) {
	r.repos.t.Helper()
	p := filepath.Join(r.Work, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.repos.t.Fatalf("write %s: %v", path, err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.repos.t.Fatalf("write %s: %v", path, err)
	}
}

// WriteFiles writes several files (see Write).
func (r *GitRepo) WriteFiles(files map[string]string) {
	r.repos.t.Helper()
	for p, c := range files {
		r.Write(p, c)
	}
}

// Remove deletes a file or directory from the work tree.
func (r *GitRepo) Remove(path string) {
	r.repos.t.Helper()
	if err := os.RemoveAll(filepath.Join(r.Work, filepath.FromSlash(path))); err != nil {
		r.repos.t.Fatalf("remove %s: %v", path, err)
	}
}

// Symlink creates a symbolic link at path pointing to target (written as
// given, so relative targets stay relative).
func (r *GitRepo) Symlink(target, path string) {
	r.repos.t.Helper()
	p := filepath.Join(r.Work, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.repos.t.Fatalf("symlink %s: %v", path, err)
	}
	_ = os.Remove(p)
	if err := os.Symlink(target, p); err != nil {
		r.repos.t.Fatalf("symlink %s: %v", path, err)
	}
}

// Commit stages everything in the work tree, commits (empty commits allowed)
// and pushes the current branch to the bare repository. It returns the new
// commit's hash.
func (r *GitRepo) Commit(msg string) string {
	r.repos.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Git("add", "--all")
	r.Git("commit", "--quiet", "--allow-empty", "--no-verify", "-m", msg)
	r.Git("push", "--quiet", "origin", "HEAD:refs/heads/"+r.Branch)
	return r.Git("rev-parse", "HEAD")
}

// Head returns the hash of the work clone's HEAD commit.
func (r *GitRepo) Head() string {
	r.repos.t.Helper()
	return r.Git("rev-parse", "HEAD")
}

// Checkout switches the work clone to branch, creating it at the current
// commit when it does not exist. Later commits go to that branch.
func (r *GitRepo) Checkout(branch string) {
	r.repos.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.repos.tryRun(r.Work, "rev-parse", "--verify", "--quiet", "refs/heads/"+branch) {
		r.Git("checkout", "--quiet", branch)
	} else {
		r.Git("checkout", "--quiet", "-b", branch)
	}
	r.Branch = branch
}

// tryRun runs git and reports whether it succeeded.
func (rs *GitRepos) tryRun(dir string, args ...string) bool {
	cmd := exec.Command(rs.git, args...)
	cmd.Dir = dir
	cmd.Env = rs.env
	return cmd.Run() == nil
}

// Tag creates (or moves) tag name at HEAD, annotated when annotated is
// true, and force-pushes it.
func (r *GitRepo) Tag(name string, annotated bool) {
	r.repos.t.Helper()
	args := []string{"tag", "--force"}
	if annotated {
		args = append(args, "-a", "-m", "tag "+name)
	}
	r.Git(append(args, name)...)
	r.Git("push", "--quiet", "--force", "origin", "refs/tags/"+name+":refs/tags/"+name)
}

// DeleteBranch deletes branch from the bare repository (the served side).
func (r *GitRepo) DeleteBranch(branch string) {
	r.repos.t.Helper()
	r.Git("push", "--quiet", "origin", ":refs/heads/"+branch)
}

// RewriteHistory resets the current branch to rev (for example "HEAD~1"),
// applies files, commits and force-pushes: the served branch no longer
// contains the commits after rev. It returns the new commit's hash.
func (r *GitRepo) RewriteHistory(rev string, files map[string]string, msg string) string {
	r.repos.t.Helper()
	r.mu.Lock()
	r.Git("reset", "--quiet", "--hard", rev)
	r.mu.Unlock()
	r.WriteFiles(files)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Git("add", "--all")
	r.Git("commit", "--quiet", "--allow-empty", "--no-verify", "-m", msg)
	r.Git("push", "--quiet", "--force", "origin", "HEAD:refs/heads/"+r.Branch)
	return r.Git("rev-parse", "HEAD")
}

// BareGit runs git in the bare repository (for example to change its
// configuration) and returns the trimmed output.
func (r *GitRepo) BareGit(args ...string) string {
	r.repos.t.Helper()
	return r.repos.run(r.Bare, args...)
}
