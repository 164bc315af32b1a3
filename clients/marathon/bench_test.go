package marathon

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// appsBody builds a GET /v2/apps answer with n apps shaped like Marathon's
// (defaults filled in, counts and deployments embedded, ownership labels).
func appsBody(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"apps":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"/bench/app-%04d","backoffFactor":1.15,"backoffSeconds":1,"cmd":"./run --port $PORT0","container":{"type":"DOCKER","docker":{"forcePullImage":false,"image":"example/app:1.2.%d","parameters":[],"privileged":false},"volumes":[],"portMappings":[{"containerPort":8080,"hostPort":0,"labels":{},"protocol":"tcp","servicePort":%d}]},"cpus":0.5,"disk":0,"env":{"JAVA_OPTS":"-Xmx256m","MODE":"prod","SECRET":{"secret":"s1"}},"executor":"","fetch":[{"uri":"https://example.com/config-%d.tgz","extract":true,"executable":false,"cache":false}],"healthChecks":[{"gracePeriodSeconds":300,"intervalSeconds":60,"maxConsecutiveFailures":3,"portIndex":0,"timeoutSeconds":20,"delaySeconds":15,"protocol":"MESOS_HTTP","path":"/health","ipProtocol":"IPv4"}],"instances":3,"labels":{"DCOS_PACKAGE_NAME":"bench","DCOS_PACKAGE_VERSION":"1.2.%d","DCOS_SERVICE_NAME":"bench-%d","UNIVERSE_OPERATOR_RELEASE":"rel-%d","UNIVERSE_OPERATOR_HASH":"0123456789abcdef"},"maxLaunchDelaySeconds":300,"mem":512,"gpus":0,"networks":[{"mode":"container/bridge"}],"requirePorts":false,"upgradeStrategy":{"maximumOverCapacity":1,"minimumHealthCapacity":1},"version":"2024-01-01T00:00:00.000Z","versionInfo":{"lastScalingAt":"2024-01-01T00:00:00.000Z","lastConfigChangeAt":"2024-01-01T00:00:00.000Z"},"killSelection":"YOUNGEST_FIRST","unreachableStrategy":{"inactiveAfterSeconds":0,"expungeAfterSeconds":0},"role":"slave_public","tasksStaged":0,"tasksRunning":3,"tasksHealthy":3,"tasksUnhealthy":0,"deployments":[]}`,
			i, i%10, 10000+i, i, i%10, i, i)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// BenchmarkListApps2000 measures one GET /v2/apps of 2,000 apps end to end
// (HTTP on loopback, body read, raw split and summary parse), the read a
// reconcile pass makes.
func BenchmarkListApps2000(b *testing.B) {
	body := appsBody(2000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	defer srv.Close()
	c, err := New(Options{URL: srv.URL})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		apps, err := c.ListApps(ctx, "UNIVERSE_OPERATOR_RELEASE", "apps.counts", "apps.deployments")
		if err != nil || len(apps) != 2000 {
			b.Fatal(len(apps), err)
		}
	}
}

// BenchmarkDecodeApps2000 measures the decoding alone.
func BenchmarkDecodeApps2000(b *testing.B) {
	body := appsBody(2000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var out struct {
			Apps []App `json:"apps"`
		}
		if err := json.Unmarshal(body, &out); err != nil || len(out.Apps) != 2000 {
			b.Fatal(err)
		}
	}
}

// BenchmarkSSEParse measures event stream parsing (Jetty framing, CRLF).
func BenchmarkSSEParse(b *testing.B) {
	frame := "event: status_update_event\r\ndata: {\"slaveId\":\"S1\",\"taskId\":\"app.1234\",\"taskStatus\":\"TASK_RUNNING\",\"appId\":\"/bench/app\",\"host\":\"10.0.1.1\",\"ports\":[31000],\"version\":\"2024-01-01T00:00:00.000Z\",\"eventType\":\"status_update_event\",\"timestamp\":\"2024-01-01T00:00:00.000Z\"}\r\n\r\n"
	stream := strings.Repeat(frame, 1000)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p := newSSEParser(strings.NewReader(stream))
		n := 0
		for {
			if _, err := p.next(); err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
			n++
		}
		if n != 1000 {
			b.Fatal(n)
		}
	}
}
