package mesos

import (
	"sort"
	"time"
)

// This file holds the JSON shapes the master answers with: the v1 operator
// API (protobuf JSON mapping with the original field names, enums as strings,
// empty repeated fields omitted, as Mesos' JSON::protobuf writes them) and
// the older /master/* endpoints.

// wID is a Mesos *ID message.
type wID struct {
	Value string `json:"value"`
}

// wTime is a Mesos TimeInfo.
type wTime struct {
	Nanoseconds int64 `json:"nanoseconds"`
}

// timeInfo converts t (nil when zero).
func timeInfo(t time.Time) *wTime {
	if t.IsZero() {
		return nil
	}
	return &wTime{Nanoseconds: t.UnixNano()}
}

// wLabel is a Mesos Label.
type wLabel struct {
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
}

// wLabels is a Mesos Labels message.
type wLabels struct {
	Labels []wLabel `json:"labels"`
}

// labelsOut converts labels (nil when empty).
func labelsOut(ls []Label) *wLabels {
	if len(ls) == 0 {
		return nil
	}
	out := &wLabels{}
	for _, l := range ls {
		out.Labels = append(out.Labels, wLabel(l))
	}
	return out
}

// wScalar is a Value.Scalar.
type wScalar struct {
	Value float64 `json:"value"`
}

// wRange is a Value.Range.
type wRange struct {
	Begin uint64 `json:"begin"`
	End   uint64 `json:"end"`
}

// wRanges is a Value.Ranges.
type wRanges struct {
	Range []wRange `json:"range"`
}

// wReservation is a Resource.ReservationInfo.
type wReservation struct {
	Type      string   `json:"type,omitempty"`
	Role      string   `json:"role,omitempty"`
	Principal string   `json:"principal,omitempty"`
	Labels    *wLabels `json:"labels,omitempty"`
}

// wPersistence is a Resource.DiskInfo.Persistence.
type wPersistence struct {
	ID        string `json:"id"`
	Principal string `json:"principal,omitempty"`
}

// wVolume is a Volume.
type wVolume struct {
	Mode          string `json:"mode,omitempty"`
	ContainerPath string `json:"container_path"`
}

// wDisk is a Resource.DiskInfo.
type wDisk struct {
	Persistence *wPersistence `json:"persistence,omitempty"`
	Volume      *wVolume      `json:"volume,omitempty"`
}

// wAllocation is a Resource.AllocationInfo.
type wAllocation struct {
	Role string `json:"role"`
}

// wResource is a Resource in the post-reservation-refinement format the v1
// API uses.
type wResource struct {
	Name           string         `json:"name"`
	Type           string         `json:"type"`
	Scalar         *wScalar       `json:"scalar,omitempty"`
	Ranges         *wRanges       `json:"ranges,omitempty"`
	AllocationInfo *wAllocation   `json:"allocation_info,omitempty"`
	Reservations   []wReservation `json:"reservations,omitempty"`
	Disk           *wDisk         `json:"disk,omitempty"`
}

// scalarOut is an unreserved scalar resource.
func scalarOut(name string, v float64) wResource {
	return wResource{Name: name, Type: "SCALAR", Scalar: &wScalar{Value: round(v)}}
}

// round trims float noise from resource arithmetic to Mesos' fixed-point
// precision (three decimals).
func round(v float64) float64 {
	const p = 1000
	if v < 0 {
		return -round(-v)
	}
	return float64(int64(v*p+0.5)) / p
}

// portsOut is the agent's port range.
func portsOut() wResource {
	return wResource{Name: "ports", Type: "RANGES", Ranges: &wRanges{Range: []wRange{{Begin: 1025, End: 2180}, {Begin: 2182, End: 3887}, {Begin: 3889, End: 5049}, {Begin: 5052, End: 8079}, {Begin: 8082, End: 8180}, {Begin: 8182, End: 32000}}}}
}

// resourceOut converts a reserved resource; allocRole sets allocation_info.
func resourceOut(r *resource, allocRole string) wResource {
	out := scalarOut(r.name, r.amount)
	out.Reservations = []wReservation{{Type: "DYNAMIC", Role: r.role, Principal: r.principal, Labels: labelsOut(r.labels)}}
	if r.isVolume() {
		out.Disk = &wDisk{
			Persistence: &wPersistence{ID: r.persistenceID, Principal: r.volPrincipal},
			Volume:      &wVolume{Mode: r.mode, ContainerPath: r.containerPath},
		}
	}
	if allocRole != "" {
		out.AllocationInfo = &wAllocation{Role: allocRole}
	}
	return out
}

// unreservedOut lists an agent's unreserved resources.
func unreservedOut(u Resources) []wResource {
	var out []wResource
	for _, s := range []struct {
		name string
		v    float64
	}{{"cpus", u.CPUs}, {"mem", u.Mem}, {"disk", u.Disk}} {
		if s.v > epsilon {
			out = append(out, scalarOut(s.name, s.v))
		}
	}
	return append(out, portsOut())
}

// wAgentInfo is an AgentInfo.
type wAgentInfo struct {
	Hostname  string      `json:"hostname"`
	Port      int         `json:"port"`
	Resources []wResource `json:"resources,omitempty"`
	ID        wID         `json:"id"`
}

// wCapability is an AgentInfo/FrameworkInfo capability.
type wCapability struct {
	Type string `json:"type"`
}

// wAgent is a Response.GetAgents.Agent.
type wAgent struct {
	AgentInfo          wAgentInfo    `json:"agent_info"`
	Active             bool          `json:"active"`
	Version            string        `json:"version"`
	PID                string        `json:"pid"`
	RegisteredTime     *wTime        `json:"registered_time,omitempty"`
	TotalResources     []wResource   `json:"total_resources,omitempty"`
	AllocatedResources []wResource   `json:"allocated_resources,omitempty"`
	Capabilities       []wCapability `json:"capabilities,omitempty"`
}

// agentOut converts an agent; m.mu held.
func (m *Master) agentOut(a *agent) wAgent {
	out := wAgent{
		AgentInfo: wAgentInfo{Hostname: a.hostname, Port: 5051, ID: wID{a.id},
			Resources: unreservedOut(a.total)},
		Active:         true,
		Version:        Version,
		PID:            "slave(1)@" + a.hostname + ":5051",
		RegisteredTime: timeInfo(a.registered),
		Capabilities: []wCapability{{"MULTI_ROLE"}, {"HIERARCHICAL_ROLE"}, {"RESERVATION_REFINEMENT"},
			{"RESOURCE_PROVIDER"}},
	}
	out.TotalResources = unreservedOut(a.unreserved())
	for _, r := range a.reserved {
		out.TotalResources = append(out.TotalResources, resourceOut(r, ""))
		if r.usedBy != "" {
			out.AllocatedResources = append(out.AllocatedResources, resourceOut(r, r.role))
		}
	}
	return out
}

// wGetAgents is a Response.GetAgents.
type wGetAgents struct {
	Agents []wAgent `json:"agents,omitempty"`
}

// getAgents builds GET_AGENTS; m.mu held.
func (m *Master) getAgents() *wGetAgents {
	out := &wGetAgents{}
	for _, a := range m.agents {
		out.Agents = append(out.Agents, m.agentOut(a))
	}
	return out
}

// wFrameworkInfo is a FrameworkInfo.
type wFrameworkInfo struct {
	User            string        `json:"user"`
	Name            string        `json:"name"`
	ID              *wID          `json:"id,omitempty"`
	FailoverTimeout float64       `json:"failover_timeout,omitempty"`
	Checkpoint      bool          `json:"checkpoint"`
	Role            string        `json:"role,omitempty"`
	Roles           []string      `json:"roles,omitempty"`
	Hostname        string        `json:"hostname,omitempty"`
	Principal       string        `json:"principal,omitempty"`
	WebUIURL        string        `json:"webui_url,omitempty"`
	Capabilities    []wCapability `json:"capabilities,omitempty"`
	Labels          *wLabels      `json:"labels,omitempty"`
}

// frameworkInfoOut converts a framework's info.
func frameworkInfoOut(f *framework) wFrameworkInfo {
	out := wFrameworkInfo{User: f.User, Name: f.Name, ID: &wID{f.ID}, FailoverTimeout: f.FailoverTimeout,
		Checkpoint: true, Role: f.Role, Roles: f.Roles, Hostname: f.Hostname, Principal: f.Principal,
		WebUIURL: f.WebUIURL, Labels: labelsOut(f.Labels)}
	for _, c := range f.Capabilities {
		out.Capabilities = append(out.Capabilities, wCapability{c})
	}
	return out
}

// wFramework is a Response.GetFrameworks.Framework.
type wFramework struct {
	FrameworkInfo      wFrameworkInfo `json:"framework_info"`
	Active             bool           `json:"active"`
	Connected          bool           `json:"connected"`
	Recovered          bool           `json:"recovered"`
	RegisteredTime     *wTime         `json:"registered_time,omitempty"`
	ReregisteredTime   *wTime         `json:"reregistered_time,omitempty"`
	UnregisteredTime   *wTime         `json:"unregistered_time,omitempty"`
	AllocatedResources []wResource    `json:"allocated_resources,omitempty"`
}

// frameworkOut converts a framework; m.mu held.
func (m *Master) frameworkOut(f *framework) wFramework {
	out := wFramework{FrameworkInfo: frameworkInfoOut(f), Active: f.Active, Connected: f.Connected,
		RegisteredTime: timeInfo(f.RegisteredTime), ReregisteredTime: timeInfo(f.ReregisteredTime),
		UnregisteredTime: timeInfo(f.UnregisteredTime)}
	for _, t := range m.tasks {
		if t.frameworkID == f.ID {
			for i := range t.resources {
				out.AllocatedResources = append(out.AllocatedResources, resourceOut(&t.resources[i], t.resources[i].role))
			}
		}
	}
	return out
}

// wGetFrameworks is a Response.GetFrameworks.
type wGetFrameworks struct {
	Frameworks          []wFramework `json:"frameworks,omitempty"`
	CompletedFrameworks []wFramework `json:"completed_frameworks,omitempty"`
}

// getFrameworks builds GET_FRAMEWORKS; m.mu held.
func (m *Master) getFrameworks() *wGetFrameworks {
	out := &wGetFrameworks{}
	for _, f := range m.frameworks {
		out.Frameworks = append(out.Frameworks, m.frameworkOut(f))
	}
	for _, f := range m.completed {
		out.CompletedFrameworks = append(out.CompletedFrameworks, m.frameworkOut(f))
	}
	return out
}

// wTaskStatus is a TaskStatus.
type wTaskStatus struct {
	TaskID    wID     `json:"task_id"`
	State     string  `json:"state"`
	AgentID   wID     `json:"agent_id"`
	Timestamp float64 `json:"timestamp"`
	Source    string  `json:"source,omitempty"`
}

// wTask is a Task.
type wTask struct {
	Name        string        `json:"name"`
	TaskID      wID           `json:"task_id"`
	FrameworkID wID           `json:"framework_id"`
	AgentID     wID           `json:"agent_id"`
	State       string        `json:"state"`
	Resources   []wResource   `json:"resources,omitempty"`
	Statuses    []wTaskStatus `json:"statuses,omitempty"`
}

// taskOut converts a task.
func taskOut(t *task) wTask {
	out := wTask{Name: t.name, TaskID: wID{t.id}, FrameworkID: wID{t.frameworkID}, AgentID: wID{t.agentID}, State: t.state,
		Statuses: []wTaskStatus{{TaskID: wID{t.id}, State: t.state, AgentID: wID{t.agentID},
			Timestamp: float64(t.started.UnixNano()) / 1e9, Source: "SOURCE_EXECUTOR"}}}
	for i := range t.resources {
		out.Resources = append(out.Resources, resourceOut(&t.resources[i], t.resources[i].role))
	}
	return out
}

// wGetTasks is a Response.GetTasks.
type wGetTasks struct {
	Tasks          []wTask `json:"tasks,omitempty"`
	CompletedTasks []wTask `json:"completed_tasks,omitempty"`
}

// getTasks builds GET_TASKS; m.mu held.
func (m *Master) getTasks() *wGetTasks {
	out := &wGetTasks{}
	for _, t := range m.tasks {
		out.Tasks = append(out.Tasks, taskOut(t))
	}
	for _, t := range m.doneTasks {
		out.CompletedTasks = append(out.CompletedTasks, taskOut(t))
	}
	return out
}

// wGetExecutors is an (always empty) Response.GetExecutors.
type wGetExecutors struct{}

// wGetState is a Response.GetState.
type wGetState struct {
	GetTasks      *wGetTasks      `json:"get_tasks"`
	GetExecutors  *wGetExecutors  `json:"get_executors"`
	GetFrameworks *wGetFrameworks `json:"get_frameworks"`
	GetAgents     *wGetAgents     `json:"get_agents"`
}

// wRole is a Role.
type wRole struct {
	Name       string      `json:"name"`
	Weight     float64     `json:"weight"`
	Frameworks []wID       `json:"frameworks,omitempty"`
	Resources  []wResource `json:"resources,omitempty"`
}

// wGetRoles is a Response.GetRoles.
type wGetRoles struct {
	Roles []wRole `json:"roles,omitempty"`
}

// getRoles builds GET_ROLES: the roles of registered frameworks and the roles
// holding reservations, with their reserved resources; m.mu held.
func (m *Master) getRoles() *wGetRoles {
	roles := map[string]*wRole{}
	get := func(name string) *wRole {
		r := roles[name]
		if r == nil {
			r = &wRole{Name: name, Weight: 1}
			roles[name] = r
		}
		return r
	}
	for _, f := range m.frameworks {
		for _, name := range f.roles() {
			get(name).Frameworks = append(get(name).Frameworks, wID{f.ID})
		}
	}
	for _, a := range m.agents {
		for _, r := range a.reserved {
			get(r.role).Resources = append(get(r.role).Resources, resourceOut(r, ""))
		}
	}
	names := make([]string, 0, len(roles))
	for n := range roles {
		names = append(names, n)
	}
	sort.Strings(names)
	out := &wGetRoles{}
	for _, n := range names {
		out.Roles = append(out.Roles, *roles[n])
	}
	return out
}

// wResponse is a master Response.
type wResponse struct {
	Type          string          `json:"type"`
	GetHealth     *wGetHealth     `json:"get_health,omitempty"`
	GetVersion    *wGetVersion    `json:"get_version,omitempty"`
	GetState      *wGetState      `json:"get_state,omitempty"`
	GetAgents     *wGetAgents     `json:"get_agents,omitempty"`
	GetFrameworks *wGetFrameworks `json:"get_frameworks,omitempty"`
	GetTasks      *wGetTasks      `json:"get_tasks,omitempty"`
	GetRoles      *wGetRoles      `json:"get_roles,omitempty"`
	GetMaster     *wGetMaster     `json:"get_master,omitempty"`
}

// wGetHealth is a Response.GetHealth.
type wGetHealth struct {
	Healthy bool `json:"healthy"`
}

// wVersionInfo is a VersionInfo.
type wVersionInfo struct {
	Version   string  `json:"version"`
	BuildDate string  `json:"build_date,omitempty"`
	BuildTime float64 `json:"build_time,omitempty"`
	BuildUser string  `json:"build_user,omitempty"`
}

// wGetVersion is a Response.GetVersion.
type wGetVersion struct {
	VersionInfo wVersionInfo `json:"version_info"`
}

// wAddress is an Address.
type wAddress struct {
	Hostname string `json:"hostname,omitempty"`
	IP       string `json:"ip,omitempty"`
	Port     int    `json:"port"`
}

// wMasterInfo is a MasterInfo.
type wMasterInfo struct {
	ID       string   `json:"id"`
	IP       uint32   `json:"ip"`
	Port     int      `json:"port"`
	PID      string   `json:"pid,omitempty"`
	Hostname string   `json:"hostname,omitempty"`
	Version  string   `json:"version,omitempty"`
	Address  wAddress `json:"address"`
}

// wGetMaster is a Response.GetMaster.
type wGetMaster struct {
	MasterInfo  wMasterInfo `json:"master_info"`
	StartTime   float64     `json:"start_time,omitempty"`
	ElectedTime float64     `json:"elected_time,omitempty"`
}

// getMaster builds GET_MASTER.
func (m *Master) getMaster() *wGetMaster {
	secs := float64(m.start.UnixNano()) / 1e9
	return &wGetMaster{
		MasterInfo: wMasterInfo{ID: m.opts.ID, IP: 0x0a01000a, Port: 5050, PID: "master@10.0.1.10:5050",
			Hostname: m.opts.Hostname, Version: Version, Address: wAddress{Hostname: m.opts.Hostname, IP: "10.0.1.10", Port: 5050}},
		StartTime: secs, ElectedTime: secs,
	}
}
