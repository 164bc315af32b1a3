package mesos

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/universe-operator/universe-operator/sim/fault"
)

// Version is the Mesos version the simulated master reports.
const Version = "1.7.3"

// Options configures a Master.
type Options struct {
	// Agents is the number of fake agents (default 3).
	Agents int
	// AgentResources are each agent's total resources (default 4 cpus,
	// 16384 MB mem, 102400 MB disk).
	AgentResources Resources
	// Hostname is the master's hostname (default "master.mesos").
	Hostname string
	// ID is the master's id, the prefix of agent and framework ids (default random).
	ID string
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Resources are scalar amounts of the three resources the simulator models.
type Resources struct {
	CPUs float64 `json:"cpus"`
	Mem  float64 `json:"mem"`
	Disk float64 `json:"disk"`
}

// Label is a key/value pair (Mesos Labels).
type Label struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Agent is a snapshot of a fake agent.
type Agent struct {
	ID           string        `json:"id"`
	Hostname     string        `json:"hostname"`
	Total        Resources     `json:"total"`
	Unreserved   Resources     `json:"unreserved"`
	Reservations []Reservation `json:"reservations"`
	Volumes      []Volume      `json:"volumes"`
}

// Reservation is a dynamically reserved scalar resource on an agent (disk
// holding a persistent volume is a Volume instead).
type Reservation struct {
	AgentID   string  `json:"agent_id"`
	Name      string  `json:"name"`
	Amount    float64 `json:"amount"`
	Role      string  `json:"role"`
	Principal string  `json:"principal,omitempty"`
	Labels    []Label `json:"labels,omitempty"`
	// UsedBy is the id of the framework whose task uses the resource ("" = free).
	UsedBy string `json:"used_by,omitempty"`
}

// Volume is a persistent volume: reserved disk with a persistence id.
type Volume struct {
	AgentID       string  `json:"agent_id"`
	Size          float64 `json:"size"`
	Role          string  `json:"role"`
	Principal     string  `json:"principal,omitempty"`
	Labels        []Label `json:"labels,omitempty"`
	PersistenceID string  `json:"persistence_id"`
	ContainerPath string  `json:"container_path"`
	// Mode is "RW" or "RO" (default RW).
	Mode   string `json:"mode,omitempty"`
	UsedBy string `json:"used_by,omitempty"`
}

// FrameworkInfo describes a framework as its scheduler registers it.
type FrameworkInfo struct {
	Name      string   `json:"name"`
	User      string   `json:"user,omitempty"`
	Role      string   `json:"role,omitempty"`
	Roles     []string `json:"roles,omitempty"`
	Principal string   `json:"principal,omitempty"`
	WebUIURL  string   `json:"webui_url,omitempty"`
	Hostname  string   `json:"hostname,omitempty"`
	// FailoverTimeout in seconds (default one week, as most DC/OS frameworks).
	FailoverTimeout float64  `json:"failover_timeout,omitempty"`
	Labels          []Label  `json:"labels,omitempty"`
	Capabilities    []string `json:"capabilities,omitempty"`
}

// Framework is a snapshot of a registered or completed framework.
type Framework struct {
	FrameworkInfo
	ID               string    `json:"id"`
	Active           bool      `json:"active"`
	Connected        bool      `json:"connected"`
	RegisteredTime   time.Time `json:"registered_time"`
	ReregisteredTime time.Time `json:"reregistered_time,omitzero"`
	UnregisteredTime time.Time `json:"unregistered_time,omitzero"`
}

// roles returns the roles the framework is subscribed to.
func (f *Framework) roles() []string {
	if len(f.Roles) > 0 {
		return f.Roles
	}
	if f.Role != "" {
		return []string{f.Role}
	}
	return []string{"*"}
}

// task is a task running (or completed) on an agent.
type task struct {
	id, name, frameworkID, agentID, state string
	resources                             []resource
	started                               time.Time
}

// resource is one checkpointed (reserved) resource on an agent.
type resource struct {
	name      string
	amount    float64
	role      string
	principal string
	labels    []Label
	// volume fields (persistenceID != "" = persistent volume)
	persistenceID, volPrincipal, containerPath, mode string
	usedBy                                           string
}

// isVolume reports whether r is a persistent volume.
func (r *resource) isVolume() bool { return r.persistenceID != "" }

// sameReservation reports whether a and b carry the same reservation.
func sameReservation(a, b *resource) bool {
	return a.role == b.role && a.principal == b.principal && labelsEqual(a.labels, b.labels)
}

// labelsEqual compares label lists as Mesos does (order-insensitive).
func labelsEqual(a, b []Label) bool {
	if len(a) != len(b) {
		return false
	}
	as, bs := append([]Label(nil), a...), append([]Label(nil), b...)
	for _, l := range [][]Label{as, bs} {
		sort.Slice(l, func(i, j int) bool {
			if l[i].Key != l[j].Key {
				return l[i].Key < l[j].Key
			}
			return l[i].Value < l[j].Value
		})
	}
	for i := range as {
		if as[i] != bs[i] {
			return false
		}
	}
	return true
}

// agent is a fake agent.
type agent struct {
	id, hostname string
	total        Resources
	registered   time.Time
	reserved     []*resource
}

// unreserved returns the agent's total minus its reservations.
func (a *agent) unreserved() Resources {
	u := a.total
	for _, r := range a.reserved {
		switch r.name {
		case "cpus":
			u.CPUs -= r.amount
		case "mem":
			u.Mem -= r.amount
		case "disk":
			u.Disk -= r.amount
		}
	}
	return u
}

// framework is a registered or completed framework.
type framework struct {
	Framework
}

// Master is a simulated Mesos master. It is safe for concurrent use.
type Master struct {
	opts   Options
	faults *fault.Injector
	now    func() time.Time
	start  time.Time

	mu         sync.Mutex
	leader     string // "" = this master leads
	agents     []*agent
	frameworks []*framework // registered, in registration order
	completed  []*framework // torn down, most recent last
	tasks      []*task
	doneTasks  []*task
	nextFwID   int
}

// maxCompleted bounds completed frameworks and tasks, like Mesos'
// --max_completed_frameworks / --max_completed_tasks_per_framework.
const maxCompleted = 50

// New returns a master with opts.Agents fake agents.
func New(opts Options) *Master {
	if opts.Agents <= 0 {
		opts.Agents = 3
	}
	if opts.AgentResources == (Resources{}) {
		opts.AgentResources = Resources{CPUs: 4, Mem: 16384, Disk: 102400}
	}
	if opts.Hostname == "" {
		opts.Hostname = "master.mesos"
	}
	if opts.ID == "" {
		opts.ID = newUUID()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &Master{opts: opts, faults: &fault.Injector{}, now: opts.Now}
	m.start = m.now()
	for i := 0; i < opts.Agents; i++ {
		m.agents = append(m.agents, &agent{
			id:         fmt.Sprintf("%s-S%d", opts.ID, i),
			hostname:   fmt.Sprintf("10.0.2.%d", 10+i),
			total:      opts.AgentResources,
			registered: m.start,
		})
	}
	return m
}

// Faults returns the injector applied in front of the master's API.
func (m *Master) Faults() *fault.Injector { return m.faults }

// Handler serves the master's HTTP API rooted at "/", fault injection applied.
func (m *Master) Handler() http.Handler {
	return m.faults.Middleware(m.apiMux())
}

// SetLeader makes this master a non-leading one that redirects to hostport
// ("" = this master leads).
func (m *Master) SetLeader(hostport string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.leader = hostport
}

// ID returns the master's id.
func (m *Master) ID() string { return m.opts.ID }

// Agents returns snapshots of the agents.
func (m *Master) Agents() []Agent {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Agent, 0, len(m.agents))
	for _, a := range m.agents {
		out = append(out, m.agentSnapshot(a))
	}
	return out
}

// agentSnapshot builds the public view of a; m.mu held.
func (m *Master) agentSnapshot(a *agent) Agent {
	s := Agent{ID: a.id, Hostname: a.hostname, Total: a.total, Unreserved: a.unreserved(),
		Reservations: []Reservation{}, Volumes: []Volume{}}
	for _, r := range a.reserved {
		if r.isVolume() {
			s.Volumes = append(s.Volumes, volumeOf(a.id, r))
		} else {
			s.Reservations = append(s.Reservations, reservationOf(a.id, r))
		}
	}
	return s
}

// reservationOf converts an internal resource to a Reservation.
func reservationOf(agentID string, r *resource) Reservation {
	return Reservation{AgentID: agentID, Name: r.name, Amount: r.amount, Role: r.role,
		Principal: r.principal, Labels: append([]Label(nil), r.labels...), UsedBy: r.usedBy}
}

// volumeOf converts an internal resource to a Volume.
func volumeOf(agentID string, r *resource) Volume {
	return Volume{AgentID: agentID, Size: r.amount, Role: r.role, Principal: r.principal,
		Labels: append([]Label(nil), r.labels...), PersistenceID: r.persistenceID,
		ContainerPath: r.containerPath, Mode: r.mode, UsedBy: r.usedBy}
}

// agent finds an agent by id; m.mu held.
func (m *Master) agent(id string) *agent {
	for _, a := range m.agents {
		if a.id == id {
			return a
		}
	}
	return nil
}

// framework finds a registered framework by id; m.mu held.
func (m *Master) framework(id string) *framework {
	for _, f := range m.frameworks {
		if f.ID == id {
			return f
		}
	}
	return nil
}

// RegisterFramework registers a new framework (a scheduler subscribing
// without a framework id) and returns it.
func (m *Master) RegisterFramework(info FrameworkInfo) Framework {
	if info.User == "" {
		info.User = "root"
	}
	if info.FailoverTimeout == 0 {
		info.FailoverTimeout = 604800
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f := &framework{Framework{
		FrameworkInfo:  info,
		ID:             fmt.Sprintf("%s-%04d", m.opts.ID, m.nextFwID),
		Active:         true,
		Connected:      true,
		RegisteredTime: m.now(),
	}}
	m.nextFwID++
	m.frameworks = append(m.frameworks, f)
	return f.Framework
}

// ErrNoFramework is returned for an id that names no registered framework.
var ErrNoFramework = errors.New("no framework found with specified id")

// ReactivateFramework re-registers a registered framework (a scheduler
// failing over with its framework id), replacing its info.
func (m *Master) ReactivateFramework(id string, info FrameworkInfo) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.framework(id)
	if f == nil {
		return ErrNoFramework
	}
	if info.User == "" {
		info.User = f.User
	}
	if info.FailoverTimeout == 0 {
		info.FailoverTimeout = f.FailoverTimeout
	}
	f.FrameworkInfo = info
	f.Active, f.Connected = true, true
	f.ReregisteredTime = m.now()
	return nil
}

// DeactivateFramework marks a framework as disconnected and inactive (its
// scheduler went away). It stays registered and its tasks keep running.
func (m *Master) DeactivateFramework(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.framework(id)
	if f == nil {
		return ErrNoFramework
	}
	if f.Active || f.Connected {
		f.Active, f.Connected = false, false
		f.UnregisteredTime = m.now()
	}
	return nil
}

// Teardown removes a framework as the TEARDOWN call does: its tasks are
// killed and it moves to the completed frameworks. Its reservations and
// volumes stay.
func (m *Master) Teardown(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.teardown(id)
}

// teardown implements Teardown; m.mu held.
func (m *Master) teardown(id string) error {
	for i, f := range m.frameworks {
		if f.ID != id {
			continue
		}
		m.killTasks(func(t *task) bool { return t.frameworkID == id })
		f.Active, f.Connected = false, false
		f.UnregisteredTime = m.now()
		m.frameworks = append(m.frameworks[:i:i], m.frameworks[i+1:]...)
		m.completed = append(m.completed, f)
		if len(m.completed) > maxCompleted {
			m.completed = m.completed[len(m.completed)-maxCompleted:]
		}
		return nil
	}
	return ErrNoFramework
}

// Frameworks returns the registered frameworks (active or not).
func (m *Master) Frameworks() []Framework {
	m.mu.Lock()
	defer m.mu.Unlock()
	return snapshots(m.frameworks)
}

// CompletedFrameworks returns the torn-down frameworks.
func (m *Master) CompletedFrameworks() []Framework {
	m.mu.Lock()
	defer m.mu.Unlock()
	return snapshots(m.completed)
}

// FrameworksByName returns the registered frameworks named name.
func (m *Master) FrameworksByName(name string) []Framework {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Framework
	for _, f := range m.frameworks {
		if f.Name == name {
			out = append(out, f.Framework)
		}
	}
	return out
}

// snapshots copies frameworks.
func snapshots(fs []*framework) []Framework {
	out := make([]Framework, 0, len(fs))
	for _, f := range fs {
		out = append(out, f.Framework)
	}
	return out
}

// Reserve dynamically reserves r.Amount of r.Name ("cpus", "mem" or "disk")
// on an agent for r.Role.
func (m *Master) Reserve(agentID string, r Reservation) error {
	if r.Role == "" || r.Role == "*" {
		return errors.New("reservation needs a role other than *")
	}
	if r.Amount <= 0 || math.IsNaN(r.Amount) || math.IsInf(r.Amount, 0) {
		return fmt.Errorf("invalid amount %v", r.Amount)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.agent(agentID)
	if a == nil {
		return fmt.Errorf("no agent %q", agentID)
	}
	u := a.unreserved()
	var free float64
	switch r.Name {
	case "cpus":
		free = u.CPUs
	case "mem":
		free = u.Mem
	case "disk":
		free = u.Disk
	default:
		return fmt.Errorf("unknown resource %q", r.Name)
	}
	if r.Amount > free+epsilon {
		return fmt.Errorf("agent %s has only %v %s unreserved", agentID, free, r.Name)
	}
	a.add(&resource{name: r.Name, amount: r.Amount, role: r.Role, principal: r.Principal,
		labels: append([]Label(nil), r.Labels...)})
	return nil
}

// epsilon absorbs float rounding in resource arithmetic.
const epsilon = 1e-9

// add adds a reserved resource, merging it with an identical free one.
func (a *agent) add(n *resource) {
	if !n.isVolume() {
		for _, r := range a.reserved {
			if !r.isVolume() && r.name == n.name && r.usedBy == n.usedBy && sameReservation(r, n) {
				r.amount += n.amount
				return
			}
		}
	}
	a.reserved = append(a.reserved, n)
}

// CreateVolume turns v.Size of disk reserved to v.Role (with the same
// principal and labels) into a persistent volume.
func (m *Master) CreateVolume(agentID string, v Volume) error {
	if v.PersistenceID == "" {
		return errors.New("volume needs a persistence id")
	}
	if v.ContainerPath == "" {
		v.ContainerPath = "data"
	}
	if v.Mode == "" {
		v.Mode = "RW"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.agent(agentID)
	if a == nil {
		return fmt.Errorf("no agent %q", agentID)
	}
	for _, r := range a.reserved {
		if r.persistenceID == v.PersistenceID {
			return fmt.Errorf("persistence id %q already in use", v.PersistenceID)
		}
	}
	want := &resource{name: "disk", amount: v.Size, role: v.Role, principal: v.Principal, labels: v.Labels}
	if !a.take(want) {
		return fmt.Errorf("agent %s has no %v MB of free disk reserved to %s", agentID, v.Size, v.Role)
	}
	a.reserved = append(a.reserved, &resource{name: "disk", amount: v.Size, role: v.Role, principal: v.Principal,
		labels: append([]Label(nil), v.Labels...), persistenceID: v.PersistenceID, volPrincipal: v.Principal,
		containerPath: v.ContainerPath, mode: v.Mode})
	return nil
}

// contains reports whether the free (unused, non-volume) reservations of a
// hold want.
func (a *agent) contains(want *resource) bool {
	var have float64
	for _, r := range a.reserved {
		if !r.isVolume() && r.usedBy == "" && r.name == want.name && sameReservation(r, want) {
			have += r.amount
		}
	}
	return have+epsilon >= want.amount
}

// take removes want from the free reservations of a; false (and nothing
// changed) when they do not hold it.
func (a *agent) take(want *resource) bool {
	if !a.contains(want) {
		return false
	}
	left := want.amount
	kept := a.reserved[:0]
	for _, r := range a.reserved {
		if left > epsilon && !r.isVolume() && r.usedBy == "" && r.name == want.name && sameReservation(r, want) {
			d := math.Min(left, r.amount)
			r.amount -= d
			left -= d
			if r.amount <= epsilon {
				continue
			}
		}
		kept = append(kept, r)
	}
	for i := len(kept); i < len(a.reserved); i++ {
		a.reserved[i] = nil
	}
	a.reserved = kept
	return true
}

// LaunchTask starts a task of a framework on an agent using every free
// reserved resource of the framework's roles there, and returns its id.
func (m *Master) LaunchTask(frameworkID, agentID, name string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.framework(frameworkID)
	if f == nil {
		return "", ErrNoFramework
	}
	a := m.agent(agentID)
	if a == nil {
		return "", fmt.Errorf("no agent %q", agentID)
	}
	roles := map[string]bool{}
	for _, r := range f.roles() {
		roles[r] = true
	}
	t := &task{id: fmt.Sprintf("%s__%s", name, newUUID()), name: name, frameworkID: frameworkID,
		agentID: agentID, state: "TASK_RUNNING", started: m.now()}
	for _, r := range a.reserved {
		if r.usedBy == "" && roles[r.role] {
			r.usedBy = frameworkID
			t.resources = append(t.resources, *r)
		}
	}
	m.tasks = append(m.tasks, t)
	return t.id, nil
}

// KillTask kills one task; its resources become free.
func (m *Master) KillTask(taskID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.killTasks(func(t *task) bool { return t.id == taskID }) == 0 {
		return fmt.Errorf("no running task %q", taskID)
	}
	return nil
}

// KillTasks kills every task of a framework.
func (m *Master) KillTasks(frameworkID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.killTasks(func(t *task) bool { return t.frameworkID == frameworkID })
}

// Task is a snapshot of a running task.
type Task struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	FrameworkID string `json:"framework_id"`
	AgentID     string `json:"agent_id"`
	State       string `json:"state"`
}

// RunningTasks returns the running tasks of a framework ("" = all).
func (m *Master) RunningTasks(frameworkID string) []Task {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []Task{}
	for _, t := range m.tasks {
		if frameworkID == "" || t.frameworkID == frameworkID {
			out = append(out, Task{ID: t.id, Name: t.name, FrameworkID: t.frameworkID, AgentID: t.agentID, State: t.state})
		}
	}
	return out
}

// Tasks returns the ids of the running tasks of a framework ("" = all).
func (m *Master) Tasks(frameworkID string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, t := range m.tasks {
		if frameworkID == "" || t.frameworkID == frameworkID {
			out = append(out, t.id)
		}
	}
	return out
}

// killTasks kills the running tasks matching pick; m.mu held.
func (m *Master) killTasks(pick func(*task) bool) int {
	var killed, running []*task
	for _, t := range m.tasks {
		if pick(t) {
			killed = append(killed, t)
		} else {
			running = append(running, t)
		}
	}
	m.tasks = running
	for _, t := range killed {
		t.state = "TASK_KILLED"
		m.doneTasks = append(m.doneTasks, t)
		if a := m.agent(t.agentID); a != nil {
			m.freeResources(a, t.frameworkID)
		}
	}
	if len(m.doneTasks) > maxCompleted*10 {
		m.doneTasks = m.doneTasks[len(m.doneTasks)-maxCompleted*10:]
	}
	return len(killed)
}

// freeResources releases the resources a framework uses on an agent unless
// another of its tasks still runs there; m.mu held.
func (m *Master) freeResources(a *agent, frameworkID string) {
	for _, o := range m.tasks {
		if o.frameworkID == frameworkID && o.agentID == a.id {
			return
		}
	}
	old := a.reserved
	a.reserved = nil
	for _, r := range old {
		if r.usedBy == frameworkID {
			r.usedBy = ""
		}
		a.add(r) // merges free pieces back together
	}
}

// UnreserveByID destroys the volume and unreserves the resources on an agent
// that carry the label resource_id=resourceID for role, as an SDK scheduler's
// uninstall does. Resources in use by a running task are left (error).
func (m *Master) UnreserveByID(agentID, role, resourceID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.agent(agentID)
	if a == nil {
		return fmt.Errorf("no agent %q", agentID)
	}
	kept := a.reserved[:0]
	var err error
	for _, r := range a.reserved {
		if r.role == role && labelValue(r.labels, "resource_id") == resourceID {
			if r.usedBy != "" {
				err = fmt.Errorf("resource %s is in use by framework %s", resourceID, r.usedBy)
				kept = append(kept, r)
			}
			continue
		}
		kept = append(kept, r)
	}
	for i := len(kept); i < len(a.reserved); i++ {
		a.reserved[i] = nil
	}
	a.reserved = kept
	return err
}

// labelValue returns the value of key in labels ("" when absent).
func labelValue(labels []Label, key string) string {
	for _, l := range labels {
		if l.Key == key {
			return l.Value
		}
	}
	return ""
}

// Reservations returns the reservations (not volumes) of role ("" = all).
func (m *Master) Reservations(role string) []Reservation {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []Reservation{}
	for _, a := range m.agents {
		for _, r := range a.reserved {
			if !r.isVolume() && (role == "" || r.role == role) {
				out = append(out, reservationOf(a.id, r))
			}
		}
	}
	return out
}

// Volumes returns the persistent volumes of role ("" = all).
func (m *Master) Volumes(role string) []Volume {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []Volume{}
	for _, a := range m.agents {
		for _, r := range a.reserved {
			if r.isVolume() && (role == "" || r.role == role) {
				out = append(out, volumeOf(a.id, r))
			}
		}
	}
	return out
}

// newUUID returns a random RFC 4122 version 4 UUID string.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// NewUUID returns a random UUID, as Mesos and the SDK use for ids.
func NewUUID() string { return newUUID() }

// String formats a resource roughly as Mesos stringifies resources in
// error messages.
func (r *resource) String() string {
	var b strings.Builder
	b.WriteString(r.name)
	if r.role != "" && r.role != "*" {
		fmt.Fprintf(&b, "(reservations: [(DYNAMIC,%s", r.role)
		if r.principal != "" {
			fmt.Fprintf(&b, ",%s", r.principal)
		}
		if len(r.labels) > 0 {
			parts := make([]string, 0, len(r.labels))
			for _, l := range r.labels {
				parts = append(parts, l.Key+": "+l.Value)
			}
			fmt.Fprintf(&b, ",{%s}", strings.Join(parts, ", "))
		}
		b.WriteString(")])")
	}
	if r.persistenceID != "" {
		fmt.Fprintf(&b, "[%s:%s]", r.persistenceID, r.containerPath)
	}
	fmt.Fprintf(&b, ":%v", r.amount)
	return b.String()
}
