package reconcile

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// DefaultMaxPruneFraction is the share of owned releases one pass may delete
// when the configuration does not say (maxFraction <= 0).
const DefaultMaxPruneFraction = 0.5

// PruneDecision decides which owned releases (releases owning apps in
// Marathon) may be deleted because they are no longer in the desired set.
// It refuses, deleting nothing and saying why in refused:
//   - when sourcesHealthy is false (a universe or release source failed to
//     load: its releases would look deleted);
//   - when the desired set is empty and allowEmpty is false (a wiped or
//     mis-pointed repository would delete everything);
//   - when more than maxFraction of the owned releases would go in one pass
//     (maxFraction <= 0 means DefaultMaxPruneFraction, >= 1 means no
//     limit). There is no floor: in a small installation one release may
//     already be more than the fraction, and the refusal says to raise
//     prune_max_fraction (or to delete in steps).
//
// toDelete is sorted; it is nil when refused is set or nothing is to go.
func PruneDecision(owned []string, desired map[string]bool, sourcesHealthy bool, maxFraction float64, allowEmpty bool) (toDelete []string, refused string) {
	ownedSet := map[string]bool{}
	for _, r := range owned {
		if r != "" {
			ownedSet[r] = true
		}
	}
	var gone []string
	for r := range ownedSet {
		if !desired[r] {
			gone = append(gone, r)
		}
	}
	if len(gone) == 0 {
		return nil, ""
	}
	slices.Sort(gone)
	names := strings.Join(gone, ", ")
	if !sourcesHealthy {
		return nil, fmt.Sprintf("PRUNE REFUSED: a source failed to load this pass; not deleting %d release(s) that look removed: %s",
			len(gone), names)
	}
	if len(desired) == 0 && !allowEmpty {
		return nil, fmt.Sprintf("PRUNE REFUSED: no release is declared at all; deleting all %d owned release(s) (%s) must be allowed explicitly in the configuration",
			len(gone), names)
	}
	if maxFraction <= 0 || math.IsNaN(maxFraction) {
		maxFraction = DefaultMaxPruneFraction
	}
	if maxFraction < 1 {
		limit := int(math.Floor(maxFraction*float64(len(ownedSet)) + 1e-9))
		if len(gone) > limit {
			return nil, fmt.Sprintf("PRUNE REFUSED: %d of %d owned releases would be deleted in one pass, more than the allowed %.0f%% (%d): %s; delete fewer at a time or raise prune_max_fraction",
				len(gone), len(ownedSet), maxFraction*100, limit, names)
		}
	}
	return gone, ""
}
