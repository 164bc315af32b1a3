package controller

import (
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/clients/marathon"
)

func get(t *testing.T, q *queue, within time.Duration) string {
	t.Helper()
	ch := make(chan string, 1)
	go func() {
		k, ok := q.Get()
		if ok {
			ch <- k
		}
	}()
	select {
	case k := <-ch:
		return k
	case <-time.After(within):
		t.Fatalf("no key within %s", within)
		return ""
	}
}

func TestQueueDeduplicates(t *testing.T) {
	q := newQueue(10*time.Millisecond, 100*time.Millisecond)
	defer q.ShutDown()
	q.Add("a")
	q.Add("b")
	q.Add("a")
	if q.Len() != 2 {
		t.Fatalf("len %d", q.Len())
	}
	if k := get(t, q, time.Second); k != "a" {
		t.Fatalf("got %s", k)
	}
	// Added while processing: queued again after Done, not handed to a
	// second worker meanwhile.
	q.Add("a")
	if k := get(t, q, time.Second); k != "b" {
		t.Fatalf("got %s", k)
	}
	if q.Len() != 0 {
		t.Fatalf("a was queued while being processed")
	}
	q.Done("a")
	if k := get(t, q, time.Second); k != "a" {
		t.Fatalf("got %s", k)
	}
	q.Done("a")
	q.Done("b")
	if q.Busy() {
		t.Fatal("busy")
	}
}

func TestQueueDelaysAndBackoff(t *testing.T) {
	q := newQueue(20*time.Millisecond, 200*time.Millisecond)
	defer q.ShutDown()
	start := time.Now()
	q.AddAfter("x", time.Hour)
	q.AddAfter("x", 30*time.Millisecond) // the earlier time wins
	if k := get(t, q, 5*time.Second); k != "x" || time.Since(start) < 25*time.Millisecond {
		t.Fatalf("got %s after %s", k, time.Since(start))
	}
	q.Done("x")
	if q.Pending() != 0 {
		t.Fatalf("pending %d", q.Pending())
	}
	// Backoff grows (with jitter ±50%) and is capped.
	var last time.Duration
	for i := range 8 {
		d := q.Backoff("y")
		if d > 300*time.Millisecond {
			t.Fatalf("backoff %d: %s above the cap", i, d)
		}
		last = d
	}
	if last < 100*time.Millisecond {
		t.Fatalf("backoff did not grow: %s", last)
	}
	q.Forget("y")
	if d := q.Backoff("y"); d > 30*time.Millisecond {
		t.Fatalf("backoff after Forget: %s", d)
	}
	q.ShutDown()
	if _, ok := q.Get(); ok {
		t.Fatal("Get after ShutDown")
	}
}

func TestCacheGenerations(t *testing.T) {
	c := newAppCache()
	now := time.Now()
	if c.trusted("/a") {
		t.Fatal("trusted before any list")
	}
	app := func(id, owner, version string) marathon.App {
		return marathon.App{ID: id, Version: version, Labels: map[string]string{"UNIVERSE_OPERATOR_RELEASE": owner},
			Raw: []byte(`{"id":"` + id + `","version":"` + version + `"}`)}
	}
	g := c.listStart()
	c.replace(g, []marathon.App{app("/a", "ra", "v1"), app("/b", "rb", "v1")}, nil, now)
	if c.ownerOf("/a") != "ra" || len(c.owned("rb")) != 1 {
		t.Fatal("index")
	}
	if !c.trusted("/new") {
		t.Fatal("not trusted after a good list")
	}
	// A failed list: nothing is trusted until re-read.
	c.markAllDirty()
	if c.trusted("/new") || c.trusted("/a") {
		t.Fatal("trusted after a failed list")
	}
	m0 := c.markDirty("/new")
	c.stored("/new", nil, m0, now)
	if !c.trusted("/new") {
		t.Fatal("an absence read after the failure is trusted")
	}
	g0 := c.listStart()
	c.replace(g0, []marathon.App{app("/a", "ra", "v1"), app("/b", "rb", "v1")}, nil, now)
	if !c.trusted("/other") {
		t.Fatal("a good list restores trust")
	}
	// A list that started before a write must not overwrite the read made
	// after it.
	stale := c.listStart()
	mark := c.markDirty("/a")
	a2 := app("/a", "ra", "v2")
	c.stored("/a", &a2, mark, now)
	c.replace(stale, []marathon.App{app("/a", "ra", "v1")}, nil, now) // /b missing: deleted
	if e := c.get("/a"); e == nil || e.app.Version != "v2" {
		t.Fatalf("the stale list overwrote a fresh read: %+v", e)
	}
	if c.get("/b") != nil || len(c.owned("rb")) != 0 {
		t.Fatal("/b should be gone")
	}
	// A dirty mark after a list start survives that list.
	g = c.listStart()
	c.markDirty("/a")
	c.replace(g, []marathon.App{app("/a", "ra", "v2")}, nil, now)
	if _, dirty := c.isDirty("/a"); !dirty {
		t.Fatal("the mark was cleared by an older list")
	}
	// readSince: an absence confirmed by a read after the mark.
	m := c.markDirty("/gone")
	if _, fresh := c.readSince("/gone", m); fresh {
		t.Fatal("fresh before any read")
	}
	c.stored("/gone", nil, m, now)
	if e, fresh := c.readSince("/gone", m); e != nil || !fresh {
		t.Fatal("absence not seen")
	}
	// Foreign (unowned) entries stay, dirty, for one list; then go.
	f := app("/f", "", "v1")
	c.stored("/f", &f, 0, now)
	g = c.listStart()
	c.replace(g, nil, nil, now)
	if _, dirty := c.isDirty("/f"); !dirty || c.get("/f") == nil {
		t.Fatal("foreign entry should be kept and marked dirty")
	}
	g = c.listStart()
	c.replace(g, nil, nil, now)
	if c.get("/f") != nil {
		t.Fatal("a foreign entry nobody re-read should be dropped")
	}
}
