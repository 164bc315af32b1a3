package uninstall

import (
	"encoding/json"
	"testing"
)

// BenchmarkPlan measures the pure plan `diff` computes per deleted release
// (the app's DCOS_PACKAGE_DEFINITION label is decoded each time).
func BenchmarkPlan(b *testing.B) {
	app := renderApp(b, "sdk-test", `{"service":{"name":"prod/kafka"}}`, "kafka-prod")
	b.SetBytes(int64(len(app)))
	b.ReportAllocs()
	for b.Loop() {
		if steps := Plan(app, nil); len(steps) != 6 {
			b.Fatal(steps)
		}
	}
}

// BenchmarkSDKUninstallBody measures building the SDK_UNINSTALL update from
// a Marathon answer.
func BenchmarkSDKUninstallBody(b *testing.B) {
	app := renderApp(b, "sdk-test", `{"service":{"name":"prod/kafka"}}`, "kafka-prod")
	var obj map[string]json.RawMessage
	_ = json.Unmarshal(app, &obj)
	obj["tasksRunning"], obj["version"], obj["uris"] = json.RawMessage(`1`), json.RawMessage(`"2026-01-01T00:00:00Z"`), json.RawMessage(`[]`)
	app, _ = json.Marshal(obj)
	b.SetBytes(int64(len(app)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sdkUninstallBody(app); err != nil {
			b.Fatal(err)
		}
	}
}
