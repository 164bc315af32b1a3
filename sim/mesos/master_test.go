package mesos

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	mesosv1 "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/codecs"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli/apierrors"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli/httpmaster"
	"github.com/mesos/mesos-go/api/v1/lib/master"
	"github.com/mesos/mesos-go/api/v1/lib/master/calls"

	"github.com/universe-operator/universe-operator/sim/fault"
)

// sender returns a mesos-go operator client for url with the given codec.
func sender(url string, codec encoding.Codec) calls.Sender {
	cli := httpcli.New(httpcli.Endpoint(url+"/api/v1"), httpcli.Codec(codec),
		httpcli.Do(httpcli.With(httpcli.Timeout(10*time.Second))))
	return httpmaster.NewSender(cli.Send)
}

// call sends a call and decodes the response (nil for no-data calls).
func call(t *testing.T, s calls.Sender, c *master.Call) (*master.Response, error) {
	t.Helper()
	resp, err := s.Send(context.Background(), calls.NonStreaming(c))
	if resp != nil {
		defer resp.Close()
	}
	if err != nil {
		return nil, err
	}
	if resp == nil {
		return nil, nil
	}
	var r master.Response
	if err := resp.Decode(&r); err != nil {
		return nil, err
	}
	return &r, nil
}

// seed registers a framework with reservations, a volume and a task on two agents.
func seed(t *testing.T, m *Master, name string) (Framework, []string) {
	t.Helper()
	role, principal := name+"-role", name+"-principal"
	f := m.RegisterFramework(FrameworkInfo{Name: name, Role: role, Principal: principal,
		WebUIURL: "http://" + name + ".marathon.mesos:10001/"})
	var agents []string
	for _, a := range m.Agents()[:2] {
		agents = append(agents, a.ID)
		for _, r := range []Reservation{{Name: "cpus", Amount: 0.5}, {Name: "mem", Amount: 512}, {Name: "disk", Amount: 1024}} {
			r.Role, r.Principal = role, principal
			if err := m.Reserve(a.ID, r); err != nil {
				t.Fatal(err)
			}
		}
		if err := m.CreateVolume(a.ID, Volume{Size: 1024, Role: role, Principal: principal, PersistenceID: NewUUID(), ContainerPath: "data"}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.LaunchTask(f.ID, a.ID, name+"-task"); err != nil {
			t.Fatal(err)
		}
	}
	return f, agents
}

// agentResources returns total_resources of an agent from GET_AGENTS.
func agentResources(t *testing.T, s calls.Sender, agentID string) []mesosv1.Resource {
	t.Helper()
	r, err := call(t, s, calls.GetAgents())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range r.GetGetAgents().Agents {
		if a.AgentInfo.GetID().Value == agentID {
			return a.TotalResources
		}
	}
	t.Fatalf("agent %s not in GET_AGENTS", agentID)
	return nil
}

// reservedTo picks the resources of role from a list.
func reservedTo(rs []mesosv1.Resource, role string) (plain, volumes []mesosv1.Resource) {
	for _, r := range rs {
		n := len(r.Reservations)
		if n == 0 || r.Reservations[n-1].GetRole() != role {
			continue
		}
		if r.GetDisk().GetPersistence() != nil {
			volumes = append(volumes, r)
		} else {
			plain = append(plain, r)
		}
	}
	return plain, volumes
}

func TestOperatorAPIWithMesosGoClient(t *testing.T) {
	for _, mt := range []encoding.MediaType{codecs.MediaTypeJSON, codecs.MediaTypeProtobuf} {
		t.Run(string(mt), func(t *testing.T) {
			m := New(Options{})
			srv := httptest.NewServer(m.Handler())
			defer srv.Close()
			s := sender(srv.URL, codecs.ByMediaType[mt])
			f, agents := seed(t, m, "kafka")

			// GET_FRAMEWORKS: the framework with its info.
			r, err := call(t, s, calls.GetFrameworks())
			if err != nil {
				t.Fatal(err)
			}
			if r.Type != master.Response_GET_FRAMEWORKS {
				t.Fatalf("type %v", r.Type)
			}
			fws := r.GetGetFrameworks().Frameworks
			if len(fws) != 1 {
				t.Fatalf("frameworks: %+v", fws)
			}
			fi := fws[0].FrameworkInfo
			if fi.GetID().Value != f.ID || fi.Name != "kafka" || fi.GetRole() != "kafka-role" ||
				fi.GetPrincipal() != "kafka-principal" || fi.GetWebUiURL() != "http://kafka.marathon.mesos:10001/" || !fws[0].Active {
				t.Errorf("framework info: %+v active=%v", fi, fws[0].Active)
			}
			if len(fws[0].AllocatedResources) == 0 {
				t.Errorf("no allocated resources for a framework with tasks")
			}

			// GET_STATE and GET_ROLES.
			r, err = call(t, s, calls.GetState())
			if err != nil {
				t.Fatal(err)
			}
			st := r.GetGetState()
			if len(st.GetGetAgents().Agents) != 3 || len(st.GetGetTasks().Tasks) != 2 || len(st.GetGetFrameworks().Frameworks) != 1 {
				t.Errorf("state: %d agents, %d tasks, %d frameworks", len(st.GetGetAgents().Agents), len(st.GetGetTasks().Tasks), len(st.GetGetFrameworks().Frameworks))
			}
			r, err = call(t, s, calls.GetRoles())
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, role := range r.GetGetRoles().Roles {
				names = append(names, role.Name)
				if role.Name == "kafka-role" && (len(role.Frameworks) != 1 || len(role.Resources) != 6) {
					t.Errorf("role: %+v", role)
				}
			}
			if strings.Join(names, ",") != "kafka-role" {
				t.Errorf("roles %v", names)
			}

			// While the framework's tasks run, its reservations cannot be released.
			plain, vols := reservedTo(agentResources(t, s, agents[0]), "kafka-role")
			if len(plain) != 2 || len(vols) != 1 {
				t.Fatalf("agent 0: plain %v volumes %v", plain, vols)
			}
			_, err = call(t, s, calls.UnreserveResources(mesosv1.AgentID{Value: agents[0]}, plain...))
			if !apierrors.CodeIncompatibleVersion.Matches(err) { // 409 Conflict maps to this code in mesos-go
				t.Errorf("unreserve in use: %v, want 409", err)
			}
			_, err = call(t, s, calls.DestroyVolumes(mesosv1.AgentID{Value: agents[0]}, vols...))
			if !apierrors.CodeMalformedRequest.Matches(err) || !strings.Contains(err.Error(), "Persistent volumes in use") {
				t.Errorf("destroy in use: %v", err)
			}

			// TEARDOWN: the framework leaves GET_FRAMEWORKS' frameworks.
			if _, err := call(t, s, calls.Teardown(mesosv1.FrameworkID{Value: f.ID})); err != nil {
				t.Fatalf("teardown: %v", err)
			}
			r, err = call(t, s, calls.GetFrameworks())
			if err != nil {
				t.Fatal(err)
			}
			if n := len(r.GetGetFrameworks().Frameworks); n != 0 {
				t.Errorf("%d frameworks after teardown", n)
			}
			if c := r.GetGetFrameworks().CompletedFrameworks; len(c) != 1 || c[0].Active {
				t.Errorf("completed: %+v", c)
			}
			_, err = call(t, s, calls.Teardown(mesosv1.FrameworkID{Value: f.ID}))
			if !apierrors.CodeMalformedRequest.Matches(err) || !strings.Contains(err.Error(), "No framework found with specified ID") {
				t.Errorf("second teardown: %v", err)
			}

			// Reservations and volumes survive the teardown.
			for _, agentID := range agents {
				plain, vols := reservedTo(agentResources(t, s, agentID), "kafka-role")
				if len(plain) != 2 || len(vols) != 1 {
					t.Fatalf("after teardown %s: plain %d volumes %d", agentID, len(plain), len(vols))
				}
				// Disk holding a volume cannot be unreserved first.
				disk := vols[0]
				disk.Disk = nil
				_, err = call(t, s, calls.UnreserveResources(mesosv1.AgentID{Value: agentID}, disk))
				if !apierrors.CodeIncompatibleVersion.Matches(err) {
					t.Errorf("unreserve disk under a volume: %v, want 409", err)
				}
				_, err = call(t, s, calls.UnreserveResources(mesosv1.AgentID{Value: agentID}, vols[0]))
				if !apierrors.CodeMalformedRequest.Matches(err) || !strings.Contains(err.Error(), "persistent volume") {
					t.Errorf("unreserve a volume: %v", err)
				}
				// Janitor order: destroy volumes, then unreserve everything.
				if _, err := call(t, s, calls.DestroyVolumes(mesosv1.AgentID{Value: agentID}, vols...)); err != nil {
					t.Fatalf("destroy: %v", err)
				}
				plain, vols = reservedTo(agentResources(t, s, agentID), "kafka-role")
				if len(vols) != 0 || len(plain) != 3 {
					t.Fatalf("after destroy: plain %d volumes %d (destroyed volume disk stays reserved)", len(plain), len(vols))
				}
				if _, err := call(t, s, calls.UnreserveResources(mesosv1.AgentID{Value: agentID}, plain...)); err != nil {
					t.Fatalf("unreserve: %v", err)
				}
				plain, vols = reservedTo(agentResources(t, s, agentID), "kafka-role")
				if len(plain)+len(vols) != 0 {
					t.Errorf("agent %s still holds %v %v", agentID, plain, vols)
				}
			}
			if len(m.Reservations("kafka-role"))+len(m.Volumes("kafka-role")) != 0 {
				t.Errorf("left: %v %v", m.Reservations("kafka-role"), m.Volumes("kafka-role"))
			}
			for _, a := range m.Agents() {
				if a.Unreserved != a.Total {
					t.Errorf("agent %s unreserved %+v, total %+v", a.ID, a.Unreserved, a.Total)
				}
			}

			// Unreserving again, or destroying volumes that are gone, fails like Mesos.
			_, err = call(t, s, calls.UnreserveResources(mesosv1.AgentID{Value: agents[0]}, plain0(t)...))
			if !apierrors.CodeIncompatibleVersion.Matches(err) || !strings.Contains(err.Error(), "does not contain") {
				t.Errorf("unreserve twice: %v", err)
			}
			_, err = call(t, s, calls.DestroyVolumes(mesosv1.AgentID{Value: agents[0]}, vols0(t)...))
			if !apierrors.CodeMalformedRequest.Matches(err) || !strings.Contains(err.Error(), "Persistent volumes not found") {
				t.Errorf("destroy twice: %v", err)
			}
			unres := mesosv1.Resource{Name: "cpus", Type: mesosv1.SCALAR.Enum(), Scalar: &mesosv1.Value_Scalar{Value: 1}}
			_, err = call(t, s, calls.UnreserveResources(mesosv1.AgentID{Value: agents[0]}, unres))
			if !apierrors.CodeMalformedRequest.Matches(err) || !strings.Contains(err.Error(), "is not dynamically reserved") {
				t.Errorf("unreserve unreserved: %v", err)
			}
			_, err = call(t, s, calls.UnreserveResources(mesosv1.AgentID{Value: "nope"}, plain0(t)...))
			if !apierrors.CodeMalformedRequest.Matches(err) || !strings.Contains(err.Error(), "No agent found") {
				t.Errorf("unknown agent: %v", err)
			}
		})
	}
}

// plain0 is a reserved cpus resource of kafka-role (post-refinement format).
func plain0(t *testing.T) []mesosv1.Resource {
	t.Helper()
	role, principal := "kafka-role", "kafka-principal"
	return []mesosv1.Resource{{Name: "cpus", Type: mesosv1.SCALAR.Enum(), Scalar: &mesosv1.Value_Scalar{Value: 0.5},
		Reservations: []mesosv1.Resource_ReservationInfo{{Type: mesosv1.Resource_ReservationInfo_DYNAMIC.Enum(), Role: &role, Principal: &principal}}}}
}

// vols0 is a volume of kafka-role that does not exist.
func vols0(t *testing.T) []mesosv1.Resource {
	t.Helper()
	r := plain0(t)[0]
	r.Name = "disk"
	r.Scalar = &mesosv1.Value_Scalar{Value: 1024}
	r.Disk = &mesosv1.Resource_DiskInfo{Persistence: &mesosv1.Resource_DiskInfo_Persistence{ID: "gone"},
		Volume: &mesosv1.Volume{ContainerPath: "data", Mode: mesosv1.RW.Enum()}}
	return []mesosv1.Resource{r}
}

func TestLegacyReservationFormatAndPartialUnreserve(t *testing.T) {
	m := New(Options{Agents: 1})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	s := sender(srv.URL, codecs.ByMediaType[codecs.MediaTypeJSON])
	agentID := m.Agents()[0].ID
	if err := m.Reserve(agentID, Reservation{Name: "mem", Amount: 1024, Role: "r", Principal: "p",
		Labels: []Label{{"resource_id", "x"}}}); err != nil {
		t.Fatal(err)
	}
	// Pre-refinement format: role + reservation{principal, labels}.
	role, principal, v := "r", "p", "x"
	legacy := mesosv1.Resource{Name: "mem", Type: mesosv1.SCALAR.Enum(), Scalar: &mesosv1.Value_Scalar{Value: 256}, Role: &role,
		Reservation: &mesosv1.Resource_ReservationInfo{Principal: &principal, Labels: &mesosv1.Labels{Labels: []mesosv1.Label{{Key: "resource_id", Value: &v}}}}}
	if _, err := call(t, s, calls.UnreserveResources(mesosv1.AgentID{Value: agentID}, legacy)); err != nil {
		t.Fatalf("partial unreserve: %v", err)
	}
	if rs := m.Reservations("r"); len(rs) != 1 || rs[0].Amount != 768 {
		t.Fatalf("after partial: %+v", rs)
	}
	// Labels must match: without them the reservation is a different one.
	legacy.Reservation.Labels = nil
	if _, err := call(t, s, calls.UnreserveResources(mesosv1.AgentID{Value: agentID}, legacy)); !apierrors.CodeIncompatibleVersion.Matches(err) {
		t.Errorf("unlabelled: %v", err)
	}
	// A statically reserved resource (role without reservation info) is refused.
	legacy.Reservation = nil
	if _, err := call(t, s, calls.UnreserveResources(mesosv1.AgentID{Value: agentID}, legacy)); !apierrors.CodeMalformedRequest.Matches(err) {
		t.Errorf("static: %v", err)
	}
}

func TestRawWireFormat(t *testing.T) {
	m := New(Options{Agents: 1})
	seedOne := m.RegisterFramework(FrameworkInfo{Name: "hello", Roles: []string{"hello-role"}, Principal: "hello-principal",
		Capabilities: []string{"MULTI_ROLE"}})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	post := func(body, ct, accept string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1", strings.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := post(`{"type":"GET_FRAMEWORKS"}`, "application/json", "application/json")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	fw := out["get_frameworks"].(map[string]any)["frameworks"].([]any)[0].(map[string]any)
	info := fw["framework_info"].(map[string]any)
	if out["type"] != "GET_FRAMEWORKS" || info["id"].(map[string]any)["value"] != seedOne.ID || fw["active"] != true ||
		info["roles"].([]any)[0] != "hello-role" || info["capabilities"].([]any)[0].(map[string]any)["type"] != "MULTI_ROLE" {
		t.Errorf("body %s", body)
	}
	if _, ok := out["get_frameworks"].(map[string]any)["completed_frameworks"]; ok {
		t.Errorf("empty repeated field present: %s", body)
	}
	for _, c := range []struct {
		body, ct, accept string
		status           int
		msg              string
	}{
		{`{"type":"GET_FRAMEWORKS"}`, "", "", 400, "Expecting 'Content-Type' to be present"},
		{`{"type":"GET_FRAMEWORKS"}`, "text/plain", "", 415, "Expecting 'Content-Type'"},
		{`{"type":"GET_FRAMEWORKS"`, "application/json", "", 400, "Failed to parse body into JSON"},
		{`{"type":"NO_SUCH_CALL"}`, "application/json", "", 400, "Failed to convert JSON into Call protobuf"},
		{`{"type":"GET_FRAMEWORKS"}`, "application/json", "text/html", 406, "Expecting 'Accept'"},
		{`{"type":"SUBSCRIBE"}`, "application/json", "", 501, ""},
		{`{"type":"TEARDOWN","teardown":{"framework_id":{"value":"nope"}}}`, "application/json", "", 400, "No framework found with specified ID"},
	} {
		resp, body := post(c.body, c.ct, c.accept)
		if resp.StatusCode != c.status || !strings.Contains(body, c.msg) {
			t.Errorf("%s %s: %d %q", c.body, c.ct, resp.StatusCode, body)
		}
	}
	// TEARDOWN: 200, no body, no Content-Type.
	resp, body = post(`{"type":"TEARDOWN","teardown":{"framework_id":{"value":"`+seedOne.ID+`"}}}`, "application/json", "application/json")
	if resp.StatusCode != 200 || body != "" || resp.Header.Get("Content-Type") != "" {
		t.Errorf("teardown: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	// GET is not allowed.
	r2, err := http.Get(srv.URL + "/api/v1")
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /api/v1: %d", r2.StatusCode)
	}
}

func TestLegacyEndpoints(t *testing.T) {
	m := New(Options{})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	f, _ := seed(t, m, "cassandra")
	getJSON := func(path string) map[string]any {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
		out := map[string]any{}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	fws := getJSON("/master/frameworks")["frameworks"].([]any)
	if len(fws) != 1 || fws[0].(map[string]any)["webui_url"] != "http://cassandra.marathon.mesos:10001/" ||
		fws[0].(map[string]any)["role"] != "cassandra-role" || len(fws[0].(map[string]any)["tasks"].([]any)) != 2 {
		t.Errorf("frameworks: %v", fws)
	}
	st := getJSON("/master/state")
	slave := st["slaves"].([]any)[0].(map[string]any)
	full := slave["reserved_resources_full"].(map[string]any)["cassandra-role"].([]any)
	if len(full) != 3 {
		t.Errorf("reserved_resources_full: %v", full)
	}
	if res := slave["reserved_resources"].(map[string]any)["cassandra-role"].(map[string]any); res["cpus"] != 0.5 || res["disk"] != 1024.0 {
		t.Errorf("reserved_resources: %v", res)
	}
	sum := getJSON("/master/state-summary")
	if fw := sum["frameworks"].([]any)[0].(map[string]any); fw["name"] != "cassandra" || fw["TASK_RUNNING"] != 2.0 {
		t.Errorf("summary: %v", fw)
	}
	if len(getJSON("/slaves")["slaves"].([]any)) != 3 || len(getJSON("/master/roles")["roles"].([]any)) != 1 {
		t.Errorf("slaves/roles")
	}
	// POST /master/teardown frameworkId=.
	form := func(v url.Values) int {
		resp, err := http.PostForm(srv.URL+"/master/teardown", v)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := form(url.Values{}); code != 400 {
		t.Errorf("missing id: %d", code)
	}
	if code := form(url.Values{"frameworkId": {"nope"}}); code != 400 {
		t.Errorf("unknown id: %d", code)
	}
	if code := form(url.Values{"frameworkId": {f.ID}}); code != 200 {
		t.Errorf("teardown: %d", code)
	}
	if n := len(getJSON("/master/frameworks")["frameworks"].([]any)); n != 0 {
		t.Errorf("%d frameworks after teardown", n)
	}
	if n := len(getJSON("/master/frameworks")["completed_frameworks"].([]any)); n != 1 {
		t.Errorf("%d completed frameworks", n)
	}
}

func TestFaultsAndLeaderRedirect(t *testing.T) {
	m := New(Options{})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	s := sender(srv.URL, codecs.ByMediaType[codecs.MediaTypeJSON])
	m.Faults().Add(fault.Rule{Status: http.StatusServiceUnavailable})
	_, err := call(t, s, calls.GetFrameworks())
	var apiErr *apierrors.Error
	if !errors.As(err, &apiErr) || !apiErr.Temporary() {
		t.Errorf("mesos down: %v", err)
	}
	m.Faults().Clear()
	m.Faults().Add(fault.Rule{Drop: true, Count: 1})
	if _, err := call(t, s, calls.GetFrameworks()); err == nil {
		t.Errorf("dropped connection: no error")
	}
	if _, err := call(t, s, calls.GetFrameworks()); err != nil {
		t.Errorf("after the dropped call: %v", err)
	}
	m.SetLeader("10.0.1.11:5050")
	_, err = call(t, s, calls.GetFrameworks())
	if !apierrors.CodeNotLeader.Matches(err) {
		t.Errorf("non-leader: %v", err)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(srv.URL + "/master/state")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "//10.0.1.11:5050/master/state" {
		t.Errorf("redirect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	m.SetLeader("")
	if _, err := call(t, s, calls.GetFrameworks()); err != nil {
		t.Errorf("leading again: %v", err)
	}
}

func TestControlAPI(t *testing.T) {
	m := New(Options{Agents: 2})
	srv := httptest.NewServer(m.ControlHandler())
	defer srv.Close()
	do := func(method, path, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out := map[string]any{}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	code, fw := do("POST", "/frameworks", `{"name":"spark","role":"spark-role","principal":"spark"}`)
	if code != 201 || fw["id"] == "" {
		t.Fatalf("register: %d %v", code, fw)
	}
	agent := m.Agents()[0].ID
	if code, out := do("POST", "/reservations", `{"agent_id":"`+agent+`","role":"spark-role","principal":"spark","cpus":1,"mem":128}`); code != 201 {
		t.Fatalf("reserve: %d %v", code, out)
	}
	if code, out := do("POST", "/volumes", `{"agent_id":"`+agent+`","role":"spark-role","principal":"spark","size":100}`); code != 201 || out["persistence_id"] == "" {
		t.Fatalf("volume: %d %v", code, out)
	}
	if code, out := do("POST", "/reservations", `{"agent_id":"`+agent+`","role":"spark-role","cpus":100}`); code != 400 {
		t.Errorf("over-reserve: %d %v", code, out)
	}
	if _, out := do("GET", "/reservations?role=spark-role", ""); len(out["reservations"].([]any)) != 2 {
		t.Errorf("reservations: %v", out)
	}
	if _, out := do("GET", "/volumes", ""); len(out["volumes"].([]any)) != 1 {
		t.Errorf("volumes: %v", out)
	}
	if _, out := do("GET", "/agents", ""); len(out["agents"].([]any)) != 2 {
		t.Errorf("agents: %v", out)
	}
	if code, _ := do("DELETE", "/frameworks/"+fw["id"].(string), ""); code != 204 {
		t.Errorf("teardown: %d", code)
	}
	if code, _ := do("DELETE", "/frameworks/"+fw["id"].(string), ""); code != 404 {
		t.Errorf("teardown twice: %d", code)
	}
	if _, out := do("GET", "/frameworks", ""); len(out["frameworks"].([]any)) != 0 || len(out["completed_frameworks"].([]any)) != 1 {
		t.Errorf("frameworks: %v", out)
	}
	if code, _ := do("PUT", "/leader", `{"leader":"other:5050"}`); code != 204 {
		t.Errorf("leader: %d", code)
	}
}

func TestDeactivateKeepsFrameworkAndTasks(t *testing.T) {
	m := New(Options{})
	f, _ := seed(t, m, "kafka")
	if err := m.DeactivateFramework(f.ID); err != nil {
		t.Fatal(err)
	}
	fws := m.FrameworksByName("kafka")
	if len(fws) != 1 || fws[0].Active || fws[0].Connected || fws[0].UnregisteredTime.IsZero() {
		t.Fatalf("deactivated: %+v", fws)
	}
	if len(m.Tasks(f.ID)) != 2 {
		t.Errorf("tasks stopped with the scheduler")
	}
	if err := m.ReactivateFramework(f.ID, FrameworkInfo{Name: "kafka", Role: "kafka-role"}); err != nil {
		t.Fatal(err)
	}
	if fws := m.FrameworksByName("kafka"); !fws[0].Active || fws[0].ReregisteredTime.IsZero() {
		t.Errorf("reactivated: %+v", fws[0])
	}
	m.KillTasks(f.ID)
	if len(m.Tasks(f.ID)) != 0 {
		t.Errorf("tasks left after KillTasks")
	}
	for _, r := range m.Reservations("kafka-role") {
		if r.UsedBy != "" {
			t.Errorf("reservation still used: %+v", r)
		}
	}
}
