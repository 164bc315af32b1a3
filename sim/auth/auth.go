package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultTTL is how long a DC/OS authentication token stays valid (5 days).
const DefaultTTL = 5 * 24 * time.Hour

// LoginPath is where DC/OS serves the IAM login.
const LoginPath = "/acs/api/v1/auth/login"

// cookieName is the cookie Admin Router accepts when no Authorization header is sent.
const cookieName = "dcos-acs-auth-cookie"

// Options configures an Authority.
type Options struct {
	// Enabled switches the Admin Router check on from the start.
	Enabled bool
	// TTL is the lifetime of issued tokens (default DefaultTTL).
	TTL time.Duration
	// ServiceAccounts may log in with a service login token.
	ServiceAccounts []ServiceAccount
	// Users may log in with uid and password.
	Users []User
	// Basic, when set, is accepted as HTTP basic auth instead of a token
	// (Marathon outside DC/OS).
	Basic *BasicCredentials
	// SigningKey signs issued tokens; a fresh 2048-bit key when nil.
	SigningKey *rsa.PrivateKey
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// ServiceAccount is a DC/OS service account: a uid and its public key.
type ServiceAccount struct {
	UID       string
	PublicKey *rsa.PublicKey
}

// User is a local DC/OS user with a password.
type User struct {
	UID      string
	Password string
}

// BasicCredentials are HTTP basic auth credentials.
type BasicCredentials struct {
	Username string
	Password string
}

// Authority issues and checks DC/OS authentication tokens. It is safe for
// concurrent use.
type Authority struct {
	key *rsa.PrivateKey
	now func() time.Time

	mu       sync.Mutex
	enabled  bool
	ttl      time.Duration
	accounts map[string]*rsa.PublicKey
	users    map[string]string
	basic    *BasicCredentials
}

// New returns an Authority configured by opts.
func New(opts Options) *Authority {
	a := &Authority{
		key:      opts.SigningKey,
		now:      opts.Now,
		enabled:  opts.Enabled,
		ttl:      opts.TTL,
		accounts: map[string]*rsa.PublicKey{},
		users:    map[string]string{},
		basic:    opts.Basic,
	}
	if a.key == nil {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			// crypto/rand failing means the process cannot work at all.
			panic(fmt.Sprintf("auth: generating signing key: %v", err))
		}
		a.key = k
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.ttl <= 0 {
		a.ttl = DefaultTTL
	}
	for _, sa := range opts.ServiceAccounts {
		a.accounts[sa.UID] = sa.PublicKey
	}
	for _, u := range opts.Users {
		a.users[u.UID] = u.Password
	}
	return a
}

// ParsePublicKeyPEM parses an RSA public key in PEM form ("PUBLIC KEY" PKIX or
// "RSA PUBLIC KEY" PKCS#1), as DC/OS stores service account keys.
func ParsePublicKeyPEM(pemBytes []byte) (*rsa.PublicKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	switch block.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing public key: %w", err)
		}
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("public key is %T, want RSA", k)
		}
		return rk, nil
	case "RSA PUBLIC KEY":
		k, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing public key: %w", err)
		}
		return k, nil
	default:
		return nil, fmt.Errorf("PEM block is %q, want PUBLIC KEY", block.Type)
	}
}

// ServiceLoginToken builds a service login token: an RS256 JWT {"uid", "exp"}
// signed with the service account's private key.
func ServiceLoginToken(uid string, key *rsa.PrivateKey, exp time.Time) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"uid": uid, "exp": exp.Unix()})
	return t.SignedString(key)
}

// Enabled reports whether the Admin Router check is on.
func (a *Authority) Enabled() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.enabled
}

// SetEnabled switches the Admin Router check on or off.
func (a *Authority) SetEnabled(on bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.enabled = on
}

// SetTTL changes the lifetime of tokens issued from now on (<= 0 = default).
func (a *Authority) SetTTL(d time.Duration) {
	if d <= 0 {
		d = DefaultTTL
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ttl = d
}

// TTL returns the lifetime of issued tokens.
func (a *Authority) TTL() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ttl
}

// AddServiceAccount registers (or replaces) a service account.
func (a *Authority) AddServiceAccount(uid string, key *rsa.PublicKey) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.accounts[uid] = key
}

// RemoveServiceAccount removes a service account; false when unknown.
func (a *Authority) RemoveServiceAccount(uid string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.accounts[uid]
	delete(a.accounts, uid)
	return ok
}

// AddUser registers (or replaces) a local user.
func (a *Authority) AddUser(uid, password string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.users[uid] = password
}

// SetBasic sets the accepted HTTP basic credentials (nil = none).
func (a *Authority) SetBasic(c *BasicCredentials) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.basic = c
}

// PublicKey returns the key that verifies issued tokens.
func (a *Authority) PublicKey() *rsa.PublicKey { return &a.key.PublicKey }

// IssueToken returns a DC/OS authentication token for uid valid for the TTL.
func (a *Authority) IssueToken(uid string) (string, error) {
	return a.issue(uid, a.TTL())
}

// issue signs a token for uid expiring after ttl (may be negative).
func (a *Authority) issue(uid string, ttl time.Duration) (string, error) {
	exp := a.now().Add(ttl)
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"uid": uid, "exp": exp.Unix()})
	return t.SignedString(a.key)
}

// Verify checks a token issued by this authority and returns its uid.
func (a *Authority) Verify(token string) (string, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) {
		return &a.key.PublicKey, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(a.now))
	if err != nil {
		return "", fmt.Errorf("invalid token: %w", err)
	}
	uid, _ := claims["uid"].(string)
	if uid == "" {
		return "", errors.New("invalid token: missing uid claim")
	}
	return uid, nil
}

// loginRequest is the body of POST /acs/api/v1/auth/login.
type loginRequest struct {
	UID      string `json:"uid"`
	Password string `json:"password,omitempty"`
	Token    string `json:"token,omitempty"`
}

// iamError is the error shape of the DC/OS IAM API.
type iamError struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	Code        string `json:"code"`
}

// writeIAMError answers with the IAM error shape.
func writeIAMError(w http.ResponseWriter, status int, title, description, code string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", "acsjwt")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(iamError{Title: title, Description: description, Code: code})
}

// LoginHandler serves POST /acs/api/v1/auth/login.
func (a *Authority) LoginHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeIAMError(w, http.StatusMethodNotAllowed, "Method Not Allowed", "use POST", "ERR_METHOD_NOT_ALLOWED")
			return
		}
		var req loginRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
			writeIAMError(w, http.StatusBadRequest, "Bad Request", "Request data is not valid JSON: "+err.Error(), "ERR_INVALID_DATA")
			return
		}
		if req.UID == "" || (req.Token == "" && req.Password == "") {
			writeIAMError(w, http.StatusBadRequest, "Bad Request", "Request data must contain uid and either password or token", "ERR_INVALID_DATA")
			return
		}
		if msg := a.checkLogin(req); msg != "" {
			writeIAMError(w, http.StatusUnauthorized, "Unauthorized", msg, "ERR_INVALID_CREDENTIALS")
			return
		}
		token, err := a.IssueToken(req.UID)
		if err != nil {
			writeIAMError(w, http.StatusInternalServerError, "Internal Server Error", err.Error(), "ERR_INTERNAL")
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_ = json.NewEncoder(w).Encode(map[string]string{"token": token})
	})
}

// checkLogin validates a login request; "" = accepted, else the reason.
func (a *Authority) checkLogin(req loginRequest) string {
	a.mu.Lock()
	key, isAccount := a.accounts[req.UID]
	password, isUser := a.users[req.UID]
	a.mu.Unlock()
	if req.Token != "" {
		if !isAccount {
			return fmt.Sprintf("service account %q does not exist", req.UID)
		}
		claims := jwt.MapClaims{}
		_, err := jwt.ParseWithClaims(req.Token, claims, func(*jwt.Token) (any, error) { return key, nil },
			jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(a.now), jwt.WithExpirationRequired())
		if err != nil {
			return "Service login token invalid: " + err.Error()
		}
		if uid, _ := claims["uid"].(string); uid != req.UID {
			return "Service login token uid claim does not match uid"
		}
		return ""
	}
	if !isUser || subtle.ConstantTimeCompare([]byte(password), []byte(req.Password)) != 1 {
		return "The password provided for user " + req.UID + " is wrong, or the user does not exist"
	}
	return ""
}

// unauthorizedBody is the HTML page Admin Router answers 401 with.
const unauthorizedBody = `<html>
<head><title>401 Authorization Required</title></head>
<body>
<center><h1>401 Authorization Required</h1></center>
<hr><center>DC/OS Admin Router (simulated)</center>
</body>
</html>
`

// Middleware applies the Admin Router token check in front of next while the
// authority is enabled.
func (a *Authority) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		enabled, basic := a.enabled, a.basic
		a.mu.Unlock()
		if !enabled || a.authorized(r, basic) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		w.Header().Set("WWW-Authenticate", "acsjwt")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(unauthorizedBody))
	})
}

// authorized reports whether r carries a valid token or basic credentials.
func (a *Authority) authorized(r *http.Request, basic *BasicCredentials) bool {
	h := r.Header.Get("Authorization")
	if h == "" {
		if c, err := r.Cookie(cookieName); err == nil {
			_, err := a.Verify(c.Value)
			return err == nil
		}
		return false
	}
	if basic != nil {
		if u, p, ok := r.BasicAuth(); ok {
			return subtle.ConstantTimeCompare([]byte(u), []byte(basic.Username)) == 1 &&
				subtle.ConstantTimeCompare([]byte(p), []byte(basic.Password)) == 1
		}
	}
	// Admin Router extracts the token with the Lua pattern "token=(.+)".
	i := strings.Index(h, "token=")
	if i < 0 {
		return false
	}
	_, err := a.Verify(strings.TrimSpace(h[i+len("token="):]))
	return err == nil
}

// controlState is the body of GET/PATCH on the control root.
type controlState struct {
	Enabled         *bool    `json:"enabled,omitempty"`
	TTLSeconds      *int64   `json:"ttlSeconds,omitempty"`
	ServiceAccounts []string `json:"serviceAccounts,omitempty"`
	Users           []string `json:"users,omitempty"`
	Basic           *bool    `json:"basic,omitempty"`
}

// ControlHandler serves the authority's control API (see the package doc).
func (a *Authority) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		a.mu.Lock()
		enabled, ttl, basic := a.enabled, int64(a.ttl/time.Second), a.basic != nil
		accounts := sortedKeys(a.accounts)
		users := sortedKeys(a.users)
		a.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{
			"enabled": enabled, "ttlSeconds": ttl, "serviceAccounts": accounts, "users": users, "basic": basic,
		})
	})
	mux.HandleFunc("PATCH /{$}", func(w http.ResponseWriter, r *http.Request) {
		var req controlState
		if !readJSON(w, r, &req) {
			return
		}
		if req.Enabled != nil {
			a.SetEnabled(*req.Enabled)
		}
		if req.TTLSeconds != nil {
			a.SetTTL(time.Duration(*req.TTLSeconds) * time.Second)
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /service-accounts", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			UID       string `json:"uid"`
			PublicKey string `json:"public_key"`
		}
		if !readJSON(w, r, &req) {
			return
		}
		if req.UID == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": "uid is required"})
			return
		}
		key, err := ParsePublicKeyPEM([]byte(req.PublicKey))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": "public_key: " + err.Error()})
			return
		}
		a.AddServiceAccount(req.UID, key)
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("DELETE /service-accounts/{uid}", func(w http.ResponseWriter, r *http.Request) {
		if !a.RemoveServiceAccount(r.PathValue("uid")) {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "no such service account"})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /users", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			UID      string `json:"uid"`
			Password string `json:"password"`
		}
		if !readJSON(w, r, &req) {
			return
		}
		if req.UID == "" || req.Password == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": "uid and password are required"})
			return
		}
		a.AddUser(req.UID, req.Password)
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("POST /tokens", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			UID        string `json:"uid"`
			TTLSeconds *int64 `json:"ttlSeconds"`
		}
		if !readJSON(w, r, &req) {
			return
		}
		if req.UID == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": "uid is required"})
			return
		}
		ttl := a.TTL()
		if req.TTLSeconds != nil {
			ttl = time.Duration(*req.TTLSeconds) * time.Second
		}
		token, err := a.issue(req.UID, ttl)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"message": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"token": token})
	})
	return mux
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// readJSON decodes the request body into v, answering 400 on failure.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "invalid request body: " + err.Error()})
		return false
	}
	return true
}
