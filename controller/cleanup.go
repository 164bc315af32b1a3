package controller

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/universe-operator/universe-operator/api"
	"github.com/universe-operator/universe-operator/errs"
	"github.com/universe-operator/universe-operator/uninstall"
)

// ReasonIncompleteUninstall is the lastError reason of an uninstall that
// could not reach Marathon, Mesos, an SDK scheduler or ZooKeeper: it stays
// recorded and is retried with backoff (Cosmos's IncompleteUninstall).
const ReasonIncompleteUninstall = "IncompleteUninstall"

// CleanupUninstaller is the Uninstaller of issue 7: Cosmos's uninstall
// (SDK_UNINSTALL and the scheduler's uninstall plan, or delete and
// framework teardown) followed by the janitor steps, run by the durable
// state machine of package uninstall. It also implements
// PendingUninstaller (an unfinished or Failed uninstall holds its release,
// and is found again after a restart) and UninstallPlanner (diff shows
// the steps before they happen).
//
// Wire it as the Manager's OnEvent so the Manager's progress becomes the
// release's events:
//
//	cu := &controller.CleanupUninstaller{}
//	m, err := uninstall.New(uninstall.Options{..., OnEvent: cu.OnEvent})
//	cu.Manager = m
type CleanupUninstaller struct {
	// Manager runs the uninstalls. Nil: Plan only (diff).
	Manager *uninstall.Manager
	// ShowFor is how long a finished uninstall stays in the status API
	// (with its postUninstallNotes, steps and what is left) after it
	// completed (default 1h).
	ShowFor time.Duration
	// Logger receives what cannot be returned (default: discarded).
	Logger logrus.FieldLogger

	mu     sync.Mutex
	events map[string][]api.Event
}

// OnEvent collects the Manager's events per release; Uninstall hands them
// to the controller with its result.
func (u *CleanupUninstaller) OnEvent(release string, ev api.Event) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.events == nil {
		u.events = map[string][]api.Event{}
	}
	if len(u.events[release]) < 100 {
		u.events[release] = append(u.events[release], ev)
	}
}

func (u *CleanupUninstaller) drain(release string) []api.Event {
	u.mu.Lock()
	defer u.mu.Unlock()
	evs := u.events[release]
	delete(u.events, release)
	return evs
}

// Uninstall implements Uninstaller: it records the uninstall of req.AppID
// (when set) and advances the release's uninstall as far as it goes now.
// Waiting (a deployment, the uninstall plan, resources in use) is not an
// error: the result is not Done and the controller looks again. An
// uninstall that could not reach a component returns its error (class
// kept, errors.Is uninstall.ErrIncomplete); a Failed one returns its
// permanent error and stays not Done, holding the release until a manual
// sync (req.Retry) runs it again.
func (u *CleanupUninstaller) Uninstall(ctx context.Context, req UninstallRequest) (UninstallResult, error) {
	if u.Manager == nil {
		return UninstallResult{}, errs.Permanent(errors.New("uninstall: no uninstall manager configured"))
	}
	if req.Retry {
		if err := u.Manager.Retry(ctx, req.Release); err != nil {
			return UninstallResult{Events: u.drain(req.Release)}, err
		}
	}
	for attempt := 0; ; attempt++ {
		var startErr error
		if req.AppID != "" {
			startErr = u.Manager.Start(ctx, uninstall.Request{Release: req.Release, AppID: req.AppID, App: req.App,
				Janitor: req.Janitor, Framework: req.Framework, PostUninstallNotes: req.PostUninstallNotes})
			if startErr != nil && errs.ClassOf(startErr) != errs.ClassWaiting {
				return UninstallResult{Events: u.drain(req.Release)}, startErr
			}
			// Waiting: an uninstall of another app of the release is not
			// finished; advance that one first.
		}
		c, done, err := u.Manager.Advance(ctx, req.Release)
		if startErr != nil && done && err == nil && attempt == 0 {
			continue // the previous one just finished: record this one
		}
		res := UninstallResult{Events: u.drain(req.Release)}
		if c.State != "" {
			res.Cleanup = &c
		}
		res.Message = summary(res.Events)
		switch {
		case err == nil && done:
			res.Done = startErr == nil
			if c.State == uninstall.StateComplete && !c.Finished.IsZero() {
				show := u.ShowFor
				if show <= 0 {
					show = time.Hour
				}
				res.ShowUntil = c.Finished.Add(show)
			}
			return res, nil
		case err != nil && errs.ClassOf(err) == errs.ClassWaiting:
			return res, nil
		default:
			return res, err
		}
	}
}

// summary is a one-line note of what an Uninstall call did ("" when
// nothing new happened, so the controller adds no event of its own).
func summary(evs []api.Event) string {
	if len(evs) == 0 {
		return ""
	}
	msgs := make([]string, 0, len(evs))
	for _, e := range evs {
		if e.Reason != "PostUninstallNotes" {
			msgs = append(msgs, e.Message)
		}
	}
	return strings.Join(msgs, "; ")
}

// Pending implements PendingUninstaller: an uninstall that is not Complete
// (Failed included) holds the release.
func (u *CleanupUninstaller) Pending(release string) bool {
	return u.Manager != nil && u.Manager.Busy(release)
}

// Resync implements uninstallResyncer: pending uninstalls are looked up in
// the store again (this replica just became leader).
func (u *CleanupUninstaller) Resync() {
	if u.Manager != nil {
		u.Manager.Resync()
	}
}

// PendingReleases implements PendingUninstaller: the releases with an
// unfinished uninstall in the store (after a restart).
func (u *CleanupUninstaller) PendingReleases(ctx context.Context) []string {
	if u.Manager == nil {
		return nil
	}
	p, err := u.Manager.Pending(ctx)
	if err != nil && u.Logger != nil {
		u.Logger.WithError(err).Warn("cannot list pending uninstalls; they are looked for again on the next pass")
	}
	return p
}

// Plan implements UninstallPlanner: the steps of the uninstall, one line
// each, as `diff` shows them (pure: computed from the app).
func (u *CleanupUninstaller) Plan(req UninstallRequest) []string {
	s, err := uninstall.NewSpec(uninstall.Request{Release: req.Release, AppID: req.AppID, App: req.App,
		Janitor: req.Janitor, Framework: req.Framework, PostUninstallNotes: req.PostUninstallNotes})
	if err != nil {
		return []string{"cannot plan the uninstall: " + err.Error()}
	}
	var out []string
	for _, st := range s.Steps() {
		name := st.Name
		if st.State == uninstall.StepSkipped {
			name += " (skipped)"
		}
		out = append(out, name+": "+st.Message)
	}
	return out
}

// uninstallReason is the lastError reason of a failed uninstall call.
func uninstallReason(err error) string {
	if errors.Is(err, uninstall.ErrIncomplete) {
		return ReasonIncompleteUninstall
	}
	return ReasonUninstallFailed
}

// uninstallPrefs are what a declared release says about its uninstall,
// remembered for when it is removed from Git.
type uninstallPrefs struct {
	janitor   *bool
	framework *bool
	notes     string
}

func prefsOf(d *desiredEntry) uninstallPrefs {
	var p uninstallPrefs
	if d.rel != nil && d.rel.Spec.Cleanup != nil && d.rel.Spec.Cleanup.Janitor != nil {
		j := *d.rel.Spec.Cleanup.Janitor
		p.janitor = &j
	}
	if d.pkg != nil {
		f := d.pkg.Framework
		p.framework = &f
		p.notes = d.pkg.PostUninstallNotes
	}
	return p
}
