package devenv

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/universe-operator/universe-operator/examples"
)

// Layout of the seeded repository.
const (
	// Branch is the branch the controller follows.
	Branch = "main"
	// PublishBranch holds one commit on top of the seed that adds hello-web
	// revision 1 (1.1.0) to the universe: merging it is the upgrade demo.
	PublishBranch = "publish/hello-web-1.1.0"
	// PackagesPath is the Universe packages tree inside the repository.
	PackagesPath = "universe/repo/packages"
	// ReleasesPath is the directory of release manifests.
	ReleasesPath = "releases"

	// Names of the example releases.
	ReleaseHelloWeb = "hello-web"
	ReleaseGreeter  = "greeter"
	ReleasePingpong = "pingpong"
)

// publishedLater are the example package revisions left out of the seed
// commit and added by the commit on PublishBranch instead.
var publishedLater = map[string]bool{"H/hello-web/1": true}

// authorName and authorEmail sign the seed commits and become the
// repository's local identity, so the printed `git commit` commands work on
// a machine where git has no user configured.
const (
	authorName  = "universe-operator dev"
	authorEmail = "dev@universe-operator.invalid"
)

// Manifests are the seeded release manifests, by file name under
// ReleasesPath.
var Manifests = map[string]string{
	"hello-web.yaml": `# A web app with a health check and a service link. It follows the newest
# revision of the package ("latest"): merge the branch publish/hello-web-1.1.0
# to publish hello-web 1.1.0 in the universe and watch it roll out.
apiVersion: universe-operator/v1
kind: PackageRelease
metadata:
  name: hello-web
spec:
  package: hello-web
  version: latest
  options:
    service:
      instances: 2
      greeting: "Hello from universe-operator dev!"
`,
	"greeter.yaml": `# Pinned to an exact version. Upgrade paths of the package:
# 1.0.0 <-> 1.1.0, 1.1.0 -> 2.0.0; 2.0.0 cannot be downgraded, and 1.0.0
# cannot jump straight to 2.0.0 (the controller refuses and says why).
apiVersion: universe-operator/v1
kind: PackageRelease
metadata:
  name: greeter
spec:
  package: greeter
  version: "1.0.0"
  options:
    greeter:
      message: "hello from a pinned release"
`,
	"pingpong.yaml": `# A framework package built like a DC/OS SDK service. Deleting this file
# uninstalls it the SDK way (SDK_UNINSTALL, the scheduler's uninstall plan),
# then runs the janitor steps.
apiVersion: universe-operator/v1
kind: PackageRelease
metadata:
  name: pingpong
spec:
  package: pingpong-framework
  cleanup:
    janitor: true
`,
}

// repoReadme is README.md of the seeded repository.
const repoReadme = `# universe-operator dev: the desired state

This repository was created by ` + "`universe-operator dev`" + `. The controller
follows branch ` + "`main`" + ` and reacts to every commit within a second.

- ` + "`universe/repo/packages/`" + ` is a Universe package tree (the package source).
- ` + "`releases/`" + ` holds one release manifest per file (the desired state).

Things to try (see the output of ` + "`universe-operator dev`" + ` for the exact commands):

- ` + "`git merge --no-edit publish/hello-web-1.1.0`" + `: publish hello-web 1.1.0; the
  hello-web release follows "latest" and rolls out.
- Edit ` + "`version`" + ` in releases/greeter.yaml (1.0.0 -> 1.1.0 -> 2.0.0) and commit.
- ` + "`git rm releases/pingpong.yaml`" + ` and commit: the release is uninstalled.
- ` + "`git revert`" + ` any of these.
`

// Repo is the seeded Git repository.
type Repo struct {
	// Dir is the repository's work tree (a normal, non-bare repository).
	Dir string
	// URL is the file:// URL the controller fetches from: the repository's
	// .git directory (go-git's in-process file transport, which needs no git
	// binary, serves a non-bare repository only through its .git directory).
	URL string
	// Seed is the commit the seed created on Branch (empty when an existing
	// repository was reused).
	Seed string
	// Reused reports that the repository existed already (a resumed
	// workspace) and was left as it was.
	Reused bool
}

// FileURL returns the file:// URL of a local directory (special
// characters such as spaces percent-encoded).
func FileURL(dir string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(dir)}).String()
}

// SeedRepo creates, in dir (which must not exist or be empty), a Git
// repository with branch main holding the example packages (without
// hello-web revision 1) and the release manifests, and branch
// publish/hello-web-1.1.0 adding hello-web revision 1 on top. It needs no
// git binary. If dir already holds a repository, it is left untouched and
// returned with Reused set.
func SeedRepo(dir string, now time.Time) (*Repo, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(abs, ".git")); err == nil {
		r, err := gogit.PlainOpen(abs)
		if err != nil {
			return nil, fmt.Errorf("%s: not a usable Git repository: %w", abs, err)
		}
		if _, err := r.Reference(plumbing.NewBranchReferenceName(Branch), true); err != nil {
			return nil, fmt.Errorf("%s: the repository has no branch %s: %w", abs, Branch, err)
		}
		return &Repo{Dir: abs, URL: FileURL(filepath.Join(abs, ".git")), Reused: true}, nil
	}
	if err := ensureEmptyDir(abs); err != nil {
		return nil, err
	}

	main, later, err := exampleFiles()
	if err != nil {
		return nil, err
	}
	main["README.md"] = []byte(repoReadme)
	for name, text := range Manifests {
		main[path.Join(ReleasesPath, name)] = []byte(text)
	}

	r, err := gogit.PlainInitWithOptions(abs, &gogit.PlainInitOptions{
		InitOptions: gogit.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName(Branch)}})
	if err != nil {
		return nil, fmt.Errorf("creating the Git repository in %s: %w", abs, err)
	}
	cfg, err := r.Config()
	if err != nil {
		return nil, err
	}
	cfg.User.Name, cfg.User.Email = authorName, authorEmail
	if err := r.SetConfig(cfg); err != nil {
		return nil, fmt.Errorf("writing %s/.git/config: %w", abs, err)
	}
	wt, err := r.Worktree()
	if err != nil {
		return nil, err
	}
	seed, err := commitFiles(wt, abs, main, "Seed: example packages and releases", now)
	if err != nil {
		return nil, err
	}
	// The publish branch: one commit on top of the seed, made on the branch
	// and then left by checking main out again (which removes its files from
	// the work tree).
	pub := plumbing.NewBranchReferenceName(PublishBranch)
	if err := wt.Checkout(&gogit.CheckoutOptions{Branch: pub, Create: true, Hash: seed}); err != nil {
		return nil, fmt.Errorf("creating branch %s: %w", PublishBranch, err)
	}
	if _, err := commitFiles(wt, abs, later, "universe: publish hello-web 1.1.0\n\nIt answers /health.html and rolls out one instance at a time.", now.Add(time.Second)); err != nil {
		return nil, err
	}
	if err := wt.Checkout(&gogit.CheckoutOptions{Branch: plumbing.NewBranchReferenceName(Branch)}); err != nil {
		return nil, fmt.Errorf("checking out %s: %w", Branch, err)
	}
	return &Repo{Dir: abs, URL: FileURL(filepath.Join(abs, ".git")), Seed: seed.String()}, nil
}

// ensureEmptyDir creates dir, or accepts it when it exists and is empty.
func ensureEmptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return os.MkdirAll(dir, 0o755)
	case err != nil:
		return err
	case len(entries) > 0:
		return fmt.Errorf("%s exists and is not empty, but holds no Git repository: refusing to seed it", dir)
	}
	return nil
}

// exampleFiles returns the example tree as repository paths, split into
// the seed and the files published later.
func exampleFiles() (seed, later map[string][]byte, err error) {
	seed, later = map[string][]byte{}, map[string][]byte{}
	src := examples.FS()
	err = fs.WalkDir(src, "universe", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(src, p)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, "universe/repo/packages/")
		// rel is L/name/rev/file.
		parts := strings.SplitN(rel, "/", 4)
		if len(parts) == 4 && publishedLater[strings.Join(parts[:3], "/")] {
			later[p] = b
		} else {
			seed[p] = b
		}
		return nil
	})
	if err == nil && len(later) == 0 {
		err = errors.New("the example tree has no hello-web revision 1 to publish")
	}
	return seed, later, err
}

// commitFiles writes files into the work tree, stages and commits them.
func commitFiles(wt *gogit.Worktree, dir string, files map[string][]byte, msg string, when time.Time) (plumbing.Hash, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return plumbing.ZeroHash, err
		}
		if err := os.WriteFile(p, files[n], 0o644); err != nil {
			return plumbing.ZeroHash, err
		}
		if _, err := wt.Add(n); err != nil {
			return plumbing.ZeroHash, fmt.Errorf("git add %s: %w", n, err)
		}
	}
	sig := &object.Signature{Name: authorName, Email: authorEmail, When: when}
	h, err := wt.Commit(msg, &gogit.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("git commit in %s: %w", dir, err)
	}
	return h, nil
}
