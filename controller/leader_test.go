package controller_test

import (
	"context"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/clients/zookeeper"
	"github.com/universe-operator/universe-operator/controller"
	"github.com/universe-operator/universe-operator/internal/testenv"
)

// TestElectionLeader: two candidates on a real ZooKeeper; exactly one is
// the leader gate's "leader"; when it resigns the other takes over and its
// Changed channel fires.
func TestElectionLeader(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := newElection(ctx, t, "/uo-test")
	cand1, l1, l2 := e.cand1, e.l1, e.l2
	waitTrue(t, "two knows the leader", func() bool { return l2.LeaderID() == "one" })
	if l2.IsLeader() {
		t.Fatal("two leaders")
	}
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	if err := cand1.Resign(rctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l2.Changed():
	case <-time.After(20 * time.Second):
		t.Fatal("no change signal")
	}
	waitTrue(t, "two leads", l2.IsLeader)
	if l1.IsLeader() {
		t.Fatal("one still leads after resigning")
	}
	if l2.LeaderID() != "two" {
		t.Fatalf("leader id %q", l2.LeaderID())
	}
}

// election is two candidates on a real ZooKeeper under root: "one" leads
// (waited for), "two" campaigns after it.
type election struct {
	cand1, cand2 *zookeeper.Candidate
	l1, l2       *controller.ElectionLeader
}

func newElection(ctx context.Context, t *testing.T, root string) election {
	t.Helper()
	zk := testenv.StartZooKeeper(t)
	connect := func() *zookeeper.Client {
		c, err := zookeeper.Connect(ctx, []string{zk.Addr}, zookeeper.WithRoot(root),
			zookeeper.WithSessionTimeout(4*time.Second), zookeeper.WithLogger(testLogger(t)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	var e election
	var err error
	if e.cand1, err = zookeeper.Campaign(ctx, connect(), zookeeper.ElectionOptions{ID: "one"}); err != nil {
		t.Fatal(err)
	}
	e.l1 = controller.NewElectionLeader(ctx, e.cand1)
	waitTrue(t, "one leads", e.l1.IsLeader)
	if e.cand2, err = zookeeper.Campaign(ctx, connect(), zookeeper.ElectionOptions{ID: "two"}); err != nil {
		t.Fatal(err)
	}
	e.l2 = controller.NewElectionLeader(ctx, e.cand2)
	return e
}

func waitTrue(t *testing.T, what string, f func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !f() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
