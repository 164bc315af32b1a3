package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/universe-operator/universe-operator/clients/git"
	"github.com/universe-operator/universe-operator/errs"
	"github.com/universe-operator/universe-operator/render"
	"github.com/universe-operator/universe-operator/universe"
)

func init() { addCommand(newRenderCommand) }

// renderFlags are the flags of `universe-operator render`.
type renderFlags struct {
	universe    string
	ref         string
	path        string
	pkg         string
	version     string
	release     int
	options     string
	appID       string
	dcosVersion string
	compact     bool
	all         bool
	out         string
	optionsDir  string
	timeout     time.Duration
}

func newRenderCommand() *cobra.Command {
	f := &renderFlags{}
	cmd := &cobra.Command{
		Use:   "render --universe DIR|FILE|URL|GITURL (--package NAME [--version V | --release N] [--options FILE] [--app-id ID] | --all --out DIR [--options-dir DIR])",
		Short: "Print the Marathon app JSON that installing a Universe package would post",
		Long: `Render a Universe package exactly as DC/OS Cosmos would for 'dcos package install'.

--universe is a packages directory (repo/packages, or a directory holding
repo/packages or packages), a served repository JSON file or URL
({"packages":[...]}), or a Git repository (an URL ending in .git, git@...,
ssh://, git://, or any URL prefixed with git+; --ref and --path choose the
branch and the packages directory inside it).

Single form: prints the app (indented; --compact for the exact bytes).
--version takes an exact version string, "latest" (the default) or a
constraint such as ">=2.8 <3" or "~2.9".

--all form: renders every revision that has a template and writes
OUT/<name>/<release>.json (the app, indented; --compact: the exact bytes) or
OUT/<name>/<release>.err (one line: why), then prints
"rendered N, failed M, skipped K (no template)".
With --options-dir, DIR/<name>.json (when present) holds the user options for
every revision of <name>. The exit code is 1 when any revision failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRender(cmd.Context(), cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.universe, "universe", "", "packages directory, served repository file or URL, or Git URL")
	fl.StringVar(&f.ref, "ref", "", "Git branch, tag or commit (default: the remote's HEAD)")
	fl.StringVar(&f.path, "path", "", "packages directory inside the Git repository (default: repo/packages, then packages)")
	fl.StringVar(&f.pkg, "package", "", "package name")
	fl.StringVar(&f.version, "version", "", `version: exact string, "latest" (default) or a constraint`)
	fl.IntVar(&f.release, "release", -1, "releaseVersion (revision number) instead of --version")
	fl.StringVar(&f.options, "options", "", "JSON file with the user options")
	fl.StringVar(&f.appID, "app-id", "", "Marathon app id replacing the template's")
	fl.StringVar(&f.dcosVersion, "dcos-version", "", "cluster DC/OS version: skip revisions needing a newer one")
	fl.BoolVar(&f.compact, "compact", false, "write apps as compact JSON (the exact bytes that would be posted)")
	fl.BoolVar(&f.all, "all", false, "render every revision that has a template into --out")
	fl.StringVar(&f.out, "out", "", "output directory for --all")
	fl.StringVar(&f.optionsDir, "options-dir", "", "with --all: directory of <package>.json option files")
	fl.DurationVar(&f.timeout, "timeout", 2*time.Minute, "time limit for fetching a served repository or Git repository")
	return cmd
}

func (f *renderFlags) check(cmd *cobra.Command) error {
	if f.universe == "" {
		return usagef("render: --universe is required")
	}
	changed := cmd.Flags().Changed
	if f.all {
		switch {
		case f.out == "":
			return usagef("render --all: --out DIR is required")
		case f.pkg != "" || changed("version") || changed("release") || f.options != "" || f.appID != "":
			return usagef("render --all: --package, --version, --release, --options and --app-id belong to the single form")
		}
		return nil
	}
	switch {
	case f.pkg == "":
		return usagef("render: --package NAME is required (or --all)")
	case changed("version") && changed("release"):
		return usagef("render: give --version or --release, not both")
	case changed("release") && f.release < 0:
		return usagef("render: --release must be a non-negative integer")
	case f.out != "" || f.optionsDir != "":
		return usagef("render: --out and --options-dir belong to --all")
	}
	return nil
}

func runRender(ctx context.Context, cmd *cobra.Command, f *renderFlags) error {
	if err := f.check(cmd); err != nil {
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	var userOptions json.RawMessage
	if f.options != "" {
		b, err := os.ReadFile(f.options)
		if err != nil {
			return fmt.Errorf("options file: %w", err)
		}
		userOptions = b
	}
	if f.all && os.Getenv("GOGC") == "" {
		// A batch over every revision: trade some memory for less GC work.
		defer debug.SetGCPercent(debug.SetGCPercent(200))
	}
	repo, loadErrs, err := openUniverse(ctx, f)
	if err != nil {
		return err
	}
	if f.all {
		return renderAll(cmd.OutOrStdout(), cmd.ErrOrStderr(), repo, loadErrs, f)
	}
	q := universe.Query{Name: f.pkg, Version: f.version, DCOSVersion: f.dcosVersion}
	if cmd.Flags().Changed("release") {
		rel := f.release
		q.Release = &rel
	}
	pkg, err := universe.Select([]*universe.Repository{repo}, q)
	if err != nil {
		// A malformed revision of this package explains a "not found".
		var related []error
		for _, e := range loadErrs {
			if strings.Contains(e.Error(), string(filepath.Separator)+f.pkg+string(filepath.Separator)) || strings.Contains(e.Error(), "("+f.pkg+")") {
				related = append(related, e)
			}
		}
		return errors.Join(append([]error{err}, related...)...)
	}
	res, err := render.Render(pkg, userOptions, render.Params{AppID: f.appID})
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	if res.NoTemplate {
		fmt.Fprintf(cmd.ErrOrStderr(), "universe-operator: %s has no marathon.json.mustache: installing it posts nothing to Marathon\n", pkg)
		return nil
	}
	if f.compact {
		_, err = fmt.Fprintf(w, "%s\n", res.App)
		return err
	}
	_, err = w.Write(res.Indented())
	return err
}

// gitURL recognises the --universe values that name a Git repository.
var gitURL = regexp.MustCompile(`^(git\+|git://|ssh://|git@|[a-z0-9._-]+@[^:/]+:)|\.git/?$`)

// openUniverse loads --universe: a directory, a served repository file or
// URL, or a Git repository.
func openUniverse(ctx context.Context, f *renderFlags) (*universe.Repository, []error, error) {
	u := f.universe
	if st, err := os.Stat(u); err == nil {
		if st.IsDir() {
			dir := packagesDir(u)
			repo, problems := universe.LoadDir(dir)
			if repo == nil {
				return nil, nil, errors.Join(problems...)
			}
			return repo, problems, nil
		}
		data, err := os.ReadFile(u)
		if err != nil {
			return nil, nil, errs.Permanent(fmt.Errorf("universe %s: %w", u, err))
		}
		abs, _ := filepath.Abs(u)
		repo, problems := universe.LoadServed(data, universe.WithSource("file://"+filepath.ToSlash(abs)))
		if repo == nil {
			return nil, nil, errors.Join(problems...)
		}
		return repo, problems, nil
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	if gitURL.MatchString(u) {
		return openGit(ctx, strings.TrimPrefix(u, "git+"), f)
	}
	if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
		repo, problems := universe.FetchServed(ctx, nil, u)
		if repo == nil {
			return nil, nil, errors.Join(problems...)
		}
		return repo, problems, nil
	}
	return nil, nil, errs.Permanent(fmt.Errorf("universe %s: no such directory or file, and not an http(s) or Git URL", u))
}

// packagesDir accepts a packages directory or a directory above it.
func packagesDir(dir string) string {
	for _, sub := range []string{filepath.Join("repo", "packages"), "packages", filepath.Join("universe", "repo", "packages")} {
		if st, err := os.Stat(filepath.Join(dir, sub)); err == nil && st.IsDir() {
			return filepath.Join(dir, sub)
		}
	}
	return dir
}

func openGit(ctx context.Context, url string, f *renderFlags) (*universe.Repository, []error, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	client, err := git.New(git.Options{CacheDir: filepath.Join(cache, "universe-operator", "render-git"), Timeout: f.timeout})
	if err != nil {
		return nil, nil, err
	}
	remote := git.Remote{URL: url, Ref: f.ref}
	co, err := client.Sync(ctx, remote)
	if err != nil {
		return nil, nil, err
	}
	var repo *universe.Repository
	var problems []error
	err = client.Read(ctx, remote, co.Commit, func(tree fs.FS) error {
		sub := f.path
		if sub == "" {
			sub = "."
			for _, c := range []string{"repo/packages", "packages", "universe/repo/packages"} {
				if st, err := fs.Stat(tree, c); err == nil && st.IsDir() {
					sub = c
					break
				}
			}
		}
		pkgs, err := fs.Sub(tree, strings.Trim(sub, "/"))
		if err != nil {
			return errs.Permanent(fmt.Errorf("--path %q: %w", f.path, err))
		}
		repo, problems = universe.LoadFS(pkgs, universe.WithSource(git.RedactURL(url)),
			universe.WithLocationPrefix(fmt.Sprintf("%s@%s:%s", git.RedactURL(url), co.Commit[:12], sub)))
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if repo == nil {
		return nil, nil, errors.Join(problems...)
	}
	return repo, problems, nil
}

// revisionPath finds <name>/<release> in a load error's location.
var revisionPath = regexp.MustCompile(`(?:^|[/\\])([a-z][a-z0-9-]*[a-z0-9])[/\\]([0-9]+)(?:[/\\]|$)`)

// renderAll is `render --all`.
func renderAll(stdout, stderr io.Writer, repo *universe.Repository, loadErrs []error, f *renderFlags) error {
	optionsFor := map[string]json.RawMessage{}
	var optErrs []error
	for _, name := range repo.Names() {
		if f.optionsDir == "" {
			break
		}
		b, err := os.ReadFile(filepath.Join(f.optionsDir, name+".json"))
		switch {
		case err == nil:
			optionsFor[name] = b
		case !errors.Is(err, os.ErrNotExist):
			optErrs = append(optErrs, fmt.Errorf("options for %s: %w", name, err))
		}
	}
	if len(optErrs) > 0 {
		return errors.Join(optErrs...)
	}
	var jobs []render.Job
	skipped := 0
	for _, p := range repo.Packages() {
		if !p.HasTemplate() {
			skipped++
			continue
		}
		jobs = append(jobs, render.Job{Package: p, Options: optionsFor[p.Name]})
	}

	// Results are written over those of an earlier run (rewriting a file is
	// much cheaper than deleting and creating it); results of that run that
	// were not produced again (<release>.json and .err files only) are
	// removed at the end.
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return fmt.Errorf("output directory: %w", err)
	}
	dirs := map[string]bool{}
	for _, j := range jobs {
		if !dirs[j.Package.Name] {
			dirs[j.Package.Name] = true
			if err := os.MkdirAll(filepath.Join(f.out, j.Package.Name), 0o755); err != nil {
				return fmt.Errorf("output directory: %w", err)
			}
		}
	}
	resultFile := func(name string, release int, ext string) string {
		return filepath.Join(f.out, name, fmt.Sprintf("%d.%s", release, ext))
	}
	written := map[string]bool{}

	var mu sync.Mutex
	var writeErrs []error
	rendered, failed := 0, 0
	render.RenderEach(jobs, 0, func(_ int, o render.Outcome) {
		p := o.Job.Package
		ext, data := "json", []byte(nil)
		switch {
		case o.Err != nil:
			ext, data = "err", []byte(oneLine(o.Err)+"\n")
		case f.compact:
			data = append(o.Result.App, '\n')
		default:
			data = o.Result.Indented()
		}
		file := resultFile(p.Name, p.ReleaseVersion, ext)
		err := writeResult(file, data)
		mu.Lock()
		defer mu.Unlock()
		written[file] = true
		if err != nil {
			writeErrs = append(writeErrs, fmt.Errorf("writing results: %w", err))
		}
		if ext == "json" {
			rendered++
		} else {
			failed++
		}
	})
	if len(writeErrs) > 0 {
		return errors.Join(writeErrs...)
	}

	// Malformed revisions could not be rendered either: one failure per
	// revision (all its malformed files on one line), one per other problem.
	type revKey struct {
		name    string
		release int
	}
	var order []revKey
	lines := map[revKey][]string{}
	for _, e := range loadErrs {
		fmt.Fprintf(stderr, "universe-operator: %s\n", oneLine(e))
		m := revisionPath.FindStringSubmatch(e.Error())
		if m == nil {
			failed++
			continue
		}
		rel, _ := strconv.Atoi(m[2])
		k := revKey{m[1], rel}
		if _, seen := lines[k]; !seen {
			order = append(order, k)
		}
		lines[k] = append(lines[k], oneLine(e))
	}
	for _, k := range order {
		failed++
		if !dirs[k.name] {
			dirs[k.name] = true
			if err := os.MkdirAll(filepath.Join(f.out, k.name), 0o755); err != nil {
				return fmt.Errorf("output directory: %w", err)
			}
		}
		file := resultFile(k.name, k.release, "err")
		written[file] = true
		if err := writeResult(file, []byte(strings.Join(lines[k], "; ")+"\n")); err != nil {
			return fmt.Errorf("writing results: %w", err)
		}
	}
	for name := range dirs {
		entries, _ := os.ReadDir(filepath.Join(f.out, name))
		for _, e := range entries {
			base, ext, _ := strings.Cut(e.Name(), ".")
			file := filepath.Join(f.out, name, e.Name())
			if _, err := strconv.Atoi(base); err == nil && (ext == "json" || ext == "err") && !e.IsDir() && !written[file] {
				_ = os.Remove(file)
			}
		}
	}
	fmt.Fprintf(stdout, "rendered %d, failed %d, skipped %d (no template)\n", rendered, failed, skipped)
	if failed > 0 {
		return fmt.Errorf("%d revision(s) failed to render: see %s", failed, filepath.Join(f.out, "<name>", "<release>.err"))
	}
	return nil
}

// writeResult writes data as the content of file, like os.WriteFile, but
// overwrites an existing file in place and cuts it only when it was longer.
// Re-running `render --all` over the same directory rewrites every file
// with mostly the same content: truncating each to zero first makes ext4
// allocate new blocks and start writing them back on close (its protection
// for files replaced by truncation), which costs more than the rendering.
func writeResult(file string, data []byte) error {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil && st.Size() > int64(len(data)) {
		err = f.Truncate(int64(len(data)))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// oneLine puts an error (errors.Join puts one problem per line) on one line.
func oneLine(err error) string {
	return strings.ReplaceAll(strings.TrimRight(err.Error(), "\n"), "\n", "; ")
}
