package sdk

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/clients/dcosauth"
	"github.com/universe-operator/universe-operator/errs"
)

var ctx = context.Background()

const uninstallPlan = `{"phases":[
 {"id":"p1","name":"kill-tasks","steps":[{"id":"s1","status":"COMPLETE","name":"kill-task-node-0","message":""}],"strategy":"parallel","status":"COMPLETE"},
 {"id":"p2","name":"unreserve-resources-a1","steps":[{"id":"s2","status":"IN_PROGRESS","name":"unreserve-r1","message":"waiting"}],"strategy":"parallel","status":"IN_PROGRESS"}],
 "strategy":"serial","errors":[],"status":"IN_PROGRESS"}`

func server(t *testing.T, status int, body string, seen *atomic.Value) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen != nil {
			seen.Store(r.Method + " " + r.URL.EscapedPath() + " " + r.Header.Get("Authorization") + " " + r.Header.Get("Accept"))
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func client(t *testing.T, url string, mod ...func(*Options)) *Client {
	o := Options{URL: url, Timeout: 5 * time.Second}
	for _, m := range mod {
		m(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPlanURL(t *testing.T) {
	cases := map[[4]string]string{
		{"https://dcos", "kafka", "", "deploy"}:               "https://dcos/service/kafka/v1/plans/deploy",
		{"https://dcos/", "/prod/kafka", "v2", "deploy"}:      "https://dcos/service/prod/kafka/v2/plans/deploy",
		{"http://h:1/x", "a b", "v1", "recovery"}:             "http://h:1/x/service/a%20b/v1/plans/recovery",
		{"https://dcos", "/prod/kafka/", "v1", "deploy"}:      "https://dcos/service/prod/kafka/v1/plans/deploy",
		{"https://dcos", "kafka", "v1", "update plan/deploy"}: "https://dcos/service/kafka/v1/plans/update%20plan%2Fdeploy",
	}
	for in, want := range cases {
		if got := PlanURL(in[0], in[1], in[2], in[3]); got != want {
			t.Errorf("PlanURL%v = %s, want %s", in, got, want)
		}
	}
}

func TestDeployPlanInProgressAndComplete(t *testing.T) {
	var seen atomic.Value
	srv := server(t, 202, uninstallPlan, &seen)
	rt, _ := dcosauth.NewTransport(dcosauth.Config{Token: &dcosauth.StaticToken{Value: "tok"}})
	c := client(t, srv.URL+"/", func(o *Options) { o.Transport = rt })
	p, err := c.DeployPlan(ctx, "/prod/kafka", "v1")
	if err != nil {
		t.Fatal(err)
	}
	if got := seen.Load(); got != "GET /service/prod/kafka/v1/plans/deploy token=tok application/json" {
		t.Fatalf("request %v", got)
	}
	if p.Complete() || p.Code != 202 || p.Status != "IN_PROGRESS" || p.Strategy != "serial" || len(p.Phases) != 2 ||
		p.Phases[1].Name != "unreserve-resources-a1" || p.Phases[1].Steps[0].Message != "waiting" || p.Phases[0].Strategy != "parallel" {
		t.Fatalf("plan %+v", p)
	}
	if string(p.Raw) != uninstallPlan {
		t.Fatal("raw not kept")
	}
	done := server(t, 200, strings.Replace(uninstallPlan, `"status":"IN_PROGRESS"}`, `"status":"COMPLETE"}`, 1), nil)
	p, err = client(t, done.URL).DeployPlan(ctx, "kafka", "")
	if err != nil || !p.Complete() {
		t.Fatalf("complete: %+v %v", p, err)
	}
}

func TestPlanWithErrors417(t *testing.T) {
	srv := server(t, 417, `{"phases":[],"strategy":"serial","errors":["Failed to reserve"],"status":"ERROR"}`, nil)
	p, err := client(t, srv.URL).DeployPlan(ctx, "kafka", "v1")
	if err != nil || p.Complete() || p.Code != 417 || p.Status != "ERROR" || len(p.Errors) != 1 {
		t.Fatalf("plan %+v err %v", p, err)
	}
}

func TestPlanErrors(t *testing.T) {
	cases := []struct {
		status int
		body   string
		class  errs.Class
		nf     bool
	}{
		{404, "Plan deploy not found", errs.ClassWaiting, true},
		{401, `<html>401 Authorization Required</html>`, errs.ClassPermanent, false},
		{403, `forbidden`, errs.ClassPermanent, false},
		{400, `bad`, errs.ClassPermanent, false},
		{502, `<html><body>502 Bad Gateway</body></html>`, errs.ClassTransient, false},
		{503, ``, errs.ClassTransient, false},
		{500, `{"message":"boom"}`, errs.ClassTransient, false},
	}
	for _, tc := range cases {
		srv := server(t, tc.status, tc.body, nil)
		_, err := client(t, srv.URL).DeployPlan(ctx, "kafka", "v1")
		var ae *APIError
		if errs.ClassOf(err) != tc.class || IsNotFound(err) != tc.nf || !errors.As(err, &ae) || ae.Status != tc.status {
			t.Errorf("%d: err = %v (class %v)", tc.status, err, errs.ClassOf(err))
		}
		if tc.status == 404 && errs.RetryAfter(err) != 10*time.Second {
			t.Errorf("404 retry after %v", errs.RetryAfter(err))
		}
		if !strings.Contains(err.Error(), "/service/kafka/v1/plans/deploy") {
			t.Errorf("error does not name the url: %v", err)
		}
	}
}

func TestMalformedPlan(t *testing.T) {
	for _, body := range []string{`<html>`, `{"phases":[]}`, `{"status":`} {
		srv := server(t, 200, body, nil)
		_, err := client(t, srv.URL).DeployPlan(ctx, "kafka", "v1")
		if err == nil || errs.ClassOf(err) != errs.ClassTransient || !strings.Contains(err.Error(), "malformed plan") {
			t.Errorf("%q: %v", body, err)
		}
	}
}

func TestUnreachableTimeoutAndBadInput(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	if _, err := client(t, "http://"+addr).DeployPlan(ctx, "kafka", "v1"); err == nil || errs.ClassOf(err) != errs.ClassTransient {
		t.Fatalf("refused: %v", err)
	}
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	_, err := client(t, slow.URL, func(o *Options) { o.Timeout = 100 * time.Millisecond }).DeployPlan(ctx, "kafka", "v1")
	if err == nil || errs.ClassOf(err) != errs.ClassTransient || !strings.Contains(err.Error(), "no answer within") {
		t.Fatalf("timeout: %v", err)
	}
	if _, err := client(t, slow.URL).Plan(ctx, "/", "v1", "deploy"); !errs.IsPermanent(err) {
		t.Fatalf("empty service: %v", err)
	}
	if _, err := New(Options{URL: "dcos.example.com"}); !errs.IsPermanent(err) {
		t.Fatalf("bad url: %v", err)
	}
}
