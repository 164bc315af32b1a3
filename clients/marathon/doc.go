// Package marathon is a raw-JSON client for Marathon's v2 REST API and its
// event stream, built for a controller that must send app definitions exactly
// as rendered (the way Cosmos does) and read them back untouched.
//
// App definitions travel as json.RawMessage end to end. The package does not
// send requests through github.com/gambol99/go-marathon: its typed
// Application struct drops, adds and rewrites fields (see
// ../shared/docs/marathon-notes.md), its DeleteDeployment ignores force, it
// marks a host down for 5 s on any 5xx, rewrites paths for DC/OS tokens but
// not for events, dispatches SSE events in goroutines (order lost) and has no
// raw request method. Even where it is faithful (info, leader, ping,
// deployment listing) using it would mean a second HTTP stack with its own
// failover, auth and redirect rules and no metrics hook, so every call here
// goes through one small, tested request path. The tests (gomarathon_test.go)
// run go-marathon's Info, Leader, Ping and Deployments against the same
// fakes and the simulator and check that this package agrees with it, map
// its APIError codes (ErrCodeAppLocked, ErrCodeDuplicateID, ...) onto ours,
// and pin the defects above.
//
// ListApps parses the answer token by token (go-json-experiment's jsontext),
// keeping each app's bytes and reading only the summary fields: 2,000 apps
// (about 3 MB) take a few tens of milliseconds (BenchmarkListApps2000), a
// fraction of what encoding/json with a raw-keeping UnmarshalJSON needs.
//
// Exported API:
//
//	type Options struct {
//		URL       string            // Marathon base URL; a comma-separated list = HA failover.
//		                            // May carry a path prefix: https://dcos.example.com/service/marathon
//		Transport http.RoundTripper // e.g. a *dcosauth.Transport; nil = a default transport
//		Timeout   time.Duration     // per attempt for ordinary requests (default 30s)
//		ClientID  string            // sent as X-Client-Id (the simulator's request log shows it)
//		Observer  Observer          // optional metrics hook
//		Logger    logrus.FieldLogger
//		LockedRetryAfter, ExistsRetryAfter time.Duration // delays attached to errs.Waiting (default 5s, 1s)
//		EventBackoffInitial, EventBackoffMax time.Duration // SSE reconnect backoff (default 500ms, 30s)
//		EventBuffer int                                  // SSE queue capacity (default 256)
//		EventIdleTimeout time.Duration                   // reconnect after this long without a byte (default 60s)
//	}
//	func New(opts Options) (*Client, error)
//
//	// Apps. App keeps Marathon's object verbatim in Raw plus a few parsed fields.
//	type App struct {
//		ID, Version string; Instances int; Labels map[string]string
//		TasksStaged, TasksRunning, TasksHealthy, TasksUnhealthy int
//		Deployments []string; HealthChecks int; Raw json.RawMessage
//	}
//	func (c *Client) ListApps(ctx context.Context, selector string, embed ...string) ([]App, error) // GET /v2/apps?label=<selector>&embed=...
//	func (c *Client) GetApp(ctx context.Context, id string, embed ...string) (*App, error)          // GET /v2/apps/{id}
//	func (c *Client) CreateApp(ctx context.Context, raw json.RawMessage) (WriteResult, error)      // POST /v2/apps
//	func (c *Client) UpdateApp(ctx context.Context, id string, raw json.RawMessage, force bool) (WriteResult, error)
//	                                              // PUT /v2/apps/{id}?partialUpdate=false[&force=true]
//	func (c *Client) DeleteApp(ctx context.Context, id string, force bool) (WriteResult, error)   // DELETE /v2/apps/{id}?force=true|false
//	func (c *Client) RestartApp(ctx context.Context, id string, force bool) (WriteResult, error)  // POST /v2/apps/{id}/restart?force=
//	type WriteResult struct{ DeploymentID, Version string; Status int }
//
//	// Deployments, queue, info.
//	type Deployment struct {
//		ID, Version string; AffectedApps, AffectedPods []string
//		Steps []DeploymentStep; CurrentActions []DeploymentAction; CurrentStep, TotalSteps int
//	}
//	func (c *Client) Deployments(ctx context.Context) ([]Deployment, error)
//	func (c *Client) DeleteDeployment(ctx context.Context, id string, force bool) (WriteResult, error)
//	                  // force=false: Marathon starts a rollback deployment (200, its id returned);
//	                  // force=true: cancel without rollback (202, empty WriteResult)
//	func (c *Client) Queue(ctx context.Context) ([]QueueItem, error)
//	func (c *Client) Info(ctx context.Context) (*Info, error)
//	func (c *Client) Leader(ctx context.Context) (string, error) // 404 (no leader) -> IsNotFound
//	func (c *Client) Ping(ctx context.Context) error
//	func (c *Client) CurrentURL() string // the endpoint the next request tries first
//
//	// Event stream.
//	func (c *Client) Events(ctx context.Context, types ...string) *Stream
//	func (s *Stream) C() <-chan Event      // closed after ctx is done
//	func (s *Stream) State() StreamState    // Connected, URL, Since, LastError, Connects, Received, Dropped
//	type Event struct{ Type string; Data json.RawMessage }
//	const EventResync = "universe_operator_resync" // synthetic: re-read everything
//
//	// Errors.
//	type APIError struct {
//		Method, Path string; Status int; Message string
//		Details []Detail; Deployments []string; Location string; Body []byte
//	}
//	type Detail struct{ Path string; Errors []string }
//	func IsNotFound(err error) bool
//	func IsAlreadyExists(err error) bool
//	func IsLocked(err error) bool
//	func LockingDeployments(err error) []string
//	func StatusOf(err error) int // HTTP status of an *APIError in err's chain, 0 otherwise
//
//	// Metrics hook.
//	type Observer interface {
//		Request(method, pathTemplate string, code int, d time.Duration, err error)
//	}
//	type ObserverFunc func(method, pathTemplate string, code int, d time.Duration, err error)
//
// Error classes (package errs): 409 "locked by one or more deployments" ->
// errs.Waiting (IsLocked, LockingDeployments); 409 "already exists" ->
// errs.Waiting with a short delay (IsAlreadyExists: re-read and re-plan);
// 404 -> errs.Permanent (IsNotFound); 400/422 -> errs.Permanent with
// Marathon's details in the message; 401/403 -> errs.Permanent (the auth
// transport has already logged in again and retried once); 5xx, 429,
// timeouts, connection errors, malformed answers -> errs.Transient. A
// service-account login refused by the cluster keeps its Permanent class.
//
// HA failover: Options.URL may list several Marathons. A request goes to the
// last endpoint that answered; on a connection error, a timeout (GET only) or
// a 502/503/504 it moves on to the next, each endpoint once per call. Writes
// (POST/PUT/DELETE) move on only when the request cannot have been processed:
// the connection could not be established, or the answer was 502/503/504
// (Marathon answers those before acting: no leader, or the leader proxy
// failed). A write whose connection drops mid-request is NOT retried (it may
// have been applied); the caller re-reads state on its next pass.
//
// Event stream: GET <base>/v2/events with `Accept: text/event-stream` and one
// `event_type=` per requested type (filtered again on the client side). A
// standby answers /v2/events with a redirect (307/302) to the leader; the
// stream follows it by hand (at most 5 hops, never from https to http). The
// Authorization header is added per hop by the dcosauth transport, so it
// survives the hop to the leader's host, which Go's automatic redirect
// handling would strip a caller-set header for; that is deliberate: the
// leader is the same cluster the token was issued for. On EOF or error it
// reconnects with exponential backoff and jitter (cenkalti/backoff/v4),
// rotating through the URL list when no stream could be opened; after every
// (re)connect it first delivers an EventResync event, because events missed
// while disconnected are gone. A stream silent for EventIdleTimeout (no
// event, no heartbeat) is treated as dead and reopened.
// Frames are parsed per the SSE spec (LF, CRLF or CR line ends, comments,
// multi-line data joined with "\n", fields without a space after the colon,
// a final frame without the blank line is delivered if its data is complete
// JSON). Slow consumers: reading never waits for the consumer, so Marathon
// never disconnects the stream for being slow; events wait in a bounded
// queue (Options.EventBuffer) in front of the (unbuffered) channel. When the
// queue is full, the queued events and the new one are replaced by one
// EventResync (counted in State().Dropped), which the consumer reads after
// every change those events hinted at had happened: a consumer that treats
// events as hints and re-reads on EventResync never misses a change.
package marathon
