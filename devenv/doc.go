// Package devenv is the engine of `universe-operator dev`: one process that
// runs a simulated DC/OS cluster, a local Git repository seeded with the
// example packages and releases, and the controller (built by the same
// wiring as `universe-operator run`) with its UI.
//
// # What Start does
//
//  1. Opens the UI listener (default 127.0.0.1:8080) and the simulator's
//     (default a free loopback port) first, so a busy port fails at once.
//
//  2. Creates the workspace (a new directory under $TMPDIR unless
//     Options.Dir names one; a workspace of an earlier run is resumed, any
//     other non-empty directory is refused):
//
//     gitops/       the Git repository (go-git, no git binary needed)
//     config.yaml   the controller configuration, regenerated at every start
//     state/        the controller's state_dir (history, pending cleanups, Git cache)
//
//  3. Seeds gitops/ (SeedRepo): branch main holds the example Universe tree
//     (examples.FS) under universe/repo/packages without hello-web revision
//     1, and releases/ with three manifests: hello-web (version latest, 2
//     instances), greeter (pinned to "1.0.0") and pingpong
//     (pingpong-framework, cleanup.janitor true). Branch
//     publish/hello-web-1.1.0 adds hello-web revision 1 on top: merging it
//     is the upgrade demo. The repository gets a local user identity so the
//     printed `git commit` commands work on a machine without one.
//
//  4. Starts the simulated cluster (sim.Serve): RealisticSimulator timing
//     (deployments 3 s, staging 1 s, first health result 2 s after a task
//     runs), sim.FastOptions with Options.Fast.
//
//  5. Writes config.yaml (ConfigYAML: dcos_url = the simulator, universes
//     and releases = file://<repo>/.git, interval 5 s, state_dir,
//     listen) and loads it with config.Load, exactly as `run` would.
//
//  6. Builds the controller with Options.Wire and serves Mux on the UI
//     listener: the controller at "/" and at /service/universe-operator/
//     (prefix stripped, as Admin Router does), and the simulated cluster's
//     paths (/service/<name>/, /marathon/, /mesos/, /simulator/, /acs/,
//     /dcos-metadata/) beside it, so the UI's service links open the
//     simulated services.
//
//  7. Runs the reconcile loop, a watcher that notices new commits on main
//     (every 500 ms) and pushes them to the controller as a webhook would,
//     and a monitor that closes Ready once every release is Up.
//
// # API
//
//	func Start(ctx context.Context, opts Options) (*Env, error)
//	type Options struct { Dir, Listen, SimulatorListen string; Fast bool; Simulator *sim.Options;
//	                      Interval, WatchInterval time.Duration; LogLevel string;
//	                      Logger logrus.FieldLogger; Wire WireFunc }
//	type WireFunc func(ctx, *config.Config, logrus.FieldLogger) (Controller, func(), error)
//	type Controller interface { Run(ctx) error; Handler() http.Handler; Releases() api.ReleaseList;
//	                            Push(webhook.Push); Stream() *ui.Stream }   // *controller.Controller
//	type Env struct { Dir, ConfigFile, StateDir, UIURL, PrefixURL, SimulatorURL string; Created bool;
//	                  Repo *Repo; Config *config.Config; Cluster *sim.Cluster; Controller Controller; Started time.Time }
//	func (e *Env) Instructions() string      // the banner `dev` prints
//	func (e *Env) Steps() []Step             // the commands to try (tests run them)
//	func (e *Env) Ready() <-chan struct{}    // closed once every release is Up
//	func (e *Env) ReadyAfter() (time.Duration, []ReleaseSummary)
//	func (e *Env) Failed() <-chan error      // the HTTP server or the loop stopped on its own
//	func (e *Env) Shutdown(ctx) error        // graceful; the workspace is kept
//
//	func SeedRepo(dir string, now time.Time) (*Repo, error)
//	func ConfigYAML(p ConfigParams) string; func WriteConfig(file string, p ConfigParams) (*config.Config, error)
//	func Mux(ctrl, cluster http.Handler) http.Handler
//	func RealisticSimulator() sim.Options
//	func Up(r api.Release, hasHealthChecks bool) bool
//	func Summarize(rels []api.Release, hc HealthChecksFunc) ([]ReleaseSummary, bool)
//	func HealthChecksFromHandler(h http.Handler) HealthChecksFunc
//	func DefinesHealthChecks(app []byte) (has, known bool)
//
// A release is Up when it is Synced, Marathon runs every instance
// (status Running) and DC/OS shows it Healthy; an app that defines no
// health checks can only be NA in the DC/OS UI, so NA counts for it. Every
// example package defines health checks, so `dev` waits for Healthy.
package devenv
