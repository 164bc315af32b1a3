package marathon

import (
	"errors"
	"net/url"
	"testing"
	"time"

	gomarathon "github.com/gambol99/go-marathon"
)

// TestGoMarathonClient drives the simulator with the real third-party client
// (go-marathon v0.7.1) on the paths where that client is faithful: info,
// leader, ping, deployments, queue, reading apps it can decode, and its
// *APIError codes. App definitions are created with raw JSON, as the
// controller does (the client's typed Application drops fields).
func TestGoMarathonClient(t *testing.T) {
	e := newEnv(t, Options{Leader: "10.0.0.5:8080", Timing: Timing{DeploymentDuration: time.Second, TaskStageDuration: 10 * time.Millisecond}})
	cfg := gomarathon.NewDefaultConfig() // the event transport is never started: no listener is added
	cfg.URL = e.api.URL
	client, err := gomarathon.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}

	if ok, err := client.Ping(); !ok || err != nil {
		t.Fatalf("Ping: %v %v", ok, err)
	}
	info, err := client.Info()
	if err != nil || info.Leader != "10.0.0.5:8080" || info.Name != "marathon" || info.FrameworkID == "" || info.MarathonConfig.MesosRole != "slave_public" {
		t.Fatalf("Info: %+v %v", info, err)
	}
	if leader, err := client.Leader(); err != nil || leader != "10.0.0.5:8080" {
		t.Fatalf("Leader: %q %v", leader, err)
	}

	r := e.do("POST", "/v2/apps", `{"id":"/gm/web","cmd":"sleep 1","instances":2,"labels":{"UNIVERSE_OPERATOR_RELEASE":"web"},
		"healthChecks":[{"protocol":"HTTP","path":"/"}],"fetch":[{"uri":"https://e.com/x.tgz"}]}`)
	if r.status != 201 {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	depID := r.header.Get("Marathon-Deployment-Id")
	deps, err := client.Deployments()
	if err != nil || len(deps) != 1 || deps[0].ID != depID || deps[0].TotalSteps != 2 || len(deps[0].Steps) != 2 ||
		deps[0].Steps[0][0].Action != "StartApplication" || deps[0].AffectedApps[0] != "/gm/web" {
		t.Fatalf("Deployments: %+v %v", deps, err)
	}
	if found, err := client.HasDeployment(depID); !found || err != nil {
		t.Fatalf("HasDeployment: %v %v", found, err)
	}

	// 409 while the deployment runs: ErrCodeAppLocked with the deployment id.
	_, err = client.ScaleApplicationInstances("/gm/web", 3, false)
	var apiErr *gomarathon.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrCode != gomarathon.ErrCodeAppLocked {
		t.Fatalf("scale while locked: %v", err)
	}
	// A duplicate id: ErrCodeDuplicateID.
	_, err = client.CreateApplication(new(gomarathon.Application).Name("/gm/web").Command("sleep 2"))
	if !errors.As(err, &apiErr) || apiErr.ErrCode != gomarathon.ErrCodeDuplicateID {
		t.Fatalf("duplicate: %v", err)
	}
	// An invalid definition: 422, ErrCodeInvalidBean.
	bad := new(gomarathon.Application).Name("/gm/bad").Command("sleep 2").CPU(-1)
	_, err = client.CreateApplication(bad)
	if !errors.As(err, &apiErr) || apiErr.ErrCode != gomarathon.ErrCodeInvalidBean {
		t.Fatalf("invalid app: %v", err)
	}
	// A forced scale goes through.
	if d, err := client.ScaleApplicationInstances("/gm/web", 1, true); err != nil || d.DeploymentID == "" {
		t.Fatalf("forced scale: %+v %v", d, err)
	}
	e.srv.SetTiming(fastTiming)
	// The revert deployment of a scale back is reachable through DeleteDeployment.
	deps, _ = client.Deployments()
	if len(deps) == 1 {
		if _, err := client.DeleteDeployment(deps[0].ID, false); err != nil {
			t.Fatalf("DeleteDeployment: %v", err)
		}
	}
	e.waitIdle()

	apps, err := client.Applications(url.Values{"label": {"UNIVERSE_OPERATOR_RELEASE==web"}, "embed": {"apps.tasks"}})
	if err != nil || len(apps.Apps) != 1 {
		t.Fatalf("Applications: %+v %v", apps, err)
	}
	app := apps.Apps[0]
	if app.ID != "/gm/web" || app.TasksRunning != *app.Instances || len(app.Tasks) != *app.Instances || (*app.Labels)["UNIVERSE_OPERATOR_RELEASE"] != "web" {
		t.Fatalf("decoded app: %+v", app)
	}
	if *app.BackoffFactor != 1.15 || len(*app.HealthChecks) != 1 || (*app.HealthChecks)[0].TimeoutSeconds != 20 {
		t.Fatalf("defaults as decoded: backoffFactor %v healthChecks %+v", *app.BackoffFactor, *app.HealthChecks)
	}
	single, err := client.Application("/gm/web")
	if err != nil || single.ID != "/gm/web" || single.Version == "" {
		t.Fatalf("Application: %+v %v", single, err)
	}
	if _, err := client.Application("/gm/none"); !errors.As(err, &apiErr) || apiErr.ErrCode != gomarathon.ErrCodeNotFound {
		t.Fatalf("missing app: %v", err)
	}
	versions, err := client.ApplicationVersions("/gm/web")
	if err != nil || len(versions.Versions) < 2 {
		t.Fatalf("versions: %+v %v", versions, err)
	}

	// The launch queue, as the client reads it.
	e.srv.SetTiming(Timing{DeploymentDuration: fastTiming.DeploymentDuration, TaskStageDuration: fastTiming.TaskStageDuration, TimeScale: 10})
	if _, err := e.srv.KillTasks("/gm/web", ""); err != nil {
		t.Fatal(err)
	}
	q, err := client.Queue()
	if err != nil || len(q.Items) != 1 || q.Items[0].Delay.TimeLeftSeconds < 1 || q.Items[0].Application.ID != "/gm/web" {
		t.Fatalf("Queue: %+v %v", q, err)
	}
	if err := client.DeleteQueueDelay("/gm/web"); err != nil {
		t.Fatalf("DeleteQueueDelay: %v", err)
	}

	// Known client limit (marathon-notes.md): an env secret makes the whole
	// Applications() call fail to decode, while Marathon's answer is valid.
	e.do("POST", "/v2/apps", `{"id":"/gm/secret","cmd":"sleep 1","env":{"P":{"secret":"s"}},"secrets":{"s":{"source":"/x"}}}`)
	if _, err := client.Applications(nil); err == nil {
		t.Log("go-marathon decoded an env secret; the known limit is gone")
	}
}
