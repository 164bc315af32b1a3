package marathon

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// ErrNoApp is returned by control methods for an unknown app id.
var ErrNoApp = errors.New("no such app")

// ErrNoTask is returned by control methods for an unknown task id.
var ErrNoTask = errors.New("no such task")

// Timing returns the current simulated durations.
func (s *Server) Timing() Timing {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.timing
}

// SetTiming replaces the simulated durations; zero fields take their
// defaults (HealthDelay 0 means "use each check's delaySeconds"). Running
// deployments and tasks pick the new values up at their next step.
func (s *Server) SetTiming(t Timing) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.timing = t.withDefaults()
}

// SetHealth makes the health checks of an app's tasks (or of one task, when
// taskID is not empty) succeed or fail from their next check on. Failures
// within gracePeriodSeconds of a task's start do not count, and
// maxConsecutiveFailures failures kill the task, as in Marathon.
func (s *Server) SetHealth(appID, taskID string, healthy bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[canonicalID(appID)]
	if a == nil {
		return fmt.Errorf("%w: %s", ErrNoApp, appID)
	}
	if taskID == "" {
		a.healthy = healthy
		for _, t := range a.tasks {
			t.override = nil
			s.pokeHealth(t)
		}
		return nil
	}
	for _, t := range a.tasks {
		if t.id == taskID || t.instanceID == taskID {
			h := healthy
			t.override = &h
			s.pokeHealth(t)
			return nil
		}
	}
	return fmt.Errorf("%w: %s", ErrNoTask, taskID)
}

// KillTasks makes an app's tasks (or one task) fail as if they crashed
// (TASK_FAILED): they become the app's lastTaskFailure and Marathon launches
// replacements after its backoff delay, visible in /v2/queue. It returns the
// ids of the killed tasks.
func (s *Server) KillTasks(appID, taskID string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[canonicalID(appID)]
	if a == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoApp, appID)
	}
	var killed []string
	for _, t := range append([]*task(nil), a.tasks...) {
		if taskID == "" || t.id == taskID || t.instanceID == taskID {
			s.killTask(t, "TASK_FAILED", "Container exited with status 137 (killed by the simulator)", true)
			killed = append(killed, t.id)
		}
	}
	if taskID != "" && len(killed) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNoTask, taskID)
	}
	s.reconcile(a)
	s.checkApp(a)
	return killed, nil
}

// FailNextDeployment makes the next deployment that touches appID fail: the
// tasks it launches fail (TASK_FAILED, lastTaskFailure set), and it ends
// with deployment_step_failure and deployment_failed. The app may not exist
// yet. An empty reason gets a default.
func (s *Server) FailNextDeployment(appID, reason string) {
	if reason == "" {
		reason = "Failed to launch container: injected failure"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext[canonicalID(appID)] = reason
}

// SetCrashLoop makes every task of the app fail shortly after it starts
// running (on) or stop doing so (off); Marathon relaunches them with a
// growing backoff, and deployments of the app never finish meanwhile.
func (s *Server) SetCrashLoop(appID string, on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := canonicalID(appID)
	if on {
		s.crashLoop[id] = true
	} else {
		delete(s.crashLoop, id)
	}
	a := s.apps[id]
	if a == nil {
		return fmt.Errorf("%w: %s", ErrNoApp, appID)
	}
	if on {
		for _, t := range a.tasks {
			if t.running() {
				t := t
				t.timers = append(t.timers, s.after(s.timing.TaskStageDuration, func() {
					if t.running() {
						s.killTask(t, "TASK_FAILED", "Command exited with status 1", true)
						s.reconcile(t.app)
						s.checkApp(t.app)
					}
				}))
			}
		}
	}
	return nil
}

// ---- control API -----------------------------------------------------------

type timingJSON struct {
	DeploymentDurationMs *int64   `json:"deploymentDurationMs,omitempty"`
	TaskStageDurationMs  *int64   `json:"taskStageDurationMs,omitempty"`
	HealthDelayMs        *int64   `json:"healthDelayMs,omitempty"`
	TimeScale            *float64 `json:"timeScale,omitempty"`
}

func toTimingJSON(t Timing) timingJSON {
	d, st, h, sc := t.DeploymentDuration.Milliseconds(), t.TaskStageDuration.Milliseconds(), t.HealthDelay.Milliseconds(), t.TimeScale
	return timingJSON{&d, &st, &h, &sc}
}

// ControlHandler serves the simulator's control API, with paths relative to
// where it is mounted (mount it with http.StripPrefix):
//
//	GET    /                                state
//	GET    /timing, PUT /timing             {"deploymentDurationMs","taskStageDurationMs","healthDelayMs","timeScale"}
//	POST   /apps/{id}/health                {"healthy":false,"taskId":"optional"}
//	POST   /apps/{id}/kill                  {"taskId":"optional"}
//	POST   /apps/{id}/fail-next-deployment  {"reason":"optional"}
//	POST   /apps/{id}/crash-loop            {"enabled":true}
//	POST   /events/close
//	GET    /leader, POST /leader            {"leader":"host:port","gapMs":N}
//	GET|POST|DELETE /faults                 see sim/fault
func (s *Server) ControlHandler() http.Handler {
	faults := s.faults.ControlHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := "/" + strings.Trim(r.URL.Path, "/")
		switch {
		case p == "/":
			if r.Method != http.MethodGet {
				methodNotAllowed(w)
				return
			}
			writeJSON(w, http.StatusOK, s.controlState())
		case p == "/timing":
			s.controlTiming(w, r)
		case p == "/events/close":
			if r.Method != http.MethodPost {
				methodNotAllowed(w)
				return
			}
			n := s.CloseEventStreams()
			writeJSON(w, http.StatusOK, mustJSON(map[string]int{"closed": n}))
		case p == "/leader":
			s.controlLeader(w, r)
		case p == "/faults":
			faults.ServeHTTP(w, r)
		case strings.HasPrefix(p, "/apps/"):
			s.controlApp(w, r, strings.TrimPrefix(p, "/apps"))
		default:
			writeMessage(w, http.StatusNotFound, "unknown control path "+p)
		}
	})
}

func (s *Server) controlState() []byte {
	s.mu.Lock()
	deps := make([]string, 0, len(s.deplOrder))
	for _, d := range s.deplOrder {
		deps = append(deps, d.id)
	}
	crash := make([]string, 0, len(s.crashLoop))
	for id := range s.crashLoop {
		crash = append(crash, id)
	}
	sort.Strings(crash)
	failNext := map[string]string{}
	for k, v := range s.failNext {
		failNext[k] = v
	}
	state := map[string]any{
		"leader":      s.leader,
		"timing":      toTimingJSON(s.timing),
		"apps":        len(s.apps),
		"deployments": deps,
		"failNext":    failNext,
		"crashLoop":   crash,
	}
	s.mu.Unlock()
	state["eventStreams"] = s.bus.count()
	s.bus.mu.Lock()
	state["eventStreamsDropped"] = s.bus.overflows
	s.bus.mu.Unlock()
	return mustJSON(state)
}

func decodeControl(w http.ResponseWriter, r *http.Request, v any) bool {
	if r.ContentLength == 0 {
		return true
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && err.Error() != "EOF" {
		writeMessage(w, http.StatusBadRequest, "invalid control request: "+err.Error())
		return false
	}
	return true
}

func (s *Server) controlTiming(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, mustJSON(toTimingJSON(s.Timing())))
	case http.MethodPut, http.MethodPost:
		var req timingJSON
		if !decodeControl(w, r, &req) {
			return
		}
		t := s.Timing()
		if req.DeploymentDurationMs != nil {
			t.DeploymentDuration = time.Duration(*req.DeploymentDurationMs) * time.Millisecond
		}
		if req.TaskStageDurationMs != nil {
			t.TaskStageDuration = time.Duration(*req.TaskStageDurationMs) * time.Millisecond
		}
		if req.HealthDelayMs != nil {
			t.HealthDelay = time.Duration(*req.HealthDelayMs) * time.Millisecond
		}
		if req.TimeScale != nil {
			t.TimeScale = *req.TimeScale
		}
		s.SetTiming(t)
		writeJSON(w, http.StatusOK, mustJSON(toTimingJSON(s.Timing())))
	default:
		methodNotAllowed(w)
	}
}

func (s *Server) controlLeader(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, mustJSON(map[string]string{"leader": s.Leader()}))
	case http.MethodPost:
		var req struct {
			Leader string `json:"leader"`
			GapMs  int64  `json:"gapMs"`
		}
		if !decodeControl(w, r, &req) {
			return
		}
		s.ChangeLeader(req.Leader, time.Duration(req.GapMs)*time.Millisecond)
		writeJSON(w, http.StatusOK, mustJSON(map[string]string{"leader": s.Leader()}))
	default:
		methodNotAllowed(w)
	}
}

func controlErr(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	if errors.Is(err, ErrNoApp) || errors.Is(err, ErrNoTask) {
		status = http.StatusNotFound
	}
	writeMessage(w, status, err.Error())
}

func (s *Server) controlApp(w http.ResponseWriter, r *http.Request, rest string) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w)
		return
	}
	i := strings.LastIndex(rest, "/")
	if i <= 0 {
		writeMessage(w, http.StatusNotFound, "expected /apps/{id}/{action}")
		return
	}
	id, op := canonicalID(rest[:i]), rest[i+1:]
	switch op {
	case "health":
		req := struct {
			Healthy *bool  `json:"healthy"`
			TaskID  string `json:"taskId"`
		}{}
		if !decodeControl(w, r, &req) {
			return
		}
		if req.Healthy == nil {
			writeMessage(w, http.StatusBadRequest, `"healthy" is required`)
			return
		}
		if err := s.SetHealth(id, req.TaskID, *req.Healthy); err != nil {
			controlErr(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case "kill":
		req := struct {
			TaskID string `json:"taskId"`
		}{}
		if !decodeControl(w, r, &req) {
			return
		}
		killed, err := s.KillTasks(id, req.TaskID)
		if err != nil {
			controlErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, mustJSON(map[string][]string{"killed": killed}))
	case "fail-next-deployment":
		req := struct {
			Reason string `json:"reason"`
		}{}
		if !decodeControl(w, r, &req) {
			return
		}
		s.FailNextDeployment(id, req.Reason)
		w.WriteHeader(http.StatusNoContent)
	case "crash-loop":
		req := struct {
			Enabled *bool `json:"enabled"`
		}{}
		if !decodeControl(w, r, &req) {
			return
		}
		on := req.Enabled == nil || *req.Enabled
		if err := s.SetCrashLoop(id, on); err != nil && !(errors.Is(err, ErrNoApp) && on) {
			controlErr(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		writeMessage(w, http.StatusNotFound, "unknown app action "+op)
	}
}
