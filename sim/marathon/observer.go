package marathon

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"time"
)

// AppView is what an Observer learns about an app.
type AppView struct {
	// ID is the absolute app id, e.g. "/prod/kafka".
	ID string
	// Labels are the app's labels.
	Labels map[string]string
	// Env holds the app's environment variables with string values; secret
	// references are left out.
	Env map[string]string
	// Raw is the definition as GET /v2/apps/{id} shows it (defaults filled
	// in), without the status fields.
	Raw json.RawMessage
	// Instances is the app's instance count.
	Instances int
	// TasksRunning is how many of its tasks run.
	TasksRunning int
	// Version is the definition's version timestamp.
	Version string
}

// Observer lets other simulated components (the Mesos master, SDK schedulers)
// follow what Marathon runs.
type Observer interface {
	// AppRunning is called when a deployment finished and the app runs at
	// this definition.
	AppRunning(AppView)
	// AppRemoved is called when the app was deleted and its tasks killed.
	AppRemoved(id string)
}

// AddObserver registers o. Calls are made from one goroutine per observer,
// without Server locks held, in the order the events happened.
func (s *Server) AddObserver(o Observer) {
	q := newObserverQueue(o)
	s.mu.Lock()
	closed := s.closed
	if !closed {
		s.observers = append(s.observers, q)
	}
	s.mu.Unlock()
	if closed {
		q.close()
	}
}

// notify queues a call for every observer; build returns the call for one
// observer. Callers hold s.mu.
func (s *Server) notify(build func(Observer) func()) {
	for _, q := range s.observers {
		q.push(build(q.o))
	}
}

func appView(a *app) AppView {
	_, running, _, _ := counts(a)
	labels := make(map[string]string, len(a.def.labels))
	for k, v := range a.def.labels {
		labels[k] = v
	}
	env := make(map[string]string, len(a.def.env))
	for k, v := range a.def.env {
		env[k] = v
	}
	return AppView{
		ID:           a.id,
		Labels:       labels,
		Env:          env,
		Raw:          append(json.RawMessage(nil), a.def.rendered...),
		Instances:    a.def.instances,
		TasksRunning: running,
		Version:      ts(a.def.version),
	}
}

// observerQueue is an unbounded FIFO of calls run by one goroutine.
type observerQueue struct {
	o      Observer
	mu     sync.Mutex
	cond   *sync.Cond
	items  []func()
	closed bool
	done   chan struct{}
}

func newObserverQueue(o Observer) *observerQueue {
	q := &observerQueue{o: o, done: make(chan struct{})}
	q.cond = sync.NewCond(&q.mu)
	go q.run()
	return q
}

func (q *observerQueue) push(f func()) {
	q.mu.Lock()
	if !q.closed {
		q.items = append(q.items, f)
		q.cond.Signal()
	}
	q.mu.Unlock()
}

func (q *observerQueue) run() {
	defer close(q.done)
	for {
		q.mu.Lock()
		for len(q.items) == 0 && !q.closed {
			q.cond.Wait()
		}
		if len(q.items) == 0 && q.closed {
			q.mu.Unlock()
			return
		}
		f := q.items[0]
		q.items[0] = nil
		q.items = q.items[1:]
		q.mu.Unlock()
		f()
	}
}

// close lets the queue drain what it holds, then stops it.
func (q *observerQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Signal()
	q.mu.Unlock()
	<-q.done
}

// ---- request log -----------------------------------------------------------

// RequestRecord is one API request served by Handler.
type RequestRecord struct {
	Method string
	// Path is the request path (without the query).
	Path string
	// Query is the raw query string.
	Query string
	Time  time.Time
	// Duration is how long the answer took (for streams, until they closed).
	Duration time.Duration
	// Status is the response status; 0 when the connection was dropped.
	Status int
	// Remote is the client's address (host:port).
	Remote string
	// ClientID is the X-Client-Id request header, if any.
	ClientID string
}

// RequestLog returns the requests Handler served, oldest first (at most
// Options.RequestLogLimit, the most recent).
func (s *Server) RequestLog() []RequestRecord {
	s.reqMu.Lock()
	defer s.reqMu.Unlock()
	log := s.reqLog
	if over := len(log) - s.opts.RequestLogLimit; over > 0 {
		log = log[over:]
	}
	return append([]RequestRecord(nil), log...)
}

func (s *Server) record(r RequestRecord) {
	s.reqMu.Lock()
	defer s.reqMu.Unlock()
	s.reqLog = append(s.reqLog, r)
	// Trim in batches so recording stays O(1) amortized.
	if limit := s.opts.RequestLogLimit; len(s.reqLog) >= 2*limit {
		s.reqLog = append(s.reqLog[:0:0], s.reqLog[len(s.reqLog)-limit:]...)
	}
}

// statusRecorder captures the status code while passing Flush and Hijack on.
type statusRecorder struct {
	http.ResponseWriter
	status   int
	hijacked bool
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusRecorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		if w.status == 0 {
			w.status = http.StatusOK
		}
		f.Flush()
	}
}

func (w *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, http.ErrNotSupported
	}
	w.hijacked = true
	return h.Hijack()
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) recordRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			status := rec.status
			if rec.hijacked {
				status = 0
			}
			s.record(RequestRecord{
				Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Time: start,
				Duration: time.Since(start), Status: status, Remote: r.RemoteAddr,
				ClientID: r.Header.Get("X-Client-Id"),
			})
		}()
		next.ServeHTTP(rec, r)
	})
}
