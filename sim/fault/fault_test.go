package fault

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestInjector(t *testing.T) {
	var inj Injector
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	srv := httptest.NewServer(inj.Middleware(ok))
	defer srv.Close()
	ctl := httptest.NewServer(inj.ControlHandler())
	defer ctl.Close()

	get := func(path string) (int, string, error) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}

	// Two 503s on /v2/apps only, then normal service.
	resp, err := http.Post(ctl.URL, "application/json",
		strings.NewReader(`{"rules":[{"path":"/v2/apps","count":2}]}`))
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("control post: %v %v", err, resp)
	}
	if code, _, _ := get("/v2/info"); code != 200 {
		t.Fatalf("unmatched path got %d", code)
	}
	for n := 0; n < 2; n++ {
		code, body, _ := get("/v2/apps")
		if code != 503 || !strings.Contains(body, "Service Unavailable") {
			t.Fatalf("call %d: %d %q", n, code, body)
		}
	}
	if code, body, _ := get("/v2/apps"); code != 200 || body != "ok" {
		t.Fatalf("after count: %d %q", code, body)
	}
	if inj.Hits() != 2 {
		t.Fatalf("hits = %d", inj.Hits())
	}

	// Dropped connection until cleared.
	inj.Add(Rule{Drop: true, Method: "GET"})
	if _, _, err := get("/x"); err == nil {
		t.Fatal("dropped connection returned no error")
	}
	req, _ := http.NewRequest(http.MethodDelete, ctl.URL, nil)
	if _, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	if code, _, err := get("/x"); err != nil || code != 200 {
		t.Fatalf("after clear: %d %v", code, err)
	}

	// Latency.
	inj.SetLatency(50 * time.Millisecond)
	start := time.Now()
	_, _, _ = get("/x")
	if time.Since(start) < 50*time.Millisecond {
		t.Fatal("latency not applied")
	}

	// Bad control body.
	resp, _ = http.Post(ctl.URL, "application/json", strings.NewReader("{"))
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad body: %d", resp.StatusCode)
	}
}
