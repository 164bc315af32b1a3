// Package zookeeper is the controller's ZooKeeper client: a small,
// context-aware wrapper around github.com/go-zookeeper/zk (v1.0.4), plus
// leader election with a lease-based fence.
//
// # Client
//
//	c, err := zookeeper.Connect(ctx, []string{"master.mesos:2181"},
//	        zookeeper.WithRoot("/universe-operator"),        // chroot for every path
//	        zookeeper.WithSessionTimeout(8*time.Second),     // DefaultSessionTimeout
//	        zookeeper.WithDigestAuthFile("/run/secrets/zk"), // "user:password"; or WithDigestAuthEnv
//	        zookeeper.WithLogger(log))                       // logrus; library chatter at debug
//	defer c.Close()
//
// Connect returns once a session is established (or ctx ends); the client
// then reconnects by itself, keeping the session when ZooKeeper allows. A
// server that accepts the connection but does not answer the handshake (one
// still starting) is given up after max(1s, T/(3 x servers)) instead of
// go-zookeeper's 10 x 2/3 T, so reconnection after a ZooKeeper restart is not
// stalled for a minute.
// Every path given to a Client is relative to its root ("/" when no root is
// set); (*Client).At(root) returns a view of the same connection with another
// root, e.g. c.At("/") for the janitor, which deletes ServiceNodePath(name)
// ("/dcos-service-<escaped>", universe-semantics.md section 6).
//
// Methods (all take a context and return errors wrapped with the path):
//
//	Get(ctx, path) ([]byte, Stat, error)
//	Set(ctx, path, data, version int32) (Stat, error)         // AnyVersion = -1
//	Create(ctx, path, data, mode CreateMode) (string, error)  // creates missing parents
//	Delete(ctx, path, version int32) error
//	DeleteRecursive(ctx, path) error                          // children first; missing = success
//	Exists(ctx, path) (bool, Stat, error)
//	Children(ctx, path) ([]string, Stat, error)               // sorted
//	ExistsW / ChildrenW                                       // with a one-shot <-chan WatchEvent
//	Session() (Session, <-chan struct{})                      // state snapshot + change signal
//	Root() string; At(root) *Client; Close()
//
// Errors: errors.Is(err, ErrNotFound | ErrExists | ErrBadVersion | ErrNotEmpty
// | ErrTooLarge | ErrInvalidPath | ErrClosed). Connection problems, timeouts
// and expired sessions are errs.Transient; bad paths, oversize data and
// missing permissions are errs.Permanent; ErrNotFound, ErrExists,
// ErrBadVersion and ErrNotEmpty are left unclassified for the caller to
// decide. Data above MaxDataSize is refused before it is sent.
//
// # Leader election
//
//	cand, err := zookeeper.Campaign(ctx, c, zookeeper.ElectionOptions{
//	        Path: "/leader", ID: "host-1:8080"})
//	for {
//	        term, err := cand.Wait(ctx)   // blocks until this candidate leads
//	        if err != nil { break }       // ctx ended or resigned
//	        runLeader(term.Context())     // cancelled the moment leadership ends
//	        <-term.Lost()
//	}
//
// ElectionOptions: Path (default DefaultElectionPath), ID (required), Margin,
// RenewInterval, Logger, OnElected (a hook seeing every term as it starts,
// for metrics; Wait skips terms that end before its caller runs).
// Candidates create ephemeral sequential znodes under <root><Path> holding
// their ID; the lowest sequence leads; every other candidate watches only its
// predecessor (no herd effect). (*Candidate) offers IsLeader() bool,
// Term() *Term, Wait(ctx) (*Term, error), LeaderID(ctx) (string, error) (the
// ID of the candidate at the head of the queue, for followers' status API),
// Resign(ctx) error (step down, delete the znode, stop campaigning),
// Done() <-chan struct{} and Err() (why the campaign ended: ErrResigned,
// ErrCampaignEnded, ErrClosed). LeaderID(ctx, c, path) reads the leader's ID
// without campaigning (e.g. for the status command). A *Term is one period
// of leadership: Lost() <-chan struct{}, Context() (cancelled with the reason
// as cause), Valid() bool (check it right before every write), Deadline()
// (the current lease end: bound each write by it), Started(), Ended(),
// Reason() (ErrLeaseExpired, ErrNodeLost, ErrResigned, ...) and Node().
//
// # The step-down rule (fence)
//
// Let T be the session timeout negotiated with the server (read from the
// server's connect response, not the requested one) and M the fence margin
// (default T/4). The leader holds a lease that ends at t0+T-M, where t0 is the
// local monotonic time just before it sent the latest request that came back
// successfully and proved its znode still exists under its own session (the
// election read at the start of the term, then a renewal every T/6). The
// leader steps down (Lost closes, Context is cancelled, Valid and IsLeader turn
// false):
//   - when the lease ends without a renewal, which is what happens after the
//     connection is lost (StateDisconnected): the lease timer is the
//     "timer shorter than the session timeout", and it runs from the last
//     confirmed contact, not from the moment the client noticed the loss
//     (go-zookeeper notices a silent loss only after 2T/3 without a read);
//   - immediately on StateExpired, on a session ID change, when its znode is
//     found deleted or owned by another session, on Resign, when the Campaign
//     context ends, and when the Client is closed (synchronously, before the
//     close request is sent).
//
// Why no two leaders act at once: another candidate can only lead after the
// leader's znode is deleted. Either the leader deleted it itself (Resign,
// after stepping down), or ZooKeeper expired the session, which it does no
// earlier than T after the last packet it received from that session; the
// renewal sent at t0 reached the server after t0, so expiry, and hence any
// successor's term, comes after t0+T, while the old leader stopped at t0+T-M.
// M absorbs a late timer (GC, scheduling) and an in-flight write; writers
// must stop at Lost/Context and check Valid before each write.
//
// # State
//
// Package state builds a durable key-value store for controller records on
// this client (znodes under <root>/state/<kind>/<key>).
package zookeeper
