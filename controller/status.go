package controller

import (
	"bytes"
	"encoding/json"
	"sort"
	"sync"
	"time"

	"github.com/universe-operator/universe-operator/api"
)

// book holds the published status of every release. The HTTP API reads it;
// workers write it. Documents are copied in and out, never shared.
type book struct {
	mu   sync.RWMutex
	docs map[string]api.Release
	cmp  map[string][]byte // the document without LastReconcile, to detect changes
}

func newBook() *book {
	return &book{docs: map[string]api.Release{}, cmp: map[string][]byte{}}
}

// set stores doc and reports whether it changed (LastReconcile aside).
func (b *book) set(doc api.Release) bool {
	when := doc.LastReconcile
	doc.LastReconcile = time.Time{}
	enc, err := json.Marshal(doc)
	doc.LastReconcile = when
	b.mu.Lock()
	defer b.mu.Unlock()
	old, had := b.cmp[doc.Name]
	b.docs[doc.Name] = doc
	if err != nil { // cannot happen with package api's types; publish to be safe
		delete(b.cmp, doc.Name)
		return true
	}
	b.cmp[doc.Name] = enc
	return !had || !bytes.Equal(old, enc)
}

// touch updates LastReconcile only.
func (b *book) touch(name string, at time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if d, ok := b.docs[name]; ok {
		d.LastReconcile = at
		b.docs[name] = d
	}
}

func (b *book) get(name string) (api.Release, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	d, ok := b.docs[name]
	return cloneRelease(d), ok
}

func (b *book) remove(name string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.docs[name]
	delete(b.docs, name)
	delete(b.cmp, name)
	return ok
}

func (b *book) names() []string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]string, 0, len(b.docs))
	for n := range b.docs {
		out = append(out, n)
	}
	return out
}

// list returns every document, sorted by name.
func (b *book) list() []api.Release {
	b.mu.RLock()
	out := make([]api.Release, 0, len(b.docs))
	for _, d := range b.docs {
		out = append(out, cloneRelease(d))
	}
	b.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// cloneRelease copies the slices of a document so readers cannot race
// with the next update (the worker builds new slices for every document,
// but events are appended to a shared ring).
func cloneRelease(d api.Release) api.Release {
	d.Events = append([]api.Event(nil), d.Events...)
	d.Deployments = append([]string(nil), d.Deployments...)
	d.Drift = append([]api.FieldDiff(nil), d.Drift...)
	d.History = append([]api.Revision(nil), d.History...)
	d.DependsOn = append([]string(nil), d.DependsOn...)
	return d
}

// eventRing keeps the most recent events of a release, newest first.
type eventRing struct {
	max    int
	events []api.Event
}

func (r *eventRing) add(e api.Event) {
	// Collapse an immediate repeat (same type, reason and message) into
	// the newest entry with the newer time, so a waiting release does not
	// push everything else out.
	if len(r.events) > 0 {
		top := &r.events[0]
		if top.Type == e.Type && top.Reason == e.Reason && top.Message == e.Message {
			top.Time = e.Time
			return
		}
	}
	r.events = append([]api.Event{e}, r.events...)
	if len(r.events) > r.max {
		r.events = r.events[:r.max]
	}
}

func (r *eventRing) list() []api.Event { return append([]api.Event(nil), r.events...) }
