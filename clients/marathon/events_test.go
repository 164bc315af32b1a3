package marathon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/clients/dcosauth"
	"github.com/universe-operator/universe-operator/errs"
)

func TestSSEParser(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []sseFrame
		err  error
	}{
		{"lf", "event: a\ndata: {\"x\":1}\n\n", []sseFrame{{event: "a", data: `{"x":1}`}}, io.EOF},
		{"crlf (jetty)", "event: a\r\ndata: 1\r\n\r\nevent: b\r\ndata: 2\r\n\r\n", []sseFrame{{event: "a", data: "1"}, {event: "b", data: "2"}}, io.EOF},
		{"cr only", "event: a\rdata: 1\r\r", []sseFrame{{event: "a", data: "1"}}, io.EOF},
		{"multi-line data", "data: {\"a\":\ndata: 1}\n\n", []sseFrame{{data: "{\"a\":\n1}"}}, io.EOF},
		{"comments and heartbeats", ": hello\r\n\r\n\r\nevent: a\n: inside\ndata: 1\n\n", []sseFrame{{event: "a", data: "1"}}, io.EOF},
		{"no space after colon", "event:a\ndata:1\n\n", []sseFrame{{event: "a", data: "1"}}, io.EOF},
		{"only one leading space stripped", "data:  1\n\n", []sseFrame{{data: " 1"}}, io.EOF},
		{"field without colon", "data\n\n", []sseFrame{{data: ""}}, io.EOF},
		{"event without data is not dispatched", "event: a\n\nevent: b\ndata: 2\n\n", []sseFrame{{event: "b", data: "2"}}, io.EOF},
		{"unknown fields ignored", "id: 7\nretry: 10\nfoo: bar\nevent: a\ndata: 1\n\n", []sseFrame{{event: "a", data: "1"}}, io.EOF},
		{"bom", "\xEF\xBB\xBFevent: a\ndata: 1\n\n", []sseFrame{{event: "a", data: "1"}}, io.EOF},
		{"bom alone", "\xEF\xBB\xBF\nevent: a\ndata: 1\n\n", []sseFrame{{event: "a", data: "1"}}, io.EOF},
		{"no trailing blank line", "event: a\ndata: 1\n\nevent: b\ndata: {\"y\":2}", []sseFrame{{event: "a", data: "1"}, {event: "b", data: `{"y":2}`, atEOF: true}}, io.EOF},
		{"no trailing newline after data line", "event: b\ndata: 2\n", []sseFrame{{event: "b", data: "2", atEOF: true}}, io.EOF},
		{"empty", "", nil, io.EOF},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newSSEParser(strings.NewReader(tc.in))
			var got []sseFrame
			var err error
			for {
				var f sseFrame
				if f, err = p.next(); err != nil {
					break
				}
				got = append(got, f)
			}
			if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", tc.want) {
				t.Fatalf("frames %#v, want %#v", got, tc.want)
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
		})
	}
}

func TestSSEParserByteByByte(t *testing.T) {
	in := "event: a\r\ndata: 1\r\n\r\nevent: b\rdata: 2\r\r"
	p := newSSEParser(&oneByteReader{r: strings.NewReader(in)})
	var got []string
	for {
		f, err := p.next()
		if err != nil {
			break
		}
		got = append(got, f.event+"="+f.data)
	}
	if fmt.Sprint(got) != "[a=1 b=2]" {
		t.Fatalf("got %v", got)
	}
}

type oneByteReader struct{ r io.Reader }

func (o *oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

func TestSSEParserLineTooLong(t *testing.T) {
	p := newSSEParser(io.MultiReader(strings.NewReader("data: "), strings.NewReader(strings.Repeat("x", maxSSELine+10))))
	if _, err := p.next(); !errors.Is(err, errLineTooLong) {
		t.Fatalf("err = %v", err)
	}
}

// sseServer serves scripted event streams: each connection gets the next
// script (the last one repeats); a script is written, then the stream is
// closed (or held open with hold).
type sseServer struct {
	*httptest.Server
	mu      sync.Mutex
	scripts []string
	hold    bool
	conns   int
	queries []string
	auth    []string
}

func newSSEServer(t *testing.T, hold bool, scripts ...string) *sseServer {
	s := &sseServer{scripts: scripts, hold: hold}
	s.Server = httptest.NewServer(s)
	t.Cleanup(s.Close)
	return s
}

func (s *sseServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v2/events" {
		http.NotFound(w, r)
		return
	}
	if !strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		http.Error(w, "HTTP method GET is not supported by this URL", http.StatusMethodNotAllowed)
		return
	}
	s.mu.Lock()
	i := s.conns
	if i >= len(s.scripts) {
		i = len(s.scripts) - 1
	}
	script := s.scripts[i]
	s.conns++
	s.queries = append(s.queries, r.URL.RawQuery)
	s.auth = append(s.auth, r.Header.Get("Authorization"))
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/event-stream;charset=utf-8")
	w.WriteHeader(200)
	io.WriteString(w, script)
	w.(http.Flusher).Flush()
	if s.hold {
		<-r.Context().Done()
	}
}

func (s *sseServer) connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// collect reads events until n non-resync events arrived (or the deadline).
func collect(t *testing.T, st *Stream, n int) []Event {
	t.Helper()
	var out []Event
	deadline := time.After(15 * time.Second)
	real := 0
	for real < n {
		select {
		case ev, ok := <-st.C():
			if !ok {
				t.Fatalf("stream closed after %v", types(out))
			}
			out = append(out, ev)
			if ev.Type != EventResync {
				real++
			}
		case <-deadline:
			t.Fatalf("timed out with %v (state %+v)", types(out), st.State())
		}
	}
	return out
}

func types(evs []Event) []string {
	var s []string
	for _, e := range evs {
		s = append(s, e.Type)
	}
	return s
}

const dsEvent = "event: deployment_success\r\ndata: {\"id\":\"d1\",\"eventType\":\"deployment_success\"}\r\n\r\n"

func TestEventsReconnectAfterServerCloses(t *testing.T) {
	srv := newSSEServer(t, false,
		"event: status_update_event\ndata: {\"appId\":\"/a\",\"n\":1}\n\n",
		"event: status_update_event\ndata: {\"appId\":\"/a\",\"n\":2}\n\n",
		": nothing more\n\n")
	c := newClient(t, srv.URL)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st := c.Events(cctx)
	evs := collect(t, st, 2)
	want := []string{EventResync, "status_update_event", EventResync, "status_update_event"}
	if fmt.Sprint(types(evs)) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", types(evs), want)
	}
	if string(evs[1].Data) != `{"appId":"/a","n":1}` || string(evs[3].Data) != `{"appId":"/a","n":2}` {
		t.Fatalf("data %s / %s", evs[1].Data, evs[3].Data)
	}
	// It keeps reconnecting and records why it was disconnected.
	deadline := time.Now().Add(15 * time.Second)
	for srv.connections() < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	state := st.State()
	if state.Connects < 2 || state.URL != srv.URL+"/v2/events" {
		t.Fatalf("state %+v", state)
	}
	if !state.Connected && (state.LastError == nil || !strings.Contains(state.LastError.Error(), "closed by the server") || errs.ClassOf(state.LastError) != errs.ClassTransient) {
		t.Fatalf("last error %v", state.LastError)
	}
	cancel()
	for range st.C() {
	}
	if st.State().Connected {
		t.Fatal("still connected after cancel")
	}
}

func TestEventsFilterAndAcceptHeader(t *testing.T) {
	// This server ignores event_type (some proxies drop the query); the
	// client filters too.
	srv := newSSEServer(t, true,
		"event: event_stream_attached\ndata: {\"remoteAddress\":\"x\"}\n\n"+
			"event: status_update_event\ndata: {\"appId\":\"/a\"}\n\n"+
			"data: {\"eventType\":\"deployment_failed\",\"id\":\"d0\"}\n\n"+
			"event: deployment_step_success\ndata: not json\n\n"+
			dsEvent)
	c := newClient(t, srv.URL)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st := c.Events(cctx, "deployment_success", "deployment_failed")
	evs := collect(t, st, 2)
	want := []string{EventResync, "deployment_failed", "deployment_success"}
	if fmt.Sprint(types(evs)) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", types(evs), want)
	}
	srv.mu.Lock()
	q := srv.queries[0]
	srv.mu.Unlock()
	if q != "event_type=deployment_success&event_type=deployment_failed" {
		t.Fatalf("query %q", q)
	}
}

func TestEventsRedirectFromStandbyKeepsAuth(t *testing.T) {
	leader := newSSEServer(t, true, dsEvent)
	leaderURL := strings.Replace(leader.URL, "127.0.0.1", "localhost", 1) // another host
	var standbyHits atomic.Int32
	standby := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		standbyHits.Add(1)
		if r.Header.Get("Authorization") != "token=sekrit" {
			w.WriteHeader(401)
			return
		}
		http.Redirect(w, r, leaderURL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	defer standby.Close()
	rt, err := dcosauth.NewTransport(dcosauth.Config{Token: &dcosauth.StaticToken{Value: "sekrit"}})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, standby.URL, func(o *Options) { o.Transport = rt })
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st := c.Events(cctx, "deployment_success")
	evs := collect(t, st, 1)
	if evs[len(evs)-1].Type != "deployment_success" {
		t.Fatalf("events %v", types(evs))
	}
	leader.mu.Lock()
	auth, q := leader.auth[0], leader.queries[0]
	leader.mu.Unlock()
	if auth != "token=sekrit" {
		t.Fatalf("leader saw Authorization %q", auth)
	}
	if q != "event_type=deployment_success" {
		t.Fatalf("leader saw query %q", q)
	}
	if got := st.State().URL; !strings.HasPrefix(got, leaderURL) {
		t.Fatalf("state URL %s, want the leader", got)
	}
	if standbyHits.Load() != 1 {
		t.Fatalf("standby hits %d", standbyHits.Load())
	}
}

func TestEventsRefuseHTTPSDowngrade(t *testing.T) {
	plain := newSSEServer(t, true, dsEvent)
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/v2/events", http.StatusTemporaryRedirect)
	}))
	defer tlsSrv.Close()
	c := newClient(t, tlsSrv.URL, func(o *Options) { o.Transport = tlsSrv.Client().Transport })
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st := c.Events(cctx)
	deadline := time.Now().Add(15 * time.Second)
	for st.State().LastError == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := st.State().LastError; err == nil || !strings.Contains(err.Error(), "refusing redirect from https") {
		t.Fatalf("last error %v", err)
	}
	if plain.connections() != 0 {
		t.Fatal("followed an https -> http redirect")
	}
}

func TestEventsFailoverAndErrors(t *testing.T) {
	// First endpoint answers 405 (as Marathon does without the Accept
	// header) and then HTML; the stream moves on to the second.
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html>not events</html>")
	}))
	defer bad.Close()
	good := newSSEServer(t, true, dsEvent)
	c := newClient(t, bad.URL+","+good.URL)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st := c.Events(cctx)
	evs := collect(t, st, 1)
	if evs[len(evs)-1].Type != "deployment_success" {
		t.Fatalf("events %v", types(evs))
	}
	if st.State().URL != good.URL+"/v2/events" || st.State().Connects != 1 || !st.State().Connected {
		t.Fatalf("state %+v", st.State())
	}
}

func TestEventsAPIErrorIsRecorded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(401)
		io.WriteString(w, `{"message":"invalid token"}`)
	}))
	defer srv.Close()
	c := newClient(t, srv.URL)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st := c.Events(cctx)
	deadline := time.Now().Add(15 * time.Second)
	for st.State().LastError == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	err := st.State().LastError
	if StatusOf(err) != 401 || !errs.IsPermanent(err) {
		t.Fatalf("last error %v", err)
	}
}

func TestEventsSlowConsumerGetsResync(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&b, "event: status_update_event\ndata: {\"n\":%d}\n\n", i)
	}
	b.WriteString("event: deployment_success\ndata: {\"last\":true}\n\n")
	srv := newSSEServer(t, true, b.String())
	c := newClient(t, srv.URL, func(o *Options) { o.EventBuffer = 4 })
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st := c.Events(cctx)
	// Do not read until everything has been received and queued or dropped.
	deadline := time.Now().Add(15 * time.Second)
	for {
		s := st.State()
		if s.Dropped > 0 && s.Dropped+uint64(4) >= 101 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Drain what is there.
	var got []Event
	for {
		select {
		case ev := <-st.C():
			got = append(got, ev)
			continue
		case <-time.After(200 * time.Millisecond):
		}
		break
	}
	s := st.State()
	if s.Dropped == 0 {
		t.Fatalf("nothing dropped: %+v", s)
	}
	// Every event was delivered or dropped; a resync was delivered for the
	// drops; the last event sent is delivered or covered by a final resync.
	realDelivered, resyncs := 0, 0
	for _, ev := range got {
		if ev.Type == EventResync {
			resyncs++
		} else {
			realDelivered++
		}
	}
	if uint64(realDelivered)+s.Dropped != 101 {
		t.Fatalf("delivered %d + dropped %d != 101 (%v)", realDelivered, s.Dropped, types(got))
	}
	if resyncs == 0 {
		t.Fatalf("no resync for the drops: %v", types(got))
	}
	if last := got[len(got)-1].Type; last != "deployment_success" && last != EventResync {
		t.Fatalf("the last event is neither delivered nor covered: %v", types(got))
	}
	// The queue (4) plus the one event the pump holds.
	if len(got) > 4+1 {
		t.Fatalf("more than the buffer was kept: %v", types(got))
	}
	if s.Received != uint64(len(got)) {
		t.Fatalf("Received %d, got %d", s.Received, len(got))
	}
}

func TestEventsChannelClosedOnCancel(t *testing.T) {
	srv := newSSEServer(t, true, dsEvent)
	c := newClient(t, srv.URL)
	cctx, cancel := context.WithCancel(ctx)
	st := c.Events(cctx)
	collect(t, st, 1)
	cancel()
	done := make(chan struct{})
	go func() {
		for range st.C() {
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("channel not closed after cancel")
	}
}

func TestEventsIdleTimeoutReconnects(t *testing.T) {
	// The server sends one event and then nothing at all, holding the
	// connection open: a dead peer. The client gives up after the idle
	// timeout and reconnects.
	srv := newSSEServer(t, true, dsEvent)
	c := newClient(t, srv.URL, func(o *Options) { o.EventIdleTimeout = 200 * time.Millisecond })
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st := c.Events(cctx)
	collect(t, st, 2) // one event per connection: two connections
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(fmt.Sprint(st.State().LastError), "nothing received for 200ms") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := st.State().LastError; !strings.Contains(fmt.Sprint(err), "nothing received for 200ms") || errs.ClassOf(err) != errs.ClassTransient {
		t.Fatalf("last error %v", err)
	}
	if st.State().Connects < 2 {
		t.Fatalf("state %+v", st.State())
	}
}

func TestEventsHeartbeatsKeepStreamAlive(t *testing.T) {
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, dsEvent)
		w.(http.Flusher).Flush()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-stop:
				return
			case <-tick.C:
				io.WriteString(w, "\r\n")
				w.(http.Flusher).Flush()
			}
		}
	}))
	defer srv.Close()
	defer close(stop)
	c := newClient(t, srv.URL, func(o *Options) { o.EventIdleTimeout = time.Second })
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st := c.Events(cctx)
	collect(t, st, 1)
	time.Sleep(2500 * time.Millisecond) // several idle periods, bridged by heartbeats
	if s := st.State(); s.Connects != 1 || !s.Connected {
		t.Fatalf("heartbeats did not keep the stream: %+v", s)
	}
}
