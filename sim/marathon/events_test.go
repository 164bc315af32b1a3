package marathon

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestEventStreamAcceptAndFrames(t *testing.T) {
	e := newEnv(t, Options{})
	// Without Accept: text/event-stream Jetty answers 405.
	for _, accept := range []string{"", "application/json", "text/event-stream, */*"} {
		r := e.do("GET", "/v2/events", "", "Accept", accept)
		if r.status != 405 || !strings.Contains(string(r.body), "HTTP method GET is not supported by this URL") {
			t.Errorf("Accept %q: %d %s", accept, r.status, r.body)
		}
	}

	req, _ := http.NewRequest("GET", e.api.URL+"/v2/events?event_type=deployment_success&event_type=api_post_event", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("content type %q", ct)
	}
	e.do("POST", "/v2/apps", `{"id":"/ev","cmd":"sleep 1"}`)
	rd := bufio.NewReader(resp.Body)
	var frames []string
	var cur strings.Builder
	for len(frames) < 2 {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(line, "\r\n") {
			t.Fatalf("line not CRLF-terminated: %q", line)
		}
		if line == "\r\n" {
			if cur.Len() > 0 {
				frames = append(frames, cur.String())
				cur.Reset()
			}
			continue
		}
		cur.WriteString(line)
	}
	if !strings.HasPrefix(frames[0], "event: api_post_event\r\ndata: {") || !strings.HasPrefix(frames[1], "event: deployment_success\r\ndata: {") {
		t.Fatalf("frames %q", frames)
	}
	var post map[string]any
	_ = json.Unmarshal([]byte(strings.TrimSuffix(strings.SplitN(frames[0], "data: ", 2)[1], "\r\n")), &post)
	if post["eventType"] != "api_post_event" || post["uri"] != "/v2/apps" || post["appDefinition"].(map[string]any)["id"] != "/ev" || post["timestamp"] == nil {
		t.Fatalf("api_post_event %v", post)
	}
}

func TestEventPayloads(t *testing.T) {
	e := newEnv(t, Options{})
	all := e.subscribe("")
	if m := all.next(t, "event_stream_attached"); m.data["remoteAddress"] == nil {
		t.Fatalf("attached %s", m.raw)
	}
	e.do("POST", "/v2/apps", `{"id":"/p/q","cmd":"sleep 1"}`)
	want := []string{"api_post_event", "group_change_success", "deployment_info", "deployment_step_success",
		"status_update_event", "instance_changed_event", "deployment_success"}
	seen := map[string]sseMsg{}
	for len(seen) < len(want) {
		m := all.next(t)
		if _, ok := seen[m.typ]; !ok {
			seen[m.typ] = m
		}
		if m.data["eventType"] != m.typ || m.data["timestamp"] == nil {
			t.Fatalf("%s lacks eventType/timestamp: %s", m.typ, m.raw)
		}
	}
	info := seen["deployment_info"].data
	plan := info["plan"].(map[string]any)
	if plan["id"] == nil || plan["target"].(map[string]any)["apps"].([]any)[0].(map[string]any)["id"] != "/p/q" ||
		info["currentStep"].(map[string]any)["actions"].([]any)[0].(map[string]any)["action"] != "StartApplication" {
		t.Fatalf("deployment_info %s", seen["deployment_info"].raw)
	}
	su := seen["status_update_event"].data
	for _, k := range []string{"slaveId", "taskId", "taskStatus", "message", "appId", "host", "ports", "version"} {
		if _, ok := su[k]; !ok {
			t.Errorf("status_update_event lacks %s: %s", k, seen["status_update_event"].raw)
		}
	}
	if su["appId"] != "/p/q" || su["taskStatus"] != "TASK_STAGING" {
		t.Errorf("status update %s", seen["status_update_event"].raw)
	}
	ds := seen["deployment_success"].data
	if ds["id"] == nil || ds["plan"] == nil {
		t.Errorf("deployment_success %s", seen["deployment_success"].raw)
	}
}

func TestSlowConsumerDisconnectedAndControlClose(t *testing.T) {
	e := newEnv(t, Options{EventBuffer: 4})
	// A subscriber that never reads is disconnected once it is 4 events behind
	// (the socket buffers absorb some first, so push plenty).
	req, _ := http.NewRequest("GET", e.api.URL+"/v2/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	slow, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Body.Close()
	waitFor(t, "subscriber", func() bool { return e.srv.bus.count() == 1 })
	big := strings.Repeat("x", 60000)
	for i := 0; e.srv.bus.count() > 0; i++ {
		e.srv.mu.Lock()
		e.srv.emit("api_post_event", map[string]string{"pad": big})
		e.srv.mu.Unlock()
		if i > 10000 {
			t.Fatal("slow subscriber never disconnected")
		}
	}
	if _, err := io.Copy(io.Discard, slow.Body); err != nil && !strings.Contains(err.Error(), "closed") {
		t.Logf("slow stream ended with %v", err)
	}

	// The control API closes every stream.
	ev := e.subscribe("")
	ev.next(t, "event_stream_attached")
	r := e.control("POST", "/events/close", "")
	if r.status != 200 || r.json(t)["closed"] != 1.0 {
		t.Fatalf("close: %d %s", r.status, r.body)
	}
	select {
	case _, ok := <-ev.events:
		for ok {
			_, ok = <-ev.events
		}
	case <-time.After(10 * time.Second):
		t.Fatal("stream not closed")
	}
	state := e.control("GET", "/", "").json(t)
	if state["eventStreamsDropped"].(float64) < 1 {
		t.Fatalf("state %v", state)
	}
}

// TestEventStreamKeepsUpWithDeployments runs 1,000 deployments (each taking
// 4 ms instead of seconds), started at up to 100 a second (six times the
// 1,000 a minute to keep up with), while a subscriber with Marathon's default
// buffer (50 events) follows deployment_success: it must see every one and
// never be disconnected. BenchmarkEventStream does the same with an
// unfiltered subscriber.
func TestEventStreamKeepsUpWithDeployments(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	e := newEnv(t, Options{Timing: Timing{DeploymentDuration: 4 * time.Millisecond, TaskStageDuration: time.Millisecond}})
	ev := e.subscribe("?event_type=deployment_success&event_type=deployment_failed")
	waitFor(t, "subscriber", func() bool { return e.srv.bus.count() == 1 })
	const n = 1000
	res := runDeployments(t, e, ev, n, 10*time.Millisecond)
	if res.missing != "" {
		t.Fatal(res.missing)
	}
	if e.srv.bus.count() != 1 {
		t.Fatal("subscriber was disconnected")
	}
	t.Logf("%d deployments and their events in %s (%.0f deployments/minute)", n, res.elapsed.Round(time.Millisecond),
		float64(n)/res.elapsed.Minutes())
}

type loadResult struct {
	elapsed time.Duration
	missing string
}

// runDeployments creates n apps, one every pace, and waits until ev has
// delivered deployment_success for each.
func runDeployments(t testing.TB, e *env, ev *sse, n int, pace time.Duration) loadResult {
	start := time.Now()
	done := make(chan map[string]bool, 1)
	go func() {
		got := map[string]bool{}
		for m := range ev.events {
			if m.typ == "deployment_success" {
				got[m.data["id"].(string)] = true
				if len(got) == n {
					break
				}
			}
		}
		done <- got
	}()
	ids := make([]string, 0, n)
	var tick <-chan time.Time
	if pace > 0 {
		tk := time.NewTicker(pace)
		defer tk.Stop()
		tick = tk.C
	}
	for i := 0; i < n; i++ {
		if tick != nil {
			<-tick
		}
		r := doReq(e.t, "POST", e.api.URL+"/v2/apps", `{"id":"/load/app-`+itoa(i)+`","cmd":"sleep 1","portDefinitions":[]}`)
		if r.status != 201 {
			return loadResult{missing: fmt.Sprintf("POST %d: %d %s", i, r.status, r.body)}
		}
		ids = append(ids, r.header.Get("Marathon-Deployment-Id"))
	}
	var got map[string]bool
	select {
	case got = <-done:
	case <-time.After(120 * time.Second):
		return loadResult{missing: "subscriber did not receive every deployment_success in time"}
	}
	for _, id := range ids {
		if !got[id] {
			return loadResult{missing: fmt.Sprintf("missing deployment_success for %s (got %d of %d): the stream was closed", id, len(got), n)}
		}
	}
	return loadResult{elapsed: time.Since(start)}
}

func itoa(i int) string { return strconv.Itoa(i) }
