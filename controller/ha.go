package controller

import (
	"context"
	"errors"
	"time"
)

// ErrNotLeader is returned for an operation only the leader replica may do
// (a write to Marathon, a durable record, POST sync/rollback on a follower).
var ErrNotLeader = errors.New("this replica is not the leader")

// WriteFence is implemented by a Leader whose leadership is a lease
// (ElectionLeader): every write to Marathon is made under a context it
// returns, created only while the lease holds (checked right before the
// write) and ended with the lease (its deadline is the lease's current end,
// and it is cancelled the moment the term ends), so no write can start, or
// go on, after another replica may have become leader.
type WriteFence interface {
	WriteContext(ctx context.Context) (context.Context, context.CancelFunc, error)
}

// LeaderSince is optionally implemented by a Leader to say since when this
// replica leads (api.ControllerInfo.leaderSince).
type LeaderSince interface {
	LeaderSince() time.Time
}

// writeContext returns the context of one write: bounded by RequestTimeout
// and, with a WriteFence, by the leader's term. It fails with ErrNotLeader
// when this replica may not write now.
func (c *Controller) writeContext(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if f, ok := c.opts.Leader.(WriteFence); ok {
		tctx, tcancel, err := f.WriteContext(ctx)
		if err != nil {
			return nil, nil, err
		}
		wctx, cancel := context.WithTimeout(tctx, c.opts.RequestTimeout)
		return wctx, func() { cancel(); tcancel() }, nil
	}
	if !c.opts.Leader.IsLeader() {
		return nil, nil, ErrNotLeader
	}
	wctx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
	return wctx, cancel, nil
}

// WriteContext implements WriteFence: a context derived from ctx that ends
// at the term's current lease end or when the term ends, whichever comes
// first; ErrNotLeader when the term is not valid right now.
func (l *ElectionLeader) WriteContext(ctx context.Context) (context.Context, context.CancelFunc, error) {
	t := l.cand.Term()
	if t == nil || !t.Valid() {
		return nil, nil, ErrNotLeader
	}
	dctx, dcancel := context.WithDeadline(ctx, t.Deadline())
	wctx, cancel := context.WithCancelCause(dctx)
	stop := context.AfterFunc(t.Context(), func() { cancel(ErrNotLeader) })
	if !t.Valid() { // the term ended while the context was being made
		stop()
		cancel(ErrNotLeader)
		dcancel()
		return nil, nil, ErrNotLeader
	}
	return wctx, func() { stop(); cancel(context.Canceled); dcancel() }, nil
}

// LeaderSince implements LeaderSince: when the current term started (zero
// when not leading).
func (l *ElectionLeader) LeaderSince() time.Time {
	if t := l.cand.Term(); t != nil {
		return t.Started()
	}
	return time.Time{}
}
