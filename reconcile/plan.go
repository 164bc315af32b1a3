package reconcile

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/universe-operator/universe-operator/errs"
)

// Desired is what one release wants, as rendered for this pass.
type Desired struct {
	// Release is the release name (metadata.name).
	Release string
	// AppID is the app id (any form; it is canonicalized). Empty: taken
	// from App's "id".
	AppID string
	// App is the rendered app, stamped with Stamp.
	App json.RawMessage
	// Hash is the hash Stamp returned.
	Hash string
	// Adopt allows taking over an existing app without ownership label.
	Adopt bool
	// Suspended leaves the release alone: no change, no deletion.
	Suspended bool
	// Err is why the release could not be rendered (bad template, options,
	// unknown version...); App is then unused and the app in Marathon, if
	// any, is kept as it is.
	Err error
	// OwnDeployment is the last deployment the controller started for this
	// release (from the write's answer), nil when none is known.
	OwnDeployment *DeploymentRef
}

// DeploymentRef names a deployment the controller started, and when.
type DeploymentRef struct {
	ID      string
	Started time.Time
}

// Actual is one app as Marathon holds it.
type Actual struct {
	// AppID is the canonical app id.
	AppID string
	// App is the raw app from GET /v2/apps (status fields allowed).
	App json.RawMessage
	// Release is the value of the ownership label, "" when unowned.
	Release string
	// Hash is the value of the hash label, "" when absent.
	Hash string
	// Version is the app's "version" (Marathon gives every change of the
	// definition, scaling included, a new one); "" when unknown.
	Version string
	// Deployments are the ids of deployments in flight that affect the app.
	Deployments []string

	skim *value // the members Status reads, kept by NewActual
}

// skimApp names the members NewActual and Status read; everything else is
// validated and skipped.
var skimApp = skimSpec{
	"id": nil, "version": nil, "instances": nil,
	"tasksRunning": nil, "tasksStaged": nil, "tasksHealthy": nil, "tasksUnhealthy": nil,
	"lastTaskFailure": nil,
	"labels": {LabelRelease: nil, LabelHash: nil, "DCOS_SERVICE_NAME": nil, "DCOS_SERVICE_SCHEME": nil,
		"DCOS_SERVICE_PORT_INDEX": nil, "DCOS_PACKAGE_FRAMEWORK_NAME": nil},
	"env":          {"SDK_UNINSTALL": nil},
	"deployments":  {"*": {"id": nil}},
	"healthChecks": {"*": {}}, // counted only
	"tasks":        {"*": {"state": nil, "healthCheckResults": {"*": {"alive": nil}}}},
}

// NewActual reads an app as returned by GET /v2/apps (one element of
// "apps") into an Actual: id, ownership and hash labels, version,
// deployments in flight. It builds only what it reads (the rest is
// validated and skipped) and keeps it for Actual.Status. Errors are
// errs.Permanent (not a JSON object, no id).
func NewActual(app []byte) (Actual, error) {
	root, err := parseSkim(app, skimApp)
	if err != nil {
		return Actual{}, errs.Permanent(fmt.Errorf("app in Marathon: %w", err))
	}
	a, err := actualOf(root, app)
	if err != nil {
		return Actual{}, errs.Permanent(fmt.Errorf("app in Marathon: %w", err))
	}
	return a, nil
}

func actualOf(root value, app []byte) (Actual, error) {
	id, ok := root.getString("id")
	if !ok || id == "" {
		return Actual{}, errors.New("no string \"id\"")
	}
	a := Actual{AppID: CanonicalID(id), App: app, skim: &root}
	a.Release, _ = ownerOf(root)
	a.Hash = labelString(root, LabelHash)
	a.Version, _ = root.getString("version")
	if deps := root.get("deployments"); deps != nil && deps.kind == kindArray {
		for i := range deps.arr {
			if did, ok := deps.arr[i].getString("id"); ok {
				a.Deployments = append(a.Deployments, did)
			}
		}
	}
	return a, nil
}

// ParseApps reads the body of GET /v2/apps (`{"apps":[...]}`, any embeds)
// into Actuals in one scan, as NewActual would read each app. Each
// Actual.App is a sub-slice of body: the caller must not modify body while
// the Actuals are in use. Errors are errs.Permanent and name the index of
// the app at fault.
func ParseApps(body []byte) ([]Actual, error) {
	if len(body) == 0 {
		return nil, errs.Permanent(errors.New("apps: empty body"))
	}
	p := getParser(unsafe.String(&body[0], len(body)))
	p.alias = true
	defer putParser(p)
	fail := func(err error) ([]Actual, error) { return nil, errs.Permanent(fmt.Errorf("apps: %w", err)) }
	p.skipWS()
	if p.pos >= len(p.data) || p.data[p.pos] != '{' {
		return fail(p.errf("expected an object"))
	}
	p.pos++
	var out []Actual
	seen := false
	for first := true; ; first = false {
		p.skipWS()
		if first && p.pos < len(p.data) && p.data[p.pos] == '}' {
			p.pos++
			break
		}
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return fail(p.errf("expected a string key"))
		}
		key, err := p.rawStr()
		if err != nil {
			return fail(err)
		}
		p.skipWS()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return fail(p.errf("expected ':'"))
		}
		p.pos++
		p.skipWS()
		if key != "apps" {
			if err := p.skip(); err != nil {
				return fail(err)
			}
		} else {
			if seen {
				return fail(p.errf("\"apps\" given twice"))
			}
			seen = true
			if out, err = p.apps(body); err != nil {
				return fail(err)
			}
		}
		p.skipWS()
		if p.pos < len(p.data) && p.data[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.pos < len(p.data) && p.data[p.pos] == '}' {
			p.pos++
			break
		}
		return fail(p.errf("expected ',' or '}'"))
	}
	p.skipWS()
	if p.pos != len(p.data) {
		return fail(p.errf("unexpected data after the top-level value"))
	}
	if !seen {
		return fail(errors.New("no \"apps\" member"))
	}
	return out, nil
}

// apps reads the "apps" array at pos.
func (p *parser) apps(body []byte) ([]Actual, error) {
	if p.pos >= len(p.data) || p.data[p.pos] != '[' {
		return nil, p.errf("\"apps\" must be an array")
	}
	p.pos++
	var out []Actual
	for i := 0; ; i++ {
		p.skipWS()
		if i == 0 && p.pos < len(p.data) && p.data[p.pos] == ']' {
			p.pos++
			return out, nil
		}
		if p.pos >= len(p.data) || p.data[p.pos] != '{' {
			return nil, p.errf("app %d: expected an object", i)
		}
		start := p.pos
		root, err := p.objectSpec(skimApp)
		if err != nil {
			return nil, fmt.Errorf("app %d: %w", i, err)
		}
		a, err := actualOf(root, body[start:p.pos:p.pos])
		if err != nil {
			return nil, fmt.Errorf("app %d: %w", i, err)
		}
		out = append(out, a)
		p.skipWS()
		if p.pos < len(p.data) && p.data[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.pos < len(p.data) && p.data[p.pos] == ']' {
			p.pos++
			return out, nil
		}
		return nil, p.errf("expected ',' or ']' in \"apps\"")
	}
}

// Status is Status(a.App, ...) without reading the app again.
func (a Actual) Status(queue *QueueEntry, frameworks []Framework, now time.Time) (AppStatus, error) {
	if a.skim == nil {
		return Status(a.App, queue, frameworks, now)
	}
	return statusOf(a.skim, queue, frameworks, now), nil
}

// Verdict records that a release's desired app (by hash) was found in sync
// with one version of its app in Marathon. Marathon gives every change of
// an app (definition or scale) a new version, so while both stay the same
// the comparison need not run again.
type Verdict struct {
	Hash    string
	Version string
}

// ActionKind is what the controller should do for one app.
type ActionKind string

// Action kinds.
const (
	// ActionCreate: POST the app.
	ActionCreate ActionKind = "create"
	// ActionUpdate: PUT ?partialUpdate=false the app (Drift says why).
	ActionUpdate ActionKind = "update"
	// ActionForceUpdate: the release's own deployment is stuck past
	// Options.StuckAfter and there is a change to make: PUT with force=true.
	ActionForceUpdate ActionKind = "force-update"
	// ActionDelete: delete the app (its release is gone, or it moved id).
	ActionDelete ActionKind = "delete"
	// ActionWait: a deployment is in flight on the app; retry later.
	ActionWait ActionKind = "wait"
	// ActionFail: the release cannot be applied (Err says why).
	ActionFail ActionKind = "fail"
	// ActionNothing: in sync, or suspended.
	ActionNothing ActionKind = "nothing"
	// ActionOrphan: an owned app of a release no longer desired, kept
	// because pruning is off or was refused (Reason says which).
	ActionOrphan ActionKind = "orphan"
)

// Action is the plan for one app of one release.
type Action struct {
	Kind    ActionKind `json:"kind"`
	Release string     `json:"release"`
	AppID   string     `json:"appId,omitempty"`
	// App is the body to write for create/update/force-update, or the app
	// as Marathon holds it for delete and orphan.
	App json.RawMessage `json:"-"`
	// Drift is the field-level difference (update, force-update, wait).
	Drift Drift `json:"drift,omitzero"`
	// Deployments in flight on the app (wait, force-update).
	Deployments []string `json:"deployments,omitempty"`
	// Reason says why, for people (logs, status, diff).
	Reason string `json:"reason,omitempty"`
	// Err is the classified error of a fail action.
	Err error `json:"-"`
	// Adopt is set when the update takes over an app without ownership label.
	Adopt bool `json:"adopt,omitempty"`
	// Suspended is set for a suspended release (Kind is nothing).
	Suspended bool `json:"suspended,omitempty"`
}

// Options tune Plan.
type Options struct {
	// Now is the current time (to judge stuck deployments).
	Now time.Time
	// StuckAfter is how long the release's own deployment may run before a
	// pending change forces it (ActionForceUpdate); 0 never forces.
	StuckAfter time.Duration
	// Prune decides deletion of releases no longer desired.
	Prune PruneOptions
	// InSync are the verdicts of the previous pass (Result.InSync), by
	// release: a release whose hash and app version are unchanged is in sync
	// without comparing again. nil: compare everything (e.g. for diff).
	InSync map[string]Verdict
}

// PruneOptions are the prune settings and the state of the sources.
type PruneOptions struct {
	// Enabled is the config's prune switch.
	Enabled bool
	// SourcesHealthy is false when any universe or release source failed to
	// load this pass: then nothing is deleted.
	SourcesHealthy bool
	// MaxFraction caps the share of owned releases deleted in one pass (see
	// PruneDecision).
	MaxFraction float64
	// AllowEmpty allows deleting everything when no release is desired.
	AllowEmpty bool
}

// PruneResult reports the prune decision of a pass.
type PruneResult struct {
	// Candidates are the owned releases no longer desired.
	Candidates []string `json:"candidates,omitempty"`
	// Deleted are the releases whose apps are deleted this pass.
	Deleted []string `json:"deleted,omitempty"`
	// Refused is why candidates are kept ("" when none are, or pruning is
	// disabled).
	Refused string `json:"refused,omitempty"`
}

// Result is the plan of one pass.
type Result struct {
	// Actions, ordered by release then app id.
	Actions []Action
	// Prune is the prune decision.
	Prune PruneResult
	// InSync are the verdicts to pass as Options.InSync next time: the
	// releases found in sync whose app has a version.
	InSync map[string]Verdict
}

// Plan decides, for every desired release and every owned app in Marathon,
// what to do. It never touches an app without the ownership label (unless
// the release adopts it) nor an app owned by another release.
func Plan(desired []Desired, actual []Actual, opts Options) Result {
	byID := make(map[string]*Actual, len(actual))
	for i := range actual {
		a := &actual[i]
		if a.AppID == "" {
			continue
		}
		byID[CanonicalID(a.AppID)] = a
	}

	// Which releases claim which app id.
	claims := map[string][]string{}
	wantID := make([]string, len(desired))
	for i := range desired {
		d := &desired[i]
		if d.Err != nil || d.Suspended {
			continue
		}
		id := d.AppID
		if id == "" {
			id, _ = AppID(d.App) // an error surfaces in planRelease
		}
		if id != "" {
			id = CanonicalID(id)
			wantID[i] = id
			claims[id] = append(claims[id], d.Release)
		}
	}

	var res Result
	desiredSet := make(map[string]bool, len(desired))
	keepApps := map[string]bool{} // releases whose apps elsewhere must stay
	for i := range desired {
		d := &desired[i]
		desiredSet[d.Release] = true
		if d.Err != nil || d.Suspended {
			keepApps[d.Release] = true
		}
		id := wantID[i]
		var a *Actual
		if id != "" {
			a = byID[id]
		}
		act := planRelease(d, id, a, claims[id], opts)
		if act.Kind == ActionNothing && !act.Suspended && a != nil && a.Version != "" {
			if res.InSync == nil {
				res.InSync = map[string]Verdict{}
			}
			res.InSync[d.Release] = Verdict{Hash: d.Hash, Version: a.Version}
		}
		if act.Kind == ActionFail {
			keepApps[d.Release] = true // never remove what a failing release had
		}
		res.Actions = append(res.Actions, act)
	}

	// Owned apps not (or no longer) wanted.
	var candidates []string
	stale := map[string][]*Actual{}
	for i := range actual {
		a := &actual[i]
		if a.Release == "" {
			continue
		}
		if !desiredSet[a.Release] {
			if _, seen := stale[a.Release]; !seen {
				candidates = append(candidates, a.Release)
			}
			stale[a.Release] = append(stale[a.Release], a)
			continue
		}
		if keepApps[a.Release] {
			continue
		}
		// A desired release owning an app at another id: its app moved.
		if !slices.Contains(claims[CanonicalID(a.AppID)], a.Release) {
			act := Action{Kind: ActionDelete, Release: a.Release, AppID: a.AppID, App: a.App,
				Deployments: a.Deployments, Reason: "the release's app id changed; the app at the old id is removed"}
			if !opts.Prune.SourcesHealthy {
				act.Kind = ActionOrphan
				act.Reason = "the release's app id changed, but a source failed to load: the old app is kept this pass"
			}
			res.Actions = append(res.Actions, act)
		}
	}

	owned := make([]string, 0, len(desiredSet)+len(candidates))
	seen := map[string]bool{}
	for i := range actual {
		if r := actual[i].Release; r != "" && !seen[r] {
			seen[r] = true
			owned = append(owned, r)
		}
	}
	slices.Sort(candidates)
	res.Prune.Candidates = candidates
	var toDelete []string
	if len(candidates) > 0 {
		if opts.Prune.Enabled {
			toDelete, res.Prune.Refused = PruneDecision(owned, desiredSet, opts.Prune.SourcesHealthy,
				opts.Prune.MaxFraction, opts.Prune.AllowEmpty)
		}
	}
	res.Prune.Deleted = toDelete
	deleting := map[string]bool{}
	for _, r := range toDelete {
		deleting[r] = true
	}
	for _, r := range candidates {
		for _, a := range stale[r] {
			act := Action{Release: r, AppID: a.AppID, App: a.App, Deployments: a.Deployments}
			switch {
			case deleting[r]:
				act.Kind = ActionDelete
				act.Reason = "the release is no longer declared"
			case !opts.Prune.Enabled:
				act.Kind = ActionOrphan
				act.Reason = "the release is no longer declared; pruning is disabled"
			default:
				act.Kind = ActionOrphan
				act.Reason = "the release is no longer declared; prune refused: " + res.Prune.Refused
			}
			res.Actions = append(res.Actions, act)
		}
	}

	slices.SortStableFunc(res.Actions, func(x, y Action) int {
		if c := strings.Compare(x.Release, y.Release); c != 0 {
			return c
		}
		return strings.Compare(x.AppID, y.AppID)
	})
	return res
}

// planRelease decides for one desired release; id is its canonical app id
// ("" when unknown), a the app at that id (nil when none), claimants the
// releases wanting that id.
func planRelease(d *Desired, id string, a *Actual, claimants []string, opts Options) Action {
	act := Action{Release: d.Release, AppID: id}
	switch {
	case d.Suspended:
		act.Kind, act.Suspended = ActionNothing, true
		act.Reason = "suspended"
		act.Err = d.Err
		return act
	case d.Err != nil:
		return fail(act, d.Err)
	case id == "":
		_, err := AppID(d.App)
		if err == nil {
			err = errs.Permanent(errors.New("the rendered app has no id"))
		}
		return fail(act, fmt.Errorf("release %s: %w", d.Release, err))
	case len(claimants) > 1:
		return fail(act, errs.Permanent(fmt.Errorf("app id %s is wanted by several releases: %s",
			id, strings.Join(claimants, ", "))))
	}

	if a == nil {
		if err := checkBody(d.App, id); err != nil {
			return fail(act, err)
		}
		act.Kind, act.App = ActionCreate, d.App
		act.Reason = "the app does not exist"
		return act
	}
	if a.Release != "" && a.Release != d.Release {
		return fail(act, errs.Permanent(fmt.Errorf("app id %s is owned by release %q", id, a.Release)))
	}
	adopting := a.Release == ""
	if adopting && !d.Adopt {
		return fail(act, errs.Permanent(fmt.Errorf(
			"app id %s is taken by an app this controller does not own (no %s label); set adopt to take it over",
			id, LabelRelease)))
	}

	var drift Drift
	if v, ok := opts.InSync[d.Release]; !ok || adopting || a.Version == "" || v != (Verdict{Hash: d.Hash, Version: a.Version}) {
		drift = Compare(d.App, a.App)
		if drift.Err != nil {
			return fail(act, drift.Err)
		}
	}
	act.Drift = drift
	act.Adopt = adopting
	changed := drift.Drifted() || a.Hash != d.Hash || adopting
	if changed {
		if err := checkBody(d.App, id); err != nil {
			return fail(act, err)
		}
	}
	if len(a.Deployments) > 0 {
		act.Deployments = a.Deployments
		if changed && ownStuck(d, a, opts) {
			act.Kind, act.App = ActionForceUpdate, d.App
			act.Reason = fmt.Sprintf("the release's own deployment %s has run for more than %s; forcing the pending change",
				d.OwnDeployment.ID, opts.StuckAfter)
			return act
		}
		act.Kind = ActionWait
		act.Reason = "deployment in flight: " + strings.Join(a.Deployments, ", ")
		return act
	}
	switch {
	case adopting:
		act.Kind, act.App = ActionUpdate, d.App
		act.Reason = "adopting an app without ownership label"
	case changed:
		act.Kind, act.App = ActionUpdate, d.App
		if a.Hash != d.Hash {
			act.Reason = "the rendered app changed"
		} else {
			act.Reason = "the app in Marathon drifted"
		}
	default:
		act.Kind = ActionNothing
		act.Reason = "in sync"
	}
	return act
}

// checkBody makes sure a body about to be written is a JSON object whose
// id is the one the action targets (a mismatch would write another app).
func checkBody(app []byte, id string) error {
	got, err := AppID(app)
	if err != nil {
		return err
	}
	if got != id {
		return errs.Permanent(fmt.Errorf("the rendered app's id %s differs from the release's app id %s", got, id))
	}
	return nil
}

func fail(act Action, err error) Action {
	act.Kind, act.Err, act.Reason = ActionFail, err, err.Error()
	return act
}

// ownStuck: one of the deployments in flight is the release's own, started
// more than StuckAfter ago.
func ownStuck(d *Desired, a *Actual, opts Options) bool {
	if opts.StuckAfter <= 0 || d.OwnDeployment == nil || d.OwnDeployment.ID == "" {
		return false
	}
	if !slices.Contains(a.Deployments, d.OwnDeployment.ID) {
		return false
	}
	return opts.Now.Sub(d.OwnDeployment.Started) > opts.StuckAfter
}
