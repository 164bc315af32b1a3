package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/universe-operator/universe-operator/api"
)

// Defaults of a Stream.
const (
	// DefaultPingInterval is how often an idle stream sends a `: ping` comment,
	// so proxies (Admin Router's nginx) keep the connection open.
	DefaultPingInterval = 15 * time.Second
	// DefaultMaxPending is how many distinct events (releases plus the
	// controller) may wait for one subscriber before it is dropped.
	DefaultMaxPending = 4096
	// DefaultWriteTimeout bounds one write to a subscriber; a subscriber that
	// does not read for this long is dropped.
	DefaultWriteTimeout = 15 * time.Second
	// retryMillis is the reconnection delay suggested to EventSource.
	retryMillis = 2000
)

// StreamOption configures a Stream.
type StreamOption func(*Stream)

// WithPingInterval sets the interval of `: ping` comments (default 15 s).
// Non-positive values keep the default.
func WithPingInterval(d time.Duration) StreamOption {
	return func(s *Stream) {
		if d > 0 {
			s.ping = d
		}
	}
}

// WithMaxPending sets how many distinct events may wait for one subscriber
// before it is dropped (default DefaultMaxPending). Events for the same
// release are coalesced, so this bounds memory per subscriber to about
// n release documents. Values below 1 keep the default.
func WithMaxPending(n int) StreamOption {
	return func(s *Stream) {
		if n >= 1 {
			s.maxPending = n
		}
	}
}

// WithWriteTimeout bounds each write to a subscriber (default 15 s); when it
// expires the subscription ends. Non-positive values keep the default.
func WithWriteTimeout(d time.Duration) StreamOption {
	return func(s *Stream) {
		if d > 0 {
			s.writeTimeout = d
		}
	}
}

// Stream broadcasts release and controller status to browsers as server-sent
// events. It is the handler of GET api/v1/stream. The zero value is not
// usable: create one with NewStream. All methods are safe for concurrent use.
type Stream struct {
	snapshot     func() api.ReleaseList
	ping         time.Duration
	maxPending   int
	writeTimeout time.Duration

	mu     sync.Mutex
	subs   map[*subscriber]struct{}
	closed bool
	done   chan struct{}
}

// NewStream returns a Stream. snapshot returns the full current state; it is
// called once for every new subscriber, after the subscriber is registered,
// so an update published while the snapshot is taken is delivered after it
// (never lost). Publish after the state snapshot reads has changed. snapshot
// may be nil (new subscribers then start with an empty state).
func NewStream(snapshot func() api.ReleaseList, opts ...StreamOption) *Stream {
	s := &Stream{
		snapshot:     snapshot,
		ping:         DefaultPingInterval,
		maxPending:   DefaultMaxPending,
		writeTimeout: DefaultWriteTimeout,
		subs:         make(map[*subscriber]struct{}),
		done:         make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Publish sends the current status of one release to every subscriber. A
// subscriber that has not yet received an earlier update of the same release
// gets only this one. Publish never blocks on subscribers.
func (s *Stream) Publish(r api.Release) {
	if s.Subscribers() == 0 {
		// Nobody to tell, so skip the encoding. A subscriber that connects
		// right now takes its snapshot after registering, so after the state
		// change that preceded this call: nothing is lost.
		return
	}
	s.broadcast(releaseKey(r.Name), r.Name, releaseFrame(r))
}

// Remove tells subscribers that a release no longer exists (`event: removed`,
// data {"name": name}). It replaces a pending update of the same release.
func (s *Stream) Remove(name string) {
	data, _ := json.Marshal(struct {
		Name string `json:"name"`
	}{name})
	s.broadcast(releaseKey(name), name, frame("removed", data))
}

// PublishController sends the controller's status (leader, sources, event
// stream, prune refusals) to every subscriber; the latest wins.
func (s *Stream) PublishController(c api.ControllerInfo) {
	data, err := json.Marshal(c)
	if err != nil {
		// Cannot happen with the types of package api; keep the stream well formed.
		data, _ = json.Marshal(api.ControllerInfo{Version: c.Version, Leader: c.Leader})
	}
	s.broadcast(controllerKey, "", frame("controller", data))
}

// Subscribers returns the number of connected subscribers.
func (s *Stream) Subscribers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subs)
}

// Close ends every subscription and refuses new ones (503). Call it before
// http.Server.Shutdown, which otherwise waits for event streams to end.
func (s *Stream) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	close(s.done)
	for sub := range s.subs {
		delete(s.subs, sub)
		sub.drop()
	}
}

// ServeHTTP streams events until the request's context ends, the subscriber
// falls too far behind, or the Stream is closed.
func (s *Stream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, "method not allowed: use GET")
		return
	}
	rc := http.NewResponseController(w)
	sub := newSubscriber(r.URL.Query().Get("release"))
	if ok, why := s.add(sub); !ok {
		w.Header().Set("Retry-After", "10")
		writeError(w, http.StatusServiceUnavailable, why)
		return
	}
	defer s.remove(sub)

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)

	// The snapshot is taken after the subscriber is registered: anything
	// published from now on is also pending and follows the snapshot.
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "retry: %d\n\n", retryMillis)
	var list api.ReleaseList
	if s.snapshot != nil {
		list = s.snapshot()
	}
	if list.Controller != nil {
		data, err := json.Marshal(list.Controller)
		if err == nil {
			buf.Write(frame("controller", data))
		}
	}
	n := 0
	for _, rel := range list.Releases {
		if sub.filter != "" && rel.Name != sub.filter {
			continue
		}
		buf.Write(releaseFrame(rel))
		n++
	}
	ready, _ := json.Marshal(map[string]int{"releases": n})
	buf.Write(frame("ready", ready))
	if !s.write(w, rc, buf.Bytes()) {
		return
	}

	ticker := time.NewTicker(s.ping)
	defer ticker.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-sub.dropped:
			return
		case <-ticker.C:
			if !s.write(w, rc, []byte(": ping\n\n")) {
				return
			}
		case <-sub.wake:
			frames := sub.take()
			if len(frames) == 0 {
				continue
			}
			if !s.write(w, rc, bytes.Join(frames, nil)) {
				return
			}
		}
	}
}

// write sends b and flushes it within the write timeout; false ends the
// subscription.
func (s *Stream) write(w http.ResponseWriter, rc *http.ResponseController, b []byte) bool {
	// Not every ResponseWriter supports deadlines (httptest.ResponseRecorder
	// does not); without one the write is unbounded, as net/http's would be.
	_ = rc.SetWriteDeadline(time.Now().Add(s.writeTimeout))
	if _, err := w.Write(b); err != nil {
		return false
	}
	return rc.Flush() == nil
}

// MaxSubscribers bounds the event-stream clients served at once: each holds
// a connection, a goroutine and a queue of pending frames.
const MaxSubscribers = 512

func (s *Stream) add(sub *subscriber) (bool, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, "event stream is shutting down"
	}
	if len(s.subs) >= MaxSubscribers {
		return false, fmt.Sprintf("too many event-stream clients (%d): retry later", MaxSubscribers)
	}
	s.subs[sub] = struct{}{}
	return true, ""
}

func (s *Stream) remove(sub *subscriber) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.subs, sub)
}

func (s *Stream) broadcast(key, release string, f []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sub := range s.subs {
		if release != "" && sub.filter != "" && sub.filter != release {
			continue
		}
		if !sub.offer(key, f, s.maxPending) {
			delete(s.subs, sub)
			sub.drop()
		}
	}
}

// subscriber is one connected client: an ordered set of pending frames keyed
// by release (or the controller), so a burst for one release coalesces.
type subscriber struct {
	filter string

	mu      sync.Mutex
	order   []string
	pending map[string][]byte

	wake     chan struct{} // capacity 1: "there is something to take"
	dropped  chan struct{} // closed when the subscriber is dropped
	dropOnce sync.Once
}

func newSubscriber(filter string) *subscriber {
	return &subscriber{
		filter:  filter,
		pending: make(map[string][]byte),
		wake:    make(chan struct{}, 1),
		dropped: make(chan struct{}),
	}
}

// offer queues frame f under key, replacing an older pending frame of the same
// key in place. It reports false when the subscriber is too far behind.
func (sub *subscriber) offer(key string, f []byte, maxPending int) bool {
	sub.mu.Lock()
	if _, ok := sub.pending[key]; !ok {
		if len(sub.order) >= maxPending {
			sub.mu.Unlock()
			return false
		}
		sub.order = append(sub.order, key)
	}
	sub.pending[key] = f
	sub.mu.Unlock()
	select {
	case sub.wake <- struct{}{}:
	default:
	}
	return true
}

// take returns the pending frames in first-queued order and empties the queue.
func (sub *subscriber) take() [][]byte {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	frames := make([][]byte, 0, len(sub.order))
	for _, k := range sub.order {
		frames = append(frames, sub.pending[k])
	}
	sub.order = sub.order[:0]
	clear(sub.pending)
	return frames
}

func (sub *subscriber) drop() {
	sub.dropOnce.Do(func() { close(sub.dropped) })
}

const controllerKey = "c"

func releaseKey(name string) string { return "r/" + name }

// frame formats one server-sent event. data must not contain newlines;
// encoding/json output never does (it escapes them inside strings).
func frame(event string, data []byte) []byte {
	b := make([]byte, 0, len(event)+len(data)+16)
	b = append(b, "event: "...)
	b = append(b, event...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	return append(b, "\n\n"...)
}

// releaseFrame encodes a release event. Raw JSON fields that are not valid
// JSON (error details, drift values taken from a broken app) would make
// encoding fail; they are sent as JSON strings instead, so one malformed
// detail never hides a release's status.
func releaseFrame(r api.Release) []byte {
	data, err := json.Marshal(r)
	if err != nil {
		data, err = json.Marshal(sanitizeRelease(r))
	}
	if err != nil {
		data, _ = json.Marshal(api.Release{
			Name: r.Name, Package: r.Package, DesiredVersion: r.DesiredVersion,
			Sync: api.SyncUnknown, Health: api.HealthNA,
			SyncReason: "status could not be encoded: " + err.Error(),
		})
	}
	return frame("release", data)
}

func sanitizeRelease(r api.Release) api.Release {
	if r.LastError != nil {
		e := *r.LastError
		e.Details = validRaw(e.Details)
		r.LastError = &e
	}
	if len(r.Drift) > 0 {
		drift := make([]api.FieldDiff, len(r.Drift))
		for i, d := range r.Drift {
			d.Desired = validRaw(d.Desired)
			d.Actual = validRaw(d.Actual)
			drift[i] = d
		}
		r.Drift = drift
	}
	return r
}

func validRaw(m json.RawMessage) json.RawMessage {
	if len(m) == 0 || json.Valid(m) {
		return m
	}
	q, _ := json.Marshal(string(m))
	return q
}

// writeError answers with an api.ErrorResponse.
func writeError(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(api.ErrorResponse{Message: msg})
}
