package sdk

// End-to-end test against the simulated cluster: an SDK service deployed
// through Marathon, then uninstalled the way Cosmos does it (SDK_UNINSTALL),
// with its uninstall plan read through Admin Router with auth on.

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/clients/dcosauth"
	"github.com/universe-operator/universe-operator/clients/marathon"
	"github.com/universe-operator/universe-operator/errs"
	"github.com/universe-operator/universe-operator/sim"
)

const sdkApp = `{"id":"/prod/kafka","cmd":"./scheduler","cpus":0.5,"mem":512,"instances":1,
 "labels":{"DCOS_PACKAGE_NAME":"kafka","DCOS_PACKAGE_FRAMEWORK_NAME":"prod/kafka","DCOS_SERVICE_NAME":"prod/kafka",
  "DCOS_COMMONS_UNINSTALL":"true","DCOS_COMMONS_API_VERSION":"v1"}%s}`

func TestSimSDKUninstallPlan(t *testing.T) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	o := sim.FastOptions()
	o.Auth.Enabled = true
	o.Auth.SigningKey = k
	o.SDK.UninstallStepDuration = 100 * time.Millisecond // long enough to see IN_PROGRESS
	s := sim.NewServer(o)
	defer s.Close()
	s.Auth.AddServiceAccount("uo", &k.PublicKey)
	rt, err := dcosauth.NewTransport(dcosauth.Config{ServiceAccount: &dcosauth.ServiceAccount{
		UID: "uo", LoginURL: dcosauth.LoginURL(s.URL),
		PrivateKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	mc, err := marathon.New(marathon.Options{URL: s.URL + "/service/marathon", Transport: rt})
	if err != nil {
		t.Fatal(err)
	}
	c := client(t, s.URL, func(o *Options) { o.Transport = rt })

	// Without auth: Admin Router refuses.
	if _, err := client(t, s.URL).DeployPlan(ctx, "prod/kafka", "v1"); !errs.IsPermanent(err) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("anonymous: %v", err)
	}
	// Before the service exists: 404, waiting.
	if _, err := c.DeployPlan(ctx, "prod/kafka", "v1"); !IsNotFound(err) || errs.ClassOf(err) != errs.ClassWaiting {
		t.Fatalf("before deploy: %v", err)
	}

	if _, err := mc.CreateApp(ctx, json.RawMessage(fmt.Sprintf(sdkApp, ""))); err != nil {
		t.Fatal(err)
	}
	var p *Plan
	eventually(t, "deploy plan complete", func() (bool, string) {
		p, err = c.DeployPlan(ctx, "/prod/kafka", "v1")
		if err != nil {
			return false, err.Error()
		}
		return p.Complete() && p.Status == "COMPLETE", fmt.Sprint(p.Code, p.Status)
	})
	if len(p.Phases) == 0 || len(p.Phases[0].Steps) == 0 {
		t.Fatalf("deploy plan %+v", p)
	}
	if _, err := c.Plan(ctx, "prod/kafka", "v1", "nope"); !IsNotFound(err) {
		t.Fatalf("unknown plan: %v", err)
	}

	// Cosmos's SDK uninstall: env SDK_UNINSTALL=true, PUT with force.
	if _, err := mc.UpdateApp(ctx, "/prod/kafka", json.RawMessage(fmt.Sprintf(sdkApp, `,"env":{"SDK_UNINSTALL":"true"}`)), true); err != nil {
		t.Fatal(err)
	}
	sawInProgress, phases := false, map[string]bool{}
	eventually(t, "uninstall plan complete", func() (bool, string) {
		p, err = c.DeployPlan(ctx, "prod/kafka", "")
		if err != nil {
			return false, err.Error()
		}
		for _, ph := range p.Phases {
			phases[ph.Name] = true
		}
		if !p.Complete() && p.Code == 202 {
			sawInProgress = true
		}
		return p.Complete() && phases["deregister-service"], fmt.Sprint(p.Code, p.Status, phases)
	})
	if !sawInProgress || !phases["kill-tasks"] {
		t.Fatalf("uninstall plan never seen in progress (%v) or without kill-tasks: %v", sawInProgress, phases)
	}
	if p.Status != "COMPLETE" || len(p.Errors) != 0 {
		t.Fatalf("final plan %+v", p)
	}
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
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s (last: %s)", what, last)
}
