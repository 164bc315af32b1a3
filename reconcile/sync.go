package reconcile

import (
	"fmt"
	"time"

	"github.com/universe-operator/universe-operator/errs"
)

// Sync is a release's sync state as the status API shows it.
type Sync string

// Sync states.
const (
	SyncSynced      Sync = "Synced"
	SyncOutOfSync   Sync = "OutOfSync"
	SyncProgressing Sync = "Progressing"
	SyncFailed      Sync = "Failed"
	SyncSuspended   Sync = "Suspended"
)

// Rollout is a rollout being followed after the controller created or
// updated a release's app (issue 6): it must converge (deployment finished,
// app Healthy, or running all instances without health checks) within
// Deadline of Started, or it is rolled back.
type Rollout struct {
	// Started is when the write was accepted by Marathon.
	Started time.Time
	// Deadline is the progress deadline (release or controller setting);
	// 0 = no deadline.
	Deadline time.Duration
	// Failed is set when the deployment is known to have failed
	// (deployment_failed event, task failures of the new version).
	Failed bool
	// Reason says why it failed.
	Reason string
}

// SyncInput is what decides a release's sync state.
type SyncInput struct {
	// Action is this pass's plan outcome for the release ("" = not planned,
	// treated as nothing).
	Action ActionKind
	// Suspended is the release's suspend flag.
	Suspended bool
	// LastError is the error of the release's last attempt (rendering,
	// Marathon write...), nil when it succeeded. Its errs class decides.
	LastError error
	// DeploymentInFlight is set when a deployment affects the release's app.
	DeploymentInFlight bool
	// Health is the app's DC/OS UI health.
	Health Health
	// Converged is AppStatus.Converged() of the release's app.
	Converged bool
	// Rollout is the rollout being followed, nil when none (issue 6).
	Rollout *Rollout
	// Now is the time to judge the rollout deadline by.
	Now time.Time
}

// SyncResult is a sync state with its reason.
type SyncResult struct {
	State Sync `json:"sync"`
	// Reason says why, for people.
	Reason string `json:"reason,omitempty"`
	// Rollback asks the controller to roll back to the last good
	// definition (issue 6): the rollout failed or missed its deadline.
	Rollback bool `json:"rollback,omitempty"`
}

// SyncState decides a release's sync state. Precedence, first match wins:
//
//	suspended                                   -> Suspended
//	plan fail, or last error permanent          -> Failed
//	rollout failed                              -> Failed (Rollback)
//	rollout not converged past its deadline     -> Failed (Rollback)
//	plan wait, or a deployment in flight        -> Progressing
//	rollout not converged yet                   -> Progressing
//	plan create/update/force-update/delete      -> OutOfSync (with the last
//	                                               transient/waiting error, if any)
//	otherwise (nothing, orphan)                 -> Synced
func SyncState(in SyncInput) SyncResult {
	switch {
	case in.Suspended:
		return SyncResult{State: SyncSuspended, Reason: "suspended: no changes are made"}
	case in.Action == ActionFail:
		r := "the release cannot be applied"
		if in.LastError != nil {
			r = in.LastError.Error()
		}
		return SyncResult{State: SyncFailed, Reason: r}
	case in.LastError != nil && errs.ClassOf(in.LastError) == errs.ClassPermanent:
		return SyncResult{State: SyncFailed, Reason: in.LastError.Error()}
	}
	if ro := in.Rollout; ro != nil {
		if ro.Failed {
			r := "the rollout failed"
			if ro.Reason != "" {
				r += ": " + ro.Reason
			}
			return SyncResult{State: SyncFailed, Reason: r, Rollback: true}
		}
		if !in.Converged && ro.Deadline > 0 && in.Now.Sub(ro.Started) > ro.Deadline {
			return SyncResult{State: SyncFailed, Rollback: true,
				Reason: fmt.Sprintf("not healthy within the progress deadline of %s (health %s)", ro.Deadline, in.Health)}
		}
	}
	switch {
	case in.Action == ActionWait || in.DeploymentInFlight:
		return SyncResult{State: SyncProgressing, Reason: "deployment in flight"}
	case in.Rollout != nil && !in.Converged:
		return SyncResult{State: SyncProgressing, Reason: fmt.Sprintf("waiting for the app to become healthy (health %s)", in.Health)}
	}
	switch in.Action {
	case ActionCreate, ActionUpdate, ActionForceUpdate, ActionDelete:
		r := "changes pending: " + string(in.Action)
		if in.LastError != nil {
			r += " (last attempt: " + in.LastError.Error() + ")"
		}
		return SyncResult{State: SyncOutOfSync, Reason: r}
	}
	return SyncResult{State: SyncSynced}
}
