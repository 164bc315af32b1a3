package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/universe-operator/universe-operator/clients/git"
	"github.com/universe-operator/universe-operator/config"
	"github.com/universe-operator/universe-operator/manifest"
	"github.com/universe-operator/universe-operator/render"
	"github.com/universe-operator/universe-operator/source"
	"github.com/universe-operator/universe-operator/universe"
)

func init() { addCommand(newValidateCommand) }

// validateFlags are the flags of `universe-operator validate`.
type validateFlags struct {
	config       string
	cacheDir     string
	checkSecrets bool
	timeout      time.Duration
}

func newValidateCommand() *cobra.Command {
	f := &validateFlags{}
	cmd := &cobra.Command{
		Use:   "validate --config FILE",
		Short: "Check the configuration, every source, every manifest and every release's options and template",
		Long: `Validate everything the controller would read, without touching a cluster:
the configuration file, every universe source and the release source (fetched
for real, Git included), every release manifest, the package and version each
release selects, its options against the package's config.json, and the
rendered app (template errors, app ids used twice).

Every problem is printed on its own line (file, field, reason) and the exit
code is 1 when there is any; otherwise a one-line summary is printed.
Cluster credentials are not needed; --check-secrets also checks that every
secret file and variable the configuration names exists and is not empty.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.config == "" {
				return usagef("validate: --config FILE is required")
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			return runValidate(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "controller configuration file (YAML or JSON)")
	fl.StringVar(&f.cacheDir, "cache-dir", "", "Git cache directory to use (default: a temporary directory, removed afterwards)")
	fl.BoolVar(&f.checkSecrets, "check-secrets", false, "also check every secret file and environment variable the configuration names")
	fl.DurationVar(&f.timeout, "timeout", 5*time.Minute, "time limit for fetching all sources")
	return cmd
}

// problemList collects problems; config-level ones first, then by text.
type problemList struct {
	head []error
	rest []error
}

func (p *problemList) add(errs ...error) {
	for _, e := range errs {
		if e != nil {
			p.rest = append(p.rest, e)
		}
	}
}

func (p *problemList) err() error {
	if len(p.head)+len(p.rest) == 0 {
		return nil
	}
	sort.SliceStable(p.rest, func(i, j int) bool { return p.rest[i].Error() < p.rest[j].Error() })
	all := append(append([]error{}, p.head...), p.rest...)
	// One line per problem: split joined errors.
	var lines []error
	for _, e := range all {
		for _, l := range strings.Split(strings.TrimRight(e.Error(), "\n"), "\n") {
			lines = append(lines, errors.New(l))
		}
	}
	lines = append(lines, fmt.Errorf("validation failed: %d problem(s)", len(lines)))
	return errors.Join(lines...)
}

// runValidate is `universe-operator validate`.
func runValidate(ctx context.Context, stdout, stderr io.Writer, f *validateFlags) error {
	cfg, err := config.Load(f.config)
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(stderr, "universe-operator: warning: %s\n", w)
	}
	var ps problemList
	if f.checkSecrets {
		ps.head = append(ps.head, cfg.CheckSecrets()...)
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()

	cacheDir := f.cacheDir
	if cacheDir == "" {
		tmp, err := os.MkdirTemp("", "universe-operator-validate-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		cacheDir = tmp
	}
	gc, err := git.New(git.Options{CacheDir: cacheDir})
	if err != nil {
		return err
	}
	opts := source.Options{Git: gc}
	unis, err := source.NewUniverses(cfg.Universes, opts)
	if err != nil {
		return err
	}
	rels, err := source.NewReleases(cfg.Releases, opts)
	if err != nil {
		return err
	}
	unis.Refresh(ctx)
	_, _ = rels.Refresh(ctx)

	packages := 0
	for i, snap := range unis.Snapshots() {
		where := fmt.Sprintf("%s: universes[%d] (%s)", cfg.File, i, snap.Name)
		if snap.Err != nil {
			ps.head = append(ps.head, fmt.Errorf("%s: %v", where, snap.Err))
			continue
		}
		for _, p := range snap.Problems {
			ps.add(fmt.Errorf("universe %s at %s: %v", snap.Name, shortCommit(snap.Commit), p))
		}
		if snap.Repository != nil {
			packages += len(snap.Repository.Names())
		}
	}
	rsnap := rels.Snapshot()
	if rsnap.Err != nil {
		ps.head = append(ps.head, fmt.Errorf("%s: releases: %v", cfg.File, rsnap.Err))
		return ps.err()
	}
	set := rsnap.Set
	ps.add(set.Problems()...)
	valid := set.Releases()
	repos := unis.Repositories()
	apps := map[string][]*manifest.Release{}
	for _, rel := range valid {
		id := checkRelease(cfg, repos, rel, &ps)
		if id != "" {
			apps[id] = append(apps[id], rel)
		}
	}
	for _, list := range manifest.CheckDependencies(valid, set.Names()...) {
		ps.add(list...)
	}
	for id, list := range apps {
		if len(list) < 2 {
			continue
		}
		for _, r := range list {
			var others []string
			for _, o := range list {
				if o != r {
					others = append(others, o.Name()+" ("+o.File+")")
				}
			}
			ps.add(&manifest.Problem{File: r.File, Field: "spec.appId",
				Reason: fmt.Sprintf("app id %s is also used by %s", id, strings.Join(others, ", "))})
		}
	}
	if err := ps.err(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ok: %d release(s) in %d file(s), %d universe source(s) with %d package(s): no problems\n",
		len(valid), len(set.Results), len(cfg.Universes), packages)
	return nil
}

// checkRelease resolves, validates and renders one release; it returns the
// rendered app id ("" when it could not be rendered).
func checkRelease(cfg *config.Config, repos []*universe.Repository, rel *manifest.Release, ps *problemList) string {
	if u := rel.Spec.Universe; u != "" && cfg.UniverseByName(u) == nil {
		var names []string
		for _, s := range cfg.Universes {
			names = append(names, s.Name)
		}
		ps.add(&manifest.Problem{File: rel.File, Field: "spec.universe",
			Reason: fmt.Sprintf("no universe source named %q (configured: %s)", u, strings.Join(names, ", "))})
		return ""
	}
	pkg, err := universe.Select(repos, universe.Query{Name: rel.Spec.Package, Version: rel.VersionSpec(),
		Universe: rel.Spec.Universe, DCOSVersion: cfg.DCOSVersion})
	if err != nil {
		field := "spec.version"
		if !anyHas(repos, rel.Spec.Package) {
			field = "spec.package"
		}
		ps.add(&manifest.Problem{File: rel.File, Field: field, Reason: err.Error()})
		return ""
	}
	if err := manifest.CheckOptions(rel, pkg); err != nil {
		ps.add(err)
		return ""
	}
	if !pkg.HasTemplate() {
		ps.add(&manifest.Problem{File: rel.File, Field: "spec.package",
			Reason: fmt.Sprintf("%s has no marathon.json.mustache: installing it deploys nothing", pkg)})
		return ""
	}
	res, err := render.Render(pkg, rel.Options, render.Params{AppID: rel.AppIDOverride()})
	if err != nil {
		ps.add(manifest.RenderProblem(rel, pkg, err))
		return ""
	}
	var app struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(res.App, &app) != nil || app.ID == "" {
		ps.add(&manifest.Problem{File: rel.File, Field: "spec.appId",
			Reason: fmt.Sprintf("%s renders an app without an id: set spec.appId", pkg)})
		return ""
	}
	return "/" + strings.TrimPrefix(app.ID, "/")
}

// anyHas reports whether any repository has a package of that name.
func anyHas(repos []*universe.Repository, name string) bool {
	for _, r := range repos {
		if len(r.Revisions(name)) > 0 {
			return true
		}
	}
	return false
}

// shortCommit shortens a Git commit for messages.
func shortCommit(c string) string {
	if git.IsCommitRef(c) {
		return c[:12]
	}
	return c
}
