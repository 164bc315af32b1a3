package mesos

// End-to-end tests against the simulated cluster: the Mesos master behind
// the simulated Admin Router at /mesos/, with DC/OS authentication on.

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/clients/dcosauth"
	"github.com/universe-operator/universe-operator/clients/marathon"
	"github.com/universe-operator/universe-operator/errs"
	"github.com/universe-operator/universe-operator/sim"
	"github.com/universe-operator/universe-operator/sim/fault"
	simmesos "github.com/universe-operator/universe-operator/sim/mesos"
)

var (
	keyOnce sync.Once
	key     *rsa.PrivateKey
)

func rsaKey(t *testing.T) *rsa.PrivateKey {
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		key = k
	})
	return key
}

// authCluster starts the simulated cluster with auth on and returns it with
// a transport logged in as a service account registered with it.
func authCluster(t *testing.T) (*sim.Server, *dcosauth.Transport) {
	t.Helper()
	k := rsaKey(t)
	o := sim.FastOptions()
	o.Auth.Enabled = true
	o.Auth.SigningKey = k
	s := sim.NewServer(o)
	t.Cleanup(s.Close)
	s.Auth.AddServiceAccount("uo", &k.PublicKey)
	rt, err := dcosauth.NewTransport(dcosauth.Config{ServiceAccount: &dcosauth.ServiceAccount{
		UID: "uo", LoginURL: dcosauth.LoginURL(s.URL),
		PrivateKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	return s, rt
}

func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
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

// TestSimPlainFrameworkJanitor drives a plain framework package's uninstall
// the way the controller will: the app is deleted through Marathon, then the
// framework is torn down, its volumes destroyed and its reservations
// released through this client, and the simulator holds nothing of it.
func TestSimPlainFrameworkJanitor(t *testing.T) {
	s, rt := authCluster(t)
	mc, err := marathon.New(marathon.Options{URL: s.URL + "/service/marathon", Transport: rt})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, s.URL+"/mesos", func(o *Options) { o.Transport = rt })
	const name, role = "e2e-fw", "e2e-fw-role"

	if _, err := mc.CreateApp(ctx, json.RawMessage(`{"id":"/e2e-fw","cmd":"sleep 3600","cpus":0.1,"mem":32,"instances":1,
		"labels":{"DCOS_PACKAGE_FRAMEWORK_NAME":"e2e-fw","DCOS_PACKAGE_NAME":"e2e"}}`)); err != nil {
		t.Fatal(err)
	}
	var fw Framework
	eventually(t, "the framework registers and reserves", func() (bool, string) {
		fws, err := c.FrameworksByName(ctx, name)
		if err != nil || len(fws) != 1 {
			return false, fmt.Sprint(fws, err)
		}
		fw = fws[0]
		res, err := c.ReservedResources(ctx, role)
		return err == nil && len(res) > 0, fmt.Sprint(res, err)
	})
	if fw.ID == "" || fmt.Sprint(fw.Roles) != "["+role+"]" || fw.Principal != "e2e-fw-principal" || !strings.Contains(fw.WebUIURL, "e2e-fw") || !fw.Active {
		t.Fatalf("framework %+v", fw)
	}

	// Delete the app: the framework stays, inactive, until TEARDOWN.
	if _, err := mc.DeleteApp(ctx, "/e2e-fw", true); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the framework deactivates", func() (bool, string) {
		fws, err := c.FrameworksByName(ctx, name)
		return err == nil && len(fws) == 1 && !fws[0].Active, fmt.Sprint(fws, err)
	})
	if err := c.Teardown(ctx, fw.ID); err != nil {
		t.Fatal(err)
	}
	if fws, err := c.FrameworksByName(ctx, name); err != nil || len(fws) != 0 {
		t.Fatalf("after teardown: %v %v", fws, err)
	}
	if err := c.Teardown(ctx, fw.ID); !IsNotFound(err) || !errs.IsPermanent(err) {
		t.Fatalf("second teardown: %v", err)
	}

	// Reservations and volumes outlive the framework.
	res, err := c.ReservedResources(ctx, role)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 {
		t.Fatalf("reservations on %d agents, want 3: %+v", len(res), res)
	}
	for _, a := range res {
		vols := a.Volumes()
		if len(vols) != 1 || vols[0].PersistenceID == "" || vols[0].ContainerPath == "" || vols[0].Name != "disk" || vols[0].Role != role {
			t.Fatalf("agent %s volumes %+v", a.AgentID, vols)
		}
		names := map[string]bool{}
		for _, r := range a.Resources {
			names[r.Name] = true
			if r.Role != role || r.Principal != "e2e-fw-principal" {
				t.Fatalf("resource %+v", r)
			}
		}
		if !names["cpus"] || !names["mem"] {
			t.Fatalf("agent %s resources %+v", a.AgentID, a.Resources)
		}
		// The volume's disk cannot be unreserved before it is destroyed.
		if err := c.Unreserve(ctx, a.AgentID, vols); err == nil {
			t.Fatal("unreserving a live volume's disk succeeded")
		} else if errs.ClassOf(err) != errs.ClassWaiting || !strings.Contains(err.Error(), "409") {
			t.Fatalf("unreserve before destroy: %v (class %v)", err, errs.ClassOf(err))
		}
	}
	for _, a := range res {
		if err := c.DestroyVolumes(ctx, a.AgentID, a.Volumes()); err != nil {
			t.Fatalf("destroy on %s: %v", a.AgentID, err)
		}
	}
	if v := s.Mesos.Volumes(role); len(v) != 0 {
		t.Fatalf("volumes left: %+v", v)
	}
	// Unreserve everything found before the volumes were destroyed: the
	// client strips the volume part of the disk resources.
	for _, a := range res {
		if err := c.Unreserve(ctx, a.AgentID, a.Resources); err != nil {
			t.Fatalf("unreserve on %s: %v", a.AgentID, err)
		}
	}
	if r := s.Mesos.Reservations(role); len(r) != 0 {
		t.Fatalf("reservations left: %+v", r)
	}
	if res, err := c.ReservedResources(ctx, role); err != nil || len(res) != 0 {
		t.Fatalf("after cleanup: %+v %v", res, err)
	}
	roles, err := c.Roles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.State(ctx)
	if err != nil || st.GetAgents == nil || len(st.GetAgents.Agents) == 0 {
		t.Fatalf("state %v %v", st, err)
	}
	t.Logf("roles after cleanup: %v", roles)
}

func TestSimMesosAuthAndFaults(t *testing.T) {
	s, rt := authCluster(t)
	anon := newClient(t, s.URL+"/mesos")
	if _, err := anon.Frameworks(ctx); !errs.IsPermanent(err) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("anonymous: %v", err)
	}
	c := newClient(t, s.URL+"/mesos/", func(o *Options) { o.Transport = rt })
	if _, err := c.Frameworks(ctx); err != nil {
		t.Fatal(err)
	}
	s.Mesos.Faults().Add(fault.Rule{Status: 503, Count: 1})
	if _, err := c.Frameworks(ctx); errs.ClassOf(err) != errs.ClassTransient || !strings.Contains(err.Error(), "503") {
		t.Fatalf("mesos 503: %v", err)
	}
	s.Mesos.Faults().Add(fault.Rule{Drop: true, Count: 1})
	if err := c.Teardown(ctx, "x"); err == nil || errs.ClassOf(err) != errs.ClassTransient {
		t.Fatalf("mesos dropped: %v", err)
	}
	if err := c.Teardown(ctx, "no-such-framework"); !IsNotFound(err) {
		t.Fatalf("unknown framework: %v", err)
	}
	if err := c.Unreserve(ctx, "no-such-agent", []Resource{{Name: "cpus"}}); !errs.IsPermanent(err) {
		t.Fatalf("unknown agent: %v", err)
	}
}

// TestSimNonLeadingMasterRedirect: a non-leading simulated master answers
// 307 //leader/api/v1; the client follows it with the body.
func TestSimNonLeadingMasterRedirect(t *testing.T) {
	leaderMaster := simmesos.New(simmesos.Options{Agents: 1})
	leader := httptest.NewServer(leaderMaster.Handler())
	defer leader.Close()
	fw := leaderMaster.RegisterFramework(simmesos.FrameworkInfo{Name: "redirected", Role: "r-role", Principal: "p"})

	standbyMaster := simmesos.New(simmesos.Options{Agents: 1})
	standbyMaster.SetLeader(strings.TrimPrefix(leader.URL, "http://"))
	standby := httptest.NewServer(standbyMaster.Handler())
	defer standby.Close()

	c := newClient(t, standby.URL)
	fws, err := c.FrameworksByName(ctx, "redirected")
	if err != nil || len(fws) != 1 || fws[0].ID != fw.ID {
		t.Fatalf("frameworks via standby: %+v %v", fws, err)
	}
	if err := c.Teardown(ctx, fw.ID); err != nil {
		t.Fatal(err)
	}
	if len(leaderMaster.Frameworks()) != 0 || len(leaderMaster.CompletedFrameworks()) != 1 {
		t.Fatalf("teardown did not reach the leader: %+v", leaderMaster.Frameworks())
	}
}
