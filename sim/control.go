package sim

import (
	"encoding/json"
	"net/http"
	"path"
	"sort"
	"strings"

	"github.com/universe-operator/universe-operator/sim/mesos"
	"github.com/universe-operator/universe-operator/sim/sdk"
)

// controlHandler serves /simulator/v1/ (see the package doc).
func (c *Cluster) controlHandler() http.Handler {
	const base = "/simulator/v1"
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+base+"/state", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, c.State())
	})
	mux.Handle(base+"/faults/marathon", c.Marathon.Faults().ControlHandler())
	mux.Handle(base+"/faults/mesos", c.Mesos.Faults().ControlHandler())
	mux.Handle(base+"/faults/sdk", c.SDK.Faults().ControlHandler())
	mux.Handle(base+"/marathon/", http.StripPrefix(base+"/marathon", c.Marathon.ControlHandler()))
	mux.Handle(base+"/mesos/", http.StripPrefix(base+"/mesos", c.Mesos.ControlHandler()))
	mux.Handle(base+"/auth/", http.StripPrefix(base+"/auth", c.Auth.ControlHandler()))
	mux.HandleFunc("GET "+base+"/sdk", func(w http.ResponseWriter, _ *http.Request) {
		type entry struct {
			sdk.Summary
			Plan *sdk.PlanInfo `json:"deploy_plan,omitempty"`
		}
		out := []entry{}
		for _, s := range c.SDK.Summaries() {
			e := entry{Summary: s}
			if sc := c.SDK.Scheduler(s.Name); sc != nil {
				if p, ok := sc.Plan("deploy"); ok {
					e.Plan = &p
				}
			}
			out = append(out, e)
		}
		writeJSON(w, http.StatusOK, map[string]any{"schedulers": out})
	})
	mux.HandleFunc("GET "+base+"/zookeeper/znodes", func(w http.ResponseWriter, _ *http.Request) {
		nodes, err := c.ServiceZNodes()
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"message": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"znodes": nodes})
	})
	mux.HandleFunc("GET "+base+"/zookeeper/znodes/{path...}", func(w http.ResponseWriter, r *http.Request) {
		p := "/" + r.PathValue("path")
		data, ok, err := c.ZooKeeper.Get(p)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
			return
		}
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "no znode " + p})
			return
		}
		children, err := c.ZooKeeper.Children(p)
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"message": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"path": p, "data": string(data), "children": children})
	})
	mux.HandleFunc("POST "+base+"/zookeeper/znodes", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Path string `json:"path"`
			Data string `json:"data"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": "invalid request body: " + err.Error()})
			return
		}
		if err := c.ZooKeeper.Create(req.Path, []byte(req.Data)); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("DELETE "+base+"/zookeeper/znodes/{path...}", func(w http.ResponseWriter, r *http.Request) {
		if err := c.ZooKeeper.DeleteAll("/" + r.PathValue("path")); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc(base+"/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "no control endpoint " + r.Method + " " + r.URL.Path})
	})
	return mux
}

// ServiceZNodes returns the top-level ZooKeeper nodes of services
// ("/dcos-service-..."), sorted.
func (c *Cluster) ServiceZNodes() ([]string, error) {
	children, err := c.ZooKeeper.Children("/")
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, ch := range children {
		if strings.HasPrefix(ch, "dcos-service-") {
			out = append(out, path.Join("/", ch))
		}
	}
	sort.Strings(out)
	return out, nil
}

// State is the summary GET /simulator/v1/state answers.
type State struct {
	Apps                []AppSummary        `json:"apps"`
	Agents              []mesos.Agent       `json:"agents"`
	Frameworks          []mesos.Framework   `json:"frameworks"`
	CompletedFrameworks []mesos.Framework   `json:"completed_frameworks"`
	Reservations        []mesos.Reservation `json:"reservations"`
	Volumes             []mesos.Volume      `json:"volumes"`
	SDK                 []sdk.Summary       `json:"sdk"`
	ZNodes              []string            `json:"znodes"`
	ZNodesError         string              `json:"znodes_error,omitempty"`
	Services            []string            `json:"services"`
	Auth                AuthSummary         `json:"auth"`
	MarathonLeader      string              `json:"marathon_leader"`
}

// AppSummary is a running app as the cluster sees it.
type AppSummary struct {
	ID            string `json:"id"`
	Version       string `json:"version"`
	Kind          string `json:"kind"`
	ServiceName   string `json:"service_name,omitempty"`
	FrameworkName string `json:"framework_name,omitempty"`
	Role          string `json:"role,omitempty"`
	Instances     int    `json:"instances"`
}

// AuthSummary describes the auth settings.
type AuthSummary struct {
	Enabled    bool  `json:"enabled"`
	TTLSeconds int64 `json:"ttl_seconds"`
}

// State returns a summary of the whole cluster.
func (c *Cluster) State() State {
	st := State{
		Apps:                []AppSummary{},
		Agents:              c.Mesos.Agents(),
		Frameworks:          c.Mesos.Frameworks(),
		CompletedFrameworks: c.Mesos.CompletedFrameworks(),
		Reservations:        c.Mesos.Reservations(""),
		Volumes:             c.Mesos.Volumes(""),
		SDK:                 c.SDK.Summaries(),
		Auth:                AuthSummary{Enabled: c.Auth.Enabled(), TTLSeconds: int64(c.Auth.TTL().Seconds())},
		MarathonLeader:      c.Marathon.Leader(),
	}
	c.mu.Lock()
	for _, a := range c.apps {
		st.Apps = append(st.Apps, AppSummary{ID: a.ID, Version: a.Version, Kind: a.Kind, ServiceName: a.ServiceName,
			FrameworkName: a.FrameworkName, Role: a.Role, Instances: a.Instances})
	}
	c.mu.Unlock()
	sort.Slice(st.Apps, func(i, j int) bool { return st.Apps[i].ID < st.Apps[j].ID })
	nodes, err := c.ServiceZNodes()
	if err != nil {
		st.ZNodesError = err.Error()
	}
	st.ZNodes = nodes
	if st.ZNodes == nil {
		st.ZNodes = []string{}
	}
	st.Services = c.serviceNames()
	sort.Strings(st.Services)
	return st
}
