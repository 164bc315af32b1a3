package sdk

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Plan element statuses, as dcos-commons reports them.
const (
	StatusPending    = "PENDING"
	StatusPrepared   = "PREPARED"
	StatusStarting   = "STARTING"
	StatusInProgress = "IN_PROGRESS"
	StatusComplete   = "COMPLETE"
	StatusError      = "ERROR"
)

// plan is a scheduler plan.
type plan struct {
	name, strategy string
	phases         []*phase
	errors         []string
}

// phase is a plan phase.
type phase struct {
	id, name, strategy string
	steps              []*step
}

// step is a phase step.
type step struct {
	id, name, status, message string
}

// aggregate derives a parent status from its children's statuses.
func aggregate(statuses []string) string {
	if len(statuses) == 0 {
		return StatusComplete
	}
	complete, pending := 0, 0
	for _, s := range statuses {
		switch s {
		case StatusError:
			return StatusError
		case StatusComplete:
			complete++
		case StatusPending:
			pending++
		}
	}
	switch {
	case complete == len(statuses):
		return StatusComplete
	case pending == len(statuses):
		return StatusPending
	}
	return StatusInProgress
}

// status of a phase.
func (p *phase) status() string {
	ss := make([]string, 0, len(p.steps))
	for _, s := range p.steps {
		ss = append(ss, s.status)
	}
	return aggregate(ss)
}

// status of a plan.
func (p *plan) status() string {
	ss := make([]string, 0, len(p.phases))
	for _, ph := range p.phases {
		ss = append(ss, ph.status())
	}
	return aggregate(ss)
}

// PlanInfo is a plan as the SDK's plan endpoint serializes it.
type PlanInfo struct {
	Phases   []PhaseInfo `json:"phases"`
	Strategy string      `json:"strategy"`
	Errors   []string    `json:"errors"`
	Status   string      `json:"status"`
}

// PhaseInfo is a phase of a PlanInfo.
type PhaseInfo struct {
	ID       string     `json:"id"`
	Name     string     `json:"name"`
	Steps    []StepInfo `json:"steps"`
	Strategy string     `json:"strategy"`
	Status   string     `json:"status"`
}

// StepInfo is a step of a PhaseInfo.
type StepInfo struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Name    string `json:"name"`
	Message string `json:"message"`
}

// info snapshots a plan; s.mu held.
func (p *plan) info() PlanInfo {
	out := PlanInfo{Phases: []PhaseInfo{}, Strategy: p.strategy, Errors: append([]string{}, p.errors...), Status: p.status()}
	for _, ph := range p.phases {
		pi := PhaseInfo{ID: ph.id, Name: ph.name, Steps: []StepInfo{}, Strategy: ph.strategy, Status: ph.status()}
		for _, st := range ph.steps {
			msg := st.message
			if msg == "" {
				msg = fmt.Sprintf("com.mesosphere.sdk.scheduler.plan.DeploymentStep: '%s [%s]' has status: '%s'.", st.name, st.id, st.status)
			}
			pi.Steps = append(pi.Steps, StepInfo{ID: st.id, Status: st.status, Name: st.name, Message: msg})
		}
		out.Phases = append(out.Phases, pi)
	}
	return out
}

// ServeHTTP serves the scheduler's API; paths are relative to
// /service/<name> (e.g. "/v1/plans/deploy").
func (sc *Scheduler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sc.s.mu.Lock()
	apiVersion := sc.spec.APIVersion
	sc.s.mu.Unlock()
	rest, ok := strings.CutPrefix(r.URL.Path, "/"+apiVersion+"/")
	if !ok || r.Method != http.MethodGet && r.Method != http.MethodHead {
		notFound(w, "HTTP 404 Not Found")
		return
	}
	rest = strings.TrimSuffix(rest, "/")
	switch {
	case rest == "plans":
		sc.s.mu.Lock()
		names := []string{}
		if sc.plan != nil {
			names = append(names, sc.plan.name)
		}
		if !sc.uninstalling && sc.recovery != nil {
			names = append(names, sc.recovery.name)
		}
		sc.s.mu.Unlock()
		writeJSON(w, http.StatusOK, names)
	case strings.HasPrefix(rest, "plans/") && !strings.Contains(strings.TrimPrefix(rest, "plans/"), "/"):
		name := strings.TrimPrefix(rest, "plans/")
		info, ok := sc.Plan(name)
		if !ok {
			notFound(w, "Plan "+name+" not found")
			return
		}
		status := http.StatusAccepted
		switch {
		case len(info.Errors) > 0:
			status = http.StatusExpectationFailed
		case info.Status == StatusComplete:
			status = http.StatusOK
		}
		writeJSON(w, status, info)
	default:
		notFound(w, "HTTP 404 Not Found")
	}
}

// notFound answers 404 with a plain-text body, as dcos-commons' ResponseUtils does.
func notFound(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write([]byte(msg))
}

// writeJSON answers with v as indented JSON (the SDK pretty-prints).
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
