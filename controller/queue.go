package controller

import (
	"container/heap"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// queue is a de-duplicating work queue of release keys with delayed adds
// and per-key exponential backoff. A key is in the queue at most once; a
// key added while a worker processes it is queued again when the worker
// calls Done, so no two workers ever hold the same key and no change is
// lost. Delayed adds keep the earliest time asked for.
type queue struct {
	mu         sync.Mutex
	cond       *sync.Cond
	items      []string
	queued     map[string]bool
	processing map[string]bool
	again      map[string]bool // added while processing

	waiting map[string]time.Time // key -> when it becomes ready
	timers  timerHeap
	wake    chan struct{}

	backoffs   map[string]*backoff.ExponentialBackOff
	newBackoff func() *backoff.ExponentialBackOff

	shutdown bool
	done     chan struct{}
}

func newQueue(initial, maxInterval time.Duration) *queue {
	q := &queue{
		queued:     map[string]bool{},
		processing: map[string]bool{},
		again:      map[string]bool{},
		waiting:    map[string]time.Time{},
		wake:       make(chan struct{}, 1),
		backoffs:   map[string]*backoff.ExponentialBackOff{},
		done:       make(chan struct{}),
	}
	q.cond = sync.NewCond(&q.mu)
	q.newBackoff = func() *backoff.ExponentialBackOff {
		b := backoff.NewExponentialBackOff()
		b.InitialInterval = initial
		b.MaxInterval = maxInterval
		b.Multiplier = 2
		b.RandomizationFactor = 0.5
		b.MaxElapsedTime = 0 // never give up: the key is retried until it succeeds or goes
		b.Reset()
		return b
	}
	go q.timerLoop()
	return q
}

// Add queues key now.
func (q *queue) Add(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.addLocked(key)
}

func (q *queue) addLocked(key string) {
	if q.shutdown {
		return
	}
	delete(q.waiting, key)
	if q.processing[key] {
		q.again[key] = true
		return
	}
	if q.queued[key] {
		return
	}
	q.queued[key] = true
	q.items = append(q.items, key)
	q.cond.Signal()
}

// AddAfter queues key after d (now when d <= 0). An earlier pending time
// for the key wins; a key already queued stays queued.
func (q *queue) AddAfter(key string, d time.Duration) {
	if d <= 0 {
		q.Add(key)
		return
	}
	at := time.Now().Add(d)
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shutdown || q.queued[key] {
		return
	}
	if cur, ok := q.waiting[key]; ok && !cur.After(at) {
		return
	}
	q.waiting[key] = at
	heap.Push(&q.timers, timerItem{at: at, key: key})
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Backoff queues key after its next exponential backoff delay (with
// jitter) and returns the delay.
func (q *queue) Backoff(key string) time.Duration {
	q.mu.Lock()
	b := q.backoffs[key]
	if b == nil {
		b = q.newBackoff()
		q.backoffs[key] = b
	}
	d := b.NextBackOff()
	q.mu.Unlock()
	q.AddAfter(key, d)
	return d
}

// Forget resets key's backoff (after a success).
func (q *queue) Forget(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.backoffs, key)
}

// Get blocks until a key is ready and returns it; ok is false once the
// queue is shut down.
func (q *queue) Get() (key string, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 && !q.shutdown {
		q.cond.Wait()
	}
	if q.shutdown {
		return "", false
	}
	key = q.items[0]
	q.items[0] = ""
	q.items = q.items[1:]
	delete(q.queued, key)
	q.processing[key] = true
	return key, true
}

// Done ends the processing of key; a key added meanwhile is queued again.
func (q *queue) Done(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.processing, key)
	if q.again[key] {
		delete(q.again, key)
		q.addLocked(key)
	}
}

// Len is the number of keys ready to be processed.
func (q *queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// Pending is the number of keys waiting for a delay.
func (q *queue) Pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.waiting)
}

// Busy reports whether any key is queued, waiting or being processed.
func (q *queue) Busy() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) > 0 || len(q.processing) > 0
}

// ShutDown wakes every Get (they return ok=false) and stops the timers.
func (q *queue) ShutDown() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shutdown {
		return
	}
	q.shutdown = true
	close(q.done)
	q.cond.Broadcast()
}

func (q *queue) timerLoop() {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		q.mu.Lock()
		now := time.Now()
		next := time.Duration(-1)
		for q.timers.Len() > 0 {
			top := q.timers[0]
			at, ok := q.waiting[top.key]
			if !ok || !at.Equal(top.at) { // superseded or already added
				heap.Pop(&q.timers)
				continue
			}
			if at.After(now) {
				next = at.Sub(now)
				break
			}
			heap.Pop(&q.timers)
			q.addLocked(top.key)
		}
		q.mu.Unlock()
		if next < 0 {
			next = time.Hour
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(next)
		select {
		case <-q.done:
			return
		case <-q.wake:
		case <-t.C:
		}
	}
}

type timerItem struct {
	at  time.Time
	key string
}

type timerHeap []timerItem

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(timerItem)) }
func (h *timerHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
