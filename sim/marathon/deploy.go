package marathon

import (
	"bytes"
	"encoding/json"
	"sort"
	"time"
)

// action is one action of a deployment step.
type action struct {
	name  string // StartApplication, ScaleApplication, RestartApplication, StopApplication
	appID string
}

// deployment is a running Marathon deployment plan.
type deployment struct {
	id        string
	version   time.Time
	affected  []string
	steps     [][]action
	cur       int
	stepStart time.Time
	stepTimer *timer
	original  map[string]*appDef // nil value: the app did not exist
	target    map[string]*appDef // nil value: the app is removed
	stopping  map[string]*app    // removed apps whose tasks this deployment kills
	fail      string             // when set, the deployment fails with this reason
	finished  bool
	plan      []byte // cached plan JSON
}

// change is one app's part of a deployment.
type change struct {
	id      string
	from    *appDef // nil: create
	to      *appDef // nil: delete
	restart bool    // force a RestartApplication (POST /restart)
}

// lockedError is the 409 Marathon answers while a deployment holds an app.
type lockedError struct{ ids []string }

// actions computes the deployment actions of one change.
func (c change) actions() (stop, start, update []action) {
	switch {
	case c.from == nil && c.to == nil:
	case c.from == nil:
		start = []action{{"StartApplication", c.id}}
		update = []action{{"ScaleApplication", c.id}}
	case c.to == nil:
		stop = []action{{"StopApplication", c.id}}
	case c.restart || c.from.configKey != c.to.configKey || !c.from.lastConfigChangeAt.Equal(c.to.lastConfigChangeAt):
		update = []action{{"RestartApplication", c.id}}
	case c.from.instances != c.to.instances:
		update = []action{{"ScaleApplication", c.id}}
	}
	return
}

// deploy applies changes to the app store and starts a deployment for them,
// versioned like the new app definitions (Marathon gives a plan and the apps
// it changes the same version). Apps in a running deployment make it fail
// with *lockedError unless force, which cancels those deployments. Callers
// hold s.mu.
func (s *Server) deploy(changes []change, force bool, version time.Time) (*deployment, *lockedError) {
	var stops, starts, updates []action
	for _, c := range changes {
		st, sa, up := c.actions()
		stops, starts, updates = append(stops, st...), append(starts, sa...), append(updates, up...)
	}
	affected := map[string]bool{}
	for _, as := range [][]action{stops, starts, updates} {
		for _, a := range as {
			affected[a.appID] = true
		}
	}
	var conflicts []*deployment
	for id := range affected {
		if d := s.locks[id]; d != nil && !containsDeployment(conflicts, d) {
			conflicts = append(conflicts, d)
		}
	}
	if len(conflicts) > 0 && !force {
		sort.Slice(conflicts, func(i, j int) bool { return conflicts[i].id < conflicts[j].id })
		ids := make([]string, len(conflicts))
		for i, d := range conflicts {
			ids[i] = d.id
		}
		return nil, &lockedError{ids: ids}
	}
	for _, d := range conflicts {
		s.cancelDeployment(d, "Canceled by a forced deployment")
	}

	d := &deployment{
		id:       s.uuid(),
		version:  version,
		original: map[string]*appDef{},
		target:   map[string]*appDef{},
		stopping: map[string]*app{},
	}
	for _, as := range [][]action{stops, starts, updates} {
		if len(as) > 0 {
			d.steps = append(d.steps, as)
		}
	}
	for id := range affected {
		d.affected = append(d.affected, id)
	}
	sort.Strings(d.affected)

	// The group changes at once; the deployment then brings tasks along.
	for _, c := range changes {
		if affected[c.id] {
			d.original[c.id], d.target[c.id] = c.from, c.to
			if reason, ok := s.failNext[c.id]; ok {
				d.fail = reason
				delete(s.failNext, c.id)
			}
		}
		s.applyChange(c, d)
	}
	s.deployments[d.id] = d
	s.deplOrder = append(s.deplOrder, d)
	for _, id := range d.affected {
		s.locks[id] = d
		if a := s.apps[id]; a != nil {
			a.changed()
		}
	}
	s.emit("group_change_success", struct {
		GroupID   string `json:"groupId"`
		Version   string `json:"version"`
		EventType string `json:"eventType"`
		Timestamp string `json:"timestamp"`
	}{"/", ts(d.version), "group_change_success", ts(time.Now())})
	s.logf("marathon: deployment %s for %v: %d steps", d.id, d.affected, len(d.steps))
	if len(d.steps) == 0 {
		s.after(0, func() { s.finishDeployment(d) })
	} else {
		s.startStep(d)
	}
	return d, nil
}

func containsDeployment(list []*deployment, d *deployment) bool {
	for _, x := range list {
		if x == d {
			return true
		}
	}
	return false
}

// applyChange updates the app store for one change.
func (s *Server) applyChange(c change, d *deployment) {
	a := s.apps[c.id]
	switch {
	case c.to == nil:
		if a == nil {
			return
		}
		s.removeIndex(a)
		delete(s.apps, c.id)
		a.removed = true
		a.clearLaunch()
		d.stopping[c.id] = a
	case a == nil:
		a = &app{id: c.id, def: c.to, versions: []*appDef{c.to}, healthy: true, dynPorts: s.dynPortsFor(c.id)}
		delete(s.pendingPorts, c.id)
		s.apps[c.id] = a
		s.addIndex(a)
	default:
		if a.def == c.to {
			return
		}
		s.indexLabels(a, a.def.labels, c.to.labels)
		a.def = c.to
		a.changed()
		if n := len(a.versions); n == 0 || a.versions[n-1] != c.to {
			a.versions = append(a.versions, c.to)
			if len(a.versions) > maxVersions {
				a.versions = a.versions[len(a.versions)-maxVersions:]
			}
		}
		s.resetDelay(a)
	}
}

func (a *app) clearLaunch() {
	a.launchTimer.cancel()
	a.launchTimer = nil
	a.queuedSince = time.Time{}
}

// dynPortsFor returns the service ports already assigned to an app id (kept
// across versions), or nil for a new id; newDef extends them as needed.
func (s *Server) dynPortsFor(id string) []int {
	if a := s.apps[id]; a != nil {
		return a.dynPorts
	}
	return s.pendingPorts[id]
}

// stepDuration is the time each step of d lasts.
func (s *Server) stepDuration(d *deployment) time.Duration {
	if d == nil || len(d.steps) == 0 {
		return 0
	}
	return s.timing.DeploymentDuration / time.Duration(len(d.steps))
}

func (s *Server) startStep(d *deployment) {
	d.stepStart = time.Now()
	s.emitDeployment("deployment_info", d)
	for _, act := range d.steps[d.cur] {
		switch act.name {
		case "ScaleApplication", "RestartApplication":
			if a := s.apps[act.appID]; a != nil {
				a.wanted = a.def.instances
				a.restarting = nil
				if act.name == "RestartApplication" {
					a.restarting = d
				}
				s.reconcile(a)
			}
		case "StopApplication":
			if a := d.stopping[act.appID]; a != nil {
				a.wanted = 0
				for _, t := range append([]*task(nil), a.tasks...) {
					s.killTask(t, "TASK_KILLED", "", false)
				}
			}
		}
	}
	d.stepTimer = s.after(s.stepDuration(d), func() { s.checkStep(d) })
}

// checkApp re-evaluates the deployment holding app a, if any.
func (s *Server) checkApp(a *app) {
	if a.restarting != nil {
		s.reconcile(a) // replace old tasks once enough new ones are ready
	}
	if d := s.locks[a.id]; d != nil {
		s.checkStep(d)
	}
}

// checkStep ends the current step once its time has passed and its apps are
// where the step takes them.
func (s *Server) checkStep(d *deployment) {
	if d.finished || len(d.steps) == 0 || time.Since(d.stepStart) < s.stepDuration(d) {
		return
	}
	for _, act := range d.steps[d.cur] {
		if !s.actionDone(act) {
			return
		}
	}
	if d.fail != "" && d.cur == len(d.steps)-1 {
		s.failDeployment(d, d.fail)
		return
	}
	s.emitDeployment("deployment_step_success", d)
	d.cur++
	if d.cur < len(d.steps) {
		s.startStep(d)
		return
	}
	s.finishDeployment(d)
}

func (s *Server) actionDone(act action) bool {
	switch act.name {
	case "ScaleApplication", "RestartApplication":
		a := s.apps[act.appID]
		if a == nil {
			return true
		}
		if len(a.tasks) != a.wanted {
			return false
		}
		for _, t := range a.tasks {
			if !t.current(a.def) || !t.running() || (len(a.def.health) > 0 && !t.healthy()) {
				return false
			}
		}
	}
	return true
}

// release drops d from the running deployments and frees its locks.
func (s *Server) release(d *deployment) {
	d.finished = true
	d.stepTimer.cancel()
	delete(s.deployments, d.id)
	for i, x := range s.deplOrder {
		if x == d {
			s.deplOrder = append(s.deplOrder[:i], s.deplOrder[i+1:]...)
			break
		}
	}
	for _, id := range d.affected {
		if s.locks[id] == d {
			delete(s.locks, id)
		}
		if a := s.apps[id]; a != nil {
			a.changed()
			if a.restarting == d {
				a.restarting = nil
			}
			for _, t := range a.tasks {
				if t.deploy == d && t.state != "TASK_STAGING" {
					t.deploy = nil // let the finished plan be collected
				}
			}
		}
	}
}

func (s *Server) finishDeployment(d *deployment) {
	if d.finished {
		return
	}
	s.release(d)
	if s.bus.wants("deployment_success") {
		s.emit("deployment_success", struct {
			ID        string          `json:"id"`
			Plan      json.RawMessage `json:"plan"`
			EventType string          `json:"eventType"`
			Timestamp string          `json:"timestamp"`
		}{d.id, s.planJSON(d), "deployment_success", ts(time.Now())})
	}
	for _, id := range d.affected {
		if a := s.apps[id]; a != nil && d.target[id] != nil {
			s.reconcile(a)
			s.notify(func(o Observer) func() { v := appView(a); return func() { o.AppRunning(v) } })
		}
		if a := d.stopping[id]; a != nil && d.target[id] == nil {
			s.finishRemoval(a)
		}
	}
}

// finishRemoval completes an app's deletion once its tasks are gone.
func (s *Server) finishRemoval(a *app) {
	for _, t := range append([]*task(nil), a.tasks...) {
		s.killTask(t, "TASK_KILLED", "", false)
	}
	if s.apps[a.id] == nil {
		for _, p := range a.dynPorts {
			s.ports.release(p)
		}
	}
	s.emit("app_terminated_event", struct {
		AppID     string `json:"appId"`
		EventType string `json:"eventType"`
		Timestamp string `json:"timestamp"`
	}{a.id, "app_terminated_event", ts(time.Now())})
	id := a.id
	s.notify(func(o Observer) func() { return func() { o.AppRemoved(id) } })
}

// failDeployment ends d as failed: its tasks in staging fail and the apps
// are left for the launch queue to bring up (with backoff).
func (s *Server) failDeployment(d *deployment, reason string) {
	if d.finished {
		return
	}
	s.emitDeployment("deployment_step_failure", d)
	s.release(d)
	if s.bus.wants("deployment_failed") {
		s.emit("deployment_failed", struct {
			ID        string          `json:"id"`
			Plan      json.RawMessage `json:"plan"`
			Reason    string          `json:"reason"`
			EventType string          `json:"eventType"`
			Timestamp string          `json:"timestamp"`
		}{d.id, s.planJSON(d), reason, "deployment_failed", ts(time.Now())})
	}
	s.logf("marathon: deployment %s failed: %s", d.id, reason)
	for _, id := range d.affected {
		a := s.apps[id]
		if a == nil {
			if st := d.stopping[id]; st != nil && d.target[id] == nil {
				s.finishRemoval(st)
			}
			continue
		}
		for _, t := range append([]*task(nil), a.tasks...) {
			if t.deploy == d && t.state == "TASK_STAGING" {
				s.killTask(t, "TASK_FAILED", reason, false)
			}
		}
		s.reconcile(a)
	}
}

// cancelDeployment stops d without rollback (DELETE ?force=true, or a forced
// change); apps keep whatever mix of tasks they have.
func (s *Server) cancelDeployment(d *deployment, reason string) {
	if d.finished {
		return
	}
	s.release(d)
	if s.bus.wants("deployment_failed") {
		s.emit("deployment_failed", struct {
			ID        string          `json:"id"`
			Plan      json.RawMessage `json:"plan"`
			Reason    string          `json:"reason"`
			EventType string          `json:"eventType"`
			Timestamp string          `json:"timestamp"`
		}{d.id, s.planJSON(d), reason, "deployment_failed", ts(time.Now())})
	}
	for _, id := range d.affected {
		if a := s.apps[id]; a != nil {
			s.reconcile(a)
		} else if st := d.stopping[id]; st != nil && d.target[id] == nil {
			// The app is already gone from the group; its tasks still die.
			s.finishRemoval(st)
		}
	}
}

// revert cancels d and starts a deployment restoring what d changed.
func (s *Server) revert(d *deployment) *deployment {
	var changes []change
	for _, id := range d.affected {
		var cur *appDef
		if a := s.apps[id]; a != nil {
			cur = a.def
		}
		changes = append(changes, change{id: id, from: cur, to: d.original[id]})
	}
	s.cancelDeployment(d, "Deployment reverted")
	for _, c := range changes {
		if c.to != nil && s.apps[c.id] == nil {
			if st := d.stopping[c.id]; st != nil {
				s.pendingPorts[c.id] = st.dynPorts
				for _, p := range st.dynPorts {
					s.ports.reserve(p)
				}
			}
		}
	}
	nd, _ := s.deploy(changes, true, s.nextVersion())
	for _, c := range changes {
		delete(s.pendingPorts, c.id)
	}
	return nd
}

// ---- JSON ------------------------------------------------------------------

func actionsJSON(b *bytes.Buffer, acts []action, readiness bool) {
	b.WriteByte('[')
	for i, a := range acts {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"action":`)
		b.Write(jsonString(a.name))
		b.WriteString(`,"app":`)
		b.Write(jsonString(a.appID))
		if readiness {
			b.WriteString(`,"readinessCheckResults":[]`)
		}
		b.WriteByte('}')
	}
	b.WriteByte(']')
}

func stepsJSON(b *bytes.Buffer, steps [][]action) {
	b.WriteByte('[')
	for i, st := range steps {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"actions":`)
		actionsJSON(b, st, false)
		b.WriteByte('}')
	}
	b.WriteByte(']')
}

// deploymentJSON renders d as an entry of GET /v2/deployments.
func deploymentJSON(d *deployment) []byte {
	var b bytes.Buffer
	b.WriteString(`{"id":`)
	b.Write(jsonString(d.id))
	b.WriteString(`,"version":`)
	b.Write(jsonString(ts(d.version)))
	b.WriteString(`,"affectedApps":`)
	b.Write(mustJSON(d.affected))
	b.WriteString(`,"affectedPods":[],"steps":`)
	stepsJSON(&b, d.steps)
	b.WriteString(`,"currentActions":`)
	if d.cur < len(d.steps) {
		actionsJSON(&b, d.steps[d.cur], true)
	} else {
		b.WriteString("[]")
	}
	b.WriteString(`,"currentStep":`)
	step := d.cur + 1
	if len(d.steps) == 0 {
		step = 0
	}
	b.Write(jsonInt(step))
	b.WriteString(`,"totalSteps":`)
	b.Write(jsonInt(len(d.steps)))
	b.WriteByte('}')
	return b.Bytes()
}

// planJSON renders d as the DeploymentPlan carried by events. Its groups hold
// the affected apps only.
func (s *Server) planJSON(d *deployment) json.RawMessage {
	if d.plan != nil {
		return d.plan
	}
	var b bytes.Buffer
	writeGroup := func(defs map[string]*appDef) {
		b.WriteString(`{"id":"/","apps":[`)
		n := 0
		for _, id := range d.affected {
			if def := defs[id]; def != nil {
				if n > 0 {
					b.WriteByte(',')
				}
				n++
				b.Write(def.rendered)
			}
		}
		b.WriteString(`],"groups":[],"pods":[],"dependencies":[],"version":`)
		b.Write(jsonString(ts(d.version)))
		b.WriteByte('}')
	}
	b.WriteString(`{"id":`)
	b.Write(jsonString(d.id))
	b.WriteString(`,"original":`)
	writeGroup(d.original)
	b.WriteString(`,"target":`)
	writeGroup(d.target)
	b.WriteString(`,"steps":`)
	stepsJSON(&b, d.steps)
	b.WriteString(`,"version":`)
	b.Write(jsonString(ts(d.version)))
	b.WriteByte('}')
	d.plan = b.Bytes()
	return d.plan
}

// emitDeployment publishes deployment_info, deployment_step_success or
// deployment_step_failure for the current step of d.
func (s *Server) emitDeployment(typ string, d *deployment) {
	if !s.bus.wants(typ) {
		return
	}
	var step bytes.Buffer
	step.WriteString(`{"actions":`)
	if d.cur < len(d.steps) {
		actionsJSON(&step, d.steps[d.cur], false)
	} else {
		step.WriteString("[]")
	}
	step.WriteByte('}')
	s.emit(typ, struct {
		Plan        json.RawMessage `json:"plan"`
		CurrentStep json.RawMessage `json:"currentStep"`
		EventType   string          `json:"eventType"`
		Timestamp   string          `json:"timestamp"`
	}{s.planJSON(d), step.Bytes(), typ, ts(time.Now())})
}

// lockedMessage is Marathon's AppLockedException message.
const lockedMessage = "App is locked by one or more deployments. Override with the option '?force=true'. " +
	"View details at '/v2/deployments/<DEPLOYMENT_ID>'."
