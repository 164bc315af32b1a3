package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/api"
	"github.com/universe-operator/universe-operator/internal/testenv"
	"github.com/universe-operator/universe-operator/sim"
)

// BenchmarkProcess2000 runs the real binary (`universe-operator run`, built
// here or taken from $UO_BINARY) as a separate process against a simulated
// cluster and a loopback Git server holding 2,000 releases (1,000 with
// UO_BENCH_RELEASES set to 1000, etc.), and reports the controller
// process's own figures: wall time to converge from empty, resident memory
// (VmRSS and VmHWM from /proc) once converged, and CPU time per poll pass
// with nothing to do (utime+stime from /proc over a window of passes; a poll
// pass includes checking both Git sources for new commits).
func BenchmarkProcess2000(b *testing.B) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("UO_BENCH_RELEASES")); err == nil && v > 0 {
		n = v
	}
	bin := os.Getenv("UO_BINARY")
	dir := b.TempDir()
	if bin == "" {
		bin = filepath.Join(dir, "universe-operator")
		goTool := testenv.Binary(b, "go")
		out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput()
		if err != nil {
			b.Fatalf("go build: %v\n%s", err, out)
		}
	}
	for range b.N {
		benchProcess(b, bin, dir, n)
	}
}

func benchProcess(b *testing.B, bin, dir string, n int) {
	so := sim.FastOptions()
	cluster := sim.NewServer(so)
	defer cluster.Close()

	repos := testenv.NewGitRepos(b)
	uni := repos.Create("universe")
	uni.WriteFiles(map[string]string{
		"packages/B/bench/0/package.json": `{"packagingVersion":"4.0","name":"bench","version":"1.0.0","maintainer":"b@example.invalid","description":"d","tags":["t"]}`,
		"packages/B/bench/0/config.json":  `{"type":"object","properties":{"id":{"type":"string","default":"/bench/x"}}}`,
		"packages/B/bench/0/marathon.json.mustache": `{"id":"{{id}}","cmd":"sleep 100000","cpus":0.01,"mem":16,"instances":1,` +
			`"env":{"MODE":"bench"},"labels":{"DCOS_SERVICE_NAME":"{{id}}"}}`,
	})
	uni.Commit("bench package")
	rel := repos.Create("releases")
	files := map[string]string{}
	for i := range n {
		name := fmt.Sprintf("r%04d", i)
		files["releases/"+name+".yaml"] = fmt.Sprintf("apiVersion: universe-operator/v1\nkind: PackageRelease\nmetadata:\n  name: %s\nspec:\n  package: bench\n  options: {id: /bench/%s}\n", name, name)
	}
	rel.WriteFiles(files)
	rel.Commit("releases")
	srv := testenv.StartGitHTTP(b, repos, nil)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	interval := 2 * time.Second
	cfg := fmt.Sprintf(`dcos_url: %s
universes:
  - name: bench
    git: {url: %s, ref: main, path: packages}
releases:
  git: {url: %s, ref: main, path: releases}
interval: %s
listen: %s
state_dir: %s
workers: 8
log_level: warn
`, cluster.URL, srv.URL("universe"), srv.URL("releases"), interval, addr, filepath.Join(dir, fmt.Sprintf("state-%d", time.Now().UnixNano())))
	cfgFile := filepath.Join(dir, "bench.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "run", "--config", cfgFile)
	logFile, _ := os.Create(filepath.Join(dir, "controller.log"))
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
		}
	}()
	base := "http://" + addr
	end := time.Now().Add(10 * time.Minute)
	for {
		synced, total := countSynced(base)
		if total == n && synced == n {
			break
		}
		if time.Now().After(end) {
			log, _ := os.ReadFile(filepath.Join(dir, "controller.log"))
			b.Fatalf("not converged: %d/%d synced (of %d); log:\n%s", synced, n, total, tail(string(log), 3000))
		}
		time.Sleep(200 * time.Millisecond)
	}
	converge := time.Since(start)
	time.Sleep(2 * interval) // settle
	pid := cmd.Process.Pid
	p0 := passes(base)
	c0 := procCPU(pid)
	t0 := time.Now()
	// No polling in between: a /metrics scrape (2,000 info series) costs
	// the controller CPU too.
	time.Sleep(10*interval + interval/2)
	c1 := procCPU(pid)
	p1 := passes(base)
	window := time.Since(t0)
	rss, hwm := procMem(pid)
	b.ReportMetric(converge.Seconds(), "s-to-converge")
	b.ReportMetric(rss, "rss-MB")
	b.ReportMetric(hwm, "peak-rss-MB")
	if p1 > p0 {
		b.ReportMetric(float64((c1-c0).Microseconds())/1000/float64(p1-p0), "cpu-ms/poll-pass")
		b.ReportMetric(window.Seconds()/float64(p1-p0), "s/pass")
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func countSynced(base string) (synced, total int) {
	resp, err := http.Get(base + "/api/v1/releases")
	if err != nil {
		return 0, 0
	}
	defer resp.Body.Close()
	var l api.ReleaseList
	if json.NewDecoder(resp.Body).Decode(&l) != nil {
		return 0, 0
	}
	for _, r := range l.Releases {
		if r.Sync == api.SyncSynced && r.Tasks.Running == 1 && len(r.Deployments) == 0 {
			synced++
		}
	}
	return synced, len(l.Releases)
}

// passes sums universe_operator_passes_total{result="ok"} from /metrics.
func passes(base string) float64 {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "universe_operator_passes_total{") && strings.Contains(l, `result="ok"`) {
			f := strings.Fields(l)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			sum += v
		}
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return sum
}

// procCPU reads utime+stime of a process (clock ticks of 10 ms).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// procMem reads VmRSS and VmHWM (MB).
func procMem(pid int) (rss, hwm float64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			hwm = kb / 1024
		}
	}
	return rss, hwm
}
