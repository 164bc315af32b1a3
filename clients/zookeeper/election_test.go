package zookeeper

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes the test binary act as a lone candidate process on the
// ZooKeeper it names, under the root in helperRootEnv.
const (
	helperEnv     = "UO_ZK_HELPER_CANDIDATE"
	helperRootEnv = "UO_ZK_HELPER_ROOT"
)

func TestMain(m *testing.M) {
	if addr := os.Getenv(helperEnv); addr != "" {
		os.Exit(helperCandidate(addr))
	}
	os.Exit(m.Run())
}

// helperCandidate campaigns and prints "LEADER" / "LOST" lines until killed.
func helperCandidate(addr string) int {
	ctx := context.Background()
	opts := []Option{WithLogger(testLogger("child"))}
	if root := os.Getenv(helperRootEnv); root != "" {
		opts = append(opts, WithRoot(root))
	}
	c, err := Connect(ctx, []string{addr}, opts...)
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	cand, err := Campaign(ctx, c, ElectionOptions{ID: "child"})
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	for {
		term, err := cand.Wait(ctx)
		if err != nil {
			fmt.Println("ERROR", err)
			return 1
		}
		fmt.Println("LEADER")
		<-term.Lost()
		fmt.Println("LOST")
	}
}

func campaign(t *testing.T, c *Client, id string, opts ...func(*ElectionOptions)) *Candidate {
	t.Helper()
	o := ElectionOptions{ID: id}
	for _, f := range opts {
		f(&o)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cand, err := Campaign(ctx, c, o)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		<-cand.Done()
	})
	return cand
}

// leaders returns the candidates that believe they lead.
func leaders(cands ...*Candidate) []*Candidate {
	var out []*Candidate
	for _, c := range cands {
		if c.IsLeader() {
			out = append(out, c)
		}
	}
	return out
}

// waitOneLeader waits until exactly one candidate leads and returns it.
func waitOneLeader(t *testing.T, within time.Duration, cands ...*Candidate) *Candidate {
	t.Helper()
	var l *Candidate
	eventually(t, within, "exactly one leader", func() bool {
		ls := leaders(cands...)
		if len(ls) > 1 {
			t.Fatalf("%d leaders at once", len(ls))
		}
		if len(ls) == 1 {
			l = ls[0]
			return true
		}
		return false
	})
	return l
}

// queueLen counts election nodes; -1 when c cannot tell right now (it may
// be reconnecting: callers poll).
func queueLen(t *testing.T, c *Client) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	kids, _, err := c.Children(ctx, DefaultElectionPath)
	if errors.Is(err, ErrNotFound) {
		return 0
	}
	if err != nil {
		t.Logf("queue length: %v", err)
		return -1
	}
	return len(sortQueue(kids))
}

func other(a, b, x *Candidate) *Candidate {
	if x == a {
		return b
	}
	return a
}

// stallWatch watches a healthy client's session from now on; the returned
// func reports whether its connection or session broke meanwhile. A working
// ZooKeeper never drops a connected client that pings it, so a break marks
// a measurement during which the server (or the host) stalled.
func stallWatch(c *Client) func() bool {
	s0, ch := c.Session()
	var broke atomic.Bool
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-ch:
				var s Session
				s, ch = c.Session()
				if s.State != StateHasSession || s.ID != s0.ID {
					broke.Store(true)
				}
			}
		}
	}()
	return func() bool {
		close(stop)
		return broke.Load()
	}
}

// requireTakeover runs a takeover measurement and requires it under 15 s.
// Only an attempt during which ZooKeeper demonstrably stalled (stallWatch)
// may be repeated, at most three attempts in all: a slow takeover on a
// working server fails at once.
func requireTakeover(t *testing.T, what string, attempt func(t *testing.T, n int) (took time.Duration, stalled bool)) {
	t.Helper()
	for n := 1; ; n++ {
		took, stalled := attempt(t, n)
		note := ""
		if stalled {
			note = "; ZooKeeper stalled meanwhile (it dropped the follower's healthy connection)"
		}
		t.Logf("%s: takeover in %s (session timeout %s)%s", what, took.Round(time.Millisecond), DefaultSessionTimeout, note)
		if took < 15*time.Second {
			return
		}
		if !stalled || n == 3 {
			t.Fatalf("%s: takeover took %s, want < 15s", what, took)
		}
	}
}

// waitFor polls cond for up to within and returns how long it took.
func waitFor(within time.Duration, cond func() bool) time.Duration {
	start := time.Now()
	for !cond() && time.Since(start) < within {
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

func TestElectionTakeoverAfterSessionLoss(t *testing.T) {
	zk := startZK(t)
	requireTakeover(t, "leader's connection died", func(t *testing.T, n int) (time.Duration, bool) {
		root := fmt.Sprint("/uo-", n)
		pa, pb := newProxy(t, zk.Addr), newProxy(t, zk.Addr)
		ca := connect(t, pa.Addr(), "a", WithRoot(root))
		cb := connect(t, pb.Addr(), "b", WithRoot(root))
		a := campaign(t, ca, "host-a:8080")
		b := campaign(t, cb, "host-b:8080")

		leader := waitOneLeader(t, 20*time.Second, a, b)
		follower := other(a, b, leader)
		eventually(t, 10*time.Second, "both queued", func() bool { return queueLen(t, ca) == 2 })
		// Stable: still exactly one for a while, and the follower names the leader.
		for range 10 {
			if ls := leaders(a, b); len(ls) != 1 || ls[0] != leader {
				t.Fatalf("leadership not stable: %v", ls)
			}
			time.Sleep(50 * time.Millisecond)
		}
		id, err := follower.LeaderID(context.Background())
		if err != nil || id != leader.ID() {
			t.Fatalf("follower sees leader %q (%v), want %q", id, err, leader.ID())
		}
		oldTerm := leader.Term()

		// The leader's host vanishes: connection dropped, no session close.
		p, fc := pa, cb
		if leader == b {
			p, fc = pb, ca
		}
		stalled := stallWatch(fc)
		killed := time.Now()
		p.Cut()
		takeover := waitFor(40*time.Second, follower.IsLeader)
		if !follower.IsLeader() {
			t.Fatalf("follower did not take over within %s", takeover)
		}
		newTerm := follower.Term()
		t.Logf("old leader stepped down %s after its connection died (%v)",
			oldTerm.Ended().Sub(killed).Round(time.Millisecond), oldTerm.Reason())
		if leader.IsLeader() {
			t.Fatal("old leader still believes it leads")
		}
		if !errors.Is(oldTerm.Reason(), ErrLeaseExpired) {
			t.Fatalf("old term ended with %v, want lease expiry", oldTerm.Reason())
		}
		if !oldTerm.Ended().Before(newTerm.Started()) {
			t.Fatalf("terms overlap: old ended %s, new started %s", oldTerm.Ended(), newTerm.Started())
		}

		// The old leader comes back: its session is gone, so it queues again
		// with a new one behind the new leader.
		p.Restore()
		eventually(t, 30*time.Second, "old leader rejoins", func() bool { return queueLen(t, ca) == 2 })
		time.Sleep(time.Second)
		if ls := leaders(a, b); len(ls) != 1 || ls[0] != follower {
			t.Fatalf("after rejoin leaders = %v", ls)
		}
		if id, _ := leader.LeaderID(context.Background()); id != follower.ID() {
			t.Fatalf("rejoined candidate names %q as leader", id)
		}
		return takeover, stalled()
	})
}

func TestElectionTakeoverAfterProcessKill(t *testing.T) {
	zk := startZK(t)
	requireTakeover(t, "SIGKILL of the leader process", func(t *testing.T, n int) (time.Duration, bool) {
		root := fmt.Sprint("/uo-", n)
		child := exec.Command(os.Args[0], "-test.run=^$")
		child.Env = append(os.Environ(), helperEnv+"="+zk.Addr, helperRootEnv+"="+root)
		child.Stderr = os.Stderr
		out, err := child.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := child.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = child.Process.Kill()
			_ = child.Wait()
		})
		lines := make(chan string, 16)
		go func() {
			s := bufio.NewScanner(out)
			for s.Scan() {
				lines <- s.Text()
			}
			close(lines)
		}()
		select {
		case l := <-lines:
			if l != "LEADER" {
				t.Fatalf("child said %q", l)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("child process did not become leader")
		}

		c := connect(t, zk.Addr, "parent", WithRoot(root))
		me := campaign(t, c, "parent")
		eventually(t, 10*time.Second, "parent queued", func() bool { return queueLen(t, c) == 2 })
		if id, err := me.LeaderID(context.Background()); err != nil || id != "child" {
			t.Fatalf("leader id = %q %v", id, err)
		}
		time.Sleep(500 * time.Millisecond)
		if me.IsLeader() {
			t.Fatal("parent leads while the child does")
		}
		stalled := stallWatch(c)
		if err := child.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		takeover := waitFor(40*time.Second, me.IsLeader)
		if !me.IsLeader() {
			t.Fatalf("parent did not take over within %s", takeover)
		}
		return takeover, stalled()
	})
}

func TestElectionCloseAndResign(t *testing.T) {
	zk := startZK(t)
	ca := connect(t, zk.Addr, "a")
	cb := connect(t, zk.Addr, "b")
	a := campaign(t, ca, "a")
	b := campaign(t, cb, "b")
	leader := waitOneLeader(t, 20*time.Second, a, b)
	follower := other(a, b, leader)
	eventually(t, 10*time.Second, "both queued", func() bool { return queueLen(t, ca) == 2 })

	// Resign: immediate takeover.
	term := leader.Term()
	start := time.Now()
	if err := leader.Resign(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-term.Lost():
	default:
		t.Fatal("Resign returned before the term ended")
	}
	if !errors.Is(term.Reason(), ErrResigned) || !errors.Is(leader.Err(), ErrResigned) {
		t.Fatalf("reason %v / err %v", term.Reason(), leader.Err())
	}
	eventually(t, 5*time.Second, "takeover after resign", follower.IsLeader)
	t.Logf("takeover after resign: %s", time.Since(start).Round(time.Millisecond))
	if !term.Ended().Before(follower.Term().Started()) {
		t.Fatal("terms overlap after resign")
	}
	if _, err := leader.Wait(context.Background()); !errors.Is(err, ErrResigned) {
		t.Fatalf("Wait after resign: %v", err)
	}

	// The resigned process campaigns again and queues behind.
	again := campaign(t, leader.c, leader.ID())
	eventually(t, 10*time.Second, "rejoined", func() bool { return queueLen(t, ca) == 2 })

	// Closing the leader's client (no resign): its term ends before the
	// session is closed, and the other takes over at once.
	term = follower.Term()
	start = time.Now()
	follower.c.Close()
	if term.Valid() || follower.IsLeader() {
		t.Fatal("term still valid after Close returned")
	}
	eventually(t, 5*time.Second, "takeover after close", again.IsLeader)
	t.Logf("takeover after the leader closed its client: %s", time.Since(start).Round(time.Millisecond))
	if !term.Ended().Before(again.Term().Started()) {
		t.Fatal("terms overlap after close")
	}
	<-follower.Done()
	if !errors.Is(follower.Err(), ErrClosed) {
		t.Fatalf("campaign end = %v", follower.Err())
	}
}

func TestElectionMiddleCandidateDies(t *testing.T) {
	zk := startZK(t)
	ctx := context.Background()
	ca, cb, cc := connect(t, zk.Addr, "a"), connect(t, zk.Addr, "b"), connect(t, zk.Addr, "c")
	a := campaign(t, ca, "a")
	waitOneLeader(t, 20*time.Second, a)
	b := campaign(t, cb, "b")
	eventually(t, 10*time.Second, "b queued", func() bool { return queueLen(t, ca) == 2 })
	c := campaign(t, cc, "c")
	eventually(t, 10*time.Second, "c queued", func() bool { return queueLen(t, ca) == 3 })
	termA := a.Term()

	// b (the middle) dies: c must now watch a, and nothing else changes.
	cb.Close()
	<-b.Done()
	eventually(t, 10*time.Second, "b's node gone", func() bool { return queueLen(t, ca) == 2 })
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if a.Term() != termA || c.IsLeader() {
			t.Fatal("spurious leadership change after the middle candidate died")
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case <-termA.Lost():
		t.Fatal("leader's term ended")
	default:
	}
	// c really watches a now: when a goes, c leads.
	if err := a.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "c takes over", c.IsLeader)
	if id, _ := LeaderID(ctx, ca, DefaultElectionPath); id != "c" {
		t.Fatalf("leader id %q", id)
	}
}

func TestElectionZooKeeperOutage(t *testing.T) {
	zk := startZK(t)
	ca, cb := connect(t, zk.Addr, "a"), connect(t, zk.Addr, "b")
	a, b := campaign(t, ca, "a"), campaign(t, cb, "b")
	leader := waitOneLeader(t, 20*time.Second, a, b)
	eventually(t, 10*time.Second, "both queued", func() bool { return queueLen(t, ca) == 2 })
	term := leader.Term()

	stopped := time.Now()
	zk.Stop()
	select {
	case <-term.Lost():
	case <-time.After(DefaultSessionTimeout):
		t.Fatalf("leader did not step down within the session timeout (%s) of the outage", DefaultSessionTimeout)
	}
	stepDown := time.Since(stopped)
	t.Logf("leader stepped down %s after ZooKeeper stopped (lease %s): %v", stepDown.Round(time.Millisecond),
		DefaultSessionTimeout-DefaultSessionTimeout/4, term.Reason())
	// Nobody leads while ZooKeeper is down.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if ls := leaders(a, b); len(ls) != 0 {
			t.Fatalf("%s leads while ZooKeeper is down", ls[0].ID())
		}
		time.Sleep(50 * time.Millisecond)
	}

	if err := zk.Start(); err != nil {
		t.Fatal(err)
	}
	answering := time.Now() // Start returns once the server answers
	l := waitOneLeader(t, 30*time.Second, a, b)
	t.Logf("%s leads again %s after ZooKeeper answered again (down for %s)", l.ID(),
		time.Since(answering).Round(time.Millisecond), answering.Sub(stopped).Round(time.Millisecond))
	for range 20 {
		if len(leaders(a, b)) > 1 {
			t.Fatal("two leaders after the outage")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// interval is one term as seen from outside.
type interval struct {
	who        string
	start, end time.Time // end = Term.Ended (lease-aware)
	observed   time.Time // when a goroutine saw Lost close
	reason     error
}

func TestElectionTermsNeverOverlap(t *testing.T) {
	zk := startZK(t)
	const n = 3
	timeout := 4 * time.Second // short, to run many failovers
	var (
		mu        sync.Mutex
		intervals []interval
		proxies   [n]*proxy
		clients   [n]*Client
		cands     [n]*Candidate
	)
	var wg sync.WaitGroup
	// Every term is recorded (OnElected sees even those too short for Wait)
	// when a goroutine sees it lost.
	record := func(id string) func(*ElectionOptions) {
		return func(o *ElectionOptions) {
			o.OnElected = func(term *Term) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-term.Lost()
					mu.Lock()
					intervals = append(intervals, interval{who: id, start: term.Started(), end: term.Ended(),
						observed: time.Now(), reason: term.Reason()})
					mu.Unlock()
				}()
			}
		}
	}
	start := func(i int) {
		id := fmt.Sprint("cand-", i)
		clients[i] = connect(t, proxies[i].Addr(), id, WithSessionTimeout(timeout))
		cands[i] = campaign(t, clients[i], id, record(id))
	}
	for i := range n {
		proxies[i] = newProxy(t, zk.Addr)
		start(i)
	}
	index := func(c *Candidate) int {
		for i := range cands {
			if cands[i] == c {
				return i
			}
		}
		return -1
	}

	actions := []string{"cut", "resign", "cut", "close", "zk-outage", "cut", "resign"}
	for round, action := range actions {
		l := waitOneLeader(t, 30*time.Second, cands[:]...)
		i := index(l)
		t.Logf("round %d: %s leads; %s", round, l.ID(), action)
		switch action {
		case "cut":
			proxies[i].Cut()
			eventually(t, 30*time.Second, "another leader", func() bool {
				ls := leaders(cands[:]...)
				return len(ls) == 1 && ls[0] != l
			})
			proxies[i].Restore()
		case "resign":
			if err := l.Resign(context.Background()); err != nil {
				t.Fatal(err)
			}
			cands[i] = campaign(t, clients[i], l.ID(), record(l.ID()))
		case "close":
			clients[i].Close()
			start(i)
		case "zk-outage":
			// Longer than the session timeout: the leader must step down,
			// and nobody may lead until ZooKeeper is back.
			term := l.Term()
			zk.Stop()
			select {
			case <-term.Lost():
			case <-time.After(timeout):
				t.Fatal("leader did not step down within the session timeout of the outage")
			}
			for end := time.Now().Add(timeout / 2); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
				if ls := leaders(cands[:]...); len(ls) > 0 {
					t.Fatalf("%s leads while ZooKeeper is down", ls[0].ID())
				}
			}
			if err := zk.Start(); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitOneLeader(t, 30*time.Second, cands[:]...)
	// End every campaign so the last terms are recorded too.
	for _, c := range clients {
		c.Close()
	}
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	sort.Slice(intervals, func(i, j int) bool { return intervals[i].start.Before(intervals[j].start) })
	var b strings.Builder
	for _, iv := range intervals {
		fmt.Fprintf(&b, "\n  %s %s .. %s (Lost seen %s) %v", iv.who, iv.start.Format("15:04:05.000"),
			iv.end.Format("15:04:05.000"), iv.observed.Format("15:04:05.000"), iv.reason)
	}
	t.Logf("%d terms:%s", len(intervals), b.String())
	if len(intervals) < len(actions)+1 {
		t.Fatalf("only %d terms recorded for %d forced failovers", len(intervals), len(actions))
	}
	for k := 1; k < len(intervals); k++ {
		prev, next := intervals[k-1], intervals[k]
		if !prev.end.Before(next.start) {
			t.Errorf("overlap: %s until %s, %s from %s", prev.who, prev.end, next.who, next.start)
		}
		// Where the failover went through a lease expiry (the leader could
		// not reach ZooKeeper), even the moment a goroutine saw Lost must
		// come before the successor starts: the margin is 1s here.
		if errors.Is(prev.reason, ErrLeaseExpired) && !prev.observed.Before(next.start) {
			t.Errorf("%s's Lost fired at %s, after %s started at %s", prev.who, prev.observed, next.who, next.start)
		}
	}
}

func TestElectionLeaseRenews(t *testing.T) {
	zk := startZK(t)
	const T = 4 * time.Second
	c := connect(t, zk.Addr, "renew", WithSessionTimeout(T))
	cand := campaign(t, c, "renew")
	term, err := cand.Wait(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	first := term.Deadline()
	// Hold the term for over two session timeouts: only renewals make it last.
	deadline := time.Now().Add(9 * time.Second)
	for time.Now().Before(deadline) {
		if !term.Valid() || cand.Term() != term {
			t.Fatalf("term ended after %s: %v", time.Since(term.Started()), term.Reason())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !term.Deadline().After(first.Add(5 * time.Second)) {
		t.Fatalf("lease not extended: first %s, now %s", first, term.Deadline())
	}
	if d := time.Until(term.Deadline()); d > T-T/4 {
		t.Fatalf("lease reaches %s ahead, beyond T-margin", d)
	}
}

func TestSortQueue(t *testing.T) {
	got := sortQueue([]string{"n_b_0000000010", "n_a_0000000002", "foreign", "n_c_x", "lock-0000000001",
		"n_d_0000000100", "n_e_000001"})
	want := "n_a_0000000002,n_b_0000000010,n_d_0000000100"
	if strings.Join(got, ",") != want {
		t.Fatalf("sortQueue = %v, want %s", got, want)
	}
}
