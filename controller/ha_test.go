package controller_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/controller"
)

// TestElectionLeaderWriteFence: a write context exists only while the term
// is valid, is bounded by the lease, and ends the moment the term ends; a
// follower gets none.
func TestElectionLeaderWriteFence(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := newElection(ctx, t, "/uo-fence")
	cand1, l1, l2 := e.cand1, e.l1, e.l2

	if _, _, err := l2.WriteContext(ctx); !errors.Is(err, controller.ErrNotLeader) {
		t.Fatalf("follower's write context: %v", err)
	}
	if !l2.LeaderSince().IsZero() {
		t.Fatal("a follower reports a term")
	}
	wctx, wcancel, err := l1.WriteContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer wcancel()
	term := cand1.Term()
	dl, ok := wctx.Deadline()
	if !ok || dl.After(term.Deadline()) || time.Until(dl) > 4*time.Second {
		t.Fatalf("write deadline %v (ok %t), lease %v", dl, ok, term.Deadline())
	}
	if since := l1.LeaderSince(); since.IsZero() || since.After(time.Now()) {
		t.Fatalf("leader since %v", since)
	}
	// Resigning ends the term: the write context ends at once.
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	if err := cand1.Resign(rctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-wctx.Done():
		if !errors.Is(context.Cause(wctx), controller.ErrNotLeader) {
			t.Fatalf("cause %v", context.Cause(wctx))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the write context outlived the term")
	}
	if _, _, err := l1.WriteContext(ctx); !errors.Is(err, controller.ErrNotLeader) {
		t.Fatalf("after resigning: %v", err)
	}
	waitTrue(t, "two leads", l2.IsLeader)
	if _, c2cancel, err := l2.WriteContext(ctx); err != nil {
		t.Fatalf("new leader: %v", err)
	} else {
		c2cancel()
	}
}
