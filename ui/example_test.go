package ui_test

import (
	"net/http"

	"github.com/universe-operator/universe-operator/api"
	"github.com/universe-operator/universe-operator/ui"
)

// The controller mounts the stream and its JSON API next to the UI, all
// relative to one root; Admin Router strips /service/universe-operator/.
func Example() {
	var state api.ReleaseList // the controller's status store
	stream := ui.NewStream(func() api.ReleaseList { return state })

	mux := http.NewServeMux()
	mux.Handle("GET /api/v1/stream", stream)
	// mux.Handle("GET /api/v1/releases", ...) and the other API routes
	mux.Handle("/", ui.Handler(ui.Options{Version: "v1.0.0"}))

	// After every status change, in this order: update state, then publish.
	stream.Publish(api.Release{Name: "kafka-prod", Sync: api.SyncProgressing, Health: api.HealthHealthy})
	stream.Remove("old-release")

	// On shutdown: end the event streams first, then http.Server.Shutdown.
	stream.Close()
}
