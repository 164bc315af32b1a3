package mesos

import (
	"encoding/json"
	"net/http"
)

// ControlHandler serves the master's control API (see the package doc),
// relative to its mount point.
func (m *Master) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /frameworks", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"frameworks": m.Frameworks(), "completed_frameworks": m.CompletedFrameworks()})
	})
	mux.HandleFunc("POST /frameworks", func(w http.ResponseWriter, r *http.Request) {
		var info FrameworkInfo
		if !readJSON(w, r, &info) {
			return
		}
		if info.Name == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": "name is required"})
			return
		}
		writeJSON(w, http.StatusCreated, m.RegisterFramework(info))
	})
	mux.HandleFunc("DELETE /frameworks/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Teardown(r.PathValue("id")); err != nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": err.Error()})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /agents", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"agents": m.Agents()})
	})
	mux.HandleFunc("GET /reservations", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"reservations": m.Reservations(r.URL.Query().Get("role"))})
	})
	mux.HandleFunc("GET /volumes", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"volumes": m.Volumes(r.URL.Query().Get("role"))})
	})
	mux.HandleFunc("POST /reservations", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			AgentID   string  `json:"agent_id"`
			Role      string  `json:"role"`
			Principal string  `json:"principal"`
			Labels    []Label `json:"labels"`
			CPUs      float64 `json:"cpus"`
			Mem       float64 `json:"mem"`
			Disk      float64 `json:"disk"`
		}
		if !readJSON(w, r, &req) {
			return
		}
		for _, s := range []struct {
			name string
			v    float64
		}{{"cpus", req.CPUs}, {"mem", req.Mem}, {"disk", req.Disk}} {
			if s.v == 0 {
				continue
			}
			if err := m.Reserve(req.AgentID, Reservation{Name: s.name, Amount: s.v, Role: req.Role,
				Principal: req.Principal, Labels: req.Labels}); err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
				return
			}
		}
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("POST /volumes", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			AgentID       string  `json:"agent_id"`
			Role          string  `json:"role"`
			Principal     string  `json:"principal"`
			Labels        []Label `json:"labels"`
			Size          float64 `json:"size"`
			PersistenceID string  `json:"persistence_id"`
			ContainerPath string  `json:"container_path"`
		}
		if !readJSON(w, r, &req) {
			return
		}
		if req.PersistenceID == "" {
			req.PersistenceID = newUUID()
		}
		if err := m.Reserve(req.AgentID, Reservation{Name: "disk", Amount: req.Size, Role: req.Role,
			Principal: req.Principal, Labels: req.Labels}); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
			return
		}
		if err := m.CreateVolume(req.AgentID, Volume{Size: req.Size, Role: req.Role, Principal: req.Principal,
			Labels: req.Labels, PersistenceID: req.PersistenceID, ContainerPath: req.ContainerPath}); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
			return
		}
		writeJSON(w, http.StatusCreated, map[string]string{"persistence_id": req.PersistenceID})
	})
	mux.HandleFunc("PUT /leader", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Leader string `json:"leader"`
		}
		if !readJSON(w, r, &req) {
			return
		}
		m.SetLeader(req.Leader)
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// readJSON decodes the request body into v, answering 400 on failure.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "invalid request body: " + err.Error()})
		return false
	}
	return true
}
