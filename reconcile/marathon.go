package reconcile

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/universe-operator/universe-operator/errs"
)

// firstServicePort is where MarathonView starts assigning service ports
// (Marathon's --local_port_min default).
const firstServicePort = 10000

// MarathonView returns the app as Marathon 1.10 answers GET /v2/apps/{id}
// right after the app was posted, definition fields only: deprecated fields
// translated, structural defaults applied (Normalize), every default of the
// Defaults table that Marathon writes filled in, and service ports left at 0
// assigned from 10000 up. Status fields (version, tasks, counts,
// deployments) are not added. It is this package's model of Marathon used
// forwards: Compare(app, MarathonView(app)) reports no drift. Errors are
// errs.Permanent (not a JSON object).
func MarathonView(app []byte) ([]byte, error) {
	root, err := parseObject(app)
	if err != nil {
		return nil, errs.Permanent(fmt.Errorf("marathon view: %w", err))
	}
	ctx := normalizeApp(&root)
	dropUnknown(rules(), &root)
	fillDefaults(rules(), &root, &ctx)
	next := firstServicePort
	assign := func(v *value, key string) {
		if v == nil || v.kind != kindArray {
			return
		}
		for i := range v.arr {
			el := &v.arr[i]
			if el.kind != kindObject {
				continue
			}
			if p := el.get(key); p != nil && p.kind == kindNumber && isZero(p.str) {
				el.set(key, num(strconv.Itoa(next)))
				next++
			}
		}
	}
	assign(root.get("portDefinitions"), "port")
	assign(root.get("container").get("portMappings"), "servicePort")
	return root.bytes(), nil
}

// fillDefaults sets every absent field of v that has a default under t
// (first value), recursing into present objects and arrays.
func fillDefaults(t *ruleNode, v *value, ctx *appCtx) {
	if t == nil {
		return
	}
	switch v.kind {
	case kindArray:
		if el := t.elem(); el != nil {
			for i := range v.arr {
				fillDefaults(el, &v.arr[i], ctx)
			}
		}
	case kindObject:
		keys := make([]string, 0, len(t.children))
		for k := range t.children {
			if k != "*" {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			child := t.children[k]
			if v.get(k) == nil {
				r := child.rule(ctx, v)
				if r == nil || (r.noFill != nil && r.noFill(v)) {
					continue
				}
				vals := r.values(ctx)
				if len(vals) == 0 {
					continue
				}
				v.set(k, vals[0].clone())
			}
			fillDefaults(child, v.get(k), ctx)
		}
	}
}

// dropUnknown removes the members Marathon does not know (knownFields),
// recursively, as Marathon's readers do.
func dropUnknown(t *ruleNode, v *value) {
	if t == nil {
		return
	}
	switch v.kind {
	case kindArray:
		if el := t.elem(); el != nil {
			for i := range v.arr {
				dropUnknown(el, &v.arr[i])
			}
		}
	case kindObject:
		if t.known != nil {
			v.obj = slices.DeleteFunc(v.obj, func(m member) bool { return !t.known[m.key] })
		}
		for i := range v.obj {
			dropUnknown(t.child(v.obj[i].key), &v.obj[i].val)
		}
	}
}
