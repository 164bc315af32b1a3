package universe

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Version is a version string parsed for constraint matching.
type Version struct {
	// Text is the original string.
	Text string
	// Core is the numeric part: "2.9.0-2.4.0" has Core [2 9 0].
	Core []int64
	// Suffix is what follows the core, without a leading "-".
	Suffix string
	// HasSuffix tells "1.0-" (empty suffix) from "1.0".
	HasSuffix bool
	// PreRelease is true when the suffix marks a pre-release.
	PreRelease bool
}

// ParseVersion parses a version string for comparison, as ParseConstraint's
// documentation defines.
func ParseVersion(s string) (Version, error) {
	v := Version{Text: s}
	rest := s
	if len(rest) > 1 && (rest[0] == 'v' || rest[0] == 'V') && isDigit(rest[1]) {
		rest = rest[1:]
	}
	for {
		n := 0
		for n < len(rest) && isDigit(rest[n]) {
			n++
		}
		if n == 0 {
			return Version{}, fmt.Errorf("version %q does not start with a number", s)
		}
		if n > 18 {
			return Version{}, fmt.Errorf("version %q has a number that is too long", s)
		}
		num, _ := strconv.ParseInt(rest[:n], 10, 64)
		v.Core = append(v.Core, num)
		rest = rest[n:]
		if len(rest) > 1 && rest[0] == '.' && isDigit(rest[1]) {
			rest = rest[1:]
			continue
		}
		break
	}
	switch {
	case rest == "":
	case rest[0] == '-':
		v.Suffix, v.HasSuffix = rest[1:], true
	case isLetter(rest[0]) && len(v.Core) >= 2:
		v.Suffix, v.HasSuffix = rest, true
	default:
		return Version{}, fmt.Errorf("version %q is not numbers separated by dots followed by an optional -suffix", s)
	}
	v.PreRelease = isPreRelease(v.Suffix)
	return v, nil
}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

var preReleaseWords = map[string]bool{"alpha": true, "beta": true, "rc": true, "pre": true, "snapshot": true, "dev": true}

func isPreRelease(suffix string) bool {
	for i := 0; i < len(suffix); {
		if !isLetter(suffix[i]) {
			i++
			continue
		}
		j := i
		for j < len(suffix) && isLetter(suffix[j]) {
			j++
		}
		if preReleaseWords[strings.ToLower(suffix[i:j])] {
			return true
		}
		i = j
	}
	return false
}

// compareCore compares numeric cores, missing components counting as 0.
func compareCore(a, b []int64) int {
	n := max(len(a), len(b))
	for i := 0; i < n; i++ {
		var x, y int64
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// compareSuffix orders suffixes (see the package comment).
func compareSuffix(a, b string) int {
	split := func(s string) []string {
		return strings.FieldsFunc(s, func(r rune) bool { return r == '.' || r == '-' })
	}
	pa, pb := split(a), split(b)
	for i := 0; i < len(pa) && i < len(pb); i++ {
		x, y := pa[i], pb[i]
		nx, ex := strconv.ParseUint(x, 10, 64)
		ny, ey := strconv.ParseUint(y, 10, 64)
		switch {
		case ex == nil && ey == nil:
			if nx != ny {
				if nx < ny {
					return -1
				}
				return 1
			}
		case ex == nil:
			return -1
		case ey == nil:
			return 1
		default:
			if c := strings.Compare(x, y); c != 0 {
				return c
			}
		}
	}
	switch {
	case len(pa) < len(pb):
		return -1
	case len(pa) > len(pb):
		return 1
	}
	return 0
}

// bound is one side of a range: version v (suffix used only when hasSuffix).
type bound struct {
	core      []int64
	suffix    string
	hasSuffix bool
}

// cmp compares version v with the bound b (suffix only when b has one).
func (b bound) cmp(v Version) int {
	if c := compareCore(v.Core, b.core); c != 0 || !b.hasSuffix {
		return c
	}
	switch {
	case !v.HasSuffix:
		return -1
	default:
		return compareSuffix(v.Suffix, b.suffix)
	}
}

// primitive is a single comparison.
type primitive struct {
	op string // "=", "!=", "<", "<=", ">", ">=", or "*" (any), or "!range"
	b  bound
	hi bound // for "!range": not in [b, hi)
}

func (p primitive) match(v Version) bool {
	switch p.op {
	case "*":
		return true
	case "=":
		return p.b.cmp(v) == 0
	case "!=":
		return p.b.cmp(v) != 0
	case "<":
		return p.b.cmp(v) < 0
	case "<=":
		return p.b.cmp(v) <= 0
	case ">":
		return p.b.cmp(v) > 0
	case ">=":
		return p.b.cmp(v) >= 0
	case "!range":
		return p.b.cmp(v) < 0 || p.hi.cmp(v) >= 0
	}
	return false
}

// Constraint is a parsed version constraint; see ParseConstraint.
type Constraint struct {
	text         string
	alternatives [][]primitive
	pre          bool // names a pre-release: pre-releases may match
}

// String returns the constraint as written.
func (c *Constraint) String() string { return c.text }

// IsConstraint reports whether a version spec is a constraint rather than
// an exact version string ("" and "latest" are neither).
func IsConstraint(spec string) bool {
	if strings.ContainsAny(spec, "<>=!~^*|, \t") {
		return true
	}
	if spec == "" || spec == "latest" {
		return false
	}
	for _, part := range strings.Split(spec, ".") {
		if part == "x" || part == "X" {
			return true
		}
	}
	return false
}

// ParseConstraint parses a version constraint for release manifests.
// Errors are plain (the caller classifies them).
//
// Release manifests may ask for a version range instead of an exact version
// string. Universe version strings are not semver ("2.9.0-2.4.0" is an SDK
// framework version followed by the product version, "1.4.0.-1", "3.1.x",
// "stub-universe" and "latest" exist), so constraints use a small,
// Universe-flavoured dialect of semver ranges, defined here exactly.
//
// Parsing a version string for comparison (ParseVersion):
//
//	[v|V] N(.N)* [suffix]
//
// N are decimal integers (at most 18 digits). The suffix is either "-"
// followed by anything (the rest of the string, e.g. "-2.4.0",
// "-2.4.0-beta"), or, when the numeric core has at least two components, a
// letter followed by anything ("6.0.0rc1", "1.4.13a"). Strings of any other
// shape (no leading number, ".x" or ".-" after the numbers, a one-component
// core followed by letters like "8688ecd-1.2.9") do not parse; they are
// never matched by a constraint, and a failed selection lists them as
// skipped. A version is a PRE-RELEASE when its suffix contains a run of
// letters equal to alpha, beta, rc, pre, snapshot or dev (any case), e.g.
// "2.9.0-2.4.0-beta", "6.0.0rc1".
//
// Ordering: numeric cores compare component by component, missing
// components counting as 0 (1.2 == 1.2.0 == 1.2.0.0). The suffix is NOT a
// semver pre-release: it only takes part when the constraint's version
// itself has one. So ">=2.9" matches "2.9.0-2.4.0", and "<2.9.0" does not.
// When the constraint's version has a suffix and the cores are equal, a
// version without suffix sorts first; suffixes compare by their "."/"-"
// separated parts, numeric parts numerically and below alphanumeric parts,
// alphanumeric parts in ASCII order, a shorter list first on a tie.
//
// Constraint syntax (ParseConstraint):
//
//	constraint  = alternative { "||" alternative }
//	alternative = comparator { ("," | whitespace) comparator }   (all must hold)
//	comparator  = [op] version-pattern
//	op          = "=" | "!=" | ">" | ">=" | "<" | "<=" | "~" | "^"
//
// A version-pattern is a version as above, or a partial one ending in
// wildcards: "2.x", "2.9.*", "*" (x, X and * are wildcards; nothing may
// follow a wildcard). Without an operator, "=" is meant. Partial versions
// (wildcards, or fewer than three numeric components without a suffix) are
// ranges, as in semver:
//
//	=2.9, 2.9, 2.9.x   >=2.9.0 <2.10.0        =2, 2.x   >=2.0.0 <3.0.0
//	>2.9               >=2.10.0                <=2.9     <2.10.0
//	!=2.9              not in [2.9.0, 2.10.0)  *         any parseable version
//	~2.9.1             >=2.9.1 <2.10.0         ~2.9, ~2  >=2.9 <2.10; >=2 <3
//	^2.9.1             >=2.9.1 <3.0.0          ^0.2.3    >=0.2.3 <0.3.0
//	^0.0.3             >=0.0.3 <0.0.4
//
// Versions with three or more components compare exactly on all of them
// ("=2.9.0" does not match "2.9.0.1" but matches "2.9.0-2.4.0"). Hyphen
// ranges ("1.2 - 2.3") are not supported: "-" belongs to Universe versions.
//
// Pre-releases match only constraints that name a pre-release themselves
// (">=2.9.0-beta"). Among the revisions a constraint matches, the highest
// releaseVersion wins.
//
// A version spec is a constraint (IsConstraint) when it contains one of
// `< > = ! ~ ^ * | ,` or whitespace, or is a version with an x/X wildcard
// component ("2.x"). Exact version strings are tried first: a revision
// whose version is literally "3.1.x" is chosen by the spec "3.1.x".
func ParseConstraint(s string) (*Constraint, error) {
	c := &Constraint{text: s}
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("empty version constraint")
	}
	for _, alt := range strings.Split(s, "||") {
		fieldsOf := strings.FieldsFunc(alt, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
		if len(fieldsOf) == 0 {
			return nil, fmt.Errorf("version constraint %q has an empty alternative around ||", s)
		}
		// "> 2.9" is written with a space: glue a lone operator to the next field.
		var comps []string
		for i := 0; i < len(fieldsOf); i++ {
			f := fieldsOf[i]
			if isOperator(f) && i+1 < len(fieldsOf) {
				f += fieldsOf[i+1]
				i++
			}
			comps = append(comps, f)
		}
		var prims []primitive
		for _, comp := range comps {
			ps, pre, err := parseComparator(comp)
			if err != nil {
				return nil, fmt.Errorf("version constraint %q: %w", s, err)
			}
			c.pre = c.pre || pre
			prims = append(prims, ps...)
		}
		c.alternatives = append(c.alternatives, prims)
	}
	return c, nil
}

func isOperator(s string) bool {
	switch s {
	case "=", "!=", ">", ">=", "<", "<=", "~", "^":
		return true
	}
	return false
}

// parseComparator expands one comparator into primitives.
func parseComparator(comp string) ([]primitive, bool, error) {
	op := ""
	for _, o := range []string{">=", "<=", "!=", ">", "<", "=", "~", "^"} {
		if strings.HasPrefix(comp, o) {
			op = o
			break
		}
	}
	text := comp[len(op):]
	if text == "" {
		return nil, false, fmt.Errorf("%q: operator without a version", comp)
	}
	if op == "" {
		op = "="
	}
	// Wildcards: cut the core at the first x/X/* component.
	parts := strings.Split(text, ".")
	wild := -1
	for i, p := range parts {
		if p == "x" || p == "X" || p == "*" {
			wild = i
			break
		}
	}
	if wild >= 0 {
		for _, p := range parts[wild:] {
			if p != "x" && p != "X" && p != "*" {
				return nil, false, fmt.Errorf("%q: nothing but wildcards may follow a wildcard", comp)
			}
		}
		if wild == 0 {
			if op != "=" {
				return nil, false, fmt.Errorf("%q: a bare wildcard takes no operator", comp)
			}
			return []primitive{{op: "*"}}, false, nil
		}
		text = strings.Join(parts[:wild], ".")
	}
	v, err := ParseVersion(text)
	if err != nil {
		return nil, false, fmt.Errorf("%q: %w", comp, err)
	}
	if v.HasSuffix && wild >= 0 {
		return nil, false, fmt.Errorf("%q: a wildcard version has no suffix", comp)
	}
	partial := wild >= 0 || (!v.HasSuffix && len(v.Core) < 3)
	lo := bound{core: v.Core, suffix: v.Suffix, hasSuffix: v.HasSuffix}
	bump := func(core []int64, at int) bound {
		out := make([]int64, at+1)
		copy(out, core[:at+1])
		out[at]++
		return bound{core: out}
	}
	last := len(v.Core) - 1
	switch op {
	case "~":
		at := 1
		if len(v.Core) < 2 {
			at = 0
		}
		return []primitive{{op: ">=", b: lo}, {op: "<", b: bump(v.Core, at)}}, v.PreRelease, nil
	case "^":
		at := 0
		for at < last && v.Core[at] == 0 {
			at++
		}
		return []primitive{{op: ">=", b: lo}, {op: "<", b: bump(v.Core, at)}}, v.PreRelease, nil
	}
	if !partial {
		return []primitive{{op: op, b: lo}}, v.PreRelease, nil
	}
	hi := bump(v.Core, last)
	switch op {
	case "=":
		return []primitive{{op: ">=", b: lo}, {op: "<", b: hi}}, false, nil
	case "!=":
		return []primitive{{op: "!range", b: lo, hi: hi}}, false, nil
	case ">":
		return []primitive{{op: ">=", b: hi}}, false, nil
	case ">=":
		return []primitive{{op: ">=", b: lo}}, false, nil
	case "<":
		return []primitive{{op: "<", b: lo}}, false, nil
	case "<=":
		return []primitive{{op: "<", b: hi}}, false, nil
	}
	return nil, false, fmt.Errorf("%q: unknown operator", comp)
}

// Match reports whether a version string satisfies the constraint. Strings
// that do not parse never match; pre-releases match only when the constraint
// names a pre-release.
func (c *Constraint) Match(version string) bool {
	v, err := ParseVersion(version)
	if err != nil {
		return false
	}
	return c.MatchVersion(v)
}

// MatchVersion is Match for an already parsed version.
func (c *Constraint) MatchVersion(v Version) bool {
	if v.PreRelease && !c.pre {
		return false
	}
	for _, alt := range c.alternatives {
		ok := true
		for _, p := range alt {
			if !p.match(v) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// CompareDCOSVersions compares two DC/OS release versions numerically
// ("1.10" > "1.9", "1.10" == "1.10.0"); anything after the numeric part
// ("1.13.0-dev", "2.1.0-beta1") is ignored. It returns -1, 0 or 1, or an
// error when either does not start with a number.
func CompareDCOSVersions(a, b string) (int, error) {
	pa, err := dcosCore(a)
	if err != nil {
		return 0, err
	}
	pb, err := dcosCore(b)
	if err != nil {
		return 0, err
	}
	return compareCore(pa, pb), nil
}

func dcosCore(s string) ([]int64, error) {
	rest := strings.TrimPrefix(strings.TrimSpace(s), "v")
	var core []int64
	for {
		n := 0
		for n < len(rest) && isDigit(rest[n]) {
			n++
		}
		if n == 0 || n > 18 {
			if len(core) == 0 {
				return nil, fmt.Errorf("DC/OS version %q is not numeric", s)
			}
			return core, nil
		}
		num, _ := strconv.ParseInt(rest[:n], 10, 64)
		core = append(core, num)
		rest = rest[n:]
		if len(rest) > 1 && rest[0] == '.' && isDigit(rest[1]) {
			rest = rest[1:]
			continue
		}
		return core, nil
	}
}
