package zookeeper

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/sirupsen/logrus"

	"github.com/universe-operator/universe-operator/errs"
)

// DefaultSessionTimeout is the session timeout asked of the server when none
// is given. A dead leader's session expires after it, so a follower takes
// over after about 8.5 s, leaving 6 s for a slow server (a loaded ZooKeeper
// was seen expiring sessions 6.5 s late) within the 15 s the product
// promises. A leader cut off from ZooKeeper steps down after at most 6 s.
const DefaultSessionTimeout = 8 * time.Second

// MaxDataSize is the largest znode value the client sends. ZooKeeper refuses
// packets above jute.maxbuffer (1 MiB - 1 by default) with a closed
// connection, which is much harder to understand than this limit.
const MaxDataSize = 1000 * 1024

// AnyVersion matches every znode version in Set and Delete.
const AnyVersion int32 = -1

// Errors callers test with errors.Is. The first four are the server's
// answers; the others are the client's.
var (
	// ErrNotFound: the znode does not exist.
	ErrNotFound = zk.ErrNoNode
	// ErrExists: the znode already exists.
	ErrExists = zk.ErrNodeExists
	// ErrBadVersion: the znode is not at the expected version.
	ErrBadVersion = zk.ErrBadVersion
	// ErrNotEmpty: the znode has children.
	ErrNotEmpty = zk.ErrNotEmpty
	// ErrTooLarge: the data is above MaxDataSize.
	ErrTooLarge = errors.New("zookeeper: data too large")
	// ErrInvalidPath: the path is not a valid absolute znode path.
	ErrInvalidPath = errors.New("zookeeper: invalid path")
	// ErrClosed: the client was closed.
	ErrClosed = errors.New("zookeeper: client closed")
)

// Dialer opens the TCP connection to one server (see WithDialer).
type Dialer func(network, address string, timeout time.Duration) (net.Conn, error)

// Option configures Connect.
type Option func(*options)

type options struct {
	sessionTimeout time.Duration
	root           string
	authFile       string
	authEnv        string
	log            logrus.FieldLogger
	dialer         Dialer
}

// WithSessionTimeout sets the session timeout asked of the server (the
// server may clamp it to its min/max; the negotiated value is in Session()).
func WithSessionTimeout(d time.Duration) Option {
	return func(o *options) { o.sessionTimeout = d }
}

// WithRoot makes every path of the client relative to root (a chroot), e.g.
// the config's zookeeper.path "/universe-operator". The root is created when
// missing.
func WithRoot(root string) Option { return func(o *options) { o.root = root } }

// WithDigestAuthFile reads digest credentials "user:password" from a file
// (surrounding white space ignored). Nodes the client creates then carry the
// ACL "creator has all rights".
func WithDigestAuthFile(file string) Option { return func(o *options) { o.authFile = file } }

// WithDigestAuthEnv reads digest credentials "user:password" from an
// environment variable. Same effect as WithDigestAuthFile.
func WithDigestAuthEnv(name string) Option { return func(o *options) { o.authEnv = name } }

// WithLogger sets the logger. The library's own chatter (every connection
// attempt) goes to debug; session changes are logged at info/warn.
func WithLogger(l logrus.FieldLogger) Option { return func(o *options) { o.log = l } }

// WithDialer replaces the TCP dialer (tests use it to cut connections).
func WithDialer(d Dialer) Option { return func(o *options) { o.dialer = d } }

// SessionState is the state of the client's session.
type SessionState int

// Session states.
const (
	// StateConnecting: no usable connection yet (dialling or handshaking).
	StateConnecting SessionState = iota
	// StateHasSession: connected with a live session.
	StateHasSession
	// StateDisconnected: the connection was lost; the session may still live
	// on the server until its timeout.
	StateDisconnected
	// StateExpired: the server expired the session; ephemeral nodes and
	// watches are gone. The client goes on with a new session.
	StateExpired
	// StateAuthFailed: the server refused the credentials.
	StateAuthFailed
	// StateClosed: Close was called.
	StateClosed
)

// String returns the lower-case name of the state.
func (s SessionState) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateHasSession:
		return "has-session"
	case StateDisconnected:
		return "disconnected"
	case StateExpired:
		return "expired"
	case StateAuthFailed:
		return "auth-failed"
	case StateClosed:
		return "closed"
	}
	return "unknown"
}

// Session is a snapshot of the client's session.
type Session struct {
	// ID is the session ID (0 before the first session and after expiry).
	ID int64
	// State is the connection state.
	State SessionState
	// Timeout is the timeout negotiated with the server for this session
	// (the requested one before the first session).
	Timeout time.Duration
	// Server is the address of the current or last server.
	Server string
}

// Stat is the metadata of a znode.
type Stat struct {
	// Version counts changes of the data (0 after create).
	Version int32
	// Cversion counts changes of the children.
	Cversion int32
	// EphemeralOwner is the owning session of an ephemeral node, else 0.
	EphemeralOwner int64
	// DataLength is the size of the data.
	DataLength int32
	// NumChildren is the number of children.
	NumChildren int32
	// Czxid and Mzxid are the transaction IDs of creation and last change.
	Czxid, Mzxid int64
	// Mtime is the time of the last change.
	Mtime time.Time
}

func statOf(s *zk.Stat) Stat {
	if s == nil {
		return Stat{}
	}
	return Stat{Version: s.Version, Cversion: s.Cversion, EphemeralOwner: s.EphemeralOwner,
		DataLength: s.DataLength, NumChildren: s.NumChildren, Czxid: s.Czxid, Mzxid: s.Mzxid,
		Mtime: time.UnixMilli(s.Mtime)}
}

// CreateMode is the kind of znode Create makes.
type CreateMode int32

// Create modes.
const (
	// Persistent nodes live until deleted.
	Persistent CreateMode = zk.FlagPersistent
	// Ephemeral nodes are deleted when the creating session ends.
	Ephemeral CreateMode = zk.FlagEphemeral
	// PersistentSequential appends a 10-digit sequence number to the name.
	PersistentSequential CreateMode = zk.FlagSequence
	// EphemeralSequential is Ephemeral plus the sequence number.
	EphemeralSequential CreateMode = zk.FlagEphemeralSequential
)

// WatchEventType says what a watch saw.
type WatchEventType int

// Watch event types.
const (
	// WatchNodeCreated: the watched node was created.
	WatchNodeCreated WatchEventType = iota + 1
	// WatchNodeDeleted: the watched node was deleted.
	WatchNodeDeleted
	// WatchDataChanged: the node's data changed.
	WatchDataChanged
	// WatchChildrenChanged: the node's children changed.
	WatchChildrenChanged
	// WatchNotWatching: the watch is gone (session expired or client
	// closed); Err says why. Re-read and watch again.
	WatchNotWatching
)

// WatchEvent is the one event a watch delivers.
type WatchEvent struct {
	// Type is what happened.
	Type WatchEventType
	// Path is the watched path, relative to the client's root.
	Path string
	// Err is set for WatchNotWatching.
	Err error
}

// core is the connection shared by a Client and its At views.
type core struct {
	conn      *zk.Conn
	log       logrus.FieldLogger
	requested time.Duration
	acl       []zk.ACL

	mu         sync.Mutex
	sess       Session
	changed    chan struct{}
	closed     bool
	negotiated map[int64]time.Duration // session ID -> timeout from the connect response
	sniffedID  int64                   // session ID of the latest connect response
	fences     map[*Candidate]struct{}
	everHad    bool
}

// Client is a connection to a ZooKeeper ensemble with a root path. It is safe
// for concurrent use. Views made by At share the connection.
type Client struct {
	c    *core
	root string // "/" or "/a/b"
}

// Connect connects to servers ("host:port"; port 2181 when omitted) and
// waits until a session is established or ctx ends. When a root is set it
// is created if missing. The client reconnects by itself afterwards.
func Connect(ctx context.Context, servers []string, opts ...Option) (*Client, error) {
	o := options{sessionTimeout: DefaultSessionTimeout, root: "/"}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = logrus.StandardLogger()
	}
	log := o.log.WithField("component", "zookeeper")
	if len(servers) == 0 {
		return nil, errs.Permanent(errors.New("zookeeper: no servers configured"))
	}
	for _, s := range servers {
		if strings.TrimSpace(s) == "" || strings.ContainsAny(s, "/ ") {
			return nil, errs.Permanent(fmt.Errorf("zookeeper: invalid server address %q (want host:port)", s))
		}
	}
	if o.sessionTimeout < time.Second {
		return nil, errs.Permanent(fmt.Errorf("zookeeper: session timeout %s is below 1s", o.sessionTimeout))
	}
	root, err := cleanAbs(o.root)
	if err != nil {
		return nil, errs.Permanent(fmt.Errorf("zookeeper: root %q: %w", o.root, err))
	}
	cred, err := readCredentials(o)
	if err != nil {
		return nil, err
	}

	cr := &core{log: log, requested: o.sessionTimeout, changed: make(chan struct{}),
		negotiated: map[int64]time.Duration{}, fences: map[*Candidate]struct{}{}}
	cr.sess = Session{State: StateConnecting, Timeout: o.sessionTimeout}
	cr.acl = zk.WorldACL(zk.PermAll)
	if cred != "" {
		cr.acl = zk.AuthACL(zk.PermAll)
	}
	dial := o.dialer
	if dial == nil {
		dial = net.DialTimeout
	}
	handshake := max(time.Second, o.sessionTimeout/time.Duration(3*len(servers)))
	conn, _, err := zk.Connect(servers, o.sessionTimeout,
		zk.WithLogger(zkLogger{log}),
		zk.WithEventCallback(cr.onEvent),
		zk.WithDialer(func(network, addr string, timeout time.Duration) (net.Conn, error) {
			nc, err := dial(network, addr, timeout)
			if err != nil {
				return nil, err
			}
			sc := &sniffConn{Conn: nc, core: cr, handshakeBy: time.Now().Add(handshake)}
			_ = nc.SetDeadline(sc.handshakeBy)
			return sc, nil
		}))
	// The receive buffer stays unbounded (the library's default): the
	// janitor must be able to list a service's largest trees.
	if err != nil {
		return nil, errs.Permanent(fmt.Errorf("zookeeper: connect %v: %w", servers, err))
	}
	cr.mu.Lock()
	cr.conn = conn
	cr.mu.Unlock()
	c := &Client{c: cr, root: root}

	if err := c.waitSession(ctx); err != nil {
		c.Close()
		return nil, errs.Transient(fmt.Errorf("zookeeper: no session with %s: %w", strings.Join(servers, ","), err))
	}
	if cred != "" {
		if _, err := call(ctx, c, func() (struct{}, error) {
			return struct{}{}, conn.AddAuth("digest", []byte(cred))
		}); err != nil {
			c.Close()
			return nil, c.wrap("add digest auth", "/", err)
		}
	}
	if root != "/" {
		if _, err := c.At("/").Create(ctx, root, nil, Persistent); err != nil && !errors.Is(err, ErrExists) {
			c.Close()
			return nil, fmt.Errorf("zookeeper: create root: %w", err)
		}
	}
	return c, nil
}

// readCredentials returns "user:password" or "" when no auth is configured.
func readCredentials(o options) (string, error) {
	var raw, from string
	switch {
	case o.authFile != "":
		b, err := os.ReadFile(o.authFile)
		if err != nil {
			return "", errs.Permanent(fmt.Errorf("zookeeper: digest credentials: %w", err))
		}
		raw, from = string(b), "file "+o.authFile
	case o.authEnv != "":
		v, ok := os.LookupEnv(o.authEnv)
		if !ok {
			return "", errs.Permanent(fmt.Errorf("zookeeper: digest credentials: environment variable %s is not set", o.authEnv))
		}
		raw, from = v, "environment variable "+o.authEnv
	default:
		return "", nil
	}
	raw = strings.TrimSpace(raw)
	user, pass, ok := strings.Cut(raw, ":")
	if !ok || user == "" || pass == "" {
		// Never echo the content: it is a secret.
		return "", errs.Permanent(fmt.Errorf("zookeeper: digest credentials in %s: want \"user:password\"", from))
	}
	return raw, nil
}

func (c *Client) waitSession(ctx context.Context) error {
	for {
		s, ch := c.Session()
		switch s.State {
		case StateHasSession:
			return nil
		case StateClosed:
			return ErrClosed
		case StateAuthFailed:
			return errors.New("authentication failed")
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// Close ends the session (ephemeral nodes are deleted at once) and the
// connection. Terms of candidates on this client end before the close
// request is sent. Close is idempotent; it closes every At view too.
func (c *Client) Close() {
	cr := c.c
	cr.mu.Lock()
	if cr.closed {
		cr.mu.Unlock()
		return
	}
	cr.closed = true
	fences := cr.fenceList()
	cr.mu.Unlock()
	for _, f := range fences {
		f.fence(ErrClosed)
	}
	cr.conn.Close()
	cr.setState(StateClosed, 0)
}

func (c *Client) closed() bool {
	c.c.mu.Lock()
	defer c.c.mu.Unlock()
	return c.c.closed
}

// Root returns the client's root path.
func (c *Client) Root() string { return c.root }

// At returns a view of the same connection whose paths are relative to the
// absolute path root ("/" for the whole tree). Closing a view closes the
// connection.
func (c *Client) At(root string) *Client {
	r, err := cleanAbs(root)
	if err != nil {
		r = root // reported by every call through abs
	}
	return &Client{c: c.c, root: r}
}

// Session returns the current session and a channel closed at the next
// change of it.
func (c *Client) Session() (Session, <-chan struct{}) {
	c.c.mu.Lock()
	defer c.c.mu.Unlock()
	return c.c.sess, c.c.changed
}

func (cr *core) fenceList() []*Candidate {
	out := make([]*Candidate, 0, len(cr.fences))
	for f := range cr.fences {
		out = append(out, f)
	}
	return out
}

// onEvent runs synchronously in the library's goroutines: it must not block.
func (cr *core) onEvent(ev zk.Event) {
	if ev.Type != zk.EventSession {
		return
	}
	switch ev.State {
	case zk.StateConnecting, zk.StateConnected:
		cr.setState(StateConnecting, -1)
	case zk.StateHasSession:
		cr.setState(StateHasSession, -1)
	case zk.StateDisconnected:
		cr.setState(StateDisconnected, -1)
	case zk.StateExpired:
		// Record the expiry, then fence: a candidate publishing a term
		// checks the recorded session under its lock, so either it sees the
		// expiry and does not publish, or the fence ends what it published.
		cr.setState(StateExpired, 0)
		cr.mu.Lock()
		fences := cr.fenceList()
		cr.mu.Unlock()
		for _, f := range fences {
			f.fence(errSessionExpired)
		}
	case zk.StateAuthFailed:
		cr.setState(StateAuthFailed, -1)
	}
}

var errSessionExpired = errs.Transient(errors.New("zookeeper session expired"))

// setState records a new state; id -1 keeps the known session ID, except on
// StateHasSession, where the ID comes from the connect response.
func (cr *core) setState(st SessionState, id int64) {
	cr.mu.Lock()
	if cr.closed && st != StateClosed {
		cr.mu.Unlock()
		return
	}
	prev := cr.sess
	s := prev
	s.State = st
	if id >= 0 {
		s.ID = id
	}
	var newSession bool
	if st == StateHasSession {
		s.ID = cr.sniffedID
		if t, ok := cr.negotiated[s.ID]; ok {
			s.Timeout = t
		} else {
			s.Timeout = cr.requested
		}
		newSession = s.ID != prev.ID || !cr.everHad
		cr.everHad = true
	}
	if cr.conn != nil {
		s.Server = cr.conn.Server()
	}
	if s == prev {
		cr.mu.Unlock()
		return
	}
	cr.sess = s
	close(cr.changed)
	cr.changed = make(chan struct{})
	cr.mu.Unlock()

	l := cr.log.WithFields(logrus.Fields{"session": fmt.Sprintf("0x%x", s.ID), "server": s.Server})
	switch {
	case st == StateHasSession && newSession:
		l.WithField("timeout", s.Timeout).Info("zookeeper session established")
	case st == StateHasSession:
		l.Info("zookeeper connection restored, session kept")
	case st == StateDisconnected && prev.State == StateHasSession:
		l.Warn("zookeeper connection lost")
	case st == StateExpired:
		l.WithField("session", fmt.Sprintf("0x%x", prev.ID)).Warn("zookeeper session expired; starting a new one")
	case st == StateAuthFailed:
		l.Error("zookeeper authentication failed")
	default:
		l.WithField("state", st).Debug("zookeeper state")
	}
}

// sniffConn reads the connect response as it passes, to learn the session
// timeout the server granted: go-zookeeper uses it but does not expose it,
// and the leader's fence must be computed from it, not from the request.
// The connect response is the first packet from the server:
// int32 length, int32 protocolVersion, int32 timeOut (ms), int64 sessionId, ...
//
// It also bounds the handshake: go-zookeeper waits 10 x 2/3 of the session
// timeout for the response's length and then without any deadline for its
// body, so a server that accepts connections but does not answer (one that
// is still starting) would stall reconnection for over a minute. Until the
// response is in, every deadline is capped at handshakeBy.
type sniffConn struct {
	net.Conn
	core        *core
	handshakeBy time.Time
	done        atomic.Bool // the connect response header is in
	n           int         // only touched by the handshake reader
	hdr         [20]byte
}

func (s *sniffConn) capped(t time.Time) time.Time {
	if s.done.Load() || (!t.IsZero() && t.Before(s.handshakeBy)) {
		return t
	}
	return s.handshakeBy
}

// SetDeadline caps t during the handshake.
func (s *sniffConn) SetDeadline(t time.Time) error { return s.Conn.SetDeadline(s.capped(t)) }

// SetReadDeadline caps t during the handshake.
func (s *sniffConn) SetReadDeadline(t time.Time) error { return s.Conn.SetReadDeadline(s.capped(t)) }

// SetWriteDeadline caps t during the handshake.
func (s *sniffConn) SetWriteDeadline(t time.Time) error { return s.Conn.SetWriteDeadline(s.capped(t)) }

func (s *sniffConn) Read(p []byte) (int, error) {
	n, err := s.Conn.Read(p)
	if !s.done.Load() && n > 0 {
		k := copy(s.hdr[s.n:], p[:n])
		s.n += k
		if s.n == len(s.hdr) {
			s.done.Store(true)
			timeout := time.Duration(int32(binary.BigEndian.Uint32(s.hdr[8:12]))) * time.Millisecond
			id := int64(binary.BigEndian.Uint64(s.hdr[12:20]))
			if id != 0 && timeout > 0 {
				s.core.mu.Lock()
				s.core.negotiated[id] = timeout
				s.core.sniffedID = id
				s.core.mu.Unlock()
			}
		}
	}
	return n, err
}

// zkLogger sends go-zookeeper's log lines to logrus at debug level: they are
// one line per connection attempt while a server is down. The client logs
// the session changes that matter itself.
type zkLogger struct{ log logrus.FieldLogger }

func (l zkLogger) Printf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if strings.Contains(msg, "resending auth") {
		l.log.Warn(msg)
		return
	}
	l.log.Debug(msg)
}

// --- paths -----------------------------------------------------------------

// cleanAbs validates an absolute znode path and returns it without a
// trailing slash.
func cleanAbs(p string) (string, error) {
	if p == "" || p[0] != '/' {
		return "", fmt.Errorf("%w: %q is not absolute", ErrInvalidPath, p)
	}
	if p == "/" {
		return p, nil
	}
	p = strings.TrimSuffix(p, "/")
	for _, seg := range strings.Split(p[1:], "/") {
		switch {
		case seg == "":
			return "", fmt.Errorf("%w: %q has an empty segment", ErrInvalidPath, p)
		case seg == "." || seg == "..":
			return "", fmt.Errorf("%w: %q has a relative segment", ErrInvalidPath, p)
		case strings.ContainsFunc(seg, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			return "", fmt.Errorf("%w: %q has a control character", ErrInvalidPath, p)
		}
	}
	return p, nil
}

// abs maps a client path to the server path.
func (c *Client) abs(p string) (string, error) {
	root, err := cleanAbs(c.root)
	if err != nil {
		return "", errs.Permanent(fmt.Errorf("zookeeper: root %q: %w", c.root, err))
	}
	q, err := cleanAbs(p)
	if err != nil {
		return "", errs.Permanent(fmt.Errorf("zookeeper: %w", err))
	}
	if root == "/" {
		return q, nil
	}
	if q == "/" {
		return root, nil
	}
	return root + q, nil
}

// rel maps a server path back to a client path.
func (c *Client) rel(p string) string {
	if c.root == "/" {
		return p
	}
	if p == c.root {
		return "/"
	}
	return strings.TrimPrefix(p, c.root)
}

// --- calls -----------------------------------------------------------------

// call runs a blocking library call, giving up when ctx ends (the call then
// completes in the background; its result is dropped).
func call[T any](ctx context.Context, c *Client, fn func() (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, context.Cause(ctx)
	}
	if c.closed() {
		return zero, ErrClosed
	}
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := fn()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return zero, context.Cause(ctx)
	}
}

// wrap names the operation and path and classifies the error.
func (c *Client) wrap(op, p string, err error) error {
	if err == nil {
		return nil
	}
	if errs.ClassOf(err) == errs.ClassPermanent {
		return fmt.Errorf("zookeeper %s %s: %w", op, p, err)
	}
	e := fmt.Errorf("zookeeper %s %s: %w", op, p, err)
	switch {
	case errors.Is(err, zk.ErrNoNode), errors.Is(err, zk.ErrNodeExists),
		errors.Is(err, zk.ErrBadVersion), errors.Is(err, zk.ErrNotEmpty):
		return e
	case errors.Is(err, zk.ErrNoAuth), errors.Is(err, zk.ErrInvalidACL), errors.Is(err, zk.ErrAuthFailed),
		errors.Is(err, zk.ErrInvalidPath), errors.Is(err, ErrInvalidPath), errors.Is(err, ErrTooLarge),
		errors.Is(err, zk.ErrBadArguments), errors.Is(err, zk.ErrNoChildrenForEphemerals),
		errors.Is(err, zk.ErrInvalidFlags):
		return errs.Permanent(e)
	}
	return errs.Transient(e)
}

func checkSize(data []byte) error {
	if len(data) > MaxDataSize {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(data), MaxDataSize)
	}
	return nil
}

// Get returns the data and stat of a znode.
func (c *Client) Get(ctx context.Context, p string) ([]byte, Stat, error) {
	a, err := c.abs(p)
	if err != nil {
		return nil, Stat{}, err
	}
	type r struct {
		b []byte
		s *zk.Stat
	}
	res, err := call(ctx, c, func() (r, error) {
		b, s, err := c.c.conn.Get(a)
		return r{b, s}, err
	})
	if err != nil {
		return nil, Stat{}, c.wrap("get", p, err)
	}
	return res.b, statOf(res.s), nil
}

// Set replaces the data of a znode at the given version (AnyVersion: any).
func (c *Client) Set(ctx context.Context, p string, data []byte, version int32) (Stat, error) {
	a, err := c.abs(p)
	if err != nil {
		return Stat{}, err
	}
	if err := checkSize(data); err != nil {
		return Stat{}, c.wrap("set", p, err)
	}
	s, err := call(ctx, c, func() (*zk.Stat, error) { return c.c.conn.Set(a, data, version) })
	if err != nil {
		return Stat{}, c.wrap("set", p, err)
	}
	return statOf(s), nil
}

// Create makes a znode, creating missing parents as empty persistent nodes,
// and returns the path created (with the sequence number for sequential
// modes), relative to the root.
func (c *Client) Create(ctx context.Context, p string, data []byte, mode CreateMode) (string, error) {
	a, err := c.abs(p)
	if err != nil {
		return "", err
	}
	if a == "/" {
		return "", c.wrap("create", p, ErrExists)
	}
	if err := checkSize(data); err != nil {
		return "", c.wrap("create", p, err)
	}
	create := func() (string, error) {
		return call(ctx, c, func() (string, error) { return c.c.conn.Create(a, data, int32(mode), c.c.acl) })
	}
	for attempt := 0; ; attempt++ {
		created, err := create()
		if err == nil {
			return c.rel(created), nil
		}
		if !errors.Is(err, zk.ErrNoNode) || attempt == 5 {
			return "", c.wrap("create", p, err)
		}
		// A parent is missing: create the chain (someone may delete it
		// again concurrently; hence the bounded retry).
		if err := c.createParents(ctx, path.Dir(a)); err != nil {
			return "", c.wrap("create", p, err)
		}
	}
}

func (c *Client) createParents(ctx context.Context, dir string) error {
	if dir == "/" {
		return nil
	}
	cur := ""
	for _, seg := range strings.Split(dir[1:], "/") {
		cur += "/" + seg
		_, err := call(ctx, c, func() (string, error) { return c.c.conn.Create(cur, nil, 0, c.c.acl) })
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return err
		}
	}
	return nil
}

// Delete removes a znode at the given version (AnyVersion: any).
func (c *Client) Delete(ctx context.Context, p string, version int32) error {
	a, err := c.abs(p)
	if err != nil {
		return err
	}
	_, err = call(ctx, c, func() (struct{}, error) { return struct{}{}, c.c.conn.Delete(a, version) })
	return c.wrap("delete", p, err)
}

// DeleteRecursive removes a znode and everything below it, children first.
// A node that is already gone, or that disappears meanwhile (another client
// deleting the same tree), counts as deleted, so the call is idempotent.
// The whole tree ("/") and ZooKeeper's own "/zookeeper" are refused.
func (c *Client) DeleteRecursive(ctx context.Context, p string) error {
	a, err := c.abs(p)
	if err != nil {
		return err
	}
	if a == "/" || a == "/zookeeper" || strings.HasPrefix(a, "/zookeeper/") {
		return errs.Permanent(fmt.Errorf("zookeeper delete-recursive %s: refusing to delete %s", p, a))
	}
	return c.deleteTree(ctx, p, a)
}

func (c *Client) deleteTree(ctx context.Context, p, a string) error {
	for attempt := 0; ; attempt++ {
		kids, err := call(ctx, c, func() ([]string, error) {
			k, _, err := c.c.conn.Children(a)
			return k, err
		})
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if err != nil {
			return c.wrap("delete-recursive", p, err)
		}
		for _, k := range kids {
			if err := c.deleteTree(ctx, path.Join(p, k), a+"/"+k); err != nil {
				return err
			}
		}
		_, err = call(ctx, c, func() (struct{}, error) { return struct{}{}, c.c.conn.Delete(a, -1) })
		switch {
		case err == nil, errors.Is(err, zk.ErrNoNode):
			return nil
		case errors.Is(err, zk.ErrNotEmpty) && attempt < 10:
			// Somebody added a child meanwhile: go round again.
			continue
		default:
			return c.wrap("delete-recursive", p, err)
		}
	}
}

// Exists reports whether a znode exists, with its stat when it does.
func (c *Client) Exists(ctx context.Context, p string) (bool, Stat, error) {
	a, err := c.abs(p)
	if err != nil {
		return false, Stat{}, err
	}
	type r struct {
		ok bool
		s  *zk.Stat
	}
	res, err := call(ctx, c, func() (r, error) {
		ok, s, err := c.c.conn.Exists(a)
		return r{ok, s}, err
	})
	if err != nil {
		return false, Stat{}, c.wrap("exists", p, err)
	}
	if !res.ok {
		return false, Stat{}, nil
	}
	return true, statOf(res.s), nil
}

// Children returns the names of a znode's children, sorted.
func (c *Client) Children(ctx context.Context, p string) ([]string, Stat, error) {
	a, err := c.abs(p)
	if err != nil {
		return nil, Stat{}, err
	}
	type r struct {
		k []string
		s *zk.Stat
	}
	res, err := call(ctx, c, func() (r, error) {
		k, s, err := c.c.conn.Children(a)
		return r{k, s}, err
	})
	if err != nil {
		return nil, Stat{}, c.wrap("children", p, err)
	}
	sort.Strings(res.k)
	return res.k, statOf(res.s), nil
}

// ExistsW is Exists plus a one-shot watch for the node's creation, deletion
// or data change.
func (c *Client) ExistsW(ctx context.Context, p string) (bool, Stat, <-chan WatchEvent, error) {
	a, err := c.abs(p)
	if err != nil {
		return false, Stat{}, nil, err
	}
	type r struct {
		ok bool
		s  *zk.Stat
		ch <-chan zk.Event
	}
	res, err := call(ctx, c, func() (r, error) {
		ok, s, ch, err := c.c.conn.ExistsW(a)
		return r{ok, s, ch}, err
	})
	if err != nil {
		return false, Stat{}, nil, c.wrap("exists", p, err)
	}
	w := c.watch(res.ch)
	if !res.ok {
		return false, Stat{}, w, nil
	}
	return true, statOf(res.s), w, nil
}

// ChildrenW is Children plus a one-shot watch for a change of the children
// or the node's deletion.
func (c *Client) ChildrenW(ctx context.Context, p string) ([]string, Stat, <-chan WatchEvent, error) {
	a, err := c.abs(p)
	if err != nil {
		return nil, Stat{}, nil, err
	}
	type r struct {
		k  []string
		s  *zk.Stat
		ch <-chan zk.Event
	}
	res, err := call(ctx, c, func() (r, error) {
		k, s, ch, err := c.c.conn.ChildrenW(a)
		return r{k, s, ch}, err
	})
	if err != nil {
		return nil, Stat{}, nil, c.wrap("children", p, err)
	}
	sort.Strings(res.k)
	return res.k, statOf(res.s), c.watch(res.ch), nil
}

// watch converts a library watch channel. The library always delivers one
// event (a real one, or "not watching" on expiry or close).
func (c *Client) watch(in <-chan zk.Event) <-chan WatchEvent {
	out := make(chan WatchEvent, 1)
	go func() {
		defer close(out)
		ev, ok := <-in
		if !ok {
			out <- WatchEvent{Type: WatchNotWatching, Err: ErrClosed}
			return
		}
		we := WatchEvent{Path: c.rel(ev.Path), Err: ev.Err}
		switch ev.Type {
		case zk.EventNodeCreated:
			we.Type = WatchNodeCreated
		case zk.EventNodeDeleted:
			we.Type = WatchNodeDeleted
		case zk.EventNodeDataChanged:
			we.Type = WatchDataChanged
		case zk.EventNodeChildrenChanged:
			we.Type = WatchChildrenChanged
		default:
			we.Type = WatchNotWatching
			if we.Err == nil {
				we.Err = errors.New("watch removed")
			}
		}
		out <- we
	}()
	return out
}

// ServiceNodePath returns the ZooKeeper node of a DC/OS service, following
// universe-semantics.md section 6: for service name S, E = S without its
// leading "/" and with every other "/" replaced by "__"; the node is
// "/dcos-service-E" (absolute: use it on c.At("/")).
func ServiceNodePath(service string) string {
	e := strings.ReplaceAll(strings.TrimPrefix(service, "/"), "/", "__")
	return "/dcos-service-" + e
}
