package controller

import (
	"context"
	"fmt"

	"github.com/universe-operator/universe-operator/api"
	"github.com/universe-operator/universe-operator/clients/marathon"
)

// DeleteUninstaller is the default Uninstaller: DELETE /v2/apps/{id}
// with force=true, as Cosmos deletes a plain app (universe-semantics.md
// section 6). A deletion cancels a deployment in flight on the app: the
// release is gone, so its rollout no longer matters. It does no SDK
// uninstall, framework teardown or janitor step (issue 7).
type DeleteUninstaller struct {
	Marathon interface {
		DeleteApp(ctx context.Context, id string, force bool) (marathon.WriteResult, error)
	}
}

// Uninstall implements Uninstaller.
func (u DeleteUninstaller) Uninstall(ctx context.Context, req UninstallRequest) (UninstallResult, error) {
	res, err := u.Marathon.DeleteApp(ctx, req.AppID, true)
	if err != nil {
		if marathon.IsNotFound(err) {
			return UninstallResult{Done: true, Message: "the app is already gone",
				Cleanup: deleteCleanup("Done", "the app is already gone")}, nil
		}
		return UninstallResult{}, fmt.Errorf("delete app %s: %w", req.AppID, err)
	}
	return UninstallResult{Done: true, DeploymentID: res.DeploymentID,
		Message: "app deletion started (deployment " + res.DeploymentID + ")",
		Cleanup: deleteCleanup("Done", "deployment "+res.DeploymentID)}, nil
}

func deleteCleanup(state, msg string) *api.Cleanup {
	return &api.Cleanup{State: "Running", Steps: []api.CleanupStep{{Name: "delete-app", State: state, Message: msg}}}
}
