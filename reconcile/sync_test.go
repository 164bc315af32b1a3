package reconcile

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/errs"
)

func TestSyncStateTruthTable(t *testing.T) {
	perm := errs.Permanent(errors.New("options fail the schema: /count: must be >= 1"))
	trans := errs.Transient(errors.New("marathon: 503"))
	wait := errs.Waiting(errors.New("app is locked by deployment d1"), time.Second)
	now := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	young := &Rollout{Started: now.Add(-time.Minute), Deadline: 10 * time.Minute}
	old := &Rollout{Started: now.Add(-11 * time.Minute), Deadline: 10 * time.Minute}
	failed := &Rollout{Started: now.Add(-time.Minute), Deadline: 10 * time.Minute, Failed: true, Reason: "deployment_failed"}
	tests := []struct {
		name     string
		in       SyncInput
		want     Sync
		reason   string
		rollback bool
	}{
		// one row per rule
		{"suspended", SyncInput{Suspended: true, Action: ActionNothing}, SyncSuspended, "suspended", false},
		{"plan fail", SyncInput{Action: ActionFail, LastError: perm}, SyncFailed, "schema", false},
		{"plan fail without error", SyncInput{Action: ActionFail}, SyncFailed, "cannot be applied", false},
		{"permanent last error", SyncInput{Action: ActionUpdate, LastError: errs.Permanent(errors.New("marathon 422: /cpus: must be >= 0.01"))}, SyncFailed, "422", false},
		{"rollout failed", SyncInput{Action: ActionNothing, Rollout: failed, Now: now}, SyncFailed, "deployment_failed", true},
		{"rollout past its deadline", SyncInput{Action: ActionNothing, Health: HealthUnhealthy, Rollout: old, Now: now}, SyncFailed, "progress deadline of 10m0s (health Unhealthy)", true},
		{"wait", SyncInput{Action: ActionWait, DeploymentInFlight: true}, SyncProgressing, "in flight", false},
		{"deployment in flight", SyncInput{Action: ActionNothing, DeploymentInFlight: true}, SyncProgressing, "in flight", false},
		{"rollout young, not converged", SyncInput{Action: ActionNothing, Health: HealthIdle, Rollout: young, Now: now}, SyncProgressing, "healthy", false},
		{"create", SyncInput{Action: ActionCreate}, SyncOutOfSync, "create", false},
		{"update", SyncInput{Action: ActionUpdate}, SyncOutOfSync, "update", false},
		{"force update", SyncInput{Action: ActionForceUpdate}, SyncOutOfSync, "force-update", false},
		{"delete", SyncInput{Action: ActionDelete}, SyncOutOfSync, "delete", false},
		{"update with a transient error", SyncInput{Action: ActionUpdate, LastError: trans}, SyncOutOfSync, "503", false},
		{"update with a waiting error", SyncInput{Action: ActionUpdate, LastError: wait}, SyncOutOfSync, "locked", false},
		{"nothing", SyncInput{Action: ActionNothing}, SyncSynced, "", false},
		{"not planned", SyncInput{}, SyncSynced, "", false},
		{"orphan", SyncInput{Action: ActionOrphan}, SyncSynced, "", false},
		{"rollout converged", SyncInput{Action: ActionNothing, Health: HealthHealthy, Converged: true, Rollout: old, Now: now}, SyncSynced, "", false},
		{"no deadline never fails", SyncInput{Action: ActionNothing, Rollout: &Rollout{Started: now.Add(-time.Hour)}, Now: now}, SyncProgressing, "", false},
		// precedence between neighbours
		{"suspended beats fail", SyncInput{Suspended: true, Action: ActionFail, LastError: perm}, SyncSuspended, "", false},
		{"fail beats a failed rollout", SyncInput{Action: ActionFail, LastError: perm, Rollout: failed, Now: now}, SyncFailed, "schema", false},
		{"permanent error beats in flight", SyncInput{Action: ActionWait, LastError: perm, DeploymentInFlight: true}, SyncFailed, "schema", false},
		{"failed rollout beats in flight", SyncInput{Action: ActionWait, DeploymentInFlight: true, Rollout: failed, Now: now}, SyncFailed, "", true},
		{"deadline beats in flight", SyncInput{Action: ActionWait, DeploymentInFlight: true, Rollout: old, Now: now}, SyncFailed, "", true},
		{"in flight beats pending update", SyncInput{Action: ActionUpdate, DeploymentInFlight: true}, SyncProgressing, "", false},
		{"young rollout beats pending update", SyncInput{Action: ActionUpdate, Rollout: young, Now: now}, SyncProgressing, "", false},
		{"transient error with nothing to do is stale", SyncInput{Action: ActionNothing, LastError: trans}, SyncSynced, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SyncState(tt.in)
			if got.State != tt.want || !strings.Contains(got.Reason, tt.reason) || got.Rollback != tt.rollback {
				t.Errorf("SyncState = %+v, want %s (%q) rollback %v", got, tt.want, tt.reason, tt.rollback)
			}
		})
	}
}
