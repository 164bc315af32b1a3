package marathon

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Leader returns the host:port of the current leader, or "" while a leader
// election is in progress.
func (s *Server) Leader() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.leader
}

// ChangeLeader makes another Marathon instance the leader, as after an
// abdication or a crash: every event stream is closed, and for gap there is
// no leader (API calls answer 503, /v2/leader 404). An empty newLeader picks
// "marathon-<n>.mesos:8080" with the next n.
func (s *Server) ChangeLeader(newLeader string, gap time.Duration) {
	s.mu.Lock()
	s.leaderGen++
	if newLeader == "" {
		newLeader = fmt.Sprintf("marathon-%d.mesos:8080", s.leaderGen+1)
	}
	s.logf("marathon: leader change to %s (gap %s)", newLeader, gap)
	if gap > 0 {
		s.leader = ""
		gen := s.leaderGen
		s.after(gap, func() {
			if s.leaderGen == gen {
				s.leader = newLeader
			}
		})
	} else {
		s.leader = newLeader
	}
	s.mu.Unlock()
	s.CloseEventStreams()
}

func (s *Server) serveLeader(w http.ResponseWriter, r *http.Request) {
	leader := s.Leader()
	switch r.Method {
	case http.MethodGet:
		if leader == "" {
			writeMessage(w, http.StatusNotFound, "There is no leader")
			return
		}
		writeJSON(w, http.StatusOK, mustJSON(map[string]string{"leader": leader}))
	case http.MethodDelete:
		if leader == "" {
			writeMessage(w, http.StatusNotFound, "There is no leader")
			return
		}
		writeMessage(w, http.StatusOK, "Leadership abdicated")
		go s.ChangeLeader("", 0)
	default:
		methodNotAllowed(w)
	}
}

// NewStandby returns the handler of a standby (non-leading) Marathon
// instance in front of leader: it answers /ping itself, redirects
// /v2/events to the leader (307, Location leaderURL()+the request URI) as
// real standbys do, and proxies every other call to the leader, adding the
// X-Marathon-Via header. leaderURL returns the leader's base URL (for example
// an httptest server's URL); "" means no leader is known (503).
func NewStandby(leader *Server, leaderURL func() string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ping" {
			leader.servePing(w, r)
			return
		}
		base := strings.TrimSuffix(leaderURL(), "/")
		if base == "" || leader.Leader() == "" {
			writeMessage(w, http.StatusServiceUnavailable, "Could not determine the current leader")
			return
		}
		if r.URL.Path == "/v2/events" {
			w.Header().Set("Location", base+r.URL.RequestURI())
			w.WriteHeader(http.StatusTemporaryRedirect)
			_, _ = io.WriteString(w, "")
			return
		}
		w.Header().Set("X-Marathon-Via", "1.1 "+r.Host)
		leader.Handler().ServeHTTP(w, r)
	})
}
