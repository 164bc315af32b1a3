package marathon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/errs"
	"github.com/universe-operator/universe-operator/internal/testenv"
)

// recorded is one request as the fake server saw it.
type recorded struct {
	Method, Path, RawPath, RawQuery string
	Header                          http.Header
	Body                            []byte
}

// fake is an httptest server that records requests and answers with fn.
type fake struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

func newFake(t *testing.T, fn http.HandlerFunc) *fake {
	t.Helper()
	f := &fake{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, recorded{r.Method, r.URL.Path, r.URL.RawPath, r.URL.RawQuery, r.Header.Clone(), b})
		f.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
		fn(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fake) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

func (f *fake) last(t *testing.T) recorded {
	t.Helper()
	rs := f.requests()
	if len(rs) == 0 {
		t.Fatal("no request reached the server")
	}
	return rs[len(rs)-1]
}

func newClient(t *testing.T, url string, mod ...func(*Options)) *Client {
	t.Helper()
	o := Options{URL: url, Timeout: 5 * time.Second, EventBackoffInitial: 20 * time.Millisecond, EventBackoffMax: 200 * time.Millisecond}
	for _, m := range mod {
		m(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func jsonAnswer(status int, body string, hdr ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

var ctx = context.Background()

// An app definition with odd spacing, key order, unicode and escapes: it
// must reach Marathon byte for byte.
const oddApp = "{\"id\":\"/prod/kafka\",  \"cmd\":\"echo \\u00e9 \\\"x\\\" & <y>\",\n\t\"instances\":1,\"env\":{\"S\":{\"secret\":\"s1\"}},\"zzz\":null,\"aaa\":[1.50,2e3]}"

func TestNewRejectsBadURLs(t *testing.T) {
	for _, u := range []string{"", " , ", "marathon.mesos:8080", "ftp://x", "http://"} {
		if _, err := New(Options{URL: u}); !errs.IsPermanent(err) {
			t.Errorf("New(%q) err = %v, want permanent", u, err)
		}
	}
}

func TestCreateAppWire(t *testing.T) {
	f := newFake(t, jsonAnswer(201, `{"id":"/prod/kafka","version":"2024-01-01T00:00:00.000Z","deployments":[{"id":"dep-body"}]}`,
		"Marathon-Deployment-Id", "dep-1", "Location", "/v2/apps/prod/kafka"))
	// A base URL with a path prefix and a trailing slash, as behind Admin Router.
	c := newClient(t, f.URL+"/service/marathon/", func(o *Options) { o.ClientID = "ctl-a" })
	res, err := c.CreateApp(ctx, json.RawMessage(oddApp))
	if err != nil {
		t.Fatal(err)
	}
	if res.DeploymentID != "dep-1" || res.Version != "2024-01-01T00:00:00.000Z" || res.Status != 201 {
		t.Fatalf("result %+v", res)
	}
	r := f.last(t)
	if r.Method != "POST" || r.Path != "/service/marathon/v2/apps" || r.RawQuery != "" {
		t.Fatalf("request %s %s?%s", r.Method, r.Path, r.RawQuery)
	}
	if !bytes.Equal(r.Body, []byte(oddApp)) {
		t.Fatalf("body changed on the way:\n got %s\nwant %s", r.Body, oddApp)
	}
	for k, want := range map[string]string{"Content-Type": "application/json", "Accept": "application/json", "X-Client-Id": "ctl-a", "User-Agent": "universe-operator"} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
}

func TestCreateAppDeploymentIDFromBody(t *testing.T) {
	f := newFake(t, jsonAnswer(201, `{"id":"/a","version":"v1","deployments":[{"id":"dep-body"}]}`))
	res, err := newClient(t, f.URL).CreateApp(ctx, json.RawMessage(`{"id":"/a"}`))
	if err != nil || res.DeploymentID != "dep-body" {
		t.Fatalf("res %+v err %v", res, err)
	}
}

func TestCreateAppRejectsInvalidJSONLocally(t *testing.T) {
	f := newFake(t, jsonAnswer(201, `{}`))
	c := newClient(t, f.URL)
	for _, raw := range []string{``, `[1]`, `{"id":`, `"x"`} {
		if _, err := c.CreateApp(ctx, json.RawMessage(raw)); !errs.IsPermanent(err) {
			t.Errorf("CreateApp(%q) err = %v, want permanent", raw, err)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Fatalf("%d requests sent for invalid bodies", n)
	}
}

func TestUpdateAppWire(t *testing.T) {
	f := newFake(t, jsonAnswer(200, `{"deploymentId":"dep-2","version":"v2"}`))
	c := newClient(t, f.URL+"/service/marathon")
	for _, force := range []bool{false, true} {
		res, err := c.UpdateApp(ctx, "/prod/kafka", json.RawMessage(oddApp), force)
		if err != nil {
			t.Fatal(err)
		}
		if res.DeploymentID != "dep-2" || res.Version != "v2" || res.Status != 200 {
			t.Fatalf("result %+v", res)
		}
		r := f.last(t)
		wantQ := "partialUpdate=false"
		if force {
			wantQ += "&force=true"
		}
		if r.Method != "PUT" || r.Path != "/service/marathon/v2/apps/prod/kafka" || r.RawQuery != wantQ {
			t.Fatalf("request %s %s?%s, want PUT /service/marathon/v2/apps/prod/kafka?%s", r.Method, r.Path, r.RawQuery, wantQ)
		}
		if !bytes.Equal(r.Body, []byte(oddApp)) {
			t.Fatalf("body changed: %s", r.Body)
		}
	}
}

func TestUpdateAppCreated201(t *testing.T) {
	f := newFake(t, jsonAnswer(201, `{"deploymentId":"dep-3","version":"v3"}`))
	res, err := newClient(t, f.URL).UpdateApp(ctx, "a", json.RawMessage(`{"id":"/a"}`), false)
	if err != nil || res.Status != 201 || res.DeploymentID != "dep-3" {
		t.Fatalf("res %+v err %v", res, err)
	}
	if p := f.last(t).Path; p != "/v2/apps/a" {
		t.Fatalf("path %s", p)
	}
}

func TestDeleteAndRestartWire(t *testing.T) {
	f := newFake(t, jsonAnswer(200, `{"deploymentId":"dep-4","version":"v4"}`))
	c := newClient(t, f.URL)
	cases := []struct {
		call             func() (WriteResult, error)
		method, path, rq string
	}{
		{func() (WriteResult, error) { return c.DeleteApp(ctx, "/prod/kafka", false) }, "DELETE", "/v2/apps/prod/kafka", "force=false"},
		{func() (WriteResult, error) { return c.DeleteApp(ctx, "/prod/kafka", true) }, "DELETE", "/v2/apps/prod/kafka", "force=true"},
		{func() (WriteResult, error) { return c.RestartApp(ctx, "/a", false) }, "POST", "/v2/apps/a/restart", "force=false"},
	}
	for _, tc := range cases {
		res, err := tc.call()
		if err != nil || res.DeploymentID != "dep-4" {
			t.Fatalf("res %+v err %v", res, err)
		}
		r := f.last(t)
		if r.Method != tc.method || r.Path != tc.path || r.RawQuery != tc.rq || len(r.Body) != 0 {
			t.Fatalf("got %s %s?%s body %q, want %s %s?%s", r.Method, r.Path, r.RawQuery, r.Body, tc.method, tc.path, tc.rq)
		}
	}
	if _, err := c.DeleteApp(ctx, "/", false); !errs.IsPermanent(err) {
		t.Fatalf("empty id: %v", err)
	}
}

func TestIDsAreEscaped(t *testing.T) {
	f := newFake(t, jsonAnswer(200, `{"app":{"id":"/a b"}}`))
	if _, err := newClient(t, f.URL).GetApp(ctx, "/a b/c?d"); err != nil {
		t.Fatal(err)
	}
	r := f.last(t)
	if r.Path != "/v2/apps/a b/c?d" || r.RawQuery != "" {
		t.Fatalf("path %q query %q", r.Path, r.RawQuery)
	}
}

const twoApps = `{"apps":[{"id":"/a","version":"v1","instances":2,"labels":{"UNIVERSE_OPERATOR_RELEASE":"rel-a","N":"1"},"tasksRunning":2,"tasksHealthy":1,"tasksUnhealthy":1,"tasksStaged":0,"deployments":[{"id":"d1"}],"healthChecks":[{"protocol":"HTTP"}],"env":{"X":{"secret":"s"}}},
 {"id" : "/b", "instances":"oops", "labels":{"k":"v","bad":1},"tasksRunning":1}]}`

func TestListAppsWireAndRaw(t *testing.T) {
	f := newFake(t, jsonAnswer(200, twoApps))
	c := newClient(t, f.URL+"/marathon")
	apps, err := c.ListApps(ctx, "UNIVERSE_OPERATOR_RELEASE,DCOS_PACKAGE_NAME in (kafka, hdfs)", "apps.tasks", "apps.deployments")
	if err != nil {
		t.Fatal(err)
	}
	r := f.last(t)
	if r.Method != "GET" || r.Path != "/marathon/v2/apps" {
		t.Fatalf("%s %s", r.Method, r.Path)
	}
	wantQ := "embed=apps.tasks&embed=apps.deployments&label=UNIVERSE_OPERATOR_RELEASE%2CDCOS_PACKAGE_NAME+in+%28kafka%2C+hdfs%29"
	if r.RawQuery != wantQ {
		t.Fatalf("query %q, want %q", r.RawQuery, wantQ)
	}
	if len(apps) != 2 {
		t.Fatalf("%d apps", len(apps))
	}
	a := apps[0]
	if a.ID != "/a" || a.Version != "v1" || a.Instances != 2 || a.Labels["UNIVERSE_OPERATOR_RELEASE"] != "rel-a" ||
		a.TasksRunning != 2 || a.TasksHealthy != 1 || a.TasksUnhealthy != 1 || fmt.Sprint(a.Deployments) != "[d1]" || a.HealthChecks != 1 {
		t.Fatalf("app a parsed as %+v", a)
	}
	if !strings.HasPrefix(string(a.Raw), `{"id":"/a","version":"v1"`) || !strings.HasSuffix(string(a.Raw), `"env":{"X":{"secret":"s"}}}`) {
		t.Fatalf("raw not verbatim: %s", a.Raw)
	}
	// A field of the wrong type does not hide the app or the other fields.
	b := apps[1]
	if b.ID != "/b" || b.TasksRunning != 1 || b.Labels["k"] != "v" || b.Instances != 0 {
		t.Fatalf("app b parsed as %+v", b)
	}
	if string(b.Raw) != `{"id" : "/b", "instances":"oops", "labels":{"k":"v","bad":1},"tasksRunning":1}` {
		t.Fatalf("raw b = %s", b.Raw)
	}
	// MarshalJSON gives Raw back.
	out, _ := json.Marshal(apps)
	if !strings.Contains(string(out), `"instances":"oops"`) {
		t.Fatalf("marshal: %s", out)
	}
}

func TestListAppsAllNoQuery(t *testing.T) {
	f := newFake(t, jsonAnswer(200, `{"apps":[]}`))
	apps, err := newClient(t, f.URL).ListApps(ctx, "")
	if err != nil || len(apps) != 0 || apps == nil {
		t.Fatalf("apps %v err %v", apps, err)
	}
	if q := f.last(t).RawQuery; q != "" {
		t.Fatalf("query %q", q)
	}
}

func TestGetApp(t *testing.T) {
	f := newFake(t, jsonAnswer(200, `{"app":{"id":"/x","labels":{"a":"b"},"tasksRunning":3}}`))
	app, err := newClient(t, f.URL).GetApp(ctx, "x", "app.tasks")
	if err != nil || app.ID != "/x" || app.TasksRunning != 3 || string(app.Raw) != `{"id":"/x","labels":{"a":"b"},"tasksRunning":3}` {
		t.Fatalf("app %+v err %v", app, err)
	}
	if r := f.last(t); r.Path != "/v2/apps/x" || r.RawQuery != "embed=app.tasks" {
		t.Fatalf("%s?%s", r.Path, r.RawQuery)
	}
}

func TestErrorClasses(t *testing.T) {
	cases := []struct {
		name    string
		status  int
		body    string
		class   errs.Class
		after   time.Duration
		check   func(error) bool
		mention []string
	}{
		{"locked", 409, `{"message":"App is locked by one or more deployments. Override with the option '?force=true'. View details at '/v2/deployments/<DEPLOYMENT_ID>'.","deployments":[{"id":"d-1"},{"id":"d-2"}]}`,
			errs.ClassWaiting, 5 * time.Second, func(err error) bool {
				return IsLocked(err) && !IsAlreadyExists(err) && fmt.Sprint(LockingDeployments(err)) == "[d-1 d-2]"
			}, []string{"409", "locked", "d-1, d-2"}},
		{"exists", 409, `{"message":"An app with id [/x] already exists."}`,
			errs.ClassWaiting, time.Second, func(err error) bool { return IsAlreadyExists(err) && !IsLocked(err) && LockingDeployments(err) == nil },
			[]string{"already exists"}},
		{"not found", 404, `{"message":"App '/x' does not exist"}`, errs.ClassPermanent, 0, IsNotFound, []string{"404", "does not exist"}},
		{"invalid", 422, `{"message":"Object is not valid","details":[{"path":"/container/docker/image","errors":["must not be empty"]},{"path":"/cpus","errors":["error.min","too small"]}]}`,
			errs.ClassPermanent, 0, func(err error) bool {
				var e *APIError
				return errors.As(err, &e) && len(e.Details) == 2 && e.Details[1].Errors[1] == "too small"
			}, []string{"422", "Object is not valid", "/container/docker/image: must not be empty", "/cpus: error.min, too small"}},
		{"bad json", 400, `{"message":"Invalid JSON","details":"Unexpected end-of-input"}`, errs.ClassPermanent, 0,
			func(err error) bool { return StatusOf(err) == 400 }, []string{"400", "Invalid JSON"}},
		{"unauthorized", 401, `<html><body>401 Authorization Required</body></html>`, errs.ClassPermanent, 0,
			func(err error) bool { return StatusOf(err) == 401 }, []string{"401", "Authorization Required"}},
		{"forbidden", 403, `{"message":"Not Authorized to perform this action!"}`, errs.ClassPermanent, 0, nil, []string{"403"}},
		{"server", 500, `{"message":"boom"}`, errs.ClassTransient, 0, nil, []string{"500", "boom"}},
		{"unavailable", 503, `{"message":"Leader unavailable"}`, errs.ClassTransient, 0, nil, []string{"503"}},
		{"too many", 429, ``, errs.ClassTransient, 0, nil, []string{"429"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, jsonAnswer(tc.status, tc.body))
			_, err := newClient(t, f.URL).UpdateApp(ctx, "/x", json.RawMessage(`{"id":"/x"}`), false)
			if err == nil {
				t.Fatal("no error")
			}
			if c := errs.ClassOf(err); c != tc.class {
				t.Fatalf("class %v, want %v: %v", c, tc.class, err)
			}
			if got := errs.RetryAfter(err); got != tc.after {
				t.Fatalf("retry after %v, want %v", got, tc.after)
			}
			if tc.check != nil && !tc.check(err) {
				t.Fatalf("helper check failed for %v", err)
			}
			for _, m := range tc.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
			var e *APIError
			if !errors.As(err, &e) || e.Method != "PUT" || e.Path != "/v2/apps/{id}" || e.Status != tc.status || string(e.Body) != tc.body {
				t.Fatalf("APIError %+v", e)
			}
		})
	}
}

func TestFailover503ToSecondURLAndRemember(t *testing.T) {
	down := newFake(t, jsonAnswer(503, `{"message":"not the leader and no leader known"}`))
	up := newFake(t, jsonAnswer(200, `{"deploymentId":"d","version":"v"}`))
	c := newClient(t, down.URL+", "+up.URL)
	if _, err := c.UpdateApp(ctx, "/a", json.RawMessage(`{"id":"/a"}`), false); err != nil {
		t.Fatal(err)
	}
	if len(down.requests()) != 1 || len(up.requests()) != 1 {
		t.Fatalf("requests: down %d, up %d", len(down.requests()), len(up.requests()))
	}
	if !bytes.Equal(up.last(t).Body, []byte(`{"id":"/a"}`)) {
		t.Fatal("body not replayed to the second endpoint")
	}
	if c.CurrentURL() != up.URL {
		t.Fatalf("CurrentURL %s, want %s", c.CurrentURL(), up.URL)
	}
	// The good endpoint is remembered: the next call goes straight there.
	if _, err := c.DeleteApp(ctx, "/a", false); err != nil {
		t.Fatal(err)
	}
	if len(down.requests()) != 1 || len(up.requests()) != 2 {
		t.Fatalf("requests after: down %d, up %d", len(down.requests()), len(up.requests()))
	}
}

func TestFailoverAllDown(t *testing.T) {
	a := newFake(t, jsonAnswer(502, `bad gateway`))
	b := newFake(t, jsonAnswer(503, `{"message":"unavailable"}`))
	_, err := newClient(t, a.URL+","+b.URL).ListApps(ctx, "")
	if errs.ClassOf(err) != errs.ClassTransient || StatusOf(err) != 503 {
		t.Fatalf("err = %v", err)
	}
	if len(a.requests()) != 1 || len(b.requests()) != 1 {
		t.Fatal("each endpoint should be tried exactly once")
	}
}

// dropper accepts the request and closes the connection without answering.
func dropper(w http.ResponseWriter, r *http.Request) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("no hijacker")
	}
	conn, _, _ := hj.Hijack()
	conn.Close()
}

func TestDroppedConnection(t *testing.T) {
	drop := newFake(t, dropper)
	up := newFake(t, jsonAnswer(200, `{"apps":[]}`))

	// Single endpoint: a transient error.
	_, err := newClient(t, drop.URL).ListApps(ctx, "")
	if err == nil || errs.ClassOf(err) != errs.ClassTransient || !strings.Contains(err.Error(), "/v2/apps") {
		t.Fatalf("err = %v", err)
	}
	// A read moves on to the next endpoint.
	c := newClient(t, drop.URL+","+up.URL)
	if _, err := c.ListApps(ctx, ""); err != nil {
		t.Fatalf("read with failover: %v", err)
	}
	// A write does not: it may have been applied.
	c2 := newClient(t, drop.URL+","+up.URL)
	before := len(up.requests())
	_, err = c2.CreateApp(ctx, json.RawMessage(`{"id":"/a"}`))
	if errs.ClassOf(err) != errs.ClassTransient {
		t.Fatalf("write err = %v", err)
	}
	if len(up.requests()) != before {
		t.Fatal("a write whose connection dropped was sent again to another endpoint")
	}
}

func TestWriteFailsOverWhenConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + l.Addr().String()
	l.Close()
	up := newFake(t, jsonAnswer(201, `{"id":"/a","deployments":[{"id":"d"}]}`))
	res, err := newClient(t, refused+","+up.URL).CreateApp(ctx, json.RawMessage(`{"id":"/a"}`))
	if err != nil || res.DeploymentID != "d" {
		t.Fatalf("res %+v err %v", res, err)
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	slow := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	c := newClient(t, slow.URL, func(o *Options) { o.Timeout = 100 * time.Millisecond })
	t0 := time.Now()
	_, err := c.Deployments(ctx)
	if err == nil || errs.ClassOf(err) != errs.ClassTransient || !strings.Contains(err.Error(), "no answer within 100ms") {
		t.Fatalf("err = %v", err)
	}
	if time.Since(t0) > 5*time.Second {
		t.Fatal("timeout not applied")
	}
}

func TestCallerCancellation(t *testing.T) {
	release := make(chan struct{})
	slow := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	other := newFake(t, jsonAnswer(200, `[]`))
	c := newClient(t, slow.URL+","+other.URL)
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err := c.Deployments(cctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if len(other.requests()) != 0 {
		t.Fatal("a cancelled call went on to the next endpoint")
	}
}

func TestMalformedAnswers(t *testing.T) {
	cases := map[string]struct {
		body string
		call func(*Client) error
	}{
		"apps html":        {`<html>proxy error</html>`, func(c *Client) error { _, err := c.ListApps(ctx, ""); return err }},
		"apps truncated":   {`{"apps":[{"id":"/a"`, func(c *Client) error { _, err := c.ListApps(ctx, ""); return err }},
		"apps wrong shape": {`{"items":[]}`, func(c *Client) error { _, err := c.ListApps(ctx, ""); return err }},
		"app not object":   {`{"apps":[1]}`, func(c *Client) error { _, err := c.ListApps(ctx, ""); return err }},
		"get":              {`{}`, func(c *Client) error { _, err := c.GetApp(ctx, "a"); return err }},
		"deployments":      {`{"x":1}`, func(c *Client) error { _, err := c.Deployments(ctx); return err }},
		"queue":            {`[]`, func(c *Client) error { _, err := c.Queue(ctx); return err }},
		"info":             {`nope`, func(c *Client) error { _, err := c.Info(ctx); return err }},
		"leader":           {`{}`, func(c *Client) error { _, err := c.Leader(ctx); return err }},
		"write": {`{"deploymentId":`, func(c *Client) error {
			_, err := c.UpdateApp(ctx, "a", json.RawMessage(`{}`), false)
			return err
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFake(t, jsonAnswer(200, tc.body))
			err := tc.call(newClient(t, f.URL))
			if err == nil || errs.ClassOf(err) != errs.ClassTransient || !strings.Contains(err.Error(), "malformed answer") {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestRedirectOnAPICallIsReported(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/login", http.StatusFound)
	})
	_, err := newClient(t, f.URL).CreateApp(ctx, json.RawMessage(`{"id":"/a"}`))
	var e *APIError
	if !errs.IsPermanent(err) || !errors.As(err, &e) || e.Location != "/login" || !strings.Contains(err.Error(), "check the marathon url") {
		t.Fatalf("err = %v", err)
	}
	if n := len(f.requests()); n != 1 {
		t.Fatalf("%d requests: the redirect was followed", n)
	}
}

func TestDeployments(t *testing.T) {
	body := `[{"id":"97c136bf","version":"2015-09-30T09:09:17.614Z","affectedApps":["/foo"],"affectedPods":["/bla"],
	  "steps":[{"actions":[{"action":"ScaleApplication","app":"/foo"}]},{"actions":[{"action":"ScalePod","pod":"/bla"}]}],
	  "currentActions":[{"action":"ScaleApplication","app":"/foo","readinessCheckResults":[{"taskId":"t","ready":false}]}],
	  "currentStep":1,"totalSteps":2},
	 {"id":"old","version":"v","affectedApps":["/x"],"steps":[[{"type":"StartApplication","app":"/x"}]],"currentActions":[],"currentStep":1,"totalSteps":1}]`
	f := newFake(t, jsonAnswer(200, body))
	ds, err := newClient(t, f.URL).Deployments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 {
		t.Fatalf("%d deployments", len(ds))
	}
	d := ds[0]
	if d.ID != "97c136bf" || fmt.Sprint(d.AffectedApps) != "[/foo]" || fmt.Sprint(d.AffectedPods) != "[/bla]" || d.CurrentStep != 1 || d.TotalSteps != 2 ||
		len(d.Steps) != 2 || d.Steps[1].Actions[0].Pod != "/bla" || d.CurrentActions[0].App != "/foo" ||
		!strings.Contains(string(d.CurrentActions[0].ReadinessCheckResults), `"ready":false`) {
		t.Fatalf("deployment %+v", d)
	}
	if a := ds[1].Steps[0].Actions[0]; a.Action != "StartApplication" || a.App != "/x" {
		t.Fatalf("old-format step %+v", a)
	}
	if r := f.last(t); r.Method != "GET" || r.Path != "/v2/deployments" {
		t.Fatalf("%s %s", r.Method, r.Path)
	}
	// Empty list.
	f2 := newFake(t, jsonAnswer(200, `[]`))
	ds, err = newClient(t, f2.URL).Deployments(ctx)
	if err != nil || ds == nil || len(ds) != 0 {
		t.Fatalf("ds %v err %v", ds, err)
	}
}

func TestDeleteDeployment(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("force") == "true" {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		jsonAnswer(200, `{"deploymentId":"revert-1","version":"v9"}`)(w, r)
	})
	c := newClient(t, f.URL)
	res, err := c.DeleteDeployment(ctx, "dep-1", false)
	if err != nil || res.DeploymentID != "revert-1" || res.Version != "v9" || res.Status != 200 {
		t.Fatalf("revert: %+v %v", res, err)
	}
	if r := f.last(t); r.Method != "DELETE" || r.Path != "/v2/deployments/dep-1" || r.RawQuery != "force=false" {
		t.Fatalf("%s %s?%s", r.Method, r.Path, r.RawQuery)
	}
	res, err = c.DeleteDeployment(ctx, "dep-1", true)
	if err != nil || res.DeploymentID != "" || res.Status != 202 {
		t.Fatalf("force: %+v %v", res, err)
	}
	if r := f.last(t); r.RawQuery != "force=true" {
		t.Fatalf("query %s", r.RawQuery)
	}
	nf := newFake(t, jsonAnswer(404, `{"message":"DeploymentPlan dep-x does not exist"}`))
	if _, err := newClient(t, nf.URL).DeleteDeployment(ctx, "dep-x", true); !IsNotFound(err) {
		t.Fatalf("err = %v", err)
	}
}

func TestQueue(t *testing.T) {
	body := `{"queue":[{"app":{"id":"/tools/datadog","version":"2015-08-26T22:33:24.225Z","instances":5},"count":1,"role":"*",
	  "delay":{"timeLeftSeconds":42,"overdue":false},"since":"2016-02-28T16:41:41.090Z"}]}`
	f := newFake(t, jsonAnswer(200, body))
	q, err := newClient(t, f.URL).Queue(ctx)
	if err != nil || len(q) != 1 {
		t.Fatalf("q %v err %v", q, err)
	}
	if e := q[0]; e.AppID != "/tools/datadog" || e.Count != 1 || e.Delay.TimeLeftSeconds != 42 || e.Delay.Overdue || e.Since == "" || !strings.Contains(string(e.Raw), `"role":"*"`) {
		t.Fatalf("entry %+v", e)
	}
}

func TestQueueRAMLExample(t *testing.T) {
	path := testenv.Shared(t, "marathon-api/v1.10-raml/v2/examples/queue.json")
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f := newFake(t, jsonAnswer(200, string(body)))
	q, err := newClient(t, f.URL).Queue(ctx)
	if err != nil || len(q) == 0 {
		t.Fatalf("q %v err %v", q, err)
	}
	if q[0].AppID != "/tools/datadog-agent" || q[0].Count != 1 || !q[0].Delay.Overdue {
		t.Fatalf("first entry %+v", q[0])
	}
}

func TestInfoLeaderPing(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/service/marathon/v2/info":
			jsonAnswer(200, `{"name":"marathon","version":"1.10.17","elected":true,"leader":"m1:8080","frameworkId":"fw-1","marathon_config":{"master":"zk://zk/mesos","mesos_role":"slave_public","framework_name":"marathon"}}`)(w, r)
		case "/service/marathon/v2/leader":
			jsonAnswer(200, `{"leader":"m1:8080"}`)(w, r)
		case "/service/marathon/ping":
			io.WriteString(w, "pong")
		default:
			http.NotFound(w, r)
		}
	})
	c := newClient(t, f.URL+"/service/marathon")
	info, err := c.Info(ctx)
	if err != nil || info.Name != "marathon" || info.Version != "1.10.17" || !info.Elected || info.Leader != "m1:8080" ||
		info.FrameworkID != "fw-1" || info.MarathonConfig.MesosRole != "slave_public" || !strings.Contains(string(info.Raw), "zk://zk/mesos") {
		t.Fatalf("info %+v err %v", info, err)
	}
	if l, err := c.Leader(ctx); err != nil || l != "m1:8080" {
		t.Fatalf("leader %q err %v", l, err)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	noLeader := newFake(t, jsonAnswer(404, `{"message":"There is no leader"}`))
	if _, err := newClient(t, noLeader.URL).Leader(ctx); !IsNotFound(err) {
		t.Fatalf("no leader: %v", err)
	}
	pingDown := newFake(t, jsonAnswer(503, ``))
	if err := newClient(t, pingDown.URL).Ping(ctx); errs.ClassOf(err) != errs.ClassTransient || err == nil {
		t.Fatalf("ping down: %v", err)
	}
}

type obsRec struct {
	method, tmpl string
	code         int
	err          bool
}

func TestObserverTemplatesAndCodes(t *testing.T) {
	down := newFake(t, jsonAnswer(503, `{}`))
	up := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "GET" && r.URL.Path == "/v2/apps/prod/kafka":
			jsonAnswer(404, `{"message":"App '/prod/kafka' does not exist"}`)(w, r)
		case r.Method == "PUT":
			jsonAnswer(200, `{"deploymentId":"d","version":"v"}`)(w, r)
		default:
			jsonAnswer(200, `[]`)(w, r)
		}
	})
	var mu sync.Mutex
	var got []obsRec
	obs := ObserverFunc(func(m, tmpl string, code int, d time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, obsRec{m, tmpl, code, err != nil})
		if d < 0 {
			t.Errorf("negative duration")
		}
	})
	c := newClient(t, down.URL+","+up.URL, func(o *Options) { o.Observer = obs })
	c.UpdateApp(ctx, "/prod/kafka", json.RawMessage(`{}`), true)
	c.GetApp(ctx, "/prod/kafka")
	c.Deployments(ctx)
	want := []obsRec{{"PUT", "/v2/apps/{id}", 503, false}, {"PUT", "/v2/apps/{id}", 200, false}, {"GET", "/v2/apps/{id}", 404, false}, {"GET", "/v2/deployments", 200, false}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("observed %v\nwant     %v", got, want)
	}
	// A transport error is observed with code 0 and the error.
	got = nil
	drop := newFake(t, dropper)
	c2 := newClient(t, drop.URL, func(o *Options) { o.Observer = obs })
	c2.Queue(ctx)
	if len(got) != 1 || got[0].code != 0 || !got[0].err || got[0].tmpl != "/v2/queue" {
		t.Fatalf("observed %v", got)
	}
}

func TestConcurrentUse(t *testing.T) {
	var n atomic.Int64
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%3 == 0 {
			jsonAnswer(503, `{}`)(w, r)
			return
		}
		jsonAnswer(200, `{"apps":[]}`)(w, r)
	})
	g := newFake(t, jsonAnswer(200, `{"apps":[]}`))
	c := newClient(t, f.URL+","+g.URL)
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				if _, err := c.ListApps(ctx, "a"); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
}
