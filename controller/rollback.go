package controller

import (
	"context"
	"errors"
	"fmt"

	"github.com/universe-operator/universe-operator/errs"
	"github.com/universe-operator/universe-operator/rollout"
	"github.com/universe-operator/universe-operator/state"
)

// Errors of RollbackTo (the HTTP API maps them to status codes).
var (
	// ErrSuspended: the release is suspended; nothing is changed (409).
	ErrSuspended = errors.New("the release is suspended: no change is made to it")
	// ErrNotRollbackable: the revision cannot be rolled back to (400).
	ErrNotRollbackable = errors.New("revision cannot be rolled back to")
)

// RollbackTo pins a release to an earlier definition of its history (POST
// api/v1/releases/{name}/rollback {"revision": N}, the default
// Options.Rollback). The pin is recorded durably (state kind pins); the
// release then deploys the pinned definition (health-gated like any
// rollout, without the package's upgrade rules: going back to what ran
// before is the operator's decision) and stays on it until Git changes: a
// change of its manifest or of the package revision it resolves to removes
// the pin. Only revisions that succeeded and whose definition is still kept
// can be pinned. Only the leader pins (ErrNotLeader on a follower).
func (c *Controller) RollbackTo(name string, revision int) error {
	w := c.world.Load()
	d := w.desired[name]
	if d == nil {
		return fmt.Errorf("%w: %q is not declared", ErrUnknownRelease, name)
	}
	if !c.opts.Leader.IsLeader() {
		return ErrNotLeader
	}
	if d.rel != nil && d.rel.Spec.Suspend {
		return ErrSuspended
	}
	r := c.ro
	rr := r.rel(name)
	rr.mu.Lock()
	defer rr.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.RequestTimeout)
	defer cancel()
	if err := r.load(ctx, rr); err != nil {
		return err
	}
	e := rr.hist.Get(revision)
	switch {
	case e == nil:
		return fmt.Errorf("%w: release %q has no revision #%d in its history", ErrNotRollbackable, name, revision)
	case e.Outcome != rollout.Succeeded:
		return fmt.Errorf("%w: revision #%d of %q is %s (only revisions that succeeded can be rolled back to)", ErrNotRollbackable, revision, name, e.Outcome)
	case !e.Kept:
		return fmt.Errorf("%w: the definition of revision #%d of %q is no longer kept", ErrNotRollbackable, revision, name)
	case d.appID != "" && e.AppID != d.appID:
		return fmt.Errorf("%w: revision #%d of %q is app %s, the release now wants %s", ErrNotRollbackable, revision, name, e.AppID, d.appID)
	}
	raw, err := r.definition(ctx, rr, e.Hash)
	switch {
	case errors.Is(err, state.ErrNotFound) || errs.IsPermanent(err):
		return fmt.Errorf("%w: the definition of revision #%d of %q cannot be read: %v", ErrNotRollbackable, revision, name, err)
	case err != nil:
		return err
	}
	old := rr.pin
	rr.pin = &rollout.Pin{Revision: e.ID, Hash: e.Hash, AppID: e.AppID, Version: e.Version, Release: e.Release,
		Raw: raw, GitKey: gitKey(d), At: c.opts.Clock.Now().UTC()}
	if err := r.savePin(ctx, rr); err != nil {
		rr.pin = old
		return err
	}
	rr.ver++
	c.logFor(d, name, e.AppID).WithField("pinned", e.ID).Info("rollback asked through the API: the release is pinned until Git changes")
	return nil
}
