package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/universe-operator/universe-operator/config"
	"github.com/universe-operator/universe-operator/devenv"
)

func init() { addCommand(newDevCommand) }

// devFlags are the flags of `universe-operator dev`.
type devFlags struct {
	listen, simListen, dir, logLevel string
	fast                             bool
	interval, shutdown               time.Duration
}

func newDevCommand() *cobra.Command {
	var f devFlags
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Try universe-operator in one command: a simulated cluster, a seeded Git repository and the controller with its UI",
		Long: `Start, in one process, a simulated DC/OS cluster (Marathon, Mesos, SDK
schedulers) on loopback, a local Git repository seeded with example packages
and release manifests, and the controller with its UI, configured as
` + "`universe-operator run`" + ` would be. It prints what to open and commands to try
an upgrade, a health flip and a delete by committing to the repository.

The workspace (repository, generated config.yaml, controller state) is a new
directory under $TMPDIR unless --dir names one; it is kept when dev stops, and
--dir resumes it. Running needs no git binary; the printed commands use git
and curl. SIGINT or SIGTERM stop it gracefully.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.shutdown <= 0 {
				return usagef("dev: --shutdown-timeout must be positive")
			}
			if f.interval < 0 || (f.interval > 0 && f.interval < time.Second) {
				return usagef("dev: --interval must be at least 1s")
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			return runDev(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", devenv.DefaultListen, "address of the UI and API (port 0 = any free port)")
	fl.StringVar(&f.simListen, "simulator-listen", devenv.DefaultSimulatorListen, "address of the simulated cluster (Marathon at /service/marathon/, control API at /simulator/v1/)")
	fl.StringVar(&f.dir, "dir", "", "workspace directory (default: a new directory under $TMPDIR); an existing workspace is resumed")
	fl.BoolVar(&f.fast, "fast", false, "run the simulated cluster at test speed (deployments in milliseconds)")
	fl.DurationVar(&f.interval, "interval", 0, "controller poll interval (default 5s, 1s with --fast); commits are noticed at once anyway")
	fl.StringVar(&f.logLevel, "log-level", config.DefaultLogLevel, "log level: debug, info, warn, error")
	fl.DurationVar(&f.shutdown, "shutdown-timeout", 10*time.Second, "how long a graceful shutdown may take")
	return cmd
}

// devWire adapts wire (the `run` wiring) to devenv.
func devWire(ctx context.Context, cfg *config.Config, log logrus.FieldLogger) (devenv.Controller, func(), error) {
	w, err := wire(ctx, cfg, log, false)
	if err != nil {
		return nil, nil, err
	}
	return w.c, w.close, nil
}

// devOptions maps the flags to devenv options.
func devOptions(f devFlags, log logrus.FieldLogger) devenv.Options {
	return devenv.Options{Dir: f.dir, Listen: f.listen, SimulatorListen: f.simListen, Fast: f.fast,
		Interval: f.interval, LogLevel: f.logLevel, Logger: log, Wire: devWire}
}

// runDev is `universe-operator dev`: logs go to stderr, the instructions
// and the readiness notice to stdout.
func runDev(ctx context.Context, stdout, stderr io.Writer, f devFlags) error {
	log, err := newLogger(stderr, f.logLevel)
	if err != nil {
		return usagef("dev: --log-level: %v", err)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	env, err := devenv.Start(ctx, devOptions(f, log))
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, "\n"+env.Instructions()+"\n")

	var failure error
	ready := env.Ready()
wait:
	for {
		select {
		case <-ready:
			ready = nil
			took, sums := env.ReadyAfter()
			fmt.Fprintf(stdout, ">>> All %d releases are up, %.1f s after start: %s\n>>> Open %s and try the commands above.\n\n",
				len(sums), took.Seconds(), devenv.SummaryLine(sums), env.UIURL)
		case failure = <-env.Failed():
			break wait
		case <-ctx.Done():
			log.Info("shutting down")
			break wait
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), f.shutdown)
	defer cancel()
	if err := env.Shutdown(sctx); err != nil && failure == nil {
		failure = err
	}
	log.WithField("dir", env.Dir).Info("stopped; the workspace is kept")
	return failure
}
