package reconcile

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func set0(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

func TestPruneDecision(t *testing.T) {
	many := func(n int) []string {
		var out []string
		for i := 0; i < n; i++ {
			out = append(out, fmt.Sprintf("r%02d", i))
		}
		return out
	}
	tests := []struct {
		name       string
		owned      []string
		desired    map[string]bool
		healthy    bool
		fraction   float64
		allowEmpty bool
		want       []string
		refused    string
	}{
		{"nothing to prune", []string{"a", "b"}, set0("a", "b", "c"), true, 0.5, false, nil, ""},
		{"one removed", []string{"a", "b", "c"}, set0("a", "b"), true, 0.5, false, []string{"c"}, ""},
		{"duplicates and empty names in owned", []string{"a", "c", "c", ""}, set0("a"), true, 0.5, false, []string{"c"}, ""},
		{"sorted result", []string{"z", "a", "m", "k"}, set0("k", "x"), true, 1, false, []string{"a", "m", "z"}, ""},
		{"source failed", []string{"a", "b"}, set0("a"), false, 1, true, nil, "a source failed to load"},
		{"source failed but nothing to prune", []string{"a"}, set0("a"), false, 0.5, false, nil, ""},
		{"desired set empty", []string{"a", "b"}, set0(), true, 1, false, nil, "no release is declared"},
		{"desired set empty, allowed", []string{"a", "b"}, set0(), true, 1, true, []string{"a", "b"}, ""},
		{"empty allowed still capped", []string{"a", "b", "c", "d"}, set0(), true, 0.5, true, nil, "4 of 4"},
		{"over the fraction", many(10), set0(many(10)[6:]...), true, 0.5, false, nil, "6 of 10 owned releases"},
		{"at the fraction", many(10), set0(many(10)[5:]...), true, 0.5, false, many(10)[:5], ""},
		{"default fraction when unset", many(10), set0(many(10)[6:]...), true, 0, false, nil, "more than the allowed 50%"},
		{"no floor: one of two is more than 10%", []string{"a", "b"}, set0("a"), true, 0.1, false, nil, "1 of 2 owned releases would be deleted in one pass, more than the allowed 10% (0): b; delete fewer at a time or raise prune_max_fraction"},
		{"one of two at 50%", []string{"a", "b"}, set0("a"), true, 0.5, false, []string{"b"}, ""},
		{"the only one, replaced by another", []string{"a"}, set0("x"), true, 0.5, false, nil, "1 of 1"},
		{"two of two", []string{"a", "b"}, set0("x"), true, 0.1, false, nil, "2 of 2"},
		{"no limit at 1", many(10), set0("x"), true, 1, false, many(10), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, refused := PruneDecision(tt.owned, tt.desired, tt.healthy, tt.fraction, tt.allowEmpty)
			if !slices.Equal(got, tt.want) {
				t.Errorf("toDelete = %v, want %v (refused %q)", got, tt.want, refused)
			}
			if (tt.refused == "") != (refused == "") || !strings.Contains(refused, tt.refused) {
				t.Errorf("refused = %q, want %q", refused, tt.refused)
			}
			if refused != "" && (!strings.HasPrefix(refused, "PRUNE REFUSED") || got != nil) {
				t.Errorf("a refusal must be loud and delete nothing: %q %v", refused, got)
			}
		})
	}
}
