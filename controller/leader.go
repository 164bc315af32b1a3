package controller

import (
	"context"
	"sync"
	"time"

	"github.com/universe-operator/universe-operator/clients/zookeeper"
)

// ElectionLeader adapts a ZooKeeper election candidate (clients/zookeeper
// Campaign) to Leader: this replica writes only while its term is valid
// (checked right before every write), and Changed fires when a term starts
// or ends. Issue 6 may bound each write by the term's Deadline/Context.
type ElectionLeader struct {
	cand    *zookeeper.Candidate
	changed chan struct{}

	mu       sync.Mutex
	leaderID string
}

// NewElectionLeader follows cand until ctx ends.
func NewElectionLeader(ctx context.Context, cand *zookeeper.Candidate) *ElectionLeader {
	l := &ElectionLeader{cand: cand, changed: make(chan struct{}, 1)}
	go l.follow(ctx)
	go l.watchID(ctx)
	return l
}

// IsLeader implements Leader.
func (l *ElectionLeader) IsLeader() bool { return l.cand.Term() != nil }

// LeaderID implements Leader (refreshed every few seconds).
func (l *ElectionLeader) LeaderID() string {
	if l.IsLeader() {
		return l.cand.ID()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.leaderID
}

// Changed implements Leader.
func (l *ElectionLeader) Changed() <-chan struct{} { return l.changed }

func (l *ElectionLeader) signal() {
	select {
	case l.changed <- struct{}{}:
	default:
	}
}

func (l *ElectionLeader) follow(ctx context.Context) {
	for {
		term, err := l.cand.Wait(ctx)
		if err != nil {
			return
		}
		l.signal()
		select {
		case <-term.Lost():
			l.signal()
		case <-ctx.Done():
			return
		}
	}
}

func (l *ElectionLeader) watchID(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		id, err := l.cand.LeaderID(rctx)
		cancel()
		if err == nil {
			l.mu.Lock()
			l.leaderID = id
			l.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
