package examples

import (
	"encoding/json"
	"testing"

	"github.com/universe-operator/universe-operator/render"
	"github.com/universe-operator/universe-operator/universe"
)

func load(t *testing.T) *universe.Repository {
	t.Helper()
	repo, problems := universe.LoadFS(Packages())
	for _, p := range problems {
		t.Error(p)
	}
	return repo
}

func TestExamplePackagesLoad(t *testing.T) {
	repo := load(t)
	want := map[string]int{"hello-web": 2, "pingpong-framework": 1, "greeter": 3}
	for name, n := range want {
		if got := len(repo.Revisions(name)); got != n {
			t.Errorf("%s: %d revisions, want %d", name, got, n)
		}
	}
	if len(repo.Names()) != len(want) {
		t.Errorf("packages %v, want %v", repo.Names(), want)
	}
}

// TestExamplesRender renders every example revision with its defaults and
// with options full of characters that need escaping, and checks the labels
// the product relies on.
func TestExamplesRender(t *testing.T) {
	repo := load(t)
	tricky := map[string]json.RawMessage{
		"hello-web":          json.RawMessage(`{"service": {"greeting": "a \"quoted\" <b>hello</b> & ✓", "virtual_host": "x.example.com", "cpus": 0.5, "instances": 2.0}}`),
		"pingpong-framework": json.RawMessage(`{"service": {"name": "pp", "service_account": "sa\\1"}, "pingpong": {"count": 3.0, "cpus": 0.25, "peers": "a,\"b\""}}`),
		"greeter":            json.RawMessage(`{"greeter": {"message": "tab\there", "replicas": 2}}`),
	}
	for _, p := range repo.Packages() {
		for _, opts := range []json.RawMessage{nil, tricky[p.Name]} {
			res, err := render.Render(p, opts, render.Params{})
			if err != nil {
				t.Errorf("%s with %s: %v", p, opts, err)
				continue
			}
			var app struct {
				ID     string            `json:"id"`
				Labels map[string]string `json:"labels"`
			}
			if err := json.Unmarshal(res.App, &app); err != nil {
				t.Errorf("%s: %v", p, err)
				continue
			}
			l := app.Labels
			if l["DCOS_PACKAGE_NAME"] != p.Name || l["DCOS_PACKAGE_VERSION"] != p.Version || l["DCOS_SERVICE_NAME"] == "" {
				t.Errorf("%s: labels %v", p, l)
			}
			switch p.Name {
			case "hello-web":
				if l["DCOS_SERVICE_SCHEME"] != "http" || l["DCOS_SERVICE_PORT_INDEX"] != "0" {
					t.Errorf("%s: service link labels %v", p, l)
				}
			case "pingpong-framework":
				if !p.Framework || l["DCOS_PACKAGE_FRAMEWORK_NAME"] != app.ID || l["DCOS_COMMONS_UNINSTALL"] != "true" || l["DCOS_COMMONS_API_VERSION"] != "v1" {
					t.Errorf("%s: framework labels %v (id %s)", p, l, app.ID)
				}
			}
		}
	}
}

// TestGreeterUpgradePaths checks the upgrade paths the greeter revisions
// are there to show.
func TestGreeterUpgradePaths(t *testing.T) {
	repo := load(t)
	g := repo.Revisions("greeter")
	allowed := func(from, to int) bool { return universe.CheckTransition(g[from], g[to], universe.Policy{}) == nil }
	cases := []struct {
		from, to int
		want     bool
	}{
		{0, 1, true}, {1, 0, true}, {1, 2, true}, {0, 2, false}, {2, 1, false}, {2, 0, false},
	}
	for _, c := range cases {
		if got := allowed(c.from, c.to); got != c.want {
			t.Errorf("greeter %s -> %s: allowed %v, want %v", g[c.from].Version, g[c.to].Version, got, c.want)
		}
	}
	h := repo.Revisions("hello-web")
	if universe.CheckTransition(h[0], h[1], universe.Policy{}) != nil || universe.CheckTransition(h[1], h[0], universe.Policy{}) != nil {
		t.Error("hello-web 1.0.0 <-> 1.1.0 must be allowed")
	}
}
