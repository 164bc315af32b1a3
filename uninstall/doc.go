// Package uninstall removes the Marathon app of a release the way DC/OS's
// package manager (Cosmos) does, then runs the janitor steps operators used
// to run by hand, as a durable state machine that survives restarts
// (issue 7; ../shared/docs/universe-semantics.md section 6).
//
// # API
//
//	type Request struct {
//		Release, AppID string
//		App json.RawMessage        // the app as Marathon returned it (labels, env)
//		Janitor *bool              // spec.cleanup.janitor; nil = on for framework packages
//		Framework *bool            // the source's package.json "framework", used when the
//		                           // app's DCOS_PACKAGE_DEFINITION label cannot be read
//		PostUninstallNotes string  // fallback when the label lacks them
//	}
//	func New(opts Options) (*Manager, error)
//	func (m *Manager) Start(ctx, req Request) error        // records the uninstall BEFORE anything is touched
//	func (m *Manager) Advance(ctx, release string) (api.Cleanup, bool, error)
//	func (m *Manager) Pending(ctx) ([]string, error)       // unfinished uninstalls (after a restart)
//	func (m *Manager) Get(ctx, release string) (*api.Cleanup, bool)
//	func (m *Manager) Busy(release string) bool            // an uninstall not Complete holds the release
//	func (m *Manager) Retry(ctx, release string) error     // run a Failed uninstall again (a human fixed it)
//	func (m *Manager) Forget(ctx, release string) error    // drop a finished record
//	func (m *Manager) Plan(app json.RawMessage, janitor *bool) []api.CleanupStep
//	func Plan(app json.RawMessage, janitor *bool) []api.CleanupStep  // pure, for `diff`
//	func NewSpec(req Request) (Spec, error)                // pure: what will be done and to what
//	func EscapeName(service) / Role / Principal / ZNode   // the janitor's naming rules
//
// # What is done (Cosmos, exactly, with the deviations named)
//
// SDK services (the app has label DCOS_COMMONS_UNINSTALL), as Cosmos's
// UninstallHandler.runSdkUninstall and ServiceUninstaller do:
//
//  1. sdk-uninstall: GET the app, drop "uris" and "version" (what Cosmos's
//     MarathonClient.modifyApp drops) and the read-only status fields
//     Marathon returns (tasks*, deployments, versionInfo, lastTaskFailure,
//     ...), set env SDK_UNINSTALL="true" (every other member and env entry is
//     kept byte for byte, in order), and PUT /v2/apps/<id>?force=true (with
//     partialUpdate=false: the body is the whole app). Skipped when the app
//     already carries SDK_UNINSTALL=true (a restart after the PUT) or is gone.
//  2. sdk-uninstall-plan: poll (Options.PollInterval, Cosmos's 10 s) until
//     no deployment is in flight for the app, the app carries
//     SDK_UNINSTALL=true and GET /service/<name>/<apiVersion>/plans/deploy
//     answers 200. <name> is the Marathon app id without its leading "/",
//     as Cosmos builds the URL ("service" / appId.toUri / apiVersion /
//     "plans" / plan in AdminRouterClient.getSdkServicePlanStatus, called by
//     ServiceUninstaller.checkSdkUninstallCompleted with
//     marathonResponse.app.id): NOT DCOS_SERVICE_NAME. apiVersion is label
//     DCOS_COMMONS_API_VERSION, default v1 (ServiceUninstaller.uninstall).
//     A 202, a 417 (plan errors) or a 404 (scheduler restarting) means wait.
//     An app found gone ends the wait, as Cosmos stops then (the janitor
//     cleans what its scheduler left).
//  3. delete-app: DELETE /v2/apps/<id> (without force, as
//     ServiceUninstaller.delete), then wait until Marathon no longer has
//     the app (404 = done).
//
// Other apps (UninstallHandler.runMarathonUninstall):
//
//  1. delete-app: DELETE /v2/apps/<id>?force=true, then wait until
//     Marathon no longer has the app (404 = done).
//  2. teardown-framework (only when the app has DCOS_PACKAGE_FRAMEWORK_NAME):
//     the registered frameworks of that name on the Mesos master: none =
//     done, one = TEARDOWN, several = ErrSeveralFrameworks, a permanent error
//     naming them and their ids; nothing is torn down and the uninstall ends
//     Failed with the reason in Cleanup.Left. Deviation: Cosmos tears down
//     right after the DELETE is accepted; this waits until Marathon no
//     longer has the app, so a scheduler still being killed cannot
//     re-register after the teardown.
//
// Every step that writes reads first and never touches an app at the id
// that no longer carries the release's ownership label (it is Skipped,
// "left alone").
//
// A Mesos, Marathon or ZooKeeper that cannot be reached makes the uninstall
// Incomplete (Cleanup.State "Incomplete", Reason "IncompleteUninstall: ...",
// the error wraps ErrIncomplete and is errs.Transient): it stays recorded and
// is retried (the controller's per-key backoff), never forgotten.
//
// # The janitor (Cosmos never did this; operators ran it by hand)
//
// When the release asks for it (Request.Janitor; when nil: on for packages
// with "framework": true, read from the app's DCOS_PACKAGE_DEFINITION label,
// else Request.Framework), for the service name S:
//
//	S = DCOS_SERVICE_NAME, else DCOS_PACKAGE_FRAMEWORK_NAME, else the app id  (SDK services)
//	S = DCOS_PACKAGE_FRAMEWORK_NAME, else DCOS_SERVICE_NAME                   (other apps)
//
// (an SDK scheduler registers under its service name, a plain framework
// under its framework name; in Universe packages they are the same), and
// E = S without its leading "/", other "/" replaced by "__"
// (dcos-commons SchedulerUtils.withEscapedSlashes):
//
//	role      E-role                    (SchedulerUtils.getServiceRole)
//	principal env FRAMEWORK_PRINCIPAL when the app sets it (svc.yml
//	          scheduler.principal, SchedulerUtils.getServicePrincipal), else
//	          S-principal (S without its leading "/")
//	znode     /dcos-service-E           (CuratorUtils.getServiceRootPath)
//
// the steps are:
//
//  1. destroy-volumes: DESTROY_VOLUMES of every persistent volume reserved to
//     the role, on every agent.
//  2. unreserve: UNRESERVE_RESOURCES of every resource reserved to the role
//     on every agent. Each resource is sent back exactly as the master
//     reported it, so its reservation's own principal is used; the principal
//     above is shown, not used as a filter.
//  3. delete-znode: delete /dcos-service-E and everything below it.
//
// Each step re-reads the master and is done when nothing of the role is
// left; a 409 (resources still used by tasks a teardown is killing) or a
// "volumes in use" answer means wait. For SDK services the scheduler's own
// uninstall plan has already unreserved and wiped its node, so the janitor
// only verifies and cleans what is left. Safety: the janitor waits while a
// registered framework still uses the role, and neither the teardown nor
// the janitor run when another Marathon app carries the same framework or
// service name (ErrNameInUse: Failed, named in Cleanup.Left); when that
// app belongs to the same release (its app id changed, the service moved
// with it) those steps are Skipped: nothing of the name is orphaned.
//
// # Durable state machine
//
// Start writes the record (state.Store kind "cleanups", key = release)
// before anything is touched. Advance runs the next steps in order, each
// idempotent (it re-reads the world first), recording each completion, and
// returns at the first step that has to wait. A process killed at any point
// loses at most the record of a step it had carried out; that step, run
// again, finds its work done (the app already carries SDK_UNINSTALL, is
// already gone, the framework is gone, nothing is reserved, the node is
// missing). Pending lists the unfinished records after a restart.
//
//	             Start
//	               |
//	               v
//	  +-------- Pending --------+
//	  |            | Advance    |
//	  |            v            |
//	  |   +---> Running <----+  | step waits (deployment, plan, 409):
//	  |   |        |         |  |   Running, errs.Waiting(PollInterval)
//	  |   |        |         |  |
//	  |   |   unreachable    |  |
//	  |   |        v         |  |
//	  |   |    Incomplete ---+  | retried with backoff; any later step
//	  |   |  (IncompleteUninstall, reason)  success returns to Running
//	  |   |        |
//	  |   +--------+ every step Done/Skipped
//	  v            v
//	Failed      Complete      (finished: notes, what was done, Left)
//	  |  (several frameworks named X, name in use by another app)
//	  +-- Retry --> Running   (after a human fixed the cause)
//
// Steps go Pending -> Running -> Done | Skipped | Failed. Two replicas never
// run one uninstall at the same time: Advance first claims the record with a
// compare-and-set (owner Options.ID, lease Options.Lease); a record claimed
// by another owner whose lease has not run out answers errs.Waiting. The
// same owner (a restarted process with the same ID) takes its own claim
// back at once.
//
// Busy(release) is true while a record that is not Complete exists (a
// Failed one included: it waits for a human and Retry), from what this
// Manager has read or written; Pending refreshes it from the store. The
// controller plans Wait for a release re-added while its old instance is
// being cleaned up. Records of Complete uninstalls are kept
// Options.KeepFinished (24h), then Pending deletes them. Each step run is
// bounded by Options.StepTimeout (1m).
//
// postUninstallNotes (from the app's DCOS_PACKAGE_DEFINITION label, else
// Request.PostUninstallNotes) are in Cleanup.PostUninstallNotes once the
// uninstall has finished, together with every step (Done/Skipped with their
// messages) and Cleanup.Left: what the operator still has to do.
//
// Progress: every step transition is logged (fields release, app, step) and
// reported to Options.OnEvent as an api.Event.
package uninstall
