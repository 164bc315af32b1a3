package sim

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/universe-operator/universe-operator/sim/auth"
	"github.com/universe-operator/universe-operator/sim/marathon"
	"github.com/universe-operator/universe-operator/sim/mesos"
	"github.com/universe-operator/universe-operator/sim/sdk"
)

// Options configures a simulated cluster. Zero values give realistic
// defaults (deployments of a few seconds); FastOptions gives test speed.
type Options struct {
	// Marathon configures Marathon (timing, leader, ...). When Agents is
	// empty, Marathon places tasks on the Mesos agents' hostnames.
	Marathon marathon.Options
	// Mesos configures the master (number of agents, their resources).
	Mesos mesos.Options
	// SDK configures the SDK schedulers (step durations, pods, resources);
	// its Mesos and ZooKeeper fields are set by the cluster.
	SDK sdk.Options
	// Auth configures service-account login and the Admin Router check.
	Auth auth.Options
	// ZooKeeper records the services' ZooKeeper nodes (default in memory).
	ZooKeeper ZooKeeper
	// FrameworkAgents is the number of agents a plain framework reserves
	// resources and a volume on (default 3, at most the number of agents).
	FrameworkAgents int
	// FrameworkResources is what a plain framework reserves per agent:
	// cpus, mem, and disk that carries a persistent volume (default 0.5,
	// 512, 1024).
	FrameworkResources mesos.Resources
	// NoPlainZNode stops plain frameworks from writing /dcos-service-<name>.
	NoPlainZNode bool
	// DCOSVersion is reported by /dcos-metadata/dcos-version.json (default "2.2.0").
	DCOSVersion string
	// Log receives one entry per notable simulator action (default: discarded).
	Log logrus.FieldLogger
}

// FastOptions returns options under which everything happens within tens of
// milliseconds: deployments 50 ms, health results 20 ms after a task runs,
// SDK steps 20 ms.
func FastOptions() Options {
	return Options{
		Marathon: marathon.Options{Timing: marathon.Timing{
			DeploymentDuration: 50 * time.Millisecond,
			TaskStageDuration:  10 * time.Millisecond,
			HealthDelay:        20 * time.Millisecond,
			TimeScale:          0.001,
		}},
		SDK: sdk.Options{StepDuration: 20 * time.Millisecond, UninstallStepDuration: 20 * time.Millisecond},
	}
}

// Cluster is a simulated DC/OS cluster.
type Cluster struct {
	// Marathon is the simulated Marathon.
	Marathon *marathon.Server
	// Mesos is the simulated Mesos master.
	Mesos *mesos.Master
	// SDK holds the SDK schedulers.
	SDK *sdk.Schedulers
	// Auth is the IAM and Admin Router token check.
	Auth *auth.Authority
	// ZooKeeper holds the services' ZooKeeper nodes.
	ZooKeeper ZooKeeper

	opts Options
	log  logrus.FieldLogger

	mu       sync.Mutex
	apps     map[string]*appState // running apps by id
	plain    map[string]string    // plain framework name -> framework id
	services map[string]*appState // DCOS_SERVICE_NAME -> app
	closed   bool
}

// appState is what the cluster knows about a running app.
type appState struct {
	ID            string            `json:"id"`
	Version       string            `json:"version"`
	Kind          string            `json:"kind"` // "sdk", "framework" or "app"
	ServiceName   string            `json:"service_name,omitempty"`
	FrameworkName string            `json:"framework_name,omitempty"`
	Role          string            `json:"role,omitempty"`
	Instances     int               `json:"instances"`
	Labels        map[string]string `json:"-"`
}

// New builds a cluster and wires Marathon's app events to Mesos and the SDK
// schedulers.
func New(opts Options) *Cluster {
	log := opts.Log
	if log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		log = l
	}
	if opts.ZooKeeper == nil {
		opts.ZooKeeper = NewMemZooKeeper()
	}
	if opts.DCOSVersion == "" {
		opts.DCOSVersion = "2.2.0"
	}
	if opts.FrameworkResources == (mesos.Resources{}) {
		opts.FrameworkResources = mesos.Resources{CPUs: 0.5, Mem: 512, Disk: 1024}
	}
	m := mesos.New(opts.Mesos)
	if opts.FrameworkAgents <= 0 {
		opts.FrameworkAgents = 3
	}
	if len(opts.Marathon.Agents) == 0 {
		for _, a := range m.Agents() {
			opts.Marathon.Agents = append(opts.Marathon.Agents, a.Hostname)
		}
	}
	if opts.Marathon.Logf == nil && opts.Log != nil {
		ml := log.WithField("component", "marathon")
		opts.Marathon.Logf = func(format string, args ...any) { ml.Infof(format, args...) }
	}
	sdkOpts := opts.SDK
	sdkOpts.Mesos, sdkOpts.ZooKeeper = m, opts.ZooKeeper
	c := &Cluster{
		Marathon:  marathon.New(opts.Marathon),
		Mesos:     m,
		SDK:       sdk.New(sdkOpts),
		Auth:      auth.New(opts.Auth),
		ZooKeeper: opts.ZooKeeper,
		opts:      opts,
		log:       log,
		apps:      map[string]*appState{},
		plain:     map[string]string{},
		services:  map[string]*appState{},
	}
	c.Marathon.AddObserver(observer{c})
	return c
}

// Close stops Marathon's timers and the SDK schedulers.
func (c *Cluster) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	c.Marathon.Close()
	c.SDK.Close()
}

// Handler serves the whole cluster as Admin Router lays it out (see the
// package doc).
func (c *Cluster) Handler() http.Handler {
	protected := http.NewServeMux()
	mar := c.Marathon.Handler()
	for _, prefix := range []string{"/service/marathon", "/marathon"} {
		protected.Handle(prefix+"/", http.StripPrefix(prefix, rewriteLocation(prefix, mar)))
		protected.Handle(prefix, redirectSlash())
	}
	protected.Handle("/mesos/", http.StripPrefix("/mesos", c.Mesos.Handler()))
	protected.Handle("/mesos", redirectSlash())
	protected.HandleFunc("/service/", c.serveService)
	protected.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		notFoundPage(w, "No route for "+r.URL.Path+" in the simulated Admin Router.")
	})

	root := http.NewServeMux()
	root.Handle(auth.LoginPath, c.Auth.LoginHandler())
	root.HandleFunc("/dcos-metadata/dcos-version.json", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"version": c.opts.DCOSVersion, "dcos-variant": "open",
			"dcos-image-commit": "simulated", "bootstrap-id": "simulated"})
	})
	root.Handle("/simulator/v1/", c.controlHandler())
	root.Handle("/", c.Auth.Middleware(protected))
	return root
}

// redirectSlash redirects a mount point without its trailing slash.
func redirectSlash() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.URL.Path + "/"
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusTemporaryRedirect)
	})
}

// observer adapts the cluster to marathon.Observer.
type observer struct{ c *Cluster }

// AppRunning implements marathon.Observer.
func (o observer) AppRunning(v marathon.AppView) { o.c.appRunning(v) }

// AppRemoved implements marathon.Observer.
func (o observer) AppRemoved(id string) { o.c.appRemoved(id) }

// appRunning reacts to an app that runs at a new definition.
func (c *Cluster) appRunning(v marathon.AppView) {
	st := &appState{ID: v.ID, Version: v.Version, Kind: "app", Instances: v.Instances, Labels: v.Labels,
		ServiceName:   strings.TrimPrefix(v.Labels["DCOS_SERVICE_NAME"], "/"),
		FrameworkName: v.Labels["DCOS_PACKAGE_FRAMEWORK_NAME"]}
	_, isSDK := v.Labels["DCOS_COMMONS_UNINSTALL"]
	switch {
	case isSDK:
		st.Kind = "sdk"
		if st.ServiceName == "" {
			st.ServiceName = strings.TrimPrefix(st.FrameworkName, "/")
		}
		if st.ServiceName == "" {
			st.ServiceName = strings.TrimPrefix(v.ID, "/")
		}
		st.Role = sdk.Role(st.ServiceName)
	case st.FrameworkName != "":
		st.Kind = "framework"
		st.Role = sdk.Role(st.FrameworkName)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if old := c.apps[v.ID]; old != nil && old.ServiceName != "" && c.services[old.ServiceName] == old {
		delete(c.services, old.ServiceName)
	}
	c.apps[v.ID] = st
	if st.ServiceName != "" {
		c.services[st.ServiceName] = st
	}
	c.mu.Unlock()

	log := c.log.WithField("app", v.ID)
	switch st.Kind {
	case "sdk":
		if v.Instances == 0 {
			c.SDK.Stop(st.ServiceName)
			return
		}
		spec := sdk.Spec{Name: st.ServiceName, AppID: v.ID, Version: v.Version,
			APIVersion: v.Labels["DCOS_COMMONS_API_VERSION"], Principal: v.Env["FRAMEWORK_PRINCIPAL"],
			WebUIURL:  fmt.Sprintf("http://api.%s.marathon.l4lb.thisdcos.directory/", strings.ReplaceAll(st.ServiceName, "/", "")),
			Uninstall: v.Env["SDK_UNINSTALL"] == "true"}
		c.SDK.Run(spec)
		log.WithField("uninstall", spec.Uninstall).Infof("sdk scheduler %s running", st.ServiceName)
	case "framework":
		c.runPlainFramework(v, st)
	}
}

// appRemoved reacts to a deleted app.
func (c *Cluster) appRemoved(id string) {
	c.mu.Lock()
	st := c.apps[id]
	delete(c.apps, id)
	if st != nil && st.ServiceName != "" && c.services[st.ServiceName] == st {
		delete(c.services, st.ServiceName)
	}
	fwID := ""
	if st != nil && st.Kind == "framework" {
		fwID = c.plain[st.FrameworkName]
	}
	c.mu.Unlock()
	if st == nil {
		return
	}
	log := c.log.WithField("app", id)
	switch st.Kind {
	case "sdk":
		c.SDK.Stop(st.ServiceName)
		log.Infof("sdk scheduler %s stopped", st.ServiceName)
	case "framework":
		if fwID != "" && c.Mesos.DeactivateFramework(fwID) == nil {
			log.Infof("framework %s (%s) inactive: it stays registered until TEARDOWN", st.FrameworkName, fwID)
		}
	}
}

// runPlainFramework registers (or fails over) the framework of a plain
// framework app and makes sure its reservations, volumes and tasks exist.
func (c *Cluster) runPlainFramework(v marathon.AppView, st *appState) {
	name := st.FrameworkName
	principal := v.Env["FRAMEWORK_PRINCIPAL"]
	if principal == "" {
		principal = sdk.Principal(name)
	}
	info := mesos.FrameworkInfo{Name: name, Role: st.Role, Principal: principal,
		WebUIURL: fmt.Sprintf("http://%s.marathon.mesos:%d/", sdk.EscapeName(name), firstPort(v)),
		Hostname: c.Mesos.Agents()[0].Hostname, Labels: []mesos.Label{{Key: "MARATHON_APP_ID", Value: v.ID}}}
	log := c.log.WithField("app", v.ID)
	c.mu.Lock()
	fwID := c.plain[name]
	c.mu.Unlock()
	if v.Instances == 0 {
		if fwID != "" {
			_ = c.Mesos.DeactivateFramework(fwID)
		}
		return
	}
	if fwID == "" || c.Mesos.ReactivateFramework(fwID, info) != nil {
		fwID = c.Mesos.RegisterFramework(info).ID
		log.Infof("framework %s registered as %s with role %s", name, fwID, st.Role)
	}
	c.mu.Lock()
	c.plain[name] = fwID
	c.mu.Unlock()

	agents := c.Mesos.Agents()
	n := min(c.opts.FrameworkAgents, len(agents))
	res := c.opts.FrameworkResources
	running := map[string]bool{}
	for _, t := range c.Mesos.RunningTasks(fwID) {
		running[t.AgentID] = true
	}
	for i := 0; i < n; i++ {
		a := agents[i]
		if !hasRole(a, st.Role) {
			for _, r := range []mesos.Reservation{{Name: "cpus", Amount: res.CPUs}, {Name: "mem", Amount: res.Mem}, {Name: "disk", Amount: res.Disk}} {
				if r.Amount <= 0 {
					continue
				}
				r.Role, r.Principal = st.Role, principal
				if err := c.Mesos.Reserve(a.ID, r); err != nil {
					log.WithError(err).Warnf("framework %s: reserving %s on %s", name, r.Name, a.ID)
				}
			}
			if res.Disk > 0 {
				if err := c.Mesos.CreateVolume(a.ID, mesos.Volume{Size: res.Disk, Role: st.Role, Principal: principal,
					PersistenceID: mesos.NewUUID(), ContainerPath: "data"}); err != nil {
					log.WithError(err).Warnf("framework %s: creating a volume on %s", name, a.ID)
				}
			}
		}
		if !running[a.ID] {
			if _, err := c.Mesos.LaunchTask(fwID, a.ID, fmt.Sprintf("%s-%d", sdk.EscapeName(name), i)); err != nil {
				log.WithError(err).Warnf("framework %s: launching a task on %s", name, a.ID)
			}
		}
	}
	if !c.opts.NoPlainZNode {
		if err := c.ZooKeeper.Create(sdk.ZNode(name)+"/FrameworkID", []byte(fwID)); err != nil {
			log.WithError(err).Warnf("framework %s: writing its znode", name)
		}
	}
}

// hasRole reports whether an agent holds anything reserved to role.
func hasRole(a mesos.Agent, role string) bool {
	for _, r := range a.Reservations {
		if r.Role == role {
			return true
		}
	}
	for _, v := range a.Volumes {
		if v.Role == role {
			return true
		}
	}
	return false
}

// firstPort returns the app's first service port (10000 when none).
func firstPort(v marathon.AppView) int {
	var def struct {
		PortDefinitions []struct {
			Port int `json:"port"`
		} `json:"portDefinitions"`
	}
	if err := jsonUnmarshal(v.Raw, &def); err == nil && len(def.PortDefinitions) > 0 && def.PortDefinitions[0].Port > 0 {
		return def.PortDefinitions[0].Port
	}
	return 10000
}
