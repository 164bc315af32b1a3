package marathon

// End-to-end tests against the simulated cluster (package sim): Marathon
// behind the simulated Admin Router at /service/marathon/, with and without
// DC/OS authentication.

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/clients/dcosauth"
	"github.com/universe-operator/universe-operator/errs"
	"github.com/universe-operator/universe-operator/sim"
	"github.com/universe-operator/universe-operator/sim/fault"
	simmarathon "github.com/universe-operator/universe-operator/sim/marathon"
)

const e2eDeadline = 20 * time.Second

func startSim(t *testing.T, mod ...func(*sim.Options)) *sim.Server {
	t.Helper()
	o := sim.FastOptions()
	for _, m := range mod {
		m(&o)
	}
	s := sim.NewServer(o)
	t.Cleanup(s.Close)
	return s
}

// eventually polls cond until it is true or the deadline passes.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(e2eDeadline)
	last := ""
	for time.Now().Before(deadline) {
		ok, msg := cond()
		if ok {
			return
		}
		last = msg
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s (last: %s)", what, last)
}

func waitNoDeployment(t *testing.T, c *Client, appID string) {
	t.Helper()
	eventually(t, "no deployment for "+appID, func() (bool, string) {
		ds, err := c.Deployments(ctx)
		if err != nil {
			return false, err.Error()
		}
		for _, d := range ds {
			for _, a := range d.AffectedApps {
				if a == appID {
					return false, d.ID
				}
			}
		}
		return true, ""
	})
}

func appJSON(id, release string, extra string) json.RawMessage {
	s := fmt.Sprintf(`{"id":%q,"cmd":"sleep 3600","cpus":0.1,"mem":32,"instances":1,"labels":{"UNIVERSE_OPERATOR_RELEASE":%q,"DCOS_PACKAGE_NAME":"e2e"}%s}`, id, release, extra)
	return json.RawMessage(s)
}

func field(t *testing.T, raw json.RawMessage, name string) (json.RawMessage, bool) {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	v, ok := m[name]
	return v, ok
}

func TestSimCreateUpdateListDelete(t *testing.T) {
	s := startSim(t)
	c := newClient(t, s.URL+"/service/marathon/", func(o *Options) { o.ClientID = "e2e" })

	res, err := c.CreateApp(ctx, appJSON("/e2e/one", "rel-one", `,"env":{"FOO":"bar"},"backoffFactor":1.5`))
	if err != nil {
		t.Fatal(err)
	}
	if res.DeploymentID == "" || res.Status != 201 {
		t.Fatalf("create result %+v", res)
	}
	if _, err := c.CreateApp(ctx, appJSON("/e2e/two", "rel-two", "")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateApp(ctx, json.RawMessage(`{"id":"/unowned","cmd":"sleep 1","cpus":0.1,"mem":16}`)); err != nil {
		t.Fatal(err)
	}
	waitNoDeployment(t, c, "/e2e/one")

	app, err := c.GetApp(ctx, "/e2e/one")
	if err != nil {
		t.Fatal(err)
	}
	if env, ok := field(t, app.Raw, "env"); !ok || string(env) != `{"FOO":"bar"}` {
		t.Fatalf("env after create: %s", env)
	}
	if app.Labels["UNIVERSE_OPERATOR_RELEASE"] != "rel-one" || app.Instances != 1 {
		t.Fatalf("app %+v", app)
	}

	// Update replacing the definition: env and backoffFactor are gone from
	// the body, so they must be gone (backoffFactor back to Marathon's
	// default) afterwards.
	up, err := c.UpdateApp(ctx, "/e2e/one", appJSON("/e2e/one", "rel-one", `,"instances":2`), false)
	if err != nil {
		t.Fatal(err)
	}
	if up.DeploymentID == "" {
		t.Fatalf("update result %+v", up)
	}
	waitNoDeployment(t, c, "/e2e/one")
	app, err = c.GetApp(ctx, "/e2e/one")
	if err != nil {
		t.Fatal(err)
	}
	if env, ok := field(t, app.Raw, "env"); ok && string(env) != "{}" {
		t.Fatalf("env survived a replacing update: %s", env)
	}
	if bf, _ := field(t, app.Raw, "backoffFactor"); string(bf) != "1.15" {
		t.Fatalf("backoffFactor %s, want Marathon's default 1.15", bf)
	}
	if app.Instances != 2 {
		t.Fatalf("instances %d", app.Instances)
	}
	eventually(t, "2 tasks running", func() (bool, string) {
		a, err := c.GetApp(ctx, "/e2e/one")
		if err != nil {
			return false, err.Error()
		}
		return a.TasksRunning == 2, fmt.Sprint(a.TasksRunning)
	})

	// List with a label selector and embeds: only owned apps, counts present.
	apps, err := c.ListApps(ctx, "UNIVERSE_OPERATOR_RELEASE", "apps.counts", "apps.deployments")
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, a := range apps {
		ids = append(ids, a.ID)
	}
	if fmt.Sprint(ids) != "[/e2e/one /e2e/two]" && fmt.Sprint(ids) != "[/e2e/two /e2e/one]" {
		t.Fatalf("owned apps %v", ids)
	}
	apps, err = c.ListApps(ctx, "UNIVERSE_OPERATOR_RELEASE==rel-one", "apps.tasks")
	if err != nil || len(apps) != 1 || apps[0].ID != "/e2e/one" || apps[0].TasksRunning != 2 {
		t.Fatalf("selected %+v %v", apps, err)
	}
	if tasks, ok := field(t, apps[0].Raw, "tasks"); !ok || !strings.HasPrefix(string(tasks), "[{") {
		t.Fatalf("embed=apps.tasks gave no tasks: %s", tasks)
	}

	// Delete.
	del, err := c.DeleteApp(ctx, "/e2e/one", false)
	if err != nil || del.DeploymentID == "" {
		t.Fatalf("delete %+v %v", del, err)
	}
	eventually(t, "app gone", func() (bool, string) {
		_, err := c.GetApp(ctx, "/e2e/one")
		return IsNotFound(err), fmt.Sprint(err)
	})

	// The simulator's request log shows our client id.
	found := false
	for _, r := range s.Marathon.RequestLog() {
		if r.ClientID == "e2e" {
			found = true
		}
	}
	if !found {
		t.Fatal("X-Client-Id not seen by the simulator")
	}
}

func TestSimErrors(t *testing.T) {
	s := startSim(t, func(o *sim.Options) { o.Marathon.Timing.DeploymentDuration = 3 * time.Second })
	c := newClient(t, s.URL+"/service/marathon")
	res, err := c.CreateApp(ctx, appJSON("/e2e/locked", "r", ""))
	if err != nil {
		t.Fatal(err)
	}
	// 409 already exists.
	_, err = c.CreateApp(ctx, appJSON("/e2e/locked", "r", ""))
	if !IsAlreadyExists(err) || errs.ClassOf(err) != errs.ClassWaiting {
		t.Fatalf("duplicate create: %v", err)
	}
	// 409 locked, naming the deployment in flight.
	_, err = c.UpdateApp(ctx, "/e2e/locked", appJSON("/e2e/locked", "r", `,"instances":2`), false)
	if !IsLocked(err) || errs.ClassOf(err) != errs.ClassWaiting || fmt.Sprint(LockingDeployments(err)) != "["+res.DeploymentID+"]" {
		t.Fatalf("locked: %v (ids %v, want %s)", err, LockingDeployments(err), res.DeploymentID)
	}
	// force=true goes through.
	if _, err := c.UpdateApp(ctx, "/e2e/locked", appJSON("/e2e/locked", "r", `,"instances":2`), true); err != nil {
		t.Fatalf("forced update: %v", err)
	}
	// 422 with details.
	_, err = c.CreateApp(ctx, json.RawMessage(`{"id":"/e2e/bad","cmd":"x","cpus":-1}`))
	if !errs.IsPermanent(err) || StatusOf(err) != 422 || !strings.Contains(err.Error(), "/cpus") {
		t.Fatalf("invalid app: %v", err)
	}
	// 400 for a body Marathon cannot read as an app.
	_, err = c.UpdateApp(ctx, "/e2e/x", json.RawMessage(`{"id":"/e2e/x","instances":"many"}`), false)
	if !errs.IsPermanent(err) || (StatusOf(err) != 422 && StatusOf(err) != 400) {
		t.Fatalf("wrong type: %v", err)
	}
	// 404.
	if _, err := c.GetApp(ctx, "/nope"); !IsNotFound(err) || !errs.IsPermanent(err) {
		t.Fatalf("missing app: %v", err)
	}
	if _, err := c.DeleteDeployment(ctx, "no-such-deployment", true); !IsNotFound(err) {
		t.Fatalf("missing deployment: %v", err)
	}
}

func TestSimDeleteDeploymentForceAndRevert(t *testing.T) {
	s := startSim(t, func(o *sim.Options) { o.Marathon.Timing.DeploymentDuration = 5 * time.Second })
	c := newClient(t, s.URL+"/service/marathon")
	res, err := c.CreateApp(ctx, appJSON("/e2e/cancel", "r", ""))
	if err != nil {
		t.Fatal(err)
	}
	ds, err := c.Deployments(ctx)
	if err != nil || len(ds) != 1 || ds[0].ID != res.DeploymentID || fmt.Sprint(ds[0].AffectedApps) != "[/e2e/cancel]" || ds[0].TotalSteps == 0 {
		t.Fatalf("deployments %+v %v", ds, err)
	}
	// go-marathon agrees with our typed reads while a deployment is in flight.
	compareReads(t, c, newGoMarathon(t, s.URL+"/service/marathon"))

	// Revert (force=false): a new deployment rolls back.
	rev, err := c.DeleteDeployment(ctx, res.DeploymentID, false)
	if err != nil || rev.DeploymentID == "" || rev.DeploymentID == res.DeploymentID || rev.Status != 200 {
		t.Fatalf("revert %+v %v", rev, err)
	}
	// Cancel the revert without rollback (force=true): 202, nothing started.
	can, err := c.DeleteDeployment(ctx, rev.DeploymentID, true)
	if err != nil || can.Status != 202 || can.DeploymentID != "" {
		t.Fatalf("cancel %+v %v", can, err)
	}
	eventually(t, "no deployments", func() (bool, string) {
		ds, err := c.Deployments(ctx)
		return err == nil && len(ds) == 0, fmt.Sprint(ds, err)
	})
}

func TestSimQueueInfoLeaderPing(t *testing.T) {
	s := startSim(t)
	c := newClient(t, s.URL+"/marathon")
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil || info.Name != "marathon" || info.Version == "" || info.Leader == "" {
		t.Fatalf("info %+v %v", info, err)
	}
	if l, err := c.Leader(ctx); err != nil || l != info.Leader {
		t.Fatalf("leader %q %v", l, err)
	}
	if _, err := c.Queue(ctx); err != nil {
		t.Fatal(err)
	}
	compareReads(t, c, newGoMarathon(t, s.URL+"/marathon"))
}

func TestSimFaultsFailoverAndDrop(t *testing.T) {
	s := startSim(t)
	// Two URLs reaching the same simulated Marathon through both Admin
	// Router prefixes: an HA pair for the client.
	c := newClient(t, s.URL+"/service/marathon,"+s.URL+"/marathon")
	s.Marathon.Faults().Add(fault.Rule{Method: "GET", Path: "/v2/apps", Status: 503, Count: 1})
	if _, err := c.ListApps(ctx, ""); err != nil {
		t.Fatalf("503 then failover: %v", err)
	}
	if c.CurrentURL() != s.URL+"/marathon" {
		t.Fatalf("current %s", c.CurrentURL())
	}
	// A dropped write is not retried elsewhere: transient error, and the
	// app was not created twice (here: not at all, the fault answered).
	s.Marathon.Faults().Add(fault.Rule{Method: "POST", Path: "/v2/apps", Drop: true, Count: 1})
	_, err := c.CreateApp(ctx, appJSON("/e2e/drop", "r", ""))
	if err == nil || errs.ClassOf(err) != errs.ClassTransient {
		t.Fatalf("dropped write: %v", err)
	}
	if _, err := c.GetApp(ctx, "/e2e/drop"); !IsNotFound(err) {
		t.Fatalf("after a dropped create: %v", err)
	}
	if _, err := c.CreateApp(ctx, appJSON("/e2e/drop", "r", "")); err != nil {
		t.Fatalf("retry after the fault cleared: %v", err)
	}
	// 503 everywhere: transient.
	s.Marathon.Faults().Add(fault.Rule{Status: 503, Count: 2})
	if _, err := c.Deployments(ctx); StatusOf(err) != 503 || errs.ClassOf(err) != errs.ClassTransient {
		t.Fatalf("all down: %v", err)
	}
}

func TestSimEventsDeploymentSuccessAndReconnect(t *testing.T) {
	s := startSim(t)
	c := newClient(t, s.URL+"/service/marathon")
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st := c.Events(sctx, "deployment_success", "deployment_info")
	waitConnected(t, st, 1)

	res, err := c.CreateApp(ctx, appJSON("/e2e/events", "r", ""))
	if err != nil {
		t.Fatal(err)
	}
	waitDeploymentSuccess(t, st, res.DeploymentID)

	// The simulator closes every stream; the client reconnects, announces
	// a resync, and keeps delivering.
	s.Marathon.CloseEventStreams()
	waitConnected(t, st, 2)
	res, err = c.UpdateApp(ctx, "/e2e/events", appJSON("/e2e/events", "r", `,"instances":2`), false)
	if err != nil {
		t.Fatal(err)
	}
	waitDeploymentSuccess(t, st, res.DeploymentID)
}

func waitConnected(t *testing.T, st *Stream, connects int) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d connections", connects), func() (bool, string) {
		s := st.State()
		return s.Connected && s.Connects >= connects, fmt.Sprintf("%+v", s)
	})
}

func waitDeploymentSuccess(t *testing.T, st *Stream, id string) {
	t.Helper()
	deadline := time.After(e2eDeadline)
	var seen []string
	for {
		select {
		case ev, ok := <-st.C():
			if !ok {
				t.Fatal("stream closed")
			}
			seen = append(seen, ev.Type)
			if ev.Type != "deployment_success" && ev.Type != "deployment_info" && ev.Type != EventResync {
				t.Fatalf("filtered stream delivered %s", ev.Type)
			}
			if ev.Type == "deployment_success" {
				var d struct{ ID string }
				json.Unmarshal(ev.Data, &d)
				if d.ID == id {
					return
				}
			}
		case <-deadline:
			t.Fatalf("no deployment_success for %s; saw %v; state %+v", id, seen, st.State())
		}
	}
}

// Auth on: a service account whose key the test generates, registered with
// the simulated IAM.
func authSim(t *testing.T, now func() time.Time, mod ...func(*sim.Options, *dcosauth.ServiceAccount)) (*sim.Server, *dcosauth.Transport) {
	t.Helper()
	pemKey, key := testKeyPEM(t)
	sa := dcosauth.ServiceAccount{UID: "universe-operator", PrivateKeyPEM: pemKey}
	s := startSim(t, func(o *sim.Options) {
		o.Auth.Enabled = true
		o.Auth.Now = now
		o.Auth.SigningKey = key // saves generating a second 2048-bit key under -race
		for _, m := range mod {
			m(o, &sa)
		}
	})
	s.Auth.AddServiceAccount("universe-operator", &key.PublicKey)
	sa.LoginURL = dcosauth.LoginURL(s.URL)
	rt, err := dcosauth.NewTransport(dcosauth.Config{ServiceAccount: &sa})
	if err != nil {
		t.Fatal(err)
	}
	return s, rt
}

func TestSimAuthServiceAccount(t *testing.T) {
	s, rt := authSim(t, nil)
	// Without credentials: Admin Router's 401, permanent.
	anon := newClient(t, s.URL+"/service/marathon")
	if _, err := anon.ListApps(ctx, ""); StatusOf(err) != 401 || !errs.IsPermanent(err) {
		t.Fatalf("anonymous: %v", err)
	}
	c := newClient(t, s.URL+"/service/marathon", func(o *Options) { o.Transport = rt })
	if _, err := c.CreateApp(ctx, appJSON("/e2e/auth", "r", "")); err != nil {
		t.Fatal(err)
	}
	waitNoDeployment(t, c, "/e2e/auth")
	apps, err := c.ListApps(ctx, "UNIVERSE_OPERATOR_RELEASE==r")
	if err != nil || len(apps) != 1 {
		t.Fatalf("apps %v %v", apps, err)
	}
	// Events through Admin Router with auth.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st := c.Events(sctx, "deployment_success")
	waitConnected(t, st, 1)
	res, err := c.DeleteApp(ctx, "/e2e/auth", false)
	if err != nil {
		t.Fatal(err)
	}
	waitDeploymentSuccess(t, st, res.DeploymentID)
	if rt.Logins() != 1 {
		t.Fatalf("%d logins, want 1", rt.Logins())
	}
}

func TestSimAuthWrongKeyOrUIDIsPermanent(t *testing.T) {
	s, _ := authSim(t, nil)
	pemKey, _ := testKeyPEM(t)
	other, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	otherPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(other)})
	for name, sa := range map[string]dcosauth.ServiceAccount{
		"unknown uid": {UID: "someone-else", PrivateKeyPEM: pemKey},
		"wrong key":   {UID: "universe-operator", PrivateKeyPEM: otherPEM},
	} {
		t.Run(name, func(t *testing.T) {
			sa.LoginURL = dcosauth.LoginURL(s.URL)
			rt, err := dcosauth.NewTransport(dcosauth.Config{ServiceAccount: &sa})
			if err != nil {
				t.Fatal(err)
			}
			c := newClient(t, s.URL+"/service/marathon", func(o *Options) { o.Transport = rt })
			_, err = c.ListApps(ctx, "")
			if !errs.IsPermanent(err) || !strings.Contains(err.Error(), sa.UID) || !strings.Contains(err.Error(), "wrong uid or private key") {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// TestSimAuthTokenExpiredRelogin makes the simulator's clock jump past the
// token's expiry (our transport's clock does not move, so it does not
// refresh early): the cluster answers 401, the transport logs in again and
// the request succeeds. Tokens live 10 minutes; our login JWTs 1 hour, so
// they stay valid for the simulator's clock.
func TestSimAuthTokenExpiredRelogin(t *testing.T) {
	var mu sync.Mutex
	offset := time.Duration(0)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(offset) }
	s, rt := authSim(t, now, func(o *sim.Options, sa *dcosauth.ServiceAccount) {
		o.Auth.TTL = 10 * time.Minute
		sa.LoginTokenTTL = time.Hour
	})
	c := newClient(t, s.URL+"/service/marathon", func(o *Options) { o.Transport = rt })
	if _, err := c.ListApps(ctx, ""); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	offset = 11 * time.Minute
	mu.Unlock()
	if _, err := c.CreateApp(ctx, appJSON("/e2e/relogin", "r", "")); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if rt.Logins() != 2 {
		t.Fatalf("%d logins, want 2", rt.Logins())
	}
	if _, err := c.GetApp(ctx, "/e2e/relogin"); err != nil {
		t.Fatal(err)
	}
}

// TestSimStandbyRedirectKeepsAuth runs the simulator's standby Marathon in
// front of the leader, both behind the Admin Router token check and on
// different hosts (127.0.0.1 vs localhost): API calls are proxied, the event
// stream is redirected to the leader and keeps its Authorization header.
func TestSimStandbyRedirectKeepsAuth(t *testing.T) {
	s, rt := authSim(t, nil)
	leader := httptest.NewUnstartedServer(s.Auth.Middleware(s.Marathon.Handler()))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	leader.Listener = ln
	leader.Start()
	defer leader.Close()
	leaderURL := strings.Replace(leader.URL, "127.0.0.1", "localhost", 1)
	standby := httptest.NewServer(s.Auth.Middleware(simmarathon.NewStandby(s.Marathon, func() string { return leaderURL })))
	defer standby.Close()

	c := newClient(t, standby.URL, func(o *Options) { o.Transport = rt })
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st := c.Events(sctx, "deployment_success")
	waitConnected(t, st, 1)
	if u := st.State().URL; !strings.HasPrefix(u, leaderURL) {
		t.Fatalf("stream at %s, want the leader %s", u, leaderURL)
	}
	res, err := c.CreateApp(ctx, appJSON("/e2e/standby", "r", "")) // proxied by the standby
	if err != nil {
		t.Fatal(err)
	}
	waitDeploymentSuccess(t, st, res.DeploymentID)
}
