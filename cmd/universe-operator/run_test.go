package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/api"
	"github.com/universe-operator/universe-operator/clients/dcosauth"
	"github.com/universe-operator/universe-operator/clients/marathon"
	"github.com/universe-operator/universe-operator/examples"
	"github.com/universe-operator/universe-operator/internal/testenv"
	"github.com/universe-operator/universe-operator/sim"
	"github.com/universe-operator/universe-operator/sim/auth"
)

// TestRunStatusDiff drives the three commands end to end: `run` against a
// simulated cluster with auth on (service-account login derived from
// dcos_url), `status` against the running controller, and `diff` after a
// manual edit in Marathon.
func TestRunStatusDiff(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "uo.key")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	so := sim.FastOptions()
	so.Auth = auth.Options{Enabled: true, ServiceAccounts: []auth.ServiceAccount{{UID: "universe-operator", PublicKey: &key.PublicKey}}}
	cluster := sim.NewServer(so)
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
	rel.Write("releases/greeter.yaml", `apiVersion: universe-operator/v1
kind: PackageRelease
metadata:
  name: greeter-prod
spec:
  package: greeter
  version: "1.0.0"
  options: {greeter: {name: /prod/greeter, message: hi}}
`)
	rel.Commit("greeter")
	srv := testenv.StartGitHTTP(t, repos, nil)

	cfgFile := filepath.Join(dir, "config.yaml")
	cfg := fmt.Sprintf(`dcos_url: %s
auth:
  service_account:
    uid: universe-operator
    private_key_file: %s
universes:
  - name: examples
    git: {url: %s, ref: main, path: repo/packages}
releases:
  git: {url: %s, ref: main, path: releases}
interval: 1s
listen: 127.0.0.1:0
state_dir: %s
log_level: info
`, cluster.URL, keyFile, srv.URL("universe"), srv.URL("releases"), filepath.Join(dir, "state"))
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	var stdout, stderr syncBuffer
	root := newRoot(&stdout, &stderr)
	root.SetArgs([]string{"run", "--config", cfgFile})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	stopped := false
	t.Cleanup(func() {
		cancel()
		if stopped {
			return
		}
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("run did not stop")
		}
	})

	listenRE := regexp.MustCompile(`listen="?(127\.0\.0\.1:\d+)"?`)
	var base string
	waitFor(t, "the serving log line", func() bool {
		m := listenRE.FindStringSubmatch(stderr.String())
		if m == nil {
			return false
		}
		base = "http://" + m[1]
		return true
	})

	var table string
	defer func() {
		if t.Failed() {
			t.Logf("last status table:\n%s\nstderr:\n%s", table, stderr.String())
		}
	}()
	waitFor(t, "greeter-prod Synced in `status`", func() bool {
		var out bytes.Buffer
		if err := runStatus(context.Background(), &out, base, time.Now()); err != nil {
			return false
		}
		table = out.String()
		return regexp.MustCompile(`(?m)^greeter-prod\s+greeter\s+1\.0\.0\s+Synced\s+Healthy\s+1/1 \(1 healthy\)\s+Running\s`).MatchString(table)
	})
	if !strings.HasPrefix(table, "NAME") || !strings.Contains(table, "AGE/REASON") {
		t.Fatalf("table:\n%s", table)
	}

	// Stop the controller (gracefully) and edit the app by hand.
	cancel()
	stopped = true
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop")
	}
	rt, err := dcosauth.NewTransport(dcosauth.Config{ServiceAccount: &dcosauth.ServiceAccount{UID: "universe-operator",
		PrivateKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), LoginURL: dcosauth.LoginURL(cluster.URL)}})
	if err != nil {
		t.Fatal(err)
	}
	mc, err := marathon.New(marathon.Options{URL: cluster.URL + "/service/marathon", Transport: rt})
	if err != nil {
		t.Fatal(err)
	}
	a, err := mc.GetApp(context.Background(), "/prod/greeter")
	if err != nil {
		t.Fatal(err)
	}
	var def map[string]any
	_ = json.Unmarshal(a.Raw, &def)
	for _, k := range []string{"version", "versionInfo", "tasks", "tasksRunning", "tasksStaged", "tasksHealthy", "tasksUnhealthy", "deployments", "lastTaskFailure"} {
		delete(def, k)
	}
	def["instances"] = 3
	body, _ := json.Marshal(def)
	if _, err := mc.UpdateApp(context.Background(), "/prod/greeter", body, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the manual deployment", func() bool {
		a, err := mc.GetApp(context.Background(), "/prod/greeter")
		return err == nil && a.Instances == 3 && len(a.Deployments) == 0
	})

	var out, errOut bytes.Buffer
	if code := run([]string{"diff", "--config", cfgFile}, &out, &errOut); code != exitOK {
		t.Fatalf("diff exit %d: %s", code, errOut.String())
	}
	if !regexp.MustCompile(`(?m)^~ greeter-prod /prod/greeter: update`).MatchString(out.String()) ||
		!regexp.MustCompile(`(?m)^\s+/instances\s+git: 1\s+marathon: 3$`).MatchString(out.String()) {
		t.Fatalf("diff output:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "0 to create, 1 to update, 0 to delete") {
		t.Fatalf("diff summary:\n%s", out.String())
	}
	out.Reset()
	if code := run([]string{"diff", "--config", cfgFile, "-o", "json"}, &out, &errOut); code != exitOK {
		t.Fatalf("diff json exit %d: %s", code, errOut.String())
	}
	var rep struct {
		Items []struct{ Release, Action string }
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || len(rep.Items) != 1 || rep.Items[0].Action != "update" {
		t.Fatalf("diff json: %v %s", err, out.String())
	}
}

func TestStatusTable(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	one := 1
	list := &api.ReleaseList{Releases: []api.Release{
		{Name: "a", Package: "hello-web", ResolvedVersion: "1.1.0", ResolvedRelease: &one, DeployedVersion: "1.0.0",
			Sync: api.SyncProgressing, SyncReason: "deployment in flight", Health: api.HealthHealthy,
			Tasks: api.TaskCounts{Instances: 2, Running: 2, Healthy: 2}, Status: "Deploying"},
		{Name: "b", Package: "greeter", ResolvedVersion: "2.0.0", DeployedVersion: "2.0.0", Sync: api.SyncSynced,
			Health: api.HealthNA, Tasks: api.TaskCounts{Instances: 1, Running: 1}, Status: "Running", LastChange: now.Add(-90 * time.Minute)},
		{Name: "c", Package: "badapp", Sync: api.SyncFailed, Health: api.HealthNA,
			LastError: &api.Error{Reason: "MarathonRejected", Message: "marathon POST /v2/apps: 422 Object is not valid"}},
	}, Controller: &api.ControllerInfo{PruneRefused: "PRUNE REFUSED: something"}}
	var out bytes.Buffer
	printStatus(&out, list, now)
	want := `NAME  PACKAGE    VERSION        SYNC         HEALTH   TASKS            STATUS     AGE/REASON
a     hello-web  1.0.0 (1.1.0)  Progressing  Healthy  2/2 (2 healthy)  Deploying  deployment in flight
b     greeter    2.0.0          Synced       NA       1/1              Running    90m
c     badapp     -              Failed       NA       0/0              -          MarathonRejected: marathon POST /v2/apps: 422 Object is not valid
prune refused: PRUNE REFUSED: something
`
	if out.String() != want {
		t.Fatalf("table:\n%s\nwant:\n%s", out.String(), want)
	}
}
