package ui_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/api"
	"github.com/universe-operator/universe-operator/ui"
)

// prefix is where DC/OS Admin Router serves the UI; the fake server strips it
// exactly as Admin Router does before the request reaches the controller.
const prefix = "/service/universe-operator/"

// testToken is the UI token the fake controller requires for sync/rollback.
const testToken = "s3cret-ui-token"

// hostileNotes are package notes as a third party could write them: markup
// that must show as text, never run.
const hostileNotes = "Thank you for installing nginx-edge.\n\n" +
	"  Open https://edge.example.com/ to check it.\n" +
	"<script>window.__xss = 'notes'</script>\n" +
	"<img src=x onerror=\"window.__xss='img'\"> & \"quotes\" 'too'\n" +
	"Last line."

func ptr[T any](v T) *T { return &v }

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// iconSVG is a small package icon as a data: URL (the tests run offline).
func iconSVG(color, letter string) string {
	svg := `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 48 48"><rect width="48" height="48" rx="10" fill="` + color +
		`"/><text x="24" y="32" font-size="24" text-anchor="middle" fill="#fff" font-family="sans-serif">` + letter + `</text></svg>`
	return "data:image/svg+xml," + strings.NewReplacer("<", "%3C", ">", "%3E", "#", "%23", `"`, "'", " ", "%20").Replace(svg)
}

// fixture is one release with its desired and actual app definitions.
type fixture struct {
	rel api.Release
	def json.RawMessage // nil: no rendered definition (404)
	app json.RawMessage // nil: no app in Marathon (404)
}

func labels(pkg, version, release, hash string, extra map[string]string) map[string]string {
	l := map[string]string{
		"DCOS_PACKAGE_NAME":         pkg,
		"DCOS_PACKAGE_VERSION":      version,
		"DCOS_PACKAGE_SOURCE":       "https://universe.example.com/repo",
		"UNIVERSE_OPERATOR_RELEASE": release,
		"UNIVERSE_OPERATOR_HASH":    hash,
	}
	for k, v := range extra {
		l[k] = v
	}
	return l
}

// marathonApp returns app as Marathon answers GET /v2/apps/{id}: the
// definition plus defaults and read-only status fields.
func marathonApp(def map[string]any, running, healthy, unhealthy int, now time.Time) json.RawMessage {
	app := map[string]any{}
	for k, v := range def {
		app[k] = v
	}
	app["backoffSeconds"] = 1
	app["backoffFactor"] = 1.15
	app["maxLaunchDelaySeconds"] = 300
	app["disk"] = 0
	app["gpus"] = 0
	app["executor"] = ""
	app["upgradeStrategy"] = map[string]any{"minimumHealthCapacity": 1, "maximumOverCapacity": 1}
	app["killSelection"] = "YOUNGEST_FIRST"
	app["unreachableStrategy"] = map[string]any{"inactiveAfterSeconds": 0, "expungeAfterSeconds": 0}
	app["version"] = now.Add(-20 * time.Minute).Format(time.RFC3339Nano)
	app["tasksRunning"] = running
	app["tasksHealthy"] = healthy
	app["tasksUnhealthy"] = unhealthy
	app["tasksStaged"] = 0
	app["deployments"] = []any{}
	return mustJSON(app)
}

// fixtures returns realistic releases covering every state the UI shows.
func fixtures(now time.Time) []fixture {
	ago := func(d time.Duration) time.Time { return now.Add(-d) }

	helloDef := map[string]any{
		"id": "/hello-web", "cpus": 0.25, "mem": 128, "instances": 3,
		"cmd":             "python3 -m http.server $PORT0",
		"portDefinitions": []any{map[string]any{"port": 0, "protocol": "tcp", "name": "http"}},
		"healthChecks": []any{map[string]any{"protocol": "MESOS_HTTP", "path": "/", "portIndex": 0,
			"gracePeriodSeconds": 30, "intervalSeconds": 10, "maxConsecutiveFailures": 3}},
		"labels": labels("hello-web", "1.2.0", "hello-web", "5c1e9a0b7d3f2a61", map[string]string{
			"DCOS_SERVICE_NAME": "hello-web", "DCOS_SERVICE_SCHEME": "http", "DCOS_SERVICE_PORT_INDEX": "0"}),
	}
	hello := fixture{
		rel: api.Release{
			Name: "hello-web", Package: "hello-web", Universe: "universe",
			DesiredVersion: "latest", ResolvedVersion: "1.2.0", ResolvedRelease: ptr(3),
			DeployedVersion: "1.2.0", DeployedRelease: ptr(3), AppID: "/hello-web",
			ManifestFile: "releases/hello-web.yaml", ManifestRevision: "8f14e45fceea167a5a36dedd4bea2543e1b3a2c9",
			UniverseRevision: "c9f0f895fb98ab9159f51fd0297e236d5e1a6b70",
			Sync:             api.SyncSynced, Health: api.HealthHealthy, Status: "Running",
			Tasks:       api.TaskCounts{Instances: 3, Running: 3, Healthy: 3},
			ServiceLink: "/service/hello-web/", Icon: iconSVG("#0a6b74", "H"),
			Notes: api.Notes{PostInstall: "hello-web is running.\nOpen the service link to see the page."},
			Events: []api.Event{
				{Time: ago(3 * time.Minute), Type: "Normal", Reason: "Healthy", Message: "3 of 3 tasks healthy"},
				{Time: ago(4 * time.Minute), Type: "Normal", Reason: "Deployed", Message: "created /hello-web at 1.2.0 (release 3)"},
			},
			History: []api.Revision{{ID: 1, Version: "1.2.0", Release: 3, Hash: "5c1e9a0b7d3f2a61",
				Manifest: "8f14e45fceea", Universe: "c9f0f895fb98", DeployedAt: ago(4 * time.Minute), Outcome: "Succeeded", Current: true}},
			LastChange: ago(3 * time.Minute), LastReconcile: ago(20 * time.Second),
		},
		def: mustJSON(helloDef),
		app: marathonApp(helloDef, 3, 3, 0, now),
	}

	kafkaDef := map[string]any{
		"id": "/kafka-prod", "cpus": 1, "mem": 1024, "instances": 1,
		"cmd": "export LD_LIBRARY_PATH=$MESOS_SANDBOX/libmesos-bundle/lib && ./bootstrap -resolve=false -template=false && ./kafka-scheduler/bin/kafka ./kafka-scheduler/svc.yml",
		"env": map[string]any{"FRAMEWORK_NAME": "kafka-prod", "BROKER_COUNT": "3", "BROKER_CPUS": "1", "BROKER_MEM": "2048"},
		"healthChecks": []any{map[string]any{"protocol": "MESOS_HTTP", "path": "/v1/health", "portIndex": 0,
			"gracePeriodSeconds": 900, "intervalSeconds": 30, "maxConsecutiveFailures": 0}},
		"labels": labels("kafka", "2.9.0-2.4.0", "kafka-prod", "a87ff679a2f3e71d", map[string]string{
			"DCOS_PACKAGE_FRAMEWORK_NAME": "kafka-prod", "DCOS_COMMONS_API_VERSION": "v1", "DCOS_COMMONS_UNINSTALL": "true",
			"DCOS_SERVICE_NAME": "kafka-prod", "DCOS_SERVICE_SCHEME": "http", "DCOS_SERVICE_PORT_INDEX": "0"}),
	}
	kafka := fixture{
		rel: api.Release{
			Name: "kafka-prod", Package: "kafka", Universe: "universe",
			DesiredVersion: ">=2.8 <3", ResolvedVersion: "2.9.0-2.4.0", ResolvedRelease: ptr(58),
			DeployedVersion: "2.8.0-2.3.0", DeployedRelease: ptr(52), AppID: "/kafka-prod",
			ManifestFile: "releases/kafka-prod.yaml", ManifestRevision: "8f14e45fceea167a5a36dedd4bea2543e1b3a2c9",
			UniverseRevision: "45c48cce2e2d7fbdea1afc51c7c6ad26a1b2c3d4",
			Sync:             api.SyncProgressing, SyncReason: "deployment in flight: upgrading 2.8.0-2.3.0 to 2.9.0-2.4.0",
			Health: api.HealthHealthy, Status: "Deploying",
			Tasks:       api.TaskCounts{Instances: 1, Running: 1, Healthy: 1, Staged: 1},
			ServiceLink: "/service/kafka-prod/", Icon: iconSVG("#3d444d", "K"),
			Deployments: []string{"2f1c6a7e-9a0d-4c55-8f3e-1d2b3c4d5e6f"},
			DependsOn:   []string{"zookeeper-prod"},
			Notes: api.Notes{
				PreInstall:    "Kafka needs at least 3 agents with 2 CPUs and 4 GiB free each.",
				PostInstall:   "DC/OS Kafka is being installed!\n\n\tDocumentation: https://docs.mesosphere.com/services/kafka/\n\tIssues: https://docs.mesosphere.com/support/",
				PostUninstall: "DC/OS Kafka is being uninstalled.",
			},
			Events: []api.Event{
				{Time: ago(40 * time.Second), Type: "Normal", Reason: "Deploying", Message: "updating /kafka-prod to 2.9.0-2.4.0 (release 58): deployment 2f1c6a7e"},
				{Time: ago(41 * time.Second), Type: "Normal", Reason: "NewVersion", Message: "universe revision 45c48cce resolves >=2.8 <3 to 2.9.0-2.4.0"},
			},
			History: []api.Revision{
				{ID: 2, Version: "2.9.0-2.4.0", Release: 58, Hash: "a87ff679a2f3e71d", DeployedAt: ago(40 * time.Second), Outcome: "InProgress", Deployment: "2f1c6a7e-9a0d-4c55-8f3e-1d2b3c4d5e6f", Current: true},
				{ID: 1, Version: "2.8.0-2.3.0", Release: 52, Hash: "e4da3b7fbbce2345", DeployedAt: ago(26 * time.Hour), Outcome: "Superseded", Rollbackable: true},
			},
			LastChange: ago(40 * time.Second), LastReconcile: ago(5 * time.Second),
		},
		def: mustJSON(kafkaDef),
		app: marathonApp(kafkaDef, 1, 1, 0, now),
	}

	cassandraName := "cassandra-analytics-eu-west-1-reporting-cluster-with-a-very-long-release-name"
	cassandraDef := map[string]any{
		"id": "/analytics/cassandra", "cpus": 0.5, "mem": 1024, "instances": 1,
		"labels": labels("cassandra", "2.9.0-3.11.6", cassandraName, "1679091c5a880faf", map[string]string{"DCOS_PACKAGE_FRAMEWORK_NAME": "analytics/cassandra"}),
	}
	cassandra := fixture{
		rel: api.Release{
			Name: cassandraName, Package: "cassandra", Universe: "universe",
			DesiredVersion: "2.10.0-3.11.6", ResolvedVersion: "2.10.0-3.11.6", ResolvedRelease: ptr(41),
			DeployedVersion: "2.9.0-3.11.6", DeployedRelease: ptr(39), AppID: "/analytics/cassandra",
			ManifestFile: "releases/analytics/cassandra.yaml", ManifestRevision: "c4ca4238a0b923820dcc509a6f75849b00000001",
			Sync: api.SyncFailed, Health: api.HealthHealthy, Status: "Running",
			Tasks: api.TaskCounts{Instances: 1, Running: 1, Healthy: 1},
			LastError: &api.Error{
				Class: "permanent", Reason: "RenderFailed",
				Message: `render cassandra 2.10.0-3.11.6 (release 41): marathon.json.mustache: options: /service/virtual_network_name: "dcos overlay" does not match pattern "^[a-z0-9-]+$"`,
				Time:    ago(12 * time.Minute),
				Details: json.RawMessage(`{"file":"packages/C/cassandra/41/config.json","path":"/service/virtual_network_name","rule":"pattern","value":"dcos overlay"}`),
			},
			Events: []api.Event{
				{Time: ago(12 * time.Minute), Type: "Warning", Reason: "RenderFailed", Message: `options: /service/virtual_network_name: "dcos overlay" does not match pattern "^[a-z0-9-]+$"`},
			},
			History:    []api.Revision{{ID: 1, Version: "2.9.0-3.11.6", Release: 39, Hash: "1679091c5a880faf", DeployedAt: ago(72 * time.Hour), Outcome: "Succeeded", Current: true}},
			LastChange: ago(12 * time.Minute), LastReconcile: ago(30 * time.Second),
		},
		// The new revision does not render: no desired definition.
		app: marathonApp(cassandraDef, 1, 1, 0, now),
	}

	jenkinsDef := map[string]any{
		"id": "/ci/jenkins", "cpus": 1, "mem": 2048, "instances": 1,
		"labels": labels("jenkins", "3.6.1-2.190.1", "jenkins-ci", "8f14e45fceea167a", map[string]string{
			"DCOS_SERVICE_NAME": "ci/jenkins", "DCOS_SERVICE_SCHEME": "http", "DCOS_SERVICE_PORT_INDEX": "0"}),
	}
	jenkins := fixture{
		rel: api.Release{
			Name: "jenkins-ci", Package: "jenkins", Universe: "universe",
			DesiredVersion: "3.6.1-2.190.1", ResolvedVersion: "3.6.1-2.190.1", ResolvedRelease: ptr(12),
			DeployedVersion: "3.6.1-2.190.1", DeployedRelease: ptr(12), AppID: "/ci/jenkins",
			Sync: api.SyncSuspended, SyncReason: "spec.suspend is true", Suspended: true,
			Health: api.HealthHealthy, Status: "Running", Tasks: api.TaskCounts{Instances: 1, Running: 1, Healthy: 1},
			ServiceLink: "/service/ci/jenkins/",
			LastChange:  ago(50 * time.Hour), LastReconcile: ago(45 * time.Second),
		},
		def: mustJSON(jenkinsDef),
		app: marathonApp(jenkinsDef, 1, 1, 0, now),
	}

	nginxDef := map[string]any{
		"id": "/nginx-edge", "cpus": 0.5, "mem": 256, "instances": 3,
		"container": map[string]any{"type": "DOCKER", "docker": map[string]any{"image": "nginx:1.25.3"}},
		"env":       map[string]any{"NGINX_WORKERS": "4", "LOG_LEVEL": "info"},
		"labels": labels("nginx", "1.25.3", "nginx-edge", "9bf31c7ff062936a", map[string]string{
			"DCOS_SERVICE_NAME": "nginx-edge", "DCOS_SERVICE_SCHEME": "http", "DCOS_SERVICE_PORT_INDEX": "0"}),
	}
	nginxActual := map[string]any{}
	for k, v := range nginxDef {
		nginxActual[k] = v
	}
	nginxActual["instances"] = 2
	nginxActual["env"] = map[string]any{"NGINX_WORKERS": "8"}
	actualLabels := labels("nginx", "1.25.3", "nginx-edge", "9bf31c7ff062936a", map[string]string{
		"DCOS_SERVICE_NAME": "nginx-edge", "DCOS_SERVICE_SCHEME": "http", "DCOS_SERVICE_PORT_INDEX": "0", "team": "edge"})
	nginxActual["labels"] = actualLabels
	nginx := fixture{
		rel: api.Release{
			Name: "nginx-edge", Package: "nginx", Universe: "universe",
			DesiredVersion: "1.25.3", ResolvedVersion: "1.25.3", ResolvedRelease: ptr(7),
			DeployedVersion: "1.25.3", DeployedRelease: ptr(7), AppID: "/nginx-edge",
			ManifestFile: "releases/nginx-edge.yaml", ManifestRevision: "6512bd43d9caa6e02c990b0a82652dca00000002",
			UniverseRevision: "c20ad4d76fe97759aa27a0c99bff6710deadbeef",
			Sync:             api.SyncOutOfSync, SyncReason: "Marathon's app differs from Git in 4 fields (changed outside Git)",
			Health: api.HealthHealthy, Status: "Running", Tasks: api.TaskCounts{Instances: 2, Running: 2, Healthy: 2},
			ServiceLink: "/service/nginx-edge/",
			Drift: []api.FieldDiff{
				{Path: "/instances", Kind: "modified", Desired: json.RawMessage(`3`), Actual: json.RawMessage(`2`)},
				{Path: "/env/NGINX_WORKERS", Kind: "modified", Desired: json.RawMessage(`"4"`), Actual: json.RawMessage(`"8"`)},
				{Path: "/env/LOG_LEVEL", Kind: "missing", Desired: json.RawMessage(`"info"`)},
				{Path: "/labels/team", Kind: "extra", Actual: json.RawMessage(`"edge"`)},
			},
			Notes: api.Notes{PostInstall: hostileNotes, PostUninstall: "nginx-edge was removed.\nDelete the DNS record edge.example.com by hand."},
			Events: []api.Event{
				{Time: ago(2 * time.Minute), Type: "Warning", Reason: "DriftDetected", Message: "Marathon's app differs from Git: /instances, /env/NGINX_WORKERS, /env/LOG_LEVEL, /labels/team"},
				{Time: ago(3 * time.Hour), Type: "Normal", Reason: "Synced", Message: "Marathon runs 1.25.3 (release 7)"},
				{Time: ago(3*time.Hour + time.Minute), Type: "Normal", Reason: "Deployed", Message: "updated /nginx-edge to 1.25.3 (release 7)"},
			},
			History: []api.Revision{
				{ID: 4, Version: "1.25.3", Release: 7, Hash: "9bf31c7ff062936a", Manifest: "6512bd43d9ca", DeployedAt: ago(3 * time.Hour), Outcome: "Succeeded", Current: true},
				{ID: 3, Version: "1.25.2", Release: 6, Hash: "c51ce410c124a10e", Manifest: "aab3238922bc", DeployedAt: ago(30 * time.Hour), Outcome: "Superseded", Rollbackable: true},
				{ID: 2, Version: "1.25.1", Release: 5, Hash: "c74d97b01eae257e", DeployedAt: ago(55 * time.Hour), Outcome: "RolledBack", Reason: "not Healthy within the progress deadline (10m)"},
				{ID: 1, Version: "1.24.0", Release: 3, Hash: "70efdf2ec9b08607", DeployedAt: ago(90 * 24 * time.Hour), Outcome: "Superseded", Rollbackable: true},
			},
			LastChange: ago(2 * time.Minute), LastReconcile: ago(10 * time.Second),
		},
		def: mustJSON(nginxDef),
		app: marathonApp(nginxActual, 2, 2, 0, now),
	}

	spark := fixture{
		rel: api.Release{
			Name: "spark-history", Package: "spark-history", Universe: "universe",
			DesiredVersion: "2.1.0-2.2.1", DeployedVersion: "2.1.0-2.2.1", DeployedRelease: ptr(8), AppID: "/spark-history",
			Sync: api.SyncDeleting, SyncReason: "removed from Git: uninstalling", Health: api.HealthNA, Status: "Deleting",
			Tasks: api.TaskCounts{Instances: 1},
			Cleanup: &api.Cleanup{State: "Running", Steps: []api.CleanupStep{
				{Name: "delete-app", State: "Done", Message: "DELETE /v2/apps/spark-history?force=true", Time: ago(90 * time.Second)},
				{Name: "teardown-framework", State: "Running", Message: "waiting for the Mesos master to remove framework spark-history", Time: ago(60 * time.Second)},
				{Name: "destroy-volumes", State: "Pending"},
				{Name: "unreserve", State: "Pending"},
				{Name: "delete-znode", State: "Pending", Message: "/dcos-service-spark-history"},
			}},
			Notes: api.Notes{PostUninstall: "The Spark History Server was uninstalled.\nIts event log directory in HDFS is left in place:\n  hdfs dfs -rm -r /history"},
			Events: []api.Event{
				{Time: ago(90 * time.Second), Type: "Normal", Reason: "Uninstalling", Message: "release removed from Git at 8f14e45f; deleting /spark-history"},
			},
			LastChange: ago(90 * time.Second), LastReconcile: ago(3 * time.Second),
		},
		app: json.RawMessage(`{"id":"/spark-history","instances":0,"tasksRunning":0,"labels":{"UNIVERSE_OPERATOR_RELEASE":"spark-history"}}`),
	}

	lbDef := map[string]any{
		"id": "/marathon-lb-internal", "cpus": 2, "mem": 1024, "instances": 2,
		"labels": labels("marathon-lb", "1.15.0", "marathon-lb-internal", "d3d9446802a44259", nil),
	}
	lb := fixture{
		rel: api.Release{
			Name: "marathon-lb-internal", Package: "marathon-lb", Universe: "universe",
			DesiredVersion: "1.15.0", ResolvedVersion: "1.15.0", ResolvedRelease: ptr(31),
			DeployedVersion: "1.15.0", DeployedRelease: ptr(31), AppID: "/marathon-lb-internal",
			Sync: api.SyncSynced, Health: api.HealthUnhealthy, Status: "Running",
			Tasks: api.TaskCounts{Instances: 2, Running: 2, Healthy: 1, Unhealthy: 1},
			Events: []api.Event{
				{Time: ago(7 * time.Minute), Type: "Warning", Reason: "Unhealthy", Message: "1 of 2 tasks failing health checks (TCP port 9090)"},
			},
			LastChange: ago(7 * time.Minute), LastReconcile: ago(15 * time.Second),
		},
		def: mustJSON(lbDef),
		app: marathonApp(lbDef, 2, 1, 1, now),
	}

	redisDef := map[string]any{
		"id": "/cache/redis", "cpus": 0.5, "mem": 512, "instances": 1,
		"healthChecks": []any{map[string]any{"protocol": "MESOS_TCP", "portIndex": 0}},
		"labels":       labels("redis", "5.0.5-0.0.1", "redis-cache", "6512bd43d9caa6e0", nil),
	}
	redis := fixture{
		rel: api.Release{
			Name: "redis-cache", Package: "redis", Universe: "local",
			DesiredVersion: "5.0.5-0.0.1", ResolvedVersion: "5.0.5-0.0.1", ResolvedRelease: ptr(2),
			DeployedVersion: "5.0.5-0.0.1", DeployedRelease: ptr(2), AppID: "/cache/redis",
			Sync: api.SyncProgressing, SyncReason: "waiting for tasks to become healthy",
			Health: api.HealthIdle, Status: "Delayed", Tasks: api.TaskCounts{Instances: 1},
			LastError: &api.Error{Class: "waiting", Reason: "TaskFailing",
				Message: "task cache_redis.3f2a exited with status 1 three times; Marathon delays the next launch",
				Time:    ago(5 * time.Minute), RetryAt: now.Add(4 * time.Minute)},
			LastChange: ago(5 * time.Minute), LastReconcile: ago(25 * time.Second),
		},
		def: mustJSON(redisDef),
		app: marathonApp(redisDef, 0, 0, 0, now),
	}

	return []fixture{hello, kafka, cassandra, jenkins, nginx, spark, lb, redis}
}

func controllerInfo(now time.Time) api.ControllerInfo {
	return api.ControllerInfo{
		Version: "0.1.0-test", Leader: true, LeaderID: "universe-operator-7f9c@10.0.2.15",
		MarathonEvents: "connected since " + now.Add(-2*time.Hour).UTC().Format(time.RFC3339), LastPass: now.Add(-20 * time.Second),
		Sources: []api.SourceStatus{
			{Name: "universe", Kind: "git", Role: "universe", URI: "https://git.example.com/dcos/universe.git",
				Revision: "45c48cce2e2d7fbdea1afc51c7c6ad26a1b2c3d4", Healthy: true, LoadedAt: now.Add(-40 * time.Second), CheckedAt: now.Add(-40 * time.Second)},
			{Name: "local", Kind: "dir", Role: "universe", URI: "/srv/universe/repo/packages",
				Revision: "sha256:0cc175b9c0f1b6a8", Healthy: true, Stale: true, LoadedAt: now.Add(-3 * time.Hour),
				Problems: []string{"packages/R/redis/3/package.json: version: missing"}},
			{Name: "releases", Kind: "git", Role: "releases", URI: "https://git.example.com/ops/releases.git",
				Revision: "8f14e45fceea167a5a36dedd4bea2543e1b3a2c9", Healthy: true, LoadedAt: now.Add(-20 * time.Second)},
		},
	}
}

// fakeController is a stand-in for the controller's HTTP server: the JSON
// API of CONTRACTS.md fed from fixtures, the real ui.Stream and ui.Handler,
// all behind the Admin Router prefix.
type fakeController struct {
	t      testing.TB
	root   string
	stream *ui.Stream
	srv    *httptest.Server

	mu         sync.Mutex
	releases   map[string]api.Release
	defs       map[string]json.RawMessage
	apps       map[string]json.RawMessage
	controller api.ControllerInfo
	syncs      []string
	rollbacks  []int
	outside    []string // requests that did not use the prefix
	requests   []string
	streams    map[int]context.CancelFunc
	nextStream int
}

func newFakeController(t testing.TB, opts ...ui.StreamOption) *fakeController {
	t.Helper()
	return newFakeControllerAt(t, prefix, opts...)
}

// newFakeControllerAt serves the fake under root ("/" as under `dev`, or an
// Admin Router prefix ending in "/").
func newFakeControllerAt(t testing.TB, root string, opts ...ui.StreamOption) *fakeController {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	f := &fakeController{
		t: t, root: root, releases: map[string]api.Release{}, defs: map[string]json.RawMessage{}, apps: map[string]json.RawMessage{},
		controller: controllerInfo(now), streams: map[int]context.CancelFunc{},
	}
	for _, fx := range fixtures(now) {
		f.releases[fx.rel.Name] = fx.rel
		if fx.def != nil {
			f.defs[fx.rel.Name] = fx.def
		}
		if fx.app != nil {
			f.apps[fx.rel.Name] = fx.app
		}
	}
	f.stream = ui.NewStream(f.snapshot, opts...)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/releases", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, f.snapshot())
	})
	mux.HandleFunc("GET /api/v1/releases/{name}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		rel, ok := f.releases[r.PathValue("name")]
		f.mu.Unlock()
		if !ok {
			writeJSON(w, http.StatusNotFound, api.ErrorResponse{Message: "no release " + r.PathValue("name")})
			return
		}
		writeJSON(w, http.StatusOK, rel)
	})
	raw := func(m func() map[string]json.RawMessage, what string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			f.mu.Lock()
			b, ok := m()[r.PathValue("name")]
			f.mu.Unlock()
			if !ok {
				writeJSON(w, http.StatusNotFound, api.ErrorResponse{Message: what + " of " + r.PathValue("name") + " not found"})
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(b)
		}
	}
	mux.HandleFunc("GET /api/v1/releases/{name}/definition", raw(func() map[string]json.RawMessage { return f.defs }, "rendered definition"))
	mux.HandleFunc("GET /api/v1/releases/{name}/app", raw(func() map[string]json.RawMessage { return f.apps }, "Marathon app"))
	mux.HandleFunc("POST /api/v1/releases/{name}/sync", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if !f.authorized(w, r) || !f.exists(w, name) {
			return
		}
		f.mu.Lock()
		f.syncs = append(f.syncs, name)
		f.mu.Unlock()
		writeJSON(w, http.StatusAccepted, api.SyncResponse{Release: name, Queued: true, Message: "sync of " + name + " queued"})
	})
	mux.HandleFunc("POST /api/v1/releases/{name}/rollback", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if !f.authorized(w, r) || !f.exists(w, name) {
			return
		}
		var body struct {
			Revision *int `json:"revision"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Revision == nil {
			writeJSON(w, http.StatusBadRequest, api.ErrorResponse{Message: `body must be {"revision": N}`})
			return
		}
		f.mu.Lock()
		rel := f.releases[name]
		ok := slices.ContainsFunc(rel.History, func(v api.Revision) bool { return v.ID == *body.Revision && v.Rollbackable })
		if ok {
			f.rollbacks = append(f.rollbacks, *body.Revision)
		}
		f.mu.Unlock()
		if !ok {
			writeJSON(w, http.StatusConflict, api.ErrorResponse{Message: "revision cannot be rolled back to"})
			return
		}
		writeJSON(w, http.StatusAccepted, api.SyncResponse{Release: name, Queued: true,
			Message: "rollback of " + name + " to revision " + itoa(*body.Revision) + " queued"})
	})
	mux.HandleFunc("GET /api/v1/stream", func(w http.ResponseWriter, r *http.Request) {
		// A cancellable stream, so tests can cut every connection like a
		// restarting controller or a proxy timeout would.
		ctx, cancel := context.WithCancel(r.Context())
		f.mu.Lock()
		id := f.nextStream
		f.nextStream++
		f.streams[id] = cancel
		f.mu.Unlock()
		defer func() {
			f.mu.Lock()
			delete(f.streams, id)
			f.mu.Unlock()
			cancel()
		}()
		f.stream.ServeHTTP(w, r.WithContext(ctx))
	})
	mux.Handle("/", ui.Handler(ui.Options{Title: "universe-operator", Version: "v0.1.0-test"}))

	var top http.Handler = mux
	if root != "/" {
		rm := http.NewServeMux()
		rm.Handle(root, http.StripPrefix(strings.TrimSuffix(root, "/"), mux))
		top = rm
	}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests = append(f.requests, r.Method+" "+r.URL.RequestURI())
		if !strings.HasPrefix(r.URL.Path, root) {
			f.outside = append(f.outside, r.Method+" "+r.URL.RequestURI())
		}
		f.mu.Unlock()
		top.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		f.stream.Close()
		f.srv.Close()
	})
	return f
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// URL is the UI's address under its root.
func (f *fakeController) URL() string { return f.srv.URL + f.root }

func (f *fakeController) snapshot() api.ReleaseList {
	f.mu.Lock()
	defer f.mu.Unlock()
	list := api.ReleaseList{Releases: make([]api.Release, 0, len(f.releases))}
	for _, r := range f.releases {
		list.Releases = append(list.Releases, r)
	}
	slices.SortFunc(list.Releases, func(a, b api.Release) int { return strings.Compare(a.Name, b.Name) })
	c := f.controller
	list.Controller = &c
	return list
}

func (f *fakeController) release(name string) api.Release {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.releases[name]
}

// set stores a release and publishes it, as the controller does: state first.
func (f *fakeController) set(r api.Release) {
	f.mu.Lock()
	f.releases[r.Name] = r
	f.mu.Unlock()
	f.stream.Publish(r)
}

func (f *fakeController) remove(name string) {
	f.mu.Lock()
	delete(f.releases, name)
	f.mu.Unlock()
	f.stream.Remove(name)
}

// setQuietly changes state without publishing (an update missed while a
// browser was disconnected).
func (f *fakeController) setQuietly(r api.Release, removeName string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Name != "" {
		f.releases[r.Name] = r
	}
	if removeName != "" {
		delete(f.releases, removeName)
	}
}

func (f *fakeController) setController(c api.ControllerInfo) {
	f.mu.Lock()
	f.controller = c
	f.mu.Unlock()
	f.stream.PublishController(c)
}

// cutStreams ends every open event stream.
func (f *fakeController) cutStreams() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.streams {
		c()
	}
	return len(f.streams)
}

func (f *fakeController) authorized(w http.ResponseWriter, r *http.Request) bool {
	if r.Header.Get("Authorization") != "Bearer "+testToken {
		w.Header().Set("WWW-Authenticate", `Bearer realm="universe-operator"`)
		writeJSON(w, http.StatusUnauthorized, api.ErrorResponse{Message: "a valid UI token is required"})
		return false
	}
	return true
}

func (f *fakeController) exists(w http.ResponseWriter, name string) bool {
	f.mu.Lock()
	_, ok := f.releases[name]
	f.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, api.ErrorResponse{Message: "no release " + name})
	}
	return ok
}

func (f *fakeController) recorded() (syncs []string, rollbacks []int, outside []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.syncs), slices.Clone(f.rollbacks), slices.Clone(f.outside)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
