// Package mesos wraps the Mesos master operator API (POST <master>/api/v1,
// JSON codec) through github.com/mesos/mesos-go v0.0.11 (httpcli +
// httpmaster.NewSender + master/calls), with DC/OS authentication, contexts,
// timeouts, leader redirects and classified errors.
//
// Exported API:
//
//	type Options struct {
//		URL       string            // master base URL: http://leader.mesos:5050 or <dcos_url>/mesos
//		Transport http.RoundTripper // e.g. a *dcosauth.Transport; nil = default
//		Timeout   time.Duration     // per call (default 30s)
//	}
//	func New(opts Options) (*Client, error)
//
//	type Framework struct {
//		ID, Name string; Roles []string; Principal, WebUIURL, Hostname string
//		Active, Connected, Recovered bool
//	}
//	func (c *Client) Frameworks(ctx context.Context) ([]Framework, error)                // GET_FRAMEWORKS: registered ones, active or not (torn-down ones left out)
//	func (c *Client) FrameworksByName(ctx context.Context, name string) ([]Framework, error)
//	func (c *Client) Teardown(ctx context.Context, frameworkID string) error               // TEARDOWN
//	func (c *Client) Roles(ctx context.Context) ([]string, error)                          // GET_ROLES
//	func (c *Client) State(ctx context.Context) (*master.Response_GetState, error)         // GET_STATE (typed mesos-go answer)
//
//	type Resource struct {
//		Name, Type string; Scalar float64; Ranges [][2]uint64; Set []string
//		Role, Principal string           // of the (most refined) reservation
//		Labels map[string]string         // reservation labels (SDK: resource_id)
//		PersistenceID, ContainerPath string; DiskSource string // persistent volume info
//		Proto mesos.Resource             // exactly as the master reported it
//	}
//	func (r Resource) IsVolume() bool
//	type AgentResources struct{ AgentID, Hostname string; Resources []Resource }
//	func (a AgentResources) Volumes() []Resource
//	func (c *Client) ReservedResources(ctx context.Context, role string) ([]AgentResources, error) // GET_AGENTS total_resources reserved to role
//	func (c *Client) DestroyVolumes(ctx context.Context, agentID string, volumes []Resource) error  // DESTROY_VOLUMES
//	func (c *Client) Unreserve(ctx context.Context, agentID string, res []Resource) error           // UNRESERVE_RESOURCES (volume info stripped)
//
//	type APIError struct{ Call string; Status int; Body, Location string }
//	func (c *Client) Endpoint() string // …/api/v1
//	func IsNotFound(err error) bool // e.g. TEARDOWN of an unknown framework
//
// Why mesos-go: its master/calls builders and generated protobuf types give
// the exact wire format of the operator API (snake_case JSON, enums as
// strings), and its httpcli lets us plug our own http.Client in through
// httpcli.Do, so the dcosauth RoundTripper, our timeouts and our redirect
// handling apply. Its own client refuses redirects (noRedirect) and turns a
// 307 from a non-leading master into an error; we follow the 307 (Location
// such as //leader:5050/api/v1) ourselves, at most 3 hops, replaying the
// body. Its error mapper is replaced by one that keeps the status and body
// (*APIError) so errors can be classified: connection errors, timeouts, 5xx,
// 429, unexpected content types, malformed answers -> errs.Transient; 409
// (resources to unreserve or destroy not available as described: still in
// use by tasks a teardown is killing, or changed since read) -> errs.Waiting
// (5s; re-read and retry); other 4xx (400 bad operation or unknown
// framework/agent, 401/403 after the auth layer retried, 404) ->
// errs.Permanent. A refused service-account login keeps its Permanent class.
//
// Wire details mesos-go insists on: a 200 answer to GET_* must carry exactly
// `Content-Type: application/json`; a 200 answer to TEARDOWN (no data) must
// carry no Content-Type at all; 202 is accepted for every call.
package mesos
