package universe

import (
	"fmt"

	"github.com/universe-operator/universe-operator/errs"
)

// Move is the direction of a change between two revisions, decided by
// releaseVersion alone.
type Move int

const (
	// MoveNone is no change: same releaseVersion (or nothing installed).
	MoveNone Move = iota
	// MoveInstall is a first installation (nothing installed).
	MoveInstall
	// MoveUpgrade goes to a higher releaseVersion.
	MoveUpgrade
	// MoveDowngrade goes to a lower releaseVersion.
	MoveDowngrade
)

// String returns "none", "install", "upgrade" or "downgrade".
func (m Move) String() string {
	switch m {
	case MoveInstall:
		return "install"
	case MoveUpgrade:
		return "upgrade"
	case MoveDowngrade:
		return "downgrade"
	}
	return "none"
}

// Classify returns the direction of a move from installed (nil: nothing
// installed) to candidate.
func Classify(installed, candidate *Package) Move {
	switch {
	case installed == nil:
		return MoveInstall
	case candidate == nil || candidate.ReleaseVersion == installed.ReleaseVersion:
		return MoveNone
	case candidate.ReleaseVersion > installed.ReleaseVersion:
		return MoveUpgrade
	default:
		return MoveDowngrade
	}
}

// Policy decides moves for packages that declare no path (upgradesFrom or
// downgradesTo absent, and every 2.0/3.0 package). Its zero value is the
// default: upgrades allowed, downgrades refused.
type Policy struct {
	// RefuseUndeclaredUpgrades refuses upgrades the candidate does not
	// declare (Cosmos Enterprise's behaviour).
	RefuseUndeclaredUpgrades bool
	// AllowUndeclaredDowngrades allows downgrades the installed revision does
	// not declare.
	AllowUndeclaredDowngrades bool
}

// TransitionError is a refused move. CheckTransition returns it wrapped
// with errs.Permanent.
type TransitionError struct {
	// Installed and Candidate are the two revisions.
	Installed, Candidate *Package
	// Move is the refused direction.
	Move Move
	// Reason says which rule refused it.
	Reason string
}

// Error returns "upgrade from A to B refused: reason".
func (e *TransitionError) Error() string {
	return fmt.Sprintf("%s from %s to %s refused: %s", e.Move, e.Installed, e.Candidate, e.Reason)
}

// CheckTransition decides whether the installed revision may be replaced by
// candidate:
//   - upgrade (higher releaseVersion): allowed when the candidate's
//     upgradesFrom contains "*" or the installed version string;
//   - downgrade (lower releaseVersion): allowed when the INSTALLED revision's
//     downgradesTo contains "*" or the candidate's version string;
//   - `[]` allows nothing; an undeclared list (absent, or packaging 2.0/3.0)
//     leaves the decision to policy;
//   - the same releaseVersion, or nothing installed (installed == nil), is
//     always allowed.
//
// A refusal is a *TransitionError wrapped with errs.Permanent.
func CheckTransition(installed, candidate *Package, policy Policy) error {
	if candidate == nil {
		return errs.Permanent(fmt.Errorf("no candidate revision"))
	}
	move := Classify(installed, candidate)
	refuse := func(reason string, args ...any) error {
		return errs.Permanent(&TransitionError{Installed: installed, Candidate: candidate, Move: move, Reason: fmt.Sprintf(reason, args...)})
	}
	if installed != nil && installed.Name != candidate.Name {
		return errs.Permanent(&TransitionError{Installed: installed, Candidate: candidate, Move: move,
			Reason: fmt.Sprintf("different packages (%s, %s)", installed.Name, candidate.Name)})
	}
	switch move {
	case MoveUpgrade:
		l := candidate.UpgradesFrom
		switch {
		case !l.Declared && policy.RefuseUndeclaredUpgrades:
			return refuse("%s declares no upgradesFrom and the policy refuses undeclared upgrades", candidate)
		case !l.Declared:
			return nil
		case len(l.Versions) == 0:
			return refuse("%s declares upgradesFrom [] (no version may upgrade to it)", candidate)
		case !l.Matches(installed.Version):
			return refuse("%s upgrades only from %s, not from %q", candidate, l, installed.Version)
		}
	case MoveDowngrade:
		l := installed.DowngradesTo
		switch {
		case !l.Declared && policy.AllowUndeclaredDowngrades:
			return nil
		case !l.Declared:
			return refuse("%s declares no downgradesTo and the policy refuses undeclared downgrades", installed)
		case len(l.Versions) == 0:
			return refuse("%s declares downgradesTo [] (it may not be downgraded)", installed)
		case !l.Matches(candidate.Version):
			return refuse("%s downgrades only to %s, not to %q", installed, l, candidate.Version)
		}
	}
	return nil
}
