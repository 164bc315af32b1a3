package controller

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/sirupsen/logrus"

	"github.com/universe-operator/universe-operator/api"
	"github.com/universe-operator/universe-operator/controller/webhook"
	"github.com/universe-operator/universe-operator/source"
)

// maxProblems bounds the load problems listed per source in the status API.
const maxProblems = 20

// SourceSet adapts package source (the Universe repositories and the
// release manifests, each with last-good snapshots) to Sources.
type SourceSet struct {
	universes *source.Universes
	releases  *source.Releases
	log       logrus.FieldLogger

	mu  sync.Mutex // serialises rebuilds
	cur atomic.Pointer[Inputs]
}

// NewSourceSet wraps the sources. Nothing is read until Refresh.
func NewSourceSet(u *source.Universes, r *source.Releases, log logrus.FieldLogger) *SourceSet {
	if log == nil {
		log = logrus.StandardLogger()
	}
	s := &SourceSet{universes: u, releases: r, log: log}
	s.rebuild()
	return s
}

// Refresh implements Sources: every source is checked, in parallel.
func (s *SourceSet) Refresh(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.universes.Refresh(ctx) }()
	go func() { defer wg.Done(); _, _ = s.releases.Refresh(ctx) }()
	wg.Wait()
	s.rebuild()
}

// RefreshPush implements Sources: only the sources the push concerns are
// checked.
func (s *SourceSet) RefreshPush(ctx context.Context, p webhook.Push) bool {
	names := s.universes.Matching(p)
	rel := s.releases.Matches(p)
	if len(names) == 0 && !rel {
		return false
	}
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.universes.RefreshSource(ctx, n); err != nil {
				s.log.WithField("source", n).WithError(err).Warn("webhook refresh of a universe source failed")
			}
		}()
	}
	if rel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.releases.Refresh(ctx); err != nil {
				s.log.WithField("source", source.ReleasesName).WithError(err).Warn("webhook refresh of the releases failed")
			}
		}()
	}
	wg.Wait()
	s.rebuild()
	return true
}

// Inputs implements Sources.
func (s *SourceSet) Inputs() *Inputs { return s.cur.Load() }

func (s *SourceSet) rebuild() {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := &Inputs{UniverseRevisions: map[string]string{}, Healthy: true, Loaded: true}
	for _, snap := range s.universes.Snapshots() {
		in.Sources = append(in.Sources, sourceStatus(snap.Status, "universe"))
		if snap.Repository != nil {
			in.Repositories = append(in.Repositories, snap.Repository)
			in.UniverseRevisions[snap.Repository.Name] = snap.Commit
		}
		in.Healthy = in.Healthy && snap.Healthy
		in.Loaded = in.Loaded && snap.Ready()
		in.UniverseOrder = append(in.UniverseOrder, snap.Status.Name)
		if !snap.Ready() {
			in.Unloaded = append(in.Unloaded, snap.Status.Name)
		}
	}
	rs := s.releases.Snapshot()
	in.Sources = append(in.Sources, sourceStatus(rs.Status, "releases"))
	in.Releases = rs.Set
	in.ReleasesRevision = rs.Commit
	in.Healthy = in.Healthy && rs.Healthy && rs.Set != nil
	in.Loaded = in.Loaded && rs.Ready() && rs.Set != nil
	s.cur.Store(in)
}

func sourceStatus(st source.Status, role string) api.SourceStatus {
	out := api.SourceStatus{Name: st.Name, Kind: st.Kind, Role: role, URI: st.URI, Revision: st.Commit,
		Healthy: st.Healthy, Stale: st.Stale, FailingSince: st.FailingSince, LoadedAt: st.LoadedAt, CheckedAt: st.CheckedAt}
	if st.Err != nil {
		out.Error = st.Err.Error()
	}
	for i, p := range st.Problems {
		if i == maxProblems {
			out.Problems = append(out.Problems, "... and more")
			break
		}
		out.Problems = append(out.Problems, p.Error())
	}
	return out
}
