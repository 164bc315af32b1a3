package marathon

import (
	"bytes"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// sseEvent is one encoded event.
type sseEvent struct {
	typ   string
	frame []byte // "event: <type>\r\ndata: <json>\r\n\r\n"
}

// subscriber is one /v2/events connection.
type subscriber struct {
	ch     chan sseEvent
	filter map[string]bool // empty: every event type
	done   chan struct{}
	once   sync.Once
	remote string
}

func (sub *subscriber) close() { sub.once.Do(func() { close(sub.done) }) }

func (sub *subscriber) wants(typ string) bool { return len(sub.filter) == 0 || sub.filter[typ] }

// eventBus fans events out to subscribers without ever blocking the
// publisher: a subscriber whose buffer is full is disconnected, as Marathon
// drops slow event stream consumers.
type eventBus struct {
	mu     sync.Mutex
	subs   map[*subscriber]struct{}
	buffer int
	// overflows counts subscribers disconnected for being slow.
	overflows int
}

func newEventBus(buffer int) *eventBus {
	return &eventBus{subs: map[*subscriber]struct{}{}, buffer: buffer}
}

func (b *eventBus) subscribe(filter map[string]bool, remote string) *subscriber {
	sub := &subscriber{ch: make(chan sseEvent, b.buffer), filter: filter, done: make(chan struct{}), remote: remote}
	b.mu.Lock()
	b.subs[sub] = struct{}{}
	b.mu.Unlock()
	return sub
}

func (b *eventBus) unsubscribe(sub *subscriber) {
	b.mu.Lock()
	delete(b.subs, sub)
	b.mu.Unlock()
	sub.close()
}

// wants reports whether any subscriber would receive an event of type typ,
// so publishers can skip encoding events nobody reads.
func (b *eventBus) wants(typ string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for sub := range b.subs {
		if sub.wants(typ) {
			return true
		}
	}
	return false
}

func (b *eventBus) publish(ev sseEvent) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for sub := range b.subs {
		if !sub.wants(ev.typ) {
			continue
		}
		select {
		case sub.ch <- ev:
		default:
			b.overflows++
			delete(b.subs, sub)
			sub.close()
		}
	}
}

func (b *eventBus) closeAll() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(b.subs)
	for sub := range b.subs {
		delete(b.subs, sub)
		sub.close()
	}
	return n
}

func (b *eventBus) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

func encodeEvent(typ string, payload []byte) sseEvent {
	var f bytes.Buffer
	f.Grow(len(typ) + len(payload) + 20)
	f.WriteString("event: ")
	f.WriteString(typ)
	f.WriteString("\r\ndata: ")
	f.Write(payload)
	f.WriteString("\r\n\r\n")
	return sseEvent{typ: typ, frame: f.Bytes()}
}

// emit publishes an event whose payload marshals to JSON. Callers may hold
// s.mu; emit never blocks.
func (s *Server) emit(typ string, payload any) {
	if !s.bus.wants(typ) {
		return
	}
	s.bus.publish(encodeEvent(typ, mustJSON(payload)))
}

func (s *Server) emitStatus(t *task, state, message string) {
	if !s.bus.wants("status_update_event") {
		return
	}
	s.emit("status_update_event", struct {
		SlaveID     string `json:"slaveId"`
		TaskID      string `json:"taskId"`
		TaskStatus  string `json:"taskStatus"`
		Message     string `json:"message"`
		AppID       string `json:"appId"`
		Host        string `json:"host"`
		IPAddresses []any  `json:"ipAddresses"`
		Ports       []int  `json:"ports"`
		Version     string `json:"version"`
		EventType   string `json:"eventType"`
		Timestamp   string `json:"timestamp"`
	}{t.agentID, t.id, state, message, t.app.id, t.host,
		[]any{map[string]string{"ipAddress": t.host, "protocol": "IPv4"}}, nonNil(t.hostPorts),
		ts(t.def.version), "status_update_event", ts(time.Now())})
}

func (s *Server) emitInstanceChanged(t *task, condition string) {
	if !s.bus.wants("instance_changed_event") {
		return
	}
	s.emit("instance_changed_event", struct {
		InstanceID     string `json:"instanceId"`
		Condition      string `json:"condition"`
		RunSpecID      string `json:"runSpecId"`
		AgentID        string `json:"agentId"`
		Host           string `json:"host"`
		RunSpecVersion string `json:"runSpecVersion"`
		Timestamp      string `json:"timestamp"`
		EventType      string `json:"eventType"`
	}{t.instanceID, condition, t.app.id, t.agentID, t.host, ts(t.def.version), ts(time.Now()), "instance_changed_event"})
}

func (s *Server) emitHealthChanged(t *task, alive bool) {
	now := ts(time.Now())
	s.emit("health_status_changed_event", struct {
		AppID      string `json:"appId"`
		InstanceID string `json:"instanceId"`
		Version    string `json:"version"`
		Alive      bool   `json:"alive"`
		EventType  string `json:"eventType"`
		Timestamp  string `json:"timestamp"`
	}{t.app.id, t.instanceID, ts(t.def.version), alive, "health_status_changed_event", now})
	s.emit("instance_health_changed_event", struct {
		InstanceID     string `json:"instanceId"`
		RunSpecID      string `json:"runSpecId"`
		Healthy        bool   `json:"healthy"`
		RunSpecVersion string `json:"runSpecVersion"`
		Timestamp      string `json:"timestamp"`
		EventType      string `json:"eventType"`
	}{t.instanceID, t.app.id, alive, ts(t.def.version), now, "instance_health_changed_event"})
}

// CloseEventStreams disconnects every /v2/events subscriber, as a Marathon
// restart or leader change does. It returns how many were closed.
func (s *Server) CloseEventStreams() int {
	return s.bus.closeAll()
}

// serveEvents serves GET /v2/events the way Marathon's Jetty EventSourceServlet
// does: only for a request whose Accept header is exactly text/event-stream
// (else 405), CRLF framing, a heartbeat, event_type filters.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeMessage(w, http.StatusMethodNotAllowed, "HTTP method "+r.Method+" is not supported by this URL")
		return
	}
	accepted := false
	for _, v := range r.Header.Values("Accept") {
		if strings.TrimSpace(v) == "text/event-stream" {
			accepted = true
		}
	}
	if !accepted {
		w.Header().Set("Content-Type", "text/html;charset=iso-8859-1")
		w.WriteHeader(http.StatusMethodNotAllowed)
		_, _ = w.Write([]byte("<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html;charset=ISO-8859-1\"/>\n" +
			"<title>Error 405 </title>\n</head>\n<body>\n<h2>HTTP ERROR: 405</h2>\n<p>Problem accessing /v2/events. Reason:\n" +
			"<pre>    HTTP method GET is not supported by this URL</pre></p>\n<hr /><a href=\"http://eclipse.org/jetty\">Powered by Jetty:// 9.4.z-SNAPSHOT</a><hr/>\n</body>\n</html>\n"))
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeMessage(w, http.StatusInternalServerError, "streaming unsupported")
		return
	}
	filter := map[string]bool{}
	for _, t := range r.URL.Query()["event_type"] {
		if t != "" {
			filter[t] = true
		}
	}
	remote := r.RemoteAddr
	if host, _, err := net.SplitHostPort(remote); err == nil {
		remote = host
	}
	sub := s.bus.subscribe(filter, remote)
	defer s.bus.unsubscribe(sub)
	w.Header().Set("Content-Type", "text/event-stream;charset=utf-8")
	w.Header().Set("Connection", "close")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()
	s.emit("event_stream_attached", struct {
		RemoteAddress string `json:"remoteAddress"`
		EventType     string `json:"eventType"`
		Timestamp     string `json:"timestamp"`
	}{remote, "event_stream_attached", ts(time.Now())})
	heartbeat := time.NewTicker(s.opts.EventHeartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case ev := <-sub.ch:
			if _, err := w.Write(ev.frame); err != nil {
				return
			}
			// Write whatever else is queued before flushing.
			for more := true; more; {
				select {
				case ev := <-sub.ch:
					if _, err := w.Write(ev.frame); err != nil {
						return
					}
				default:
					more = false
				}
			}
			flusher.Flush()
		case <-heartbeat.C:
			if _, err := w.Write([]byte("\r\n")); err != nil {
				return
			}
			flusher.Flush()
		case <-sub.done:
			return
		case <-r.Context().Done():
			s.emit("event_stream_detached", struct {
				RemoteAddress string `json:"remoteAddress"`
				EventType     string `json:"eventType"`
				Timestamp     string `json:"timestamp"`
			}{remote, "event_stream_detached", ts(time.Now())})
			return
		}
	}
}
