package reconcile

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/errs"
)

// rendered returns a small rendered app for a release, stamped.
func rendered(t testing.TB, release, id string, extra string) Desired {
	t.Helper()
	raw := fmt.Sprintf(`{"id":%q,"cmd":"sleep 3600","instances":1,"cpus":0.1,"mem":32%s,"labels":{"DCOS_PACKAGE_NAME":"sleep"}}`, id, extra)
	app, hash, err := Stamp([]byte(raw), release)
	if err != nil {
		t.Fatal(err)
	}
	return Desired{Release: release, AppID: id, App: app, Hash: hash}
}

// running returns Marathon's answer for a desired app, with deployments.
func running(t testing.TB, d Desired, deployments ...string) Actual {
	t.Helper()
	view, err := MarathonView(d.App)
	if err != nil {
		t.Fatal(err)
	}
	var deps []string
	for _, id := range deployments {
		deps = append(deps, fmt.Sprintf(`{"id":%q}`, id))
	}
	raw := strings.TrimSuffix(string(view), "}") + `,"version":"2024-01-01T00:00:00Z","tasksRunning":1,"deployments":[` + strings.Join(deps, ",") + `]}`
	a, err := NewActual([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func unowned(t testing.TB, id string) Actual {
	t.Helper()
	a, err := NewActual([]byte(fmt.Sprintf(`{"id":%q,"cmd":"x","labels":{"team":"ops"}}`, id)))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func kinds(res Result) []string {
	var out []string
	for _, a := range res.Actions {
		out = append(out, a.Release+":"+a.AppID+":"+string(a.Kind))
	}
	return out
}

func findAction(t testing.TB, res Result, release string) Action {
	t.Helper()
	for _, a := range res.Actions {
		if a.Release == release {
			return a
		}
	}
	t.Fatalf("no action for %s in %v", release, kinds(res))
	return Action{}
}

var planNow = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

func prunable() Options {
	return Options{Now: planNow, StuckAfter: 10 * time.Minute, Prune: PruneOptions{Enabled: true, SourcesHealthy: true, MaxFraction: 1}}
}

func TestPlanPerRelease(t *testing.T) {
	a := rendered(t, "a", "/a", "")
	aScaled := running(t, a)
	aScaled.App = mutate(t, aScaled.App, set("/instances", "4"))
	aScaled, _ = NewActual(aScaled.App)
	aNew := rendered(t, "a", "/a", `,"env":{"V":"2"}`)
	adopt := rendered(t, "a", "/a", "")
	adopt.Adopt = true
	susp := rendered(t, "a", "/a", "")
	susp.Suspended = true
	broken := Desired{Release: "a", Err: errs.Permanent(errors.New("render kafka 2.9.0 (rev 12): config.json: /brokers/count: must be >= 1"))}
	stuck := aNew
	stuck.OwnDeployment = &DeploymentRef{ID: "dep-own", Started: planNow.Add(-11 * time.Minute)}
	fresh := aNew
	fresh.OwnDeployment = &DeploymentRef{ID: "dep-own", Started: planNow.Add(-time.Minute)}
	otherOwner := running(t, rendered(t, "b", "/a", ""))

	tests := []struct {
		name    string
		desired Desired
		actual  []Actual
		kind    ActionKind
		reason  string
		paths   []string
		check   func(t *testing.T, act Action)
	}{
		{"create when absent", a, nil, ActionCreate, "does not exist", nil, func(t *testing.T, act Action) {
			if string(act.App) != string(a.App) {
				t.Error("create must carry the stamped app")
			}
		}},
		{"nothing when in sync", a, []Actual{running(t, a)}, ActionNothing, "in sync", nil, nil},
		{"update on manual scale", a, []Actual{aScaled}, ActionUpdate, "drifted", []string{"/instances"}, nil},
		{"update on a new rendering", aNew, []Actual{running(t, a)}, ActionUpdate, "rendered app changed",
			[]string{"/env/V", "/labels/UNIVERSE_OPERATOR_HASH"}, nil},
		{"wait while a deployment is in flight", aNew, []Actual{running(t, a, "dep-1")}, ActionWait, "dep-1",
			[]string{"/env/V", "/labels/UNIVERSE_OPERATOR_HASH"}, func(t *testing.T, act Action) {
				if !slices.Equal(act.Deployments, []string{"dep-1"}) || act.App != nil {
					t.Errorf("wait: %+v", act)
				}
			}},
		{"wait when in sync but deploying", a, []Actual{running(t, a, "dep-1")}, ActionWait, "in flight", nil, nil},
		{"force when our own deployment is stuck", stuck, []Actual{running(t, a, "dep-own")}, ActionForceUpdate, "dep-own", nil, nil},
		{"wait when our own deployment is young", fresh, []Actual{running(t, a, "dep-own")}, ActionWait, "", nil, nil},
		{"wait when someone else's deployment is old", stuck, []Actual{running(t, a, "dep-other")}, ActionWait, "", nil, nil},
		{"no force without a change", Desired{Release: "a", AppID: "/a", App: a.App, Hash: a.Hash,
			OwnDeployment: &DeploymentRef{ID: "dep-own", Started: planNow.Add(-time.Hour)}},
			[]Actual{running(t, a, "dep-own")}, ActionWait, "", nil, nil},
		{"unowned app is never touched", a, []Actual{unowned(t, "/a")}, ActionFail, "does not own", nil, func(t *testing.T, act Action) {
			if !errs.IsPermanent(act.Err) || act.App != nil {
				t.Errorf("fail: %+v", act)
			}
		}},
		{"unowned app adopted on request", adopt, []Actual{unowned(t, "/a")}, ActionUpdate, "adopting", nil, func(t *testing.T, act Action) {
			if !act.Adopt || !slices.Contains(act.Drift.Paths(), "/labels/UNIVERSE_OPERATOR_RELEASE") {
				t.Errorf("adopt: %+v", act)
			}
		}},
		// b is not declared, so its app is also pruned this pass (a second
		// action); a creates the app on the next pass.
		{"app owned by another release", a, []Actual{otherOwner}, ActionFail, `owned by release "b"`, nil, nil},
		{"suspended: nothing", susp, []Actual{aScaled}, ActionNothing, "suspended", nil, func(t *testing.T, act Action) {
			if !act.Suspended {
				t.Error("Suspended not set")
			}
		}},
		{"render error: fail with its error", broken, []Actual{running(t, a)}, ActionFail, "config.json: /brokers/count", nil, func(t *testing.T, act Action) {
			if !errs.IsPermanent(act.Err) {
				t.Errorf("class lost: %v", act.Err)
			}
		}},
		{"app id from the app", Desired{Release: "a", App: a.App, Hash: a.Hash}, nil, ActionCreate, "", nil, func(t *testing.T, act Action) {
			if act.AppID != "/a" {
				t.Errorf("app id %q", act.AppID)
			}
		}},
		{"no app id at all", Desired{Release: "a", App: []byte(`{"cmd":"x"}`)}, nil, ActionFail, "no string \"id\"", nil, nil},
		{"app id and body disagree", Desired{Release: "a", AppID: "/b", App: a.App, Hash: a.Hash}, nil, ActionFail, "differs from the release's app id /b", nil, nil},
		{"body not JSON", Desired{Release: "a", AppID: "/a", App: []byte(`{"id":`), Hash: "x"}, nil, ActionFail, "invalid JSON", nil, nil},
		{"invalid app in Marathon", a, []Actual{{AppID: "/a", App: []byte(`{`), Release: "a"}}, ActionFail, "app in Marathon", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Plan([]Desired{tt.desired}, tt.actual, prunable())
			act := findAction(t, res, "a")
			if act.Kind != tt.kind || !strings.Contains(act.Reason, tt.reason) {
				t.Fatalf("action %s (%s), want %s (%s)\n%s", act.Kind, act.Reason, tt.kind, tt.reason, act.Drift)
			}
			if tt.paths != nil && !slices.Equal(act.Drift.Paths(), tt.paths) {
				t.Errorf("drift %q, want %q", act.Drift.Paths(), tt.paths)
			}
			if tt.check != nil {
				tt.check(t, act)
			}
			if n := len(res.Actions); n != 1 && !(tt.name == "app owned by another release" && n == 2) {
				t.Errorf("actions %v", kinds(res))
			}
		})
	}
}

func TestPlanClaimsAndPrune(t *testing.T) {
	a, b, c := rendered(t, "a", "/a", ""), rendered(t, "b", "/b", ""), rendered(t, "c", "/c", "")
	t.Run("two releases want one app id", func(t *testing.T) {
		b2 := rendered(t, "b", "/a", "")
		res := Plan([]Desired{a, b2}, nil, prunable())
		for _, r := range []string{"a", "b"} {
			if act := findAction(t, res, r); act.Kind != ActionFail || !strings.Contains(act.Reason, "several releases: a, b") {
				t.Errorf("%s: %+v", r, act)
			}
		}
	})
	t.Run("removed release is deleted", func(t *testing.T) {
		res := Plan([]Desired{a, b}, []Actual{running(t, a), running(t, b), running(t, c)}, prunable())
		if got := kinds(res); !slices.Equal(got, []string{"a:/a:nothing", "b:/b:nothing", "c:/c:delete"}) {
			t.Errorf("plan %v", got)
		}
		if !slices.Equal(res.Prune.Deleted, []string{"c"}) || res.Prune.Refused != "" {
			t.Errorf("prune %+v", res.Prune)
		}
	})
	t.Run("pruning disabled keeps an orphan", func(t *testing.T) {
		opts := prunable()
		opts.Prune.Enabled = false
		res := Plan([]Desired{a}, []Actual{running(t, a), running(t, c)}, opts)
		if act := findAction(t, res, "c"); act.Kind != ActionOrphan || !strings.Contains(act.Reason, "pruning is disabled") {
			t.Errorf("%+v", act)
		}
	})
	t.Run("a failed source refuses every deletion", func(t *testing.T) {
		opts := prunable()
		opts.Prune.SourcesHealthy = false
		res := Plan([]Desired{a}, []Actual{running(t, a), running(t, c)}, opts)
		act := findAction(t, res, "c")
		if act.Kind != ActionOrphan || !strings.Contains(act.Reason, "PRUNE REFUSED") || !strings.Contains(res.Prune.Refused, "source failed") {
			t.Errorf("%+v / %+v", act, res.Prune)
		}
	})
	t.Run("empty desired set refused", func(t *testing.T) {
		res := Plan(nil, []Actual{running(t, a), running(t, b)}, prunable())
		if res.Prune.Refused == "" || slices.ContainsFunc(res.Actions, func(x Action) bool { return x.Kind == ActionDelete }) {
			t.Errorf("%v %+v", kinds(res), res.Prune)
		}
	})
	t.Run("unowned apps are never deleted", func(t *testing.T) {
		res := Plan([]Desired{a}, []Actual{running(t, a), unowned(t, "/x")}, prunable())
		if got := kinds(res); !slices.Equal(got, []string{"a:/a:nothing"}) {
			t.Errorf("plan %v", got)
		}
	})
	t.Run("app id changed: create the new, delete the old", func(t *testing.T) {
		moved := rendered(t, "a", "/a2", "")
		res := Plan([]Desired{moved}, []Actual{running(t, a)}, prunable())
		if got := kinds(res); !slices.Equal(got, []string{"a:/a:delete", "a:/a2:create"}) {
			t.Errorf("plan %v", got)
		}
		opts := prunable()
		opts.Prune.SourcesHealthy = false
		res = Plan([]Desired{moved}, []Actual{running(t, a)}, opts)
		if got := kinds(res); !slices.Equal(got, []string{"a:/a:orphan", "a:/a2:create"}) {
			t.Errorf("plan with a failed source %v", got)
		}
	})
	t.Run("a failing release keeps all its apps", func(t *testing.T) {
		broken := Desired{Release: "a", Err: errs.Permanent(errors.New("bad template"))}
		res := Plan([]Desired{broken}, []Actual{running(t, a)}, prunable())
		if got := kinds(res); !slices.Equal(got, []string{"a::fail"}) {
			t.Errorf("plan %v", got)
		}
	})
	t.Run("a suspended release keeps all its apps", func(t *testing.T) {
		s := rendered(t, "a", "/other", "")
		s.Suspended = true
		res := Plan([]Desired{s}, []Actual{running(t, a)}, prunable())
		if got := kinds(res); !slices.Equal(got, []string{"a::nothing"}) {
			t.Errorf("plan %v", got)
		}
	})
	t.Run("too many deletions at once", func(t *testing.T) {
		opts := prunable()
		opts.Prune.MaxFraction = 0.25
		var actual []Actual
		var desired []Desired
		for i := 0; i < 8; i++ {
			d := rendered(t, fmt.Sprintf("r%d", i), fmt.Sprintf("/r%d", i), "")
			actual = append(actual, running(t, d))
			if i >= 3 {
				desired = append(desired, d)
			}
		}
		res := Plan(desired, actual, opts)
		if !slices.Equal(res.Prune.Candidates, []string{"r0", "r1", "r2"}) || !strings.Contains(res.Prune.Refused, "3 of 8") {
			t.Errorf("prune %+v", res.Prune)
		}
		desired = append(desired, rendered(t, "r0", "/r0", ""))
		res = Plan(desired, actual, opts)
		if !slices.Equal(res.Prune.Deleted, []string{"r1", "r2"}) {
			t.Errorf("prune %+v", res.Prune)
		}
	})
}

func TestPlanDeterministic(t *testing.T) {
	var desired []Desired
	var actual []Actual
	for i := 9; i >= 0; i-- {
		d := rendered(t, fmt.Sprintf("r%d", i), fmt.Sprintf("/g/r%d", i), "")
		desired = append(desired, d)
		if i%2 == 0 {
			actual = append(actual, running(t, d))
		}
	}
	r1 := kinds(Plan(desired, actual, prunable()))
	slices.Reverse(desired)
	r2 := kinds(Plan(desired, actual, prunable()))
	if !slices.Equal(r1, r2) || !slices.IsSorted(r1) {
		t.Errorf("order depends on input:\n%v\n%v", r1, r2)
	}
}

func TestNewActual(t *testing.T) {
	a, err := NewActual(readFixture(t, "compare/legacy-ip.actual.json"))
	if err != nil {
		t.Fatal(err)
	}
	if a.AppID != "/legacy/worker" || a.Release != "worker" || a.Hash != "5555666677778888" ||
		!slices.Equal(a.Deployments, []string{"5ed4c0c5-9ff8-4a6f-a0cd-f57f59a34b43"}) {
		t.Errorf("%+v", a)
	}
	for _, bad := range []string{`{}`, `{"id":""}`, `[]`} {
		if _, err := NewActual([]byte(bad)); !errs.IsPermanent(err) {
			t.Errorf("NewActual(%s) = %v", bad, err)
		}
	}
	if a.Version != "2024-05-07T00:00:00.000Z" {
		t.Errorf("version %q", a.Version)
	}
	s1, err := a.Status(nil, nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := Status(a.App, nil, nil, t0)
	manual := Actual{AppID: a.AppID, App: a.App}
	s3, _ := manual.Status(nil, nil, t0)
	if s1.Status != StatusDeploying || s1.AppID != s2.AppID || s1.Status != s2.Status || s3.Status != s2.Status {
		t.Errorf("%+v / %+v / %+v", s1, s2, s3)
	}
}

func TestPlanInSyncMemo(t *testing.T) {
	d := rendered(t, "a", "/a", "")
	a := running(t, d)
	if a.Version == "" {
		t.Fatal("fixture has no version")
	}
	res := Plan([]Desired{d}, []Actual{a}, prunable())
	want := map[string]Verdict{"a": {Hash: d.Hash, Version: a.Version}}
	if len(res.InSync) != 1 || res.InSync["a"] != want["a"] {
		t.Fatalf("InSync = %v", res.InSync)
	}
	// Same hash and version: trusted without comparing (here the app was
	// edited behind the version's back, which Marathon never does).
	edited, err := NewActual(mutate(t, a.App, set("/instances", "5")))
	if err != nil {
		t.Fatal(err)
	}
	opts := prunable()
	opts.InSync = res.InSync
	if act := Plan([]Desired{d}, []Actual{edited}, opts).Actions[0]; act.Kind != ActionNothing {
		t.Errorf("memo not used: %s", act.Kind)
	}
	// A new version (any real edit) is compared again.
	edited, _ = NewActual(mutate(t, a.App, set("/instances", "5"), set("/version", `"2024-02-02T00:00:00Z"`)))
	act := Plan([]Desired{d}, []Actual{edited}, opts).Actions[0]
	if act.Kind != ActionUpdate || !slices.Equal(act.Drift.Paths(), []string{"/instances"}) {
		t.Errorf("new version not compared: %s %v", act.Kind, act.Drift.Paths())
	}
	// A new rendering (hash) is compared again.
	d2 := rendered(t, "a", "/a", `,"env":{"X":"1"}`)
	if act := Plan([]Desired{d2}, []Actual{a}, opts).Actions[0]; act.Kind != ActionUpdate {
		t.Errorf("new hash not compared: %s", act.Kind)
	}
	// Apps without a version are always compared and never memoized.
	noVersion, _ := NewActual(mutate(t, a.App, del("/version")))
	if r := Plan([]Desired{d}, []Actual{noVersion}, prunable()); len(r.InSync) != 0 {
		t.Errorf("memoized without version: %v", r.InSync)
	}
}

func TestParseApps(t *testing.T) {
	var apps []string
	for _, name := range fixtures {
		apps = append(apps, strings.TrimSpace(string(readFixture(t, "compare/"+name+".actual.json"))))
	}
	body := []byte(`{"apps":[` + strings.Join(apps, ",") + `],"extra":{"x":[1,2]}}`)
	got, err := ParseApps(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(fixtures) {
		t.Fatalf("%d apps", len(got))
	}
	for i, a := range got {
		one, err := NewActual([]byte(apps[i]))
		if err != nil {
			t.Fatal(err)
		}
		if string(a.App) != apps[i] || a.AppID != one.AppID || a.Release != one.Release || a.Hash != one.Hash ||
			a.Version != one.Version || !slices.Equal(a.Deployments, one.Deployments) {
			t.Errorf("app %d: %+v\nwant %+v", i, a, one)
		}
		s1, _ := a.Status(nil, nil, t0)
		s2, _ := one.Status(nil, nil, t0)
		if s1.Health != s2.Health || s1.Status != s2.Status || s1.ServiceLink != s2.ServiceLink || s1.Tasks != s2.Tasks {
			t.Errorf("app %d: status %+v vs %+v", i, s1, s2)
		}
	}
	if got, err := ParseApps([]byte(` {"apps":[]} `)); err != nil || len(got) != 0 {
		t.Errorf("empty: %v %v", got, err)
	}
	for _, bad := range []string{``, `{}`, `{"apps":{}}`, `{"apps":[1]}`, `{"apps":[{"cmd":"x"}]}`, `{"apps":[],"apps":[]}`,
		`{"a":1,}`, `{"apps":[{"id":"/a"},]}`, `{"apps":[{"id":"/a"}]} x`, `[]`, `{"apps":[{"id":"/a","labels":{"x":"\u0001`} {
		if _, err := ParseApps([]byte(bad)); !errs.IsPermanent(err) {
			t.Errorf("ParseApps(%q) = %v, want a permanent error", bad, err)
		}
	}
	if _, err := ParseApps([]byte(`{"apps":[{"id":"/a"},{"cmd":"x"}]}`)); err == nil || !strings.Contains(err.Error(), "app 1") {
		t.Errorf("error must name the app: %v", err)
	}
}

// TestConcurrentUse runs the package's entry points from several
// goroutines at once (the parser pool and the defaults table are shared);
// run with -race.
func TestConcurrentUse(t *testing.T) {
	d := readFixture(t, "compare/sdk-scheduler.desired.json")
	a := readFixture(t, "compare/sdk-scheduler.actual.json")
	done := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			for i := 0; i < 50; i++ {
				if drift := Compare(d, a); drift.Drifted() {
					done <- fmt.Errorf("drift: %s", drift)
					return
				}
				if _, _, err := Stamp(d, "r"); err != nil {
					done <- err
					return
				}
				if _, err := NewActual(a); err != nil {
					done <- err
					return
				}
				_ = Defaults()
			}
			done <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
