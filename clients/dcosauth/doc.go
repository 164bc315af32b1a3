// Package dcosauth authenticates HTTP requests to a DC/OS cluster (Marathon,
// the Mesos master, SDK schedulers, all through Admin Router) the way the
// cluster expects: `Authorization: token=<jwt>`.
//
// Build one Transport per cluster from a Config and hand it to the clients
// (clients/marathon, clients/mesos, clients/sdk take an http.RoundTripper):
//
//	rt, err := dcosauth.NewTransport(dcosauth.Config{
//		ServiceAccount: &dcosauth.ServiceAccount{
//			UID:           "universe-operator",
//			PrivateKeyPEM: pemBytes,                       // loaded by the caller from a file or env var
//			LoginURL:      "https://dcos.example.com/acs/api/v1/auth/login",
//		},
//		CAFile: "/etc/ssl/dcos-ca.crt",
//	})
//	hc := &http.Client{Transport: rt, Timeout: 30 * time.Second}
//	// or: hc, err := dcosauth.NewClient(cfg)
//
// Exported API:
//
//	type Config struct {
//		Token          *StaticToken    // a fixed token (Value, File or Env)
//		ServiceAccount *ServiceAccount // DC/OS service-account login (RS256 JWT)
//		Basic          *Basic          // HTTP basic auth (Marathon's --http_credentials)
//		CAFile         string          // PEM bundle trusted for TLS (added to the system pool)
//		CAPEM          []byte          // same, as bytes
//		InsecureSkipVerify bool
//		DialTimeout, TLSHandshakeTimeout, ResponseHeaderTimeout time.Duration
//		Timeout        time.Duration   // whole-request timeout used by NewClient (default 30s)
//		Base           http.RoundTripper // optional base transport (tests); CA/timeouts then ignored
//		Logger         logrus.FieldLogger // optional; never receives secrets
//		Now            func() time.Time  // optional clock (tests)
//	}
//	type StaticToken struct{ Value, File, Env string }
//	type ServiceAccount struct {
//		UID           string
//		PrivateKeyPEM []byte        // PKCS#1 or PKCS#8 RSA private key
//		LoginURL      string        // <dcos_url>/acs/api/v1/auth/login
//		LoginTokenTTL time.Duration // exp of the login JWT we sign (default 5m)
//		RefreshAt     float64       // fraction of the token's life after which we log in again (default 0.8)
//	}
//	type Basic struct{ Username, Password string }
//
//	func NewTransport(cfg Config) (*Transport, error)
//	func NewClient(cfg Config) (*http.Client, error)
//	func LoginURL(dcosURL string) string          // <dcos_url>/acs/api/v1/auth/login
//	func (t *Transport) RoundTrip(*http.Request) (*http.Response, error)
//	func (t *Transport) Token(ctx context.Context) (string, error) // current token, logging in if needed ("" without token auth)
//	func (t *Transport) Invalidate()                               // forget the cached token (next request logs in again)
//	func (t *Transport) Logins() int                               // number of successful logins (metrics/tests)
//	func CheckRedirect(req *http.Request, via []*http.Request) error // redirect policy used by NewClient
//
//	type LoginError struct{ Status int; UID, URL, Message string; Err error }
//
// Behaviour:
//   - The header is added by the RoundTripper on every request it carries, on
//     a clone of the request (the caller's request is never modified).
//   - Service-account tokens are cached; a fresh login happens before expiry
//     (at RefreshAt of the returned token's life, read from its `exp` claim
//     without verifying the signature: the cluster verifies it, we only need
//     the time) and once after a 401: the request is then replayed once with
//     the new token (its body through Request.GetBody; a request whose body
//     cannot be replayed gets the 401 back). A second 401 is returned as is.
//     Concurrent requests share one login (singleflight).
//   - A static token read from File is read again after a 401 (rotation).
//   - Login errors: 400/401/403 from the login endpoint -> errs.Permanent
//     (*LoginError naming the uid and the likely cause: wrong uid or key);
//     5xx, timeouts and network errors -> errs.Transient. The class survives
//     *url.Error wrapping done by http.Client.
//   - Secrets (tokens, keys, passwords) are never logged or put in errors.
//   - Redirects: Go's http.Client drops the Authorization header that a
//     caller sets on a request when a redirect leaves the original host. Our
//     header is added below the client, per hop, so it is NOT dropped: a
//     redirect answered by a cluster member (a Marathon standby pointing at
//     its leader, a Mesos master pointing at the leading master) keeps working.
//     To keep that deliberate, CheckRedirect (used by NewClient) follows at
//     most 5 hops and refuses an https -> http downgrade, so the token never
//     travels in clear text. Clients that must follow redirects with stricter
//     rules (clients/marathon for /v2/events) do it themselves.
package dcosauth
