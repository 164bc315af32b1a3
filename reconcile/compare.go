package reconcile

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/universe-operator/universe-operator/errs"
)

// ChangeKind says how a field differs between the release and Marathon.
type ChangeKind string

const (
	// ChangeModified: both sides have a value (possibly a Marathon default
	// standing for an absent field, see Change.Defaulted) and they differ.
	ChangeModified ChangeKind = "modified"
	// ChangeMissing: the release has the field, Marathon's app does not
	// (someone removed it, e.g. a health check).
	ChangeMissing ChangeKind = "missing"
	// ChangeExtra: Marathon's app has a field the release does not, and its
	// value is not a known default (someone added it, e.g. a constraint).
	ChangeExtra ChangeKind = "extra"
)

// Change is one field-level difference. Actual is the old value (what
// Marathon holds now), Desired the new one (what the release wants and an
// update would write). A side that does not have the field is nil.
type Change struct {
	// Path is a JSON pointer (RFC 6901) into the normalized app, e.g.
	// /instances, /env/FOO, /healthChecks/0/path. Array indices are those of
	// the desired side, or of Marathon's side for ChangeExtra.
	Path string `json:"path"`
	// Kind classifies the change.
	Kind ChangeKind `json:"kind"`
	// Desired is the release's value (compact JSON), nil when absent.
	Desired json.RawMessage `json:"desired,omitempty"`
	// Actual is Marathon's value (compact JSON), nil when absent.
	Actual json.RawMessage `json:"actual,omitempty"`
	// Defaulted names the side that lacks the field and whose value shown is
	// the Marathon default the absence stands for: "desired", "actual", or ""
	// when both sides have the field.
	Defaulted string `json:"defaulted,omitempty"`
}

// Sides named by Change.Defaulted.
const (
	SideDesired = "desired"
	SideActual  = "actual"
)

// String renders the change as "path: old => new" (old = Marathon's value).
func (c Change) String() string {
	show := func(v json.RawMessage, dflt bool) string {
		if v == nil {
			return "(absent)"
		}
		if dflt {
			return string(v) + " (default)"
		}
		return string(v)
	}
	return fmt.Sprintf("%s: %s => %s", c.Path,
		show(c.Actual, c.Defaulted == SideActual), show(c.Desired, c.Defaulted == SideDesired))
}

// Drift is the result of Compare: the field-level differences, or the
// reason the apps could not be compared.
type Drift struct {
	// Changes are sorted by traversal order (object keys sorted, arrays in
	// index order), so equal inputs give equal Drift.
	Changes []Change `json:"changes,omitempty"`
	// Ignored are paths of fields only the release has that Marathon does
	// not know and drops (e.g. a template's "maintainer"): not drift, but
	// worth a warning, since they never reach Marathon.
	Ignored []string `json:"ignored,omitempty"`
	// Err is set when either side is not a JSON object; it is
	// errs.Permanent. Changes is empty then.
	Err error `json:"-"`
}

// Drifted reports whether the apps differ (or could not be compared).
func (d Drift) Drifted() bool { return len(d.Changes) > 0 || d.Err != nil }

// Paths returns the paths of the changes, in order.
func (d Drift) Paths() []string {
	out := make([]string, len(d.Changes))
	for i, c := range d.Changes {
		out[i] = c.Path
	}
	return out
}

// String renders the drift one change per line ("" when in sync).
func (d Drift) String() string {
	if d.Err != nil {
		return "cannot compare: " + d.Err.Error()
	}
	var b strings.Builder
	for i, c := range d.Changes {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(c.String())
	}
	return b.String()
}

// Compare reports how Marathon's app (actual, as returned by GET /v2/apps,
// status fields and embeds allowed) differs from the release's app (desired,
// as rendered and stamped). Defaults Marathon fills in, deprecated fields it
// translates, ports it assigns and the order of the sets it keeps are not
// drift; see the package documentation and Defaults.
func Compare(desired, actual []byte) Drift {
	d, err := parseObject(desired)
	if err != nil {
		return Drift{Err: errs.Permanent(fmt.Errorf("desired app: %w", err))}
	}
	a, err := parseExcept(actual, statusSet) // tasks and counts are not read
	if err != nil {
		return Drift{Err: errs.Permanent(fmt.Errorf("app in Marathon: %w", err))}
	}
	dctx := normalizeApp(&d)
	actx := normalizeApp(&a)
	return compareNormalized(&d, &a, &dctx, &actx)
}

func compareNormalized(d, a *value, dctx, actx *appCtx) Drift {
	df := differ{dctx: dctx, actx: actx}
	df.compare(rules(), d, a, d, a)
	return Drift{Changes: df.changes, Ignored: df.ignored}
}

// differ walks two normalized apps side by side.
type differ struct {
	dctx, actx *appCtx
	path       []string
	changes    []Change
	ignored    []string
	count      int  // number of changes found (also in probe mode)
	probe      bool // only count, up to limit, and record nothing
	limit      int
}

func (df *differ) done() bool { return df.probe && df.count >= df.limit }

func (df *differ) pointer() string {
	var b strings.Builder
	for _, seg := range df.path {
		b.WriteByte('/')
		if strings.ContainsAny(seg, "~/") {
			seg = strings.ReplaceAll(strings.ReplaceAll(seg, "~", "~0"), "/", "~1")
		}
		b.WriteString(seg)
	}
	return b.String()
}

func (df *differ) emit(kind ChangeKind, d, a *value, defaulted string) {
	df.count++
	if df.probe {
		return
	}
	c := Change{Path: df.pointer(), Kind: kind, Defaulted: defaulted}
	if d != nil {
		c.Desired = d.bytes()
	}
	if a != nil {
		c.Actual = a.bytes()
	}
	df.changes = append(df.changes, c)
}

// equal reports whether d and a compare equal under node t.
func (df *differ) equal(t *ruleNode, d, a *value, pd, pa *value) bool {
	return df.cost(t, d, a, pd, pa, 1) == 0
}

// cost counts the changes between d and a, stopping at limit.
func (df *differ) cost(t *ruleNode, d, a *value, pd, pa *value, limit int) int {
	sub := differ{dctx: df.dctx, actx: df.actx, probe: true, limit: limit}
	sub.compare(t, d, a, pd, pa)
	return sub.count
}

// compare compares two present values; pd and pa are their parents.
func (df *differ) compare(t *ruleNode, d, a *value, pd, pa *value) {
	if df.done() {
		return
	}
	if d.kind != a.kind {
		df.emit(ChangeModified, d, a, "")
		return
	}
	switch d.kind {
	case kindObject:
		df.object(t, d, a)
	case kindArray:
		if t != nil && t.set {
			df.set(t.elem(), d, a)
		} else {
			df.seq(t.elem(), d, a)
		}
	case kindNumber:
		if t != nil && t.assigned && isZero(d.str) {
			return // Marathon assigns a port for 0
		}
		if !numEqual(d.str, a.str) {
			df.emit(ChangeModified, d, a, "")
		}
	case kindString:
		if d.str != a.str {
			df.emit(ChangeModified, d, a, "")
		}
	case kindBool:
		if d.b != a.b {
			df.emit(ChangeModified, d, a, "")
		}
	}
}

func (df *differ) object(t *ruleNode, d, a *value) {
	i, j := 0, 0
	for i < len(d.obj) || j < len(a.obj) {
		if df.done() {
			return
		}
		switch {
		case j >= len(a.obj) || (i < len(d.obj) && d.obj[i].key < a.obj[j].key):
			m := &d.obj[i]
			df.path = append(df.path, m.key)
			if t.unknown(m.key) {
				// Marathon drops fields it does not know: never drift.
				if !df.probe {
					df.ignored = append(df.ignored, df.pointer())
				}
			} else {
				df.oneSide(t.child(m.key), &m.val, true, a, d)
			}
			df.path = df.path[:len(df.path)-1]
			i++
		case i >= len(d.obj) || a.obj[j].key < d.obj[i].key:
			m := &a.obj[j]
			df.path = append(df.path, m.key)
			df.oneSide(t.child(m.key), &m.val, false, d, a)
			df.path = df.path[:len(df.path)-1]
			j++
		default:
			df.path = append(df.path, d.obj[i].key)
			df.compare(t.child(d.obj[i].key), &d.obj[i].val, &a.obj[j].val, d, a)
			df.path = df.path[:len(df.path)-1]
			i++
			j++
		}
	}
}

// oneSide handles a field only one side has. v is its value; fromDesired
// tells which side has it; lackParent is the object on the other side (nil
// when that whole subtree is absent) and hasParent the object holding v.
func (df *differ) oneSide(t *ruleNode, v *value, fromDesired bool, lackParent, hasParent *value) {
	if df.done() {
		return
	}
	lackCtx := df.actx
	if !fromDesired {
		lackCtx = df.dctx
	}
	condParent := lackParent
	if condParent == nil {
		condParent = hasParent
	}
	var dflt *value
	if r := t.rule(lackCtx, condParent); r != nil {
		vals := r.values(lackCtx)
		for k := range vals {
			dv := &vals[k]
			var eq bool
			if fromDesired {
				eq = df.equal(t, v, dv, hasParent, lackParent)
			} else {
				eq = df.equal(t, dv, v, lackParent, hasParent)
			}
			if eq {
				return // the field only spells out a default
			}
		}
		if len(vals) > 0 {
			dflt = &vals[0]
		}
	}
	switch {
	case v.kind == kindObject && (dflt == nil || dflt.kind == kindObject):
		// Descend, so the change names the innermost fields and nested
		// defaults are honoured.
		for k := range v.obj {
			m := &v.obj[k]
			df.path = append(df.path, m.key)
			if fromDesired && t.unknown(m.key) {
				if !df.probe {
					df.ignored = append(df.ignored, df.pointer())
				}
			} else {
				df.oneSide(t.child(m.key), &m.val, fromDesired, nil, v)
			}
			df.path = df.path[:len(df.path)-1]
			if df.done() {
				return
			}
		}
	case v.kind == kindArray && dflt == nil:
		kind := ChangeExtra
		if fromDesired {
			kind = ChangeMissing
		}
		for k := range v.arr {
			df.path = append(df.path, strconv.Itoa(k))
			if fromDesired {
				df.emit(kind, &v.arr[k], nil, "")
			} else {
				df.emit(kind, nil, &v.arr[k], "")
			}
			df.path = df.path[:len(df.path)-1]
			if df.done() {
				return
			}
		}
	case dflt != nil:
		if fromDesired {
			df.emit(ChangeModified, v, dflt, SideActual)
		} else {
			df.emit(ChangeModified, dflt, v, SideDesired)
		}
	case fromDesired:
		df.emit(ChangeMissing, v, nil, "")
	default:
		df.emit(ChangeExtra, nil, v, "")
	}
}

// seq compares arrays element by element (order matters).
func (df *differ) seq(el *ruleNode, d, a *value) {
	n := min(len(d.arr), len(a.arr))
	for k := 0; k < n && !df.done(); k++ {
		df.path = append(df.path, strconv.Itoa(k))
		df.compare(el, &d.arr[k], &a.arr[k], d, a)
		df.path = df.path[:len(df.path)-1]
	}
	for k := n; k < len(d.arr) && !df.done(); k++ {
		df.path = append(df.path, strconv.Itoa(k))
		df.emit(ChangeMissing, &d.arr[k], nil, "")
		df.path = df.path[:len(df.path)-1]
	}
	for k := n; k < len(a.arr) && !df.done(); k++ {
		df.path = append(df.path, strconv.Itoa(k))
		df.emit(ChangeExtra, nil, &a.arr[k], "")
		df.path = df.path[:len(df.path)-1]
	}
}

// maxSetSearch bounds the quadratic part of set matching (pairs probed);
// beyond it, leftover elements are paired in order. Real apps have a few
// health checks and constraints; this only guards against hostile input.
const maxSetSearch = 4096

// set compares arrays Marathon keeps as sets: equal elements match in any
// order; the rest are paired by fewest differences and compared field by
// field; what is left is missing (desired only) or extra (Marathon only).
func (df *differ) set(el *ruleNode, d, a *value) {
	matchedA := make([]bool, len(a.arr))
	matchedD := make([]bool, len(d.arr))
	// Identical elements first: pairwise when small, by canonical text in
	// linear time when large.
	if len(d.arr)*len(a.arr) <= 64 {
		for i := range d.arr {
			for j := range a.arr {
				if !matchedA[j] && sameValue(&d.arr[i], &a.arr[j]) {
					matchedD[i], matchedA[j] = true, true
					break
				}
			}
		}
	} else if len(d.arr) > 0 && len(a.arr) > 0 {
		byKey := make(map[string][]int, len(a.arr))
		for j := range a.arr {
			k := string(a.arr[j].bytes())
			byKey[k] = append(byKey[k], j)
		}
		for i := range d.arr {
			k := string(d.arr[i].bytes())
			if js := byKey[k]; len(js) > 0 {
				matchedD[i], matchedA[js[0]] = true, true
				byKey[k] = js[1:]
			}
		}
	}
	var unD, unA []int
	for i, m := range matchedD {
		if !m {
			unD = append(unD, i)
		}
	}
	for j, m := range matchedA {
		if !m {
			unA = append(unA, j)
		}
	}
	search := len(unD)*len(unA) <= maxSetSearch
	// Elements equal but for defaults, in any order.
	if search {
		rest := unD[:0:0]
		for _, i := range unD {
			found := false
			for _, j := range unA {
				if !matchedA[j] && df.equal(el, &d.arr[i], &a.arr[j], d, a) {
					matchedA[j], found = true, true
					if !df.probe {
						// Equal but for defaults or dropped fields: walk
						// it for real to record what Marathon ignores.
						df.path = append(df.path, strconv.Itoa(i))
						df.compare(el, &d.arr[i], &a.arr[j], d, a)
						df.path = df.path[:len(df.path)-1]
					}
					break
				}
			}
			if !found {
				rest = append(rest, i)
			}
		}
		unD = rest
		unA = slices.DeleteFunc(unA, func(j int) bool { return matchedA[j] })
	}
	usedA := make([]bool, len(unA))
	next := 0 // for in-order pairing without search
	for _, i := range unD {
		if df.done() {
			return
		}
		best := -1
		if search {
			bestCost := 0
			for k, j := range unA {
				if usedA[k] || d.arr[i].kind != a.arr[j].kind {
					continue
				}
				c := df.cost(el, &d.arr[i], &a.arr[j], d, a, 64)
				if best < 0 || c < bestCost {
					best, bestCost = k, c
				}
			}
		} else {
			for next < len(unA) && (usedA[next] || a.arr[unA[next]].kind != d.arr[i].kind) {
				next++
			}
			if next < len(unA) {
				best = next
			}
		}
		df.path = append(df.path, strconv.Itoa(i))
		if best >= 0 && d.arr[i].kind == kindObject {
			usedA[best] = true
			df.compare(el, &d.arr[i], &a.arr[unA[best]], d, a)
		} else {
			df.emit(ChangeMissing, &d.arr[i], nil, "")
		}
		df.path = df.path[:len(df.path)-1]
	}
	for k, j := range unA {
		if usedA[k] || df.done() {
			continue
		}
		df.path = append(df.path, strconv.Itoa(j))
		df.emit(ChangeExtra, nil, &a.arr[j], "")
		df.path = df.path[:len(df.path)-1]
	}
}
