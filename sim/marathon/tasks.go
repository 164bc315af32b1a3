package marathon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// app is the live state of one app.
type app struct {
	id       string
	def      *appDef
	versions []*appDef // oldest first, at most maxVersions
	dynPorts []int     // service ports assigned by the simulator, by port index
	tasks    []*task   // tasks that are staging or running
	removed  bool

	wanted     int         // instances the launcher keeps
	restarting *deployment // a RestartApplication step replaces old-config tasks

	healthy     bool // desired health of the app's tasks (control API)
	lastFailure json.RawMessage

	failures    int       // consecutive launch failures, for the backoff
	lastFailAt  time.Time // time of the last failure
	delayUntil  time.Time // no launch before this time
	queuedSince time.Time // first time launches were held back
	launchTimer *timer

	info     []byte // cached AppInfo JSON for infoMask; nil when stale
	infoMask embeds
}

// changed drops the cached AppInfo JSON.
func (a *app) changed() { a.info = nil }

const maxVersions = 50

// task is one Marathon task (one instance, one incarnation).
type task struct {
	app          *app
	id           string
	instanceID   string
	def          *appDef
	agentID      string
	host         string
	hostPorts    []int
	servicePorts []int
	state        string
	stagedAt     time.Time
	startedAt    time.Time
	health       []healthState
	override     *bool // per-task desired health
	deploy       *deployment
	timers       []*timer
	hcTimers     []*timer // pending check, by health check index
	json         []byte   // cached rendering
}

type healthState struct {
	has                 bool
	alive               bool
	consecutiveFailures int
	firstSuccess        time.Time
	lastSuccess         time.Time
	lastFailure         time.Time
	lastFailureCause    string
}

func (t *task) running() bool { return t.state == "TASK_RUNNING" }

// changed drops the cached JSON of the task and of its app.
func (t *task) changed() {
	t.json = nil
	t.app.changed()
}

// current reports whether the task runs the app's current configuration.
func (t *task) current(d *appDef) bool {
	return t.def.lastConfigChangeAt.Equal(d.lastConfigChangeAt)
}

// healthy reports Marathon's notion: results exist and all are alive.
func (t *task) healthy() bool {
	if len(t.health) == 0 {
		return false
	}
	for _, h := range t.health {
		if !h.has || !h.alive {
			return false
		}
	}
	return true
}

func (t *task) unhealthy() bool {
	for _, h := range t.health {
		if h.has && !h.alive {
			return true
		}
	}
	return false
}

func (t *task) stopTimers() {
	for _, tm := range t.timers {
		tm.cancel()
	}
	for _, tm := range t.hcTimers {
		tm.cancel()
	}
	t.timers, t.hcTimers = nil, nil
}

// wantHealthy is the health the control API asks for this task.
func (t *task) wantHealthy() bool {
	if t.override != nil {
		return *t.override
	}
	return t.app.healthy
}

// ---- launching -------------------------------------------------------------

// reconcile launches or kills tasks so the app reaches its wanted instance
// count, honouring the launch backoff. Callers hold s.mu.
func (s *Server) reconcile(a *app) {
	if a.removed {
		return
	}
	now := time.Now()
	if a.restarting != nil {
		s.replaceTasks(a, now)
		return
	}
	missing := a.wanted - len(a.tasks)
	switch {
	case missing > 0:
		s.launch(a, missing, now)
	case missing < 0:
		victims := append([]*task(nil), a.tasks...)
		sort.SliceStable(victims, func(i, j int) bool {
			if a.def.killSelection == "OLDEST_FIRST" {
				return victims[i].stagedAt.Before(victims[j].stagedAt)
			}
			return victims[i].stagedAt.After(victims[j].stagedAt)
		})
		for _, t := range victims[:-missing] {
			s.killTask(t, "TASK_KILLED", "", false)
		}
		s.clearQueue(a)
	default:
		s.clearQueue(a)
	}
}

// replaceTasks moves a restarting app from old-config to current-config
// tasks the way Marathon's task replacer does with the upgradeStrategy: at
// least ceil(instances*minimumHealthCapacity) tasks stay ready, at most
// instances*(1+maximumOverCapacity) tasks exist, and an old task is killed
// for every new one that is ready.
func (s *Server) replaceTasks(a *app, now time.Time) {
	d := a.def
	n := a.wanted
	minHealthy := int(math.Ceil(float64(n)*d.minHealth - 1e-9))
	maxCapacity := int(float64(n)*(1+d.maxOver) + 1e-9)
	var old, cur []*task
	readyNew, readyOld := 0, 0
	for _, t := range a.tasks {
		ready := t.running() && (len(d.health) == 0 || t.healthy())
		if t.current(d) {
			cur = append(cur, t)
			if ready {
				readyNew++
			}
		} else {
			old = append(old, t)
			if ready {
				readyOld++
			}
		}
	}
	if maxCapacity <= minHealthy && len(old) > 0 {
		// No room to restart: Marathon allows one task of temporary over-capacity.
		maxCapacity = minHealthy + 1
	}
	// Kill old tasks while enough ready tasks remain (the not-ready ones first).
	sort.SliceStable(old, func(i, j int) bool {
		ri := old[i].running() && (len(d.health) == 0 || old[i].healthy())
		rj := old[j].running() && (len(d.health) == 0 || old[j].healthy())
		return !ri && rj
	})
	kill := len(old)
	if keep := minHealthy - readyNew; keep > 0 {
		// Ready old tasks needed to stay above minHealthy; not-ready ones go anyway.
		notReady := len(old) - readyOld
		kill = notReady + max(0, readyOld-keep)
	}
	for _, t := range old[:min(kill, len(old))] {
		s.killTask(t, "TASK_KILLED", "", false)
	}
	remaining := len(old) - min(kill, len(old))
	if launch := min(n-len(cur), maxCapacity-remaining-len(cur)); launch > 0 {
		s.launch(a, launch, now)
	} else if n-len(cur) <= 0 {
		s.clearQueue(a)
	}
}

func (s *Server) clearQueue(a *app) {
	a.queuedSince = time.Time{}
	a.launchTimer.cancel()
	a.launchTimer = nil
}

// launch starts n tasks now, or once the backoff delay has passed.
func (s *Server) launch(a *app, n int, now time.Time) {
	if now.Before(a.delayUntil) {
		if a.queuedSince.IsZero() {
			a.queuedSince = now
		}
		if a.launchTimer == nil {
			a.launchTimer = s.after(a.delayUntil.Sub(now), func() {
				a.launchTimer = nil
				s.reconcile(a)
			})
		}
		return
	}
	s.clearQueue(a)
	for i := 0; i < n; i++ {
		s.startTask(a)
	}
}

// startTask creates a TASK_STAGING task of the app's current definition.
func (s *Server) startTask(a *app) {
	def := a.def
	agent := s.agentNext % len(s.opts.Agents)
	s.agentNext++
	instanceID := strings.ReplaceAll(strings.TrimPrefix(a.id, "/"), "/", "_") + ".instance-" + s.uuid()
	t := &task{
		app:        a,
		id:         instanceID + "._app.1",
		instanceID: instanceID,
		def:        def,
		agentID:    fmt.Sprintf("%s-S%d", s.opts.FrameworkID[:len(s.opts.FrameworkID)-5], agent),
		host:       s.opts.Agents[agent],
		state:      "TASK_STAGING",
		stagedAt:   time.Now(),
		deploy:     s.locks[a.id],
	}
	for i, p := range def.ports {
		switch {
		case p.hostPort > 0:
			t.hostPorts = append(t.hostPorts, p.hostPort)
		case p.hostPort == 0:
			t.hostPorts = append(t.hostPorts, 31000+s.rng.IntN(1000))
		}
		t.servicePorts = append(t.servicePorts, def.servicePort(i, a.dynPorts))
	}
	if len(def.health) > 0 {
		t.health = make([]healthState, len(def.health))
	}
	a.tasks = append(a.tasks, t)
	a.changed()
	s.emitStatus(t, "TASK_STAGING", "")
	s.emitInstanceChanged(t, "Staging")
	stage := s.timing.TaskStageDuration
	if d := s.stepDuration(t.deploy); d > 0 && stage > d {
		stage = d
	}
	t.timers = append(t.timers, s.after(stage, func() { s.taskStaged(t) }))
}

// taskStaged moves a staging task on: it runs, or fails when its deployment
// is made to fail.
func (s *Server) taskStaged(t *task) {
	if t.state != "TASK_STAGING" {
		return
	}
	if t.deploy != nil && t.deploy.fail != "" && !t.deploy.finished {
		d := t.deploy
		s.killTask(t, "TASK_FAILED", d.fail, true)
		s.failDeployment(d, d.fail)
		return
	}
	t.deploy = nil // only needed while staging
	t.state = "TASK_RUNNING"
	t.startedAt = time.Now()
	t.changed()
	s.emitStatus(t, "TASK_RUNNING", "")
	s.emitInstanceChanged(t, "Running")
	if len(t.def.health) > 0 {
		t.hcTimers = make([]*timer, len(t.def.health))
		for i := range t.def.health {
			delay := s.timing.HealthDelay
			if delay <= 0 {
				delay = s.timing.scaled(t.def.health[i].delay)
			}
			s.scheduleCheck(t, i, delay)
		}
	}
	if s.crashLoop[t.app.id] {
		t.timers = append(t.timers, s.after(s.timing.TaskStageDuration, func() {
			if t.running() {
				s.killTask(t, "TASK_FAILED", "Command exited with status 1", true)
				s.reconcile(t.app)
				s.checkApp(t.app)
			}
		}))
	}
	s.checkApp(t.app)
}

// killTask ends a task. failed tasks count for the backoff and become the
// app's lastTaskFailure.
func (s *Server) killTask(t *task, state, message string, failed bool) {
	a := t.app
	t.stopTimers()
	for i, x := range a.tasks {
		if x == t {
			a.tasks = append(a.tasks[:i], a.tasks[i+1:]...)
			break
		}
	}
	t.state = state
	t.changed()
	s.emitStatus(t, state, message)
	cond := "Killed"
	if state == "TASK_FAILED" {
		cond = "Failed"
	}
	s.emitInstanceChanged(t, cond)
	if failed {
		now := time.Now()
		a.lastFailure = mustJSON(struct {
			AppID     string `json:"appId"`
			Host      string `json:"host"`
			Message   string `json:"message"`
			State     string `json:"state"`
			TaskID    string `json:"taskId"`
			Timestamp string `json:"timestamp"`
			Version   string `json:"version"`
			SlaveID   string `json:"slaveId"`
		}{a.id, t.host, message, state, t.id, ts(now), ts(t.def.version), t.agentID})
		d := a.def
		if now.Sub(a.lastFailAt) > s.timing.scaled(d.maxLaunchDelay)+s.timing.scaled(d.backoffSeconds) {
			a.failures = 0
		}
		a.failures++
		a.lastFailAt = now
		delay := d.backoffSeconds * math.Pow(d.backoffFactor, float64(a.failures-1))
		if delay > d.maxLaunchDelay {
			delay = d.maxLaunchDelay
		}
		a.delayUntil = now.Add(s.timing.scaled(delay))
	}
}

// resetDelay clears the launch backoff, as Marathon does on a new version
// and on DELETE /v2/queue/{id}/delay.
func (s *Server) resetDelay(a *app) {
	a.failures = 0
	a.delayUntil = time.Time{}
	if a.launchTimer != nil {
		a.launchTimer.cancel()
		a.launchTimer = nil
	}
}

// ---- health ----------------------------------------------------------------

// healthCheck runs one (simulated) check of one task and schedules the next.
func (s *Server) healthCheck(t *task, i int) {
	if !t.running() || i >= len(t.health) {
		return
	}
	t.hcTimers[i] = nil
	spec := t.def.health[i]
	h := &t.health[i]
	wasHealthy, wasUnhealthy := t.healthy(), t.unhealthy()
	now := time.Now()
	if t.wantHealthy() {
		h.has, h.alive, h.consecutiveFailures = true, true, 0
		h.lastSuccess = now
		if h.firstSuccess.IsZero() {
			h.firstSuccess = now
		}
	} else if h.firstSuccess.IsZero() && now.Sub(t.startedAt) < s.timing.scaled(spec.grace) {
		// Failures within gracePeriodSeconds of the start do not count.
	} else {
		h.has, h.alive = true, false
		h.consecutiveFailures++
		h.lastFailure = now
		h.lastFailureCause = "ConnectException: Connection refused"
	}
	t.changed()
	if t.healthy() != wasHealthy || t.unhealthy() != wasUnhealthy {
		s.emitHealthChanged(t, t.healthy())
	}
	if !h.alive && h.has && spec.maxFailures > 0 && h.consecutiveFailures >= spec.maxFailures {
		s.emit("unhealthy_instance_kill_event", struct {
			AppID      string `json:"appId"`
			TaskID     string `json:"taskId"`
			InstanceID string `json:"instanceId"`
			Version    string `json:"version"`
			Reason     string `json:"reason"`
			Host       string `json:"host"`
			SlaveID    string `json:"slaveId"`
			EventType  string `json:"eventType"`
			Timestamp  string `json:"timestamp"`
		}{t.app.id, t.id, t.instanceID, ts(t.def.version), h.lastFailureCause, t.host, t.agentID, "unhealthy_instance_kill_event", ts(now)})
		s.killTask(t, "TASK_KILLED", "Unhealthy task killed: "+h.lastFailureCause, true)
		s.reconcile(t.app)
		s.checkApp(t.app)
		return
	}
	// A healthy task that stays healthy needs no more checks until the
	// control API changes its health (pokeHealth); anything else keeps being
	// checked every intervalSeconds.
	if !(h.has && h.alive && t.wantHealthy()) {
		s.scheduleCheck(t, i, s.checkInterval(spec))
	}
	s.checkApp(t.app)
}

func (s *Server) checkInterval(spec hcSpec) time.Duration {
	interval := s.timing.scaled(spec.interval)
	if interval < 10*time.Millisecond {
		interval = 10 * time.Millisecond
	}
	return interval
}

// scheduleCheck runs health check i of t after d, replacing a pending one.
func (s *Server) scheduleCheck(t *task, i int, d time.Duration) {
	t.hcTimers[i].cancel()
	t.hcTimers[i] = s.after(d, func() { s.healthCheck(t, i) })
}

// pokeHealth makes the next check of t happen one interval from now, as the
// health-check actor would notice a change, unless one is already pending.
func (s *Server) pokeHealth(t *task) {
	if !t.running() {
		return
	}
	for i, spec := range t.def.health {
		if i < len(t.hcTimers) && t.hcTimers[i] == nil {
			s.scheduleCheck(t, i, s.checkInterval(spec))
		}
	}
}

// ---- rendering -------------------------------------------------------------

// taskJSON renders a task as Marathon's EnrichedTask, cached until it changes.
func (s *Server) taskJSON(t *task) []byte {
	if t.json != nil {
		return t.json
	}
	var b bytes.Buffer
	b.WriteString(`{"appId":`)
	b.Write(jsonString(t.app.id))
	if len(t.health) > 0 {
		b.WriteString(`,"healthCheckResults":[`)
		n := 0
		for _, h := range t.health {
			if !h.has {
				continue
			}
			if n > 0 {
				b.WriteByte(',')
			}
			n++
			b.WriteString(`{"alive":`)
			b.WriteString(fmt.Sprint(h.alive))
			b.WriteString(`,"consecutiveFailures":`)
			b.WriteString(fmt.Sprint(h.consecutiveFailures))
			for _, f := range []struct {
				k string
				v time.Time
			}{{"firstSuccess", h.firstSuccess}, {"lastFailure", h.lastFailure}, {"lastSuccess", h.lastSuccess}} {
				b.WriteString(`,"` + f.k + `":`)
				if f.v.IsZero() {
					b.WriteString("null")
				} else {
					b.Write(jsonString(ts(f.v)))
				}
			}
			b.WriteString(`,"lastFailureCause":`)
			if h.lastFailureCause == "" {
				b.WriteString("null")
			} else {
				b.Write(jsonString(h.lastFailureCause))
			}
			b.WriteString(`,"instanceId":`)
			b.Write(jsonString(t.instanceID))
			b.WriteByte('}')
		}
		b.WriteByte(']')
	}
	b.WriteString(`,"host":`)
	b.Write(jsonString(t.host))
	b.WriteString(`,"id":`)
	b.Write(jsonString(t.id))
	b.WriteString(`,"ipAddresses":[{"ipAddress":`)
	b.Write(jsonString(t.host))
	b.WriteString(`,"protocol":"IPv4"}],"ports":`)
	b.Write(mustJSON(nonNil(t.hostPorts)))
	b.WriteString(`,"servicePorts":`)
	b.Write(mustJSON(nonNil(t.servicePorts)))
	b.WriteString(`,"slaveId":`)
	b.Write(jsonString(t.agentID))
	b.WriteString(`,"state":`)
	b.Write(jsonString(t.state))
	b.WriteString(`,"stagedAt":`)
	b.Write(jsonString(ts(t.stagedAt)))
	if !t.startedAt.IsZero() {
		b.WriteString(`,"startedAt":`)
		b.Write(jsonString(ts(t.startedAt)))
	}
	b.WriteString(`,"version":`)
	b.Write(jsonString(ts(t.def.version)))
	b.WriteString(`,"localVolumes":[],"role":`)
	b.Write(jsonString(t.def.role))
	b.WriteByte('}')
	t.json = b.Bytes()
	return t.json
}

func nonNil(v []int) []int {
	if v == nil {
		return []int{}
	}
	return v
}

// counts returns tasksStaged, tasksRunning, tasksHealthy, tasksUnhealthy the
// way Marathon's TaskCounts derives them.
func counts(a *app) (staged, running, healthy, unhealthy int) {
	for _, t := range a.tasks {
		if t.startedAt.IsZero() {
			staged++
		}
		if t.running() {
			running++
		}
		if t.healthy() {
			healthy++
		}
		if t.unhealthy() {
			unhealthy++
		}
	}
	return
}
