package devenv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/universe-operator/universe-operator/api"
)

// ReleaseSummary is one release as `dev` reports it when everything is up.
type ReleaseSummary struct {
	Name, Package, Version, Sync, Health, Status string
	// Running and Instances are the app's task counts.
	Running, Instances int
	// HealthChecks reports whether the app defines health checks.
	HealthChecks bool
}

// String is "hello-web 1.0.0 Synced Healthy 2/2".
func (s ReleaseSummary) String() string {
	return fmt.Sprintf("%s %s %s %s %d/%d", s.Name, s.Version, s.Sync, s.Health, s.Running, s.Instances)
}

// HealthChecksFunc reports whether the desired app of a release defines
// health checks (known=false when that cannot be told yet).
type HealthChecksFunc func(release string) (has, known bool)

// Up reports whether a release has converged and runs as it should:
// Synced, Marathon status Running with every instance running, and DC/OS
// health Healthy, or, for an app that defines no health checks (the DC/OS
// UI shows no health for those), NA.
func Up(r api.Release, hasHealthChecks bool) bool {
	if r.Sync != api.SyncSynced || r.Status != "Running" || r.Tasks.Instances < 1 || r.Tasks.Running != r.Tasks.Instances {
		return false
	}
	if hasHealthChecks {
		return r.Health == api.HealthHealthy
	}
	return r.Health == api.HealthNA || r.Health == api.HealthHealthy
}

// Summarize returns the releases' summaries, and whether every one is Up.
// An empty list is not up.
func Summarize(rels []api.Release, hc HealthChecksFunc) ([]ReleaseSummary, bool) {
	out := make([]ReleaseSummary, 0, len(rels))
	all := len(rels) > 0
	for _, r := range rels {
		has, known := hc(r.Name)
		version := r.DeployedVersion
		if version == "" {
			version = r.ResolvedVersion
		}
		out = append(out, ReleaseSummary{Name: r.Name, Package: r.Package, Version: version, Sync: r.Sync,
			Health: r.Health, Status: r.Status, Running: r.Tasks.Running, Instances: r.Tasks.Instances, HealthChecks: has})
		if !known || !Up(r, has) {
			all = false
		}
	}
	return out, all
}

// HealthChecksFromHandler answers HealthChecksFunc by asking the
// controller's API, in process, for the release's desired definition
// (GET api/v1/releases/{name}/definition).
func HealthChecksFromHandler(h http.Handler) HealthChecksFunc {
	return func(name string) (bool, bool) {
		req, err := http.NewRequest(http.MethodGet, "/api/v1/releases/"+url.PathEscape(name)+"/definition", nil)
		if err != nil {
			return false, false
		}
		w := &recorder{header: http.Header{}}
		h.ServeHTTP(w, req)
		if w.status != 0 && w.status != http.StatusOK {
			return false, false
		}
		return DefinesHealthChecks(w.body.Bytes())
	}
}

// DefinesHealthChecks reports whether an app definition has a non-empty
// healthChecks array (known=false when it is not a JSON object).
func DefinesHealthChecks(app []byte) (has, known bool) {
	var v struct {
		HealthChecks []json.RawMessage `json:"healthChecks"`
	}
	if err := json.Unmarshal(app, &v); err != nil {
		return false, false
	}
	return len(v.HealthChecks) > 0, true
}

// SummaryLine joins summaries for a log line or the terminal.
func SummaryLine(sums []ReleaseSummary) string {
	parts := make([]string, len(sums))
	for i, s := range sums {
		parts[i] = s.String()
	}
	return strings.Join(parts, ", ")
}

// recorder is a minimal in-memory http.ResponseWriter.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(p)
}
