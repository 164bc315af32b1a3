package mesos

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	mesosv1 "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/master"
)

// Media types of the operator API.
const (
	mediaJSON     = "application/json"
	mediaProtobuf = "application/x-protobuf"
)

// apiMux routes the master's endpoints.
func (m *Master) apiMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1", m.serveOperator)
	for _, p := range []string{"/master/", "/"} {
		mux.HandleFunc(p+"frameworks", m.legacy(m.serveFrameworks))
		mux.HandleFunc(p+"state", m.legacy(m.serveState))
		mux.HandleFunc(p+"state.json", m.legacy(m.serveState))
		mux.HandleFunc(p+"state-summary", m.legacy(m.serveStateSummary))
		mux.HandleFunc(p+"slaves", m.legacy(m.serveSlaves))
		mux.HandleFunc(p+"roles", m.legacy(m.serveRoles))
		mux.HandleFunc(p+"teardown", m.serveTeardown)
		mux.HandleFunc(p+"redirect", m.serveRedirect)
	}
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("/master/health", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	return mux
}

// plain answers with a text/plain body, as libprocess does for errors.
func plain(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg)
}

// redirectIfNotLeader answers 307 to the leader when this master does not
// lead; true when it did.
func (m *Master) redirectIfNotLeader(w http.ResponseWriter, r *http.Request) bool {
	m.mu.Lock()
	leader := m.leader
	m.mu.Unlock()
	if leader == "" {
		return false
	}
	w.Header().Set("Location", "//"+leader+r.URL.Path)
	w.WriteHeader(http.StatusTemporaryRedirect)
	return true
}

// serveRedirect answers GET /master/redirect: 307 to the leading master.
func (m *Master) serveRedirect(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	leader := m.leader
	m.mu.Unlock()
	if leader == "" {
		leader = r.Host
	}
	w.Header().Set("Location", "//"+leader)
	w.WriteHeader(http.StatusTemporaryRedirect)
}

// serveOperator serves POST /api/v1.
func (m *Master) serveOperator(w http.ResponseWriter, r *http.Request) {
	if m.redirectIfNotLeader(w, r) {
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		plain(w, http.StatusMethodNotAllowed, fmt.Sprintf("Expecting one of { 'POST' }, but received '%s'", r.Method))
		return
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		plain(w, http.StatusBadRequest, "Expecting 'Content-Type' to be present")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<20))
	if err != nil {
		plain(w, http.StatusBadRequest, "Failed to read request body: "+err.Error())
		return
	}
	var call master.Call
	switch mt, _, _ := mime.ParseMediaType(ct); mt {
	case mediaProtobuf:
		if err := call.Unmarshal(body); err != nil {
			plain(w, http.StatusBadRequest, "Failed to parse body into Call protobuf")
			return
		}
	case mediaJSON:
		if !json.Valid(body) {
			plain(w, http.StatusBadRequest, "Failed to parse body into JSON: syntax error")
			return
		}
		if err := json.Unmarshal(body, &call); err != nil {
			plain(w, http.StatusBadRequest, "Failed to convert JSON into Call protobuf: "+err.Error())
			return
		}
	default:
		plain(w, http.StatusUnsupportedMediaType, "Expecting 'Content-Type' of application/json or application/x-protobuf")
		return
	}
	accept, ok := negotiate(r.Header.Get("Accept"))
	if !ok {
		plain(w, http.StatusNotAcceptable, "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'")
		return
	}
	resp, status, msg := m.handleCall(&call)
	switch {
	case msg != "":
		plain(w, status, msg)
	case resp == nil:
		// No-data calls: no body and no Content-Type (mesos-go checks that).
		w.WriteHeader(status)
	default:
		writeResponse(w, accept, resp)
	}
}

// negotiate picks the response media type from an Accept header as Mesos
// does: JSON when acceptable, else protobuf.
func negotiate(accept string) (string, bool) {
	if strings.TrimSpace(accept) == "" {
		return mediaJSON, true
	}
	var json, proto bool
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || params["q"] == "0" {
			continue
		}
		switch mt {
		case mediaJSON, "application/*", "*/*":
			json = true
			if mt != mediaJSON {
				proto = true
			}
		case mediaProtobuf:
			proto = true
		}
	}
	switch {
	case json:
		return mediaJSON, true
	case proto:
		return mediaProtobuf, true
	}
	return "", false
}

// writeResponse encodes resp in the negotiated media type.
func writeResponse(w http.ResponseWriter, mediaType string, resp *wResponse) {
	b, err := json.Marshal(resp)
	if err != nil {
		plain(w, http.StatusInternalServerError, err.Error())
		return
	}
	if mediaType == mediaProtobuf {
		// Bridge through mesos-go's generated types to the protobuf encoding.
		var pr master.Response
		if err := json.Unmarshal(b, &pr); err != nil {
			plain(w, http.StatusInternalServerError, "encoding protobuf response: "+err.Error())
			return
		}
		if b, err = pr.Marshal(); err != nil {
			plain(w, http.StatusInternalServerError, "encoding protobuf response: "+err.Error())
			return
		}
	}
	w.Header().Set("Content-Type", mediaType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// handleCall executes a call. It returns a response for calls with data, or
// (nil, status, "") for no-data calls, or ("", status, message) for errors.
func (m *Master) handleCall(c *master.Call) (*wResponse, int, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch c.Type {
	case master.Call_GET_HEALTH:
		return &wResponse{Type: "GET_HEALTH", GetHealth: &wGetHealth{Healthy: true}}, http.StatusOK, ""
	case master.Call_GET_VERSION:
		return &wResponse{Type: "GET_VERSION", GetVersion: &wGetVersion{VersionInfo: wVersionInfo{Version: Version,
			BuildDate: "2019-06-18 20:43:04", BuildTime: 1560890584, BuildUser: "root"}}}, http.StatusOK, ""
	case master.Call_GET_MASTER:
		return &wResponse{Type: "GET_MASTER", GetMaster: m.getMaster()}, http.StatusOK, ""
	case master.Call_GET_FRAMEWORKS:
		return &wResponse{Type: "GET_FRAMEWORKS", GetFrameworks: m.getFrameworks()}, http.StatusOK, ""
	case master.Call_GET_AGENTS:
		return &wResponse{Type: "GET_AGENTS", GetAgents: m.getAgents()}, http.StatusOK, ""
	case master.Call_GET_TASKS:
		return &wResponse{Type: "GET_TASKS", GetTasks: m.getTasks()}, http.StatusOK, ""
	case master.Call_GET_ROLES:
		return &wResponse{Type: "GET_ROLES", GetRoles: m.getRoles()}, http.StatusOK, ""
	case master.Call_GET_STATE:
		return &wResponse{Type: "GET_STATE", GetState: &wGetState{GetTasks: m.getTasks(), GetExecutors: &wGetExecutors{},
			GetFrameworks: m.getFrameworks(), GetAgents: m.getAgents()}}, http.StatusOK, ""
	case master.Call_TEARDOWN:
		if c.Teardown == nil {
			return nil, http.StatusBadRequest, "Failed to validate master::Call: Expecting 'teardown' to be present"
		}
		if err := m.teardown(c.Teardown.FrameworkID.Value); err != nil {
			return nil, http.StatusBadRequest, "No framework found with specified ID"
		}
		return nil, http.StatusOK, ""
	case master.Call_UNRESERVE_RESOURCES:
		if c.UnreserveResources == nil {
			return nil, http.StatusBadRequest, "Failed to validate master::Call: Expecting 'unreserve_resources' to be present"
		}
		status, msg := m.unreserve(c.UnreserveResources.AgentID.Value, c.UnreserveResources.Resources)
		return nil, status, msg
	case master.Call_DESTROY_VOLUMES:
		if c.DestroyVolumes == nil {
			return nil, http.StatusBadRequest, "Failed to validate master::Call: Expecting 'destroy_volumes' to be present"
		}
		status, msg := m.destroyVolumes(c.DestroyVolumes.AgentID.Value, c.DestroyVolumes.Volumes)
		return nil, status, msg
	case master.Call_UNKNOWN:
		return nil, http.StatusNotImplemented, "Not Implemented"
	default:
		return nil, http.StatusNotImplemented, fmt.Sprintf("call %s is not simulated", c.Type)
	}
}

// parsed is a resource from a request, with what validation needs to know.
type parsed struct {
	resource
	dynamic bool
	scalar  bool
}

// parseResource converts a mesos-go Resource from a request.
func parseResource(r mesosv1.Resource) parsed {
	p := parsed{resource: resource{name: r.Name, amount: r.GetScalar().GetValue()}}
	p.scalar = r.GetType() == mesosv1.SCALAR && r.Scalar != nil
	var info *mesosv1.Resource_ReservationInfo
	if n := len(r.Reservations); n > 0 {
		info = &r.Reservations[n-1]
		p.role = info.GetRole()
		if p.role == "" {
			p.role = r.GetRole()
		}
		p.dynamic = info.Type == nil || info.GetType() == mesosv1.Resource_ReservationInfo_DYNAMIC
	} else {
		p.role = r.GetRole()
		info = r.Reservation
		p.dynamic = p.role != "*" && info != nil
	}
	if info != nil {
		p.principal = info.GetPrincipal()
		for _, l := range info.GetLabels().GetLabels() {
			p.labels = append(p.labels, Label{Key: l.Key, Value: l.GetValue()})
		}
	}
	if d := r.Disk; d != nil && d.Persistence != nil {
		p.persistenceID = d.Persistence.ID
		p.volPrincipal = d.Persistence.GetPrincipal()
		if d.Volume != nil {
			p.containerPath = d.Volume.ContainerPath
		}
	}
	return p
}

// validateResource applies Mesos' basic resource validation.
func validateResource(p parsed) string {
	switch {
	case p.name == "":
		return "Invalid resource: empty name"
	case !p.scalar:
		return fmt.Sprintf("Invalid resource %s: the simulator models scalar resources only", p.name)
	case p.amount < 0:
		return fmt.Sprintf("Invalid scalar resource %s: negative value", p.name)
	}
	return ""
}

// unreserve implements UNRESERVE_RESOURCES; m.mu held.
func (m *Master) unreserve(agentID string, rs []mesosv1.Resource) (int, string) {
	a := m.agent(agentID)
	if a == nil {
		return http.StatusBadRequest, "No agent found with specified ID"
	}
	var want []parsed
	for _, r := range rs {
		p := parseResource(r)
		if msg := validateResource(p); msg != "" {
			return http.StatusBadRequest, msg
		}
		if !p.dynamic {
			return http.StatusBadRequest, fmt.Sprintf("Invalid UNRESERVE operation: Resource %s is not dynamically reserved", p.String())
		}
		if p.isVolume() {
			return http.StatusBadRequest, fmt.Sprintf("Invalid UNRESERVE operation: A dynamically reserved persistent volume %s cannot be unreserved directly. Please destroy the persistent volume first then unreserve the resource", p.String())
		}
		want = append(want, p)
	}
	// All or nothing: check the whole operation against the available
	// (unused, volume-free) reservations before applying it.
	trial := &agent{reserved: cloneResources(a.reserved)}
	for i := range want {
		if !trial.take(&want[i].resource) {
			return http.StatusConflict, fmt.Sprintf("Invalid UNRESERVE Operation: %s does not contain %s", describe(a.reserved), want[i].String())
		}
	}
	a.reserved = trial.reserved
	return http.StatusAccepted, ""
}

// destroyVolumes implements DESTROY_VOLUMES; m.mu held.
func (m *Master) destroyVolumes(agentID string, vs []mesosv1.Resource) (int, string) {
	a := m.agent(agentID)
	if a == nil {
		return http.StatusBadRequest, "No agent found with specified ID"
	}
	var found []*resource
	for _, v := range vs {
		p := parseResource(v)
		if msg := validateResource(p); msg != "" {
			return http.StatusBadRequest, "Invalid DESTROY operation: Invalid resources: " + msg
		}
		if !p.isVolume() {
			return http.StatusBadRequest, fmt.Sprintf("Invalid DESTROY operation: Not a persistent volume: Resource %s is not a persistent volume", p.String())
		}
		var match *resource
		for _, r := range a.reserved {
			if r.isVolume() && r.persistenceID == p.persistenceID && r.role == p.role && r.name == p.name &&
				abs(r.amount-p.amount) < epsilon {
				match = r
				break
			}
		}
		if match == nil {
			return http.StatusBadRequest, "Invalid DESTROY operation: Persistent volumes not found"
		}
		if match.usedBy != "" {
			return http.StatusBadRequest, "Invalid DESTROY operation: Persistent volumes in use"
		}
		found = append(found, match)
	}
	for _, v := range found {
		v.persistenceID, v.volPrincipal, v.containerPath, v.mode = "", "", "", ""
	}
	old := a.reserved
	a.reserved = nil
	for _, r := range old {
		a.add(r)
	}
	return http.StatusAccepted, ""
}

// abs returns |v|.
func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

// cloneResources deep-copies reserved resources.
func cloneResources(rs []*resource) []*resource {
	out := make([]*resource, 0, len(rs))
	for _, r := range rs {
		c := *r
		c.labels = append([]Label(nil), r.labels...)
		out = append(out, &c)
	}
	return out
}

// describe stringifies the available resources as Mesos does in messages.
func describe(rs []*resource) string {
	parts := make([]string, 0, len(rs))
	for _, r := range rs {
		if !r.isVolume() && r.usedBy == "" {
			parts = append(parts, r.String())
		}
	}
	if len(parts) == 0 {
		return "{}"
	}
	return strings.Join(parts, "; ")
}
