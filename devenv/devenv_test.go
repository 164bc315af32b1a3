package devenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/sirupsen/logrus"

	"github.com/universe-operator/universe-operator/api"
	"github.com/universe-operator/universe-operator/config"
	"github.com/universe-operator/universe-operator/controller/webhook"
	"github.com/universe-operator/universe-operator/sim"
	"github.com/universe-operator/universe-operator/ui"
)

// deadline bounds every wait: generous for a loaded 2-core machine.
const deadline = 20 * time.Second

// fakeController stands in for the controller: these tests are about the
// orchestration around it (cmd/universe-operator's dev tests run the real
// one).
type fakeController struct {
	cfg    *config.Config
	stream *ui.Stream
	runErr error

	mu       sync.Mutex
	releases []api.Release
	sources  []api.SourceStatus
	pushes   []webhook.Push
	paths    []string
	running  bool
	closed   bool
}

func newFake() *fakeController {
	f := &fakeController{}
	f.stream = ui.NewStream(f.Releases)
	return f
}

func (f *fakeController) Run(ctx context.Context) error {
	f.mu.Lock()
	f.running = true
	f.mu.Unlock()
	if f.runErr != nil {
		return f.runErr
	}
	<-ctx.Done()
	f.mu.Lock()
	f.running = false
	f.mu.Unlock()
	return nil
}

func (f *fakeController) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/releases", func(w http.ResponseWriter, r *http.Request) {
		f.record(r)
		_ = json.NewEncoder(w).Encode(f.Releases())
	})
	mux.HandleFunc("GET /api/v1/releases/{name}/definition", func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprintf(w, `{"id":"/%s","healthChecks":[{"protocol":"MESOS_HTTP"}]}`, r.PathValue("name"))
	})
	mux.Handle("GET /api/v1/stream", f.stream)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		f.record(r)
		_, _ = io.WriteString(w, "fake ui at "+r.URL.Path)
	})
	return mux
}

func (f *fakeController) record(r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paths = append(f.paths, r.URL.Path)
}

func (f *fakeController) Releases() api.ReleaseList {
	f.mu.Lock()
	defer f.mu.Unlock()
	return api.ReleaseList{Releases: append([]api.Release(nil), f.releases...),
		Controller: &api.ControllerInfo{Sources: append([]api.SourceStatus(nil), f.sources...)}}
}

func (f *fakeController) Push(p webhook.Push) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pushes = append(f.pushes, p)
}

func (f *fakeController) Stream() *ui.Stream { return f.stream }

func (f *fakeController) set(rels []api.Release, loaded bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.releases = rels
	f.sources = []api.SourceStatus{{Name: "releases", Healthy: loaded, Revision: "abc"}}
}

func (f *fakeController) wire(ctx context.Context, cfg *config.Config, _ logrus.FieldLogger) (Controller, func(), error) {
	f.cfg = cfg
	return f, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.closed = true
	}, nil
}

func startFake(t *testing.T, f *fakeController, o Options) *Env {
	t.Helper()
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if o.Dir == "" {
		o.Dir = filepath.Join(t.TempDir(), "ws")
	}
	o.Fast = true
	o.Wire = f.wire
	o.WatchInterval = 20 * time.Millisecond
	e, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		_ = e.Shutdown(ctx)
	})
	return e
}

func get(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	c := &http.Client{Timeout: deadline, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStartServesShutsDownAndResumes(t *testing.T) {
	f := newFake()
	dir := filepath.Join(t.TempDir(), "ws")
	e := startFake(t, f, Options{Dir: dir, LogLevel: "debug"})

	if !e.Created || e.Dir != dir || e.Repo.Dir != filepath.Join(dir, RepoDirName) || e.Repo.Reused {
		t.Errorf("env %+v", e)
	}
	// The configuration the controller got is the file in the workspace.
	if f.cfg == nil || f.cfg.File != filepath.Join(dir, ConfigFileName) || f.cfg.Listen != strings.TrimSuffix(strings.TrimPrefix(e.UIURL, "http://"), "/") ||
		f.cfg.Marathon.URLs[0] != e.SimulatorURL+"/service/marathon" || f.cfg.StateDir != filepath.Join(dir, StateDirName) ||
		f.cfg.Interval.Duration != time.Second || f.cfg.LogLevel != "debug" {
		t.Errorf("config given to Wire: %+v", f.cfg)
	}

	// Routing: the controller at / and under the prefix (stripped), the
	// cluster's paths beside it.
	if code, body, _ := get(t, e.UIURL); code != 200 || body != "fake ui at /" {
		t.Errorf("GET / = %d %q", code, body)
	}
	if code, body, _ := get(t, e.PrefixURL+"release.html"); code != 200 || body != "fake ui at /release.html" {
		t.Errorf("GET prefix/release.html = %d %q", code, body)
	}
	if code, _, _ := get(t, e.PrefixURL+"api/v1/releases"); code != 200 {
		t.Errorf("GET prefix/api/v1/releases = %d", code)
	}
	if code, _, h := get(t, strings.TrimSuffix(e.PrefixURL, "/")+"?x=1"); code != http.StatusMovedPermanently || h.Get("Location") != PrefixPath+"/?x=1" {
		t.Errorf("GET prefix without slash = %d %q", code, h.Get("Location"))
	}
	if code, body, _ := get(t, e.UIURL+"service/marathon/v2/apps"); code != 200 || !strings.Contains(body, `"apps"`) {
		t.Errorf("Marathon through the UI address: %d %q", code, body)
	}
	if code, body, _ := get(t, e.SimulatorURL+"/simulator/v1/state"); code != 200 || !strings.Contains(body, "agents") {
		t.Errorf("simulator state: %d %.100q", code, body)
	}
	if code, _, _ := get(t, e.UIURL+"simulator/v1/state"); code != 200 {
		t.Errorf("simulator state through the UI address: %d", code)
	}

	// A commit on main is pushed to the controller at once.
	r, err := gogit.PlainOpen(e.Repo.Dir)
	if err != nil {
		t.Fatal(err)
	}
	wt, _ := r.Worktree()
	if _, err := wt.Remove(filepath.ToSlash(filepath.Join(ReleasesPath, "pingpong.yaml"))); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "t", Email: "t@example.invalid", When: time.Now()}
	h, err := wt.Commit("remove pingpong", &gogit.CommitOptions{Author: sig})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the push", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.pushes) > 0
	})
	f.mu.Lock()
	p := f.pushes[0]
	n := len(f.pushes)
	f.mu.Unlock()
	if p.After != h.String() || p.Ref != "refs/heads/main" || len(p.URLs) != 1 || !webhook.Matches(p, f.cfg.Releases.Git.URL, f.cfg.Releases.Git.Ref) ||
		!webhook.Matches(p, f.cfg.Universes[0].Git.URL, f.cfg.Universes[0].Git.Ref) {
		t.Errorf("push %+v does not match the sources", p)
	}
	time.Sleep(100 * time.Millisecond)
	f.mu.Lock()
	if len(f.pushes) != n {
		t.Errorf("the same commit pushed again: %v", f.pushes)
	}
	f.mu.Unlock()

	// Ready: not before the sources loaded and every release is up.
	up := []api.Release{rel("hello-web", "Synced", "Healthy", "Running", 2, 2), rel("greeter", "Synced", "Healthy", "Running", 1, 1)}
	f.set(up, false)
	time.Sleep(300 * time.Millisecond)
	select {
	case <-e.Ready():
		t.Fatal("ready before the sources loaded")
	default:
	}
	if d, s := e.ReadyAfter(); d != 0 || s != nil {
		t.Error("ReadyAfter before Ready")
	}
	f.set(append(up, rel("pingpong", "Progressing", "NA", "Deploying", 0, 1)), true)
	time.Sleep(300 * time.Millisecond)
	select {
	case <-e.Ready():
		t.Fatal("ready while a release progresses")
	default:
	}
	f.set(up, true)
	select {
	case <-e.Ready():
	case <-time.After(deadline):
		t.Fatal("never ready")
	}
	if d, s := e.ReadyAfter(); d <= 0 || len(s) != 2 {
		t.Errorf("ReadyAfter %v %v", d, s)
	}

	text := e.Instructions()
	for _, want := range []string{e.UIURL, e.PrefixURL, e.SimulatorURL + "/service/marathon/v2/apps", e.Repo.Dir, e.ConfigFile,
		"git merge --no-edit publish/hello-web-1.1.0", "releases/greeter.yaml", e.SimulatorURL + "/simulator/v1/marathon/apps/hello-web/health",
		"git rm -q releases/pingpong.yaml", "--dir " + dir} {
		if !strings.Contains(text, want) {
			t.Errorf("instructions lack %q:\n%s", want, text)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal("a second Shutdown:", err)
	}
	f.mu.Lock()
	if f.running || !f.closed {
		t.Errorf("after Shutdown: running %v, closed %v", f.running, f.closed)
	}
	f.mu.Unlock()
	for _, u := range []string{e.UIURL, e.SimulatorURL} {
		if resp, err := http.Get(u); err == nil {
			resp.Body.Close()
			t.Errorf("%s still serves after Shutdown", u)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, RepoDirName, ".git")); err != nil {
		t.Error("the workspace was not kept:", err)
	}

	// Resuming: the repository (with the commit) and the workspace are kept.
	f2 := newFake()
	e2 := startFake(t, f2, Options{Dir: dir})
	if e2.Created || !e2.Repo.Reused {
		t.Errorf("resumed env %+v", e2)
	}
	if head, _ := r.Head(); head.Hash() != h {
		t.Error("resuming moved main")
	}
	if strings.Contains(e2.Instructions(), "resume it with") {
		t.Error("a resumed workspace is offered for resuming again")
	}
}

func TestStartFailures(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	t.Run("port in use", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "ws")
		_, err := Start(context.Background(), Options{Dir: dir, Listen: busy.Addr().String(), Wire: newFake().wire})
		if err == nil || !strings.Contains(err.Error(), "--listen "+busy.Addr().String()+": the address is in use") {
			t.Fatalf("error %v", err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Error("the workspace was created although nothing could start")
		}
		_, err = Start(context.Background(), Options{Dir: dir, Listen: "127.0.0.1:0", SimulatorListen: busy.Addr().String(), Wire: newFake().wire})
		if err == nil || !strings.Contains(err.Error(), "--simulator-listen") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("foreign directory", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Start(context.Background(), Options{Dir: dir, Listen: "127.0.0.1:0", Wire: newFake().wire})
		if err == nil || !strings.Contains(err.Error(), "not a workspace of `universe-operator dev`") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("no wire", func(t *testing.T) {
		if _, err := Start(context.Background(), Options{}); err == nil {
			t.Fatal("no error without Wire")
		}
	})
	t.Run("wire fails", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		_, err = Start(context.Background(), Options{Dir: filepath.Join(t.TempDir(), "ws"), Listen: addr, Fast: true,
			Wire: func(context.Context, *config.Config, logrus.FieldLogger) (Controller, func(), error) {
				return nil, nil, errors.New("zookeeper: no servers answer")
			}})
		if err == nil || err.Error() != "starting the controller: zookeeper: no servers answer" {
			t.Fatalf("error %v", err)
		}
		// Everything was released: the port can be used again.
		ln, err = net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("the UI port was not released: %v", err)
		}
		ln.Close()
	})
	t.Run("loop stops", func(t *testing.T) {
		f := newFake()
		f.runErr = errors.New("marathon: unauthorized")
		e := startFake(t, f, Options{})
		select {
		case err := <-e.Failed():
			if err.Error() != "marathon: unauthorized" {
				t.Errorf("failure %v", err)
			}
		case <-time.After(deadline):
			t.Fatal("the stopped loop was not reported")
		}
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		if err := e.Shutdown(ctx); err == nil || !strings.Contains(err.Error(), "unauthorized") {
			t.Errorf("Shutdown after a failed loop: %v", err)
		}
	})
}

func TestDefaultWorkspaceAndSimulator(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	f := newFake()
	simOpts := sim.FastOptions()
	simOpts.DCOSVersion = "1.13.9"
	e, err := Start(context.Background(), Options{Listen: "127.0.0.1:0", Wire: f.wire, Simulator: &simOpts})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		_ = e.Shutdown(ctx)
	}()
	if !e.Created || !strings.HasPrefix(e.Dir, os.Getenv("TMPDIR")) || !strings.Contains(filepath.Base(e.Dir), "universe-operator-dev-") {
		t.Errorf("default workspace %s", e.Dir)
	}
	if f.cfg.Interval.Duration != DefaultInterval || f.cfg.DCOSVersion != "1.13.9" {
		t.Errorf("interval %v, dcos version %q", f.cfg.Interval.Duration, f.cfg.DCOSVersion)
	}
	if code, body, _ := get(t, e.SimulatorURL+"/dcos-metadata/dcos-version.json"); code != 200 || !strings.Contains(body, "1.13.9") {
		t.Errorf("dcos version %d %s", code, body)
	}
	if got := RealisticSimulator().Marathon.Timing; got.DeploymentDuration < time.Second || got.HealthDelay < time.Second || got.TimeScale != 1 {
		t.Errorf("realistic timing %+v", got)
	}
}
