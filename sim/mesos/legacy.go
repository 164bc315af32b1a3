package mesos

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// The older (pre-v1) JSON endpoints, with their own shapes: scalar resource
// maps, times as float seconds, "slaves" for agents.

// legacy wraps a GET endpoint: leader redirect, then JSON out.
func (m *Master) legacy(build func() any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if m.redirectIfNotLeader(w, r) {
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET")
			plain(w, http.StatusMethodNotAllowed, "Expecting one of { 'GET' }, but received '"+r.Method+"'")
			return
		}
		m.mu.Lock()
		v := build()
		m.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
}

// secs converts t to float seconds (0 when zero).
func secs(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

// scalarMap is the old-format resource summary {"cpus":..,"mem":..,...}.
func scalarMap(r Resources) map[string]any {
	return map[string]any{"cpus": round(r.CPUs), "mem": round(r.Mem), "disk": round(r.Disk), "gpus": 0.0}
}

// sumOf adds up resources into a scalar map.
func sumOf(rs []resource) Resources {
	var out Resources
	for _, r := range rs {
		switch r.name {
		case "cpus":
			out.CPUs += r.amount
		case "mem":
			out.Mem += r.amount
		case "disk":
			out.Disk += r.amount
		}
	}
	return out
}

// frameworkUsed sums the resources used by a framework's running tasks; m.mu held.
func (m *Master) frameworkUsed(id string) Resources {
	var all []resource
	for _, t := range m.tasks {
		if t.frameworkID == id {
			all = append(all, t.resources...)
		}
	}
	return sumOf(all)
}

// legacyTask is a task in the old format; m.mu held.
func legacyTask(t *task) map[string]any {
	return map[string]any{
		"id": t.id, "name": t.name, "framework_id": t.frameworkID, "executor_id": "", "slave_id": t.agentID,
		"state": t.state, "resources": scalarMap(sumOf(t.resources)),
		"statuses": []map[string]any{{"state": t.state, "timestamp": secs(t.started)}},
	}
}

// legacyFramework is a framework in the /master/frameworks and /state format; m.mu held.
func (m *Master) legacyFramework(f *framework) map[string]any {
	used := scalarMap(m.frameworkUsed(f.ID))
	tasks, done := []map[string]any{}, []map[string]any{}
	for _, t := range m.tasks {
		if t.frameworkID == f.ID {
			tasks = append(tasks, legacyTask(t))
		}
	}
	for _, t := range m.doneTasks {
		if t.frameworkID == f.ID {
			done = append(done, legacyTask(t))
		}
	}
	caps := append([]string{}, f.Capabilities...)
	out := map[string]any{
		"id": f.ID, "name": f.Name, "used_resources": used, "offered_resources": scalarMap(Resources{}),
		"capabilities": caps, "hostname": f.Hostname, "webui_url": f.WebUIURL, "active": f.Active,
		"connected": f.Connected, "recovered": false, "user": f.User, "failover_timeout": f.FailoverTimeout,
		"checkpoint": true, "registered_time": secs(f.RegisteredTime), "unregistered_time": secs(f.UnregisteredTime),
		"resources": used, "tasks": tasks, "unreachable_tasks": []any{}, "completed_tasks": done,
		"offers": []any{}, "executors": []any{},
	}
	if len(f.Roles) > 0 {
		out["roles"] = f.Roles
	} else {
		out["role"] = f.roles()[0]
	}
	if f.Principal != "" {
		out["principal"] = f.Principal
	}
	if !f.ReregisteredTime.IsZero() {
		out["reregistered_time"] = secs(f.ReregisteredTime)
	}
	if len(f.Labels) > 0 {
		out["labels"] = f.Labels
	}
	return out
}

// serveFrameworks builds /master/frameworks; m.mu held.
func (m *Master) serveFrameworks() any {
	fw, done := []any{}, []any{}
	for _, f := range m.frameworks {
		fw = append(fw, m.legacyFramework(f))
	}
	for _, f := range m.completed {
		done = append(done, m.legacyFramework(f))
	}
	return map[string]any{"frameworks": fw, "completed_frameworks": done, "unregistered_frameworks": []any{}}
}

// legacySlave is an agent in the old format; m.mu held.
func (m *Master) legacySlave(a *agent, full bool) map[string]any {
	reserved := map[string]Resources{}
	reservedFull := map[string][]wResource{}
	var used []resource
	for _, r := range a.reserved {
		s := reserved[r.role]
		switch r.name {
		case "cpus":
			s.CPUs += r.amount
		case "mem":
			s.Mem += r.amount
		case "disk":
			s.Disk += r.amount
		}
		reserved[r.role] = s
		reservedFull[r.role] = append(reservedFull[r.role], resourceOut(r, ""))
		if r.usedBy != "" {
			used = append(used, *r)
		}
	}
	reservedMaps := map[string]any{}
	for role, s := range reserved {
		reservedMaps[role] = scalarMap(s)
	}
	out := map[string]any{
		"id": a.id, "pid": "slave(1)@" + a.hostname + ":5051", "hostname": a.hostname, "port": 5051,
		"registered_time": secs(a.registered), "resources": scalarMap(a.total), "used_resources": scalarMap(sumOf(used)),
		"offered_resources": scalarMap(Resources{}), "reserved_resources": reservedMaps,
		"unreserved_resources": scalarMap(a.unreserved()), "attributes": map[string]any{}, "active": true,
		"version": Version, "capabilities": []string{"MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"},
	}
	if full {
		out["reserved_resources_full"] = reservedFull
		out["unreserved_resources_full"] = unreservedOut(a.unreserved())
		var usedFull []wResource
		for i := range used {
			usedFull = append(usedFull, resourceOut(&used[i], used[i].role))
		}
		out["used_resources_full"] = usedFull
	}
	return out
}

// serveState builds /master/state; m.mu held.
func (m *Master) serveState() any {
	slaves := []any{}
	for _, a := range m.agents {
		slaves = append(slaves, m.legacySlave(a, true))
	}
	fw := m.serveFrameworks().(map[string]any)
	return map[string]any{
		"version": Version, "id": m.opts.ID, "pid": "master@10.0.1.10:5050", "hostname": m.opts.Hostname,
		"start_time": secs(m.start), "elected_time": secs(m.start), "activated_slaves": len(m.agents),
		"deactivated_slaves": 0, "unreachable_slaves": 0, "leader": "master@10.0.1.10:5050",
		"leader_info": map[string]any{"id": m.opts.ID, "hostname": m.opts.Hostname, "port": 5050},
		"cluster":     "sim", "flags": map[string]any{"max_completed_frameworks": "50"},
		"slaves": slaves, "frameworks": fw["frameworks"], "completed_frameworks": fw["completed_frameworks"],
		"orphan_tasks": []any{}, "unregistered_frameworks": []any{},
	}
}

// serveStateSummary builds /master/state-summary; m.mu held.
func (m *Master) serveStateSummary() any {
	slaves := []any{}
	for _, a := range m.agents {
		s := m.legacySlave(a, false)
		ids := []string{}
		running := 0
		for _, t := range m.tasks {
			if t.agentID == a.id {
				running++
				ids = appendUnique(ids, t.frameworkID)
			}
		}
		s["framework_ids"] = ids
		s["TASK_RUNNING"] = running
		slaves = append(slaves, s)
	}
	fws := []any{}
	for _, f := range m.frameworks {
		ids := []string{}
		running := 0
		for _, t := range m.tasks {
			if t.frameworkID == f.ID {
				running++
				ids = appendUnique(ids, t.agentID)
			}
		}
		fws = append(fws, map[string]any{
			"id": f.ID, "name": f.Name, "used_resources": scalarMap(m.frameworkUsed(f.ID)),
			"offered_resources": scalarMap(Resources{}), "capabilities": append([]string{}, f.Capabilities...),
			"hostname": f.Hostname, "webui_url": f.WebUIURL, "active": f.Active, "connected": f.Connected,
			"recovered": false, "TASK_RUNNING": running, "slave_ids": ids,
		})
	}
	return map[string]any{"hostname": m.opts.Hostname, "cluster": "sim", "slaves": slaves, "frameworks": fws}
}

// serveSlaves builds /master/slaves; m.mu held.
func (m *Master) serveSlaves() any {
	slaves := []any{}
	for _, a := range m.agents {
		slaves = append(slaves, m.legacySlave(a, true))
	}
	return map[string]any{"slaves": slaves, "recovered_slaves": []any{}}
}

// serveRoles builds /master/roles; m.mu held.
func (m *Master) serveRoles() any {
	roles := []any{}
	for _, r := range m.getRoles().Roles {
		ids := []string{}
		for _, f := range r.Frameworks {
			ids = append(ids, f.Value)
		}
		var all []resource
		for _, a := range m.agents {
			for _, res := range a.reserved {
				if res.role == r.Name {
					all = append(all, *res)
				}
			}
		}
		roles = append(roles, map[string]any{"name": r.Name, "weight": r.Weight, "frameworks": ids,
			"resources": scalarMap(sumOf(all))})
	}
	return map[string]any{"roles": roles}
}

// appendUnique appends s unless present.
func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// serveTeardown serves POST /master/teardown with form frameworkId=<id>.
func (m *Master) serveTeardown(w http.ResponseWriter, r *http.Request) {
	if m.redirectIfNotLeader(w, r) {
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		plain(w, http.StatusMethodNotAllowed, "Expecting one of { 'POST' }, but received '"+r.Method+"'")
		return
	}
	if err := r.ParseForm(); err != nil {
		plain(w, http.StatusBadRequest, "Unable to decode query string: "+err.Error())
		return
	}
	id := strings.TrimSpace(r.PostForm.Get("frameworkId"))
	if _, ok := r.PostForm["frameworkId"]; !ok {
		plain(w, http.StatusBadRequest, "Missing 'frameworkId' query parameter in the request body")
		return
	}
	if err := m.Teardown(id); err != nil {
		plain(w, http.StatusBadRequest, "No framework found with specified ID")
		return
	}
	w.WriteHeader(http.StatusOK)
}
