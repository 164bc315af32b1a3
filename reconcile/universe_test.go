package reconcile_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/universe-operator/universe-operator/internal/testenv"
	"github.com/universe-operator/universe-operator/reconcile"
	"github.com/universe-operator/universe-operator/render"
	"github.com/universe-operator/universe-operator/universe"
)

// TestUniverseNoDrift renders every revision of the real Universe with its
// default options (as Cosmos would), stamps it, builds Marathon's answer
// with this package's model of Marathon (MarathonView plus status fields)
// and checks that a pass plans nothing, and that real edits are seen with
// exactly the expected paths. In -short mode only the latest revision of
// each package is used.
func TestUniverseNoDrift(t *testing.T) {
	dir := testenv.UniversePackages(t)
	repo, loadErrs := universe.LoadDir(dir)
	if repo == nil {
		t.Fatalf("load %s: %v", dir, loadErrs)
	}
	var jobs []render.Job
	for _, name := range repo.Names() {
		revs := repo.Revisions(name)
		if testing.Short() {
			revs = revs[len(revs)-1:]
		}
		for _, p := range revs {
			if p.HasTemplate() {
				jobs = append(jobs, render.Job{Package: p})
			}
		}
	}
	var desired []reconcile.Desired
	var actual []reconcile.Actual
	ids := map[string]bool{}
	failed, ignored := 0, map[string]int{}
	for _, o := range render.RenderMany(jobs, 0) {
		if o.Err != nil {
			failed++ // options failing their own schema, templates that are not JSON: as in Cosmos
			continue
		}
		p := o.Job.Package
		release := fmt.Sprintf("%s-%d", p.Name, p.ReleaseVersion)
		where := p.String()
		app, hash, err := reconcile.Stamp(o.Result.App, release)
		if err != nil {
			t.Errorf("%s: stamp: %v", where, err)
			continue
		}
		view, err := reconcile.MarathonView(app)
		if err != nil {
			t.Errorf("%s: view: %v", where, err)
			continue
		}
		answer := withStatus(t, view)
		d := reconcile.Compare(app, answer)
		if d.Drifted() {
			t.Errorf("%s: drift against Marathon's answer:\n%s", where, d)
			continue
		}
		for _, p := range d.Ignored {
			ignored[p]++
		}
		if d := reconcile.Compare(app, app); d.Drifted() {
			t.Errorf("%s: drift against itself:\n%s", where, d)
		}
		// Edits an operator makes by hand are seen, with exactly their path.
		for _, edit := range []struct {
			field string
			val   any
			want  string
		}{
			{"instances", 17, "/instances"},
			{"cpus", 3.25, "/cpus"},
		} {
			edited := setTop(t, answer, edit.field, edit.val)
			if d := reconcile.Compare(app, edited); !slices.Equal(d.Paths(), []string{edit.want}) {
				t.Errorf("%s: editing %s gave %q:\n%s", where, edit.field, d.Paths(), d)
			}
		}
		edited := setLabel(t, answer, "EDITED_BY", "ops")
		if d := reconcile.Compare(app, edited); !slices.Equal(d.Paths(), []string{"/labels/EDITED_BY"}) {
			t.Errorf("%s: adding a label gave %q", where, d.Paths())
		}

		// Distinct app ids so one Plan can cover every revision.
		id := fmt.Sprintf("/universe/%s/%d", p.Name, p.ReleaseVersion)
		if ids[id] {
			t.Fatalf("duplicate id %s", id)
		}
		ids[id] = true
		app2, hash2, err := reconcile.Stamp(setTop(t, o.Result.App, "id", id), release)
		if err != nil {
			t.Fatal(err)
		}
		view2, err := reconcile.MarathonView(app2)
		if err != nil {
			t.Fatal(err)
		}
		a, err := reconcile.NewActual(withStatus(t, view2))
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		_ = hash
		desired = append(desired, reconcile.Desired{Release: release, AppID: id, App: app2, Hash: hash2})
		actual = append(actual, a)
	}
	t.Logf("%d templated revisions, %d rendered and compared, %d refused by render (as in Cosmos)", len(jobs), len(desired), failed)
	t.Logf("fields Marathon drops (path: revisions): %v", ignored)
	if !testing.Short() && len(desired) < 1000 {
		t.Errorf("only %d revisions rendered; expected about 1040", len(desired))
	}
	res := reconcile.Plan(desired, actual, reconcile.Options{Prune: reconcile.PruneOptions{Enabled: true, SourcesHealthy: true}})
	for _, act := range res.Actions {
		if act.Kind != reconcile.ActionNothing {
			t.Errorf("%s: planned %s: %s\n%s", act.Release, act.Kind, act.Reason, act.Drift)
		}
	}
}

// withStatus adds what GET /v2/apps?embed=... adds to a definition.
func withStatus(t testing.TB, app []byte) []byte {
	t.Helper()
	s := strings.TrimSuffix(strings.TrimSpace(string(app)), "}")
	return []byte(s + `,"version":"2024-05-02T10:11:12.345Z","versionInfo":{"lastScalingAt":"2024-05-02T10:11:12.345Z",` +
		`"lastConfigChangeAt":"2024-05-02T10:11:12.345Z"},"tasksStaged":0,"tasksRunning":0,"tasksHealthy":0,` +
		`"tasksUnhealthy":0,"deployments":[],"tasks":[]}`)
}

func decode(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func encode(t testing.TB, m map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func setTop(t testing.TB, b []byte, key string, v any) []byte {
	t.Helper()
	m := decode(t, b)
	m[key] = v
	return encode(t, m)
}

func setLabel(t testing.TB, b []byte, key, v string) []byte {
	t.Helper()
	m := decode(t, b)
	l, _ := m["labels"].(map[string]any)
	if l == nil {
		l = map[string]any{}
	}
	l[key] = v
	m["labels"] = l
	return encode(t, m)
}
