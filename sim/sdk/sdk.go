package sdk

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/universe-operator/universe-operator/sim/fault"
	"github.com/universe-operator/universe-operator/sim/mesos"
)

// Mesos is the part of the Mesos master a scheduler uses; *mesos.Master
// satisfies it.
type Mesos interface {
	Agents() []mesos.Agent
	RegisterFramework(info mesos.FrameworkInfo) mesos.Framework
	ReactivateFramework(id string, info mesos.FrameworkInfo) error
	DeactivateFramework(id string) error
	Teardown(id string) error
	Reserve(agentID string, r mesos.Reservation) error
	CreateVolume(agentID string, v mesos.Volume) error
	LaunchTask(frameworkID, agentID, name string) (string, error)
	KillTask(taskID string) error
	UnreserveByID(agentID, role, resourceID string) error
}

// ZooKeeper is the part of ZooKeeper a scheduler keeps its state in.
type ZooKeeper interface {
	// Create writes data at path, creating missing parents; an existing
	// node gets the new data.
	Create(path string, data []byte) error
	// DeleteAll deletes path and everything below it; nil when absent.
	DeleteAll(path string) error
}

// Options configures the schedulers.
type Options struct {
	// Mesos is the master schedulers register with (required).
	Mesos Mesos
	// ZooKeeper keeps the schedulers' state (required).
	ZooKeeper ZooKeeper
	// StepDuration is how long one deploy step takes (default 2 s).
	StepDuration time.Duration
	// UninstallStepDuration is how long each uninstall phase takes (default 1 s).
	UninstallStepDuration time.Duration
	// Pods is the number of pods a service deploys (default: 3, at most the
	// number of agents).
	Pods int
	// PodType names the pods and the deploy phase (default "node").
	PodType string
	// CPUs, Mem and VolumeDisk are reserved per pod (defaults 0.5, 512, 1024);
	// the disk carries a persistent volume.
	CPUs, Mem, VolumeDisk float64
}

// Spec is what a scheduler's Marathon app says about it.
type Spec struct {
	// Name is the service name (DCOS_SERVICE_NAME), possibly with folders.
	Name string
	// AppID is the Marathon app id.
	AppID string
	// Version is the app version; a new version re-runs the deploy plan.
	Version string
	// APIVersion is DCOS_COMMONS_API_VERSION (default "v1").
	APIVersion string
	// Principal overrides the default "<name>-principal".
	Principal string
	// WebUIURL is registered as the framework's webui_url.
	WebUIURL string
	// Uninstall is env SDK_UNINSTALL=true: run the uninstall plan.
	Uninstall bool
}

// Schedulers manages the simulated SDK schedulers, one per service. It is
// safe for concurrent use.
type Schedulers struct {
	opts   Options
	faults *fault.Injector

	// runMu serializes Run, Stop and Close so a service never has two workers.
	runMu sync.Mutex

	mu       sync.Mutex
	services map[string]*Scheduler
	closed   bool
}

// New returns an empty set of schedulers.
func New(opts Options) *Schedulers {
	if opts.StepDuration <= 0 {
		opts.StepDuration = 2 * time.Second
	}
	if opts.UninstallStepDuration <= 0 {
		opts.UninstallStepDuration = time.Second
	}
	if opts.PodType == "" {
		opts.PodType = "node"
	}
	if opts.CPUs <= 0 {
		opts.CPUs = 0.5
	}
	if opts.Mem <= 0 {
		opts.Mem = 512
	}
	if opts.VolumeDisk <= 0 {
		opts.VolumeDisk = 1024
	}
	return &Schedulers{opts: opts, faults: &fault.Injector{}, services: map[string]*Scheduler{}}
}

// Faults returns the injector applied in front of every scheduler's API.
func (s *Schedulers) Faults() *fault.Injector { return s.faults }

// EscapeName escapes a service name as the SDK does for roles and ZooKeeper
// nodes: leading "/" dropped, other "/" replaced by "__".
func EscapeName(service string) string {
	return strings.ReplaceAll(strings.TrimPrefix(service, "/"), "/", "__")
}

// Role is the Mesos role of a service: "<escaped>-role".
func Role(service string) string { return EscapeName(service) + "-role" }

// Principal is the default principal of a service: "<name>-principal".
func Principal(service string) string { return strings.TrimPrefix(service, "/") + "-principal" }

// ZNode is the ZooKeeper node of a service: "/dcos-service-<escaped>".
func ZNode(service string) string { return "/dcos-service-" + EscapeName(service) }

// normalize drops the leading "/" of a service name.
func normalize(name string) string { return strings.TrimPrefix(name, "/") }

// Run makes the scheduler of spec.Name run at spec: it starts (or restarts)
// deploying, or uninstalling when spec.Uninstall is set.
func (s *Schedulers) Run(spec Spec) {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	spec.Name = normalize(spec.Name)
	if spec.APIVersion == "" {
		spec.APIVersion = "v1"
	}
	if spec.Principal == "" {
		spec.Principal = Principal(spec.Name)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	sc := s.services[spec.Name]
	if sc == nil {
		sc = &Scheduler{s: s, name: spec.Name}
		s.services[spec.Name] = sc
	}
	if spec.Uninstall && sc.uninstalling && sc.running {
		// The uninstall scheduler keeps going; a restart resumes where it is.
		sc.spec = spec
		s.mu.Unlock()
		return
	}
	prev := sc.spec
	s.mu.Unlock()
	sc.halt()

	if spec.Uninstall {
		sc.startUninstall(spec)
		return
	}
	sc.startDeploy(spec, prev)
}

// Stop stops the scheduler of a service (its app was deleted or scaled to
// zero). A scheduler that finished uninstalling is forgotten; otherwise its
// framework stays registered, inactive, with its tasks and reservations.
func (s *Schedulers) Stop(name string) {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	name = normalize(name)
	s.mu.Lock()
	sc := s.services[name]
	s.mu.Unlock()
	if sc == nil {
		return
	}
	sc.halt()
	s.mu.Lock()
	defer s.mu.Unlock()
	if sc.uninstalling && sc.plan != nil && sc.plan.status() == StatusComplete {
		delete(s.services, name)
		return
	}
	if sc.frameworkID != "" {
		_ = s.opts.Mesos.DeactivateFramework(sc.frameworkID)
	}
}

// Close stops every scheduler; Run does nothing afterwards.
func (s *Schedulers) Close() {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	s.mu.Lock()
	s.closed = true
	all := make([]*Scheduler, 0, len(s.services))
	for _, sc := range s.services {
		all = append(all, sc)
	}
	s.mu.Unlock()
	for _, sc := range all {
		sc.halt()
	}
}

// Scheduler returns the running scheduler of a service (nil when none).
func (s *Schedulers) Scheduler(name string) *Scheduler {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sc := s.services[normalize(name)]; sc != nil && sc.running {
		return sc
	}
	return nil
}

// Names returns the names of the running schedulers, sorted.
func (s *Schedulers) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for name, sc := range s.services {
		if sc.running {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Handler returns the API of a running scheduler with fault injection, or
// nil when the service runs no scheduler.
func (s *Schedulers) Handler(name string) http.Handler {
	sc := s.Scheduler(name)
	if sc == nil {
		return nil
	}
	return s.faults.Middleware(sc)
}

// Summary describes a scheduler for the simulator's state view.
type Summary struct {
	Name         string `json:"name"`
	AppID        string `json:"app_id"`
	Running      bool   `json:"running"`
	Uninstalling bool   `json:"uninstalling"`
	FrameworkID  string `json:"framework_id,omitempty"`
	DeployStatus string `json:"deploy_status,omitempty"`
	Pods         int    `json:"pods"`
}

// Summaries describes every known scheduler, sorted by name.
func (s *Schedulers) Summaries() []Summary {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Summary{}
	for name, sc := range s.services {
		sum := Summary{Name: name, AppID: sc.spec.AppID, Running: sc.running, Uninstalling: sc.uninstalling,
			FrameworkID: sc.frameworkID, Pods: len(sc.pods)}
		if sc.plan != nil {
			sum.DeployStatus = sc.plan.status()
		}
		out = append(out, sum)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// pod is a deployed pod instance.
type pod struct {
	index     int
	agentID   string
	hostname  string
	taskName  string
	taskID    string
	cpuID     string // resource_id labels of the pod's reservations
	memID     string
	diskID    string
	reserved  bool
	deployedV string
}

// stepName is the deploy step name of a pod, as dcos-commons names it.
func (p *pod) stepName(podType string) string {
	return fmt.Sprintf("%s-%d:[server]", podType, p.index)
}

// Scheduler is one simulated dcos-commons scheduler.
type Scheduler struct {
	s    *Schedulers
	name string

	// guarded by s.mu
	spec         Spec
	running      bool
	uninstalling bool
	frameworkID  string
	pods         []*pod
	plan         *plan // "deploy" (the uninstall plan while uninstalling)
	recovery     *plan
	stop         chan struct{}
	done         chan struct{}
}

// halt stops the scheduler's worker and waits for it.
func (sc *Scheduler) halt() {
	sc.s.mu.Lock()
	stop, done := sc.stop, sc.done
	sc.stop, sc.done = nil, nil
	sc.running = false
	sc.s.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
}

// Uninstalling reports whether the scheduler runs its uninstall plan.
func (sc *Scheduler) Uninstalling() bool {
	sc.s.mu.Lock()
	defer sc.s.mu.Unlock()
	return sc.uninstalling
}

// FrameworkID returns the id of the scheduler's framework ("" before it registered).
func (sc *Scheduler) FrameworkID() string {
	sc.s.mu.Lock()
	defer sc.s.mu.Unlock()
	return sc.frameworkID
}

// Plan returns a snapshot of a plan by name.
func (sc *Scheduler) Plan(name string) (PlanInfo, bool) {
	sc.s.mu.Lock()
	defer sc.s.mu.Unlock()
	p := sc.planNamed(name)
	if p == nil {
		return PlanInfo{}, false
	}
	return p.info(), true
}

// planNamed finds a plan; s.mu held.
func (sc *Scheduler) planNamed(name string) *plan {
	if sc.plan != nil && sc.plan.name == name {
		return sc.plan
	}
	if !sc.uninstalling && sc.recovery != nil && sc.recovery.name == name {
		return sc.recovery
	}
	return nil
}

// frameworkInfo is what the scheduler registers; s.mu held.
func (sc *Scheduler) frameworkInfo() mesos.FrameworkInfo {
	return mesos.FrameworkInfo{
		Name: sc.name, User: "nobody", Roles: []string{Role(sc.name)}, Principal: sc.spec.Principal,
		WebUIURL: sc.spec.WebUIURL, Hostname: "10.0.2.10",
		Capabilities: []string{"MULTI_ROLE", "RESERVATION_REFINEMENT", "GPU_RESOURCES", "PARTITION_AWARE"},
		Labels:       []mesos.Label{{Key: "DCOS_SERVICE_NAME", Value: sc.name}},
	}
}

// startDeploy registers (or re-registers) the framework and runs the deploy plan.
func (sc *Scheduler) startDeploy(spec, prev Spec) {
	s := sc.s
	s.mu.Lock()
	sc.spec = spec
	sc.uninstalling = false
	m := s.opts.Mesos
	info := sc.frameworkInfo()
	if sc.frameworkID == "" || m.ReactivateFramework(sc.frameworkID, info) != nil {
		// No framework to fail over to: a fresh registration and fresh pods.
		sc.frameworkID = m.RegisterFramework(info).ID
		sc.pods = nil
	}
	fwID := sc.frameworkID
	if len(sc.pods) == 0 {
		agents := m.Agents()
		n := s.opts.Pods
		if n <= 0 {
			n = min(3, len(agents))
		}
		for i := 0; i < n && len(agents) > 0; i++ {
			a := agents[i%len(agents)]
			sc.pods = append(sc.pods, &pod{index: i, agentID: a.ID, hostname: a.Hostname,
				taskName: fmt.Sprintf("%s-%d-server", s.opts.PodType, i)})
		}
	}
	var steps []*step
	for _, p := range sc.pods {
		st := &step{id: mesos.NewUUID(), name: p.stepName(s.opts.PodType), status: StatusPending}
		if p.reserved && p.deployedV == spec.Version && p.taskID != "" {
			st.status = StatusComplete
		}
		steps = append(steps, st)
	}
	sc.plan = &plan{name: "deploy", strategy: "serial", phases: []*phase{{id: mesos.NewUUID(), name: s.opts.PodType, strategy: "serial", steps: steps}}}
	sc.recovery = &plan{name: "recovery", strategy: "serial"}
	sc.running = true
	sc.stop, sc.done = make(chan struct{}), make(chan struct{})
	stop, done := sc.stop, sc.done
	pods := append([]*pod(nil), sc.pods...)
	s.mu.Unlock()
	_ = prev

	zk := s.opts.ZooKeeper
	node := ZNode(sc.name)
	_ = zk.Create(node+"/FrameworkID", []byte(fwID))
	_ = zk.Create(node+"/SchemaVersion", []byte("1"))
	cfg := mesos.NewUUID()
	_ = zk.Create(node+"/Configurations/"+cfg, []byte(spec.Version))
	_ = zk.Create(node+"/ConfigTarget", []byte(cfg))

	go func() {
		defer close(done)
		for i, p := range pods {
			st := steps[i]
			s.mu.Lock()
			if st.status == StatusComplete {
				s.mu.Unlock()
				continue
			}
			st.status = StatusStarting
			s.mu.Unlock()
			if !sleep(stop, s.opts.StepDuration) {
				return
			}
			msg := sc.deployPod(fwID, p, spec)
			s.mu.Lock()
			if msg != "" {
				st.status, st.message = StatusError, msg
				sc.plan.errors = append(sc.plan.errors, msg)
				s.mu.Unlock()
				return
			}
			st.status = StatusComplete
			s.mu.Unlock()
		}
	}()
}

// deployPod reserves a pod's resources (once), creates its volume and
// (re)starts its task; "" on success, else the error message.
func (sc *Scheduler) deployPod(fwID string, p *pod, spec Spec) string {
	s := sc.s
	m := s.opts.Mesos
	role := Role(sc.name)
	s.mu.Lock()
	reserved, oldTask := p.reserved, p.taskID
	s.mu.Unlock()
	if !reserved {
		cpuID, memID, diskID := mesos.NewUUID(), mesos.NewUUID(), mesos.NewUUID()
		label := func(id string) []mesos.Label { return []mesos.Label{{Key: "resource_id", Value: id}} }
		for _, r := range []mesos.Reservation{
			{Name: "cpus", Amount: s.opts.CPUs, Labels: label(cpuID)},
			{Name: "mem", Amount: s.opts.Mem, Labels: label(memID)},
			{Name: "disk", Amount: s.opts.VolumeDisk, Labels: label(diskID)},
		} {
			r.Role, r.Principal = role, spec.Principal
			if err := m.Reserve(p.agentID, r); err != nil {
				return fmt.Sprintf("reserving %s for %s: %v", r.Name, p.taskName, err)
			}
		}
		if err := m.CreateVolume(p.agentID, mesos.Volume{Size: s.opts.VolumeDisk, Role: role, Principal: spec.Principal,
			Labels: label(diskID), PersistenceID: mesos.NewUUID(), ContainerPath: "data"}); err != nil {
			return fmt.Sprintf("creating the volume of %s: %v", p.taskName, err)
		}
		s.mu.Lock()
		p.cpuID, p.memID, p.diskID, p.reserved = cpuID, memID, diskID, true
		s.mu.Unlock()
	}
	if oldTask != "" {
		_ = m.KillTask(oldTask)
	}
	taskID, err := m.LaunchTask(fwID, p.agentID, p.taskName)
	if err != nil {
		return fmt.Sprintf("launching %s: %v", p.taskName, err)
	}
	_ = s.opts.ZooKeeper.Create(ZNode(sc.name)+"/Tasks/"+p.taskName+"/TaskInfo", []byte(taskID))
	s.mu.Lock()
	p.taskID, p.deployedV = taskID, spec.Version
	s.mu.Unlock()
	return ""
}

// startUninstall builds the uninstall plan and runs it.
func (sc *Scheduler) startUninstall(spec Spec) {
	s := sc.s
	s.mu.Lock()
	sc.spec = spec
	sc.uninstalling = true
	sc.running = true
	sc.stop, sc.done = make(chan struct{}), make(chan struct{})
	stop, done := sc.stop, sc.done
	m := s.opts.Mesos
	if sc.frameworkID == "" {
		// Never registered: wipe ZooKeeper and answer an empty COMPLETE plan.
		sc.plan = &plan{name: "deploy", strategy: "serial"}
		s.mu.Unlock()
		_ = s.opts.ZooKeeper.DeleteAll(ZNode(sc.name))
		close(done)
		return
	}
	fwID := sc.frameworkID
	_ = m.ReactivateFramework(fwID, sc.frameworkInfo())

	kill := &phase{id: mesos.NewUUID(), name: "kill-tasks", strategy: "parallel"}
	byHost := map[string]*phase{}
	var hosts []string
	type cleanup struct {
		st      *step
		agentID string
		id      string
	}
	var kills []struct {
		st     *step
		taskID string
	}
	var cleanups []cleanup
	for _, p := range sc.pods {
		if p.taskID != "" {
			st := &step{id: mesos.NewUUID(), name: "kill-task-" + p.taskID, status: StatusPending}
			kill.steps = append(kill.steps, st)
			kills = append(kills, struct {
				st     *step
				taskID string
			}{st, p.taskID})
		}
		if !p.reserved {
			continue
		}
		ph := byHost[p.hostname]
		if ph == nil {
			ph = &phase{id: mesos.NewUUID(), name: "unreserve-resources-" + p.hostname, strategy: "parallel"}
			byHost[p.hostname] = ph
			hosts = append(hosts, p.hostname)
		}
		ids := []string{p.cpuID, p.memID, p.diskID}
		sort.Strings(ids)
		for _, id := range ids {
			st := &step{id: mesos.NewUUID(), name: "unreserve-" + id, status: StatusPending}
			ph.steps = append(ph.steps, st)
			cleanups = append(cleanups, cleanup{st, p.agentID, id})
		}
	}
	sort.Strings(hosts)
	phases := []*phase{kill}
	for _, h := range hosts {
		phases = append(phases, byHost[h])
	}
	dereg := &step{id: mesos.NewUUID(), name: "deregister", status: StatusPending}
	phases = append(phases, &phase{id: mesos.NewUUID(), name: "deregister-service", strategy: "serial", steps: []*step{dereg}})
	sc.plan = &plan{name: "deploy", strategy: "dependency", phases: phases}
	pods := sc.pods
	s.mu.Unlock()

	role := Role(sc.name)
	d := s.opts.UninstallStepDuration
	go func() {
		defer close(done)
		// Phase 1: kill every task (parallel).
		set := func(status string, steps ...*step) {
			s.mu.Lock()
			for _, st := range steps {
				st.status = status
			}
			s.mu.Unlock()
		}
		for _, k := range kills {
			set(StatusStarting, k.st)
		}
		if !sleep(stop, d) {
			return
		}
		for _, k := range kills {
			_ = m.KillTask(k.taskID)
			set(StatusComplete, k.st)
		}
		s.mu.Lock()
		for _, p := range pods {
			p.taskID = ""
		}
		s.mu.Unlock()
		// Phase 2: unreserve every resource, all agents in parallel.
		for _, c := range cleanups {
			set(StatusPrepared, c.st)
		}
		if !sleep(stop, d) {
			return
		}
		for _, c := range cleanups {
			if err := m.UnreserveByID(c.agentID, role, c.id); err != nil {
				s.mu.Lock()
				c.st.status, c.st.message = StatusError, err.Error()
				sc.plan.errors = append(sc.plan.errors, err.Error())
				s.mu.Unlock()
				return
			}
			set(StatusComplete, c.st)
		}
		s.mu.Lock()
		for _, p := range pods {
			p.reserved = false
		}
		s.mu.Unlock()
		// Phase 3: wipe ZooKeeper, then deregister the framework.
		set(StatusStarting, dereg)
		if !sleep(stop, d) {
			return
		}
		if err := s.opts.ZooKeeper.DeleteAll(ZNode(sc.name)); err != nil {
			s.mu.Lock()
			dereg.status, dereg.message = StatusError, err.Error()
			sc.plan.errors = append(sc.plan.errors, err.Error())
			s.mu.Unlock()
			return
		}
		_ = m.Teardown(fwID)
		s.mu.Lock()
		sc.frameworkID = ""
		sc.pods = nil
		dereg.status = StatusComplete
		s.mu.Unlock()
	}()
}

// sleep waits d or until stop is closed; false when stopped.
func sleep(stop <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
		return false
	}
}
