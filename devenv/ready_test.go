package devenv

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/api"
)

func rel(name, sync, health, status string, running, instances int) api.Release {
	return api.Release{Name: name, Package: name, Sync: sync, Health: health, Status: status, DeployedVersion: "1.0.0",
		Tasks: api.TaskCounts{Instances: instances, Running: running, Healthy: running}}
}

func TestUp(t *testing.T) {
	for _, c := range []struct {
		name string
		r    api.Release
		hc   bool
		want bool
	}{
		{"healthy", rel("a", "Synced", "Healthy", "Running", 2, 2), true, true},
		{"no results yet", rel("a", "Synced", "NA", "Running", 2, 2), true, false},
		{"no health checks", rel("a", "Synced", "NA", "Running", 1, 1), false, true},
		{"progressing", rel("a", "Progressing", "Healthy", "Deploying", 2, 2), true, false},
		{"out of sync", rel("a", "OutOfSync", "Healthy", "Running", 2, 2), true, false},
		{"unhealthy", rel("a", "Synced", "Unhealthy", "Running", 2, 2), true, false},
		{"missing instance", rel("a", "Synced", "Healthy", "Running", 1, 2), true, false},
		{"extra instance", rel("a", "Synced", "Healthy", "Running", 3, 2), true, false},
		{"scaled to zero", rel("a", "Synced", "NA", "Stopped", 0, 0), false, false},
		{"deleting", rel("a", "Deleting", "NA", "Deleting", 1, 1), false, false},
		{"delayed", rel("a", "Synced", "NA", "Delayed", 1, 1), false, false},
	} {
		if got := Up(c.r, c.hc); got != c.want {
			t.Errorf("%s: Up = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	hc := func(name string) (bool, bool) {
		switch name {
		case "web":
			return true, true
		case "plain":
			return false, true
		}
		return false, false
	}
	rels := []api.Release{rel("plain", "Synced", "NA", "Running", 1, 1), rel("web", "Synced", "Healthy", "Running", 2, 2)}
	sums, ok := Summarize(rels, hc)
	if !ok || len(sums) != 2 {
		t.Fatalf("Summarize = %v, %v", sums, ok)
	}
	if got := SummaryLine(sums); got != "plain 1.0.0 Synced NA 1/1, web 1.0.0 Synced Healthy 2/2" {
		t.Errorf("line %q", got)
	}
	if _, ok := Summarize(append(rels, rel("unknown", "Synced", "Healthy", "Running", 1, 1)), hc); ok {
		t.Error("a release whose definition is unknown counted as up")
	}
	if _, ok := Summarize(nil, hc); ok {
		t.Error("no releases counted as up")
	}
	r := rel("web", "Synced", "Healthy", "Running", 2, 2)
	r.DeployedVersion, r.ResolvedVersion = "", "1.1.0"
	if s, _ := Summarize([]api.Release{r}, hc); s[0].Version != "1.1.0" {
		t.Errorf("version falls back to the resolved one: %+v", s[0])
	}
}

func TestDefinesHealthChecks(t *testing.T) {
	for in, want := range map[string][2]bool{
		`{"id":"/a","healthChecks":[{"protocol":"MESOS_HTTP"}]}`: {true, true},
		`{"id":"/a","healthChecks":[]}`:                          {false, true},
		`{"id":"/a"}`:                                            {false, true},
		`not json`:                                               {false, false},
		``:                                                       {false, false},
	} {
		has, known := DefinesHealthChecks([]byte(in))
		if [2]bool{has, known} != want {
			t.Errorf("%q: %v %v, want %v", in, has, known, want)
		}
	}
}

func TestHealthChecksFromHandler(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/releases/{name}/definition", func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("name") {
		case "web":
			_, _ = w.Write([]byte(`{"id":"/web","healthChecks":[{}]}`))
		case "plain":
			_, _ = w.Write([]byte(`{"id":"/plain"}`))
		default:
			http.Error(w, `{"message":"no release"}`, http.StatusNotFound)
		}
	})
	hc := HealthChecksFromHandler(mux)
	for name, want := range map[string][2]bool{"web": {true, true}, "plain": {false, true}, "nope": {false, false}, "a b/c": {false, false}} {
		has, known := hc(name)
		if [2]bool{has, known} != want {
			t.Errorf("%s: %v %v, want %v", name, has, known, want)
		}
	}
}

func TestConfigYAMLLoads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a dir")
	file := filepath.Join(dir, ConfigFileName)
	p := ConfigParams{ClusterURL: "http://127.0.0.1:4321", RepoURL: FileURL(filepath.Join(dir, "gitops", ".git")),
		Listen: "127.0.0.1:8080", StateDir: filepath.Join(dir, "state"), Interval: 5 * time.Second, LogLevel: "debug", DCOSVersion: "2.2.0"}
	cfg, err := WriteConfig(file, p)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Marathon.URLs[0] != "http://127.0.0.1:4321/service/marathon" || cfg.Mesos.URLs[0] != "http://127.0.0.1:4321/mesos" {
		t.Errorf("endpoints %v %v", cfg.Marathon.URLs, cfg.Mesos.URLs)
	}
	if len(cfg.Universes) != 1 || cfg.Universes[0].Git == nil || cfg.Universes[0].Git.URL != p.RepoURL ||
		cfg.Universes[0].Git.Path != PackagesPath || cfg.Universes[0].Git.Ref != Branch {
		t.Errorf("universes %+v", cfg.Universes)
	}
	if g := cfg.Releases.Git; g == nil || g.URL != p.RepoURL || g.Path != ReleasesPath {
		t.Errorf("releases %+v", cfg.Releases)
	}
	if cfg.Interval.Duration != 5*time.Second || cfg.Listen != p.Listen || cfg.StateDir != p.StateDir ||
		cfg.LogLevel != "debug" || !cfg.PruneEnabled() || cfg.DCOSVersion != "2.2.0" {
		t.Errorf("config %+v", cfg)
	}
	if len(cfg.Warnings) > 0 {
		t.Errorf("warnings %v", cfg.Warnings)
	}
	if !strings.HasPrefix(ConfigYAML(p), "# Generated by `universe-operator dev`") {
		t.Error("the file does not say where it comes from")
	}
	if _, err := WriteConfig(file, ConfigParams{ClusterURL: "ftp://x", RepoURL: p.RepoURL, Listen: "x", StateDir: "s", Interval: time.Second}); err == nil ||
		!strings.Contains(err.Error(), "does not load") {
		t.Errorf("a broken configuration: %v", err)
	}
}
