package devenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/sirupsen/logrus"

	"github.com/universe-operator/universe-operator/api"
	"github.com/universe-operator/universe-operator/config"
	"github.com/universe-operator/universe-operator/controller/webhook"
	"github.com/universe-operator/universe-operator/sim"
	"github.com/universe-operator/universe-operator/sim/marathon"
	"github.com/universe-operator/universe-operator/ui"
)

// Defaults of Options.
const (
	DefaultListen          = "127.0.0.1:8080"
	DefaultSimulatorListen = "127.0.0.1:0"
	DefaultInterval        = 5 * time.Second
	// DefaultWatchInterval is how often the repository's branch is checked
	// for a new commit (a local file read).
	DefaultWatchInterval = 500 * time.Millisecond
	// PrefixPath is where Admin Router serves the controller on a cluster;
	// `dev` serves it there too, next to "/".
	PrefixPath = "/service/universe-operator"
)

// Workspace layout, relative to Options.Dir.
const (
	RepoDirName    = "gitops"
	ConfigFileName = "config.yaml"
	StateDirName   = "state"
	markerFileName = ".universe-operator-dev"
)

// clusterPrefixes are the simulated cluster's paths that the UI address
// serves too, as one DC/OS Admin Router would: the UI's service links
// (/service/<name>/) then lead somewhere.
var clusterPrefixes = []string{"/service/", "/marathon/", "/mesos/", "/simulator/", "/acs/", "/dcos-metadata/"}

// Controller is what `dev` needs of the controller; *controller.Controller
// implements it.
type Controller interface {
	// Run is the reconcile loop; it returns when ctx ends.
	Run(ctx context.Context) error
	// Handler serves the API and the UI relative to its mount point.
	Handler() http.Handler
	// Releases is the current status of every release.
	Releases() api.ReleaseList
	// Push asks for an immediate fetch of the sources a push concerns.
	Push(p webhook.Push)
	// Stream is the UI's event stream (closed before the server drains).
	Stream() *ui.Stream
}

// WireFunc builds the controller from a configuration: `dev` passes the
// same wiring `universe-operator run` uses. close releases what it opened.
type WireFunc func(ctx context.Context, cfg *config.Config, log logrus.FieldLogger) (c Controller, close func(), err error)

// Options configures Start.
type Options struct {
	// Dir is the workspace: the Git repository, the generated configuration
	// and the controller's state. "" creates a new directory under $TMPDIR.
	// An existing workspace of an earlier run is resumed (its repository
	// and state are kept); any other non-empty directory is refused.
	Dir string
	// Listen is the address of the UI and API (default 127.0.0.1:8080;
	// port 0 = any free port).
	Listen string
	// SimulatorListen is the address of the simulated cluster (default a
	// free loopback port).
	SimulatorListen string
	// Fast runs the simulator at test speed (deployments in milliseconds)
	// and polls every second.
	Fast bool
	// Simulator, when not nil, replaces the simulator options Fast or the
	// realistic defaults would give (tests).
	Simulator *sim.Options
	// Interval is the controller's poll interval (default 5s, 1s with Fast).
	Interval time.Duration
	// WatchInterval is how often the branch is checked for new commits
	// (default 500ms).
	WatchInterval time.Duration
	// LogLevel is the controller's log level, written to the configuration.
	LogLevel string
	// Logger receives the logs of the simulator and of `dev` itself; the
	// controller gets it through Wire (default: discarded).
	Logger logrus.FieldLogger
	// Wire builds the controller (required).
	Wire WireFunc
}

// RealisticSimulator returns the simulator options `dev` uses by default:
// Marathon deployments of 3 s, tasks staging for 1 s, health-check results
// 2 s after a task runs (a real Marathon waits each check's delaySeconds,
// 15 s by default, before the first check; the rest of the health-check
// timing, intervalSeconds, gracePeriodSeconds and maxConsecutiveFailures,
// is the app's own), SDK deploy steps of 2 s.
func RealisticSimulator() sim.Options {
	return sim.Options{
		Marathon: marathon.Options{Timing: marathon.Timing{
			DeploymentDuration: 3 * time.Second,
			TaskStageDuration:  time.Second,
			HealthDelay:        2 * time.Second,
			TimeScale:          1,
		}},
	}
}

// Env is a running development environment.
type Env struct {
	// Dir is the workspace.
	Dir string
	// Created reports that Dir was created by this run (not resumed).
	Created bool
	// Repo is the seeded (or resumed) Git repository.
	Repo *Repo
	// ConfigFile is the generated controller configuration.
	ConfigFile string
	// Config is ConfigFile as loaded.
	Config *config.Config
	// StateDir is the controller's state directory.
	StateDir string
	// UIURL is the UI's URL at the root, with a trailing slash.
	UIURL string
	// PrefixURL is the UI under Admin Router's prefix, with a trailing slash.
	PrefixURL string
	// SimulatorURL is the simulated cluster's base URL (no trailing slash).
	SimulatorURL string
	// Cluster is the simulated cluster.
	Cluster *sim.Cluster
	// Controller is the running controller.
	Controller Controller
	// Started is when Start began.
	Started time.Time

	fast bool // the simulator runs at test speed

	log       logrus.FieldLogger
	srv       *http.Server
	simSrv    *sim.Server
	closeCtrl func()
	cancel    context.CancelFunc
	runDone   chan struct{}
	runErr    error
	srvErr    chan error
	failed    chan error
	bg        sync.WaitGroup

	readyOnce sync.Once
	ready     chan struct{}
	readyAt   time.Time
	readySum  []ReleaseSummary

	shutdownOnce sync.Once
	shutdownErr  error
}

// Start prepares the workspace (seeding the repository on first use),
// starts the simulated cluster, writes and loads the configuration, builds
// the controller with opts.Wire, serves the UI and starts the reconcile
// loop, the repository watcher and the readiness monitor. Stop it with
// Shutdown.
func Start(ctx context.Context, opts Options) (_ *Env, err error) {
	started := time.Now()
	if opts.Wire == nil {
		return nil, errors.New("devenv: Options.Wire is required")
	}
	if opts.Listen == "" {
		opts.Listen = DefaultListen
	}
	if opts.SimulatorListen == "" {
		opts.SimulatorListen = DefaultSimulatorListen
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
		if opts.Fast {
			opts.Interval = time.Second
		}
	}
	if opts.WatchInterval <= 0 {
		opts.WatchInterval = DefaultWatchInterval
	}
	log := opts.Logger
	if log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		log = l
	}
	e := &Env{Started: started, log: log, ready: make(chan struct{}), runDone: make(chan struct{}),
		srvErr: make(chan error, 1), failed: make(chan error, 1)}
	var cleanup []func()
	defer func() {
		if err != nil {
			for i := len(cleanup) - 1; i >= 0; i-- {
				cleanup[i]()
			}
		}
	}()

	// Listen first: a busy port is the most likely problem, and says so
	// before anything is created.
	uiLn, err := listen(opts.Listen, "--listen")
	if err != nil {
		return nil, err
	}
	cleanup = append(cleanup, func() { _ = uiLn.Close() })
	simLn, err := listen(opts.SimulatorListen, "--simulator-listen")
	if err != nil {
		return nil, err
	}
	cleanup = append(cleanup, func() { _ = simLn.Close() })
	if host, _, _ := net.SplitHostPort(opts.Listen); !isLoopback(host) {
		log.WithField("listen", opts.Listen).Warn("the UI and API of `dev` have no authentication: anyone who can reach this address can use them")
	}

	if err := e.prepareWorkspace(opts.Dir); err != nil {
		return nil, err
	}
	repo, err := SeedRepo(filepath.Join(e.Dir, RepoDirName), time.Now())
	if err != nil {
		return nil, err
	}
	e.Repo = repo
	if repo.Reused {
		log.WithField("dir", repo.Dir).Info("resuming the workspace: the repository and the controller state are kept")
	} else {
		log.WithFields(logrus.Fields{"dir": repo.Dir, "commit": repo.Seed[:12]}).Info("seeded the Git repository with the example packages and releases")
	}

	simOpts := RealisticSimulator()
	if opts.Fast {
		simOpts = sim.FastOptions()
	}
	if opts.Simulator != nil {
		simOpts = *opts.Simulator
	}
	e.fast = simOpts.Marathon.Timing.TimeScale > 0 && simOpts.Marathon.Timing.TimeScale < 0.01
	simOpts.Log = log.WithField("component", "simulator")
	if simOpts.DCOSVersion == "" {
		simOpts.DCOSVersion = "2.2.0"
	}
	cluster := sim.New(simOpts)
	e.simSrv = sim.Serve(cluster, simLn)
	cleanup = append(cleanup, e.simSrv.Close)
	e.Cluster, e.SimulatorURL = cluster, e.simSrv.URL

	e.ConfigFile = filepath.Join(e.Dir, ConfigFileName)
	e.StateDir = filepath.Join(e.Dir, StateDirName)
	cfg, err := WriteConfig(e.ConfigFile, ConfigParams{ClusterURL: e.SimulatorURL, RepoURL: repo.URL,
		Listen: uiLn.Addr().String(), StateDir: e.StateDir, Interval: opts.Interval, LogLevel: opts.LogLevel,
		DCOSVersion: simOpts.DCOSVersion})
	if err != nil {
		return nil, err
	}
	e.Config = cfg

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e.cancel = cancel
	cleanup = append(cleanup, cancel)
	ctrl, closeCtrl, err := opts.Wire(runCtx, cfg, log)
	if err != nil {
		return nil, fmt.Errorf("starting the controller: %w", err)
	}
	if closeCtrl == nil {
		closeCtrl = func() {}
	}
	cleanup = append(cleanup, closeCtrl)
	e.Controller, e.closeCtrl = ctrl, closeCtrl

	base := "http://" + uiLn.Addr().String()
	e.UIURL, e.PrefixURL = base+"/", base+PrefixPath+"/"
	// No WriteTimeout: it would cut the event streams.
	e.srv = &http.Server{Handler: Mux(ctrl.Handler(), cluster.Handler()), ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout: 2 * time.Minute}
	go func() {
		if err := e.srv.Serve(uiLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.fail(fmt.Errorf("serving the UI on %s: %w", uiLn.Addr(), err))
		}
	}()
	go func() {
		defer close(e.runDone)
		e.runErr = ctrl.Run(runCtx)
		if runCtx.Err() == nil {
			err := e.runErr
			if err == nil {
				err = errors.New("the reconcile loop stopped")
			}
			e.fail(err)
		}
	}()
	e.bg.Add(2)
	go func() { defer e.bg.Done(); e.watchRepo(runCtx, opts.WatchInterval) }()
	go func() { defer e.bg.Done(); e.monitor(runCtx) }()
	log.WithFields(logrus.Fields{"ui": e.UIURL, "simulator": e.SimulatorURL, "config": e.ConfigFile}).Info("dev environment started")
	return e, nil
}

// listen opens a TCP listener and words the common failure.
func listen(addr, flag string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("%s %s: the address is in use (another `universe-operator dev`?): choose another port, or port 0 for any free one", flag, addr)
	}
	return nil, fmt.Errorf("%s %s: %w", flag, addr, err)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// prepareWorkspace creates or resumes the workspace directory.
func (e *Env) prepareWorkspace(dir string) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "universe-operator-dev-")
		if err != nil {
			return fmt.Errorf("creating the workspace: %w", err)
		}
		e.Dir, e.Created = d, true
		return os.WriteFile(filepath.Join(d, markerFileName), []byte("universe-operator dev workspace\n"), 0o644)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	e.Dir = abs
	entries, err := os.ReadDir(abs)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return fmt.Errorf("--dir %s: %w", dir, err)
		}
	case err != nil:
		return fmt.Errorf("--dir %s: %w", dir, err)
	case len(entries) > 0:
		if _, err := os.Stat(filepath.Join(abs, markerFileName)); err != nil {
			return fmt.Errorf("--dir %s: the directory is not empty and is not a workspace of `universe-operator dev`: refusing to use it", dir)
		}
		return nil // resumed
	}
	e.Created = true
	return os.WriteFile(filepath.Join(abs, markerFileName), []byte("universe-operator dev workspace\n"), 0o644)
}

// Mux serves the controller at "/" and at PrefixPath (as Admin Router
// would, prefix stripped) and the simulated cluster's Admin Router paths
// (/service/<name>/, /marathon/, /mesos/, /simulator/, ...) beside it, so
// the service links the UI shows open the simulated services.
func Mux(ctrl, cluster http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(PrefixPath+"/", http.StripPrefix(PrefixPath, ctrl))
	mux.HandleFunc(PrefixPath, func(w http.ResponseWriter, r *http.Request) {
		target := PrefixPath + "/"
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusMovedPermanently)
	})
	for _, p := range clusterPrefixes {
		mux.Handle(p, cluster)
	}
	mux.Handle("/", ctrl)
	return mux
}

// fail records the first fatal error of a background part.
func (e *Env) fail(err error) {
	select {
	case e.failed <- err:
	default:
	}
}

// Failed delivers the error of a part that stopped on its own (the HTTP
// server or the reconcile loop); the caller should then Shutdown.
func (e *Env) Failed() <-chan error { return e.failed }

// watchRepo notices new commits on the branch and asks the controller to
// fetch at once, as a Git server's webhook would.
func (e *Env) watchRepo(ctx context.Context, every time.Duration) {
	r, err := gogit.PlainOpen(e.Repo.Dir)
	if err != nil {
		e.log.WithError(err).Warn("not watching the repository (changes are picked up at the poll interval)")
		return
	}
	ref := plumbing.NewBranchReferenceName(Branch)
	last := ""
	if h, err := r.Reference(ref, true); err == nil {
		last = h.Hash().String()
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h, err := r.Reference(ref, true)
		if err != nil {
			continue // a ref being rewritten; look again next time
		}
		if now := h.Hash().String(); now != last {
			last = now
			e.log.WithFields(logrus.Fields{"revision": now[:12], "ref": ref.String()}).Info("new commit in the repository: fetching")
			e.Controller.Push(webhook.Push{Provider: "dev", Event: "commit", Ref: ref.String(), After: now, URLs: []string{e.Repo.URL}})
		}
	}
}

// monitor waits until every release is up and reports it once.
func (e *Env) monitor(ctx context.Context) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		list := e.Controller.Releases()
		if !sourcesLoaded(list.Controller) {
			continue
		}
		sums, ok := Summarize(list.Releases, HealthChecksFromHandler(e.Controller.Handler()))
		if !ok {
			continue
		}
		e.readyOnce.Do(func() {
			e.readyAt, e.readySum = time.Now(), sums
			close(e.ready)
		})
		took := e.readyAt.Sub(e.Started)
		e.log.WithField("after", took.Round(10*time.Millisecond).String()).Infof("all %d releases are up", len(sums))
		return
	}
}

// sourcesLoaded reports whether the controller has loaded every source.
func sourcesLoaded(c *api.ControllerInfo) bool {
	if c == nil || len(c.Sources) == 0 {
		return false
	}
	for _, s := range c.Sources {
		if !s.Healthy || s.Revision == "" {
			return false
		}
	}
	return true
}

// Ready is closed once every release is up for the first time (see Up).
func (e *Env) Ready() <-chan struct{} { return e.ready }

// ReadyAfter returns how long after Start every release was up, and the
// releases at that moment (zero and nil until Ready is closed).
func (e *Env) ReadyAfter() (time.Duration, []ReleaseSummary) {
	select {
	case <-e.ready:
		return e.readyAt.Sub(e.Started), e.readySum
	default:
		return 0, nil
	}
}

// Shutdown stops everything gracefully: the reconcile loop, the event
// streams, the HTTP server (draining requests until ctx ends), the
// controller's clients and the simulated cluster. The workspace is kept.
func (e *Env) Shutdown(ctx context.Context) error {
	e.shutdownOnce.Do(func() {
		e.cancel()
		e.Controller.Stream().Close()
		var errs []error
		if err := e.srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("the HTTP server did not drain in time: %w", err))
			_ = e.srv.Close()
		}
		select {
		case <-e.runDone:
			if e.runErr != nil && !errors.Is(e.runErr, context.Canceled) {
				errs = append(errs, e.runErr)
			}
		case <-ctx.Done():
			errs = append(errs, errors.New("the reconcile loop did not stop in time"))
		}
		e.bg.Wait()
		e.closeCtrl()
		e.simSrv.Close()
		e.shutdownErr = errors.Join(errs...)
	})
	return e.shutdownErr
}
