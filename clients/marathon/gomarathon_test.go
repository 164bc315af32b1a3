package marathon

// Cross-checks with github.com/gambol99/go-marathon v0.7.1. This package
// sends nothing through go-marathon (see doc.go); these tests show that it
// agrees with go-marathon where go-marathon is faithful (error codes, info,
// leader, ping, deployment listing) and pin the go-marathon defects that made
// us keep app definitions and deployment cancellation away from it.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	gomarathon "github.com/gambol99/go-marathon"

	"github.com/universe-operator/universe-operator/errs"
)

func newGoMarathon(t *testing.T, url string) gomarathon.Marathon {
	t.Helper()
	cfg := gomarathon.NewDefaultConfig()
	cfg.URL = url
	cfg.HTTPClient = &http.Client{}
	m, err := gomarathon.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAgreesWithGoMarathonErrorCodes(t *testing.T) {
	cases := []struct {
		status int
		body   string
		code   int
		ours   func(error) bool
	}{
		{409, `{"message":"App is locked by one or more deployments.","deployments":[{"id":"d1"}]}`, gomarathon.ErrCodeAppLocked,
			func(err error) bool { return IsLocked(err) && errs.ClassOf(err) == errs.ClassWaiting }},
		{409, `{"message":"An app with id [/x] already exists."}`, gomarathon.ErrCodeDuplicateID,
			func(err error) bool { return IsAlreadyExists(err) && errs.ClassOf(err) == errs.ClassWaiting }},
		{404, `{"message":"App '/x' does not exist"}`, gomarathon.ErrCodeNotFound, IsNotFound},
		{422, `{"message":"Object is not valid","details":[{"path":"/id","errors":["bad"]}]}`, gomarathon.ErrCodeInvalidBean, errs.IsPermanent},
		{400, `{"message":"Invalid JSON","details":[{"path":"/","errors":["x"]}]}`, gomarathon.ErrCodeBadRequest, errs.IsPermanent},
		{401, `{"message":"no"}`, gomarathon.ErrCodeUnauthorized, errs.IsPermanent},
		{403, `{"message":"no"}`, gomarathon.ErrCodeForbidden, errs.IsPermanent},
		{500, `{"message":"boom"}`, gomarathon.ErrCodeServer, func(err error) bool { return errs.ClassOf(err) == errs.ClassTransient }},
		{503, `{"message":"boom"}`, gomarathon.ErrCodeServer, func(err error) bool { return errs.ClassOf(err) == errs.ClassTransient }},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.status, tc.code), func(t *testing.T) {
			var ge *gomarathon.APIError
			if !errors.As(gomarathon.NewAPIError(tc.status, []byte(tc.body)), &ge) || ge.ErrCode != tc.code {
				t.Fatalf("go-marathon code %+v, want %d", ge, tc.code)
			}
			f := newFake(t, jsonAnswer(tc.status, tc.body))
			_, err := newClient(t, f.URL).UpdateApp(ctx, "/x", json.RawMessage(`{"id":"/x"}`), false)
			if !tc.ours(err) {
				t.Fatalf("our classification disagrees: %v (class %v)", err, errs.ClassOf(err))
			}
		})
	}
}

const ramlDeployments = `[{"id":"97c136bf-5a28-4821-9d94-480d9fbb01c8","version":"2015-09-30T09:09:17.614Z","affectedApps":["/foo"],
 "steps":[{"actions":[{"action":"StartApplication","app":"/foo"}]},{"actions":[{"action":"ScaleApplication","app":"/foo"}]}],
 "currentActions":[{"action":"ScaleApplication","app":"/foo","readinessCheckResults":[]}],"currentStep":2,"totalSteps":2}]`

func TestAgreesWithGoMarathonReads(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/deployments":
			jsonAnswer(200, ramlDeployments)(w, r)
		case "/v2/info":
			jsonAnswer(200, `{"name":"marathon","version":"1.10.17","leader":"m1:8080","frameworkId":"fw","elected":true,"marathon_config":{"mesos_role":"*","framework_name":"marathon"}}`)(w, r)
		case "/v2/leader":
			jsonAnswer(200, `{"leader":"m1:8080"}`)(w, r)
		case "/ping":
			w.Write([]byte("pong"))
		}
	})
	ours := newClient(t, f.URL)
	theirs := newGoMarathon(t, f.URL)
	compareReads(t, ours, theirs)
}

// compareReads checks that our typed reads agree with go-marathon's on the
// same server (used against fakes and against the simulator).
func compareReads(t *testing.T, ours *Client, theirs gomarathon.Marathon) {
	t.Helper()
	gd, err := theirs.Deployments()
	if err != nil {
		t.Fatal(err)
	}
	od, err := ours.Deployments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(gd) != len(od) {
		t.Fatalf("deployments: go-marathon %d, ours %d", len(gd), len(od))
	}
	for i := range od {
		g, o := gd[i], od[i]
		if g.ID != o.ID || g.Version != o.Version || fmt.Sprint(g.AffectedApps) != fmt.Sprint(o.AffectedApps) ||
			g.CurrentStep != o.CurrentStep || g.TotalSteps != o.TotalSteps || len(g.Steps) != len(o.Steps) {
			t.Fatalf("deployment %d differs:\n go-marathon %+v\n ours        %+v", i, g, o)
		}
		for s := range o.Steps {
			for a := range o.Steps[s].Actions {
				if g.Steps[s][a].Action != o.Steps[s].Actions[a].Action || g.Steps[s][a].App != o.Steps[s].Actions[a].App {
					t.Fatalf("deployment %d step %d action %d differs", i, s, a)
				}
			}
		}
		if len(g.CurrentActions) != len(o.CurrentActions) {
			t.Fatalf("current actions differ")
		}
	}
	gi, err := theirs.Info()
	if err != nil {
		t.Fatal(err)
	}
	oi, err := ours.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if gi.Name != oi.Name || gi.Version != oi.Version || gi.Leader != oi.Leader || gi.FrameworkID != oi.FrameworkID ||
		gi.MarathonConfig.MesosRole != oi.MarathonConfig.MesosRole || gi.MarathonConfig.FrameworkName != oi.MarathonConfig.FrameworkName {
		t.Fatalf("info differs:\n go-marathon %+v\n ours        %+v", gi, oi)
	}
	gl, err := theirs.Leader()
	if err != nil {
		t.Fatal(err)
	}
	if ol, err := ours.Leader(ctx); err != nil || ol != gl {
		t.Fatalf("leader: go-marathon %q, ours %q (%v)", gl, ol, err)
	}
	if ok, err := theirs.Ping(); !ok || err != nil {
		t.Fatalf("go-marathon ping: %v", err)
	}
	if err := ours.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
}

// TestGoMarathonDefectsPinned documents why app definitions and deployment
// cancellation do not go through go-marathon.
func TestGoMarathonDefectsPinned(t *testing.T) {
	// 1. Its typed Application drops and adds fields.
	raw := `{"id":"/a","cmd":"x","networks":[{"mode":"container/bridge"}],"unreachableStrategy":{"inactiveAfterSeconds":0,"expungeAfterSeconds":0},` +
		`"fetch":[{"uri":"https://x/y.tgz"}],"role":"slave_public"}`
	var app gomarathon.Application
	if err := json.Unmarshal([]byte(raw), &app); err != nil {
		t.Fatal(err)
	}
	back, _ := json.Marshal(&app)
	for _, lost := range []string{`"networks"`, `"unreachableStrategy"`, `"role"`} {
		if strings.Contains(string(back), lost) {
			t.Errorf("go-marathon kept %s: the defect is fixed, revisit doc.go", lost)
		}
	}
	if !strings.Contains(string(back), `"extract":false`) {
		t.Errorf("go-marathon no longer adds extract:false: revisit doc.go")
	}
	// An env secret reference makes it fail to decode.
	if err := json.Unmarshal([]byte(`{"id":"/a","env":{"P":{"secret":"s"}}}`), &app); err == nil {
		t.Errorf("go-marathon decodes env secrets now: revisit doc.go")
	}

	// 2. Its DeleteDeployment ignores force; ours sends it.
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	if _, err := newGoMarathon(t, f.URL).DeleteDeployment("d1", true); err != nil && !strings.Contains(err.Error(), "EOF") {
		t.Logf("go-marathon DeleteDeployment: %v", err)
	}
	if q := f.last(t).RawQuery; strings.Contains(q, "force") {
		t.Errorf("go-marathon sent force (%q): the defect is fixed, revisit doc.go", q)
	}
	if _, err := newClient(t, f.URL).DeleteDeployment(ctx, "d1", true); err != nil {
		t.Fatal(err)
	}
	if q := f.last(t).RawQuery; q != "force=true" {
		t.Fatalf("our DeleteDeployment sent %q", q)
	}
}
