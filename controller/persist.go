package controller

import (
	"context"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/universe-operator/universe-operator/state"
)

// persister writes records of one kind to the state store in the
// background, coalescing writes per key (the latest value wins; nil
// deletes), so workers never wait for an fsync.
type persister struct {
	store state.Store
	kind  string
	log   logrus.FieldLogger

	mu      sync.Mutex
	pending map[string][]byte
	order   []string
	wake    chan struct{}
}

func newPersister(store state.Store, kind string, log logrus.FieldLogger) *persister {
	return &persister{store: store, kind: kind, log: log, pending: map[string][]byte{}, wake: make(chan struct{}, 1)}
}

// put queues a write (nil value: delete).
func (p *persister) put(key string, value []byte) {
	if p == nil || p.store == nil {
		return
	}
	p.mu.Lock()
	if _, queued := p.pending[key]; !queued {
		p.order = append(p.order, key)
	}
	p.pending[key] = value
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// run writes queued records until ctx ends, then flushes what is left
// (bounded by a few seconds).
func (p *persister) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			p.flush(fctx)
			cancel()
			return
		case <-p.wake:
			p.flush(ctx)
		}
	}
}

func (p *persister) flush(ctx context.Context) {
	for ctx.Err() == nil {
		p.mu.Lock()
		if len(p.order) == 0 {
			p.mu.Unlock()
			return
		}
		key := p.order[0]
		p.order = p.order[1:]
		value, ok := p.pending[key]
		delete(p.pending, key)
		p.mu.Unlock()
		if !ok {
			continue
		}
		var err error
		if value == nil {
			err = p.store.Delete(ctx, p.kind, key)
		} else {
			_, err = p.store.Put(ctx, p.kind, key, value, state.Any)
		}
		if err != nil {
			p.log.WithField("release", key).WithError(err).Warn("cannot persist the release's deployment record")
		}
	}
}
