package sim

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	mesosv1 "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/codecs"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli/apierrors"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli/httpmaster"
	"github.com/mesos/mesos-go/api/v1/lib/master"
	"github.com/mesos/mesos-go/api/v1/lib/master/calls"

	"github.com/universe-operator/universe-operator/sim/auth"
	"github.com/universe-operator/universe-operator/sim/sdk"
)

// deadline is how long the tests wait for an end state.
const deadline = 20 * time.Second

// eventually polls cond every 10 ms until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// client sends raw HTTP to the cluster, optionally with a token.
type client struct {
	t     *testing.T
	base  string
	token string
}

// do sends a request and returns status, headers and body.
func (c *client) do(method, path string, body any) (int, http.Header, []byte) {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "token="+c.token)
	}
	noFollow := &http.Client{Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// mesosSender is mesos-go's operator client on the cluster's /mesos/api/v1.
func mesosSender(base, token string) calls.Sender {
	opts := []httpcli.Opt{httpcli.Endpoint(base + "/mesos/api/v1"), httpcli.Codec(codecs.ByMediaType[codecs.MediaTypeJSON]),
		httpcli.Do(httpcli.With(httpcli.Timeout(10 * time.Second)))}
	if token != "" {
		opts = append(opts, httpcli.DefaultHeader("Authorization", "token="+token))
	}
	return httpmaster.NewSender(httpcli.New(opts...).Send)
}

// mesosCall sends an operator call and decodes the response.
func mesosCall(s calls.Sender, c *master.Call) (*master.Response, error) {
	resp, err := s.Send(context.Background(), calls.NonStreaming(c))
	if resp != nil {
		defer resp.Close()
	}
	if err != nil || resp == nil {
		return nil, err
	}
	var r master.Response
	return &r, resp.Decode(&r)
}

// frameworksNamed returns the registered frameworks of a name via GET_FRAMEWORKS.
func frameworksNamed(t *testing.T, s calls.Sender, name string) []master.Response_GetFrameworks_Framework {
	t.Helper()
	r, err := mesosCall(s, calls.GetFrameworks())
	if err != nil {
		t.Fatalf("GET_FRAMEWORKS: %v", err)
	}
	var out []master.Response_GetFrameworks_Framework
	for _, f := range r.GetGetFrameworks().Frameworks {
		if f.FrameworkInfo.Name == name {
			out = append(out, f)
		}
	}
	return out
}

// roleResources returns, per agent, the resources reserved to role from GET_AGENTS.
func roleResources(t *testing.T, s calls.Sender, role string) map[string][]mesosv1.Resource {
	t.Helper()
	r, err := mesosCall(s, calls.GetAgents())
	if err != nil {
		t.Fatalf("GET_AGENTS: %v", err)
	}
	out := map[string][]mesosv1.Resource{}
	for _, a := range r.GetGetAgents().Agents {
		for _, res := range a.TotalResources {
			if n := len(res.Reservations); n > 0 && res.Reservations[n-1].GetRole() == role {
				out[a.AgentInfo.GetID().Value] = append(out[a.AgentInfo.GetID().Value], res)
			}
		}
	}
	return out
}

// appJSON is a minimal valid Marathon app.
func appJSON(id string, labels map[string]string, env map[string]string) map[string]any {
	app := map[string]any{"id": id, "cmd": "sleep 100000", "cpus": 0.1, "mem": 32, "instances": 1, "labels": labels}
	if env != nil {
		app["env"] = env
	}
	return app
}

func TestMarathonThroughAdminRouterPaths(t *testing.T) {
	s := NewServer(FastOptions())
	defer s.Close()
	c := &client{t: t, base: s.URL}
	for _, prefix := range []string{"/service/marathon", "/marathon"} {
		code, _, body := c.do("GET", prefix+"/v2/info", nil)
		if code != 200 || !strings.Contains(string(body), `"version"`) {
			t.Errorf("%s/v2/info: %d %s", prefix, code, body)
		}
		if code, _, body := c.do("GET", prefix+"/ping", nil); code != 200 || !strings.Contains(string(body), "pong") {
			t.Errorf("%s/ping: %d %s", prefix, code, body)
		}
		if code, h, _ := c.do("GET", prefix, nil); code != http.StatusTemporaryRedirect || h.Get("Location") != prefix+"/" {
			t.Errorf("%s: %d %q", prefix, code, h.Get("Location"))
		}
	}
	// The event stream flushes through the mount point.
	req, _ := http.NewRequest("GET", s.URL+"/service/marathon/v2/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	resp.Body.Close()
	if err != nil || !strings.HasPrefix(line, "event: event_stream_attached") {
		t.Errorf("event stream: %q %v", line, err)
	}
	// A dropped connection (hijacked through the Location rewriter) is an error for the client.
	c.do("POST", "/simulator/v1/faults/marathon", map[string]any{"rules": []map[string]any{{"drop": true, "count": 1}}})
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}} // no retry on a reused connection
	if resp, err := fresh.Get(s.URL + "/service/marathon/v2/info"); err == nil {
		resp.Body.Close()
		t.Errorf("dropped connection answered %d", resp.StatusCode)
	}

	code, h, body := c.do("POST", "/service/marathon/v2/apps", appJSON("/web", map[string]string{"DCOS_SERVICE_NAME": "web"}, nil))
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	if loc := h.Get("Location"); !strings.HasSuffix(loc, "/service/marathon/web") { // Marathon answers http://<host>/<app id>
		t.Errorf("Location %q not re-prefixed", loc)
	}
	code, _, body = c.do("GET", "/marathon/v2/apps/web", nil)
	if code != 200 || !strings.Contains(string(body), `"/web"`) {
		t.Fatalf("get via /marathon: %d %s", code, body)
	}
	// The app's service page appears at /service/web/ once it runs.
	eventually(t, "service page of /web", func() bool {
		code, _, _ := c.do("GET", "/service/web/", nil)
		return code == 200
	})
	if code, h, _ := c.do("GET", "/service/web", nil); code != http.StatusTemporaryRedirect || h.Get("Location") != "/service/web/" {
		t.Errorf("/service/web: %d %v", code, h)
	}
	if code, _, _ := c.do("GET", "/service/nothing/", nil); code != 404 {
		t.Errorf("unknown service: %d", code)
	}
	if code, _, _ := c.do("DELETE", "/service/marathon/v2/apps/web", nil); code != 200 {
		t.Errorf("delete: %d", code)
	}
	eventually(t, "service page gone", func() bool {
		code, _, _ := c.do("GET", "/service/web/", nil)
		return code == 404
	})
}

func TestPlainFrameworkLifecycleAndJanitor(t *testing.T) {
	s := NewServer(FastOptions())
	defer s.Close()
	c := &client{t: t, base: s.URL}
	ms := mesosSender(s.URL, "")
	labels := map[string]string{"DCOS_PACKAGE_NAME": "kafka", "DCOS_PACKAGE_FRAMEWORK_NAME": "prod/kafka", "DCOS_SERVICE_NAME": "prod/kafka"}
	if code, _, body := c.do("POST", "/service/marathon/v2/apps", appJSON("/prod/kafka", labels, nil)); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	eventually(t, "framework prod/kafka registered", func() bool { return len(frameworksNamed(t, ms, "prod/kafka")) == 1 })
	fw := frameworksNamed(t, ms, "prod/kafka")[0]
	info := fw.FrameworkInfo
	if info.GetRole() != "prod__kafka-role" || info.GetPrincipal() != "prod/kafka-principal" ||
		!strings.HasPrefix(info.GetWebUiURL(), "http://prod__kafka.marathon.mesos:") || !fw.Active {
		t.Fatalf("framework: %+v", info)
	}
	role := "prod__kafka-role"
	byAgent := roleResources(t, ms, role)
	if len(byAgent) != 3 {
		t.Fatalf("reserved on %d agents", len(byAgent))
	}
	for agent, rs := range byAgent {
		vols := 0
		for _, r := range rs {
			if r.GetDisk().GetPersistence() != nil {
				vols++
			}
		}
		if len(rs) != 3 || vols != 1 {
			t.Errorf("agent %s: %d resources, %d volumes", agent, len(rs), vols)
		}
	}
	if _, ok, _ := s.ZooKeeper.Get("/dcos-service-prod__kafka"); !ok {
		t.Errorf("no znode for prod/kafka")
	}
	// The framework's service page is reachable.
	if code, _, _ := c.do("GET", "/service/prod/kafka/", nil); code != 200 {
		t.Errorf("service page: %d", code)
	}

	// Deleting the app leaves the framework registered but inactive.
	if code, _, _ := c.do("DELETE", "/marathon/v2/apps/prod/kafka", nil); code != 200 {
		t.Fatalf("delete app")
	}
	eventually(t, "framework inactive", func() bool {
		fws := frameworksNamed(t, ms, "prod/kafka")
		return len(fws) == 1 && !fws[0].Active
	})
	// Cosmos' teardown: through mesos-go's operator client.
	if _, err := mesosCall(ms, calls.Teardown(mesosv1.FrameworkID{Value: info.GetID().Value})); err != nil {
		t.Fatalf("teardown: %v", err)
	}
	if n := len(frameworksNamed(t, ms, "prod/kafka")); n != 0 {
		t.Fatalf("%d frameworks after teardown", n)
	}
	// What the janitor must clean is still there.
	byAgent = roleResources(t, ms, role)
	if len(byAgent) != 3 {
		t.Fatalf("reservations gone with the teardown: %v", byAgent)
	}
	for agent, rs := range byAgent {
		var vols []mesosv1.Resource
		for _, r := range rs {
			if r.GetDisk().GetPersistence() != nil {
				vols = append(vols, r)
			}
		}
		if _, err := mesosCall(ms, calls.DestroyVolumes(mesosv1.AgentID{Value: agent}, vols...)); err != nil {
			t.Fatalf("destroy volumes on %s: %v", agent, err)
		}
	}
	for agent, rs := range roleResources(t, ms, role) {
		if _, err := mesosCall(ms, calls.UnreserveResources(mesosv1.AgentID{Value: agent}, rs...)); err != nil {
			t.Fatalf("unreserve on %s: %v", agent, err)
		}
	}
	if left := roleResources(t, ms, role); len(left) != 0 {
		t.Errorf("left after janitor: %v", left)
	}
	// The znode stays until the janitor deletes it (here through the control API).
	code, _, body := c.do("GET", "/simulator/v1/zookeeper/znodes", nil)
	if code != 200 || !strings.Contains(string(body), "/dcos-service-prod__kafka") {
		t.Fatalf("znodes: %d %s", code, body)
	}
	if code, _, _ := c.do("GET", "/simulator/v1/zookeeper/znodes/dcos-service-prod__kafka/FrameworkID", nil); code != 200 {
		t.Errorf("znode detail: %d", code)
	}
	if code, _, _ := c.do("DELETE", "/simulator/v1/zookeeper/znodes/dcos-service-prod__kafka", nil); code != 204 {
		t.Errorf("delete znode: %d", code)
	}
	st := s.State()
	if len(st.ZNodes) != 0 || len(st.Reservations) != 0 || len(st.Volumes) != 0 || len(st.Frameworks) != 0 || len(st.Apps) != 0 {
		t.Errorf("state not clean: %+v", st)
	}
}

func TestSDKUninstallEndToEnd(t *testing.T) {
	opts := FastOptions()
	opts.SDK.UninstallStepDuration = 300 * time.Millisecond
	s := NewServer(opts)
	defer s.Close()
	c := &client{t: t, base: s.URL}
	ms := mesosSender(s.URL, "")
	labels := map[string]string{"DCOS_PACKAGE_NAME": "hello-world", "DCOS_PACKAGE_FRAMEWORK_NAME": "hello-world",
		"DCOS_SERVICE_NAME": "hello-world", "DCOS_COMMONS_API_VERSION": "v1", "DCOS_COMMONS_UNINSTALL": "true"}
	if code, _, body := c.do("POST", "/service/marathon/v2/apps", appJSON("/hello-world", labels, map[string]string{"FRAMEWORK_NAME": "hello-world"})); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	plan := func() (int, map[string]any) {
		code, _, body := c.do("GET", "/service/hello-world/v1/plans/deploy", nil)
		out := map[string]any{}
		_ = json.Unmarshal(body, &out)
		return code, out
	}
	eventually(t, "deploy plan complete", func() bool { code, _ := plan(); return code == 200 })
	role := "hello-world-role"
	if n := len(frameworksNamed(t, ms, "hello-world")); n != 1 {
		t.Fatalf("%d frameworks", n)
	}
	if n := len(roleResources(t, ms, role)); n != 3 {
		t.Fatalf("reserved on %d agents", n)
	}
	if _, ok, _ := s.ZooKeeper.Get("/dcos-service-hello-world"); !ok {
		t.Fatalf("no znode")
	}

	// Cosmos' SDK uninstall: PUT the raw app with SDK_UNINSTALL=true, force.
	code, _, body := c.do("GET", "/service/marathon/v2/apps/hello-world", nil)
	if code != 200 {
		t.Fatalf("get app: %d", code)
	}
	var got struct {
		App map[string]any `json:"app"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	app := got.App
	env, _ := app["env"].(map[string]any)
	if env == nil {
		env = map[string]any{}
	}
	env["SDK_UNINSTALL"] = "true"
	app["env"] = env
	for _, k := range []string{"uris", "version", "versionInfo", "tasks", "tasksRunning", "tasksStaged", "tasksHealthy",
		"tasksUnhealthy", "deployments", "lastTaskFailure", "readinessCheckResults"} {
		delete(app, k)
	}
	if code, _, body := c.do("PUT", "/service/marathon/v2/apps/hello-world?force=true", app); code != 200 && code != 201 {
		t.Fatalf("put: %d %s", code, body)
	}
	sawInProgress := false
	eventually(t, "uninstall plan complete", func() bool {
		code, p := plan()
		if code == http.StatusAccepted && p["status"] != "COMPLETE" {
			sawInProgress = true
		}
		sc := s.SDK.Scheduler("hello-world")
		return code == 200 && sc != nil && sc.Uninstalling()
	})
	if !sawInProgress {
		t.Errorf("never saw the uninstall plan in progress (202)")
	}
	_, p := plan()
	if phases := p["phases"].([]any); len(phases) != 5 || phases[4].(map[string]any)["name"] != "deregister-service" {
		t.Errorf("uninstall plan: %v", p)
	}
	if n := len(frameworksNamed(t, ms, "hello-world")); n != 0 {
		t.Errorf("%d frameworks after uninstall", n)
	}
	if left := roleResources(t, ms, role); len(left) != 0 {
		t.Errorf("reservations left: %v", left)
	}
	if _, ok, _ := s.ZooKeeper.Get("/dcos-service-hello-world"); ok {
		t.Errorf("znode left")
	}
	// Cosmos then deletes the app; the scheduler and its routes go away.
	if code, _, _ := c.do("DELETE", "/service/marathon/v2/apps/hello-world", nil); code != 200 {
		t.Fatalf("delete")
	}
	eventually(t, "scheduler gone", func() bool {
		code, _ := plan()
		return code == 404
	})
}

func TestAuth(t *testing.T) {
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	opts := FastOptions()
	opts.Auth = auth.Options{Enabled: true, ServiceAccounts: []auth.ServiceAccount{{UID: "uo", PublicKey: &saKey.PublicKey}}}
	s := NewServer(opts)
	defer s.Close()
	anon := &client{t: t, base: s.URL}

	// An SDK service to reach at /service/<name>/.
	s.SDK.Run(sdk.Spec{Name: "sdk-svc", Version: "1"})
	protected := []string{"/service/marathon/v2/apps", "/marathon/v2/info", "/mesos/master/state", "/service/sdk-svc/v1/plans/deploy"}
	for _, p := range protected {
		code, h, _ := anon.do("GET", p, nil)
		if code != 401 || h.Get("WWW-Authenticate") != "acsjwt" {
			t.Errorf("%s without token: %d %v", p, code, h)
		}
	}
	if _, err := mesosCall(mesosSender(s.URL, ""), calls.GetFrameworks()); !apierrors.CodeNotAuthenticated.Matches(err) {
		t.Errorf("mesos-go without token: %v", err)
	}
	// Login and control API are not behind auth.
	if code, _, _ := anon.do("GET", "/simulator/v1/state", nil); code != 200 {
		t.Errorf("control API: %d", code)
	}
	login := func(key *rsa.PrivateKey, exp time.Time) (int, string) {
		lt, err := auth.ServiceLoginToken("uo", key, exp)
		if err != nil {
			t.Fatal(err)
		}
		code, _, body := anon.do("POST", auth.LoginPath, map[string]string{"uid": "uo", "token": lt})
		var out map[string]string
		_ = json.Unmarshal(body, &out)
		return code, out["token"]
	}
	if code, _ := login(otherKey, time.Now().Add(time.Minute)); code != 401 {
		t.Errorf("login with the wrong key: %d", code)
	}
	code, token := login(saKey, time.Now().Add(time.Minute))
	if code != 200 || token == "" {
		t.Fatalf("login: %d", code)
	}
	authed := &client{t: t, base: s.URL, token: token}
	for _, p := range protected {
		if code, _, body := authed.do("GET", p, nil); code != 200 && code != 202 {
			t.Errorf("%s with token: %d %s", p, code, body)
		}
	}
	if _, err := mesosCall(mesosSender(s.URL, token), calls.GetFrameworks()); err != nil {
		t.Errorf("mesos-go with token: %v", err)
	}
	// An expired token is refused.
	code, _, body := anon.do("POST", "/simulator/v1/auth/tokens", map[string]any{"uid": "uo", "ttlSeconds": -1})
	var tok map[string]string
	_ = json.Unmarshal(body, &tok)
	if code != 200 {
		t.Fatalf("token: %d", code)
	}
	expired := &client{t: t, base: s.URL, token: tok["token"]}
	if code, _, _ := expired.do("GET", "/service/marathon/v2/apps", nil); code != 401 {
		t.Errorf("expired token: %d", code)
	}
	// Switching auth off through the control API.
	if code, _, _ := anon.do("PATCH", "/simulator/v1/auth/", map[string]any{"enabled": false}); code != 204 {
		t.Errorf("auth off: %d", code)
	}
	if code, _, _ := anon.do("GET", "/service/marathon/v2/apps", nil); code != 200 {
		t.Errorf("auth off: %d", code)
	}
}

func TestMesosDownIsOneControlCall(t *testing.T) {
	s := NewServer(FastOptions())
	defer s.Close()
	c := &client{t: t, base: s.URL}
	ms := mesosSender(s.URL, "")
	if code, _, _ := c.do("POST", "/simulator/v1/faults/mesos", map[string]any{"rules": []map[string]any{{"status": 503}}}); code != 204 {
		t.Fatalf("fault: %d", code)
	}
	_, err := mesosCall(ms, calls.GetFrameworks())
	var apiErr *apierrors.Error
	if !errors.As(err, &apiErr) || !apiErr.Temporary() {
		t.Errorf("mesos down: %v", err)
	}
	if code, _, _ := c.do("GET", "/mesos/master/state", nil); code != 503 {
		t.Errorf("legacy endpoint while down: %d", code)
	}
	// Marathon is unaffected.
	if code, _, _ := c.do("GET", "/service/marathon/v2/info", nil); code != 200 {
		t.Errorf("marathon: %d", code)
	}
	if code, _, _ := c.do("DELETE", "/simulator/v1/faults/mesos", nil); code != 204 {
		t.Fatalf("clear: %d", code)
	}
	if _, err := mesosCall(ms, calls.GetFrameworks()); err != nil {
		t.Errorf("after clearing: %v", err)
	}
	// Dropped connections.
	c.do("POST", "/simulator/v1/faults/mesos", map[string]any{"rules": []map[string]any{{"drop": true, "count": 1}}})
	if _, err := mesosCall(ms, calls.GetFrameworks()); err == nil {
		t.Errorf("dropped: no error")
	}
	// SDK and Marathon faults are mounted too.
	for _, comp := range []string{"marathon", "sdk"} {
		if code, _, _ := c.do("GET", "/simulator/v1/faults/"+comp, nil); code != 200 {
			t.Errorf("faults/%s: %d", comp, code)
		}
	}
}

func TestControlAPIAndState(t *testing.T) {
	s := NewServer(FastOptions())
	defer s.Close()
	c := &client{t: t, base: s.URL}
	code, _, body := c.do("POST", "/simulator/v1/mesos/frameworks", map[string]any{"name": "manual", "role": "manual-role"})
	if code != 201 {
		t.Fatalf("register: %d %s", code, body)
	}
	if code, _, _ := c.do("POST", "/simulator/v1/zookeeper/znodes", map[string]string{"path": "/dcos-service-manual/x", "data": "y"}); code != 201 {
		t.Errorf("create znode: %d", code)
	}
	code, _, body = c.do("GET", "/simulator/v1/state", nil)
	var st State
	if err := json.Unmarshal(body, &st); err != nil || code != 200 {
		t.Fatalf("state: %d %v", code, err)
	}
	if len(st.Agents) != 3 || len(st.Frameworks) != 1 || st.Frameworks[0].Name != "manual" ||
		len(st.ZNodes) != 1 || st.ZNodes[0] != "/dcos-service-manual" || st.MarathonLeader == "" {
		t.Errorf("state: %+v", st)
	}
	if code, _, _ := c.do("GET", "/simulator/v1/marathon/", nil); code != 200 {
		t.Errorf("marathon control: %d", code)
	}
	if code, _, _ := c.do("GET", "/simulator/v1/mesos/agents", nil); code != 200 {
		t.Errorf("mesos control: %d", code)
	}
	if code, _, _ := c.do("GET", "/simulator/v1/sdk", nil); code != 200 {
		t.Errorf("sdk control: %d", code)
	}
	if code, _, _ := c.do("GET", "/simulator/v1/nope", nil); code != 404 {
		t.Errorf("unknown control path: %d", code)
	}
	if code, _, body := c.do("GET", "/dcos-metadata/dcos-version.json", nil); code != 200 || !strings.Contains(string(body), "2.2.0") {
		t.Errorf("dcos version: %d %s", code, body)
	}
}

func TestMemZooKeeper(t *testing.T) {
	testZooKeeper(t, NewMemZooKeeper())
}

// testZooKeeper checks a ZooKeeper implementation.
func testZooKeeper(t *testing.T, z ZooKeeper) {
	t.Helper()
	if err := z.Create("/dcos-service-a/Tasks/t1", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := z.Create("/dcos-service-a/FrameworkID", []byte("id")); err != nil {
		t.Fatal(err)
	}
	if err := z.Create("/dcos-service-a/FrameworkID", []byte("id2")); err != nil {
		t.Fatalf("overwrite: %v", err)
	}
	if d, ok, err := z.Get("/dcos-service-a/FrameworkID"); err != nil || !ok || string(d) != "id2" {
		t.Errorf("get: %q %v %v", d, ok, err)
	}
	if ch, err := z.Children("/dcos-service-a"); err != nil || fmt.Sprint(ch) != "[FrameworkID Tasks]" {
		t.Errorf("children: %v %v", ch, err)
	}
	if _, ok, _ := z.Get("/dcos-service-a/Tasks"); !ok {
		t.Errorf("parent not created")
	}
	if err := z.DeleteAll("/dcos-service-a"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := z.Get("/dcos-service-a/Tasks/t1"); ok {
		t.Errorf("child survived DeleteAll")
	}
	if ch, err := z.Children("/dcos-service-a"); err != nil || ch != nil {
		t.Errorf("children of deleted: %v %v", ch, err)
	}
	if err := z.DeleteAll("/dcos-service-a"); err != nil {
		t.Errorf("deleting twice: %v", err)
	}
	if err := z.Create("relative", nil); err == nil {
		t.Errorf("relative path accepted")
	}
	if err := z.DeleteAll("/"); err == nil {
		t.Errorf("deleting / accepted")
	}
}
