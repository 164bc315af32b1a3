package uninstall

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/universe-operator/universe-operator/clients/zookeeper"
	"github.com/universe-operator/universe-operator/errs"
	simsdk "github.com/universe-operator/universe-operator/sim/sdk"
)

func TestNamingRules(t *testing.T) {
	for _, tc := range []struct {
		service, escaped, role, principal, znode string
	}{
		{"kafka", "kafka", "kafka-role", "kafka-principal", "/dcos-service-kafka"},
		{"/kafka", "kafka", "kafka-role", "kafka-principal", "/dcos-service-kafka"},
		{"/prod/kafka", "prod__kafka", "prod__kafka-role", "prod/kafka-principal", "/dcos-service-prod__kafka"},
		{"prod/kafka", "prod__kafka", "prod__kafka-role", "prod/kafka-principal", "/dcos-service-prod__kafka"},
		{"/a/b/c-d", "a__b__c-d", "a__b__c-d-role", "a/b/c-d-principal", "/dcos-service-a__b__c-d"},
		{"hdfs.prod", "hdfs.prod", "hdfs.prod-role", "hdfs.prod-principal", "/dcos-service-hdfs.prod"},
	} {
		t.Run(tc.service, func(t *testing.T) {
			if got := EscapeName(tc.service); got != tc.escaped {
				t.Errorf("EscapeName = %q, want %q", got, tc.escaped)
			}
			if got := Role(tc.service); got != tc.role {
				t.Errorf("Role = %q, want %q", got, tc.role)
			}
			if got := Principal(tc.service); got != tc.principal {
				t.Errorf("Principal = %q, want %q", got, tc.principal)
			}
			if got := ZNode(tc.service); got != tc.znode {
				t.Errorf("ZNode = %q, want %q", got, tc.znode)
			}
			// The same rules as the simulated SDK schedulers and the
			// ZooKeeper client's helper, so all three agree on a cluster.
			if simsdk.Role(tc.service) != tc.role || simsdk.ZNode(tc.service) != tc.znode || simsdk.Principal(tc.service) != tc.principal {
				t.Errorf("sim/sdk disagrees: %s %s %s", simsdk.Role(tc.service), simsdk.ZNode(tc.service), simsdk.Principal(tc.service))
			}
			if zookeeper.ServiceNodePath(tc.service) != tc.znode {
				t.Errorf("zookeeper.ServiceNodePath = %s", zookeeper.ServiceNodePath(tc.service))
			}
		})
	}
}

// app builds a raw app with labels and env for the table tests.
func app(id string, labels, env map[string]string) json.RawMessage {
	a := map[string]any{"id": id, "cmd": "sleep 1000", "instances": 1}
	if labels != nil {
		a["labels"] = labels
	}
	if env != nil {
		a["env"] = env
	}
	b, _ := json.Marshal(a)
	return b
}

func names(t *testing.T, s Spec) string {
	t.Helper()
	var out []string
	for _, st := range s.Steps() {
		n := st.Name
		if st.State == StepSkipped {
			n += "(skipped)"
		}
		out = append(out, n)
	}
	return strings.Join(out, " ")
}

func TestNewSpecTable(t *testing.T) {
	sdkDef := renderApp(t, "sdk-test", `{"service":{"name":"prod/kafka"}}`, "kafka-prod")
	fwDef := renderApp(t, "fw-test", `{"framework":{"name":"hello"}}`, "hello")
	webDef := renderApp(t, "web-test", "", "web")
	for _, tc := range []struct {
		name     string
		req      Request
		steps    string
		janitor  bool
		kind     string
		service  string
		role     string
		princ    string
		znode    string
		apiVer   string
		sched    string
		notes    string
		problems int
	}{
		{name: "sdk package, janitor by default (framework: true)",
			req:   Request{Release: "kafka-prod", App: sdkDef},
			steps: "sdk-uninstall sdk-uninstall-plan delete-app destroy-volumes unreserve delete-znode", janitor: true,
			kind: KindSDK, service: "prod/kafka", role: "prod__kafka-role", princ: "prod/kafka-principal",
			znode: "/dcos-service-prod__kafka", apiVer: "v1", sched: "prod/kafka",
			notes: "sdk-test was uninstalled; its scheduler removed its reservations and ZooKeeper state."},
		{name: "sdk package, janitor off in the release",
			req:   Request{Release: "kafka-prod", App: sdkDef, Janitor: boolp(false)},
			steps: "sdk-uninstall sdk-uninstall-plan delete-app destroy-volumes(skipped) unreserve(skipped) delete-znode(skipped)",
			kind:  KindSDK, service: "prod/kafka", role: "prod__kafka-role", princ: "prod/kafka-principal",
			znode: "/dcos-service-prod__kafka", apiVer: "v1", sched: "prod/kafka",
			notes: "sdk-test was uninstalled; its scheduler removed its reservations and ZooKeeper state."},
		{name: "sdk package with a principal option and API v2",
			req: Request{Release: "x", App: app("/dev/cassandra", map[string]string{
				LabelSDK: "true", LabelSDKAPIVersion: "v2", LabelServiceName: "dev/cassandra", LabelFrameworkName: "dev/cassandra"},
				map[string]string{EnvFrameworkPrincipal: "cassandra-sa"}), Janitor: boolp(true)},
			steps: "sdk-uninstall sdk-uninstall-plan delete-app destroy-volumes unreserve delete-znode", janitor: true,
			kind: KindSDK, service: "dev/cassandra", role: "dev__cassandra-role", princ: "cassandra-sa",
			znode: "/dcos-service-dev__cassandra", apiVer: "v2", sched: "dev/cassandra"},
		{name: "sdk app without service or framework name: the app id names it",
			req: Request{Release: "x", App: app("/team/svc", map[string]string{LabelSDK: "true"}, nil),
				Framework: boolp(true), PostUninstallNotes: "from the source"},
			steps: "sdk-uninstall sdk-uninstall-plan delete-app destroy-volumes unreserve delete-znode", janitor: true,
			kind: KindSDK, service: "team/svc", role: "team__svc-role", princ: "team/svc-principal",
			znode: "/dcos-service-team__svc", apiVer: "v1", sched: "team/svc", notes: "from the source"},
		{name: "plain framework package, janitor by default",
			req:   Request{Release: "hello", App: fwDef},
			steps: "delete-app teardown-framework destroy-volumes unreserve delete-znode", janitor: true,
			kind: KindMarathon, service: "hello", role: "hello-role", princ: "hello-principal", znode: "/dcos-service-hello",
			notes: "fw-test leaves reserved resources behind; run the janitor for role <name>-role."},
		{name: "plain framework, nested name, no definition label, source says framework",
			req: Request{Release: "x", App: app("/prod/spark", map[string]string{LabelFrameworkName: "prod/spark"}, nil),
				Framework: boolp(true)},
			steps: "delete-app teardown-framework destroy-volumes unreserve delete-znode", janitor: true,
			kind: KindMarathon, service: "prod/spark", role: "prod__spark-role", princ: "prod/spark-principal", znode: "/dcos-service-prod__spark"},
		{name: "plain framework, definition unknown: janitor off by default",
			req:   Request{Release: "x", App: app("/spark", map[string]string{LabelFrameworkName: "spark"}, nil)},
			steps: "delete-app teardown-framework destroy-volumes(skipped) unreserve(skipped) delete-znode(skipped)",
			kind:  KindMarathon, service: "spark", role: "spark-role", princ: "spark-principal", znode: "/dcos-service-spark"},
		{name: "plain framework, janitor off in the release",
			req:   Request{Release: "hello", App: fwDef, Janitor: boolp(false)},
			steps: "delete-app teardown-framework destroy-volumes(skipped) unreserve(skipped) delete-znode(skipped)",
			kind:  KindMarathon, service: "hello", role: "hello-role", princ: "hello-principal", znode: "/dcos-service-hello",
			notes: "fw-test leaves reserved resources behind; run the janitor for role <name>-role."},
		{name: "plain app: delete only",
			req:   Request{Release: "web", App: webDef},
			steps: "delete-app", kind: KindMarathon, notes: "web-test is gone."},
		{name: "plain app, janitor asked but no service name: nothing to clean",
			req:   Request{Release: "web", App: webDef, Janitor: boolp(true)},
			steps: "delete-app", janitor: true, kind: KindMarathon, notes: "web-test is gone."},
		{name: "app with DCOS_SERVICE_NAME but no framework: janitor by release",
			req:   Request{Release: "x", App: app("/ui", map[string]string{LabelServiceName: "ui"}, nil), Janitor: boolp(true)},
			steps: "delete-app destroy-volumes unreserve delete-znode", janitor: true,
			kind: KindMarathon, service: "ui", role: "ui-role", princ: "ui-principal", znode: "/dcos-service-ui"},
		{name: "unreadable definition label: reported, source flag used",
			req: Request{Release: "x", App: app("/fw", map[string]string{LabelFrameworkName: "fw", LabelDefinition: "%%%"}, nil),
				Framework: boolp(false)},
			steps: "delete-app teardown-framework destroy-volumes(skipped) unreserve(skipped) delete-znode(skipped)",
			kind:  KindMarathon, service: "fw", role: "fw-role", princ: "fw-principal", znode: "/dcos-service-fw", problems: 1},
		{name: "app id without a leading slash, from the request",
			req:   Request{Release: "x", AppID: "plain", App: nil},
			steps: "delete-app", kind: KindMarathon},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSpec(tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(t, s); got != tc.steps {
				t.Errorf("steps = %s\nwant    %s", got, tc.steps)
			}
			if s.Janitor != tc.janitor || s.Kind() != tc.kind || s.Service != tc.service || s.Role != tc.role ||
				s.Principal != tc.princ || s.ZNode != tc.znode || s.APIVersion != tc.apiVer || s.SchedulerName != tc.sched {
				t.Errorf("spec = %+v", s)
			}
			if s.PostUninstallNotes != tc.notes {
				t.Errorf("notes = %q, want %q", s.PostUninstallNotes, tc.notes)
			}
			if len(s.Problems) != tc.problems {
				t.Errorf("problems = %v", s.Problems)
			}
			if !strings.HasPrefix(s.AppID, "/") {
				t.Errorf("app id %q", s.AppID)
			}
		})
	}
}

func TestNewSpecErrors(t *testing.T) {
	for _, raw := range []string{`[1]`, `{"id": 3}`, `not json`} {
		if _, err := NewSpec(Request{Release: "x", AppID: "/a", App: json.RawMessage(raw)}); !errs.IsPermanent(err) {
			t.Errorf("%s: err = %v, want permanent", raw, err)
		}
	}
	if _, err := NewSpec(Request{Release: "x"}); !errs.IsPermanent(err) {
		t.Errorf("no app id: %v", err)
	}
	steps := Plan(json.RawMessage(`"x"`), nil)
	if len(steps) != 1 || steps[0].State != StepFailed || !strings.Contains(steps[0].Message, "app JSON") {
		t.Errorf("Plan of a broken app = %+v", steps)
	}
}

// TestPlanGolden pins exactly what `diff` shows for the test packages.
func TestPlanGolden(t *testing.T) {
	for _, tc := range []struct {
		file    string
		app     json.RawMessage
		janitor *bool
	}{
		{"plan/sdk-prod-kafka.json", renderApp(t, "sdk-test", `{"service":{"name":"prod/kafka"}}`, "kafka-prod"), nil},
		{"plan/sdk-no-janitor.json", renderApp(t, "sdk-test", "", "sdk"), boolp(false)},
		{"plan/framework.json", renderApp(t, "fw-test", "", "fw"), nil},
		{"plan/web.json", renderApp(t, "web-test", "", "web"), nil},
	} {
		t.Run(tc.file, func(t *testing.T) {
			steps := Plan(tc.app, tc.janitor)
			b, err := json.MarshalIndent(steps, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.file, append(b, '\n'))
			m := &Manager{}
			if got, _ := json.Marshal(m.Plan(tc.app, tc.janitor)); !bytes.Equal(got, mustCompact(t, b)) {
				t.Errorf("Manager.Plan differs from Plan")
			}
		})
	}
}

func mustCompact(t *testing.T, b []byte) []byte {
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestSDKUninstallBody(t *testing.T) {
	in := `{"id":"/prod/kafka","cmd":"x","env":{"B":"1","SECRET":{"secret":"s1"},"A":"2"},` +
		`"uris":["http://x"],"fetch":[{"uri":"http://x"}],"version":"2024-01-01T00:00:00.000Z",` +
		`"versionInfo":{"lastScalingAt":"x"},"tasksRunning":1,"tasksStaged":0,"tasksHealthy":1,"tasksUnhealthy":0,` +
		`"deployments":[{"id":"d1"}],"tasks":[],"lastTaskFailure":{"message":"m"},"labels":{"L":"v"},"cpus":1.50}`
	got, err := sdkUninstallBody(json.RawMessage(in))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"/prod/kafka","cmd":"x","env":{"B":"1","SECRET":{"secret":"s1"},"A":"2","SDK_UNINSTALL":"true"},` +
		`"fetch":[{"uri":"http://x"}],"labels":{"L":"v"},"cpus":1.50}`
	if string(got) != want {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
	for _, tc := range []struct{ in, want string }{
		{`{"id":"/a"}`, `{"id":"/a","env":{"SDK_UNINSTALL":"true"}}`},
		{`{"id":"/a","env":null}`, `{"id":"/a","env":{"SDK_UNINSTALL":"true"}}`},
		{`{"env":{"SDK_UNINSTALL":"false","X":"y"},"id":"/a"}`, `{"env":{"SDK_UNINSTALL":"true","X":"y"},"id":"/a"}`},
		{"{ \"id\" : \"/\\u00e9\" , \"env\" : { } }", `{"id":"/\u00e9","env":{"SDK_UNINSTALL":"true"}}`},
	} {
		got, err := sdkUninstallBody(json.RawMessage(tc.in))
		if err != nil || string(got) != tc.want {
			t.Errorf("%s -> %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{`[]`, `{"env":[1]}`, `{"id":"a"} x`, `{"id":`, ``} {
		if _, err := sdkUninstallBody(json.RawMessage(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func FuzzSDKUninstallBody(f *testing.F) {
	f.Add(`{"id":"/a","env":{"X":"1"},"uris":[],"version":"v"}`)
	f.Add(`{"env":{"SDK_UNINSTALL":{"secret":"x"}}}`)
	f.Add(`{"id":"\ud800","env":null}`)
	f.Fuzz(func(t *testing.T, in string) {
		out, err := sdkUninstallBody(json.RawMessage(in))
		if err != nil {
			return
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(out, &obj); err != nil {
			// Invalid UTF-8 is passed through as Marathon would get it.
			if json.Valid([]byte(in)) {
				t.Fatalf("output is not JSON: %s (%v)", out, err)
			}
			return
		}
		for k := range dropOnPut {
			if _, ok := obj[k]; ok {
				t.Fatalf("%s kept: %s", k, out)
			}
		}
		var env map[string]json.RawMessage
		if err := json.Unmarshal(obj["env"], &env); err != nil || string(env[EnvSDKUninstall]) != `"true"` {
			t.Fatalf("env without SDK_UNINSTALL: %s", out)
		}
	})
}

func FuzzNewSpec(f *testing.F) {
	f.Add(`{"id":"/a","labels":{"DCOS_COMMONS_UNINSTALL":"x","DCOS_SERVICE_NAME":"/a/b"}}`, true)
	f.Add(`{"id":"/a","labels":{"DCOS_PACKAGE_FRAMEWORK_NAME":"a","DCOS_PACKAGE_DEFINITION":"eyJ9"}}`, false)
	f.Fuzz(func(t *testing.T, in string, janitor bool) {
		s, err := NewSpec(Request{Release: "r", AppID: "/x", App: json.RawMessage(in), Janitor: &janitor})
		if err != nil {
			if !errs.IsPermanent(err) {
				t.Fatalf("error not permanent: %v", err)
			}
			return
		}
		steps := s.Steps()
		if len(steps) == 0 || (!s.SDK && steps[0].Name != StepDeleteApp) || (s.SDK && steps[0].Name != StepSDKUninstall) {
			t.Fatalf("steps %+v", steps)
		}
		if s.Service != "" && (s.Role != Role(s.Service) || s.ZNode != ZNode(s.Service)) {
			t.Fatalf("names %+v", s)
		}
	})
}
