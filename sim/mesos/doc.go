// Package mesos simulates a Mesos master's HTTP API as DC/OS exposes it: the v1
// operator API and the older JSON endpoints, over fake agents that hold
// dynamic reservations and persistent volumes.
//
// # Served API ((*Master).Handler, rooted at "/"; package sim mounts it at /mesos/)
//
//	POST /api/v1   operator API, JSON (application/json) or protobuf
//	               (application/x-protobuf) exactly as mesos-go v0.0.11's httpcli +
//	               httpmaster.NewSender send them. Calls: GET_HEALTH, GET_VERSION,
//	               GET_STATE, GET_AGENTS, GET_FRAMEWORKS, GET_TASKS, GET_ROLES,
//	               GET_MASTER, TEARDOWN, UNRESERVE_RESOURCES, DESTROY_VOLUMES
//	               (others: 501). Responses {"type":"GET_FRAMEWORKS","get_frameworks":{...}}
//	               with Content-Type exactly the negotiated media type; TEARDOWN
//	               answers 200 with no body and no Content-Type; UNRESERVE_RESOURCES and
//	               DESTROY_VOLUMES answer 202 Accepted, as Mesos does.
//	GET  /master/frameworks, /frameworks        {"frameworks":[...],"completed_frameworks":[...],"unregistered_frameworks":[]}
//	GET  /master/state, /state                  full state (slaves with reserved_resources_full, frameworks, ...)
//	GET  /master/state-summary, /state-summary  {"hostname","cluster","slaves":[...],"frameworks":[...]}
//	GET  /master/slaves, /slaves                {"slaves":[...],"recovered_slaves":[]}
//	GET  /master/roles, /roles                  {"roles":[...]}
//	POST /master/teardown, /teardown            form frameworkId=<id> -> 200
//	GET  /master/redirect, /redirect            307 to the leader
//	GET  /health                                200
//
// Errors follow Mesos: 400 text/plain for bad bodies and failed validation
// ("No framework found with specified ID", "No agent found with specified ID",
// "Invalid UNRESERVE operation: ... is not dynamically reserved",
// "Invalid DESTROY operation: Persistent volumes not found" / "... in use"), 409
// Conflict when the resources to unreserve are not available on the agent (not
// reserved that way, in use by a task, or carrying a persistent volume), 405
// for a wrong method, 415 for an unknown Content-Type, 406 for an unacceptable
// Accept. When SetLeader names another master every endpoint answers 307 with
// Location //<leader>/<path>, as a non-leading master does. Fault injection
// (package sim/fault, (*Master).Faults) is applied in front of all of it, so
// "Mesos down" is one rule with status 503 or drop.
//
// # Model
//
// Agents (Options.Agents, default 3) have total resources; parts of them are
// reserved dynamically to a role (with principal and optional labels) and
// reserved disk may carry a persistent volume. Frameworks have name, id, role
// (and roles), principal, webui_url, active/connected flags and tasks placed on
// their reserved resources. As on a real cluster:
//   - A framework whose scheduler goes away (DeactivateFramework) stays
//     registered, inactive, with its tasks running, until TEARDOWN; after
//     teardown it moves to completed_frameworks and its tasks are killed.
//   - Reservations and volumes outlive the framework: TEARDOWN does not
//     remove them; they stay until DESTROY_VOLUMES and UNRESERVE_RESOURCES.
//   - Resources used by running tasks cannot be unreserved (409); a volume in
//     use cannot be destroyed (400); reserved disk holding a volume cannot be
//     unreserved before the volume is destroyed; destroying a volume leaves
//     the disk reserved to the role.
//
// # Go API
//
//	func New(opts Options) *Master
//	type Options struct { Agents int; AgentResources Resources; Hostname string; ID string; Now func() time.Time }
//	type Resources struct { CPUs, Mem, Disk float64 }
//	func (m *Master) Handler() http.Handler
//	func (m *Master) ControlHandler() http.Handler
//	func (m *Master) Faults() *fault.Injector
//	func (m *Master) SetLeader(hostport string)             // "" = this master leads
//	func (m *Master) ID() string
//	func (m *Master) Agents() []Agent                       // with their reservations and volumes
//	func (m *Master) RegisterFramework(info FrameworkInfo) Framework
//	func (m *Master) ReactivateFramework(id string, info FrameworkInfo) error // scheduler failover
//	func (m *Master) DeactivateFramework(id string) error   // scheduler gone: inactive, tasks keep running
//	func (m *Master) Teardown(id string) error              // as the TEARDOWN call
//	func (m *Master) Frameworks() []Framework               // registered (active or not)
//	func (m *Master) CompletedFrameworks() []Framework      // torn down
//	func (m *Master) FrameworksByName(name string) []Framework
//	func (m *Master) Reserve(agentID string, r Reservation) error
//	func (m *Master) CreateVolume(agentID string, v Volume) error   // from disk reserved the same way
//	func (m *Master) LaunchTask(frameworkID, agentID, name string) (taskID string, err error)
//	func (m *Master) KillTask(taskID string) error
//	func (m *Master) KillTasks(frameworkID string)
//	func (m *Master) RunningTasks(frameworkID string) []Task // "" = all
//	func (m *Master) Tasks(frameworkID string) []string      // running task ids
//	func (m *Master) UnreserveByID(agentID, role, resourceID string) error // SDK uninstall: by label resource_id
//	func (m *Master) Reservations(role string) []Reservation // "" = all roles
//	func (m *Master) Volumes(role string) []Volume           // "" = all roles
//	func NewUUID() string
//
// # Control API (relative to its mount point, /simulator/v1/mesos in package sim)
//
//	GET    /frameworks          {"frameworks":[...],"completed_frameworks":[...]}
//	POST   /frameworks          FrameworkInfo JSON -> 201 Framework (registers a framework by hand)
//	DELETE /frameworks/{id}     teardown -> 204
//	GET    /agents              agents with their reservations and volumes
//	GET    /reservations[?role=R]
//	GET    /volumes[?role=R]
//	POST   /reservations        {"agent_id", "role", "principal", "labels", "cpus", "mem", "disk"} -> 201
//	POST   /volumes             {"agent_id", "role", "principal", "labels", "size", "persistence_id", "container_path"} -> 201
//	PUT    /leader              {"leader": "host:port"} ("" = this master leads again)
package mesos
