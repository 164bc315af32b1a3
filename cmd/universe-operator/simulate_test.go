package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/sim/auth"
)

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls cond every 20 ms for up to 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSimulateServesEveryMount(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	keyFile := filepath.Join(t.TempDir(), "uo.pub.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}

	var stdout, stderr syncBuffer
	root := newRoot(&stdout, &stderr)
	root.SetArgs([]string{"simulate", "--listen", "127.0.0.1:0", "--deployment-duration", "50ms",
		"--task-stage-duration", "10ms", "--health-delay", "10ms", "--time-scale", "0.001",
		"--sdk-step-duration", "20ms", "--sdk-uninstall-step-duration", "20ms",
		"--auth", "--service-account", "uo=" + keyFile})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(context.Background()) }()

	urlRE := regexp.MustCompile(`url="?(http://127\.0\.0\.1:\d+)"? .*simulated DC/OS cluster serving|simulated DC/OS cluster serving.*url="?(http://127\.0\.0\.1:\d+)"?`)
	var base string
	waitFor(t, "the serving log line", func() bool {
		m := urlRE.FindStringSubmatch(stderr.String())
		if m == nil {
			return false
		}
		base = m[1] + m[2]
		return true
	})
	for _, want := range []string{"/service/marathon/", "/mesos/api/v1", "/acs/api/v1/auth/login", "/simulator/v1/"} {
		if !strings.Contains(stderr.String(), base+want) {
			t.Errorf("log does not mention %s: %s", want, stderr.String())
		}
	}

	do := func(method, path, token string, body any) (int, []byte) {
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "token="+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}

	// Auth is on: 401 without a token, then a service-account login.
	if code, _ := do("GET", "/service/marathon/v2/info", "", nil); code != 401 {
		t.Errorf("without token: %d", code)
	}
	lt, err := auth.ServiceLoginToken("uo", key, time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	code, body := do("POST", "/acs/api/v1/auth/login", "", map[string]string{"uid": "uo", "token": lt})
	var login map[string]string
	if err := json.Unmarshal(body, &login); err != nil || code != 200 || login["token"] == "" {
		t.Fatalf("login: %d %s", code, body)
	}
	tok := login["token"]

	for _, p := range []string{"/service/marathon/v2/info", "/marathon/v2/info", "/service/marathon/ping", "/mesos/master/state", "/mesos/master/frameworks"} {
		if code, body := do("GET", p, tok, nil); code != 200 {
			t.Errorf("%s: %d %s", p, code, body)
		}
	}
	if code, body := do("POST", "/mesos/api/v1", tok, map[string]string{"type": "GET_HEALTH"}); code != 200 || !strings.Contains(string(body), "healthy") {
		t.Errorf("operator API: %d %s", code, body)
	}
	// An SDK service deployed through Marathon answers at /service/<name>/.
	app := map[string]any{"id": "/hello", "cmd": "sleep 1000", "cpus": 0.1, "mem": 32, "instances": 1,
		"labels": map[string]string{"DCOS_SERVICE_NAME": "hello", "DCOS_PACKAGE_FRAMEWORK_NAME": "hello", "DCOS_COMMONS_UNINSTALL": "true"}}
	if code, body := do("POST", "/service/marathon/v2/apps", tok, app); code != 201 {
		t.Fatalf("create app: %d %s", code, body)
	}
	waitFor(t, "the SDK plan", func() bool {
		code, _ := do("GET", "/service/hello/v1/plans/deploy", tok, nil)
		return code == 200
	})
	if code, _ := do("GET", "/service/hello/", tok, nil); code != 200 {
		t.Errorf("service page: %d", code)
	}
	if code, body := do("GET", "/simulator/v1/state", "", nil); code != 200 || !strings.Contains(string(body), `"hello"`) {
		t.Errorf("state: %d %s", code, body)
	}

	// SIGTERM: graceful shutdown, the command returns nil.
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("simulate returned %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("simulate did not stop on SIGTERM")
	}
	if !strings.Contains(stderr.String(), "simulated cluster stopped") {
		t.Errorf("no shutdown log: %s", stderr.String())
	}
	if _, err := http.Get(base + "/simulator/v1/state"); err == nil {
		t.Errorf("still serving after shutdown")
	}
}

func TestSimulateFlagErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"simulate", "--agents", "0"}, exitUsage, "--agents must be at least 1"},
		{[]string{"simulate", "--service-account", "nouid"}, exitUsage, "want UID=PUBLIC_KEY_PEM_FILE"},
		{[]string{"simulate", "--service-account", "a=" + filepath.Join(dir, "missing.pem")}, exitProblem, "missing.pem"},
		{[]string{"simulate", "--service-account", "a=" + bad}, exitProblem, "no PEM block"},
		{[]string{"simulate", "--basic-auth-user", "u"}, exitUsage, "go together"},
		{[]string{"simulate", "extra"}, exitUsage, "unknown command"},
		{[]string{"simulate", "--listen", "256.0.0.1:99999"}, exitProblem, "listening on"},
	} {
		var out, errOut bytes.Buffer
		if got := run(c.args, &out, &errOut); got != c.code || !strings.Contains(errOut.String(), c.msg) {
			t.Errorf("%v: exit %d (want %d), stderr %q", c.args, got, c.code, errOut.String())
		}
	}
}
