// Package rollout holds the pure decisions of health-gated rollouts (issue
// 6): the durable records the controller keeps per release (history of
// deployed definitions, the bad definition not to retry, a rollback pin),
// the verdict on a rollout in progress, the rollback target, and the
// dependsOn waits. No I/O: the controller reads Marathon and the state
// store and passes what it saw; time is an argument.
//
// # Records (stored by the controller in package state)
//
//	type Entry   struct { ID int; Kind, Version string; Release int; Hash, AppID, Manifest, Universe string;
//	                      DeployedAt, FinishedAt time.Time; Deadline time.Duration;
//	                      Outcome, Reason, Deployment string; RollbackTo int; Kept bool; Size int }
//	type History struct { Next int; Entries []Entry /* newest first */ }
//	func (h *History) Add(e Entry, limit, maxBytes int) (*Entry, []string) // new id, supersedes an InProgress entry, trims
//	func (h *History) Trim(limit, maxBytes int) []string                   // hashes whose stored definitions may go
//	func (h *History) Active() *Entry          // the newest entry when InProgress
//	func (h *History) Newest() *Entry
//	func (h *History) Get(id int) *Entry
//	func (h *History) LastGood(exceptHash string) *Entry // newest Succeeded entry whose definition is stored
//	func (h *History) Kept(hash string) bool; Hashes() []string; Clone() *History
//	func EncodeHistory(h *History) ([]byte, error); DecodeHistory(b []byte) (*History, error)          // JSON
//	func EncodeDefinition(raw json.RawMessage) ([]byte, error); DecodeDefinition(b []byte) (json.RawMessage, error) // gzip
//	type Bad struct { Hash, AppID, Version string; Release, Entry int; Reason string; At time.Time }
//	type Pin struct { Revision int; Hash, AppID, Version string; Release int; Raw json.RawMessage; GitKey string; At time.Time }
//
// Outcomes: InProgress (the rollout is followed), Succeeded (deployment
// finished and the app converged in time), Failed (it did not; RollbackTo
// names the entry an automatic rollback is still to restore), RolledBack
// (failed, and the last good definition was written back), Superseded
// (replaced before it was judged: a newer write, or a change made outside
// the controller). Kinds: create, update (a Git change), rollback (the
// automatic rollback to the last good definition), pinned (a rollback asked
// through the API), observed (the app found running before the first
// tracked rollout: a rollback target for fleets deployed before history
// existed).
//
// The history record holds metadata only (a few hundred bytes per entry);
// each raw definition is stored once per hash in its own record
// (gzip-compressed: DCOS_PACKAGE_DEFINITION labels alone can be 70 KB, and
// a ZooKeeper znode holds at most 1 MB), read only when it is rolled back
// to, so a controller with thousands of releases keeps none in memory.
// Trim bounds both: the newest limit entries are kept (plus the last good
// one when it is older), and the stored definitions of a release within
// maxBytes, the newest entry's and the last good one's first, then newest
// first; an entry whose definition was dropped stays in the history but
// can no longer be rolled back to.
//
// # Verdict
//
//	func Judge(e Entry, app Observation, failedEvent string, now time.Time) Decision
//
// In order: the app is gone or carries another hash -> Superseded; a
// deployment_failed event for the entry's deployment (and no other
// deployment in flight) -> Failed; the app's lastTaskFailure is of the
// app's current version (a task of the new definition failed) -> Failed;
// the app converged (reconcile.AppStatus.Converged: no deployment in
// flight, Healthy or running all instances without health checks) ->
// Succeeded; the entry's deployment is gone (nothing in flight) but the
// app did not converge -> Failed; past the deadline -> Failed; else
// Progressing, with the time left to the deadline as the recheck delay.
//
// # Ordering
//
//	func WaitingFor(deps []string, states map[string]DepState) string
//	func DeleteBlockers(name string, deps map[string][]string, alive func(string) bool) []string
package rollout
