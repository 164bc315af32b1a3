package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/universe-operator/universe-operator/clients/dcosauth"
	"github.com/universe-operator/universe-operator/clients/git"
	"github.com/universe-operator/universe-operator/clients/marathon"
	"github.com/universe-operator/universe-operator/clients/mesos"
	"github.com/universe-operator/universe-operator/clients/zookeeper"
	"github.com/universe-operator/universe-operator/config"
	"github.com/universe-operator/universe-operator/controller"
	"github.com/universe-operator/universe-operator/reconcile"
	"github.com/universe-operator/universe-operator/source"
	"github.com/universe-operator/universe-operator/state"
)

func init() { addCommand(newRunCommand) }

func newRunCommand() *cobra.Command {
	var cfgFile string
	var shutdown time.Duration
	cmd := &cobra.Command{
		Use:   "run --config FILE",
		Short: "Run the controller: keep Marathon equal to what Git declares, and serve the UI, API and metrics",
		Long: `Run the reconcile loop and its HTTP server (UI, JSON API, /metrics, /healthz,
/readyz, the Git webhook) as the configuration file says. SIGINT or SIGTERM
stop it gracefully: event streams are closed, the HTTP server drains, work in
progress finishes its current Marathon call.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfgFile == "" {
				return usagef("run: --config FILE is required")
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			return runController(ctx, cmd.ErrOrStderr(), cfgFile, shutdown)
		},
	}
	cmd.Flags().StringVar(&cfgFile, "config", "", "controller configuration file (YAML or JSON)")
	cmd.Flags().DurationVar(&shutdown, "shutdown-timeout", 15*time.Second, "how long a graceful shutdown may take")
	return cmd
}

// newLogger builds the process logger from the configuration.
func newLogger(w io.Writer, level string) (*logrus.Logger, error) {
	l := logrus.New()
	l.SetOutput(w)
	l.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, TimestampFormat: time.RFC3339})
	if level == "" {
		level = config.DefaultLogLevel
	}
	lv, err := logrus.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("log_level %q: %w", level, err)
	}
	l.SetLevel(lv)
	return l, nil
}

// wired is a controller built from a configuration, with what must be
// closed after it.
type wired struct {
	c       *controller.Controller
	closers []func()
}

func (w *wired) close() {
	for i := len(w.closers) - 1; i >= 0; i-- {
		w.closers[i]()
	}
}

// wire maps the configuration to clients and builds the controller:
// cluster auth (dcosauth from files/env), Marathon (HA URL list), Mesos
// (service links of frameworks), the sources with their Git cache, the
// state store (ZooKeeper when configured, else files under state_dir) and
// the leader gate (ZooKeeper election when configured, else always leader).
// leaderless skips the election (diff, which never writes).
func wire(ctx context.Context, cfg *config.Config, log logrus.FieldLogger, leaderless bool) (w *wired, err error) {
	w = &wired{}
	defer func() {
		if err != nil {
			w.close()
		}
	}()
	reg := prometheus.NewRegistry()
	id, _ := os.Hostname()
	if id == "" {
		id = "universe-operator"
	}
	if _, port, err := net.SplitHostPort(cfg.Listen); err == nil {
		id += ":" + port
	}

	cacheDir := cfg.CacheDir
	if cacheDir == "" {
		cacheDir = cfg.StateDir + "/cache"
	}
	gc, err := git.New(git.Options{CacheDir: cacheDir, Logger: log.WithField("component", "git"), Registerer: reg})
	if err != nil {
		return nil, err
	}
	sopts := source.Options{Git: gc, Logger: log.WithField("component", "source")}
	unis, err := source.NewUniverses(cfg.Universes, sopts)
	if err != nil {
		return nil, err
	}
	rels, err := source.NewReleases(cfg.Releases, sopts)
	if err != nil {
		return nil, err
	}

	mauth, err := cfg.Marathon.DCOSAuth()
	if err != nil {
		return nil, fmt.Errorf("marathon auth: %w", err)
	}
	mauth.Logger = log.WithField("component", "dcosauth")
	mrt, err := dcosauth.NewTransport(mauth)
	if err != nil {
		return nil, fmt.Errorf("marathon auth: %w", err)
	}
	obs, err := controller.MarathonObserver(reg)
	if err != nil {
		return nil, err
	}
	mc, err := marathon.New(marathon.Options{URL: strings.Join(cfg.Marathon.URLs, ","), Transport: mrt,
		ClientID: id, Observer: obs, Logger: log.WithField("component", "marathon")})
	if err != nil {
		return nil, err
	}

	var frameworks controller.Frameworks
	if cfg.Mesos.Configured() {
		aauth, err := cfg.Mesos.DCOSAuth()
		if err != nil {
			return nil, fmt.Errorf("mesos auth: %w", err)
		}
		rt, err := dcosauth.NewTransport(aauth)
		if err != nil {
			return nil, fmt.Errorf("mesos auth: %w", err)
		}
		mesosClient, err := mesos.New(mesos.Options{URL: cfg.Mesos.URLs[0], Transport: rt})
		if err != nil {
			return nil, err
		}
		frameworks = mesosFrameworks{mesosClient}
	}

	var store state.Store
	var leader controller.Leader
	if zkc := cfg.ZooKeeper; zkc != nil && len(zkc.Servers) > 0 {
		zctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		zc, err := zookeeper.Connect(zctx, zkc.Servers, zookeeper.WithRoot(zkc.Path),
			zookeeper.WithSessionTimeout(zkc.SessionTimeout.Duration), zookeeper.WithLogger(log))
		cancel()
		if err != nil {
			return nil, fmt.Errorf("zookeeper: %w", err)
		}
		w.closers = append(w.closers, zc.Close)
		store = state.NewZooKeeper(zc)
		if !leaderless {
			cand, err := zookeeper.Campaign(ctx, zc, zookeeper.ElectionOptions{ID: id})
			if err != nil {
				return nil, fmt.Errorf("zookeeper election: %w", err)
			}
			w.closers = append(w.closers, func() {
				rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = cand.Resign(rctx)
			})
			leader = controller.NewElectionLeader(ctx, cand)
		}
	} else {
		fs, err := state.OpenFile(cfg.StateDir)
		if err != nil {
			return nil, err
		}
		store = fs
	}
	w.closers = append(w.closers, func() { _ = store.Close() })

	var uiToken string
	if cfg.UI != nil {
		if uiToken, err = cfg.UI.Token(); err != nil {
			return nil, fmt.Errorf("ui token: %w", err)
		}
	}
	var secret []byte
	if cfg.Webhook != nil {
		if secret, err = cfg.Webhook.Secret(); err != nil {
			return nil, fmt.Errorf("webhook secret: %w", err)
		}
	}
	c, err := controller.New(controller.Options{
		Marathon: mc, Sources: controller.NewSourceSet(unis, rels, log), Store: store, Leader: leader,
		Frameworks: frameworks, Logger: log, Registry: reg,
		Workers: cfg.Workers, Interval: cfg.Interval.Duration, StuckAfter: cfg.StuckDeploymentAfter.Duration,
		ProgressDeadline: cfg.ProgressDeadline.Duration, Prune: cfg.PruneEnabled(), PruneMaxFraction: cfg.PruneMaxFraction,
		PruneAllowEmpty: cfg.PruneAllowEmpty, DCOSVersion: cfg.DCOSVersion, Version: version, ID: id,
		UIToken: uiToken, WebhookSecret: secret,
	})
	if err != nil {
		return nil, err
	}
	w.c = c
	return w, nil
}

// mesosFrameworks lists Mesos frameworks for service links.
type mesosFrameworks struct{ c *mesos.Client }

func (m mesosFrameworks) Frameworks(ctx context.Context) ([]reconcile.Framework, error) {
	list, err := m.c.Frameworks(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]reconcile.Framework, 0, len(list))
	for _, f := range list {
		out = append(out, reconcile.Framework{ID: f.ID, Name: f.Name, WebUIURL: f.WebUIURL})
	}
	return out, nil
}

// runController is `universe-operator run`.
func runController(ctx context.Context, stderr io.Writer, cfgFile string, shutdown time.Duration) error {
	cfg, err := config.Load(cfgFile)
	if err != nil {
		return err
	}
	log, err := newLogger(stderr, cfg.LogLevel)
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	w, err := wire(ctx, cfg, log, false)
	if err != nil {
		ln.Close()
		return err
	}
	defer w.close()
	c := w.c
	// No WriteTimeout: it would cut the event streams (they set per-write
	// deadlines themselves).
	srv := &http.Server{Handler: c.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	srvErr := make(chan error, 1)
	go func() {
		log.WithField("listen", ln.Addr().String()).Info("serving the UI, API and metrics")
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			srvErr <- err
		}
		close(srvErr)
	}()
	runCtx, cancelRun := context.WithCancel(ctx)
	runDone := make(chan error, 1)
	go func() { runDone <- c.Run(runCtx) }()

	var failure error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-srvErr:
		if err != nil {
			failure = fmt.Errorf("http server: %w", err)
		}
	case err := <-runDone:
		failure = err
		runDone = nil
	}
	cancelRun()
	c.Stream().Close()
	sctx, cancel := context.WithTimeout(context.Background(), shutdown)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.WithError(err).Warn("http server did not drain in time")
	}
	if runDone != nil {
		select {
		case err := <-runDone:
			if failure == nil {
				failure = err
			}
		case <-sctx.Done():
			log.Warn("the reconcile loop did not stop in time")
		}
	}
	log.Info("stopped")
	return failure
}
