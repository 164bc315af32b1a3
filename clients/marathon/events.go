package marathon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/universe-operator/universe-operator/errs"
)

// EventResync is the type of the synthetic event the stream delivers after
// every (re)connection and after it had to drop events for a slow consumer:
// events may have been missed, re-read the state you care about.
const EventResync = "universe_operator_resync"

// Event is one event from Marathon's stream: its type ("deployment_success",
// "status_update_event", ...) and its JSON data, verbatim.
type Event struct {
	Type string
	Data json.RawMessage
}

// StreamState describes the event stream's connection, for status pages.
type StreamState struct {
	// Connected is true while an event stream is open.
	Connected bool
	// URL is the endpoint of the current (or last) connection, after
	// redirects, without credentials.
	URL string
	// Since is when Connected last changed.
	Since time.Time
	// LastError is the error that ended the last connection or attempt
	// (nil before the first one). It is classified with package errs.
	LastError error
	// Connects counts successful connections.
	Connects int
	// Received counts events delivered to the channel (EventResync included).
	Received uint64
	// Dropped counts events dropped because the channel was full.
	Dropped uint64
}

// Stream is a live, self-reconnecting subscription to Marathon's events.
type Stream struct {
	c       *Client
	types   []string
	typeSet map[string]bool
	ch      chan Event
	notify  chan struct{} // 1-slot signal to the pump: the queue is not empty

	mu    sync.Mutex
	state StreamState
	queue []Event // events waiting for the consumer, oldest first
	buf   []Event // the queue's backing array
}

// Events subscribes to Marathon's event stream (GET /v2/events, one
// event_type= per type; no types = all events). The subscription runs until
// ctx is done, then the channel is closed. See the package documentation
// for reconnects, redirects and slow consumers.
func (c *Client) Events(ctx context.Context, types ...string) *Stream {
	s := &Stream{
		c:      c,
		types:  append([]string(nil), types...),
		ch:     make(chan Event),
		notify: make(chan struct{}, 1),
		buf:    make([]Event, 0, c.opts.EventBuffer),
	}
	s.queue = s.buf
	if len(types) > 0 {
		s.typeSet = make(map[string]bool, len(types))
		for _, t := range types {
			s.typeSet[t] = true
		}
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.run(ctx) }()
	go func() { defer wg.Done(); s.pump(ctx) }()
	go func() { wg.Wait(); close(s.ch) }()
	return s
}

// C returns the channel of events. It is closed after the context passed to
// Events is done.
func (s *Stream) C() <-chan Event { return s.ch }

// State returns a snapshot of the connection state.
func (s *Stream) State() StreamState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

func (s *Stream) run(ctx context.Context) {
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(s.c.opts.EventBackoffInitial),
		backoff.WithMaxInterval(s.c.opts.EventBackoffMax),
		backoff.WithMultiplier(2),
		backoff.WithRandomizationFactor(0.5),
		backoff.WithMaxElapsedTime(0),
	)
	idx := int(s.c.current.Load()) % len(s.c.endpoints)
	for ctx.Err() == nil {
		connectedFor, err := s.connect(ctx, s.c.endpoints[idx])
		if ctx.Err() != nil {
			break
		}
		s.setDisconnected(err)
		if connectedFor > 0 {
			// A stream that stayed up for a while starts backing off anew;
			// one that drops right after connecting keeps growing the delay.
			if connectedFor >= 2*s.c.opts.EventBackoffMax || connectedFor >= time.Minute {
				b.Reset()
			}
		} else {
			// No stream at all: try the next endpoint.
			idx = (idx + 1) % len(s.c.endpoints)
		}
		wait := b.NextBackOff()
		s.c.log.WithError(err).WithField("retry_in", wait.Round(time.Millisecond).String()).Warn("marathon: event stream disconnected")
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
	s.mu.Lock()
	if s.state.Connected {
		s.state.Connected, s.state.Since = false, time.Now()
	}
	s.mu.Unlock()
}

func (s *Stream) setDisconnected(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state.Connected {
		s.state.Since = time.Now()
	}
	s.state.Connected = false
	s.state.LastError = err
}

// connect opens the stream on one endpoint (following redirects), reads it
// until it ends, and returns how long it was connected (0 = never) and why
// it ended.
func (s *Stream) connect(ctx context.Context, base *url.URL) (time.Duration, error) {
	q := url.Values{}
	if len(s.types) > 0 {
		q["event_type"] = s.types
	}
	target := endpointURL(base, "/v2/events", q.Encode())
	resp, err := s.open(ctx, target)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()

	connectedAt := time.Now()
	s.mu.Lock()
	s.state.Connected, s.state.Since, s.state.URL = true, connectedAt, resp.Request.URL.Redacted()
	s.state.Connects++
	s.mu.Unlock()
	s.c.log.WithField("endpoint", resp.Request.URL.Redacted()).Info("marathon: event stream connected")
	s.deliver(Event{Type: EventResync, Data: json.RawMessage(`{}`)})

	// Reading stops when the server closes the stream, the connection
	// breaks, nothing arrives for EventIdleTimeout, or ctx is done (the
	// request context closes the body).
	idle := &idleReader{r: resp.Body, idle: s.c.opts.EventIdleTimeout}
	if cb, ok := resp.Body.(*cancelBody); ok {
		idle.timer = time.AfterFunc(s.c.opts.EventIdleTimeout, func() { idle.fired.Store(true); cb.cancel() })
		defer idle.timer.Stop()
	}
	p := newSSEParser(idle)
	for {
		f, err := p.next()
		if err != nil {
			switch {
			case idle.fired.Load():
				err = fmt.Errorf("nothing received for %s, not even a heartbeat", s.c.opts.EventIdleTimeout)
			case err == io.EOF:
				err = errors.New("event stream closed by the server")
			}
			return time.Since(connectedAt), errs.Transient(fmt.Errorf("marathon GET /v2/events at %s: %w", resp.Request.URL.Host, err))
		}
		s.handle(f)
	}
}

// open sends GET /v2/events and follows redirects from standbys by hand:
// at most 5 hops, never from https to http. The Authorization header is
// added per request by the auth transport, so it reaches the leader.
func (s *Stream) open(ctx context.Context, target *url.URL) (*http.Response, error) {
	for hop := 0; ; hop++ {
		// Only the wait for the response headers is bounded; the body is a
		// stream that lives as long as ctx.
		hctx, cancel := context.WithCancel(ctx)
		timer := time.AfterFunc(s.c.opts.Timeout, cancel)
		req, err := http.NewRequestWithContext(hctx, http.MethodGet, target.String(), nil)
		if err != nil {
			timer.Stop()
			cancel()
			return nil, errs.Permanent(fmt.Errorf("marathon GET /v2/events: %w", err))
		}
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Cache-Control", "no-cache")
		s.c.setCommonHeaders(req)
		t0 := time.Now()
		resp, err := s.c.stream.Do(req)
		headersOnTime := timer.Stop()
		if err != nil {
			cancel()
			if !headersOnTime && ctx.Err() == nil {
				err = fmt.Errorf("no answer within %s: %w", s.c.opts.Timeout, unwrapURLError(err))
			} else {
				err = unwrapURLError(err)
			}
			s.c.observe(http.MethodGet, "/v2/events", 0, time.Since(t0), err)
			var cls error = errs.Transient(fmt.Errorf("marathon GET /v2/events at %s: %w", target.Host, err))
			if errs.IsPermanent(err) {
				cls = fmt.Errorf("marathon GET /v2/events: %w", err)
			}
			return nil, cls
		}
		s.c.observe(http.MethodGet, "/v2/events", resp.StatusCode, time.Since(t0), nil)
		resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}

		switch resp.StatusCode {
		case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
			loc := resp.Header.Get("Location")
			drainClose(resp)
			if loc == "" {
				return nil, errs.Transient(fmt.Errorf("marathon GET /v2/events at %s: redirect %d without Location", target.Host, resp.StatusCode))
			}
			next, err := target.Parse(loc)
			if err != nil {
				return nil, errs.Transient(fmt.Errorf("marathon GET /v2/events at %s: bad redirect location %q: %w", target.Host, loc, err))
			}
			if hop >= 4 {
				return nil, errs.Transient(fmt.Errorf("marathon GET /v2/events: more than 5 redirects (last to %s)", next.Redacted()))
			}
			if target.Scheme == "https" && next.Scheme != "https" {
				return nil, errs.Permanent(fmt.Errorf("marathon GET /v2/events at %s: refusing redirect from https to %s (the token would travel in clear text)", target.Host, next.Redacted()))
			}
			if next.Scheme != "http" && next.Scheme != "https" {
				return nil, errs.Permanent(fmt.Errorf("marathon GET /v2/events at %s: refusing redirect to %s", target.Host, next.Redacted()))
			}
			s.c.log.WithField("from", target.Redacted()).WithField("to", next.Redacted()).Info("marathon: event stream redirected (standby -> leader)")
			target = next
			continue
		case http.StatusOK:
			mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
			if mt != "text/event-stream" {
				drainClose(resp)
				return nil, errs.Transient(fmt.Errorf("marathon GET /v2/events at %s: answer is %q, not text/event-stream", target.Host, resp.Header.Get("Content-Type")))
			}
			return resp, nil
		default:
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			return nil, s.c.apiError(request{method: http.MethodGet, tmpl: "/v2/events"}, &response{status: resp.StatusCode, header: resp.Header, body: body})
		}
	}
}

// idleReader restarts the idle timer on every read that returns data.
type idleReader struct {
	r     io.Reader
	timer *time.Timer
	fired atomic.Bool
	idle  time.Duration
}

func (i *idleReader) Read(p []byte) (int, error) {
	n, err := i.r.Read(p)
	if n > 0 && i.timer != nil && !i.fired.Load() {
		i.timer.Reset(i.idle)
	}
	return n, err
}

// cancelBody releases the request's context when the body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

func drainClose(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// handle turns a frame into an Event and delivers it if it passes the filter.
func (s *Stream) handle(f sseFrame) {
	data := json.RawMessage(f.data)
	if !json.Valid(data) {
		if !f.atEOF {
			s.c.log.WithField("event", f.event).Debug("marathon: skipping an event whose data is not json")
		}
		return
	}
	typ := f.event
	if typ == "" || typ == "message" {
		var v struct {
			EventType string `json:"eventType"`
		}
		if json.Unmarshal(data, &v) == nil && v.EventType != "" {
			typ = v.EventType
		}
	}
	if s.typeSet != nil && !s.typeSet[typ] {
		return
	}
	s.deliver(Event{Type: typ, Data: data})
}

// deliver never blocks: events wait in a bounded queue (Options.EventBuffer)
// that the pump empties into the channel. When the queue is full, the queued
// events and the new one are replaced by a single EventResync: the consumer
// reads it after every change those events hinted at had happened, so
// re-reading then misses nothing.
func (s *Stream) deliver(ev Event) {
	s.mu.Lock()
	if len(s.queue) >= s.c.opts.EventBuffer {
		for _, q := range s.queue {
			if q.Type != EventResync {
				s.state.Dropped++
			}
		}
		if ev.Type != EventResync {
			s.state.Dropped++
		}
		s.queue = append(s.queue[:0], Event{Type: EventResync, Data: json.RawMessage(`{}`)})
	} else {
		s.queue = append(s.queue, ev)
	}
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// pump moves queued events to the channel, in order.
func (s *Stream) pump(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.notify:
		}
		for {
			s.mu.Lock()
			if len(s.queue) == 0 {
				s.mu.Unlock()
				break
			}
			ev := s.queue[0]
			s.queue[0] = Event{}
			s.queue = s.queue[1:]
			if len(s.queue) == 0 {
				s.queue = s.buf[:0] // reuse the backing array
			}
			s.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case s.ch <- ev:
			}
			s.mu.Lock()
			s.state.Received++
			s.mu.Unlock()
		}
	}
}
