package zookeeper

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/errs"
)

func TestClientBasics(t *testing.T) {
	zk := startZK(t)
	c := connect(t, zk.Addr, "basics", WithRoot("/uo/test"))
	ctx := context.Background()

	if got := c.Root(); got != "/uo/test" {
		t.Fatalf("root = %q", got)
	}
	// Create makes missing parents.
	p, err := c.Create(ctx, "/a/b/c", []byte("one"), Persistent)
	if err != nil || p != "/a/b/c" {
		t.Fatalf("create = %q, %v", p, err)
	}
	if _, err := c.Create(ctx, "/a/b/c", nil, Persistent); !errors.Is(err, ErrExists) {
		t.Fatalf("create twice: want ErrExists, got %v", err)
	}
	// The chroot is real: the node is at /uo/test/a/b/c on the server.
	abs := c.At("/")
	if b, _, err := abs.Get(ctx, "/uo/test/a/b/c"); err != nil || string(b) != "one" {
		t.Fatalf("absolute get = %q, %v", b, err)
	}
	b, st, err := c.Get(ctx, "/a/b/c")
	if err != nil || string(b) != "one" || st.Version != 0 || st.DataLength != 3 {
		t.Fatalf("get = %q %+v %v", b, st, err)
	}
	st, err = c.Set(ctx, "/a/b/c", []byte("two"), 0)
	if err != nil || st.Version != 1 {
		t.Fatalf("set = %+v %v", st, err)
	}
	if _, err := c.Set(ctx, "/a/b/c", []byte("three"), 0); !errors.Is(err, ErrBadVersion) {
		t.Fatalf("stale set: want ErrBadVersion, got %v", err)
	}
	if errs.ClassOf(err) == errs.ClassPermanent {
		t.Fatal("a version conflict is not permanent")
	}
	if _, err := c.Set(ctx, "/a/b/c", []byte("three"), AnyVersion); err != nil {
		t.Fatal(err)
	}
	ok, st, err := c.Exists(ctx, "/a/b")
	if err != nil || !ok || st.NumChildren != 1 {
		t.Fatalf("exists = %v %+v %v", ok, st, err)
	}
	ok, _, err = c.Exists(ctx, "/nope")
	if err != nil || ok {
		t.Fatalf("exists missing = %v %v", ok, err)
	}
	for _, n := range []string{"z", "m", "a"} {
		if _, err := c.Create(ctx, "/kids/"+n, nil, Persistent); err != nil {
			t.Fatal(err)
		}
	}
	kids, _, err := c.Children(ctx, "/kids")
	if err != nil || strings.Join(kids, ",") != "a,m,z" {
		t.Fatalf("children = %v %v", kids, err)
	}
	if err := c.Delete(ctx, "/kids", AnyVersion); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("delete non-empty: want ErrNotEmpty, got %v", err)
	}
	if _, _, err := c.Get(ctx, "/missing"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "/missing") {
		t.Fatalf("get missing: want ErrNotFound naming the path, got %v", err)
	}
	if err := c.Delete(ctx, "/a/b/c", 5); !errors.Is(err, ErrBadVersion) {
		t.Fatalf("delete at wrong version: %v", err)
	}
	if err := c.Delete(ctx, "/a/b/c", 2); err != nil {
		t.Fatal(err)
	}
	// Sequential nodes come back with their sequence, relative to the root.
	seq, err := c.Create(ctx, "/seq/n_", nil, PersistentSequential)
	if err != nil || !strings.HasPrefix(seq, "/seq/n_") || len(seq) != len("/seq/n_")+10 {
		t.Fatalf("sequential create = %q %v", seq, err)
	}
}

func TestClientErrors(t *testing.T) {
	zk := startZK(t)
	c := connect(t, zk.Addr, "errors")
	ctx := context.Background()

	for _, p := range []string{"", "rel", "/a//b", "/a/./b", "/a/../b", "/a\x00b"} {
		_, _, err := c.Get(ctx, p)
		if !errors.Is(err, ErrInvalidPath) || !errs.IsPermanent(err) {
			t.Errorf("path %q: want permanent ErrInvalidPath, got %v", p, err)
		}
	}
	big := bytes.Repeat([]byte("x"), MaxDataSize+1)
	if _, err := c.Create(ctx, "/big", big, Persistent); !errors.Is(err, ErrTooLarge) || !errs.IsPermanent(err) {
		t.Fatalf("oversize create: %v", err)
	}
	// Just under the limit goes through (the client's buffers allow it).
	ok := bytes.Repeat([]byte("y"), MaxDataSize)
	if _, err := c.Create(ctx, "/nearly-big", ok, Persistent); err != nil {
		t.Fatalf("create %d bytes: %v", len(ok), err)
	}
	if b, _, err := c.Get(ctx, "/nearly-big"); err != nil || !bytes.Equal(b, ok) {
		t.Fatalf("get big: %d bytes, %v", len(b), err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := c.Get(cctx, "/nearly-big"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ctx: %v", err)
	}
	for _, p := range []string{"/", "/zookeeper", "/zookeeper/quota"} {
		if err := c.DeleteRecursive(ctx, p); !errs.IsPermanent(err) {
			t.Errorf("delete-recursive %s must be refused, got %v", p, err)
		}
	}
	c.Close()
	if _, _, err := c.Get(ctx, "/nearly-big"); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
	if s, _ := c.Session(); s.State != StateClosed {
		t.Fatalf("state after close = %s", s.State)
	}
}

func TestConnectFailures(t *testing.T) {
	// A port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	_, err = Connect(ctx, []string{addr}, WithLogger(testLogger("nobody")))
	if err == nil || errs.ClassOf(err) != errs.ClassTransient || !strings.Contains(err.Error(), addr) {
		t.Fatalf("want a transient error naming %s, got %v", addr, err)
	}
	for name, servers := range map[string][]string{"none": nil, "blank": {" "}, "url": {"zk://x:1/a"}} {
		if _, err := Connect(context.Background(), servers); !errs.IsPermanent(err) {
			t.Errorf("%s: want permanent error, got %v", name, err)
		}
	}
	if _, err := Connect(context.Background(), []string{addr}, WithSessionTimeout(100*time.Millisecond)); !errs.IsPermanent(err) {
		t.Errorf("tiny session timeout: %v", err)
	}
	if _, err := Connect(context.Background(), []string{addr}, WithRoot("relative")); !errs.IsPermanent(err) {
		t.Errorf("relative root: %v", err)
	}
}

func TestNegotiatedSessionTimeout(t *testing.T) {
	zk := startZK(t) // maxSessionTimeout=60000, minSessionTimeout=1000
	c := connect(t, zk.Addr, "t10")
	if s, _ := c.Session(); s.State != StateHasSession || s.Timeout != DefaultSessionTimeout || s.ID == 0 {
		t.Fatalf("default session = %+v", s)
	}
	// The server clamps 120 s to its maximum: the client must know.
	c2 := connect(t, zk.Addr, "t120", WithSessionTimeout(120*time.Second))
	if s, _ := c2.Session(); s.Timeout != 60*time.Second {
		t.Fatalf("negotiated timeout = %s, want the server's 60s", s.Timeout)
	}
}

func TestDigestAuth(t *testing.T) {
	zk := startZK(t)
	ctx := context.Background()
	t.Setenv("UO_TEST_ZK_AUTH", "operator:s3cret")
	owner := connect(t, zk.Addr, "owner", WithDigestAuthEnv("UO_TEST_ZK_AUTH"), WithRoot("/secure"))
	if _, err := owner.Create(ctx, "/x", []byte("mine"), Persistent); err != nil {
		t.Fatal(err)
	}
	if b, _, err := owner.Get(ctx, "/x"); err != nil || string(b) != "mine" {
		t.Fatalf("owner get: %q %v", b, err)
	}
	other := connect(t, zk.Addr, "other")
	if _, _, err := other.Get(ctx, "/secure/x"); !errs.IsPermanent(err) || !strings.Contains(err.Error(), "not authenticated") {
		t.Fatalf("other client: want permanent no-auth error, got %v", err)
	}
	// Same credentials from a file.
	f := filepath.Join(t.TempDir(), "zk-auth")
	if err := os.WriteFile(f, []byte("operator:s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	same := connect(t, zk.Addr, "same", WithDigestAuthFile(f))
	if b, _, err := same.Get(ctx, "/secure/x"); err != nil || string(b) != "mine" {
		t.Fatalf("file credentials: %q %v", b, err)
	}
	// Bad credentials: clear, permanent, and the secret is not echoed.
	if err := os.WriteFile(f, []byte("no-colon-s3cret"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Connect(ctx, []string{zk.Addr}, WithDigestAuthFile(f))
	if !errs.IsPermanent(err) || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), f) {
		t.Fatalf("bad credential file: %v", err)
	}
	_, err = Connect(ctx, []string{zk.Addr}, WithDigestAuthEnv("UO_TEST_ZK_UNSET"))
	if !errs.IsPermanent(err) || !strings.Contains(err.Error(), "UO_TEST_ZK_UNSET") {
		t.Fatalf("unset env: %v", err)
	}
}

func TestWatches(t *testing.T) {
	zk := startZK(t)
	c := connect(t, zk.Addr, "watch", WithRoot("/w"))
	ctx := context.Background()
	ok, _, w, err := c.ExistsW(ctx, "/n")
	if err != nil || ok {
		t.Fatalf("existsw: %v %v", ok, err)
	}
	if _, err := c.Create(ctx, "/n", nil, Persistent); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w:
		if ev.Type != WatchNodeCreated || ev.Path != "/n" {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no create event")
	}
	_, _, w, err = c.ChildrenW(ctx, "/n")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, "/n/k", nil, Ephemeral); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w:
		if ev.Type != WatchChildrenChanged {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no children event")
	}
	// Closing the client ends outstanding watches.
	_, _, w, err = c.ExistsW(ctx, "/n")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	select {
	case ev := <-w:
		if ev.Type != WatchNotWatching || ev.Err == nil {
			t.Fatalf("event after close %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watch not ended by close")
	}
}

func TestDeleteRecursive(t *testing.T) {
	zk := startZK(t)
	c := connect(t, zk.Addr, "delete", WithRoot("/uo"))
	ctx := context.Background()
	for _, p := range []string{"/a/b/c", "/a/b/d", "/a/e", "/a/b/c/deep/deeper", "/keep"} {
		if _, err := c.Create(ctx, p, []byte(p), Persistent); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Create(ctx, "/a/eph", nil, Ephemeral); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteRecursive(ctx, "/a"); err != nil {
		t.Fatal(err)
	}
	if ok, _, err := c.Exists(ctx, "/a"); err != nil || ok {
		t.Fatalf("/a still there: %v %v", ok, err)
	}
	if ok, _, _ := c.Exists(ctx, "/keep"); !ok {
		t.Fatal("sibling /keep was deleted")
	}
	// Idempotent.
	if err := c.DeleteRecursive(ctx, "/a"); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if err := c.DeleteRecursive(ctx, "/never/was"); err != nil {
		t.Fatalf("missing node: %v", err)
	}

	// Concurrent deleters of one wide tree all succeed.
	var paths []string
	for i := range 20 {
		for j := range 5 {
			paths = append(paths, fmt.Sprintf("/wide/%02d/%d", i, j))
		}
	}
	for _, p := range paths {
		if _, err := c.Create(ctx, p, nil, Persistent); err != nil {
			t.Fatal(err)
		}
	}
	others := []*Client{c, connect(t, zk.Addr, "d2", WithRoot("/uo")), connect(t, zk.Addr, "d3", WithRoot("/uo"))}
	var wg sync.WaitGroup
	errc := make(chan error, len(others))
	for _, o := range others {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- o.DeleteRecursive(ctx, "/wide")
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatalf("concurrent delete: %v", err)
		}
	}
	if ok, _, _ := c.Exists(ctx, "/wide"); ok {
		t.Fatal("/wide still there")
	}

	// The janitor's node, at the absolute root.
	abs := c.At("/")
	node := ServiceNodePath("/prod/kafka")
	if _, err := abs.Create(ctx, node+"/state/x", nil, Persistent); err != nil {
		t.Fatal(err)
	}
	if err := abs.DeleteRecursive(ctx, node); err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := abs.Exists(ctx, "/dcos-service-prod__kafka"); ok {
		t.Fatal("service node still there")
	}
}

func TestServiceNodePath(t *testing.T) {
	for in, want := range map[string]string{
		"kafka":            "/dcos-service-kafka",
		"/kafka":           "/dcos-service-kafka",
		"/prod/kafka":      "/dcos-service-prod__kafka",
		"prod/team/hdfs-1": "/dcos-service-prod__team__hdfs-1",
	} {
		if got := ServiceNodePath(in); got != want {
			t.Errorf("ServiceNodePath(%q) = %q, want %q", in, got, want)
		}
	}
}

// A server that accepts the connection but never answers the handshake must
// not stall the client for long: go-zookeeper alone would wait over a
// minute (10 x 2/3 of the session timeout, then no deadline at all).
func TestHandshakeStallIsBounded(t *testing.T) {
	zk := startZK(t)
	p := newProxy(t, zk.Addr)
	p.Silence()
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
		defer cancel()
		c, err := Connect(ctx, []string{p.Addr()}, WithLogger(testLogger("stall")))
		if err == nil {
			c.Close()
		}
		done <- err
	}()
	time.Sleep(time.Second) // the first handshake is now hanging
	p.Restore()
	if err := <-done; err != nil {
		t.Fatalf("connect after a stalled handshake: %v", err)
	}
	took := time.Since(start)
	t.Logf("connected %s after the first handshake stalled (cap %s)", took.Round(time.Millisecond), DefaultSessionTimeout/3)
	if took > 15*time.Second {
		t.Fatalf("took %s", took)
	}
}
