package devenv

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/universe-operator/universe-operator/clients/git"
	"github.com/universe-operator/universe-operator/internal/testenv"
	"github.com/universe-operator/universe-operator/manifest"
	"github.com/universe-operator/universe-operator/render"
	"github.com/universe-operator/universe-operator/universe"
)

// readBranch loads the packages and manifests of a branch of the seeded
// repository through clients/git, over the URL the controller uses.
func readBranch(t *testing.T, repo *Repo, branch string) (*universe.Repository, *manifest.Set, string) {
	t.Helper()
	gc, err := git.New(git.Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	remote := git.Remote{URL: repo.URL, Ref: branch}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	co, err := gc.Sync(ctx, remote)
	if err != nil {
		t.Fatalf("sync %s: %v", branch, err)
	}
	var pkgs *universe.Repository
	var set *manifest.Set
	err = gc.Read(ctx, remote, co.Commit, func(fsys fs.FS) error {
		sub, err := fs.Sub(fsys, PackagesPath)
		if err != nil {
			return err
		}
		var probs []error
		pkgs, probs = universe.LoadFS(sub, universe.WithName("examples"), universe.WithSource(repo.URL))
		for _, p := range probs {
			t.Errorf("package problem: %v", p)
		}
		set, err = manifest.Load(manifest.LoadOptions{FS: fsys, Path: ReleasesPath})
		return err
	})
	if err != nil {
		t.Fatalf("read %s: %v", branch, err)
	}
	return pkgs, set, co.Commit
}

func TestSeedRepo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gitops")
	repo, err := SeedRepo(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if repo.Reused || repo.Seed == "" || repo.URL != "file://"+filepath.ToSlash(dir)+"/.git" {
		t.Fatalf("repo %+v", repo)
	}

	pkgs, set, commit := readBranch(t, repo, Branch)
	if commit != repo.Seed {
		t.Errorf("main is at %s, want the seed %s", commit, repo.Seed)
	}
	if got := pkgs.Names(); !slices.Equal(got, []string{"greeter", "hello-web", "pingpong-framework"}) {
		t.Errorf("packages on main %v", got)
	}
	if n := len(pkgs.Revisions("hello-web")); n != 1 {
		t.Errorf("hello-web has %d revisions on main, want 1 (revision 1 is published later)", n)
	}
	if n := len(pkgs.Revisions("greeter")); n != 3 {
		t.Errorf("greeter has %d revisions, want 3", n)
	}
	if probs := set.Problems(); len(probs) > 0 {
		t.Fatalf("manifest problems: %v", probs)
	}
	rels := set.Releases()
	var names []string
	for _, r := range rels {
		names = append(names, r.Name())
		// Every seeded release resolves and renders.
		pkg, err := universe.Select([]*universe.Repository{pkgs}, universe.Query{Name: r.Spec.Package, Version: r.VersionSpec()})
		if err != nil {
			t.Errorf("release %s: %v", r.Name(), err)
			continue
		}
		if err := manifest.CheckOptions(r, pkg); err != nil {
			t.Errorf("release %s options: %v", r.Name(), err)
		}
		if _, err := render.Render(pkg, r.Options, render.Params{AppID: r.AppIDOverride()}); err != nil {
			t.Errorf("release %s does not render: %v", r.Name(), err)
		}
	}
	if !slices.Equal(names, []string{ReleaseGreeter, ReleaseHelloWeb, ReleasePingpong}) {
		t.Errorf("releases %v", names)
	}
	if p := set.Get(ReleasePingpong); p == nil || !p.Release.JanitorEnabled(true) || p.Release.Spec.Cleanup == nil {
		t.Errorf("pingpong must ask for the janitor explicitly: %+v", p)
	}
	if g := set.Get(ReleaseGreeter); g == nil || g.Release.VersionSpec() != "1.0.0" {
		t.Errorf("greeter must be pinned to 1.0.0")
	}

	pubPkgs, _, pubCommit := readBranch(t, repo, PublishBranch)
	if pubCommit == commit {
		t.Fatal("the publish branch has no commit of its own")
	}
	revs := pubPkgs.Revisions("hello-web")
	if len(revs) != 2 || revs[1].Version != "1.1.0" {
		t.Errorf("publish branch hello-web revisions %d", len(revs))
	}

	// The work tree is main's: revision 1 is not on disk, HEAD is main.
	if _, err := os.Stat(filepath.Join(dir, PackagesPath, "H", "hello-web", "1")); !os.IsNotExist(err) {
		t.Errorf("hello-web/1 left in the work tree: %v", err)
	}
	r, err := gogit.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	head, err := r.Head()
	if err != nil || head.Name() != plumbing.NewBranchReferenceName(Branch) {
		t.Errorf("HEAD %v %v", head, err)
	}
	wt, _ := r.Worktree()
	if st, err := wt.Status(); err != nil || !st.IsClean() {
		t.Errorf("work tree not clean: %v %v", st, err)
	}
	cfg, _ := r.Config()
	if cfg.User.Name == "" || cfg.User.Email == "" {
		t.Error("no local identity: `git commit` would fail on a machine without one")
	}

	// Seeding again reuses the repository untouched.
	again, err := SeedRepo(dir, time.Now())
	if err != nil || !again.Reused || again.URL != repo.URL {
		t.Fatalf("second seed %+v %v", again, err)
	}
	if _, _, c := readBranch(t, again, Branch); c != commit {
		t.Errorf("reseeding moved main to %s", c)
	}
}

func TestSeedRepoRefusesForeignDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := SeedRepo(dir, time.Now())
	if err == nil || !strings.Contains(err.Error(), "not empty") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("error %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "notes.txt")); string(b) != "mine" {
		t.Error("the directory was touched")
	}
}

func TestSeedRepoWithoutMainBranch(t *testing.T) {
	dir := t.TempDir()
	if _, err := gogit.PlainInit(dir, false); err != nil {
		t.Fatal(err)
	}
	if _, err := SeedRepo(dir, time.Now()); err == nil || !strings.Contains(err.Error(), "no branch main") {
		t.Fatalf("error %v", err)
	}
}

// TestStepsWithGit runs the printed git commands, exactly as printed, with
// the git binary, as a user without any git configuration would, and checks
// what they changed.
func TestStepsWithGit(t *testing.T) {
	gitBin := testenv.Binary(t, "git")
	base := filepath.Join(t.TempDir(), "with space")
	repo, err := SeedRepo(filepath.Join(base, "gitops"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	env := []string{"HOME=" + home, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0", "LC_ALL=C",
		"PATH=" + filepath.Dir(gitBin) + string(os.PathListSeparator) + os.Getenv("PATH")}
	sh := func(cmd string) string {
		t.Helper()
		c := exec.Command("/bin/sh", "-c", cmd)
		c.Env = env
		c.Dir = t.TempDir()
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
		return string(out)
	}
	if st := sh("cd " + shellQuote(repo.Dir) + " && git status --porcelain"); st != "" {
		t.Fatalf("git sees a dirty work tree after seeding:\n%s", st)
	}
	e := &Env{Repo: repo, SimulatorURL: "http://127.0.0.1:1"}
	steps := e.Steps()
	if len(steps) != 4 {
		t.Fatalf("%d steps", len(steps))
	}
	for _, i := range []int{1, 0, 3} { // greeter first: the merge is then a real merge commit
		sh(steps[i].Command)
	}
	pkgs, set, _ := readBranch(t, repo, Branch)
	if n := len(pkgs.Revisions("hello-web")); n != 2 {
		t.Errorf("after the merge hello-web has %d revisions, want 2", n)
	}
	if g := set.Get(ReleaseGreeter); g == nil || g.Release.VersionSpec() != "1.1.0" {
		t.Errorf("greeter after the edit: %+v", g)
	}
	if set.Get(ReleasePingpong) != nil {
		t.Error("pingpong still declared after git rm")
	}
	if _, err := os.Stat(filepath.Join(repo.Dir, ReleasesPath, "greeter.yaml.bak")); !os.IsNotExist(err) {
		t.Error("the sed backup file was left behind")
	}
	if st := sh("cd " + shellQuote(repo.Dir) + " && git status --porcelain"); st != "" {
		t.Errorf("work tree dirty after the steps:\n%s", st)
	}
	log := sh("cd " + shellQuote(repo.Dir) + " && git log --format=%s")
	for _, want := range []string{"remove pingpong", "Merge branch 'publish/hello-web-1.1.0'", "greeter: 1.1.0", "Seed"} {
		if !strings.Contains(log, want) {
			t.Errorf("git log lacks %q:\n%s", want, log)
		}
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/tmp/x-1/gitops": "/tmp/x-1/gitops",
		"/tmp/a b":        "'/tmp/a b'",
		"it's":            `'it'\''s'`,
		"":                "''",
		"$HOME":           "'$HOME'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
