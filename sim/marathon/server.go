package marathon

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/universe-operator/universe-operator/sim/fault"
)

// Options configures a simulated Marathon. Zero values take the defaults
// noted on each field.
type Options struct {
	// Leader is the host:port this Marathon reports as leader in /v2/info and
	// /v2/leader (default "marathon-1.mesos:8080").
	Leader string
	// Version is the Marathon version reported by /v2/info (default "1.10.0").
	Version string
	// FrameworkID is the Mesos framework id reported by /v2/info (default a
	// fixed id derived from Seed).
	FrameworkID string
	// DefaultRole is the role given to apps without one (default
	// "slave_public", DC/OS's --mesos_role).
	DefaultRole string
	// Timing sets the simulated durations; see Timing.
	Timing Timing
	// Seed seeds the generator of deployment and task ids (default 1).
	Seed uint64
	// EventBuffer is how many events a /v2/events subscriber may lag behind
	// before it is disconnected (default 50, Marathon's
	// --event_stream_max_outstanding_messages).
	EventBuffer int
	// EventHeartbeat is the interval of the "\r\n" heartbeat on event streams
	// (default 10s, Jetty's).
	EventHeartbeat time.Duration
	// RequestLogLimit caps RequestLog; older records are dropped (default 100000).
	RequestLogLimit int
	// Agents are the agent hosts tasks are placed on, round robin (default
	// three 10.0.1.x addresses).
	Agents []string
	// Logf, if set, receives one line per notable simulator action.
	Logf func(format string, args ...any)
}

// Timing holds the simulated durations. It can be changed at run time through
// SetTiming or the control API.
type Timing struct {
	// DeploymentDuration is how long a whole deployment takes at least; its
	// steps share it evenly (default 3s).
	DeploymentDuration time.Duration
	// TaskStageDuration is how long a task stays TASK_STAGING before it runs
	// (default 1s, capped at the step duration).
	TaskStageDuration time.Duration
	// HealthDelay, when positive, is the time from a task running to its first
	// health-check result, for every check. Zero uses each check's
	// delaySeconds (Marathon's default 15) scaled by TimeScale.
	HealthDelay time.Duration
	// TimeScale multiplies every duration an app definition gives in seconds
	// (delaySeconds, gracePeriodSeconds, intervalSeconds, backoffSeconds,
	// maxLaunchDelaySeconds); 0.001 turns seconds into milliseconds (default 1).
	TimeScale float64
}

func (t Timing) withDefaults() Timing {
	if t.DeploymentDuration <= 0 {
		t.DeploymentDuration = 3 * time.Second
	}
	if t.TaskStageDuration <= 0 {
		t.TaskStageDuration = time.Second
	}
	if t.HealthDelay < 0 {
		t.HealthDelay = 0
	}
	if t.TimeScale <= 0 {
		t.TimeScale = 1
	}
	return t
}

// scaled converts app-defined seconds to simulated time.
func (t Timing) scaled(seconds float64) time.Duration {
	return time.Duration(seconds * t.TimeScale * float64(time.Second))
}

// Server is a simulated Marathon. Create it with New; it is safe for
// concurrent use.
type Server struct {
	opts   Options
	faults fault.Injector
	bus    *eventBus

	mu           sync.Mutex
	timing       Timing
	apps         map[string]*app
	ids          []string                                // sorted app ids
	groups       map[string]int                          // group path -> number of apps below it
	labelIdx     map[string]map[*app]struct{}            // label key -> apps
	labelValIdx  map[string]map[string]map[*app]struct{} // label key -> value -> apps
	deployments  map[string]*deployment
	deplOrder    []*deployment
	locks        map[string]*deployment // app id -> running deployment
	failNext     map[string]string      // app id -> reason of the next deployment failure
	crashLoop    map[string]bool
	rng          *rand.Rand
	lastVersion  time.Time
	ports        portAllocator
	pendingPorts map[string][]int // service ports of apps not created yet
	leader       string
	leaderGen    int
	agentNext    int
	timers       timerHeap
	timerSeq     uint64
	wake         chan struct{}
	observers    []*observerQueue
	closed       bool
	done         chan struct{}
	wg           sync.WaitGroup

	reqMu  sync.Mutex
	reqLog []RequestRecord
}

// New creates a simulated Marathon and starts its clock.
func New(opts Options) *Server {
	if opts.Leader == "" {
		opts.Leader = "marathon-1.mesos:8080"
	}
	if opts.Version == "" {
		opts.Version = "1.10.0"
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if opts.DefaultRole == "" {
		opts.DefaultRole = "slave_public"
	}
	if opts.EventBuffer <= 0 {
		opts.EventBuffer = 50
	}
	if opts.EventHeartbeat <= 0 {
		opts.EventHeartbeat = 10 * time.Second
	}
	if opts.RequestLogLimit <= 0 {
		opts.RequestLogLimit = 100000
	}
	if len(opts.Agents) == 0 {
		opts.Agents = []string{"10.0.1.10", "10.0.1.11", "10.0.1.12"}
	}
	s := &Server{
		opts:         opts,
		timing:       opts.Timing.withDefaults(),
		apps:         map[string]*app{},
		groups:       map[string]int{},
		labelIdx:     map[string]map[*app]struct{}{},
		labelValIdx:  map[string]map[string]map[*app]struct{}{},
		deployments:  map[string]*deployment{},
		locks:        map[string]*deployment{},
		failNext:     map[string]string{},
		crashLoop:    map[string]bool{},
		rng:          rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		ports:        newPortAllocator(10000, 20000),
		pendingPorts: map[string][]int{},
		leader:       opts.Leader,
		wake:         make(chan struct{}, 1),
		done:         make(chan struct{}),
	}
	if s.opts.FrameworkID == "" {
		s.opts.FrameworkID = fmt.Sprintf("%08x-%04x-%04x-%04x-%012x-0001", s.rng.Uint32(), s.rng.Uint32()&0xffff,
			s.rng.Uint32()&0xffff, s.rng.Uint32()&0xffff, s.rng.Uint64()&0xffffffffffff)
	}
	s.bus = newEventBus(opts.EventBuffer)
	s.wg.Add(1)
	go s.clock()
	return s
}

// Handler serves Marathon's HTTP API rooted at "/", with the fault injector
// (Faults) applied inside and every request recorded in RequestLog.
func (s *Server) Handler() http.Handler {
	return s.recordRequests(s.faults.Middleware(http.HandlerFunc(s.serveAPI)))
}

// Faults returns the injector Handler applies; the control API exposes it at
// /faults.
func (s *Server) Faults() *fault.Injector { return &s.faults }

// Close stops the clock, closes event streams and observer queues. Handlers
// keep answering from the last state.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.done)
	obs := s.observers
	s.mu.Unlock()
	s.bus.closeAll()
	s.wg.Wait()
	for _, o := range obs {
		o.close()
	}
}

func (s *Server) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

// ---- ids and time ----------------------------------------------------------

// uuid returns a random (seeded) version 4 UUID. Callers hold s.mu.
func (s *Server) uuid() string {
	a, b := s.rng.Uint64(), s.rng.Uint64()
	a = (a &^ (0xf << 12)) | (4 << 12)
	b = (b &^ (0x3 << 62)) | (0x2 << 62)
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
}

// nextVersion returns a new version timestamp, strictly after every earlier
// one at Marathon's millisecond precision. Callers hold s.mu.
func (s *Server) nextVersion() time.Time {
	now := time.Now().UTC().Truncate(time.Millisecond)
	if !now.After(s.lastVersion) {
		now = s.lastVersion.Add(time.Millisecond)
	}
	s.lastVersion = now
	return now
}

// ts formats a time the way Marathon does: ISO 8601, milliseconds, UTC.
func ts(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

func parseTS(v string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02T15:04:05.000Z", time.RFC3339Nano} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// ---- clock -----------------------------------------------------------------

type timer struct {
	at       time.Time
	seq      uint64
	fn       func()
	index    int
	canceled bool
}

type timerHeap []*timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i]; h[i].index = i; h[j].index = j }
func (h *timerHeap) Push(x any)   { t := x.(*timer); t.index = len(*h); *h = append(*h, t) }
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return t
}

// after runs fn with s.mu held once d has passed. Callers hold s.mu.
func (s *Server) after(d time.Duration, fn func()) *timer {
	s.timerSeq++
	t := &timer{at: time.Now().Add(d), seq: s.timerSeq, fn: fn}
	heap.Push(&s.timers, t)
	if t.index == 0 {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return t
}

// cancel stops a timer from running. Callers hold s.mu.
func (t *timer) cancel() {
	if t != nil {
		t.canceled = true
	}
}

// clock runs due timers, one at a time, under s.mu.
func (s *Server) clock() {
	defer s.wg.Done()
	tm := time.NewTimer(time.Hour)
	defer tm.Stop()
	for {
		s.mu.Lock()
		now := time.Now()
		for len(s.timers) > 0 && !s.timers[0].at.After(now) {
			t := heap.Pop(&s.timers).(*timer)
			if !t.canceled {
				t.fn()
			}
			now = time.Now()
		}
		wait := time.Hour
		if len(s.timers) > 0 {
			wait = s.timers[0].at.Sub(now)
		}
		s.mu.Unlock()
		tm.Reset(wait)
		select {
		case <-s.done:
			return
		case <-s.wake:
			if !tm.Stop() {
				select {
				case <-tm.C:
				default:
				}
			}
		case <-tm.C:
		}
	}
}

// ---- service ports ---------------------------------------------------------

// portAllocator hands out cluster-wide unique service ports from
// [local_port_min, local_port_max], as Marathon does.
type portAllocator struct {
	min, max, next int
	used           map[int]bool
}

func newPortAllocator(min, max int) portAllocator {
	return portAllocator{min: min, max: max, next: min, used: map[int]bool{}}
}

func (p *portAllocator) take() int {
	for i := 0; i <= p.max-p.min; i++ {
		port := p.next
		p.next++
		if p.next > p.max {
			p.next = p.min
		}
		if !p.used[port] {
			p.used[port] = true
			return port
		}
	}
	return 0
}

func (p *portAllocator) reserve(port int) { p.used[port] = true }
func (p *portAllocator) release(port int) { delete(p.used, port) }

// ---- app index -------------------------------------------------------------

// addIndex registers a new app in the sorted id list and group counts.
// Callers hold s.mu.
func (s *Server) addIndex(a *app) {
	i := sort.SearchStrings(s.ids, a.id)
	s.ids = append(s.ids, "")
	copy(s.ids[i+1:], s.ids[i:])
	s.ids[i] = a.id
	for _, g := range parentGroups(a.id) {
		s.groups[g]++
	}
	s.indexLabels(a, nil, a.def.labels)
}

// removeIndex is the reverse of addIndex. Callers hold s.mu.
func (s *Server) removeIndex(a *app) {
	i := sort.SearchStrings(s.ids, a.id)
	if i < len(s.ids) && s.ids[i] == a.id {
		s.ids = append(s.ids[:i], s.ids[i+1:]...)
	}
	for _, g := range parentGroups(a.id) {
		if s.groups[g]--; s.groups[g] <= 0 {
			delete(s.groups, g)
		}
	}
	s.indexLabels(a, a.def.labels, nil)
}

// indexLabels moves a in the label indexes (by key, and by key and value)
// from the old labels to the current ones.
func (s *Server) indexLabels(a *app, old, cur map[string]string) {
	for k, v := range old {
		if cv, ok := cur[k]; ok && cv == v {
			continue
		}
		if byVal := s.labelValIdx[k]; byVal != nil {
			if set := byVal[v]; set != nil {
				delete(set, a)
				if len(set) == 0 {
					delete(byVal, v)
				}
			}
			if len(byVal) == 0 {
				delete(s.labelValIdx, k)
			}
		}
		if _, ok := cur[k]; ok {
			continue
		}
		if set := s.labelIdx[k]; set != nil {
			delete(set, a)
			if len(set) == 0 {
				delete(s.labelIdx, k)
			}
		}
	}
	for k, v := range cur {
		set := s.labelIdx[k]
		if set == nil {
			set = map[*app]struct{}{}
			s.labelIdx[k] = set
		}
		set[a] = struct{}{}
		byVal := s.labelValIdx[k]
		if byVal == nil {
			byVal = map[string]map[*app]struct{}{}
			s.labelValIdx[k] = byVal
		}
		vs := byVal[v]
		if vs == nil {
			vs = map[*app]struct{}{}
			byVal[v] = vs
		}
		vs[a] = struct{}{}
	}
}

// parentGroups returns the group paths above an app id ("/a/b/c" ->
// "/a", "/a/b"); the root group is left out.
func parentGroups(id string) []string {
	var out []string
	for i := 1; i < len(id); i++ {
		if id[i] == '/' {
			out = append(out, id[:i])
		}
	}
	return out
}
