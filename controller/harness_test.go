package controller_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/universe-operator/universe-operator/api"
	"github.com/universe-operator/universe-operator/clients/git"
	"github.com/universe-operator/universe-operator/clients/marathon"
	"github.com/universe-operator/universe-operator/config"
	"github.com/universe-operator/universe-operator/controller"
	"github.com/universe-operator/universe-operator/examples"
	"github.com/universe-operator/universe-operator/internal/testenv"
	"github.com/universe-operator/universe-operator/sim"
	simmarathon "github.com/universe-operator/universe-operator/sim/marathon"
	"github.com/universe-operator/universe-operator/source"
	"github.com/universe-operator/universe-operator/state"
)

// deadline is how long tests wait for an end state: generous, for a loaded
// 2-core machine under -race.
const deadline = 30 * time.Second

// Test packages (our own, small): webapp revision 0 has a health check and a
// constraint; revision 1 drops the constraint (a template that removes a
// field).
const webappPkg0 = `{"packagingVersion":"4.0","name":"webapp","version":"1.0.0","maintainer":"t@example.invalid",
 "description":"test web app","tags":["test"],"preInstallNotes":"pre","postInstallNotes":"post","postUninstallNotes":"gone"}`

const webappConfig = `{"type":"object","properties":{"app":{"type":"object","properties":{
 "id":{"type":"string","default":"webapp"},
 "instances":{"type":"integer","minimum":0,"default":1},
 "message":{"type":"string","default":"hello"}},"additionalProperties":false}},"additionalProperties":false}`

const webappTemplate0 = `{
  "id": "{{app.id}}",
  "instances": {{app.instances}},
  "cpus": 0.1,
  "mem": 32,
  "cmd": "sleep 1000",
  "container": {"type": "MESOS", "docker": {"image": "example/webapp:1.0"}},
  "constraints": [["hostname", "UNIQUE"]],
  "env": {"MESSAGE": "{{app.message}}"},
  "healthChecks": [{"protocol": "COMMAND", "command": {"value": "true"}, "gracePeriodSeconds": 1, "intervalSeconds": 1, "maxConsecutiveFailures": 3}],
  "labels": {"DCOS_SERVICE_NAME": "{{app.id}}"}
}`

const webappResource = `{"images":{"icon-small":"https://example.invalid/webapp-small.png"}}`

func webappPkg1() string {
	return strings.Replace(webappPkg0, `"version":"1.0.0"`, `"version":"1.1.0"`, 1)
}

// template 1 drops the constraints field.
const webappTemplate1 = `{
  "id": "{{app.id}}",
  "instances": {{app.instances}},
  "cpus": 0.1,
  "mem": 32,
  "cmd": "sleep 1000",
  "env": {"MESSAGE": "{{app.message}}"},
  "healthChecks": [{"protocol": "COMMAND", "command": {"value": "true"}, "gracePeriodSeconds": 1, "intervalSeconds": 1, "maxConsecutiveFailures": 3}],
  "labels": {"DCOS_SERVICE_NAME": "{{app.id}}"}
}`

// badapp lets options set cpus freely: a negative value renders fine and
// Marathon refuses it (422).
const badappPkg = `{"packagingVersion":"4.0","name":"badapp","version":"1.0.0","maintainer":"t@example.invalid","description":"d","tags":["t"]}`
const badappConfig = `{"type":"object","properties":{"cpus":{"type":"number","default":0.1},"id":{"type":"string","default":"/test/bad"}}}`
const badappTemplate = `{"id":"{{id}}","cmd":"sleep 100","cpus":{{cpus}},"mem":32,"instances":1}`

func webappRevision(rev int, pkg, tmpl string) map[string]string {
	dir := fmt.Sprintf("packages/W/webapp/%d/", rev)
	return map[string]string{
		dir + "package.json":           pkg,
		dir + "config.json":            webappConfig,
		dir + "marathon.json.mustache": tmpl,
		dir + "resource.json":          webappResource,
	}
}

// manifestYAML is a release manifest.
func manifestYAML(name, pkg, version string, options string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: universe-operator/v1\nkind: PackageRelease\nmetadata:\n  name: %s\nspec:\n  package: %s\n", name, pkg)
	if version != "" {
		fmt.Fprintf(&b, "  version: %q\n", version)
	}
	if options != "" {
		fmt.Fprintf(&b, "  options: %s\n", options)
	}
	for _, e := range extra {
		b.WriteString("  " + e + "\n")
	}
	return b.String()
}

type harness struct {
	t        testing.TB
	sim      *sim.Server
	repos    *testenv.GitRepos
	uni      *testenv.GitRepo
	rel      *testenv.GitRepo
	gitSrv   *testenv.GitHTTPServer
	mc       *marathon.Client // the test's own client (X-Client-Id: test)
	stateDir string
	cacheDir string

	mu     sync.Mutex
	c      *controller.Controller
	api    *httptest.Server
	cancel context.CancelFunc
	done   chan struct{}
	opts   harnessOptions
}

type harnessOptions struct {
	interval   time.Duration
	prune      bool
	fraction   float64
	allowEmpty bool
	stuck      time.Duration
	webhook    []byte
	uiToken    string
	simOpts    *sim.Options
	marathonFn func(url string) *marathon.Client // builds the controller's client
	workers    int
	leader     controller.Leader
	// uninstaller wraps the default uninstaller (nil: the default).
	uninstaller func(def controller.Uninstaller) controller.Uninstaller
	// progress and history: ProgressDeadline and HistoryLimit (issue 6).
	progress time.Duration
	history  int
}

func newHarness(t testing.TB, o harnessOptions) *harness {
	t.Helper()
	if o.interval == 0 {
		o.interval = 500 * time.Millisecond
	}
	so := sim.FastOptions()
	if o.simOpts != nil {
		so = *o.simOpts
	}
	h := &harness{t: t, opts: o, stateDir: t.TempDir(), cacheDir: t.TempDir()}
	h.sim = sim.NewServer(so)
	t.Cleanup(h.sim.Close)
	h.repos = testenv.NewGitRepos(t)
	h.uni = h.repos.Create("universe")
	files := map[string]string{}
	err := fs.WalkDir(examples.Packages(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(examples.Packages(), p)
		files[path.Join("packages", p)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range webappRevision(0, webappPkg0, webappTemplate0) {
		files[k] = v
	}
	files["packages/B/badapp/0/package.json"] = badappPkg
	files["packages/B/badapp/0/config.json"] = badappConfig
	files["packages/B/badapp/0/marathon.json.mustache"] = badappTemplate
	h.uni.WriteFiles(files)
	h.uni.Commit("universe")
	h.rel = h.repos.Create("releases")
	h.rel.Write("releases/.keep", "")
	h.rel.Commit("empty")
	h.gitSrv = testenv.StartGitHTTP(t, h.repos, nil)
	mc, err := marathon.New(marathon.Options{URL: h.sim.URL + "/service/marathon", ClientID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	h.mc = mc
	h.start()
	t.Cleanup(h.stop)
	return h
}

func testLogger(t testing.TB) logrus.FieldLogger {
	l := logrus.New()
	if os.Getenv("UO_TEST_LOG") != "" {
		l.SetLevel(logrus.DebugLevel)
	} else {
		l.SetOutput(io.Discard)
	}
	return l.WithField("test", t.Name())
}

// build makes a controller on the harness's state directory (not started).
func (h *harness) build(leader controller.Leader) (*controller.Controller, state.Store) {
	t := h.t
	t.Helper()
	log := testLogger(t)
	gc, err := git.New(git.Options{CacheDir: h.cacheDir, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	sopts := source.Options{Git: gc, Logger: log}
	u, err := source.NewUniverses([]config.UniverseSource{{Name: "universe",
		Git: &config.GitSource{URL: h.gitSrv.URL("universe"), Ref: "main", Path: "packages"}}}, sopts)
	if err != nil {
		t.Fatal(err)
	}
	r, err := source.NewReleases(config.ReleaseSource{Git: &config.GitSource{URL: h.gitSrv.URL("releases"), Ref: "main", Path: "releases"}}, sopts)
	if err != nil {
		t.Fatal(err)
	}
	var mc *marathon.Client
	if h.opts.marathonFn != nil {
		mc = h.opts.marathonFn(h.sim.URL + "/service/marathon")
	} else {
		mc, err = marathon.New(marathon.Options{URL: h.sim.URL + "/service/marathon", ClientID: "controller",
			Timeout: 5 * time.Second, EventBackoffInitial: 50 * time.Millisecond, EventBackoffMax: 500 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
	}
	store, err := state.OpenFile(h.stateDir)
	if err != nil {
		t.Fatal(err)
	}
	if leader == nil {
		leader = h.opts.leader
	}
	var un controller.Uninstaller
	if h.opts.uninstaller != nil {
		un = h.opts.uninstaller(controller.DeleteUninstaller{Marathon: mc})
	}
	c, err := controller.New(controller.Options{
		Uninstaller: un,
		Marathon:    mc, Sources: controller.NewSourceSet(u, r, log), Store: storeOpt(store), Logger: log,
		Workers: max(h.opts.workers, 4), Interval: h.opts.interval, Prune: h.opts.prune, PruneMaxFraction: h.opts.fraction,
		PruneAllowEmpty: h.opts.allowEmpty, StuckAfter: h.opts.stuck,
		BackoffInitial: 50 * time.Millisecond, BackoffMax: 500 * time.Millisecond, RelistBackoffMax: 500 * time.Millisecond,
		WaitRecheck: 200 * time.Millisecond, EventDelay: 5 * time.Millisecond,
		WriteGrace: 3 * time.Second, UnknownWriteGrace: time.Second, RequestTimeout: 5 * time.Second,
		WebhookSecret: h.opts.webhook, UIToken: h.opts.uiToken, Version: "test", Leader: leader,
		ProgressDeadline: h.opts.progress, HistoryLimit: h.opts.history,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, store
}

// start starts a controller on the harness's state directory.
func (h *harness) start() { h.startWith(nil) }

func (h *harness) startWith(leader controller.Leader) {
	t := h.t
	t.Helper()
	c, store := h.build(leader)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer store.Close()
		if err := c.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	srv := httptest.NewServer(c.Handler())
	h.mu.Lock()
	h.c, h.api, h.cancel, h.done = c, srv, cancel, done
	h.mu.Unlock()
}

// stop stops the controller (as a kill would: its context is cancelled).
func (h *harness) stop() {
	h.mu.Lock()
	cancel, done, srv, c := h.cancel, h.done, h.api, h.c
	h.cancel = nil
	h.mu.Unlock()
	if cancel == nil {
		return
	}
	c.Stream().Close()
	srv.Close()
	cancel()
	<-done
}

func (h *harness) ctl() *controller.Controller {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.c
}

func (h *harness) apiURL() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.api.URL
}

// commitReleases writes manifests (name -> content; "" removes) and commits.
func (h *harness) commitReleases(files map[string]string) {
	h.t.Helper()
	for name, content := range files {
		if content == "" {
			h.rel.Remove("releases/" + name + ".yaml")
		} else {
			h.rel.Write("releases/"+name+".yaml", content)
		}
	}
	h.rel.Commit("releases")
}

// fixedLeader is a Leader that never changes.
type fixedLeader bool

func (l fixedLeader) IsLeader() bool         { return bool(l) }
func (fixedLeader) LeaderID() string         { return "someone-else" }
func (fixedLeader) Changed() <-chan struct{} { return nil }

// eventually polls cond until it holds or the deadline passes.
func (h *harness) eventually(what string, cond func() (bool, string)) {
	h.t.Helper()
	end := time.Now().Add(deadline)
	last := ""
	for time.Now().Before(end) {
		ok, why := cond()
		if ok {
			return
		}
		last = why
		time.Sleep(25 * time.Millisecond)
	}
	h.t.Fatalf("timed out waiting for %s; last state: %s", what, last)
}

// release reads a release from the status API (over HTTP, as a user would).
func (h *harness) release(name string) (api.Release, bool) {
	resp, err := http.Get(h.apiURL() + "/api/v1/releases/" + name)
	if err != nil {
		return api.Release{}, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return api.Release{}, false
	}
	var r api.Release
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return api.Release{}, false
	}
	return r, true
}

func (h *harness) list() api.ReleaseList {
	resp, err := http.Get(h.apiURL() + "/api/v1/releases")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var l api.ReleaseList
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
		h.t.Fatal(err)
	}
	return l
}

func brief(r api.Release) string {
	b, _ := json.Marshal(struct {
		Sync, Reason, Health, Status string
		Err                          *api.Error
		Deps                         []string
	}{r.Sync, r.SyncReason, r.Health, r.Status, r.LastError, r.Deployments})
	return string(b)
}

// waitSynced waits until a release is Synced and Healthy (or the wanted health).
func (h *harness) waitSynced(name, health string) api.Release {
	h.t.Helper()
	var got api.Release
	h.eventually(name+" Synced/"+health, func() (bool, string) {
		r, ok := h.release(name)
		if !ok {
			return false, "not in the status API"
		}
		got = r
		return r.Sync == api.SyncSynced && r.Health == health && len(r.Deployments) == 0, brief(r)
	})
	return got
}

// app reads an app from the simulator (nil when absent).
func (h *harness) app(id string) *marathon.App {
	a, err := h.mc.GetApp(context.Background(), id)
	if marathon.IsNotFound(err) {
		return nil
	}
	if err != nil {
		h.t.Fatalf("get app %s: %v", id, err)
	}
	return a
}

// writes counts the controller's accepted writes in the simulator's log:
// POST /v2/apps (any app), PUT and DELETE per app path.
type writeCount struct{ posts, puts, deletes int }

func (h *harness) writes(appPath string) writeCount {
	var w writeCount
	for _, r := range h.sim.Marathon.RequestLog() {
		if r.ClientID != "controller" || r.Status < 200 || r.Status >= 300 {
			continue
		}
		switch {
		case r.Method == http.MethodPost && r.Path == "/v2/apps":
			w.posts++
		case r.Method == http.MethodPut && r.Path == "/v2/apps"+appPath:
			w.puts++
		case r.Method == http.MethodDelete && r.Path == "/v2/apps"+appPath:
			w.deletes++
		}
	}
	return w
}

// requests counts every request the controller made to Marathon.
func (h *harness) requests() []simmarathon.RequestRecord {
	var out []simmarathon.RequestRecord
	for _, r := range h.sim.Marathon.RequestLog() {
		if r.ClientID == "controller" {
			out = append(out, r)
		}
	}
	return out
}

// storeOpt drops the store when UO_NO_STORE is set (benchmark comparisons).
func storeOpt(s state.Store) state.Store {
	if os.Getenv("UO_NO_STORE") != "" {
		return nil
	}
	return s
}
