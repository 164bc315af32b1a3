// Package sim composes a simulated DC/OS cluster laid out as Admin Router lays
// it out: Marathon (package sim/marathon), a Mesos master (sim/mesos), SDK
// schedulers (sim/sdk), the IAM login (sim/auth), a record of ZooKeeper nodes,
// and a control API for tests and demos.
//
// # Routes (Handler)
//
//	/service/marathon/...        Marathon (prefix stripped; Location headers re-prefixed)
//	/marathon/...                Marathon, same
//	/mesos/...                   Mesos master: /mesos/api/v1, /mesos/master/state, ...
//	/service/<name>/...          an SDK scheduler's API (/service/<name>/v1/plans/deploy) when <name>
//	                             runs one; otherwise a small HTML "service UI" page for any running
//	                             app with DCOS_SERVICE_NAME=<name> or framework <name> with a
//	                             webui_url (longest matching name wins; names may contain "/")
//	/acs/api/v1/auth/login       service-account / user login
//	/simulator/v1/...            control API (never behind auth)
//
// When auth is on (Options.Auth.Enabled or the control API), everything but
// the login and the control API requires Authorization: token=<jwt>.
//
// # Control API
//
//	GET            /simulator/v1/state                 summary: agents, frameworks, reservations, volumes,
//	                                                   SDK schedulers and plan statuses, znodes, services, auth
//	GET|POST|DELETE /simulator/v1/faults/{marathon,mesos,sdk}   sim/fault rules per component:
//	                                                   POST {"rules":[{"status":503}]} = component down
//	*              /simulator/v1/marathon/...          Marathon's own control API (sim/marathon)
//	*              /simulator/v1/mesos/...             sim/mesos control API (frameworks, agents,
//	                                                   reservations, volumes, leader)
//	*              /simulator/v1/auth/...              sim/auth control API (on/off, TTL, service
//	                                                   accounts, users, tokens)
//	GET            /simulator/v1/sdk                   {"schedulers":[{name, app_id, running, uninstalling,
//	                                                   framework_id, deploy_status, pods, deploy_plan}]}
//	GET            /simulator/v1/zookeeper/znodes      {"znodes":["/dcos-service-x", ...]} (top-level service nodes)
//	GET            /simulator/v1/zookeeper/znodes/<p>  {"path","data","children"} (404 when absent)
//	POST           /simulator/v1/zookeeper/znodes      {"path": ..., "data": ...} -> 201
//	DELETE         /simulator/v1/zookeeper/znodes/<p>  recursive delete -> 204
//
// # Apps drive the rest
//
// The cluster observes Marathon (marathon.Observer). When an app runs:
//   - label DCOS_COMMONS_UNINSTALL: an SDK scheduler (package sim/sdk) for
//     DCOS_SERVICE_NAME (or DCOS_PACKAGE_FRAMEWORK_NAME), in uninstall mode when
//     env SDK_UNINSTALL=true;
//   - else label DCOS_PACKAGE_FRAMEWORK_NAME: a plain framework of that name
//     registers with webui_url http://<escaped>.marathon.mesos:<port>/, role
//     "<escaped>-role", principal "<name>-principal" (or env
//     FRAMEWORK_PRINCIPAL), reserves cpus/mem and creates a persistent volume
//     on Options.FrameworkAgents agents (default 3) and runs a task on each,
//     and its ZooKeeper node /dcos-service-<escaped> is written (unless
//     Options.NoPlainZNode). Deleting the app only deactivates the framework:
//     it stays (inactive, tasks running) until TEARDOWN, and its reservations,
//     volumes and znode stay after that until the janitor removes them, as on
//     a real cluster.
//
// # Go API
//
//	func New(opts Options) *Cluster
//	func (c *Cluster) Handler() http.Handler
//	func (c *Cluster) State() State                   // what GET /simulator/v1/state answers
//	func (c *Cluster) ServiceZNodes() ([]string, error)
//	func (c *Cluster) Close()
//	type Cluster struct { Marathon *marathon.Server; Mesos *mesos.Master; SDK *sdk.Schedulers;
//	                      Auth *auth.Authority; ZooKeeper ZooKeeper }
//	type Options struct { Marathon marathon.Options; Mesos mesos.Options; SDK sdk.Options; Auth auth.Options;
//	                      ZooKeeper ZooKeeper; FrameworkAgents int; FrameworkResources mesos.Resources;
//	                      NoPlainZNode bool; DCOSVersion string; Log logrus.FieldLogger }
//	func FastOptions() Options             // deployments 50 ms, SDK steps 20 ms (tests); zero Options = seconds (dev)
//	func NewServer(opts Options) *Server   // httptest-style on 127.0.0.1:0: .URL, .Listener, .Close(), embeds *Cluster
//	func Serve(c *Cluster, ln net.Listener) *Server
//	type ZooKeeper interface { sdk.ZooKeeper; Get(path string) ([]byte, bool, error); Children(path string) ([]string, error) }
//	func NewMemZooKeeper() *MemZooKeeper             // the default
//	func NewZooKeeperConn(conn *zk.Conn) ZooKeeper   // the same on a real ZooKeeper (janitor end-to-end tests)
//
// Also served: GET /dcos-metadata/dcos-version.json ({"version": Options.DCOSVersion}), without auth.
//
// Marathon answers POST /v2/apps with Location http://<host>/<app id> (as Jersey
// resolves it); through /service/marathon/ it becomes
// http://<host>/service/marathon/<app id>: Location headers that are
// path-absolute or name the request's host are re-prefixed with the mount point.
package sim
