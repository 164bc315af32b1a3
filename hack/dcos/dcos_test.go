package dcos

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/universe-operator/universe-operator/config"
	"github.com/universe-operator/universe-operator/internal/testenv"
	"github.com/universe-operator/universe-operator/render"
	"github.com/universe-operator/universe-operator/sim"
	"github.com/universe-operator/universe-operator/universe"
)

const configEnv = "UNIVERSE_OPERATOR_CONFIG"

// load reads the package as a Universe repository holding one revision.
func load(t *testing.T) *universe.Package {
	t.Helper()
	tree := fstest.MapFS{}
	err := fs.WalkDir(Files(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(Files(), p)
		tree["U/universe-operator/0/"+p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	repo, probs := universe.LoadFS(tree, universe.WithName("universe"), universe.WithSource("https://universe.example.com/repo"))
	if len(probs) > 0 || repo == nil {
		t.Fatalf("the package does not load: %v", probs)
	}
	revs := repo.Revisions("universe-operator")
	if len(revs) != 1 {
		t.Fatalf("%d revisions", len(revs))
	}
	return revs[0]
}

// appSchema compiles Marathon's v1.7 AppDefinition.json from ../shared, or
// returns nil when ../shared is absent (the other checks still run).
func appSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	if testenv.SharedDir() == "" {
		t.Log("../shared is absent: not validating against Marathon's AppDefinition.json")
		return nil
	}
	raw, err := os.ReadFile(testenv.Shared(t, "marathon-api/v1.7-schema/AppDefinition.json"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	delete(doc.(map[string]any), "$schema") // it is draft-04
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	if err := c.AddResource("file:///AppDefinition.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("file:///AppDefinition.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// app is the part of the rendered app the tests look at.
type app struct {
	ID          string                             `json:"id"`
	Instances   int                                `json:"instances"`
	User        string                             `json:"user"`
	Args        []string                           `json:"args"`
	Labels      map[string]string                  `json:"labels"`
	Env         map[string]any                     `json:"env"`
	Secrets     map[string]struct{ Source string } `json:"secrets"`
	Networks    []struct{ Mode string }            `json:"networks"`
	Fetch       []struct{ URI string }             `json:"fetch"`
	Constraints [][]string                         `json:"constraints"`
	Container   struct {
		Type         string
		Docker       struct{ Image string }
		PortMappings []struct {
			ContainerPort int
			HostPort      int
			Name          string
		}
	} `json:"container"`
	HealthChecks []struct {
		Protocol, Path string
		PortIndex      int
	} `json:"healthChecks"`
	ReadinessChecks []struct {
		Protocol, Path, PortName string
		HTTPStatusCodesForReady  []int
	} `json:"readinessChecks"`
}

func renderApp(t *testing.T, pkg *universe.Package, options string) (*render.Result, app) {
	t.Helper()
	res, err := render.Render(pkg, json.RawMessage(options), render.Params{})
	if err != nil {
		t.Fatalf("render with %s: %v", options, err)
	}
	var a app
	if err := json.Unmarshal(res.App, &a); err != nil {
		t.Fatalf("the rendered app does not decode: %v\n%s", err, res.Indented())
	}
	return res, a
}

// checkApp validates the app against Marathon's schema and the simulated
// Marathon (which applies Marathon's semantic rules), and checks what every
// rendering must have.
func checkApp(t *testing.T, schema *jsonschema.Schema, res *render.Result, a app, name string) {
	t.Helper()
	if schema != nil {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(res.App))
		if err != nil {
			t.Fatal(err)
		}
		if err := schema.Validate(doc); err != nil {
			t.Errorf("the app does not validate against Marathon's AppDefinition.json: %v\n%s", err, res.Indented())
		}
	}
	cluster := sim.New(sim.FastOptions())
	defer cluster.Close()
	srv := httptest.NewServer(cluster.Handler())
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/service/marathon/v2/apps", "application/json", bytes.NewReader(res.App))
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("the simulated Marathon refuses the app: HTTP %d %s", resp.StatusCode, body.String())
	}

	if a.ID != name {
		t.Errorf("id %q, want %q", a.ID, name)
	}
	for k, v := range map[string]string{"DCOS_SERVICE_NAME": name, "DCOS_SERVICE_SCHEME": "http", "DCOS_SERVICE_PORT_INDEX": "0",
		"DCOS_PACKAGE_NAME": "universe-operator", "DCOS_PACKAGE_VERSION": "0.1.0"} {
		if a.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, a.Labels[k], v)
		}
	}
	if a.Labels["DCOS_PACKAGE_FRAMEWORK_NAME"] != "" {
		t.Error("a framework label on a non-framework package")
	}
	if !slices.Equal(a.Args, []string{"run", "--config-env", configEnv}) {
		t.Errorf("args %v", a.Args)
	}
	if a.Container.Type != "MESOS" || a.Container.Docker.Image != "ghcr.io/universe-operator/universe-operator:0.1.0" {
		t.Errorf("container %+v", a.Container)
	}
	// Port index 0 is the controller's 8080 in the container, on a host
	// port Admin Router learns from Marathon.
	if len(a.Container.PortMappings) != 1 || a.Container.PortMappings[0].ContainerPort != 8080 || a.Container.PortMappings[0].Name != "http" ||
		len(a.Networks) != 1 || a.Networks[0].Mode != "container/bridge" {
		t.Errorf("ports %+v networks %+v", a.Container.PortMappings, a.Networks)
	}
	if len(a.HealthChecks) != 1 || a.HealthChecks[0].Protocol != "MESOS_HTTP" || a.HealthChecks[0].Path != "/healthz" || a.HealthChecks[0].PortIndex != 0 {
		t.Errorf("health checks %+v", a.HealthChecks)
	}
	if len(a.ReadinessChecks) != 1 || a.ReadinessChecks[0].Path != "/readyz" || a.ReadinessChecks[0].PortName != "http" ||
		!slices.Equal(a.ReadinessChecks[0].HTTPStatusCodesForReady, []int{200}) {
		t.Errorf("readiness checks %+v", a.ReadinessChecks)
	}
	if len(a.Constraints) != 1 || !slices.Equal(a.Constraints[0], []string{"hostname", "UNIQUE"}) {
		t.Errorf("constraints %v", a.Constraints)
	}
}

// loadConfig parses the configuration the app hands the controller, as
// `run --config-env` does: relative paths against the working directory
// (the task's sandbox).
func loadConfig(t *testing.T, a app) *config.Config {
	t.Helper()
	text, ok := a.Env[configEnv].(string)
	if !ok {
		t.Fatalf("env %s is %T", configEnv, a.Env[configEnv])
	}
	cfg, err := config.Parse(filepath.Join("/mnt/mesos/sandbox", "$"+configEnv), []byte(text))
	if err != nil {
		t.Fatalf("the generated configuration does not load: %v\n%s", err, text)
	}
	return cfg
}

func TestDefaultOptions(t *testing.T) {
	pkg := load(t)
	if pkg.Framework || pkg.PackagingVersion != "4.0" || pkg.PostUninstallNotes == "" || pkg.PreInstallNotes == "" || pkg.PostInstallNotes == "" {
		t.Errorf("package metadata %+v", pkg)
	}
	// The defaults alone do not say which Git repository holds the releases:
	// the install is refused up front (as `dcos package install` would
	// refuse it) rather than crash-looping on the cluster.
	_, err := render.Render(pkg, nil, render.Params{})
	if err == nil {
		t.Fatal("the defaults render, yet name no releases repository")
	}
	var re *render.Error
	if !errors.As(err, &re) || re.Kind != render.KindOptions {
		t.Errorf("error %v (%T), want an options error", err, err)
	}
	t.Logf("defaults: %v", err)
	if err := render.ValidateOptions(pkg, json.RawMessage(`{"releases":{"git_url":"https://git.example.com/ops/releases.git"}}`)); err != nil {
		t.Errorf("the minimal options are refused: %v", err)
	}
}

func TestMinimalOptions(t *testing.T) {
	pkg := load(t)
	schema := appSchema(t)
	res, a := renderApp(t, pkg, `{"releases":{"git_url":"https://git.example.com/ops/releases.git"}}`)
	checkApp(t, schema, res, a, "universe-operator")
	if a.Instances != 1 || a.User != "nobody" || len(a.Secrets) != 0 || len(a.Fetch) != 0 {
		t.Errorf("instances %d user %q secrets %v fetch %v", a.Instances, a.User, a.Secrets, a.Fetch)
	}
	for k, v := range a.Env {
		if _, isRef := v.(map[string]any); isRef {
			t.Errorf("secret reference %s without secrets", k)
		}
	}
	cfg := loadConfig(t, a)
	if cfg.Listen != "0.0.0.0:8080" || cfg.DCOSURL != "https://leader.mesos" || cfg.Marathon.URLs[0] != "https://leader.mesos/service/marathon" ||
		cfg.StateDir != "/mnt/mesos/sandbox/state" || cfg.LogLevel != "info" || cfg.Auth != nil || !cfg.PruneEnabled() ||
		cfg.Interval.String() != "1m0s" || cfg.ProgressDeadline.String() != "10m0s" {
		t.Errorf("config %+v", cfg)
	}
	if z := cfg.ZooKeeper; z == nil || !slices.Equal(z.Servers, []string{"master.mesos:2181"}) || z.Path != "/universe-operator" {
		t.Errorf("zookeeper %+v", cfg.ZooKeeper)
	}
	if len(cfg.Universes) != 1 || cfg.Universes[0].Git.URL != "https://github.com/mesosphere/universe.git" ||
		cfg.Universes[0].Git.Ref != "version-3.x" || cfg.Universes[0].Git.Path != "repo/packages" {
		t.Errorf("universes %+v", cfg.Universes[0].Git)
	}
	if g := cfg.Releases.Git; g.URL != "https://git.example.com/ops/releases.git" || g.Ref != "main" || g.Path != "releases" || g.Auth != nil {
		t.Errorf("releases %+v", g)
	}
	if cfg.Webhook != nil || cfg.UI != nil {
		t.Error("webhook or ui token configured without their secrets")
	}
}

func TestConstructedOptions(t *testing.T) {
	pkg := load(t)
	schema := appSchema(t)
	options := `{
	  "service": {"name": "ops/universe-operator", "instances": 3, "cpus": 1, "mem": 1024, "log_level": "debug",
	              "service_account": "universe-operator", "service_account_secret": "ops/universe-operator/private-key"},
	  "cluster": {"dcos_url": "https://master.mesos", "ca_file": "dcos-ca.crt", "fetch_ca_url": "http://master.mesos/ca/dcos-ca.crt", "dcos_version": "2.2"},
	  "zookeeper": {"server": "zk-1.zk:2181", "path": "/ops/universe-operator"},
	  "releases": {"git_url": "https://git.example.com/ops/releases.git", "git_ref": "prod", "git_path": "clusters/eu-1",
	               "git_token_secret": "ops/universe-operator/git-token"},
	  "universe": {"git_url": "https://git.example.com/ops/universe.git", "git_ref": "v42", "git_path": "repo/packages"},
	  "operator": {"interval": "30s", "progress_deadline": "5m", "prune": false,
	               "webhook_secret": "ops/universe-operator/webhook", "ui_token_secret": "ops/universe-operator/ui-token"}
	}`
	res, a := renderApp(t, pkg, options)
	checkApp(t, schema, res, a, "ops/universe-operator")
	if a.Instances != 3 {
		t.Errorf("instances %d", a.Instances)
	}
	wantSecrets := map[string]string{"serviceAccountKey": "ops/universe-operator/private-key", "gitToken": "ops/universe-operator/git-token",
		"webhookSecret": "ops/universe-operator/webhook", "uiToken": "ops/universe-operator/ui-token"}
	for k, v := range wantSecrets {
		if a.Secrets[k].Source != v {
			t.Errorf("secret %s = %q, want %q", k, a.Secrets[k].Source, v)
		}
	}
	for env, secret := range map[string]string{"DCOS_SERVICE_ACCOUNT_KEY": "serviceAccountKey", "GIT_TOKEN": "gitToken",
		"WEBHOOK_SECRET": "webhookSecret", "UI_TOKEN": "uiToken"} {
		if ref, _ := a.Env[env].(map[string]any); ref["secret"] != secret {
			t.Errorf("env %s = %v, want a reference to secret %s", env, a.Env[env], secret)
		}
	}
	if len(a.Fetch) != 1 || a.Fetch[0].URI != "http://master.mesos/ca/dcos-ca.crt" {
		t.Errorf("fetch %+v", a.Fetch)
	}
	cfg := loadConfig(t, a)
	if sa := cfg.Marathon.Auth; sa == nil || sa.ServiceAccount == nil || sa.ServiceAccount.UID != "universe-operator" ||
		sa.ServiceAccount.PrivateKeyEnv != "DCOS_SERVICE_ACCOUNT_KEY" || cfg.Marathon.LoginURL != "https://master.mesos/acs/api/v1/auth/login" {
		t.Errorf("marathon auth %+v", cfg.Marathon.Auth)
	}
	if cfg.CAFile != "/mnt/mesos/sandbox/dcos-ca.crt" || cfg.DCOSVersion != "2.2" || cfg.LogLevel != "debug" || cfg.PruneEnabled() ||
		cfg.Interval.String() != "30s" || cfg.ProgressDeadline.String() != "5m0s" {
		t.Errorf("config %+v", cfg)
	}
	if z := cfg.ZooKeeper; z == nil || !slices.Equal(z.Servers, []string{"zk-1.zk:2181"}) || z.Path != "/ops/universe-operator" {
		t.Errorf("zookeeper %+v", cfg.ZooKeeper)
	}
	if g := cfg.Releases.Git; g.URL != "https://git.example.com/ops/releases.git" || g.Ref != "prod" || g.Path != "clusters/eu-1" ||
		g.Auth == nil || g.Auth.TokenEnv != "GIT_TOKEN" {
		t.Errorf("releases %+v", g)
	}
	if cfg.Webhook == nil || cfg.Webhook.SecretEnv != "WEBHOOK_SECRET" || cfg.UI == nil || cfg.UI.TokenEnv != "UI_TOKEN" {
		t.Errorf("webhook %+v ui %+v", cfg.Webhook, cfg.UI)
	}

	// Without ZooKeeper the state lives in the sandbox.
	_, a = renderApp(t, pkg, `{"zookeeper":{"enabled":false},"releases":{"git_url":"git@git.example.com:ops/releases.git"}}`)
	if cfg := loadConfig(t, a); cfg.ZooKeeper != nil || cfg.Releases.Git.URL != "git@git.example.com:ops/releases.git" {
		t.Errorf("zookeeper %+v releases %+v", cfg.ZooKeeper, cfg.Releases.Git)
	}
}

// TestWholeConfig: operator.config is handed over verbatim, whatever it
// holds (YAML with quotes, backslashes and new lines).
func TestWholeConfig(t *testing.T) {
	pkg := load(t)
	schema := appSchema(t)
	text := "# mine: \"quoted\", C:\\back\\slashes, tab\there\nlisten: 0.0.0.0:8080\ndcos_url: http://leader.mesos\nstate_dir: state\n" +
		"universes:\n  - name: local\n    git: {url: \"https://git.example.com/u.git\", path: 'repo/packages'}\n" +
		"releases:\n  git: {url: https://git.example.com/r.git, path: \"a/b\"}\n"
	opts, _ := json.Marshal(map[string]any{"operator": map[string]any{"config": text}})
	res, a := renderApp(t, pkg, string(opts))
	checkApp(t, schema, res, a, "universe-operator")
	if got := a.Env[configEnv]; got != text {
		t.Errorf("config handed over as %q, want %q", got, text)
	}
	cfg := loadConfig(t, a)
	if cfg.Universes[0].Name != "local" || cfg.Releases.Git.Path != "a/b" || cfg.ZooKeeper != nil {
		t.Errorf("config %+v", cfg)
	}
}

// TestOptionsThatWouldBreakTheConfig: values that would break the
// generated configuration are refused by the schema, naming the option.
func TestOptionsThatWouldBreakTheConfig(t *testing.T) {
	pkg := load(t)
	for _, c := range []struct{ options, path string }{
		{`{"releases":{"git_url":"https://x/\"r.git"}}`, "/releases/git_url"},
		{`{"releases":{"git_url":"https://x/r.git","git_ref":"a b"}}`, "/releases/git_ref"},
		{`{"releases":{"git_url":"https://x/r.git"},"cluster":{"dcos_url":"leader.mesos"}}`, "/cluster/dcos_url"},
		{`{"releases":{"git_url":"https://x/r.git"},"zookeeper":{"server":"a:2181,b:2181"}}`, "/zookeeper/server"},
		{`{"releases":{"git_url":"https://x/r.git"},"operator":{"interval":"1 minute"}}`, "/operator/interval"},
		{`{"releases":{"git_url":"https://x/r.git"},"service":{"name":"Universe_Operator"}}`, "/service/name"},
		{`{"releases":{"git_url":"https://x/r.git"},"service":{"instances":0}}`, "/service/instances"},
		{`{"releases":{"git_url":"https://x/r.git"},"unknown":1}`, "unknown"},
	} {
		_, err := render.Render(pkg, json.RawMessage(c.options), render.Params{})
		if err == nil || !strings.Contains(err.Error(), c.path) {
			t.Errorf("%s: error %v, want one naming %s", c.options, err, c.path)
		}
	}
}

// TestFiles: the embedded files are the ones in the directory.
func TestFiles(t *testing.T) {
	for _, name := range []string{"package.json", "config.json", "marathon.json.mustache", "resource.json"} {
		embedded, err := fs.ReadFile(Files(), name)
		if err != nil {
			t.Fatal(err)
		}
		onDisk, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(embedded, onDisk) {
			t.Errorf("%s differs", name)
		}
		if strings.HasSuffix(name, ".json") && !json.Valid(onDisk) {
			t.Errorf("%s is not JSON", name)
		}
	}
}
