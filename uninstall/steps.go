package uninstall

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/universe-operator/universe-operator/clients/marathon"
	"github.com/universe-operator/universe-operator/clients/mesos"
	"github.com/universe-operator/universe-operator/clients/sdk"
	"github.com/universe-operator/universe-operator/errs"
	"github.com/universe-operator/universe-operator/reconcile"
)

// stepRestart is a result state: run an earlier step again.
const stepRestart = "Restart"

// result is the outcome of one step run.
type result struct {
	// state: StepDone, StepSkipped, StepRunning (wait), StepFailed (the
	// uninstall stops for a human), stepRestart, or "" (err: retried).
	state   string
	msg     string
	err     error
	after   time.Duration
	left    []string
	restart string
}

func done(msg string) result { return result{state: StepDone, msg: msg} }
func skipped(msg string, left ...string) result {
	return result{state: StepSkipped, msg: msg, left: left}
}
func wait(msg string) result { return result{state: StepRunning, msg: msg} }
func failed(err error, left ...string) result {
	return result{state: StepFailed, err: err, left: left}
}
func retry(err error) result { return result{err: err} }

// waitOrRetry turns a Waiting-class error into a wait, anything else into
// a retry.
func waitOrRetry(err error) result {
	if errs.ClassOf(err) == errs.ClassWaiting {
		return result{state: StepRunning, msg: err.Error(), after: errs.RetryAfter(err)}
	}
	return retry(err)
}

// runStep runs one step of rec.
func (m *Manager) runStep(ctx context.Context, rec *record, name string) result {
	switch name {
	case StepSDKUninstall:
		return m.sdkUninstall(ctx, rec)
	case StepSDKPlan:
		return m.sdkPlan(ctx, rec)
	case StepDeleteApp:
		return m.deleteApp(ctx, rec)
	case StepTeardown:
		return m.teardown(ctx, rec)
	case StepDestroy:
		return m.destroyVolumes(ctx, rec)
	case StepUnreserve:
		return m.unreserve(ctx, rec)
	case StepDeleteZNode:
		return m.deleteZNode(ctx, rec)
	}
	return failed(fmt.Errorf("unknown step %q", name))
}

// getOwned reads the app. gone is true when it does not exist; foreign is
// non-empty when it exists but no longer belongs to the release.
func (m *Manager) getOwned(ctx context.Context, rec *record) (app *marathon.App, gone bool, foreign string, err error) {
	app, err = m.opts.Marathon.GetApp(ctx, rec.Spec.AppID)
	if marathon.IsNotFound(err) {
		return nil, true, "", nil
	}
	if err != nil {
		return nil, false, "", err
	}
	if rec.Spec.Owner != "" && app.Labels[reconcile.LabelRelease] != rec.Spec.Owner {
		owner := app.Labels[reconcile.LabelRelease]
		if owner == "" {
			owner = "no release"
		}
		return app, false, fmt.Sprintf("app %s now belongs to %s, not to %s: left alone", rec.Spec.AppID, owner, rec.Spec.Owner), nil
	}
	return app, false, "", nil
}

// unreadableApp is what an SDK step leaves undone when the app's definition
// cannot be read: it will not change by retrying (Failed, for a human).
const unreadableApp = "the app's definition cannot be read: SDK_UNINSTALL was not set"

// sdkUninstall sets SDK_UNINSTALL=true on the app (Cosmos's
// UninstallHandler.runSdkUninstall + setMarathonUninstall).
func (m *Manager) sdkUninstall(ctx context.Context, rec *record) result {
	gone := done("the app is already gone: its scheduler cannot run the uninstall plan" + m.janitorNote(rec))
	app, isGone, foreign, err := m.getOwned(ctx, rec)
	switch {
	case err != nil:
		return retry(err)
	case isGone:
		return gone
	case foreign != "":
		return skipped(foreign)
	}
	// An app that cannot be read, or that Marathon refuses with
	// SDK_UNINSTALL added, will not change by retrying: Failed, for a human.
	view, err := parseApp(app.Raw)
	if err != nil {
		return failed(err, unreadableApp)
	}
	if v, _ := view.envString(EnvSDKUninstall); v == "true" {
		return done("the app already carries SDK_UNINSTALL=true")
	}
	body, err := sdkUninstallBody(app.Raw)
	if err != nil {
		return failed(err, unreadableApp)
	}
	res, err := m.opts.Marathon.UpdateApp(ctx, rec.Spec.AppID, body, true)
	if marathon.IsNotFound(err) {
		return gone
	}
	if marathon.StatusOf(err) == http.StatusUnprocessableEntity {
		return failed(err, "Marathon refused the app with SDK_UNINSTALL=true: the scheduler was not told to uninstall")
	}
	if err != nil {
		return waitOrRetry(err)
	}
	return done(fmt.Sprintf("PUT /v2/apps%s?force=true with SDK_UNINSTALL=true (deployment %s): the scheduler restarts in uninstall mode",
		rec.Spec.AppID, orDash(res.DeploymentID)))
}

// sdkPlan waits for the scheduler's uninstall plan (Cosmos's
// ServiceUninstaller: deployment done, plan "deploy" answering 200).
func (m *Manager) sdkPlan(ctx context.Context, rec *record) result {
	app, gone, foreign, err := m.getOwned(ctx, rec)
	switch {
	case err != nil:
		return retry(err)
	case gone:
		return done("the app is gone (as Cosmos, stop waiting for its plan)" + m.janitorNote(rec))
	case foreign != "":
		return skipped(foreign)
	}
	view, err := parseApp(app.Raw)
	if err != nil {
		return retry(errs.Permanent(err))
	}
	if v, _ := view.envString(EnvSDKUninstall); v != "true" {
		return result{state: stepRestart, restart: StepSDKUninstall,
			msg: "the app no longer carries SDK_UNINSTALL=true (changed by someone else): setting it again"}
	}
	if len(app.Deployments) > 0 {
		return wait("deployment " + strings.Join(app.Deployments, ", ") + " in flight for the app")
	}
	if m.opts.SDK == nil {
		return retry(errs.Permanent(errors.New("no SDK scheduler client configured: cannot follow the uninstall plan")))
	}
	plan, err := m.opts.SDK.DeployPlan(ctx, rec.Spec.SchedulerName, rec.Spec.APIVersion)
	if err != nil {
		if sdk.IsNotFound(err) {
			return wait("the scheduler's plan is not served yet (404: restarting in uninstall mode)")
		}
		return waitOrRetry(err)
	}
	if plan.Complete() {
		return done(fmt.Sprintf("GET /service/%s/%s/plans/deploy answered 200: the uninstall plan is COMPLETE", rec.Spec.SchedulerName, rec.Spec.APIVersion))
	}
	total, complete := 0, 0
	for _, ph := range plan.Phases {
		for _, s := range ph.Steps {
			total++
			if s.Status == "COMPLETE" {
				complete++
			}
		}
	}
	msg := fmt.Sprintf("uninstall plan %s (%d of %d steps complete)", orDash(plan.Status), complete, total)
	if plan.Code == http.StatusExpectationFailed && len(plan.Errors) > 0 {
		msg += ": errors: " + strings.Join(plan.Errors, "; ")
	}
	return wait(msg)
}

// deleteApp deletes the app: force for plain apps (runMarathonUninstall),
// without for SDK services (ServiceUninstaller.delete). The step is done
// when Marathon no longer has the app; while the deletion it started runs,
// it waits (a deletion started by a run whose record was lost is started
// again, which Marathon treats as the same request: force cancels the
// first, without force it answers 409 and the step waits).
func (m *Manager) deleteApp(ctx context.Context, rec *record) result {
	app, gone, foreign, err := m.getOwned(ctx, rec)
	switch {
	case err != nil:
		return retry(err)
	case gone:
		if rec.DeleteDeployment != "" {
			return done(fmt.Sprintf("app %s deleted (deployment %s)", rec.Spec.AppID, rec.DeleteDeployment))
		}
		return done("the app is already gone")
	case foreign != "":
		return skipped(foreign)
	}
	if rec.DeleteDeployment != "" && slices.Contains(app.Deployments, rec.DeleteDeployment) {
		return wait(fmt.Sprintf("Marathon is removing the app (deployment %s)", rec.DeleteDeployment))
	}
	force := !rec.Spec.SDK
	res, err := m.opts.Marathon.DeleteApp(ctx, rec.Spec.AppID, force)
	if marathon.IsNotFound(err) {
		return done("the app is already gone")
	}
	if err != nil {
		return waitOrRetry(err)
	}
	rec.DeleteDeployment = res.DeploymentID
	q := ""
	if force {
		q = "?force=true"
	}
	return wait(fmt.Sprintf("DELETE /v2/apps%s%s accepted (deployment %s): waiting for Marathon to remove the app",
		rec.Spec.AppID, q, orDash(res.DeploymentID)))
}

// appStillThere is the guard of every step after delete-app: it goes on
// only when Marathon has no app at the release's id. An app of the release
// there after delete-app was done is a new instance (declared again): its
// framework, volumes and ZooKeeper node are in use, so the step is skipped.
// An app of someone else there may run the same service: Failed, for a
// human. Before delete-app is done it waits for Marathon to remove the app.
func (m *Manager) appStillThere(ctx context.Context, rec *record) (result, bool) {
	_, gone, foreign, err := m.getOwned(ctx, rec)
	switch {
	case err != nil:
		return retry(err), true
	case gone:
		return result{}, false
	case foreign != "":
		err := fmt.Errorf("%w: %s", ErrNameInUse, foreign)
		return failed(err, fmt.Sprintf("nothing of the service was torn down or cleaned: %s", foreign)), true
	case stepIs(rec, StepDeleteApp, StepDone):
		return skipped(fmt.Sprintf("app %s of the release exists again (a new instance): its service is left alone", rec.Spec.AppID)), true
	}
	return wait("waiting for Marathon to remove app " + rec.Spec.AppID), true
}

// stepIs reports whether rec's step name is in state.
func stepIs(rec *record, name, state string) bool {
	for _, st := range rec.Cleanup.Steps {
		if st.Name == name {
			return st.State == state
		}
	}
	return false
}

// teardown tears down the framework named DCOS_PACKAGE_FRAMEWORK_NAME
// (runMarathonUninstall: none = done, one = TEARDOWN, several = error).
func (m *Manager) teardown(ctx context.Context, rec *record) result {
	name := rec.Spec.FrameworkName
	if m.opts.Mesos == nil {
		return skipped("no Mesos master configured", fmt.Sprintf("framework %q was not torn down: no Mesos master configured", name))
	}
	if r, stop := m.appStillThere(ctx, rec); stop {
		return r
	}
	if r, stop := m.nameInUse(ctx, rec); stop {
		return r
	}
	fws, err := m.opts.Mesos.Frameworks(ctx)
	if err != nil {
		return waitOrRetry(err)
	}
	var named []mesos.Framework
	for _, f := range fws {
		if f.Name == name {
			named = append(named, f)
		}
	}
	switch len(named) {
	case 0:
		return done(fmt.Sprintf("no framework named %q is registered", name))
	case 1:
		return m.tearDown(ctx, named[0])
	}
	return severalFrameworks(name, named)
}

// tearDown tears one framework down.
func (m *Manager) tearDown(ctx context.Context, f mesos.Framework) result {
	if err := m.opts.Mesos.Teardown(ctx, f.ID); err != nil {
		if mesos.IsNotFound(err) {
			return done(fmt.Sprintf("framework %q (%s) is already gone", f.Name, f.ID))
		}
		return waitOrRetry(err)
	}
	return done(fmt.Sprintf("TEARDOWN of framework %q (%s)", f.Name, f.ID))
}

func severalFrameworks(name string, fws []mesos.Framework) result {
	ids := make([]string, 0, len(fws))
	for _, f := range fws {
		ids = append(ids, f.ID)
	}
	sort.Strings(ids)
	err := fmt.Errorf("%w: %d frameworks named %q are registered (ids %s): tear down the right one by hand (dcos service shutdown <id>); nothing was torn down",
		ErrSeveralFrameworks, len(ids), name, strings.Join(ids, ", "))
	return failed(err, fmt.Sprintf("framework %s could not be torn down: several frameworks named %s (ids %s)", name, name, strings.Join(ids, ", ")))
}

// nameInUse stops the uninstall when another Marathon app uses the
// framework or service name: tearing down or cleaning up by that name
// would hit it.
func (m *Manager) nameInUse(ctx context.Context, rec *record) (result, bool) {
	names := map[string]bool{}
	for _, n := range []string{rec.Spec.FrameworkName, rec.Spec.Service} {
		if n != "" {
			names[EscapeName(n)] = true
		}
	}
	var users, own []string
	for _, label := range []string{LabelFrameworkName, LabelServiceName} {
		apps, err := m.opts.Marathon.ListApps(ctx, label)
		if err != nil {
			return retry(err), true
		}
		for _, a := range apps {
			mine := rec.Spec.Owner != "" && a.Labels[reconcile.LabelRelease] == rec.Spec.Owner
			if a.ID == rec.Spec.AppID && mine {
				continue // the release's own app, still being removed
			}
			if v := a.Labels[label]; v != "" && names[EscapeName(v)] {
				if mine {
					own = appendNew(own, a.ID)
				} else {
					users = appendNew(users, fmt.Sprintf("%s (%s=%s)", a.ID, label, v))
				}
			}
		}
	}
	if len(users) == 0 && len(own) > 0 {
		// The release moved to another app id and runs the same service
		// there: nothing of the name is orphaned.
		return skipped(fmt.Sprintf("the name is used by the release's current app %s: nothing to tear down or clean",
			strings.Join(own, ", "))), true
	}
	if len(users) == 0 {
		return result{}, false
	}
	sort.Strings(users)
	what := "framework " + rec.Spec.FrameworkName
	if rec.Spec.FrameworkName == "" {
		what = "service " + rec.Spec.Service
	}
	err := fmt.Errorf("%w: %s: %s is also used by app %s; nothing of that name was torn down or cleaned",
		ErrNameInUse, rec.Spec.AppID, what, strings.Join(users, ", "))
	return failed(err, fmt.Sprintf("%s was not torn down or cleaned: the name is in use by %s", what, strings.Join(users, ", "))), true
}

// janitorReady checks that nothing still uses the role before its
// volumes and reservations are destroyed: the app is gone, no other app
// uses the name, no active framework holds the role. An inactive framework
// of the service left behind (an SDK scheduler whose app was deleted before
// its uninstall plan finished) is torn down first, by Cosmos's rule (one =
// TEARDOWN, several = error).
func (m *Manager) janitorReady(ctx context.Context, rec *record) (result, bool) {
	if r, stop := m.appStillThere(ctx, rec); stop {
		return r, true
	}
	if r, stop := m.nameInUse(ctx, rec); stop {
		return r, true
	}
	fws, err := m.opts.Mesos.Frameworks(ctx)
	if err != nil {
		return waitOrRetry(err), true
	}
	var leftover []mesos.Framework
	for _, f := range fws {
		holds := false
		for _, r := range f.Roles {
			holds = holds || r == rec.Spec.Role
		}
		if !holds {
			continue
		}
		if f.Active || EscapeName(f.Name) != EscapeName(rec.Spec.Service) {
			return wait(fmt.Sprintf("framework %q (%s, active %t) still holds role %s", f.Name, f.ID, f.Active, rec.Spec.Role)), true
		}
		leftover = append(leftover, f)
	}
	switch len(leftover) {
	case 0:
		return result{}, false
	case 1:
		r := m.tearDown(ctx, leftover[0])
		if r.state == StepDone {
			// Torn down: the resources are freed as its tasks die.
			return wait(r.msg + " (left behind by its scheduler)"), true
		}
		return r, true
	}
	return severalFrameworks(leftover[0].Name, leftover), true
}

func (m *Manager) noMesos(rec *record, what string) (result, bool) {
	if m.opts.Mesos == nil {
		return skipped("no Mesos master configured", fmt.Sprintf("%s of role %s were not checked: no Mesos master configured", what, rec.Spec.Role)), true
	}
	return result{}, false
}

// destroyVolumes destroys every persistent volume reserved to the role.
func (m *Manager) destroyVolumes(ctx context.Context, rec *record) result {
	if r, stop := m.noMesos(rec, "persistent volumes"); stop {
		return r
	}
	if r, stop := m.janitorReady(ctx, rec); stop {
		return r
	}
	role := rec.Spec.Role
	agents, err := m.opts.Mesos.ReservedResources(ctx, role)
	if err != nil {
		return waitOrRetry(err)
	}
	n, where := 0, []string{}
	for _, a := range agents {
		vols := a.Volumes()
		if len(vols) == 0 {
			continue
		}
		if err := m.opts.Mesos.DestroyVolumes(ctx, a.AgentID, vols); err != nil {
			if inUse(err) {
				return wait(fmt.Sprintf("volumes of role %s on agent %s are still in use", role, a.AgentID))
			}
			return waitOrRetry(err)
		}
		n += len(vols)
		where = append(where, agentName(a))
	}
	if n == 0 {
		return done(fmt.Sprintf("no persistent volume of role %s is left", role))
	}
	// Verify: the master must not report any volume of the role any more.
	after, err := m.opts.Mesos.ReservedResources(ctx, role)
	if err != nil {
		return waitOrRetry(err)
	}
	for _, a := range after {
		if len(a.Volumes()) > 0 {
			return wait(fmt.Sprintf("destroyed %d volume(s); the master still reports volumes of role %s on agent %s", n, role, a.AgentID))
		}
	}
	return done(fmt.Sprintf("DESTROY_VOLUMES of %d volume(s) of role %s on %s", n, role, strings.Join(where, ", ")))
}

// unreserve unreserves every resource reserved to the role.
func (m *Manager) unreserve(ctx context.Context, rec *record) result {
	if r, stop := m.noMesos(rec, "reservations"); stop {
		return r
	}
	if r, stop := m.janitorReady(ctx, rec); stop {
		return r
	}
	role := rec.Spec.Role
	agents, err := m.opts.Mesos.ReservedResources(ctx, role)
	if err != nil {
		return waitOrRetry(err)
	}
	n, where := 0, []string{}
	for _, a := range agents {
		if len(a.Volumes()) > 0 {
			return result{state: stepRestart, restart: StepDestroy,
				msg: fmt.Sprintf("a persistent volume of role %s appeared on agent %s: destroying it first", role, a.AgentID)}
		}
		if len(a.Resources) == 0 {
			continue
		}
		if err := m.opts.Mesos.Unreserve(ctx, a.AgentID, a.Resources); err != nil {
			return waitOrRetry(err)
		}
		n += len(a.Resources)
		where = append(where, agentName(a))
	}
	if n == 0 {
		return done(fmt.Sprintf("nothing reserved to role %s is left", role))
	}
	after, err := m.opts.Mesos.ReservedResources(ctx, role)
	if err != nil {
		return waitOrRetry(err)
	}
	if len(after) > 0 {
		return wait(fmt.Sprintf("unreserved %d resource(s); the master still reports resources of role %s on agent %s", n, role, after[0].AgentID))
	}
	return done(fmt.Sprintf("UNRESERVE_RESOURCES of %d resource(s) of role %s on %s", n, role, strings.Join(where, ", ")))
}

// deleteZNode deletes the service's ZooKeeper node recursively.
func (m *Manager) deleteZNode(ctx context.Context, rec *record) result {
	p := rec.Spec.ZNode
	// The node is the live state of a running scheduler: checked right
	// before it goes, whatever happened since the earlier steps.
	if r, stop := m.appStillThere(ctx, rec); stop {
		return r
	}
	if r, stop := m.nameInUse(ctx, rec); stop {
		return r
	}
	if m.opts.ZooKeeper == nil {
		return skipped("no ZooKeeper configured", fmt.Sprintf("ZooKeeper node %s was not checked: no ZooKeeper configured", p))
	}
	if m.opts.Mesos != nil {
		fws, err := m.opts.Mesos.Frameworks(ctx)
		if err != nil {
			return waitOrRetry(err)
		}
		for _, f := range fws {
			if f.Active && rec.Spec.Service != "" && EscapeName(f.Name) == EscapeName(rec.Spec.Service) {
				return wait(fmt.Sprintf("framework %q (%s) of the service is active: its ZooKeeper node %s stays while it runs", f.Name, f.ID, p))
			}
		}
	}
	if err := m.opts.ZooKeeper.DeleteRecursive(ctx, p); err != nil {
		return retry(err)
	}
	return done(fmt.Sprintf("ZooKeeper node %s deleted (or already absent)", p))
}

// janitorNote says what happens to what the scheduler leaves.
func (m *Manager) janitorNote(rec *record) string {
	if rec.Spec.Janitor && rec.Spec.Service != "" {
		return "; the janitor cleans what it left"
	}
	return "; anything it reserved stays (janitor off)"
}

// inUse reports a DESTROY refused because a task still uses the volume
// (Mesos answers 400 "Persistent volumes in use"): wait, do not give up.
func inUse(err error) bool {
	var e *mesos.APIError
	return errors.As(err, &e) && e.Status == http.StatusBadRequest && strings.Contains(strings.ToLower(e.Body), "in use")
}

func agentName(a mesos.AgentResources) string {
	if a.Hostname != "" {
		return a.Hostname
	}
	return a.AgentID
}
