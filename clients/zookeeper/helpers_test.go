package zookeeper

import (
	"context"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/universe-operator/universe-operator/internal/testenv"
)

// testLogger logs to stderr (shown with -v or on failure), never to t: the
// library's goroutines may log after the test has returned.
func testLogger(name string) logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(os.Stderr)
	l.SetLevel(logrus.InfoLevel)
	if os.Getenv("UO_ZK_DEBUG") != "" {
		l.SetLevel(logrus.DebugLevel)
	}
	l.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, TimestampFormat: "15:04:05.000"})
	return l.WithField("who", name)
}

// connect opens a client to addr and closes it when the test ends.
func connect(t *testing.T, addr, name string, opts ...Option) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts = append([]Option{WithLogger(testLogger(name))}, opts...)
	c, err := Connect(ctx, []string{addr}, opts...)
	if err != nil {
		t.Fatalf("connect %s: %v", addr, err)
	}
	t.Cleanup(c.Close)
	return c
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// proxy is a loopback TCP proxy in front of ZooKeeper. Cut drops every
// connection and refuses new ones: for the server, the client vanished (as
// when its process dies or the network splits); for the client, the server
// is unreachable. Restore lets connections through again.
type proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	cut    bool
	silent bool // accept and hold connections without forwarding
	conns  map[net.Conn]struct{}
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.Cut()
	})
	return p
}

func (p *proxy) Addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			in.Close()
			continue
		}
		if p.silent {
			p.conns[in] = struct{}{}
			p.mu.Unlock()
			continue
		}
		out, err := net.DialTimeout("tcp", p.target, time.Second)
		if err != nil {
			p.mu.Unlock()
			in.Close()
			continue
		}
		p.conns[in], p.conns[out] = struct{}{}, struct{}{}
		p.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			_, _ = io.Copy(dst, src)
			dst.Close()
			src.Close()
		}
		go pipe(in, out)
		go pipe(out, in)
	}
}

// Cut closes every proxied connection and refuses new ones.
func (p *proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]struct{}{}
}

// Restore accepts connections again.
func (p *proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut, p.silent = false, false
}

// Silence makes new connections hang: accepted, never answered (a server
// that is still starting). Connections already held stay silent.
func (p *proxy) Silence() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.silent = true
}

// startZK starts a real ZooKeeper for the test.
func startZK(t *testing.T) *testenv.ZooKeeper {
	t.Helper()
	return testenv.StartZooKeeper(t)
}
