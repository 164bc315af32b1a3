package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/api"
	"github.com/universe-operator/universe-operator/clients/marathon"
	"github.com/universe-operator/universe-operator/examples"
	"github.com/universe-operator/universe-operator/internal/testenv"
	"github.com/universe-operator/universe-operator/sim"
	simmarathon "github.com/universe-operator/universe-operator/sim/marathon"
)

// haProcess is one `universe-operator run` process of the HA test.
type haProcess struct {
	name, addr, id string
	cmd            *exec.Cmd
	log            string
	done           chan struct{}
}

func (p *haProcess) base() string { return "http://" + p.addr }

// info reads the process's controller status (nil when it does not answer).
func (p *haProcess) info() *api.ControllerInfo {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(p.base() + "/api/v1/releases")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var l api.ReleaseList
	if json.NewDecoder(resp.Body).Decode(&l) != nil || l.Controller == nil {
		return nil
	}
	return l.Controller
}

func (p *haProcess) release(name string) (api.Release, bool) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(p.base() + "/api/v1/releases/" + name)
	if err != nil {
		return api.Release{}, false
	}
	defer resp.Body.Close()
	var r api.Release
	return r, resp.StatusCode == 200 && json.NewDecoder(resp.Body).Decode(&r) == nil
}

// TestHAFailover runs two controller processes (the real binary) with one
// ZooKeeper against a simulated cluster while a drift generator keeps the
// leader writing. It kills the leader with SIGKILL and measures the
// takeover; then freezes the new leader (SIGSTOP) past its session, lets
// the other take over, and thaws it (SIGCONT): the thawed replica must not
// write. In both cases the simulator's request log (X-Client-Id per
// process) shows no write from the old leader after the new leader's first
// write, and the new term starts after the old one ended. The default
// zookeeper.session_timeout (10s) is used: takeover must stay within 15s.
func TestHAFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the HA test runs two processes for about a minute")
	}
	zk := testenv.StartZooKeeper(t)
	dir := t.TempDir()
	bin := os.Getenv("UO_BINARY")
	if bin == "" {
		bin = filepath.Join(dir, "universe-operator")
		out, err := exec.Command(testenv.Binary(t, "go"), "build", "-o", bin, ".").CombinedOutput()
		if err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
	}
	cluster := sim.NewServer(sim.FastOptions())
	t.Cleanup(cluster.Close)

	repos := testenv.NewGitRepos(t)
	uni := repos.Create("universe")
	files := map[string]string{}
	if err := fs.WalkDir(examples.Packages(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(examples.Packages(), p)
		files[path.Join("repo/packages", p)] = string(b)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	uni.WriteFiles(files)
	uni.Commit("examples")
	rel := repos.Create("releases")
	for _, n := range []string{"one", "two", "three"} {
		rel.Write("releases/"+n+".yaml", fmt.Sprintf("apiVersion: universe-operator/v1\nkind: PackageRelease\nmetadata:\n  name: %s\n"+
			"spec:\n  package: greeter\n  options: {greeter: {name: /ha/%s}}\n", n, n))
	}
	rel.Commit("releases")
	srv := testenv.StartGitHTTP(t, repos, nil)

	var mu sync.Mutex
	var procs []*haProcess
	start := func(name string) *haProcess {
		t.Helper()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		cfg := fmt.Sprintf(`dcos_url: %s
zookeeper:
  servers: [%s]
  path: /uo-ha
universes:
  - name: examples
    git: {url: %s, ref: main, path: repo/packages}
releases:
  git: {url: %s, ref: main, path: releases}
interval: 1s
listen: %s
state_dir: %s
log_level: info
`, cluster.URL, zk.Addr, srv.URL("universe"), srv.URL("releases"), addr, filepath.Join(dir, name))
		cfgFile := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		p := &haProcess{name: name, addr: addr, log: filepath.Join(dir, name+".log"), done: make(chan struct{})}
		lf, err := os.Create(p.log)
		if err != nil {
			t.Fatal(err)
		}
		p.cmd = exec.Command(bin, "run", "--config", cfgFile)
		p.cmd.Stdout, p.cmd.Stderr = lf, lf
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { _ = p.cmd.Wait(); lf.Close(); close(p.done) }()
		mu.Lock()
		procs = append(procs, p)
		mu.Unlock()
		return p
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range procs {
			_ = p.cmd.Process.Signal(syscall.SIGCONT)
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(20 * time.Second):
				_ = p.cmd.Process.Kill()
				<-p.done
			}
			if t.Failed() {
				b, _ := os.ReadFile(p.log)
				t.Logf("log of %s:\n%s", p.name, tail(string(b), 4000))
			}
		}
	})
	waitFor := func(what string, limit time.Duration, cond func() bool) time.Duration {
		t.Helper()
		t0 := time.Now()
		for !cond() {
			if time.Since(t0) > limit {
				t.Fatalf("timed out after %s waiting for %s", limit, what)
			}
			time.Sleep(20 * time.Millisecond)
		}
		return time.Since(t0)
	}
	isLeader := func(p *haProcess) bool { i := p.info(); return i != nil && i.Leader }

	a := start("a")
	waitFor("a leads", 60*time.Second, func() bool { return isLeader(a) })
	a.id = a.info().LeaderID
	b := start("b")
	waitFor("b follows a", 60*time.Second, func() bool { i := b.info(); return i != nil && !i.Leader && i.LeaderID == a.id })
	b.id = "" // learned from its own status once it leads
	for _, n := range []string{"one", "two", "three"} {
		waitFor(n+" synced, history on the follower", 60*time.Second, func() bool {
			r, ok := b.release(n)
			return ok && r.Sync == api.SyncSynced && len(r.History) == 1 && r.History[0].Outcome == "Succeeded"
		})
	}

	// The drift generator: the test scales /ha/one to 2 every 300ms; the
	// leader corrects it (PUT), so the leader writes all the time.
	mc, err := marathon.New(marathon.Options{URL: cluster.URL + "/service/marathon", ClientID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	stopDrift := make(chan struct{})
	driftDone := make(chan struct{})
	go func() {
		defer close(driftDone)
		for {
			select {
			case <-stopDrift:
				return
			case <-time.After(300 * time.Millisecond):
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if app, err := mc.GetApp(ctx, "/ha/one"); err == nil && app.Instances == 1 && len(app.Deployments) == 0 {
				var def map[string]any
				if json.Unmarshal(app.Raw, &def) == nil {
					for _, k := range []string{"version", "versionInfo", "tasks", "tasksRunning", "tasksStaged", "tasksHealthy",
						"tasksUnhealthy", "deployments", "lastTaskFailure"} {
						delete(def, k)
					}
					def["instances"] = 2
					body, _ := json.Marshal(def)
					_, _ = mc.UpdateApp(ctx, "/ha/one", body, true)
				}
			}
			cancel()
		}
	}()
	defer func() {
		select {
		case <-stopDrift:
		default:
			close(stopDrift)
		}
		<-driftDone
	}()
	writesBy := func(id string) []simmarathon.RequestRecord {
		var out []simmarathon.RequestRecord
		for _, r := range cluster.Marathon.RequestLog() {
			if r.ClientID == id && r.Method != http.MethodGet && r.Method != http.MethodHead {
				out = append(out, r)
			}
		}
		return out
	}
	waitFor("the leader corrects drift", 30*time.Second, func() bool { return len(writesBy(a.id)) >= 3 })

	// 1. SIGKILL the leader.
	aSince := a.info().LeaderSince
	killAt := time.Now()
	if err := syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	took := waitFor("b takes over", 30*time.Second, func() bool { return isLeader(b) })
	bInfo := b.info()
	b.id = bInfo.LeaderID
	waitFor("b writes", 30*time.Second, func() bool { return len(writesBy(b.id)) > 0 })
	firstB := writesBy(b.id)[0].Time
	t.Logf("SIGKILL: takeover (status leader=true) after %s; first write by the new leader after %s", took.Round(time.Millisecond), firstB.Sub(killAt).Round(time.Millisecond))
	if took > 15*time.Second {
		t.Errorf("takeover took %s (> 15s)", took)
	}
	checkHandover(t, writesBy(a.id), firstB, "a (killed)")
	if !bInfo.LeaderSince.After(killAt) || !bInfo.LeaderSince.After(aSince) {
		t.Errorf("b's term started at %s, a was killed at %s (a led since %s)", bInfo.LeaderSince, killAt, aSince)
	}
	if last := lastWrite(writesBy(a.id)); !last.Before(killAt) {
		t.Errorf("a wrote at %s, after its kill at %s", last, killAt)
	}

	// 2. A new replica joins; freeze the leader (b) past its session.
	c := start("c")
	waitFor("c follows b", 60*time.Second, func() bool { i := c.info(); return i != nil && !i.Leader && i.LeaderID == b.id })
	waitFor("b keeps writing", 30*time.Second, func() bool { return len(writesBy(b.id)) >= 3 })
	stopAt := time.Now()
	if err := syscall.Kill(-b.cmd.Process.Pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	took = waitFor("c takes over", 30*time.Second, func() bool { return isLeader(c) })
	cInfo := c.info()
	c.id = cInfo.LeaderID
	waitFor("c writes", 30*time.Second, func() bool { return len(writesBy(c.id)) > 0 })
	firstC := writesBy(c.id)[0].Time
	t.Logf("SIGSTOP: takeover after %s; first write by the new leader after %s", took.Round(time.Millisecond), firstC.Sub(stopAt).Round(time.Millisecond))
	if took > 15*time.Second {
		t.Errorf("takeover took %s (> 15s)", took)
	}
	// Thaw b: its lease ran out while frozen, so it must not write; it
	// becomes a follower of c.
	if err := syscall.Kill(-b.cmd.Process.Pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitFor("b follows c", 60*time.Second, func() bool { i := b.info(); return i != nil && !i.Leader && i.LeaderID == c.id })
	waitFor("c keeps writing", 30*time.Second, func() bool { return len(writesBy(c.id)) >= 5 })
	close(stopDrift)
	<-driftDone
	checkHandover(t, writesBy(b.id), firstC, "b (frozen, then thawed)")
	if last := lastWrite(writesBy(b.id)); !last.Before(stopAt) {
		t.Errorf("b wrote at %s, after it was frozen at %s", last, stopAt)
	}
	if !cInfo.LeaderSince.After(stopAt) {
		t.Errorf("c's term started at %s, before b was frozen at %s", cInfo.LeaderSince, stopAt)
	}
	// Never two writers: every write comes from the leader of its time.
	type span struct {
		id       string
		from, to time.Time
	}
	all := append(append(writesBy(a.id), writesBy(b.id)...), writesBy(c.id)...)
	sort.Slice(all, func(i, j int) bool { return all[i].Time.Before(all[j].Time) })
	var spans []span
	for _, r := range all {
		if n := len(spans); n > 0 && spans[n-1].id == r.ClientID {
			spans[n-1].to = r.Time
			continue
		}
		spans = append(spans, span{r.ClientID, r.Time, r.Time})
	}
	var order []string
	for _, s := range spans {
		order = append(order, s.id)
	}
	if len(spans) != 3 || spans[0].id != a.id || spans[1].id != b.id || spans[2].id != c.id {
		t.Fatalf("writers interleave: %s", strings.Join(order, " -> "))
	}
	// The cluster converged under the last leader.
	for _, n := range []string{"one", "two", "three"} {
		waitFor(n+" synced on c", 60*time.Second, func() bool {
			r, ok := c.release(n)
			return ok && r.Sync == api.SyncSynced && r.Tasks.Running == 1
		})
	}
}

// checkHandover fails when old wrote at or after the new leader's first write.
func checkHandover(t *testing.T, old []simmarathon.RequestRecord, firstNew time.Time, who string) {
	t.Helper()
	for _, r := range old {
		if !r.Time.Before(firstNew) {
			t.Errorf("%s wrote %s %s at %s, after the new leader's first write at %s", who, r.Method, r.Path, r.Time, firstNew)
		}
	}
}

func lastWrite(rs []simmarathon.RequestRecord) time.Time {
	var last time.Time
	for _, r := range rs {
		if r.Time.After(last) {
			last = r.Time
		}
	}
	return last
}
