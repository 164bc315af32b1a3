// Command devtime measures the acceptance figure of `universe-operator dev`:
// the time from starting the command to every example release being up
// (Synced, running every instance, and Healthy, or NA for an app without
// health checks), with the realistic simulator timing `dev` uses by default
// (not --fast). Each run uses a fresh workspace and free ports; the figures
// come from polling the controller's API from outside, as a user's browser
// would, and are printed next to what `dev` itself reports.
//
//	go run ./hack/devtime                 # build once, then 3 runs of the binary
//	go run ./hack/devtime -runs 5
//	go run ./hack/devtime -go-run         # each run is `go run ./cmd/universe-operator dev` (compile included)
//
// Run it from the repository root.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/universe-operator/universe-operator/api"
	"github.com/universe-operator/universe-operator/devenv"
)

func main() {
	runs := flag.Int("runs", 3, "number of runs")
	goRun := flag.Bool("go-run", false, "start each run with `go run ./cmd/universe-operator dev` instead of a prebuilt binary")
	timeout := flag.Duration("timeout", 90*time.Second, "give up on a run after this long")
	flag.Parse()
	if err := measure(*runs, *goRun, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "devtime:", err)
		os.Exit(1)
	}
}

func measure(runs int, goRun bool, timeout time.Duration) error {
	if _, err := os.Stat("go.mod"); err != nil {
		return errors.New("run it from the repository root")
	}
	tmp, err := os.MkdirTemp("", "devtime-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var argv []string
	if goRun {
		argv = []string{"go", "run", "./cmd/universe-operator", "dev"}
		fmt.Println("mode: go run ./cmd/universe-operator dev (compile and link included; build cache as it is)")
	} else {
		bin := filepath.Join(tmp, "universe-operator")
		start := time.Now()
		out, err := exec.Command("go", "build", "-o", bin, "./cmd/universe-operator").CombinedOutput()
		if err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
		fmt.Printf("mode: prebuilt binary (go build took %.1f s)\n", time.Since(start).Seconds())
		argv = []string{bin, "dev"}
	}
	var totals []time.Duration
	for i := 1; i <= runs; i++ {
		r, err := once(argv, filepath.Join(tmp, fmt.Sprintf("run%d", i)), timeout)
		if err != nil {
			return fmt.Errorf("run %d: %w", i, err)
		}
		fmt.Printf("run %d: %s\n", i, r)
		totals = append(totals, r.allUp)
	}
	slices.Sort(totals)
	fmt.Printf("start -> all releases up: min %.2f s, median %.2f s, max %.2f s over %d runs (target < 30 s)\n",
		totals[0].Seconds(), totals[len(totals)/2].Seconds(), totals[len(totals)-1].Seconds(), len(totals))
	return nil
}

// result is one run's figures, all from the process start.
type result struct {
	ui, firstAPI, allUp, shutdown time.Duration
	perRelease                    map[string]time.Duration
	summary                       string
	reported                      string // what dev printed
}

func (r result) String() string {
	names := make([]string, 0, len(r.perRelease))
	for n := range r.perRelease {
		names = append(names, n)
	}
	sort.Strings(names)
	var per []string
	for _, n := range names {
		per = append(per, fmt.Sprintf("%s %.2f s", n, r.perRelease[n].Seconds()))
	}
	return fmt.Sprintf("banner %.2f s, API answers %.2f s, up: %s; ALL UP %.2f s (dev reported %s s); SIGINT -> exit %.2f s\n       %s",
		r.ui.Seconds(), r.firstAPI.Seconds(), strings.Join(per, ", "), r.allUp.Seconds(), r.reported, r.shutdown.Seconds(), r.summary)
}

var (
	uiLine    = regexp.MustCompile(`^\s+UI\s+(http://\S+/)\s*$`)
	readyLine = regexp.MustCompile(`^>>> All \d+ releases are up, ([0-9.]+) s after start`)
)

func once(argv []string, dir string, timeout time.Duration) (result, error) {
	res := result{perRelease: map[string]time.Duration{}}
	args := append(slices.Clone(argv[1:]), "--listen", "127.0.0.1:0", "--dir", dir)
	cmd := exec.Command(argv[0], args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logFile, err := os.Create(dir + ".log")
	if err != nil {
		return res, err
	}
	defer logFile.Close()
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return res, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return res, err
	}
	exited := make(chan error, 1)
	stop := func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}()

	uiURL := make(chan string, 1)
	reported := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := uiLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case uiURL <- m[1]:
				default:
				}
			}
			if m := readyLine.FindStringSubmatch(sc.Text()); m != nil {
				reported <- m[1]
			}
		}
		exited <- cmd.Wait()
	}()
	deadline := time.After(timeout)
	var base string
	select {
	case base = <-uiURL:
		res.ui = time.Since(start)
	case err := <-exited:
		return res, fmt.Errorf("dev exited before serving: %v (log %s.log)", err, dir)
	case <-deadline:
		return res, fmt.Errorf("no UI URL printed within %v (log %s.log)", timeout, dir)
	}
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-deadline:
			return res, fmt.Errorf("not all releases up within %v (log %s.log)", timeout, dir)
		case err := <-exited:
			return res, fmt.Errorf("dev exited: %v (log %s.log)", err, dir)
		case <-time.After(50 * time.Millisecond):
		}
		list, err := getList(client, base)
		if err != nil {
			continue
		}
		if res.firstAPI == 0 {
			res.firstAPI = time.Since(start)
		}
		if !loaded(list) {
			continue
		}
		sums, all := devenv.Summarize(list.Releases, func(name string) (bool, bool) { return definesHealthChecks(client, base, name) })
		now := time.Since(start)
		for i, r := range list.Releases {
			if _, seen := res.perRelease[r.Name]; !seen && devenv.Up(r, sums[i].HealthChecks) {
				res.perRelease[r.Name] = now
			}
		}
		if all {
			res.allUp, res.summary = now, devenv.SummaryLine(sums)
			break
		}
	}
	select {
	case res.reported = <-reported:
	case <-time.After(5 * time.Second):
		res.reported = "?"
	}
	stopped := time.Now()
	stop()
	select {
	case err := <-exited:
		res.shutdown = time.Since(stopped)
		// `go run` itself exits 1 when interrupted: judge dev by its log.
		if log, _ := os.ReadFile(dir + ".log"); err != nil && (argv[0] != "go" || !strings.Contains(string(log), "stopped; the workspace is kept")) {
			return res, fmt.Errorf("dev exited with %v after SIGINT (log %s.log)", err, dir)
		}
	case <-time.After(20 * time.Second):
		return res, fmt.Errorf("dev did not stop within 20 s of SIGINT (log %s.log)", dir)
	}
	return res, nil
}

func getList(c *http.Client, base string) (api.ReleaseList, error) {
	var list api.ReleaseList
	resp, err := c.Get(base + "api/v1/releases")
	if err != nil {
		return list, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return list, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return list, json.NewDecoder(resp.Body).Decode(&list)
}

// loaded reports whether the controller has loaded every source.
func loaded(l api.ReleaseList) bool {
	if l.Controller == nil || len(l.Controller.Sources) == 0 || len(l.Releases) == 0 {
		return false
	}
	for _, s := range l.Controller.Sources {
		if !s.Healthy {
			return false
		}
	}
	return true
}

func definesHealthChecks(c *http.Client, base, name string) (bool, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"api/v1/releases/"+url.PathEscape(name)+"/definition", nil)
	if err != nil {
		return false, false
	}
	resp, err := c.Do(req)
	if err != nil {
		return false, false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return false, false
	}
	return devenv.DefinesHealthChecks(b)
}
