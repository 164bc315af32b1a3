// Package auth simulates DC/OS authentication: the IAM login endpoint and the
// token check Admin Router applies in front of every component.
//
// # Login
//
// POST /acs/api/v1/auth/login (served by (*Authority).LoginHandler) accepts
//
//	{"uid": "<service account>", "token": "<service login token>"}
//
// where the service login token is an RS256 JWT with the claims {"uid", "exp"}
// signed with the account's private key (see ServiceLoginToken), or
//
//	{"uid": "<user>", "password": "<password>"}
//
// for local users. The service login token must carry exp (DC/OS requires
// one). It answers 200 {"token": "<DC/OS authentication token>"}: an
// RS256 JWT {"uid", "exp"} signed by the simulator's own key, valid for the
// configured TTL (default 5 days, as DC/OS). Failures answer 401 (400 for a
// body that is not JSON) with the IAM error shape
// {"title": ..., "description": ..., "code": "ERR_INVALID_CREDENTIALS"} and the
// header WWW-Authenticate: acsjwt.
//
// # Admin Router check
//
// (*Authority).Middleware wraps a component handler. While the authority is
// enabled, a request passes only with `Authorization: token=<jwt>` (or the
// cookie dcos-acs-auth-cookie, as Admin Router accepts) carrying a token the
// simulator issued, signature valid, not expired, with a uid claim; or, when
// basic credentials are configured, with matching HTTP basic auth (for
// non-DC/OS Marathon setups). Otherwise it answers 401 exactly as Admin
// Router's auth.lua does: Content-Type text/html, header WWW-Authenticate:
// acsjwt, and an HTML body. While disabled every request passes.
//
// # API
//
//	func New(opts Options) *Authority
//	type Options struct { Enabled bool; TTL time.Duration; ServiceAccounts []ServiceAccount;
//	                      Users []User; Basic *BasicCredentials; SigningKey *rsa.PrivateKey; Now func() time.Time }
//	type ServiceAccount struct { UID string; PublicKey *rsa.PublicKey }
//	type User struct { UID, Password string }
//	type BasicCredentials struct { Username, Password string }
//	func ParsePublicKeyPEM(pemBytes []byte) (*rsa.PublicKey, error)
//	func ServiceLoginToken(uid string, key *rsa.PrivateKey, exp time.Time) (string, error)
//	func (a *Authority) Enabled() bool
//	func (a *Authority) SetEnabled(on bool)
//	func (a *Authority) SetTTL(d time.Duration)
//	func (a *Authority) TTL() time.Duration
//	func (a *Authority) PublicKey() *rsa.PublicKey          // verifies issued tokens
//	func (a *Authority) AddServiceAccount(uid string, key *rsa.PublicKey)
//	func (a *Authority) RemoveServiceAccount(uid string) bool
//	func (a *Authority) AddUser(uid, password string)
//	func (a *Authority) SetBasic(c *BasicCredentials)
//	func (a *Authority) IssueToken(uid string) (string, error)
//	func (a *Authority) Verify(token string) (uid string, err error)
//	func (a *Authority) LoginHandler() http.Handler
//	func (a *Authority) Middleware(next http.Handler) http.Handler
//	func (a *Authority) ControlHandler() http.Handler
//
// # Control API (relative to its mount point, /simulator/v1/auth in package sim)
//
//	GET    /                       {"enabled", "ttlSeconds", "serviceAccounts": [uid], "users": [uid], "basic": bool}
//	PATCH  /                       {"enabled": bool, "ttlSeconds": n} (either field optional)
//	POST   /service-accounts       {"uid": ..., "public_key": "<PEM>"} -> 201
//	DELETE /service-accounts/{uid} -> 204 (404 when unknown)
//	POST   /users                  {"uid": ..., "password": ...} -> 201
//	POST   /tokens                 {"uid": ..., "ttlSeconds": n} -> {"token": ...} (a token issued
//	                               directly, for tests; ttlSeconds may be negative to get an
//	                               expired one)
package auth
