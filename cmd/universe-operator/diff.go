package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/universe-operator/universe-operator/config"
	"github.com/universe-operator/universe-operator/controller"
	"github.com/universe-operator/universe-operator/reconcile"
)

func init() { addCommand(newDiffCommand) }

func newDiffCommand() *cobra.Command {
	var cfgFile, output string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "diff --config FILE",
		Short: "Show what a sync would do now (create / update with a field-level diff / delete / nothing), without doing it",
		Long: `Load the sources and read Marathon exactly as the controller does, plan one
pass, and print it: releases to create, to update (each changed field with its
value in Git and in Marathon), to delete (with the uninstall steps, or why
pruning would refuse), failing releases with the reason, and those in sync.
Nothing is written. The exit code is 0 whatever the plan is; 1 when the
sources or Marathon cannot be read.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfgFile == "" {
				return usagef("diff: --config FILE is required")
			}
			if output != "text" && output != "json" {
				return usagef("diff: --output must be text or json")
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			return runDiff(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), cfgFile, output)
		},
	}
	cmd.Flags().StringVar(&cfgFile, "config", "", "controller configuration file (YAML or JSON)")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "time limit for reading the sources and Marathon")
	return cmd
}

func runDiff(ctx context.Context, stdout, stderr io.Writer, cfgFile, output string) error {
	cfg, err := config.Load(cfgFile)
	if err != nil {
		return err
	}
	log, err := newLogger(stderr, "warn")
	if err != nil {
		return err
	}
	// diff may run beside the controller (the state store and the Git
	// cache lock themselves) or on a workstation where state_dir does not
	// exist: then a temporary directory stands in for both.
	if err := os.MkdirAll(cfg.CacheDir, 0o755); err != nil {
		tmp, terr := os.MkdirTemp("", "universe-operator-diff-")
		if terr != nil {
			return terr
		}
		defer os.RemoveAll(tmp)
		cfg.StateDir, cfg.CacheDir = tmp, tmp+"/cache"
	}
	w, err := wire(ctx, cfg, log, true)
	if err != nil {
		return err
	}
	defer w.close()
	rep, err := w.c.Diff(ctx)
	if err != nil {
		return err
	}
	if output == "json" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	printDiff(stdout, rep)
	return nil
}

// printDiff writes the plan for people.
func printDiff(out io.Writer, rep *controller.DiffReport) {
	for _, s := range rep.Sources {
		if !s.Healthy {
			fmt.Fprintf(out, "! source %s (%s) failed: %s\n", s.Name, s.Role, s.Error)
		}
	}
	kept := 0
	for _, it := range rep.Items {
		id := it.AppID
		if id == "" {
			id = "-"
		}
		switch reconcile.ActionKind(it.Action) {
		case reconcile.ActionCreate:
			fmt.Fprintf(out, "+ %s %s: create\n", it.Release, id)
		case reconcile.ActionUpdate, reconcile.ActionForceUpdate:
			fmt.Fprintf(out, "~ %s %s: %s (%s)\n", it.Release, id, it.Action, it.Reason)
			printChanges(out, it.Changes)
		case reconcile.ActionDelete:
			fmt.Fprintf(out, "- %s %s: delete (%s)\n", it.Release, id, it.Reason)
			for _, s := range it.Cleanup {
				fmt.Fprintf(out, "    step: %s\n", s)
			}
		case reconcile.ActionOrphan:
			kept++
			fmt.Fprintf(out, "! %s %s: kept (%s)\n", it.Release, id, it.Reason)
		case reconcile.ActionWait:
			fmt.Fprintf(out, "… %s %s: wait (%s)\n", it.Release, id, it.Reason)
			printChanges(out, it.Changes)
		case reconcile.ActionFail:
			fmt.Fprintf(out, "x %s %s: failing: %s\n", it.Release, id, it.Reason)
		default:
			why := "in sync"
			if it.Reason != "" && it.Reason != "in sync" {
				why = it.Reason
			}
			fmt.Fprintf(out, "= %s %s: %s\n", it.Release, id, why)
		}
	}
	if rep.PruneRefused != "" {
		fmt.Fprintf(out, "! prune: %s\n", rep.PruneRefused)
	}
	n := rep.Counts()
	fmt.Fprintf(out, "%d to create, %d to update, %d to delete, %d kept, %d waiting, %d failing, %d in sync\n",
		n["create"], n["update"]+n["force-update"], n["delete"], kept, n["wait"], n["fail"], n["nothing"])
}

func printChanges(out io.Writer, changes []reconcile.Change) {
	width := 0
	for _, c := range changes {
		width = max(width, len(c.Path))
	}
	show := func(v json.RawMessage, dflt bool) string {
		if v == nil {
			return "(absent)"
		}
		s := string(v)
		if len(s) > 200 {
			s = s[:200] + "…"
		}
		if dflt {
			s += " (default)"
		}
		return s
	}
	for _, c := range changes {
		fmt.Fprintf(out, "    %-*s  git: %s  marathon: %s\n", width, c.Path,
			show(c.Desired, c.Defaulted == reconcile.SideDesired), show(c.Actual, c.Defaulted == reconcile.SideActual))
	}
}
