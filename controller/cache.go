package controller

import (
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/universe-operator/universe-operator/clients/marathon"
	"github.com/universe-operator/universe-operator/reconcile"
)

// appEntry is one app as last read from Marathon. Entries are immutable
// once stored: an update stores a new entry.
type appEntry struct {
	id      string // canonical
	app     marathon.App
	owner   string // ownership label, "" when unowned
	hash    string // hash label
	rawHash uint64 // xxhash of the raw bytes (status memo key)
	readAt  time.Time
	gen     uint64 // cache generation when stored
}

func newEntry(a marathon.App, now time.Time) *appEntry {
	e := &appEntry{id: reconcile.CanonicalID(a.ID), app: a, readAt: now}
	e.owner = a.Labels[reconcile.LabelRelease]
	e.hash = a.Labels[reconcile.LabelHash]
	e.rawHash = xxhash.Sum64(a.Raw)
	return e
}

// appCache is the controller's informer-like view of Marathon: the owned
// apps from the last full list (one GET /v2/apps with the ownership label
// selector), the launch queue, and single apps read since. An entry marked
// dirty (after a write, or on an event hint) must be re-read with a single
// GET before any decision is made on it. Foreign entries are unowned apps
// at ids that releases want (learned from a 409 on create): the full list
// does not show them, so they are re-read when their release is processed
// after a relist.
type appCache struct {
	mu      sync.Mutex
	gen     uint64               // bumped on every dirty mark and every store
	apps    map[string]*appEntry // canonical id -> entry (owned apps, and fresh single reads)
	dirty   map[string]uint64    // canonical id -> generation of the mark
	gone    map[string]uint64    // canonical id -> generation a single read found it missing
	byOwner map[string]map[string]bool
	queue   map[string]reconcile.QueueEntry
	queueAt time.Time
	listed  bool // a full list succeeded at least once
	listAt  time.Time
	listGen uint64 // generation the last successful full list started at
	// staleGen is the generation of the last failed full list (0 when the
	// last one succeeded): absences are not trusted until re-read.
	staleGen uint64
}

func newAppCache() *appCache {
	return &appCache{
		apps:    map[string]*appEntry{},
		dirty:   map[string]uint64{},
		gone:    map[string]uint64{},
		byOwner: map[string]map[string]bool{},
		queue:   map[string]reconcile.QueueEntry{},
	}
}

// listStart returns the generation a full list is started at.
func (c *appCache) listStart() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	return c.gen
}

// replace installs a full list read from generation gen: entries marked
// dirty or stored after gen are newer than the list and kept as they are;
// everything else is replaced, owned apps missing from the list are
// dropped. Foreign (unowned) entries are kept but marked dirty.
func (c *appCache) replace(gen uint64, apps []marathon.App, queue map[string]reconcile.QueueEntry, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	newer := func(id string) bool { // changed since the list started
		if g, ok := c.dirty[id]; ok && g > gen {
			return true
		}
		if g, ok := c.gone[id]; ok && g > gen {
			return true
		}
		if old := c.apps[id]; old != nil && old.gen > gen {
			return true
		}
		return false
	}
	seen := make(map[string]bool, len(apps))
	for _, a := range apps {
		e := newEntry(a, now)
		seen[e.id] = true
		if newer(e.id) {
			continue
		}
		delete(c.dirty, e.id)
		c.storeLocked(e)
	}
	for id, e := range c.apps {
		if seen[id] || newer(id) {
			continue
		}
		if e.owner == "" {
			// Foreign: not in the list by design. Marked for a re-read on
			// demand; dropped when nobody re-read it since the last list.
			if g, ok := c.dirty[id]; ok && g <= gen {
				c.deleteLocked(id)
				delete(c.dirty, id)
				continue
			}
			c.gen++
			c.dirty[id] = c.gen
			continue
		}
		c.deleteLocked(id)
		delete(c.dirty, id)
	}
	for id, g := range c.gone {
		if g <= gen {
			delete(c.gone, id)
		}
	}
	if queue != nil {
		c.queue = queue
		c.queueAt = now
	}
	c.listed = true
	c.listAt = now
	c.listGen = gen
	if c.staleGen <= gen {
		c.staleGen = 0
	}
}

func (c *appCache) storeLocked(e *appEntry) {
	c.gen++
	e.gen = c.gen
	delete(c.gone, e.id)
	if old := c.apps[e.id]; old != nil && old.owner != e.owner {
		c.unindexLocked(old)
	}
	c.apps[e.id] = e
	if e.owner != "" {
		m := c.byOwner[e.owner]
		if m == nil {
			m = map[string]bool{}
			c.byOwner[e.owner] = m
		}
		m[e.id] = true
	}
}

func (c *appCache) unindexLocked(e *appEntry) {
	if e.owner == "" {
		return
	}
	if m := c.byOwner[e.owner]; m != nil {
		delete(m, e.id)
		if len(m) == 0 {
			delete(c.byOwner, e.owner)
		}
	}
}

func (c *appCache) deleteLocked(id string) {
	if old := c.apps[id]; old != nil {
		c.unindexLocked(old)
		delete(c.apps, id)
	}
}

// markDirty marks an app id for a re-read before the next decision on it
// and returns the mark's generation.
func (c *appCache) markDirty(id string) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.dirty[reconcile.CanonicalID(id)] = c.gen
	return c.gen
}

// readSince returns the entry of id and whether it (or its absence) was
// read after generation gen.
func (c *appCache) readSince(id string, gen uint64) (*appEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if g, ok := c.dirty[id]; ok && g > gen {
		return c.apps[id], false
	}
	if e := c.apps[id]; e != nil {
		return e, e.gen > gen
	}
	if g, ok := c.gone[id]; ok && g > gen {
		return nil, true
	}
	return nil, c.listGen > gen
}

// markAllDirty marks every known app dirty (a full list failed: nothing
// in the cache may be trusted for a write).
func (c *appCache) markAllDirty() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.staleGen = c.gen
	for id := range c.apps {
		c.dirty[id] = c.gen
	}
}

// trusted reports whether what the cache says of id (including that it
// does not exist) may be acted on: a full list succeeded and none failed
// since, or id was read after the failure.
func (c *appCache) trusted(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.listed {
		return false
	}
	if c.staleGen == 0 {
		return true
	}
	if e := c.apps[id]; e != nil {
		return e.gen > c.staleGen
	}
	g, ok := c.gone[id]
	return ok && g > c.staleGen
}

// isDirty reports whether id must be re-read, and the mark's generation.
func (c *appCache) isDirty(id string) (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g, ok := c.dirty[id]
	return g, ok
}

// stored records a fresh single read of id (a nil app: it does not exist)
// and clears a dirty mark not newer than mark.
func (c *appCache) stored(id string, a *marathon.App, mark uint64, now time.Time) *appEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	var e *appEntry
	if a == nil {
		c.deleteLocked(id)
		c.gen++
		c.gone[id] = c.gen
	} else {
		e = newEntry(*a, now)
		c.storeLocked(e)
	}
	if g, ok := c.dirty[id]; ok && g <= mark {
		delete(c.dirty, id)
	}
	return e
}

// get returns the entry of id, or nil.
func (c *appCache) get(id string) *appEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.apps[id]
}

// owned returns the ids of the apps owned by release.
func (c *appCache) owned(release string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.byOwner[release]
	out := make([]string, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	return out
}

// owners returns the releases owning at least one app.
func (c *appCache) owners() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.byOwner))
	for r := range c.byOwner {
		out = append(out, r)
	}
	return out
}

// ownerOf returns the release owning app id ("" when unknown).
func (c *appCache) ownerOf(id string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.apps[id]; e != nil {
		return e.owner
	}
	return ""
}

// queueEntry returns the launch queue entry of id.
func (c *appCache) queueEntry(id string) *reconcile.QueueEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	q, ok := c.queue[id]
	if !ok {
		return nil
	}
	return &q
}
