package marathon

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/sim/fault"
)

// fastTiming makes deployments, staging and health checks take milliseconds.
var fastTiming = Timing{
	DeploymentDuration: 60 * time.Millisecond,
	TaskStageDuration:  10 * time.Millisecond,
	HealthDelay:        20 * time.Millisecond,
	TimeScale:          0.01,
}

type env struct {
	t   testing.TB
	srv *Server
	api *httptest.Server
	ctl *httptest.Server
}

func newEnv(t testing.TB, opts Options) *env {
	t.Helper()
	if opts.Timing == (Timing{}) {
		opts.Timing = fastTiming
	}
	srv := New(opts)
	e := &env{t: t, srv: srv, api: httptest.NewServer(srv.Handler()), ctl: httptest.NewServer(srv.ControlHandler())}
	t.Cleanup(func() {
		srv.CloseEventStreams()
		e.api.Close()
		e.ctl.Close()
		srv.Close()
	})
	return e
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

func doReq(t testing.TB, method, url, body string, headers ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, b}
}

func (e *env) do(method, path, body string, headers ...string) response {
	e.t.Helper()
	return doReq(e.t, method, e.api.URL+path, body, headers...)
}

func (e *env) control(method, path, body string) response {
	e.t.Helper()
	return doReq(e.t, method, e.ctl.URL+path, body)
}

// app returns GET /v2/apps/{id} as a map (fails on non-200).
func (e *env) app(id string) map[string]any {
	e.t.Helper()
	r := e.do("GET", "/v2/apps"+id, "")
	if r.status != 200 {
		e.t.Fatalf("GET app %s: %d %s", id, r.status, r.body)
	}
	return r.json(e.t)["app"].(map[string]any)
}

// waitFor polls cond until it holds or the generous deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (e *env) deploymentCount() int {
	e.t.Helper()
	var list []any
	r := e.do("GET", "/v2/deployments", "")
	if err := json.Unmarshal(r.body, &list); err != nil {
		e.t.Fatalf("deployments: %v %s", err, r.body)
	}
	return len(list)
}

func (e *env) waitIdle() {
	e.t.Helper()
	waitFor(e.t, "no deployments", func() bool { return e.deploymentCount() == 0 })
}

// sse is a minimal /v2/events reader.
type sse struct {
	resp   *http.Response
	events chan sseMsg
}

type sseMsg struct {
	typ  string
	data map[string]any
	raw  string
}

func (e *env) subscribe(query string) *sse { return e.subscribeDecoding(query) }

// subscribeDecoding subscribes and decodes the data of the given event types
// only (all when none are given), to keep a fast reader fast.
func (e *env) subscribeDecoding(query string, decode ...string) *sse {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.api.URL+"/v2/events"+query, nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		e.t.Fatalf("events: %d", resp.StatusCode)
	}
	s := &sse{resp: resp, events: make(chan sseMsg, 100000)}
	go func() {
		defer close(s.events)
		rd := bufio.NewReader(resp.Body)
		var typ, data string
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\r\n")
			switch {
			case strings.HasPrefix(line, "event: "):
				typ = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data = strings.TrimPrefix(line, "data: ")
			case line == "" && typ != "":
				var m map[string]any
				if len(decode) == 0 || contains(decode, typ) {
					_ = json.Unmarshal([]byte(data), &m)
				}
				s.events <- sseMsg{typ, m, data}
				typ, data = "", ""
			}
		}
	}()
	e.t.Cleanup(func() { resp.Body.Close() })
	return s
}

// next returns the next event of one of the given types (any when none).
func (s *sse) next(t testing.TB, types ...string) sseMsg {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case m, ok := <-s.events:
			if !ok {
				t.Fatalf("event stream closed while waiting for %v", types)
			}
			if len(types) == 0 || contains(types, m.typ) {
				return m
			}
		case <-timeout:
			t.Fatalf("timed out waiting for events %v", types)
		}
	}
}

var versionZero = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

func faultRule(method, path string, drop bool) fault.Rule {
	return fault.Rule{Method: method, Path: path, Drop: drop}
}
