package controller

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/universe-operator/universe-operator/manifest"
	"github.com/universe-operator/universe-operator/rollout"
	"github.com/universe-operator/universe-operator/state"
	"github.com/universe-operator/universe-operator/universe"
)

func TestDefinitionOf(t *testing.T) {
	raw := json.RawMessage(`{"id":"/a","instances":2,"version":"2026-01-01T00:00:00Z","versionInfo":{},"tasks":[],
		"tasksRunning":2,"tasksStaged":0,"tasksHealthy":2,"tasksUnhealthy":0,"deployments":[],"lastTaskFailure":{},
		"labels":{"UNIVERSE_OPERATOR_HASH":"abc"}}`)
	def, err := definitionOf(raw)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(def, &m); err != nil {
		t.Fatal(err)
	}
	if len(m) != 3 || string(m["instances"]) != "2" || m["labels"] == nil || m["id"] == nil {
		t.Fatalf("definition: %s", def)
	}
	if _, err := definitionOf(json.RawMessage(`[1]`)); err == nil {
		t.Fatal("a non-object accepted")
	}
}

func TestGitKey(t *testing.T) {
	rel := &manifest.Release{Metadata: manifest.Metadata{Name: "r"}, Spec: manifest.Spec{Package: "p", Version: "latest"}}
	pkg := &universe.Package{Name: "p", Version: "1", ReleaseVersion: 1, Repository: "u"}
	base := &desiredEntry{name: "r", rel: rel, pkg: pkg, pkgDigest: "d1", hash: "h1", fp: "x"}
	same := *base
	same.fp = "y" // an unrelated universe commit changes the fingerprint, not the key
	if gitKey(base) != gitKey(&same) {
		t.Fatal("key changed without a change of the release's inputs")
	}
	for name, mod := range map[string]func(d *desiredEntry){
		"manifest": func(d *desiredEntry) {
			r := *rel
			r.Spec.Version = "1"
			d.rel = &r
		},
		"package revision": func(d *desiredEntry) {
			p := *pkg
			p.ReleaseVersion = 2
			d.pkg = &p
		},
		"package content": func(d *desiredEntry) { d.pkgDigest = "d2" },
		"rendered app":    func(d *desiredEntry) { d.hash = "h2" },
	} {
		d := *base
		mod(&d)
		if gitKey(&d) == gitKey(base) {
			t.Errorf("a change of the %s keeps the key", name)
		}
	}
	broken := &desiredEntry{name: "r", fp: "manifest-invalid|x"}
	if gitKey(broken) == gitKey(base) {
		t.Fatal("a broken manifest has the key of a valid one")
	}
}

// listingStore runs hook once, after a listing of histories was read and
// before it is returned: a worker saving while the listing is on its way.
type listingStore struct {
	state.Store
	hook func()
}

func (s *listingStore) List(ctx context.Context, kind string) ([]string, error) {
	keys, err := s.Store.List(ctx, kind)
	if kind == state.KindHistory && s.hook != nil {
		h := s.hook
		s.hook = nil
		h()
	}
	return keys, err
}

// Records saved while the store is being listed stay visible: the listing
// replaces the index, and must not forget what was saved meanwhile (that
// made load see no history, and every later save conflict).
func TestRecordsSavedDuringListing(t *testing.T) {
	fs, err := state.OpenFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	ls := &listingStore{Store: fs}
	c := &Controller{opts: Options{Store: ls, Leader: AlwaysLeader{}, RequestTimeout: time.Second}, log: logrus.New()}
	r := &rollouts{c: c, limit: 10, log: c.log, rels: map[string]*roRel{}, failed: map[string]failedDeployment{},
		ready: map[string]rollout.DepState{}, deps: map[string][]string{}}
	ctx := context.Background()
	r.refresh(ctx) // nothing stored yet
	rr := r.rel("rel")
	rr.mu.Lock()
	if err := r.load(ctx, rr); err != nil {
		t.Fatal(err)
	}
	rr.mu.Unlock()

	r.mu.Lock()
	r.listed = false // as after a leadership change or a failed listing
	r.mu.Unlock()
	ls.hook = func() {
		rr.mu.Lock()
		defer rr.mu.Unlock()
		rr.hist.Add(rollout.Entry{Kind: rollout.KindUpdate, Hash: "bbb", Outcome: rollout.Failed}, 10, 0)
		if err := r.saveHistory(ctx, rr); err != nil {
			t.Fatal(err)
		}
		rr.bad = &rollout.Bad{Hash: "bbb", Reason: "failed"}
		if err := r.saveBad(ctx, rr); err != nil {
			t.Fatal(err)
		}
	}
	r.refresh(ctx)

	rr.mu.Lock()
	defer rr.mu.Unlock()
	rr.loaded, rr.stale = false, false // a fresh read, as another replica would do
	rr.hist, rr.bad = &rollout.History{}, nil
	if err := r.load(ctx, rr); err != nil {
		t.Fatal(err)
	}
	if len(rr.hist.Entries) != 1 || rr.bad == nil || rr.bad.Hash != "bbb" {
		t.Fatalf("records saved during the listing: history %d entries, bad %+v", len(rr.hist.Entries), rr.bad)
	}
	rr.hist.Add(rollout.Entry{Kind: rollout.KindUpdate, Hash: "ccc", Outcome: rollout.InProgress}, 10, 0)
	if err := r.saveHistory(ctx, rr); err != nil {
		t.Fatalf("the next save: %v", err)
	}
}

// termLeader is a Leader whose term can be changed by the test.
type termLeader struct {
	AlwaysLeader
	since time.Time
}

func (l *termLeader) LeaderSince() time.Time { return l.since }

// A replica that becomes leader (again) reads what the previous leader
// recorded before it acts on a release, even one it had read as follower.
func TestNewTermRereadsRecords(t *testing.T) {
	fs, err := state.OpenFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	l := &termLeader{since: time.Unix(1000, 0)}
	c := &Controller{opts: Options{Store: fs, Leader: l, RequestTimeout: time.Second}, log: logrus.New()}
	r := &rollouts{c: c, limit: 10, log: c.log, rels: map[string]*roRel{}, failed: map[string]failedDeployment{},
		ready: map[string]rollout.DepState{}, deps: map[string][]string{}}
	ctx := context.Background()
	r.refresh(ctx) // listed: nothing stored
	rr := r.rel("rel")
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if err := r.load(ctx, rr); err != nil || rr.bad != nil {
		t.Fatalf("first load: %v %+v", err, rr.bad)
	}
	// Another replica leads meanwhile and records a bad revision.
	b, _ := json.Marshal(rollout.Bad{Hash: "bbb", Reason: "failed"})
	if _, err := fs.Put(ctx, state.KindBadRevisions, "rel", b, state.Create); err != nil {
		t.Fatal(err)
	}
	if err := r.load(ctx, rr); err != nil || rr.bad != nil {
		t.Fatalf("same term: %v %+v (records are kept in memory within a term)", err, rr.bad)
	}
	l.since = time.Unix(2000, 0) // this replica leads again
	if err := r.load(ctx, rr); err != nil || rr.bad == nil || rr.bad.Hash != "bbb" {
		t.Fatalf("new term: %v %+v, want the other leader's bad revision", err, rr.bad)
	}
}

// failingDeletes fails every Delete while on.
type failingDeletes struct {
	state.Store
	on bool
}

func (s *failingDeletes) Delete(ctx context.Context, kind, key string) error {
	if s.on {
		return errors.New("store unavailable (injected)")
	}
	return s.Store.Delete(ctx, kind, key)
}

// Stored definitions whose deletion failed are deleted with the next ones,
// unless an entry of the history needs them again: none is left behind.
func TestDroppedDefinitionsAreRetried(t *testing.T) {
	fs, err := state.OpenFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	st := &failingDeletes{Store: fs}
	c := &Controller{opts: Options{Store: st, Leader: AlwaysLeader{}, RequestTimeout: time.Second}, log: logrus.New()}
	r := &rollouts{c: c, limit: 10, log: c.log, rels: map[string]*roRel{}, failed: map[string]failedDeployment{},
		ready: map[string]rollout.DepState{}, deps: map[string][]string{}}
	ctx := context.Background()
	rr := r.rel("rel")
	rr.mu.Lock()
	defer rr.mu.Unlock()
	for _, h := range []string{"aaa", "bbb", "ccc"} {
		if _, ok := r.storeDefinition(ctx, rr, h, json.RawMessage(`{"id":"/rel"}`)); !ok {
			t.Fatalf("store %s", h)
		}
	}
	stored := func() []string {
		keys, err := fs.List(ctx, kindDefinitions)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(keys)
		return keys
	}
	st.on = true
	r.dropDefinitions(ctx, rr, []string{"aaa", "bbb"})
	if got := stored(); len(got) != 3 {
		t.Fatalf("deletes failed, yet stored: %v", got)
	}
	// "bbb" is needed again (a new entry kept it) before the retry.
	rr.hist.Add(rollout.Entry{Kind: rollout.KindUpdate, Hash: "bbb", Kept: true, Outcome: rollout.InProgress}, 10, 0)
	st.on = false
	r.dropDefinitions(ctx, rr, []string{"ccc"})
	if got := stored(); !slices.Equal(got, []string{"rel.bbb"}) {
		t.Fatalf("after the retry: %v, want only rel.bbb", got)
	}
	if len(rr.dropPending) != 0 {
		t.Fatalf("pending: %v", rr.dropPending)
	}
}
