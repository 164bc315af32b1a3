package universe

import (
	"errors"
	"strings"
	"testing"

	"github.com/universe-operator/universe-operator/errs"
)

func withPaths(p *Package, up, down *[]string) *Package {
	if up != nil {
		p.UpgradesFrom = VersionList{Declared: true, Versions: *up}
	}
	if down != nil {
		p.DowngradesTo = VersionList{Declared: true, Versions: *down}
	}
	return p
}

func list(v ...string) *[]string { return &v }

func TestCheckTransition(t *testing.T) {
	v1 := withPaths(rev("g", 0, "1.0.0"), nil, nil)                                // no paths declared
	v11 := withPaths(rev("g", 1, "1.1.0"), list("1.0.0"), list("1.0.0"))           // 1.0.0 <-> 1.1.0
	v2 := withPaths(rev("g", 2, "2.0.0"), list("1.1.0"), list())                   // only from 1.1.0, never down
	v3 := withPaths(rev("g", 3, "3.0.0"), list("*"), list("*"))                    // anything
	v4 := withPaths(rev("g", 4, "4.0.0"), list(), nil)                             // nothing may upgrade to it
	v11b := withPaths(rev("g", 5, "1.1.0"), list("2.0.0", "3.0.0"), list("1.0.0")) // same version string again
	other := rev("h", 9, "1.0.0")
	undeclared := rev("g", 6, "6.0.0")

	def := Policy{}
	strict := Policy{RefuseUndeclaredUpgrades: true}
	loose := Policy{AllowUndeclaredDowngrades: true}
	cases := []struct {
		name                 string
		installed, candidate *Package
		policy               Policy
		move                 Move
		refused              string // "" = allowed
	}{
		{"fresh install", nil, v2, def, MoveInstall, ""},
		{"same revision", v2, v2, def, MoveNone, ""},
		{"declared upgrade", v1, v11, def, MoveUpgrade, ""},
		{"upgrade not listed", v1, v2, def, MoveUpgrade, `g 2.0.0 (rev 2) upgrades only from ["1.1.0"], not from "1.0.0"`},
		{"listed upgrade", v11, v2, def, MoveUpgrade, ""},
		{"star upgrade", v1, v3, def, MoveUpgrade, ""},
		{"empty upgradesFrom", v3, v4, def, MoveUpgrade, "declares upgradesFrom [] (no version may upgrade to it)"},
		{"undeclared upgrade, default policy", v3, undeclared, def, MoveUpgrade, ""},
		{"undeclared upgrade, strict policy", v3, undeclared, strict, MoveUpgrade, "declares no upgradesFrom and the policy refuses undeclared upgrades"},
		{"declared downgrade", v11, v1, def, MoveDowngrade, ""},
		{"downgradesTo []", v2, v11, def, MoveDowngrade, "declares downgradesTo [] (it may not be downgraded)"},
		{"star downgrade", v3, v1, def, MoveDowngrade, ""},
		{"downgrade not listed", v11b, v11, def, MoveDowngrade, `downgrades only to ["1.0.0"], not to "1.1.0"`},
		{"undeclared downgrade, default policy", undeclared, v3, def, MoveDowngrade, "declares no downgradesTo and the policy refuses undeclared downgrades"},
		{"undeclared downgrade, loose policy", undeclared, v3, loose, MoveDowngrade, ""},
		{"version string matters, not release", v2, v11b, def, MoveUpgrade, ""},
		{"different packages", v1, other, def, MoveUpgrade, "different packages"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Classify(c.installed, c.candidate); got != c.move {
				t.Errorf("Classify = %s, want %s", got, c.move)
			}
			err := CheckTransition(c.installed, c.candidate, c.policy)
			if c.refused == "" {
				if err != nil {
					t.Errorf("refused: %v", err)
				}
				return
			}
			var te *TransitionError
			if !errors.As(err, &te) || !errs.IsPermanent(err) {
				t.Fatalf("error %v, want a permanent *TransitionError", err)
			}
			if !strings.Contains(err.Error(), c.refused) || te.Move != c.move {
				t.Errorf("error %q (move %s), want it to contain %q", err, te.Move, c.refused)
			}
		})
	}
	if err := CheckTransition(v1, nil, def); err == nil {
		t.Error("nil candidate accepted")
	}
	if MoveDowngrade.String() != "downgrade" || Move(42).String() != "none" {
		t.Error("Move.String")
	}
}
