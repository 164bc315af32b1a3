package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/api"
	"github.com/universe-operator/universe-operator/devenv"
	"github.com/universe-operator/universe-operator/internal/testenv"
	"github.com/universe-operator/universe-operator/sim"
	"github.com/universe-operator/universe-operator/sim/marathon"
)

// devDeadline bounds every wait of the dev tests: generous, for a loaded
// 2-core machine under -race.
const devDeadline = 30 * time.Second

// demoSimulator is a simulator between --fast and the realistic default:
// seconds become 1/20 (a 10 s health-check interval is 0.5 s), so a health
// flip stays visible for a while before Marathon kills the task.
func demoSimulator() *sim.Options {
	o := sim.Options{Marathon: marathon.Options{Timing: marathon.Timing{
		DeploymentDuration: 400 * time.Millisecond,
		TaskStageDuration:  100 * time.Millisecond,
		HealthDelay:        200 * time.Millisecond,
		TimeScale:          0.05,
	}}}
	o.SDK.StepDuration, o.SDK.UninstallStepDuration = 100*time.Millisecond, 100*time.Millisecond
	return &o
}

// startDev runs the dev environment in process with the real wiring (the
// same devWire `dev` uses) on free ports.
func startDev(t *testing.T, simOpts *sim.Options) *devenv.Env {
	t.Helper()
	log, _ := newLogger(testLogWriter(t), "info")
	env, err := devenv.Start(context.Background(), devenv.Options{Dir: filepath.Join(t.TempDir(), "ws"),
		Listen: "127.0.0.1:0", Simulator: simOpts, Interval: time.Second, WatchInterval: 50 * time.Millisecond,
		Logger: log, Wire: devWire})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), devDeadline)
		defer cancel()
		if err := env.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return env
}

// testLogWriter discards logs unless UO_TEST_LOG is set.
func testLogWriter(t *testing.T) *logWriter {
	return &logWriter{t: t, on: os.Getenv("UO_TEST_LOG") != ""}
}

type logWriter struct {
	t  *testing.T
	on bool
}

func (w *logWriter) Write(p []byte) (int, error) {
	if w.on {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func waitReady(t *testing.T, env *devenv.Env) time.Duration {
	t.Helper()
	select {
	case <-env.Ready():
	case err := <-env.Failed():
		t.Fatalf("dev failed: %v", err)
	case <-time.After(devDeadline):
		t.Fatalf("the releases were not all up after %v: %s", devDeadline, releasesLine(t, env.UIURL))
	}
	took, _ := env.ReadyAfter()
	return took
}

func fetchReleases(t *testing.T, base string) map[string]api.Release {
	t.Helper()
	resp, err := http.Get(base + "api/v1/releases")
	if err != nil {
		t.Fatalf("GET releases: %v", err)
	}
	defer resp.Body.Close()
	var list api.ReleaseList
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatalf("decoding releases: %v", err)
	}
	out := map[string]api.Release{}
	for _, r := range list.Releases {
		out[r.Name] = r
	}
	return out
}

func releasesLine(t *testing.T, base string) string {
	var parts []string
	for _, r := range fetchReleases(t, base) {
		parts = append(parts, fmt.Sprintf("%s: %s/%s/%s %s %+v %v", r.Name, r.Sync, r.Health, r.Status, r.DeployedVersion, r.Tasks, r.LastError))
	}
	return strings.Join(parts, "; ")
}

// waitRelease polls the API until cond holds for the release.
func waitRelease(t *testing.T, base, name, what string, cond func(r api.Release, ok bool) bool) {
	t.Helper()
	end := time.Now().Add(devDeadline)
	for {
		r, ok := fetchReleases(t, base)[name]
		if cond(r, ok) {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s: %s", what, releasesLine(t, base))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDevCommand runs `dev` as the command does (flags, output, shutdown
// on cancellation) with --fast.
func TestDevCommand(t *testing.T) {
	var stdout, stderr syncBuffer
	dir := filepath.Join(t.TempDir(), "ws")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runDev(ctx, &stdout, &stderr, devFlags{listen: "127.0.0.1:0", simListen: "127.0.0.1:0", dir: dir,
			fast: true, logLevel: "info", shutdown: 10 * time.Second})
	}()
	waitFor(t, "the readiness notice", func() bool { return strings.Contains(stdout.String(), ">>> All 3 releases are up") })
	out := stdout.String()
	for _, want := range []string{"universe-operator dev is running", "/service/universe-operator/", "/service/marathon/v2/apps",
		filepath.Join(dir, "gitops"), filepath.Join(dir, "config.yaml"), "git merge --no-edit publish/hello-web-1.1.0",
		"hello-web 1.0.0 Synced Healthy 2/2", "greeter 1.0.0 Synced Healthy 1/1", "pingpong 0.1.0-1.0.0 Synced Healthy 1/1"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "level=") {
		t.Errorf("logs on stdout:\n%s", out)
	}
	if m := regexp.MustCompile(`up, ([0-9.]+) s after start`).FindStringSubmatch(out); m == nil {
		t.Errorf("no start-to-ready time in %q", out)
	} else {
		t.Logf("dev --fast: all releases up %s s after start", m[1])
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("dev returned %v", err)
		}
	case <-time.After(devDeadline):
		t.Fatal("dev did not stop")
	}
	errs := stderr.String()
	for _, want := range []string{"seeded the Git repository", "created app /hello-web", "all 3 releases are up", "shutting down", "stopped; the workspace is kept"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
}

func TestDevFlagErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"dev", "extra"}, exitUsage, "unknown command"},
		{[]string{"dev", "--interval", "10ms"}, exitUsage, "--interval must be at least 1s"},
		{[]string{"dev", "--shutdown-timeout", "0s"}, exitUsage, "--shutdown-timeout must be positive"},
		{[]string{"dev", "--log-level", "loud"}, exitUsage, "--log-level"},
		{[]string{"dev", "--listen", "127.0.0.1:99999"}, exitProblem, "--listen 127.0.0.1:99999"},
		{[]string{"dev", "--no-such-flag"}, exitUsage, "unknown flag"},
	} {
		code, _, stderr := runCLI(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
}

// TestDevSteps runs the printed commands, as printed, with git and curl,
// against dev with the real controller, and checks what the controller
// did: an upgrade through a new package revision, an upgrade of a pinned
// release, a health flip and back, and an SDK uninstall.
func TestDevSteps(t *testing.T) {
	gitBin := testenv.Binary(t, "git")
	curlBin := testenv.Binary(t, "curl")
	env := startDev(t, demoSimulator())
	took := waitReady(t, env)
	t.Logf("all releases up %v after start (1/20 time scale)", took.Round(time.Millisecond))
	base := env.UIURL
	steps := env.Steps()
	home := t.TempDir()
	shEnv := []string{"HOME=" + home, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0", "LC_ALL=C",
		"PATH=" + filepath.Dir(gitBin) + string(os.PathListSeparator) + filepath.Dir(curlBin) + string(os.PathListSeparator) + os.Getenv("PATH")}
	sh := func(s devenv.Step) {
		t.Helper()
		c := exec.Command("/bin/sh", "-c", s.Command)
		c.Env, c.Dir = shEnv, t.TempDir()
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", s.Command, err, out)
		}
	}

	// 1. A new package revision: hello-web follows "latest".
	start := time.Now()
	sh(steps[0])
	waitRelease(t, base, "hello-web", "hello-web 1.1.0 deployed and healthy", func(r api.Release, _ bool) bool {
		return r.DeployedVersion == "1.1.0" && devenv.Up(r, true)
	})
	t.Logf("hello-web upgraded and healthy %v after the merge", time.Since(start).Round(time.Millisecond))

	// 2. The pinned release.
	start = time.Now()
	sh(steps[1])
	waitRelease(t, base, "greeter", "greeter 1.1.0", func(r api.Release, _ bool) bool {
		return r.DeployedVersion == "1.1.0" && devenv.Up(r, false)
	})
	t.Logf("greeter upgraded %v after the commit", time.Since(start).Round(time.Millisecond))

	// 3. The health flip, and back.
	start = time.Now()
	sh(steps[2])
	waitRelease(t, base, "hello-web", "hello-web unhealthy", func(r api.Release, _ bool) bool {
		return r.Health == api.HealthUnhealthy
	})
	t.Logf("hello-web Unhealthy in the API %v after the flip", time.Since(start).Round(time.Millisecond))
	sh(devenv.Step{Command: strings.Replace(steps[2].Command, `{"healthy":false}`, `{"healthy":true}`, 1)})
	waitRelease(t, base, "hello-web", "hello-web healthy again", func(r api.Release, _ bool) bool {
		return devenv.Up(r, true)
	})

	// 4. The delete: an SDK uninstall, then the app is gone from Marathon.
	start = time.Now()
	sh(steps[3])
	waitRelease(t, base, "pingpong", "pingpong uninstalled", func(r api.Release, ok bool) bool {
		return !ok || (r.Cleanup != nil && r.Cleanup.State == "Complete")
	})
	t.Logf("pingpong uninstalled %v after the commit", time.Since(start).Round(time.Millisecond))
	resp, err := http.Get(env.SimulatorURL + "/service/marathon/v2/apps/pingpong")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("the pingpong app is still in Marathon (HTTP %d)", resp.StatusCode)
	}
	rels := fetchReleases(t, base)
	for _, name := range []string{"hello-web", "greeter"} {
		if r := rels[name]; r.Sync != api.SyncSynced {
			t.Errorf("%s left %s after the delete: %s", name, r.Sync, releasesLine(t, base))
		}
	}
}

// TestRunConfigEnv covers `run --config-env VAR`, which the DC/OS package
// (hack/dcos) runs with: its image has no shell to write a config file.
func TestRunConfigEnv(t *testing.T) {
	t.Setenv("UO_TEST_CONFIG_UNSET", "")
	t.Setenv("UO_TEST_CONFIG_BAD", `{"dcos_url": "http://leader.mesos", "listen": "0.0.0.0:8080", "universes": [], "releases": {"dir": "r"}, "tokn": 1}`)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"run"}, exitUsage, "--config FILE is required"},
		{[]string{"run", "--config", "x.yaml", "--config-env", "X"}, exitUsage, "exclude each other"},
		{[]string{"run", "--config-env", "UO_TEST_CONFIG_UNSET"}, exitProblem, "--config-env UO_TEST_CONFIG_UNSET: the environment variable is not set or empty"},
		{[]string{"run", "--config-env", "UO_TEST_CONFIG_BAD"}, exitProblem, "$UO_TEST_CONFIG_BAD: tokn: unknown key"},
	} {
		code, _, stderr := runCLI(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
	t.Setenv("UO_TEST_CONFIG_OK", "dcos_url: http://leader.mesos\nlisten: 0.0.0.0:8080\nstate_dir: state\n"+
		"universes: [{name: u, git: {url: 'https://git.example.com/u.git'}}]\nreleases: {git: {url: 'https://git.example.com/r.git'}}\n")
	cfg, err := configSource{env: "UO_TEST_CONFIG_OK"}.load()
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if cfg.StateDir != filepath.Join(wd, "state") || cfg.Listen != "0.0.0.0:8080" || cfg.Marathon.URLs[0] != "http://leader.mesos/service/marathon" {
		t.Errorf("config %+v", cfg)
	}
}
