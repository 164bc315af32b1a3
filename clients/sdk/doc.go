// Package sdk reads plan status from DC/OS SDK (dcos-commons) schedulers
// through Admin Router: GET <base>/service/<name>/<apiVersion>/plans/<plan>.
//
// Exported API:
//
//	type Options struct {
//		URL       string            // cluster base URL (dcos_url), schedulers at /service/<name>/
//		Transport http.RoundTripper // e.g. a *dcosauth.Transport; nil = default
//		Timeout   time.Duration     // per call (default 30s)
//		NotFoundRetryAfter time.Duration // errs.Waiting delay of a 404 (default 10s)
//	}
//	func New(opts Options) (*Client, error)
//	func (c *Client) DeployPlan(ctx context.Context, service, apiVersion string) (*Plan, error)
//	func (c *Client) Plan(ctx context.Context, service, apiVersion, plan string) (*Plan, error)
//	func PlanURL(base, service, apiVersion, plan string) string
//
//	type Plan struct {
//		Code     int      // HTTP status: 200 complete, 202 in progress, 417 errors
//		Status   string   // COMPLETE, IN_PROGRESS, PENDING, ERROR, WAITING, STARTING, ...
//		Strategy string
//		Errors   []string
//		Phases   []Phase
//		Raw      json.RawMessage
//	}
//	func (p *Plan) Complete() bool // the scheduler answered 200 (what Cosmos waits for)
//	type Phase struct{ ID, Name, Status, Strategy string; Steps []Step }
//	type Step  struct{ ID, Name, Status, Message string }
//
// dcos-commons answers GET /v1/plans/<plan> with the plan JSON and status
// 200 when the plan is complete, 202 while it is not, 417 when it has
// errors; those three are results, not errors (a 417 plan carries
// Plan.Errors). Other answers are errors: 404 (no such plan; also what
// Admin Router answers while the scheduler restarts or is not registered
// yet) -> errs.Waiting with Options.NotFoundRetryAfter (IsNotFound lets the
// caller decide otherwise); 401/403 and other 4xx -> errs.Permanent;
// 502/503/504 (scheduler restarting, Admin Router cannot reach it), other
// 5xx, 429, connection errors, timeouts, malformed JSON -> errs.Transient.
// A refused service-account login keeps its Permanent class.
//
//	type APIError struct{ Status int; URL, Message string }
//	func IsNotFound(err error) bool
package sdk
