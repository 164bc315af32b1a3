// Package sdk simulates DC/OS SDK (dcos-commons) schedulers: the HTTP plan API
// they serve behind Admin Router at /service/<name>/, their deploy plan, and
// the uninstall plan they run when their Marathon app gets SDK_UNINSTALL=true.
//
// # Plan API ((*Scheduler).ServeHTTP, paths relative to /service/<name>)
//
//	GET /<apiVersion>/plans            ["deploy","recovery"] (only ["deploy"] while uninstalling)
//	GET /<apiVersion>/plans/<plan>     {"phases":[{"id","name","steps":[{"id","status","name","message"}],
//	                                   "strategy","status"}],"strategy","errors":[],"status"}
//	                                   200 when the plan is COMPLETE, 202 Accepted while it is not,
//	                                   417 when it has errors, 404 text/plain "Plan <name> not found"
//
// apiVersion comes from the app label DCOS_COMMONS_API_VERSION (default v1); this
// is what dcos-commons' PlansQueries.get answers. Step statuses are PENDING,
// PREPARED, STARTING, COMPLETE and ERROR; phases and plans aggregate them
// (all COMPLETE = COMPLETE, all PENDING = PENDING, any ERROR = ERROR, else
// IN_PROGRESS). The uninstall plan's strategy is "dependency" (as
// UninstallPlanFactory builds it), the deploy plan's "serial".
//
// # Behaviour (what dcos-commons does, at simulator speed)
//
// Deploy: a scheduler registers a framework named after the service (role
// "<escaped>-role", principal "<name>-principal" or env FRAMEWORK_PRINCIPAL)
// with the Mesos master, writes its ZooKeeper node /dcos-service-<escaped>
// (children FrameworkID, SchemaVersion, Tasks/<task>), and runs a deploy plan with
// one phase "<pod>" (Options.PodType, default "node") of one step per pod
// ("node-0:[server]", ...). Each step takes Options.StepDuration; when it
// completes the pod's cpus/mem are reserved and a persistent volume created on
// its agent (labels resource_id=<uuid>, as the SDK labels its reservations), and
// a task runs on them. When the app definition changes (new version) the
// deploy plan runs again over the existing pods.
//
// Uninstall: when the app runs with env SDK_UNINSTALL=true the scheduler
// restarts as an uninstall scheduler whose plan is still named "deploy" (that
// is what Cosmos polls): phases "kill-tasks" (steps kill-task-<task id>),
// "unreserve-resources-<agent hostname>" (steps unreserve-<resource id>) and
// "deregister-service" (step "deregister": wipes the ZooKeeper node and
// removes the framework from Mesos), each step taking
// Options.UninstallStepDuration. The plan endpoint answers 202 until the plan is
// COMPLETE, then 200, and keeps answering 200 until the app is deleted. A
// scheduler that never registered a framework answers an empty COMPLETE plan
// at once (and wipes its ZooKeeper node), as dcos-commons does.
//
// Unlike a plain framework, an SDK service therefore removes its own framework,
// reservations, volumes and ZooKeeper node. If its app is deleted before the
// uninstall plan completes, the scheduler stops and whatever is left stays.
//
// Deviation: the real scheduler is down while Marathon redeploys it with
// SDK_UNINSTALL (Admin Router answers 502/404 then); the simulator keeps the old
// scheduler answering until the Marathon deployment finishes.
//
// # Go API
//
//	func New(opts Options) *Schedulers
//	type Options struct { Mesos Mesos; ZooKeeper ZooKeeper; StepDuration, UninstallStepDuration time.Duration;
//	                      Pods int; PodType string; CPUs, Mem, VolumeDisk float64 }
//	type Spec struct { Name, AppID, Version, APIVersion, Principal, WebUIURL string; Uninstall bool }
//	func (s *Schedulers) Run(spec Spec)         // the app runs at this definition (deploy or uninstall)
//	func (s *Schedulers) Stop(name string)      // the app is gone or scaled to 0
//	func (s *Schedulers) Scheduler(name string) *Scheduler  // nil unless running
//	func (s *Schedulers) Names() []string       // running schedulers
//	func (s *Schedulers) Summaries() []Summary
//	func (s *Schedulers) Faults() *fault.Injector
//	func (s *Schedulers) Handler(name string) http.Handler  // a scheduler's API with fault injection (nil if none)
//	func (s *Schedulers) Close()
//	func (sc *Scheduler) Plan(name string) (PlanInfo, bool)
//	func (sc *Scheduler) Uninstalling() bool
//	func (sc *Scheduler) FrameworkID() string
//	func (sc *Scheduler) ServeHTTP(w http.ResponseWriter, r *http.Request)
//	func EscapeName(service string) string   // "/prod/kafka" -> "prod__kafka"
//	func Role(service string) string         // "<escaped>-role"
//	func Principal(service string) string    // "<name>-principal" (name without leading "/")
//	func ZNode(service string) string        // "/dcos-service-<escaped>"
//
// Mesos and ZooKeeper are small interfaces satisfied by *mesos.Master and by
// the ZooKeeper stores of package sim (in-memory, or a real ZooKeeper).
package sdk
