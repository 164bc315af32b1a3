// Package fault injects failures into a simulated HTTP API: error status codes
// for the next N matching calls, added latency, and dropped connections. The
// simulator mounts one Injector in front of each component (Marathon, Mesos
// master, SDK schedulers) and exposes it through its control API, so tests and
// demos can break the cluster on purpose and watch the controller cope.
package fault

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Rule describes one injected failure. A rule matches a request when Method
// (if set) equals the request method and the request path starts with Path
// (if set). A matching rule answers instead of the real handler.
type Rule struct {
	// Method limits the rule to one HTTP method ("" = any).
	Method string `json:"method,omitempty"`
	// Path limits the rule to paths with this prefix ("" = any).
	Path string `json:"path,omitempty"`
	// Status is the status code to answer with (default 503). Ignored when Drop.
	Status int `json:"status,omitempty"`
	// Body is the response body; default {"message":"<status text>"}.
	Body string `json:"body,omitempty"`
	// Drop closes the connection without an answer.
	Drop bool `json:"drop,omitempty"`
	// Count is how many matching calls the rule applies to; 0 = until cleared.
	Count int `json:"count,omitempty"`
}

// Injector holds the active rules and latency. The zero value is ready to use.
type Injector struct {
	mu      sync.Mutex
	rules   []*Rule
	latency time.Duration
	hits    int
}

// Add activates a rule.
func (i *Injector) Add(r Rule) {
	if r.Status == 0 && !r.Drop {
		r.Status = http.StatusServiceUnavailable
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.rules = append(i.rules, &r)
}

// SetLatency delays every request by d before it is handled (0 = none).
func (i *Injector) SetLatency(d time.Duration) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.latency = d
}

// Clear removes every rule and the latency.
func (i *Injector) Clear() {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.rules, i.latency = nil, 0
}

// Hits returns how many requests a rule has answered since the start.
func (i *Injector) Hits() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.hits
}

// match finds and consumes the first rule matching r.
func (i *Injector) match(r *http.Request) (*Rule, time.Duration) {
	i.mu.Lock()
	defer i.mu.Unlock()
	for k, rule := range i.rules {
		if rule.Method != "" && !strings.EqualFold(rule.Method, r.Method) {
			continue
		}
		if rule.Path != "" && !strings.HasPrefix(r.URL.Path, rule.Path) {
			continue
		}
		i.hits++
		hit := *rule
		if rule.Count > 0 {
			rule.Count--
			if rule.Count == 0 {
				i.rules = append(i.rules[:k:k], i.rules[k+1:]...)
			}
		}
		return &hit, i.latency
	}
	return nil, i.latency
}

// Middleware applies the active latency and rules in front of next.
func (i *Injector) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rule, delay := i.match(r)
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		if rule == nil {
			next.ServeHTTP(w, r)
			return
		}
		if rule.Drop {
			drop(w)
			return
		}
		body := rule.Body
		if body == "" {
			b, _ := json.Marshal(map[string]string{"message": http.StatusText(rule.Status)})
			body = string(b)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rule.Status)
		_, _ = w.Write([]byte(body))
	})
}

// drop closes the underlying connection without writing a response.
func drop(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	// Not hijackable (HTTP/2): abort the handler, which resets the stream.
	panic(http.ErrAbortHandler)
}

// controlRequest is the body accepted by the control handler.
type controlRequest struct {
	Rules     []Rule `json:"rules"`
	LatencyMS int    `json:"latencyMs"`
}

// ControlHandler serves the injector's control API:
//
//	GET    -> {"rules":[...],"latencyMs":N,"hits":N}
//	POST   {"rules":[...],"latencyMs":N} adds rules and sets latency
//	DELETE clears everything
func (i *Injector) ControlHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			i.mu.Lock()
			rules := make([]Rule, 0, len(i.rules))
			for _, rule := range i.rules {
				rules = append(rules, *rule)
			}
			out := map[string]any{"rules": rules, "latencyMs": i.latency.Milliseconds(), "hits": i.hits}
			i.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(out)
		case http.MethodPost:
			var req controlRequest
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
				http.Error(w, fmt.Sprintf(`{"message":"invalid fault request: %s"}`, jsonEscape(err.Error())), http.StatusBadRequest)
				return
			}
			for _, rule := range req.Rules {
				i.Add(rule)
			}
			if req.LatencyMS > 0 {
				i.SetLatency(time.Duration(req.LatencyMS) * time.Millisecond)
			}
			w.WriteHeader(http.StatusNoContent)
		case http.MethodDelete:
			i.Clear()
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("Allow", "GET, POST, DELETE")
			http.Error(w, `{"message":"method not allowed"}`, http.StatusMethodNotAllowed)
		}
	})
}

// jsonEscape escapes s for embedding inside a JSON string literal.
func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}
