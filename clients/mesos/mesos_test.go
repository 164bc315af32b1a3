package mesos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/clients/dcosauth"
	"github.com/universe-operator/universe-operator/errs"
)

var ctx = context.Background()

type call struct {
	Path        string
	ContentType string
	Accept      string
	Auth        string
	Body        string
}

// fakeMaster is a scripted operator endpoint.
type fakeMaster struct {
	*httptest.Server
	mu    sync.Mutex
	calls []call
	fn    func(w http.ResponseWriter, typ string, body []byte)
}

func newMaster(t *testing.T, fn func(w http.ResponseWriter, typ string, body []byte)) *fakeMaster {
	m := &fakeMaster{fn: fn}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		m.mu.Lock()
		m.calls = append(m.calls, call{r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Accept"), r.Header.Get("Authorization"), string(b)})
		m.mu.Unlock()
		var c struct{ Type string }
		json.Unmarshal(b, &c)
		m.fn(w, c.Type, b)
	}))
	t.Cleanup(m.Close)
	return m
}

func (m *fakeMaster) last(t *testing.T) call {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.calls) == 0 {
		t.Fatal("no call")
	}
	return m.calls[len(m.calls)-1]
}

func jsonResp(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, body)
}

const frameworks = `{"type":"GET_FRAMEWORKS","get_frameworks":{"frameworks":[
 {"framework_info":{"user":"root","name":"kafka","id":{"value":"fw-1"},"role":"kafka-role","principal":"kafka-principal","webui_url":"http://kafka.marathon.mesos:1234/","hostname":"h1"},"active":true,"connected":true,"recovered":false},
 {"framework_info":{"user":"root","name":"hdfs","id":{"value":"fw-2"},"roles":["hdfs-role","slave_public"],"principal":"hdfs-principal"},"active":false,"connected":false,"recovered":false},
 {"framework_info":{"user":"root","name":"kafka","id":{"value":"fw-3"},"role":"kafka-role"},"active":true,"connected":true,"recovered":false}],
 "completed_frameworks":[{"framework_info":{"user":"root","name":"old","id":{"value":"fw-0"}},"active":false,"connected":false,"recovered":false}]}}`

func newClient(t *testing.T, url string, mod ...func(*Options)) *Client {
	t.Helper()
	o := Options{URL: url, Timeout: 5 * time.Second}
	for _, m := range mod {
		m(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFrameworksWireAndParse(t *testing.T) {
	m := newMaster(t, func(w http.ResponseWriter, typ string, _ []byte) { jsonResp(w, frameworks) })
	rt, _ := dcosauth.NewTransport(dcosauth.Config{Token: &dcosauth.StaticToken{Value: "tok"}})
	c := newClient(t, m.URL+"/mesos/", func(o *Options) { o.Transport = rt })
	fws, err := c.Frameworks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := m.last(t)
	if got.Path != "/mesos/api/v1" || got.ContentType != "application/json" || got.Accept != "application/json" || got.Auth != "token=tok" {
		t.Fatalf("call %+v", got)
	}
	if got.Body != `{"type":"GET_FRAMEWORKS"}` {
		t.Fatalf("body %s", got.Body)
	}
	if len(fws) != 3 {
		t.Fatalf("%d frameworks (completed ones must be left out)", len(fws))
	}
	k := fws[0]
	if k.ID != "fw-1" || k.Name != "kafka" || fmt.Sprint(k.Roles) != "[kafka-role]" || k.Principal != "kafka-principal" ||
		k.WebUIURL != "http://kafka.marathon.mesos:1234/" || k.Hostname != "h1" || !k.Active || !k.Connected {
		t.Fatalf("kafka %+v", k)
	}
	if h := fws[1]; fmt.Sprint(h.Roles) != "[hdfs-role slave_public]" || h.Active {
		t.Fatalf("hdfs %+v", h)
	}
	byName, err := c.FrameworksByName(ctx, "kafka")
	if err != nil || len(byName) != 2 || byName[1].ID != "fw-3" {
		t.Fatalf("by name %+v %v", byName, err)
	}
	none, err := c.FrameworksByName(ctx, "nope")
	if err != nil || len(none) != 0 {
		t.Fatalf("none %+v %v", none, err)
	}
}

func TestTeardownWire(t *testing.T) {
	m := newMaster(t, func(w http.ResponseWriter, typ string, _ []byte) { w.WriteHeader(200) })
	c := newClient(t, m.URL)
	if err := c.Teardown(ctx, "fw-1"); err != nil {
		t.Fatal(err)
	}
	if got := m.last(t); got.Path != "/api/v1" || got.Body != `{"type":"TEARDOWN","teardown":{"framework_id":{"value":"fw-1"}}}` {
		t.Fatalf("call %+v", got)
	}
	if err := c.Teardown(ctx, ""); !errs.IsPermanent(err) {
		t.Fatalf("empty id: %v", err)
	}
}

func TestTeardownUnknownFramework(t *testing.T) {
	m := newMaster(t, func(w http.ResponseWriter, typ string, _ []byte) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(400)
		io.WriteString(w, "No framework found with specified ID")
	})
	err := newClient(t, m.URL).Teardown(ctx, "fw-x")
	if !IsNotFound(err) || !errs.IsPermanent(err) || !strings.Contains(err.Error(), "TEARDOWN") || !strings.Contains(err.Error(), "No framework found") {
		t.Fatalf("err = %v", err)
	}
}

func TestErrorsClassified(t *testing.T) {
	cases := []struct {
		status int
		class  errs.Class
	}{{503, errs.ClassTransient}, {500, errs.ClassTransient}, {429, errs.ClassTransient}, {409, errs.ClassWaiting}, {400, errs.ClassPermanent}, {401, errs.ClassPermanent}, {403, errs.ClassPermanent}, {404, errs.ClassPermanent}}
	for _, tc := range cases {
		m := newMaster(t, func(w http.ResponseWriter, typ string, _ []byte) { w.WriteHeader(tc.status); io.WriteString(w, "why") })
		_, err := newClient(t, m.URL).Frameworks(ctx)
		var ae *APIError
		if errs.ClassOf(err) != tc.class || !errors.As(err, &ae) || ae.Status != tc.status || ae.Call != "GET_FRAMEWORKS" || ae.Body != "why" {
			t.Errorf("%d: err = %v (class %v)", tc.status, err, errs.ClassOf(err))
		}
	}
}

func TestUnreachableAndTimeout(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	_, err := newClient(t, "http://"+addr).Frameworks(ctx)
	if err == nil || errs.ClassOf(err) != errs.ClassTransient || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("refused: %v", err)
	}
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body) // lets the server notice the client going away
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release) // runs before slow.Close
	_, err = newClient(t, slow.URL, func(o *Options) { o.Timeout = 100 * time.Millisecond }).Frameworks(ctx)
	if err == nil || errs.ClassOf(err) != errs.ClassTransient || !strings.Contains(err.Error(), "no answer within") {
		t.Fatalf("timeout: %v", err)
	}
	drop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	}))
	defer drop.Close()
	if err := newClient(t, drop.URL).Teardown(ctx, "x"); err == nil || errs.ClassOf(err) != errs.ClassTransient {
		t.Fatalf("dropped: %v", err)
	}
}

func TestMalformedAndWrongContentType(t *testing.T) {
	bad := newMaster(t, func(w http.ResponseWriter, typ string, _ []byte) {
		jsonResp(w, `{"type":"GET_FRAMEWORKS","get_frameworks":`)
	})
	if _, err := newClient(t, bad.URL).Frameworks(ctx); err == nil || errs.ClassOf(err) != errs.ClassTransient || !strings.Contains(err.Error(), "malformed") {
		t.Fatalf("malformed: %v", err)
	}
	html := newMaster(t, func(w http.ResponseWriter, typ string, _ []byte) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html>")
	})
	if _, err := newClient(t, html.URL).Frameworks(ctx); err == nil || errs.ClassOf(err) != errs.ClassTransient || !strings.Contains(err.Error(), "unexpected") {
		t.Fatalf("html: %v", err)
	}
	missing := newMaster(t, func(w http.ResponseWriter, typ string, _ []byte) { jsonResp(w, `{"type":"GET_FRAMEWORKS"}`) })
	if _, err := newClient(t, missing.URL).Frameworks(ctx); err == nil || errs.ClassOf(err) != errs.ClassTransient {
		t.Fatalf("missing part: %v", err)
	}
}

func TestFollowsLeaderRedirectWithBodyAndAuth(t *testing.T) {
	leader := newMaster(t, func(w http.ResponseWriter, typ string, _ []byte) { w.WriteHeader(200) })
	leaderHostPort := strings.TrimPrefix(strings.Replace(leader.URL, "127.0.0.1", "localhost", 1), "http://")
	standby := newMaster(t, func(w http.ResponseWriter, typ string, _ []byte) {
		w.Header().Set("Location", "//"+leaderHostPort+"/api/v1") // as Mesos sends it
		w.WriteHeader(http.StatusTemporaryRedirect)
	})
	rt, _ := dcosauth.NewTransport(dcosauth.Config{Token: &dcosauth.StaticToken{Value: "tok"}})
	if err := newClient(t, standby.URL, func(o *Options) { o.Transport = rt }).Teardown(ctx, "fw-9"); err != nil {
		t.Fatal(err)
	}
	got := leader.last(t)
	if got.Auth != "token=tok" || got.Body != `{"type":"TEARDOWN","teardown":{"framework_id":{"value":"fw-9"}}}` {
		t.Fatalf("leader saw %+v", got)
	}
	// A redirect loop ends with the 307 reported.
	var loop *fakeMaster
	loop = newMaster(t, func(w http.ResponseWriter, typ string, _ []byte) {
		w.Header().Set("Location", loop.URL+"/api/v1")
		w.WriteHeader(http.StatusTemporaryRedirect)
	})
	err := newClient(t, loop.URL).Teardown(ctx, "x")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 307 || len(loop.calls) != maxRedirects+1 {
		t.Fatalf("loop: %v after %d calls", err, len(loop.calls))
	}
}

const agents = `{"type":"GET_AGENTS","get_agents":{"agents":[
 {"agent_info":{"hostname":"a2.host","id":{"value":"S2"}},"active":true,"version":"1.10.0","total_resources":[
   {"name":"cpus","type":"SCALAR","scalar":{"value":4}},
   {"name":"cpus","type":"SCALAR","scalar":{"value":1.5},"reservations":[{"type":"DYNAMIC","role":"kafka-role","principal":"kafka-principal","labels":{"labels":[{"key":"resource_id","value":"r1"}]}}]},
   {"name":"disk","type":"SCALAR","scalar":{"value":512},"reservations":[{"type":"DYNAMIC","role":"kafka-role","principal":"kafka-principal"}],
    "disk":{"persistence":{"id":"vol-1","principal":"kafka-principal"},"volume":{"container_path":"data","mode":"RW"}}},
   {"name":"ports","type":"RANGES","ranges":{"range":[{"begin":1025,"end":1030}]},"reservations":[{"type":"DYNAMIC","role":"kafka-role"}]},
   {"name":"mem","type":"SCALAR","scalar":{"value":256},"reservations":[{"type":"DYNAMIC","role":"other-role"}]}]},
 {"agent_info":{"hostname":"a1.host","id":{"value":"S1"}},"active":true,"version":"1.10.0","total_resources":[
   {"name":"mem","type":"SCALAR","scalar":{"value":1024},"role":"kafka-role","reservation":{"principal":"old-style"}}]},
 {"agent_info":{"hostname":"a3.host","id":{"value":"S3"}},"active":true,"version":"1.10.0","total_resources":[
   {"name":"cpus","type":"SCALAR","scalar":{"value":8}}]}]}}`

func TestReservedResources(t *testing.T) {
	m := newMaster(t, func(w http.ResponseWriter, typ string, _ []byte) { jsonResp(w, agents) })
	c := newClient(t, m.URL)
	res, err := c.ReservedResources(ctx, "kafka-role")
	if err != nil {
		t.Fatal(err)
	}
	if m.last(t).Body != `{"type":"GET_AGENTS"}` {
		t.Fatalf("body %s", m.last(t).Body)
	}
	if len(res) != 2 || res[0].AgentID != "S1" || res[1].AgentID != "S2" || res[1].Hostname != "a2.host" {
		t.Fatalf("agents %+v", res)
	}
	if r := res[0].Resources; len(r) != 1 || r[0].Name != "mem" || r[0].Scalar != 1024 || r[0].Role != "kafka-role" || r[0].Principal != "old-style" {
		t.Fatalf("old-format reservation %+v", r)
	}
	rs := res[1].Resources
	if len(rs) != 3 {
		t.Fatalf("S2 resources %+v", rs)
	}
	if rs[0].Name != "cpus" || rs[0].Scalar != 1.5 || rs[0].Type != "SCALAR" || rs[0].Labels["resource_id"] != "r1" || rs[0].IsVolume() {
		t.Fatalf("cpus %+v", rs[0])
	}
	if v := rs[1]; !v.IsVolume() || v.PersistenceID != "vol-1" || v.ContainerPath != "data" || v.Scalar != 512 {
		t.Fatalf("volume %+v", v)
	}
	if p := rs[2]; p.Type != "RANGES" || fmt.Sprint(p.Ranges) != "[[1025 1030]]" {
		t.Fatalf("ports %+v", p)
	}
	if vols := res[1].Volumes(); len(vols) != 1 || vols[0].PersistenceID != "vol-1" {
		t.Fatalf("volumes %+v", vols)
	}
	if _, err := c.ReservedResources(ctx, ""); !errs.IsPermanent(err) {
		t.Fatalf("empty role: %v", err)
	}
	none, err := c.ReservedResources(ctx, "nobody-role")
	if err != nil || len(none) != 0 {
		t.Fatalf("none: %+v %v", none, err)
	}
}

func TestDestroyVolumesAndUnreserveWire(t *testing.T) {
	var bodies []string
	var mu sync.Mutex
	m := newMaster(t, func(w http.ResponseWriter, typ string, b []byte) {
		switch typ {
		case "GET_AGENTS":
			jsonResp(w, agents)
		default:
			mu.Lock()
			bodies = append(bodies, string(b))
			mu.Unlock()
			w.WriteHeader(http.StatusAccepted)
		}
	})
	c := newClient(t, m.URL)
	res, err := c.ReservedResources(ctx, "kafka-role")
	if err != nil {
		t.Fatal(err)
	}
	s2 := res[1]
	if err := c.DestroyVolumes(ctx, s2.AgentID, s2.Volumes()); err != nil {
		t.Fatal(err)
	}
	if err := c.Unreserve(ctx, s2.AgentID, s2.Resources); err != nil {
		t.Fatal(err)
	}
	if len(bodies) != 2 {
		t.Fatalf("bodies %v", bodies)
	}
	var destroy struct {
		Type           string
		DestroyVolumes struct {
			AgentID struct{ Value string } `json:"agent_id"`
			Volumes []map[string]any
		} `json:"destroy_volumes"`
	}
	if err := json.Unmarshal([]byte(bodies[0]), &destroy); err != nil {
		t.Fatal(err)
	}
	if destroy.Type != "DESTROY_VOLUMES" || destroy.DestroyVolumes.AgentID.Value != "S2" || len(destroy.DestroyVolumes.Volumes) != 1 ||
		!strings.Contains(bodies[0], `"persistence":{"id":"vol-1","principal":"kafka-principal"}`) || !strings.Contains(bodies[0], `"container_path":"data"`) {
		t.Fatalf("destroy body %s", bodies[0])
	}
	var unreserve struct {
		Type               string
		UnreserveResources struct {
			AgentID   struct{ Value string } `json:"agent_id"`
			Resources []map[string]any
		} `json:"unreserve_resources"`
	}
	if err := json.Unmarshal([]byte(bodies[1]), &unreserve); err != nil {
		t.Fatal(err)
	}
	if unreserve.Type != "UNRESERVE_RESOURCES" || unreserve.UnreserveResources.AgentID.Value != "S2" || len(unreserve.UnreserveResources.Resources) != 3 {
		t.Fatalf("unreserve body %s", bodies[1])
	}
	if strings.Contains(bodies[1], "persistence") || strings.Contains(bodies[1], "container_path") {
		t.Fatalf("unreserve still carries the volume: %s", bodies[1])
	}
	if !strings.Contains(bodies[1], `"resource_id"`) || !strings.Contains(bodies[1], `"kafka-role"`) {
		t.Fatalf("unreserve lost the reservation: %s", bodies[1])
	}
	// Guards.
	if err := c.DestroyVolumes(ctx, "S2", s2.Resources[:1]); !errs.IsPermanent(err) {
		t.Fatalf("destroying a non-volume: %v", err)
	}
	if err := c.Unreserve(ctx, "", s2.Resources); !errs.IsPermanent(err) {
		t.Fatalf("empty agent: %v", err)
	}
	if err := c.Unreserve(ctx, "S2", nil); err != nil {
		t.Fatalf("nothing to unreserve: %v", err)
	}
	if len(bodies) != 2 {
		t.Fatal("guards sent requests")
	}
}

func TestRolesAndState(t *testing.T) {
	m := newMaster(t, func(w http.ResponseWriter, typ string, _ []byte) {
		switch typ {
		case "GET_ROLES":
			jsonResp(w, `{"type":"GET_ROLES","get_roles":{"roles":[{"name":"*","weight":1},{"name":"kafka-role","weight":1}]}}`)
		case "GET_STATE":
			jsonResp(w, `{"type":"GET_STATE","get_state":{"get_frameworks":{"frameworks":[]},"get_agents":{"agents":[]},"get_tasks":{},"get_executors":{}}}`)
		}
	})
	c := newClient(t, m.URL)
	roles, err := c.Roles(ctx)
	if err != nil || fmt.Sprint(roles) != "[* kafka-role]" {
		t.Fatalf("roles %v %v", roles, err)
	}
	st, err := c.State(ctx)
	if err != nil || st.GetFrameworks == nil {
		t.Fatalf("state %+v %v", st, err)
	}
}

func TestNewRejectsBadURL(t *testing.T) {
	for _, u := range []string{"", "leader.mesos:5050", "ftp://x"} {
		if _, err := New(Options{URL: u}); !errs.IsPermanent(err) {
			t.Errorf("%q: %v", u, err)
		}
	}
	c := newClient(t, "https://dcos.example.com/mesos/")
	if c.Endpoint() != "https://dcos.example.com/mesos/api/v1" {
		t.Fatalf("endpoint %s", c.Endpoint())
	}
}

func TestConcurrentCalls(t *testing.T) {
	m := newMaster(t, func(w http.ResponseWriter, typ string, _ []byte) { jsonResp(w, frameworks) })
	c := newClient(t, m.URL)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Frameworks(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()

}
