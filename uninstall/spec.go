package uninstall

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/universe-operator/universe-operator/api"
	"github.com/universe-operator/universe-operator/errs"
	"github.com/universe-operator/universe-operator/reconcile"
	"github.com/universe-operator/universe-operator/universe"
)

// Labels and env read from the app (universe-semantics.md sections 5, 6).
const (
	// LabelSDK marks an SDK (dcos-commons) service: Cosmos's SdkServiceLabel.
	LabelSDK = "DCOS_COMMONS_UNINSTALL"
	// LabelSDKAPIVersion is the scheduler API version (default v1).
	LabelSDKAPIVersion = "DCOS_COMMONS_API_VERSION"
	// LabelFrameworkName names the Mesos framework the app runs.
	LabelFrameworkName = "DCOS_PACKAGE_FRAMEWORK_NAME"
	// LabelServiceName is the DC/OS service name.
	LabelServiceName = "DCOS_SERVICE_NAME"
	// LabelPackageName names the installed package.
	LabelPackageName = "DCOS_PACKAGE_NAME"
	// LabelDefinition carries the installed package definition.
	LabelDefinition = "DCOS_PACKAGE_DEFINITION"
	// EnvSDKUninstall is the env Cosmos sets to start an SDK uninstall.
	EnvSDKUninstall = "SDK_UNINSTALL"
	// EnvFrameworkPrincipal is the principal an SDK scheduler registers with
	// when the package sets one (svc.yml scheduler.principal).
	EnvFrameworkPrincipal = "FRAMEWORK_PRINCIPAL"
	// DefaultSDKAPIVersion is what Cosmos uses when the label is absent.
	DefaultSDKAPIVersion = "v1"
)

// Step names, in the order they run.
const (
	StepSDKUninstall = "sdk-uninstall"      // PUT SDK_UNINSTALL=true
	StepSDKPlan      = "sdk-uninstall-plan" // wait for the uninstall plan
	StepDeleteApp    = "delete-app"         // DELETE the app
	StepTeardown     = "teardown-framework" // TEARDOWN the framework
	StepDestroy      = "destroy-volumes"    // janitor: DESTROY_VOLUMES
	StepUnreserve    = "unreserve"          // janitor: UNRESERVE_RESOURCES
	StepDeleteZNode  = "delete-znode"       // janitor: ZooKeeper node
)

// Step states (api.CleanupStep.State).
const (
	StepPending = "Pending"
	StepRunning = "Running"
	StepDone    = "Done"
	StepSkipped = "Skipped"
	StepFailed  = "Failed"
)

// Uninstall states (api.Cleanup.State).
const (
	StatePending    = "Pending"    // recorded, nothing done yet
	StateRunning    = "Running"    // steps in progress (or waiting)
	StateIncomplete = "Incomplete" // the last run could not reach a component; retried
	StateComplete   = "Complete"   // finished (Left may still list what is left by hand)
	StateFailed     = "Failed"     // stopped: needs a human (Reason, Left)
)

// Kinds of uninstall (api.Cleanup.Kind).
const (
	KindSDK      = "sdk"
	KindMarathon = "marathon"
)

// Request asks for the uninstall of one app of a release.
type Request struct {
	// Release is the release name (the app's ownership label).
	Release string
	// AppID is the app's id.
	AppID string
	// App is the raw app as last seen (labels and env are read from it).
	App json.RawMessage
	// Janitor is spec.cleanup.janitor; nil = on when the package is a
	// framework ("framework": true).
	Janitor *bool
	// Framework is the package's "framework" flag from the source, used when
	// the app's DCOS_PACKAGE_DEFINITION label is missing or unreadable.
	Framework *bool
	// PostUninstallNotes are used when the label lacks them.
	PostUninstallNotes string
}

// Spec is what an uninstall will do and to what: pure data computed from
// the app before anything is touched, recorded with the uninstall.
type Spec struct {
	AppID string `json:"appId"`
	// Package is the app's DCOS_PACKAGE_NAME ("" when absent).
	Package string `json:"package,omitempty"`
	// Owner is the app's ownership label when the uninstall started: an app
	// at AppID with another owner is never touched.
	Owner string `json:"owner,omitempty"`
	// SDK is true for SDK services (label DCOS_COMMONS_UNINSTALL).
	SDK bool `json:"sdk,omitempty"`
	// APIVersion is the SDK scheduler API version (SDK services).
	APIVersion string `json:"apiVersion,omitempty"`
	// SchedulerName is the name in /service/<name>/ Cosmos polls: the app
	// id without its leading "/".
	SchedulerName string `json:"schedulerName,omitempty"`
	// FrameworkName is DCOS_PACKAGE_FRAMEWORK_NAME ("" when absent).
	FrameworkName string `json:"frameworkName,omitempty"`
	// Janitor says whether the janitor steps run; JanitorReason says why.
	Janitor       bool   `json:"janitor"`
	JanitorReason string `json:"janitorReason"`
	// Service is the janitor's service name S ("" when the app names none).
	Service string `json:"service,omitempty"`
	// Role, Principal and ZNode derive from Service (EscapeName).
	Role      string `json:"role,omitempty"`
	Principal string `json:"principal,omitempty"`
	ZNode     string `json:"znode,omitempty"`
	// PostUninstallNotes are the package's notes (label, else Request).
	PostUninstallNotes string `json:"postUninstallNotes,omitempty"`
	// Problems are non-fatal findings (e.g. an unreadable definition label).
	Problems []string `json:"problems,omitempty"`
}

// Kind returns KindSDK or KindMarathon.
func (s Spec) Kind() string {
	if s.SDK {
		return KindSDK
	}
	return KindMarathon
}

// EscapeName returns the service name as dcos-commons escapes it for roles
// and ZooKeeper: without its leading "/", every other "/" replaced by "__"
// ("/prod/kafka" -> "prod__kafka").
func EscapeName(service string) string {
	return strings.ReplaceAll(strings.TrimPrefix(service, "/"), "/", "__")
}

// Role returns the Mesos role of a service: "<escaped>-role".
func Role(service string) string { return EscapeName(service) + "-role" }

// Principal returns the default principal of a service: "<name>-principal"
// with the name's leading "/" removed (other "/" are kept, as dcos-commons
// does not escape the principal).
func Principal(service string) string { return strings.TrimPrefix(service, "/") + "-principal" }

// ZNode returns the ZooKeeper node of a service: "/dcos-service-<escaped>".
func ZNode(service string) string { return "/dcos-service-" + EscapeName(service) }

// appView is what the uninstall reads from a raw app.
type appView struct {
	ID     string            `json:"id"`
	Labels map[string]string `json:"labels"`
	Env    map[string]json.RawMessage
}

// parseApp reads id, labels and the string env entries of a raw app.
func parseApp(raw json.RawMessage) (appView, error) {
	var a struct {
		ID     string                     `json:"id"`
		Labels map[string]json.RawMessage `json:"labels"`
		Env    map[string]json.RawMessage `json:"env"`
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return appView{}, fmt.Errorf("app JSON: %w", err)
	}
	v := appView{ID: a.ID, Labels: map[string]string{}, Env: a.Env}
	for k, raw := range a.Labels {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			v.Labels[k] = s
		}
	}
	return v, nil
}

// envString returns a string env value ("" and false for a secret
// reference or a missing entry).
func (a appView) envString(name string) (string, bool) {
	raw, ok := a.Env[name]
	if !ok {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// NewSpec computes what the uninstall of req will do. It reads only req
// (no I/O). An app that is not a JSON object is errs.Permanent.
func NewSpec(req Request) (Spec, error) {
	id := req.AppID
	var app appView
	if len(req.App) > 0 {
		var err error
		if app, err = parseApp(req.App); err != nil {
			return Spec{}, errs.Permanent(fmt.Errorf("uninstall %s: %w", orDash(req.AppID), err))
		}
		if id == "" {
			id = app.ID
		}
	} else {
		app.Labels = map[string]string{}
	}
	if id == "" {
		return Spec{}, errs.Permanent(errors.New("uninstall: no app id"))
	}
	if !strings.HasPrefix(id, "/") {
		id = "/" + id
	}
	s := Spec{AppID: id, Package: app.Labels[LabelPackageName], Owner: app.Labels[reconcile.LabelRelease],
		FrameworkName: app.Labels[LabelFrameworkName]}
	_, s.SDK = app.Labels[LabelSDK]
	if s.SDK {
		s.APIVersion = app.Labels[LabelSDKAPIVersion]
		if s.APIVersion == "" {
			s.APIVersion = DefaultSDKAPIVersion
		}
		s.SchedulerName = strings.TrimPrefix(id, "/")
	}

	// The installed package definition: framework flag and notes.
	var framework *bool
	if def, ok := app.Labels[LabelDefinition]; ok && def != "" {
		pkg, err := universe.DecodeDefinitionLabel(def)
		if err != nil {
			s.Problems = append(s.Problems, err.Error())
		} else {
			f := pkg.Framework
			framework = &f
			s.PostUninstallNotes = pkg.PostUninstallNotes
		}
	}
	if framework == nil {
		framework = req.Framework
	}
	if s.PostUninstallNotes == "" {
		s.PostUninstallNotes = req.PostUninstallNotes
	}
	switch {
	case req.Janitor != nil && *req.Janitor:
		s.Janitor, s.JanitorReason = true, "spec.cleanup.janitor is true"
	case req.Janitor != nil:
		s.JanitorReason = "spec.cleanup.janitor is false"
	case framework != nil && *framework:
		s.Janitor, s.JanitorReason = true, "default for a framework package (framework: true)"
	case framework != nil:
		s.JanitorReason = "default: the package is not a framework"
	default:
		s.JanitorReason = "default: the package definition is unknown"
	}

	// The service the janitor acts on.
	svc, fw := app.Labels[LabelServiceName], s.FrameworkName
	if s.SDK {
		s.Service = firstNonEmpty(svc, fw, strings.TrimPrefix(id, "/"))
	} else {
		s.Service = firstNonEmpty(fw, svc)
	}
	if s.Service != "" {
		s.Role, s.ZNode = Role(s.Service), ZNode(s.Service)
		s.Principal = Principal(s.Service)
		if p, ok := app.envString(EnvFrameworkPrincipal); ok && p != "" {
			s.Principal = p
		}
	}
	return s, nil
}

// Steps returns the steps of the uninstall, all Pending, with what each
// will do; janitor steps that will not run are listed as Skipped with the
// reason.
func (s Spec) Steps() []api.CleanupStep {
	var out []api.CleanupStep
	add := func(name, state, msg string) {
		out = append(out, api.CleanupStep{Name: name, State: state, Message: msg})
	}
	if s.SDK {
		add(StepSDKUninstall, StepPending, "PUT /v2/apps"+s.AppID+"?force=true with env SDK_UNINSTALL=true: the scheduler runs its uninstall plan")
		add(StepSDKPlan, StepPending, fmt.Sprintf("wait until no deployment is in flight and GET /service/%s/%s/plans/deploy answers 200",
			s.SchedulerName, s.APIVersion))
		add(StepDeleteApp, StepPending, "DELETE /v2/apps"+s.AppID)
	} else {
		add(StepDeleteApp, StepPending, "DELETE /v2/apps"+s.AppID+"?force=true")
		if s.FrameworkName != "" {
			add(StepTeardown, StepPending, fmt.Sprintf("TEARDOWN the Mesos framework named %q once the app is gone (none: nothing to do; several: stop for a human)", s.FrameworkName))
		}
	}
	if s.Service == "" {
		return out
	}
	state, why := StepPending, ""
	if !s.Janitor {
		state, why = StepSkipped, "janitor off ("+s.JanitorReason+"): "
	}
	add(StepDestroy, state, why+fmt.Sprintf("DESTROY_VOLUMES of every persistent volume reserved to role %s on every agent", s.Role))
	add(StepUnreserve, state, why+fmt.Sprintf("UNRESERVE_RESOURCES of everything reserved to role %s (principal %s) on every agent", s.Role, s.Principal))
	add(StepDeleteZNode, state, why+fmt.Sprintf("delete ZooKeeper node %s and everything below it", s.ZNode))
	return out
}

// Plan returns the steps the uninstall of app would run, for `diff` to
// show before they happen. Pure: it reads only its arguments. An app that
// cannot be read gives one Failed step saying why.
func Plan(app json.RawMessage, janitor *bool) []api.CleanupStep {
	s, err := NewSpec(Request{App: app, Janitor: janitor})
	if err != nil {
		return []api.CleanupStep{{Name: StepDeleteApp, State: StepFailed, Message: err.Error()}}
	}
	return s.Steps()
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
