package reconcile_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/clients/marathon"
	"github.com/universe-operator/universe-operator/internal/testenv"
	"github.com/universe-operator/universe-operator/reconcile"
	"github.com/universe-operator/universe-operator/render"
	"github.com/universe-operator/universe-operator/sim"
	"github.com/universe-operator/universe-operator/universe"
)

// TestUniverseNoDriftAgainstSimulator is TestUniverseNoDrift with the
// other model of Marathon: every rendered revision of the real Universe is
// posted to the simulated Marathon (which fills Marathon's defaults on read
// by its own rules) and read back; comparing the two must show no drift.
// Apps Marathon's validation refuses are counted, not compared. In -short
// mode only the latest revision of each package is used.
func TestUniverseNoDriftAgainstSimulator(t *testing.T) {
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
	cluster := sim.NewServer(sim.FastOptions())
	t.Cleanup(cluster.Close)
	mc, err := marathon.New(marathon.Options{URL: cluster.URL + "/service/marathon", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	compared, filled, refused := 0, 0, map[string]int{}
	for _, o := range render.RenderMany(jobs, 0) {
		if o.Err != nil {
			continue // refused by render, as in Cosmos
		}
		p := o.Job.Package
		where := p.String()
		id := fmt.Sprintf("/universe/%s/%d", p.Name, p.ReleaseVersion)
		app, _, err := reconcile.Stamp(setTop(t, o.Result.App, "id", id), fmt.Sprintf("%s-%d", p.Name, p.ReleaseVersion))
		if err != nil {
			t.Errorf("%s: stamp: %v", where, err)
			continue
		}
		if _, err := mc.CreateApp(ctx, app); err != nil {
			if s := marathon.StatusOf(err); s == 422 || s == 400 {
				refused[fmt.Sprint(s)]++
				continue
			}
			t.Fatalf("%s: create: %v", where, err)
		}
		got, err := mc.GetApp(ctx, id, "apps.tasks", "apps.deployments", "apps.lastTaskFailure")
		if err != nil {
			t.Fatalf("%s: get: %v", where, err)
		}
		if d := reconcile.Compare(app, got.Raw); d.Drifted() {
			t.Errorf("%s: drift against the simulator's answer:\n%s", where, d)
		}
		compared++
		// The answer is not the posted app echoed: Marathon's defaults are
		// in it (so the comparison has something to see through).
		posted, answer := decode(t, app), decode(t, got.Raw)
		for k := range answer {
			if _, ok := posted[k]; !ok && k != "version" && !strings.HasPrefix(k, "tasks") {
				filled++
				break
			}
		}
	}
	keys := make([]string, 0, len(refused))
	for k := range refused {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d with %s", refused[k], k))
	}
	t.Logf("%d rendered revisions posted and compared with no drift (%d answers with defaults Marathon filled in); refused by Marathon's validation: %s",
		compared, filled, strings.Join(parts, ", "))
	if filled < compared*9/10 {
		t.Errorf("only %d of %d answers differ from the posted app: the comparison saw through nothing", filled, compared)
	}
	if !testing.Short() && compared < 700 {
		t.Errorf("only %d revisions compared", compared)
	}
}
