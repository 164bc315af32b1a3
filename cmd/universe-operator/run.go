package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
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
	"github.com/universe-operator/universe-operator/clients/sdk"
	"github.com/universe-operator/universe-operator/clients/zookeeper"
	"github.com/universe-operator/universe-operator/config"
	"github.com/universe-operator/universe-operator/controller"
	"github.com/universe-operator/universe-operator/reconcile"
	"github.com/universe-operator/universe-operator/source"
	"github.com/universe-operator/universe-operator/state"
	"github.com/universe-operator/universe-operator/uninstall"
)

func init() { addCommand(newRunCommand) }

func newRunCommand() *cobra.Command {
	var cfgFile, cfgEnv string
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
			if cfgFile == "" && cfgEnv == "" {
				return usagef("run: --config FILE is required")
			}
			if cfgFile != "" && cfgEnv != "" {
				return usagef("run: --config and --config-env exclude each other")
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			return runController(ctx, cmd.ErrOrStderr(), configSource{file: cfgFile, env: cfgEnv}, shutdown)
		},
	}
	cmd.Flags().StringVar(&cfgFile, "config", "", "controller configuration file (YAML or JSON)")
	cmd.Flags().StringVar(&cfgEnv, "config-env", "", "read the configuration (YAML or JSON text) from this environment variable instead of a file; relative paths in it are relative to the working directory (the DC/OS package uses it: its image has no shell to write a file)")
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
	var mesosClient *mesos.Client
	if cfg.Mesos.Configured() {
		aauth, err := cfg.Mesos.DCOSAuth()
		if err != nil {
			return nil, fmt.Errorf("mesos auth: %w", err)
		}
		rt, err := dcosauth.NewTransport(aauth)
		if err != nil {
			return nil, fmt.Errorf("mesos auth: %w", err)
		}
		if mesosClient, err = mesos.New(mesos.Options{URL: cfg.Mesos.URLs[0], Transport: rt}); err != nil {
			return nil, err
		}
		frameworks = mesosFrameworks{mesosClient}
	}

	var store state.Store
	var leader controller.Leader
	var zkRoot *zookeeper.Client // the janitor's view of the whole tree
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
		zkRoot = zc.At("/")
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
	if uiToken == "" {
		log.Warn("no UI token (ui.token_file / ui.token_env): sync and rollback are open to anyone who can reach the API")
	}
	var secret []byte
	if cfg.Webhook != nil {
		if secret, err = cfg.Webhook.Secret(); err != nil {
			return nil, fmt.Errorf("webhook secret: %w", err)
		}
	}
	cleanup, err := newCleanupUninstaller(cfg, mc, mesosClient, zkRoot, store, id, log)
	if err != nil {
		return nil, err
	}
	c, err := controller.New(controller.Options{
		Marathon: mc, Sources: controller.NewSourceSet(unis, rels, log), Store: store, Leader: leader, Uninstaller: cleanup,
		Frameworks: frameworks, Logger: log, Registry: reg,
		Workers: cfg.Workers, Interval: cfg.Interval.Duration, StuckAfter: cfg.StuckDeploymentAfter.Duration,
		ProgressDeadline: cfg.ProgressDeadline.Duration, Prune: cfg.PruneEnabled(), PruneMaxFraction: cfg.PruneMaxFraction,
		PruneAllowEmpty: cfg.PruneAllowEmpty, DCOSVersion: cfg.DCOSVersion, Version: version, ID: id,
		UIToken: uiToken, WebhookSecret: secret, HistoryLimit: cfg.HistoryLimit,
	})
	if err != nil {
		return nil, err
	}
	w.c = c
	return w, nil
}

// newCleanupUninstaller builds the uninstall of issue 7 (package
// uninstall): Cosmos's uninstall plus the janitor, its pending work kept in
// the state store. Mesos, the SDK schedulers and ZooKeeper are optional:
// steps needing a missing one are reported as left to the operator.
func newCleanupUninstaller(cfg *config.Config, mc *marathon.Client, mes *mesos.Client, zk *zookeeper.Client,
	store state.Store, id string, log logrus.FieldLogger) (*controller.CleanupUninstaller, error) {
	cu := &controller.CleanupUninstaller{Logger: log.WithField("component", "uninstall")}
	opts := uninstall.Options{Marathon: mc, Store: store, ID: id, Logger: log.WithField("component", "uninstall"),
		OnEvent: cu.OnEvent}
	if mes != nil {
		opts.Mesos = mes
	}
	if zk != nil {
		opts.ZooKeeper = zk
	}
	if cfg.SDK.Configured() {
		a, err := cfg.SDK.DCOSAuth()
		if err != nil {
			return nil, fmt.Errorf("sdk auth: %w", err)
		}
		rt, err := dcosauth.NewTransport(a)
		if err != nil {
			return nil, fmt.Errorf("sdk auth: %w", err)
		}
		// The sdk client asks <base>/service/<name>/...; the configured
		// endpoint is the base of the schedulers themselves (default
		// <dcos_url>/service).
		u, err := url.Parse(cfg.SDK.URLs[0])
		if err != nil {
			return nil, fmt.Errorf("sdk url: %w", err)
		}
		var transport http.RoundTripper = rt
		base := strings.TrimSuffix(u.String(), "/")
		if p := strings.TrimSuffix(u.Path, "/"); p == "/service" || strings.HasSuffix(p, "/service") {
			base = strings.TrimSuffix(base, "/service")
		} else {
			transport = servicePrefix{path: p, next: rt}
			u.Path, u.RawPath = "", ""
			base = strings.TrimSuffix(u.String(), "/")
		}
		sc, err := sdk.New(sdk.Options{URL: base, Transport: transport})
		if err != nil {
			return nil, err
		}
		opts.SDK = sc
	}
	m, err := uninstall.New(opts)
	if err != nil {
		return nil, err
	}
	cu.Manager = m
	return cu, nil
}

// servicePrefix maps the sdk client's /service/<name>/... onto an SDK
// endpoint configured at another path: <path>/<name>/...
type servicePrefix struct {
	path string
	next http.RoundTripper
}

func (s servicePrefix) RoundTrip(r *http.Request) (*http.Response, error) {
	r2 := r.Clone(r.Context())
	r2.URL.Path = s.path + strings.TrimPrefix(r.URL.Path, "/service")
	r2.URL.RawPath = ""
	return s.next.RoundTrip(r2)
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

// configSource is where `run` reads its configuration: a file, or the
// text of an environment variable (--config-env).
type configSource struct{ file, env string }

// load reads and checks the configuration; text from an environment
// variable is named $NAME in messages and resolves relative paths against
// the working directory.
func (s configSource) load() (*config.Config, error) {
	if s.env == "" {
		return config.Load(s.file)
	}
	text, ok := os.LookupEnv(s.env)
	if !ok || strings.TrimSpace(text) == "" {
		return nil, fmt.Errorf("--config-env %s: the environment variable is not set or empty", s.env)
	}
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	return config.Parse(filepath.Join(wd, "$"+s.env), []byte(text))
}

// runController is `universe-operator run`.
func runController(ctx context.Context, stderr io.Writer, src configSource, shutdown time.Duration) error {
	cfg, err := src.load()
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
