// Package ui is universe-operator's web UI: an HTTP handler serving a small
// embedded single-binary front end (plain HTML, CSS and JavaScript, no
// external resources) and the server-sent events stream that keeps it live.
//
// # Handler
//
//	func Handler(opts Options) http.Handler
//	type Options struct { Title, Version string }
//
// Handler serves, relative to its mount point:
//
//	GET /                      overview of all releases (index.html is the same page)
//	GET /release.html?name=X   one release
//	GET /static/...            CSS, JavaScript, icons
//	GET /favicon.ico           the icon, for browsers that ask the root
//
// Every URL the pages use is relative, so the UI works at "/" (the `dev`
// command) and behind DC/OS Admin Router at /service/universe-operator/. The
// handler expects request paths relative to its mount point: mount it at "/"
// or strip the prefix (http.StripPrefix). Responses carry ETags (HTML is
// revalidated, static files are referenced with a content hash ?v=... and
// cached for a year), a strict Content-Security-Policy without inline scripts
// or styles, X-Content-Type-Options: nosniff and a same-origin frame policy.
//
// The pages read the controller's JSON API at these relative URLs, which the
// controller must serve next to the handler:
//
//	GET  api/v1/releases                     api.ReleaseList
//	GET  api/v1/releases/{name}              api.Release
//	GET  api/v1/releases/{name}/definition   desired app JSON (raw)
//	GET  api/v1/releases/{name}/app          Marathon's app JSON (raw; 404 when none)
//	POST api/v1/releases/{name}/sync         api.SyncResponse; Authorization: Bearer <token>
//	POST api/v1/releases/{name}/rollback     {"revision": N} -> api.SyncResponse; same guard
//	GET  api/v1/stream[?release=NAME]        Stream
//
// # Stream
//
//	func NewStream(snapshot func() api.ReleaseList, opts ...StreamOption) *Stream
//	func (*Stream) Publish(api.Release)
//	func (*Stream) Remove(name string)
//	func (*Stream) PublishController(api.ControllerInfo)
//	func (*Stream) ServeHTTP(http.ResponseWriter, *http.Request)
//	func (*Stream) Subscribers() int
//	func (*Stream) Close()
//	func WithPingInterval(time.Duration) StreamOption
//	func WithMaxPending(int) StreamOption
//	func WithWriteTimeout(time.Duration) StreamOption
//
// A new subscriber first receives the full current state from the snapshot
// func (`event: controller` when known, one `event: release` per release, then
// `event: ready` with {"releases": N} marking the end of the snapshot), then
// `release`, `removed` ({"name": ...}) and `controller` events as they are
// published, and a `: ping` comment every 15 s. Events for the same release
// are coalesced while a subscriber is behind (the latest state wins, a
// removal replaces an update and vice versa); a subscriber with too many
// distinct pending events, or whose writes stall, is dropped: its connection
// ends and the browser's EventSource reconnects and gets a fresh snapshot.
// Publish never blocks on a subscriber.
//
// The optional query parameter release=NAME restricts a subscription to one
// release (the release page uses it); controller events are always sent.
package ui
