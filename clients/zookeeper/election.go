package zookeeper

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/universe-operator/universe-operator/errs"
)

// DefaultElectionPath is the election directory (below the client's root)
// when ElectionOptions.Path is empty.
const DefaultElectionPath = "/leader"

// Reasons a term ends (Term.Reason) or a campaign ends (Candidate.Err).
var (
	// ErrResigned: Resign was called.
	ErrResigned = errors.New("zookeeper election: resigned")
	// ErrCampaignEnded: the context given to Campaign ended.
	ErrCampaignEnded = errors.New("zookeeper election: campaign context ended")
	// ErrLeaseExpired: no confirmed contact with ZooKeeper for the session
	// timeout minus the margin (the connection is lost or too slow); the
	// session might expire any moment, so the leader stepped down.
	ErrLeaseExpired = errors.New("zookeeper election: leadership lease expired")
	// ErrNodeLost: the candidate's znode was deleted or belongs to another
	// session.
	ErrNodeLost = errors.New("zookeeper election: election node lost")
	// ErrNoLeader: nobody is campaigning.
	ErrNoLeader = errors.New("zookeeper election: no leader")
)

// ElectionOptions configures Campaign.
type ElectionOptions struct {
	// Path is the election directory relative to the client's root
	// (default DefaultElectionPath).
	Path string
	// ID names this candidate to the others, e.g. "hostname:8080" (the
	// address of its status API). Required; at most 1024 bytes.
	ID string
	// Margin is how long before the earliest possible session expiry the
	// leader steps down when it cannot reach ZooKeeper (default: a quarter of
	// the negotiated session timeout; values outside (0, 3/4 of it) fall back
	// to the default).
	Margin time.Duration
	// RenewInterval is how often the leader confirms its znode (default: a
	// sixth of the negotiated session timeout).
	RenewInterval time.Duration
	// Logger defaults to the client's logger.
	Logger logrus.FieldLogger
	// OnElected, when set, is called with every term as it starts (from
	// the campaign's goroutine: it must not block), including terms that
	// end before a Wait caller could see them. For metrics and audit.
	OnElected func(*Term)
}

// Candidate takes part in an election until it resigns, its campaign
// context ends or its client closes. It is safe for concurrent use.
type Candidate struct {
	c    *Client
	dir  string
	id   string
	guid string
	opts ElectionOptions
	log  logrus.FieldLogger
	ctx  context.Context

	stop     chan struct{}
	stopOnce sync.Once
	stopWhy  error
	done     chan struct{}

	mu       sync.Mutex
	term     *Term
	elected  chan struct{} // closed and replaced when a term starts
	err      error         // why the campaign ended
	leaveErr error         // deleting the znode on the way out

	// Owned by the run goroutine.
	node        string // child name of our znode, "" when none
	nodeSession int64  // session owning it
	waitingOn   string // predecessor last logged
}

// Term is one period of leadership. It ends once, for good; a candidate
// elected again gets a new Term.
type Term struct {
	node    string
	session int64
	started time.Time
	ctx     context.Context
	cancel  context.CancelCauseFunc
	lost    chan struct{}

	mu     sync.Mutex
	lease  time.Time
	ended  time.Time
	reason error
}

// Campaign joins the election under opts.Path with identity opts.ID and
// returns at once; the candidate campaigns in the background (waiting for a
// session when there is none) until Resign, ctx's end or the client's Close.
func Campaign(ctx context.Context, c *Client, opts ElectionOptions) (*Candidate, error) {
	if opts.ID == "" || len(opts.ID) > 1024 {
		return nil, errs.Permanent(fmt.Errorf("zookeeper election: candidate ID must be 1 to 1024 bytes, got %d", len(opts.ID)))
	}
	if opts.Path == "" {
		opts.Path = DefaultElectionPath
	}
	dir, err := cleanAbs(opts.Path)
	if err != nil || dir == "/" {
		return nil, errs.Permanent(fmt.Errorf("zookeeper election: path %q: must be an absolute path below the root", opts.Path))
	}
	if _, err := c.abs(dir); err != nil {
		return nil, err
	}
	var g [16]byte
	if _, err := rand.Read(g[:]); err != nil {
		return nil, fmt.Errorf("zookeeper election: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = c.c.log
	}
	cd := &Candidate{c: c, dir: dir, id: opts.ID, guid: hex.EncodeToString(g[:]), opts: opts,
		log: log.WithFields(logrus.Fields{"candidate": opts.ID, "election": path.Join(c.root, dir)}),
		ctx: ctx, stop: make(chan struct{}), done: make(chan struct{}), elected: make(chan struct{})}
	c.c.mu.Lock()
	if c.c.closed {
		c.c.mu.Unlock()
		return nil, ErrClosed
	}
	c.c.fences[cd] = struct{}{}
	c.c.mu.Unlock()
	go cd.run()
	return cd, nil
}

// ID returns the candidate's identity.
func (cd *Candidate) ID() string { return cd.id }

// IsLeader reports whether the candidate leads right now (its term is valid).
func (cd *Candidate) IsLeader() bool {
	t := cd.Term()
	return t != nil
}

// Term returns the current valid term, or nil when not leading.
func (cd *Candidate) Term() *Term {
	cd.mu.Lock()
	t := cd.term
	cd.mu.Unlock()
	if t != nil && t.Valid() {
		return t
	}
	return nil
}

// Wait blocks until the candidate leads and returns the term; it fails when
// ctx ends or the campaign ends (Err says why). It only returns valid terms,
// so a term that ends before the caller runs is skipped (OnElected sees it).
func (cd *Candidate) Wait(ctx context.Context) (*Term, error) {
	for {
		cd.mu.Lock()
		t, ch := cd.term, cd.elected
		cd.mu.Unlock()
		if t != nil && t.Valid() {
			return t, nil
		}
		select {
		case <-cd.done:
			return nil, cd.Err()
		default:
		}
		select {
		case <-ch:
		case <-cd.done:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
}

// Done is closed when the campaign has ended and the znode is deleted (or
// deleting it failed).
func (cd *Candidate) Done() <-chan struct{} { return cd.done }

// Err returns why the campaign ended (nil while it runs).
func (cd *Candidate) Err() error {
	cd.mu.Lock()
	defer cd.mu.Unlock()
	return cd.err
}

// Resign ends the current term (if any), then deletes the candidate's znode
// so the next candidate takes over at once, and stops campaigning. It
// returns the error of the deletion, if any (the znode then goes with the
// session). Campaign again to rejoin.
func (cd *Candidate) Resign(ctx context.Context) error {
	cd.halt(ErrResigned)
	select {
	case <-cd.done:
		cd.mu.Lock()
		defer cd.mu.Unlock()
		return cd.leaveErr
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// LeaderID returns the identity of the candidate at the head of the queue.
func (cd *Candidate) LeaderID(ctx context.Context) (string, error) {
	return LeaderID(ctx, cd.c, cd.dir)
}

// LeaderID returns the identity of the candidate at the head of the
// election queue under electionPath (relative to c's root), without
// campaigning: what a follower shows as "the leader". During a connection
// loss the head may have stepped down while its session lives on; it leads
// again when it reconnects, or the next one does when the session expires.
// ErrNoLeader when nobody campaigns.
func LeaderID(ctx context.Context, c *Client, electionPath string) (string, error) {
	for attempt := 0; attempt < 5; attempt++ {
		kids, _, err := c.Children(ctx, electionPath)
		if errors.Is(err, ErrNotFound) {
			return "", ErrNoLeader
		}
		if err != nil {
			return "", err
		}
		q := sortQueue(kids)
		if len(q) == 0 {
			return "", ErrNoLeader
		}
		b, _, err := c.Get(ctx, electionPath+"/"+q[0])
		if errors.Is(err, ErrNotFound) {
			continue // it just left: read again
		}
		if err != nil {
			return "", err
		}
		return string(b), nil
	}
	return "", errs.Transient(errors.New("zookeeper election: leader keeps changing"))
}

// Lost is closed when the term ends.
func (t *Term) Lost() <-chan struct{} { return t.lost }

// Context is cancelled (with the reason as cause) when the term ends. Run
// the leader's work under it.
func (t *Term) Context() context.Context { return t.ctx }

// Valid reports whether the term still holds: not ended and its lease not
// run out. Check it right before every write; it turns false at the lease
// end even if the goroutine that closes Lost runs late.
func (t *Term) Valid() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.reason == nil && time.Now().Before(t.lease)
}

// Deadline returns the current end of the lease: a write started now must
// be finished by then (context.WithDeadline(term.Context(), term.Deadline())).
func (t *Term) Deadline() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lease
}

// Started returns when the term began.
func (t *Term) Started() time.Time { return t.started }

// Ended returns when the term ended (the earlier of the step-down and the
// lease end), or the zero time while it holds.
func (t *Term) Ended() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.reason == nil {
		return time.Time{}
	}
	if t.lease.Before(t.ended) {
		return t.lease
	}
	return t.ended
}

// Reason returns why the term ended, or nil while it holds.
func (t *Term) Reason() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.reason
}

// Node returns the term's znode name.
func (t *Term) Node() string { return t.node }

// end finishes the term; it never blocks and runs once.
func (t *Term) end(reason error) {
	t.mu.Lock()
	if t.reason != nil {
		t.mu.Unlock()
		return
	}
	t.reason, t.ended = reason, time.Now()
	t.mu.Unlock()
	t.cancel(reason)
	close(t.lost)
}

// extend moves the lease end forward; a lease that already ran out is not
// revived (the term ends and a new one starts instead).
func (t *Term) extend(lease time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.reason != nil || !time.Now().Before(t.lease) || !lease.After(t.lease) {
		return false
	}
	t.lease = lease
	return true
}

// fence ends the current term at once; called synchronously by the client
// on session expiry and on Close.
func (cd *Candidate) fence(reason error) {
	cd.mu.Lock()
	t := cd.term
	cd.mu.Unlock()
	if t != nil {
		t.end(reason)
	}
}

func (cd *Candidate) halt(why error) {
	cd.stopOnce.Do(func() {
		cd.stopWhy = why
		close(cd.stop)
	})
}

// stopped returns why the campaign must stop, or nil.
func (cd *Candidate) stopped() error {
	select {
	case <-cd.stop:
		return cd.stopWhy
	default:
	}
	if cd.ctx.Err() != nil {
		return fmt.Errorf("%w: %w", ErrCampaignEnded, context.Cause(cd.ctx))
	}
	return nil
}

// margins returns the fence margin and renewal interval for timeout T.
func (cd *Candidate) margins(T time.Duration) (margin, renew time.Duration) {
	margin = cd.opts.Margin
	if margin <= 0 || margin >= T*3/4 {
		margin = T / 4
	}
	renew = cd.opts.RenewInterval
	if renew <= 0 || renew >= (T-margin)/2 {
		renew = T / 6
	}
	return margin, renew
}

func (cd *Candidate) run() {
	defer close(cd.done)
	backoff := 100 * time.Millisecond
	var why error
	for {
		if why = cd.stopped(); why != nil {
			break
		}
		sess, changed := cd.c.Session()
		if sess.State == StateClosed || cd.c.closed() {
			why = ErrClosed
			break
		}
		if sess.State != StateHasSession {
			select {
			case <-changed:
			case <-cd.stop:
			case <-cd.ctx.Done():
			}
			continue
		}
		if err := cd.round(sess, changed); err != nil {
			if errors.Is(err, ErrClosed) {
				continue // the loop sees StateClosed
			}
			cd.log.WithError(err).Debug("election round failed; retrying")
			select {
			case <-time.After(backoff):
			case <-changed:
			case <-cd.stop:
			case <-cd.ctx.Done():
			}
			backoff = min(backoff*2, 2*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
	}
	cd.leave()
	cd.c.c.mu.Lock()
	delete(cd.c.c.fences, cd)
	cd.c.c.mu.Unlock()
	cd.mu.Lock()
	cd.err = why
	cd.mu.Unlock()
	cd.log.WithField("reason", why).Info("left the election")
}

// opCtx bounds one ZooKeeper call of the election.
func (cd *Candidate) opCtx(sess Session) (context.Context, context.CancelFunc) {
	return context.WithTimeout(cd.ctx, sess.Timeout)
}

// round makes sure the candidate has a znode in this session, then either
// leads (returning when the term ends) or waits for its predecessor to go.
func (cd *Candidate) round(sess Session, changed <-chan struct{}) error {
	if cd.node == "" || cd.nodeSession != sess.ID {
		if err := cd.join(sess); err != nil {
			return err
		}
	}
	ctx, cancel := cd.opCtx(sess)
	defer cancel()
	t0 := time.Now() // before the request: the server sees it later
	kids, _, err := cd.c.Children(ctx, cd.dir)
	if err != nil {
		return err
	}
	q := sortQueue(kids)
	idx := -1
	for i, k := range q {
		if k == cd.node {
			idx = i
			break
		}
	}
	switch {
	case idx < 0:
		cd.log.WithField("node", cd.node).Warn("election node vanished; joining again")
		cd.node = ""
		return nil
	case idx == 0:
		return cd.lead(sess, t0, changed)
	}
	pred := q[idx-1]
	ok, _, w, err := cd.c.ExistsW(ctx, cd.dir+"/"+pred)
	if err != nil {
		return err
	}
	if !ok {
		return nil
	}
	if pred != cd.waitingOn {
		cd.waitingOn = pred
		cd.log.WithFields(logrus.Fields{"node": cd.node, "predecessor": pred, "position": idx}).Info("following; watching predecessor")
	}
	for {
		select {
		case <-w:
			return nil
		case <-changed:
			s, ch := cd.c.Session()
			if s.ID != sess.ID || s.State == StateExpired || s.State == StateClosed {
				return nil
			}
			changed = ch // same session: the watch survives the reconnect
		case <-cd.stop:
			return nil
		case <-cd.ctx.Done():
			return nil
		}
	}
}

// join creates the candidate's ephemeral sequential znode for this session.
// Nodes of ours left by an earlier attempt whose answer was lost are adopted
// when they belong to this session and deleted otherwise, so the candidate
// never queues behind itself.
func (cd *Candidate) join(sess Session) error {
	ctx, cancel := cd.opCtx(sess)
	defer cancel()
	cd.node = ""
	kids, _, err := cd.c.Children(ctx, cd.dir)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	for _, k := range kids {
		if !strings.HasPrefix(k, "n_"+cd.guid+"_") {
			continue
		}
		ok, st, err := cd.c.Exists(ctx, cd.dir+"/"+k)
		if err != nil {
			return err
		}
		if ok && st.EphemeralOwner == sess.ID && cd.node == "" {
			cd.node, cd.nodeSession = k, sess.ID
			continue
		}
		if err := cd.c.Delete(ctx, cd.dir+"/"+k, AnyVersion); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	if cd.node != "" {
		return nil
	}
	created, err := cd.c.Create(ctx, cd.dir+"/n_"+cd.guid+"_", []byte(cd.id), EphemeralSequential)
	if err != nil {
		return err
	}
	ok, st, err := cd.c.Exists(ctx, created)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("zookeeper election: new election node vanished")
	}
	cd.node, cd.nodeSession = path.Base(created), st.EphemeralOwner
	cd.log.WithFields(logrus.Fields{"node": cd.node, "session": fmt.Sprintf("0x%x", st.EphemeralOwner)}).Info("joined the election")
	return nil
}

type renewal struct {
	t0    time.Time
	ok    bool
	owner int64
	err   error
}

// lead holds a term until it ends. t0 is when the request that showed our
// znode at the head of the queue was sent.
func (cd *Candidate) lead(sess Session, t0 time.Time, changed <-chan struct{}) error {
	T := sess.Timeout
	margin, renewEvery := cd.margins(T)
	lease := t0.Add(T - margin)
	if !time.Now().Before(lease) {
		return fmt.Errorf("zookeeper election: reading the queue took longer than the lease (%s)", T-margin)
	}
	tctx, tcancel := context.WithCancelCause(cd.ctx)
	term := &Term{node: cd.node, session: sess.ID, started: time.Now(), ctx: tctx, cancel: tcancel,
		lost: make(chan struct{}), lease: lease}

	// Publish, unless the session was fenced meanwhile (the client fences
	// after recording the new state, so one of the two sees the other).
	cd.mu.Lock()
	cd.c.c.mu.Lock()
	cur, closed := cd.c.c.sess, cd.c.c.closed
	cd.c.c.mu.Unlock()
	if closed || cur.ID != sess.ID || cur.State == StateExpired || cur.State == StateClosed {
		cd.mu.Unlock()
		tcancel(errSessionExpired)
		return nil
	}
	cd.term = term
	close(cd.elected)
	cd.elected = make(chan struct{})
	cd.mu.Unlock()
	if cd.opts.OnElected != nil {
		cd.opts.OnElected(term)
	}

	l := cd.log.WithFields(logrus.Fields{"node": cd.node, "session": fmt.Sprintf("0x%x", sess.ID)})
	l.WithFields(logrus.Fields{"session_timeout": T, "margin": margin}).Info("elected leader")
	cd.waitingOn = ""
	defer func() {
		cd.mu.Lock()
		if cd.term == term {
			cd.term = nil
		}
		cd.mu.Unlock()
		e := l.WithFields(logrus.Fields{"reason": term.Reason(), "held": term.Ended().Sub(term.started).Round(time.Millisecond)})
		switch r := term.Reason(); {
		case errors.Is(r, ErrResigned), errors.Is(r, ErrCampaignEnded), errors.Is(r, ErrClosed):
			e.Info("stepped down as leader")
		default:
			e.Warn("stepped down as leader")
		}
	}()

	own := cd.dir + "/" + cd.node
	var ownWatch <-chan WatchEvent
	arm := func() {
		ctx, cancel := cd.opCtx(sess)
		defer cancel()
		ok, _, w, err := cd.c.ExistsW(ctx, own)
		switch {
		case err != nil:
			ownWatch = nil // renewals will tell
		case !ok:
			term.end(ErrNodeLost)
		default:
			ownWatch = w
		}
	}
	arm()

	timer := time.NewTimer(time.Until(term.Deadline()))
	defer timer.Stop()
	tick := time.NewTicker(renewEvery)
	defer tick.Stop()
	results := make(chan renewal, 1)
	inflight, disconnected := false, false
	for {
		select {
		case <-term.lost:
			if errors.Is(term.Reason(), ErrNodeLost) {
				cd.node = ""
			}
			return nil
		case <-timer.C:
			if d := time.Until(term.Deadline()); d > 0 {
				timer.Reset(d)
				continue
			}
			term.end(fmt.Errorf("%w: no confirmed contact with zookeeper within %s", ErrLeaseExpired, T-margin))
		case <-tick.C:
			if inflight {
				continue
			}
			inflight = true
			go func(deadline time.Time) {
				ctx, cancel := context.WithDeadline(cd.ctx, deadline)
				defer cancel()
				t := time.Now()
				ok, st, err := cd.c.Exists(ctx, own)
				results <- renewal{t0: t, ok: ok, owner: st.EphemeralOwner, err: err}
			}(term.Deadline())
		case r := <-results:
			inflight = false
			switch {
			case r.err != nil:
				l.WithError(r.err).Debug("lease renewal failed")
			case !r.ok || r.owner != sess.ID:
				term.end(ErrNodeLost)
			default:
				cur, _ := cd.c.Session()
				t := T
				if cur.ID == sess.ID && cur.Timeout < t {
					t = cur.Timeout
				}
				if term.extend(r.t0.Add(t - margin)) {
					timer.Reset(time.Until(term.Deadline()))
				}
			}
		case ev := <-ownWatch:
			switch ev.Type {
			case WatchNodeDeleted:
				term.end(ErrNodeLost)
			case WatchNotWatching:
				if errors.Is(ev.Err, ErrClosed) {
					term.end(ErrClosed)
				} else {
					term.end(errSessionExpired)
				}
			default:
				arm()
			}
		case <-changed:
			s, ch := cd.c.Session()
			changed = ch
			switch {
			case s.State == StateClosed:
				term.end(ErrClosed)
			case s.ID != sess.ID || s.State == StateExpired:
				term.end(errSessionExpired)
			case s.State == StateDisconnected && !disconnected:
				disconnected = true
				l.WithField("step_down_at", term.Deadline().Format(time.RFC3339Nano)).
					Warn("leader lost its zookeeper connection; stepping down at the lease end unless it comes back")
			case s.State == StateHasSession && disconnected:
				disconnected = false
				l.Info("leader reconnected to zookeeper with its session")
			}
		case <-cd.stop:
			term.end(cd.stopWhy)
		case <-cd.ctx.Done():
			term.end(fmt.Errorf("%w: %w", ErrCampaignEnded, context.Cause(cd.ctx)))
		}
	}
}

// leave deletes the candidate's znodes (after any term has ended).
func (cd *Candidate) leave() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, _ := cd.c.Session()
	if s.State == StateClosed {
		return // the session's close removed them
	}
	var err error
	if s.State == StateHasSession {
		kids, _, cerr := cd.c.Children(ctx, cd.dir)
		err = cerr
		if errors.Is(err, ErrNotFound) {
			err = nil
		}
		for _, k := range kids {
			if strings.HasPrefix(k, "n_"+cd.guid+"_") {
				if derr := cd.c.Delete(ctx, cd.dir+"/"+k, AnyVersion); derr != nil && !errors.Is(derr, ErrNotFound) {
					err = derr
				}
			}
		}
	} else if cd.node != "" {
		err = cd.c.Delete(ctx, cd.dir+"/"+cd.node, AnyVersion)
		if errors.Is(err, ErrNotFound) {
			err = nil
		}
	}
	cd.node = ""
	if err != nil {
		cd.log.WithError(err).Warn("could not delete the election node; it goes when the session ends")
	}
	cd.mu.Lock()
	cd.leaveErr = err
	cd.mu.Unlock()
}

// sortQueue returns the candidates' node names ordered by sequence number.
// Names are n_<guid>_<10-digit sequence>; others are ignored.
func sortQueue(kids []string) []string {
	type entry struct {
		name string
		seq  int64
	}
	var es []entry
	for _, k := range kids {
		i := strings.LastIndexByte(k, '_')
		if !strings.HasPrefix(k, "n_") || i < 0 || len(k)-i-1 < 10 {
			continue
		}
		seq, err := strconv.ParseInt(k[i+1:], 10, 64)
		if err != nil {
			continue
		}
		es = append(es, entry{k, seq})
	}
	sort.Slice(es, func(a, b int) bool { return es[a].seq < es[b].seq })
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.name
	}
	return out
}
