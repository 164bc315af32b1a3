package marathon

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/universe-operator/universe-operator/clients/dcosauth"
	"github.com/universe-operator/universe-operator/errs"
)

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

func testKeyPEM(t *testing.T) ([]byte, *rsa.PrivateKey) {
	t.Helper()
	rsaOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		rsaKey = k
	})
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}), rsaKey
}

// authFake is a Marathon behind a login endpoint: logins hand out t1, t2,
// ...; Marathon accepts only the tokens in accept.
type authFake struct {
	*fake
	mu     sync.Mutex
	logins int
	accept map[string]bool
}

func newAuthFake(t *testing.T) *authFake {
	a := &authFake{accept: map[string]bool{}}
	a.fake = newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/acs/api/v1/auth/login" {
			a.mu.Lock()
			a.logins++
			tok := fmt.Sprintf("t%d", a.logins)
			a.mu.Unlock()
			json.NewEncoder(w).Encode(map[string]string{"token": tok})
			return
		}
		a.mu.Lock()
		ok := a.accept[strings.TrimPrefix(r.Header.Get("Authorization"), "token=")]
		a.mu.Unlock()
		if !ok {
			w.Header().Set("WWW-Authenticate", "acsjwt")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `<html><body><h1>401 Unauthorized</h1></body></html>`)
			return
		}
		jsonAnswer(200, `{"deploymentId":"d","version":"v"}`)(w, r)
	})
	return a
}

func (a *authFake) apiRequests() []recorded {
	var out []recorded
	for _, r := range a.requests() {
		if r.Path != "/acs/api/v1/auth/login" {
			out = append(out, r)
		}
	}
	return out
}

func authClient(t *testing.T, a *authFake) *Client {
	pemKey, _ := testKeyPEM(t)
	rt, err := dcosauth.NewTransport(dcosauth.Config{ServiceAccount: &dcosauth.ServiceAccount{
		UID: "uo", PrivateKeyPEM: pemKey, LoginURL: dcosauth.LoginURL(a.URL)}})
	if err != nil {
		t.Fatal(err)
	}
	return newClient(t, a.URL+"/service/marathon", func(o *Options) { o.Transport = rt })
}

func TestAuth401ThenReloginThenSuccess(t *testing.T) {
	a := newAuthFake(t)
	a.accept["t2"] = true // the first token is refused (revoked)
	c := authClient(t, a)
	res, err := c.UpdateApp(ctx, "/a", json.RawMessage(oddApp), false)
	if err != nil || res.DeploymentID != "d" {
		t.Fatalf("res %+v err %v", res, err)
	}
	api := a.apiRequests()
	if len(api) != 2 || a.logins != 2 {
		t.Fatalf("%d API requests, %d logins; want 2 and 2", len(api), a.logins)
	}
	if api[0].Header.Get("Authorization") != "token=t1" || api[1].Header.Get("Authorization") != "token=t2" {
		t.Fatalf("tokens %q, %q", api[0].Header.Get("Authorization"), api[1].Header.Get("Authorization"))
	}
	for _, r := range api {
		if !bytes.Equal(r.Body, []byte(oddApp)) || r.RawQuery != "partialUpdate=false" {
			t.Fatalf("replayed request differs: %q %s", r.RawQuery, r.Body)
		}
	}
}

func TestAuth401TwiceIsPermanent(t *testing.T) {
	a := newAuthFake(t) // accepts nothing
	c := authClient(t, a)
	_, err := c.CreateApp(ctx, json.RawMessage(`{"id":"/a"}`))
	if StatusOf(err) != 401 || !errs.IsPermanent(err) {
		t.Fatalf("err = %v", err)
	}
	if n := len(a.apiRequests()); n != 2 || a.logins != 2 {
		t.Fatalf("%d API requests and %d logins, want 2 and 2", n, a.logins)
	}
}

func TestAuthLoginRefusedIsPermanentAndNotFailedOver(t *testing.T) {
	refuser := newFake(t, jsonAnswer(401, `{"title":"Bad credentials","description":"Login token signature cannot be verified.","code":"ERR_INVALID_CREDENTIALS"}`))
	other := newFake(t, jsonAnswer(200, `{"apps":[]}`))
	pemKey, _ := testKeyPEM(t)
	rt, _ := dcosauth.NewTransport(dcosauth.Config{ServiceAccount: &dcosauth.ServiceAccount{
		UID: "uo", PrivateKeyPEM: pemKey, LoginURL: dcosauth.LoginURL(refuser.URL)}})
	c := newClient(t, refuser.URL+","+other.URL, func(o *Options) { o.Transport = rt })
	_, err := c.ListApps(ctx, "")
	if !errs.IsPermanent(err) || !strings.Contains(err.Error(), "wrong uid or private key") {
		t.Fatalf("err = %v", err)
	}
	if len(other.requests()) != 0 {
		t.Fatal("a refused login was failed over to another marathon")
	}
}
