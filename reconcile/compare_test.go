package reconcile

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/universe-operator/universe-operator/errs"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fixtures are pairs testdata/compare/<name>.{desired,actual}.json: the app as
// rendered, and the same app as Marathon answers GET /v2/apps?embed=... with
// its defaults filled in (hand-written from the RAML types and examples;
// old-marathon is Marathon 1.4's answer format).
var fixtures = []string{"plain-cmd", "docker-bridge", "sdk-scheduler", "resident", "old-marathon", "user-network", "legacy-ip"}

func TestCompareFixturesNoDrift(t *testing.T) {
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			d := readFixture(t, "compare/"+name+".desired.json")
			a := readFixture(t, "compare/"+name+".actual.json")
			if drift := Compare(d, a); drift.Drifted() {
				t.Errorf("unexpected drift:\n%s", drift)
			}
			// Marathon's own answer compared with itself, and our model of
			// Marathon's answer, never drift either.
			if drift := Compare(a, a); drift.Drifted() {
				t.Errorf("actual vs itself:\n%s", drift)
			}
			view, err := MarathonView(d)
			if err != nil {
				t.Fatal(err)
			}
			if drift := Compare(d, view); drift.Drifted() {
				t.Errorf("desired vs MarathonView(desired):\n%s\nview: %s", drift, view)
			}
		})
	}
}

func TestCompareMutations(t *testing.T) {
	tests := []struct {
		name    string
		fixture string
		ops     []op // applied to the actual (Marathon) side
		want    []string
		kinds   []ChangeKind
	}{
		// the manual edits issue 5 names
		{"instances scaled", "plain-cmd", []op{set("/instances", "3")}, []string{"/instances"}, []ChangeKind{ChangeModified}},
		{"instances scaled to the default", "docker-bridge", []op{set("/instances", "1")}, []string{"/instances"}, nil},
		{"env value edited", "plain-cmd", []op{set("/env/JAVA_OPTS", `"-Xmx2g"`)}, []string{"/env/JAVA_OPTS"}, []ChangeKind{ChangeModified}},
		{"env var added", "plain-cmd", []op{set("/env/DEBUG", `"1"`)}, []string{"/env/DEBUG"}, []ChangeKind{ChangeExtra}},
		{"env var removed", "plain-cmd", []op{del("/env/HELLO_MODE")}, []string{"/env/HELLO_MODE"}, []ChangeKind{ChangeMissing}},
		{"env secret ref changed", "sdk-scheduler", []op{set("/env/DCOS_SERVICE_ACCOUNT_CREDENTIAL/secret", `"other"`)},
			[]string{"/env/DCOS_SERVICE_ACCOUNT_CREDENTIAL/secret"}, nil},
		{"env secret replaced by a plain value", "sdk-scheduler", []op{set("/env/DCOS_SERVICE_ACCOUNT_CREDENTIAL", `"plain"`)},
			[]string{"/env/DCOS_SERVICE_ACCOUNT_CREDENTIAL"}, nil},
		{"image changed", "docker-bridge", []op{set("/container/docker/image", `"nginx:latest"`)}, []string{"/container/docker/image"}, nil},
		{"image changed (mesos container)", "user-network", []op{set("/container/docker/image", `"example/api:2.2.0"`)}, []string{"/container/docker/image"}, nil},
		{"only health check removed", "plain-cmd", []op{del("/healthChecks/0")}, []string{"/healthChecks/0"}, []ChangeKind{ChangeMissing}},
		{"health checks removed entirely", "plain-cmd", []op{del("/healthChecks")}, []string{"/healthChecks/0"}, []ChangeKind{ChangeMissing}},
		{"one of two health checks removed", "docker-bridge", []op{del("/healthChecks/1")}, []string{"/healthChecks/0"}, []ChangeKind{ChangeMissing}},
		{"the other health check removed", "docker-bridge", []op{del("/healthChecks/0")}, []string{"/healthChecks/1"}, []ChangeKind{ChangeMissing}},
		{"health check path changed", "plain-cmd", []op{set("/healthChecks/0/path", `"/"`)}, []string{"/healthChecks/0/path"}, nil},
		{"health check interval off its default", "plain-cmd", []op{set("/healthChecks/0/intervalSeconds", "5")},
			[]string{"/healthChecks/0/intervalSeconds"}, []ChangeKind{ChangeModified}},
		{"health check added", "sdk-scheduler", []op{set("/healthChecks/-", `{"protocol":"COMMAND","command":{"value":"true"}}`)},
			[]string{"/healthChecks/1"}, []ChangeKind{ChangeExtra}},
		{"constraint added", "docker-bridge", []op{set("/constraints/-", `["rack","LIKE","r1"]`)}, []string{"/constraints/2"}, []ChangeKind{ChangeExtra}},
		{"first constraint added", "plain-cmd", []op{set("/constraints", `[["hostname","UNIQUE"]]`)}, []string{"/constraints/0"}, []ChangeKind{ChangeExtra}},
		{"constraint removed", "docker-bridge", []op{del("/constraints/0")}, []string{"/constraints/1"}, []ChangeKind{ChangeMissing}},
		{"constraint value changed", "docker-bridge", []op{set("/constraints/0/2", `"2"`)}, []string{"/constraints/1", "/constraints/0"},
			[]ChangeKind{ChangeMissing, ChangeExtra}},
		{"label changed", "plain-cmd", []op{set("/labels/DCOS_SERVICE_SCHEME", `"https"`)}, []string{"/labels/DCOS_SERVICE_SCHEME"}, nil},
		{"label added", "docker-bridge", []op{set("/labels/HAPROXY_0_VHOST", `"www.example.com"`)}, []string{"/labels/HAPROXY_0_VHOST"}, []ChangeKind{ChangeExtra}},
		{"ownership label removed", "docker-bridge", []op{del("/labels/UNIVERSE_OPERATOR_RELEASE")}, []string{"/labels/UNIVERSE_OPERATOR_RELEASE"}, []ChangeKind{ChangeMissing}},
		{"hash label differs", "sdk-scheduler", []op{set("/labels/UNIVERSE_OPERATOR_HASH", `"0000000000000000"`)}, []string{"/labels/UNIVERSE_OPERATOR_HASH"}, nil},
		// resources and command
		{"cpus changed", "docker-bridge", []op{set("/cpus", "2")}, []string{"/cpus"}, nil},
		{"mem changed", "plain-cmd", []op{set("/mem", "257")}, []string{"/mem"}, nil},
		{"cmd changed", "plain-cmd", []op{set("/cmd", `"sleep 1"`)}, []string{"/cmd"}, nil},
		{"user changed", "sdk-scheduler", []op{set("/user", `"root"`)}, []string{"/user"}, nil},
		{"user removed", "sdk-scheduler", []op{del("/user")}, []string{"/user"}, []ChangeKind{ChangeMissing}},
		{"upgrade strategy changed", "sdk-scheduler", []op{set("/upgradeStrategy/minimumHealthCapacity", "0.5")},
			[]string{"/upgradeStrategy/minimumHealthCapacity"}, nil},
		{"fetch entry made executable", "sdk-scheduler", []op{set("/fetch/1/executable", "true")}, []string{"/fetch/1/executable"}, nil},
		{"fetch entry dropped", "plain-cmd", []op{del("/fetch/1")}, []string{"/fetch/1"}, []ChangeKind{ChangeMissing}},
		{"secret source changed", "resident", []op{set("/secrets/pw/source", `"other/password"`)}, []string{"/secrets/pw/source"}, nil},
		{"volume added", "docker-bridge", []op{set("/container/volumes", `[{"containerPath":"/data","hostPath":"/srv","mode":"RO"}]`)},
			[]string{"/container/volumes/0"}, []ChangeKind{ChangeExtra}},
		{"persistent volume resized", "resident", []op{set("/container/volumes/0/persistent/size", "20480")},
			[]string{"/container/volumes/0/persistent/size"}, nil},
		{"readiness timeout changed", "sdk-scheduler", []op{set("/readinessChecks/0/timeoutSeconds", "10")},
			[]string{"/readinessChecks/0/timeoutSeconds"}, nil},
		{"port mapping container port changed", "docker-bridge", []op{set("/container/portMappings/0/containerPort", "8080")},
			[]string{"/container/portMappings/0/containerPort"}, nil},
		{"fixed host port set", "docker-bridge", []op{set("/container/portMappings/1/hostPort", "8443")},
			[]string{"/container/portMappings/1/hostPort"}, nil},
		{"port definition label changed", "sdk-scheduler", []op{set("/portDefinitions/0/labels/VIP_0", `"/api.kafka:80"`)},
			[]string{"/portDefinitions/0/labels/VIP_0"}, nil},
		{"port definition added", "plain-cmd", []op{set("/portDefinitions/-", `{"port":10105,"protocol":"tcp"}`)},
			[]string{"/portDefinitions/1"}, []ChangeKind{ChangeExtra}},
		{"network switched", "user-network", []op{set("/networks/0/name", `"calico"`)}, []string{"/networks/0/name"}, nil},
		{"default network name filled in", "legacy-ip", []op{}, nil, nil},
		{"app check interval changed", "user-network", []op{set("/check/intervalSeconds", "60")}, []string{"/check/intervalSeconds"}, nil},
		{"accepted roles changed", "docker-bridge", []op{set("/acceptedResourceRoles", `["*"]`)}, []string{"/acceptedResourceRoles/0"}, []ChangeKind{ChangeMissing}},
		{"unreachable strategy tuned", "plain-cmd", []op{set("/unreachableStrategy", `{"inactiveAfterSeconds":60,"expungeAfterSeconds":120}`)},
			[]string{"/unreachableStrategy/expungeAfterSeconds", "/unreachableStrategy/inactiveAfterSeconds"}, nil},
		{"unreachable strategy disabled", "plain-cmd", []op{set("/unreachableStrategy", `"disabled"`)}, []string{"/unreachableStrategy"}, nil},
		{"max launch delay off both defaults", "plain-cmd", []op{set("/maxLaunchDelaySeconds", "60")}, []string{"/maxLaunchDelaySeconds"}, nil},
		{"role not a default", "plain-cmd", []op{set("/role", `"analytics"`)}, []string{"/role"}, nil},
		{"kill selection changed", "plain-cmd", []op{set("/killSelection", `"OLDEST_FIRST"`)}, []string{"/killSelection"}, nil},
		// fields this package does not model
		{"unknown field added", "plain-cmd", []op{set("/shinyNewField", `{"enabled":true}`)}, []string{"/shinyNewField/enabled"}, []ChangeKind{ChangeExtra}},
		{"unknown scalar added", "plain-cmd", []op{set("/taskKillGracePeriodSeconds", "30")}, []string{"/taskKillGracePeriodSeconds"}, []ChangeKind{ChangeExtra}},
		{"several edits at once", "plain-cmd", []op{set("/instances", "0"), set("/env/HELLO_MODE", `"dev"`), del("/healthChecks/0"), set("/labels/X", `"y"`)},
			[]string{"/env/HELLO_MODE", "/healthChecks/0", "/instances", "/labels/X"}, nil},

		// no drift: what Marathon may legitimately answer differently
		{"tty false written", "plain-cmd", []op{set("/tty", "false")}, nil, nil},
		{"executor resources at their defaults", "plain-cmd", []op{set("/executorResources", `{"cpus":0.1,"mem":32,"disk":10}`)}, nil, nil},
		{"max launch delay of Marathon <= 1.9", "plain-cmd", []op{set("/maxLaunchDelaySeconds", "3600")}, nil, nil},
		{"unreachable strategy of Marathon 1.4-1.9", "plain-cmd", []op{set("/unreachableStrategy", `{"inactiveAfterSeconds":300,"expungeAfterSeconds":600}`)}, nil, nil},
		{"no role written (Marathon < 1.9)", "plain-cmd", []op{del("/role")}, nil, nil},
		{"DC/OS default role (--mesos_role slave_public)", "plain-cmd", []op{set("/role", `"slave_public"`)}, nil, nil},
		{"no unreachable strategy written", "plain-cmd", []op{del("/unreachableStrategy")}, nil, nil},
		{"health checks reordered", "docker-bridge", []op{set("/healthChecks", `[{"gracePeriodSeconds":60,"intervalSeconds":30,"maxConsecutiveFailures":2,"path":"/","portIndex":0,"protocol":"MESOS_HTTP","timeoutSeconds":5,"delaySeconds":15},{"portIndex":1,"protocol":"TCP"}]`)}, nil, nil},
		{"another service port assigned", "docker-bridge", []op{set("/container/portMappings/0/servicePort", "10999")}, nil, nil},
		{"numbers written as doubles", "docker-bridge", []op{set("/cpus", "1.0"), set("/mem", "512.0"), set("/instances", "2.0")}, nil, nil},
		{"empty collections and nulls", "plain-cmd", []op{set("/constraints", "[]"), set("/dependencies", "[]"), set("/secrets", "{}"),
			set("/args", "null"), set("/user", "null"), set("/container", "null"), set("/readinessChecks", "[]"), set("/storeUrls", "[]")}, nil, nil},
		{"status embeds", "plain-cmd", []op{set("/taskStats", `{"totalSummary":{"stats":{"counts":{"staged":0,"running":1,"healthy":1,"unhealthy":0}}}}`),
			set("/readinessCheckResults", "[]"), set("/tasksStats", "{}")}, nil, nil},
		{"health check port index left out", "plain-cmd", []op{del("/healthChecks/0/portIndex")}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := readFixture(t, "compare/"+tt.fixture+".desired.json")
			a := mutate(t, readFixture(t, "compare/"+tt.fixture+".actual.json"), tt.ops...)
			drift := Compare(d, a)
			if drift.Err != nil {
				t.Fatal(drift.Err)
			}
			got := drift.Paths()
			if !slices.Equal(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Fatalf("paths = %q, want %q\n%s", got, tt.want, drift)
			}
			for i, k := range tt.kinds {
				if drift.Changes[i].Kind != k {
					t.Errorf("change %d kind = %s, want %s (%s)", i, drift.Changes[i].Kind, k, drift.Changes[i])
				}
			}
			// The same edit made on the desired side is seen too (symmetry
			// of everything but ports Marathon assigns).
			if len(tt.want) > 0 && drift.Drifted() != Compare(a, d).Drifted() {
				t.Errorf("Compare(actual, desired) disagrees about drift")
			}
		})
	}
}

func TestCompareDesiredSideChanges(t *testing.T) {
	a := readFixture(t, "compare/plain-cmd.actual.json")
	d := readFixture(t, "compare/plain-cmd.desired.json")
	tests := []struct {
		name string
		ops  []op
		want []string
	}{
		{"template adds an env var", []op{set("/env/NEW", `"x"`)}, []string{"/env/NEW"}},
		{"template drops a field", []op{del("/cmd")}, []string{"/cmd"}},
		{"template sets a fixed port", []op{set("/portDefinitions", `[{"port":8080}]`)}, []string{"/portDefinitions/0/name", "/portDefinitions/0/port"}},
		{"template asks for no ports", []op{set("/portDefinitions", `[]`)}, []string{"/portDefinitions/0"}},
		{"template spells out defaults", []op{set("/disk", "0"), set("/gpus", "0"), set("/backoffFactor", "1.15"), set("/requirePorts", "false"),
			set("/upgradeStrategy", `{"minimumHealthCapacity":1,"maximumOverCapacity":1}`), set("/networks", `[{"mode":"host"}]`)}, nil},
		{"template uses fetch instead of uris", []op{del("/uris"), set("/fetch", `[{"uri":"https://downloads.example.com/hello/hello-1.2.3.tgz"},{"uri":"https://downloads.example.com/hello/config.json","extract":false}]`)}, nil},
		{"template relies on the default instance count", []op{del("/instances")}, nil},
		{"template id with trailing slash", []op{set("/id", `"/hello-world/"`)}, nil},
		{"template health check interval", []op{set("/healthChecks/0/intervalSeconds", "10")}, []string{"/healthChecks/0/intervalSeconds"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			drift := Compare(mutate(t, d, tt.ops...), a)
			if got := drift.Paths(); !slices.Equal(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Fatalf("paths = %q, want %q\n%s", got, tt.want, drift)
			}
		})
	}
}

func TestCompareDefaultNetworkName(t *testing.T) {
	d := mutate(t, readFixture(t, "compare/user-network.desired.json"), set("/networks", `[{"mode":"container"}]`))
	a := readFixture(t, "compare/user-network.actual.json") // name "dcos", as DC/OS's Marathon fills in
	if drift := Compare(d, a); drift.Drifted() {
		t.Errorf("unnamed container network vs dcos:\n%s", drift)
	}
	if drift := Compare(d, mutate(t, a, set("/networks/0/name", `"calico"`))); !slices.Equal(drift.Paths(), []string{"/networks/0/name"}) {
		t.Errorf("another network: %q", drift.Paths())
	}
	if view, _ := MarathonView(d); !strings.Contains(string(view), `"name":"dcos"`) {
		t.Errorf("view: %s", view)
	}
}

func TestCompareValues(t *testing.T) {
	d := readFixture(t, "compare/plain-cmd.desired.json")
	a := mutate(t, readFixture(t, "compare/plain-cmd.actual.json"),
		set("/instances", "3"), set("/healthChecks/0/intervalSeconds", "5"), set("/env/X", `"<&>"`))
	drift := Compare(d, a)
	want := []Change{
		{Path: "/env/X", Kind: ChangeExtra, Actual: []byte(`"<&>"`)},
		{Path: "/healthChecks/0/intervalSeconds", Kind: ChangeModified, Desired: []byte("60"), Actual: []byte("5"), Defaulted: SideDesired},
		{Path: "/instances", Kind: ChangeModified, Desired: []byte("1"), Actual: []byte("3")},
	}
	if len(drift.Changes) != len(want) {
		t.Fatalf("changes:\n%s", drift)
	}
	for i, w := range want {
		g := drift.Changes[i]
		if g.Path != w.Path || g.Kind != w.Kind || string(g.Desired) != string(w.Desired) ||
			string(g.Actual) != string(w.Actual) || g.Defaulted != w.Defaulted {
			t.Errorf("change %d = %+v, want %+v", i, g, w)
		}
	}
	if s := drift.Changes[1].String(); s != "/healthChecks/0/intervalSeconds: 5 => 60 (default)" {
		t.Errorf("String() = %q", s)
	}
}

func TestCompareGolden(t *testing.T) {
	d := readFixture(t, "compare/sdk-scheduler.desired.json")
	a := mutate(t, readFixture(t, "compare/sdk-scheduler.actual.json"),
		set("/instances", "0"), set("/env/BROKER_COUNT", `"5"`), del("/healthChecks/0"),
		set("/labels/DCOS_SERVICE_NAME", `"kafka"`), set("/env/a~b/c", `"escaped"`), set("/cpus", "0.5"))
	got := Compare(d, a).String() + "\n"
	golden := filepath.Join("testdata", "compare", "golden", "sdk-scheduler-edited.txt")
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if got != string(want) {
		t.Errorf("drift:\n%s\nwant:\n%s", got, want)
	}
}

func TestCompareErrors(t *testing.T) {
	for _, tt := range []struct{ d, a, want string }{
		{`{`, `{}`, "desired app: invalid JSON"},
		{`{}`, `[1]`, "app in Marathon: app must be a JSON object"},
		{`{}`, `{"a":1} x`, "unexpected data after the top-level value"},
	} {
		drift := Compare([]byte(tt.d), []byte(tt.a))
		if drift.Err == nil || !strings.Contains(drift.Err.Error(), tt.want) || !errs.IsPermanent(drift.Err) {
			t.Errorf("Compare(%s, %s).Err = %v, want permanent %q", tt.d, tt.a, drift.Err, tt.want)
		}
		if !drift.Drifted() {
			t.Errorf("an error must count as drift")
		}
	}
}

func TestNormalizeIdempotent(t *testing.T) {
	for _, name := range fixtures {
		for _, side := range []string{"desired", "actual"} {
			b := readFixture(t, "compare/"+name+"."+side+".json")
			n1, err := Normalize(b)
			if err != nil {
				t.Fatal(err)
			}
			n2, err := Normalize(n1)
			if err != nil {
				t.Fatal(err)
			}
			if string(n1) != string(n2) {
				t.Errorf("%s.%s: normalize not idempotent:\n%s\n%s", name, side, n1, n2)
			}
		}
	}
}

func TestDefaultsTable(t *testing.T) {
	rules()
	for _, r := range Defaults() {
		if len(r.Values) == 0 || r.Source == "" || !strings.HasPrefix(r.Path, "/") {
			t.Errorf("incomplete rule %+v", r)
		}
		for _, v := range r.Values {
			if _, err := parseJSON([]byte(v)); err != nil {
				t.Errorf("%s: default %s: %v", r.Path, v, err)
			}
		}
	}
	for i := range defaultRules {
		if r := &defaultRules[i]; len(r.vals) != len(r.Values) {
			t.Errorf("%s: parsed %d of %d values", r.Path, len(r.vals), len(r.Values))
		}
	}
}

func TestCompareFieldsMarathonDrops(t *testing.T) {
	// 138 rendered Universe revisions carry a top-level "maintainer", one a
	// typo'd "healthCheck": Marathon's App type has neither and drops them.
	d := mutate(t, readFixture(t, "compare/plain-cmd.desired.json"),
		set("/maintainer", `"support@example.com"`), set("/healthCheck", `{"path":"/"}`),
		set("/healthChecks/0/comment", `"x"`), set("/container", `{"type":"DOCKER","docker":{"image":"a","shiny":1}}`))
	a := mutate(t, readFixture(t, "compare/plain-cmd.actual.json"),
		set("/container", `{"type":"DOCKER","docker":{"image":"a","forcePullImage":false,"privileged":false,"parameters":[]},"volumes":[]}`))
	drift := Compare(d, a)
	if drift.Drifted() {
		t.Fatalf("drift:\n%s", drift)
	}
	want := []string{"/container/docker/shiny", "/healthCheck", "/healthChecks/0/comment", "/maintainer"}
	if !slices.Equal(drift.Ignored, want) {
		t.Errorf("ignored = %q, want %q", drift.Ignored, want)
	}
	view, err := MarathonView(d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(view), "maintainer") || strings.Contains(string(view), "shiny") || strings.Contains(string(view), "comment") {
		t.Errorf("MarathonView keeps unknown fields: %s", view)
	}
	// The same unknown field appearing in Marathon's answer is drift: some
	// newer Marathon (or a person) put it there.
	if drift := Compare(mutate(t, d, del("/maintainer")), mutate(t, a, set("/maintainer", `"x"`))); !slices.Equal(drift.Paths(), []string{"/maintainer"}) {
		t.Errorf("actual-only unknown field: %q", drift.Paths())
	}
}
