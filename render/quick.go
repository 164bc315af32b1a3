package render

import (
	"math/big"
	"regexp"
	"unicode/utf8"
)

// A quick check of options against a config.json schema, without
// compiling it with jsonschema/v6.
//
// Compiling the Universe's schemas is most of the cost of rendering it,
// while most options (the defaults above all) are valid. checkOptions
// answers valid, invalid or unknown, and is exact whenever it does not say
// unknown: it implements the draft-04 keywords the way jsonschema/v6
// validates them (same type rules, numbers compared as exact rationals,
// lengths in code points, Go regular expressions, equality as the library
// defines it), and answers unknown for what it does not implement ("format"
// on strings). Only a valid answer is used: options render without the
// schema ever being compiled. Anything else (invalid, unknown) compiles the
// schema and validates with jsonschema/v6, which produces the errors; so
// every error, and every verdict on options it cannot prove valid, is the
// library's own. The tests hold jsonschema/v6 as the oracle for the
// verdicts (every real schema, constructed and random options, random
// schemas).
//
// A schema gets a quick check only when its compile cannot fail (so that
// skipping the compile cannot hide a "not a usable JSON schema" error):
// metaValid proves it passes meta-validation and has no "$ref", nested
// "$schema" or relative "id", and every patternProperties key compiles.

// verdict is the answer of the quick check.
type verdict uint8

const (
	unknown verdict = iota
	valid
	invalid
)

// type bits, as draft-04 "type" names them.
const (
	tNull uint8 = 1 << iota
	tBoolean
	tNumber
	tInteger
	tString
	tArray
	tObject
)

var typeBits = map[string]uint8{"null": tNull, "boolean": tBoolean, "number": tNumber, "integer": tInteger,
	"string": tString, "array": tArray, "object": tObject}

// qschema is one draft-04 schema prepared for the quick check. Fields
// mirror what jsonschema/v6 compiles for draft-04 (other keywords are
// ignored there too); the keywords of each instance type are in a part of
// their own, nil when the schema has none (most schemas are small leaves).
type qschema struct {
	always    bool // {}: anything is valid
	hasEnum   bool
	hasFormat bool
	types     uint8 // 0: no "type"
	enum      []value
	obj       *qobject
	arr       *qarray
	str       *qstring
	num       *qnumber
	cond      *qcond
}

type qobject struct {
	minProps, maxProps int // -1: absent
	required           []string
	depRequired        map[string][]string
	depSchemas         map[string]*qschema
	props              map[string]*qschema
	patternProps       []qpattern
	addlProps          *qschema // additionalProperties as a schema
	addlPropsFalse     bool
}

type qarray struct {
	minItems, maxItems int
	unique             bool
	items              *qschema   // "items" as one schema
	itemsList          []*qschema // "items" as an array
	itemsIsList        bool
	addlItems          *qschema // only with itemsIsList
	addlItemsFalse     bool
}

type qstring struct {
	minLen, maxLen int
	pattern        *regexp.Regexp
}

type qnumber struct {
	minimum, maximum, exMinimum, exMaximum, multipleOf *big.Rat
}

type qcond struct {
	not                 *qschema
	allOf, anyOf, oneOf []*qschema
}

type qpattern struct {
	re *regexp.Regexp
	s  *qschema
}

// buildQuick prepares an annotation-free, metaValid schema for the quick
// check; nil when it cannot be (a patternProperties key that does not
// compile: jsonschema/v6 refuses such a schema).
func buildQuick(v value) *qschema {
	q, ok := quickSchema(v)
	if !ok {
		return nil
	}
	return q
}

// quickSchema prepares one schema position. It reads the keywords
// jsonschema/v6 compiles for draft-04, so annotations (which are dropped
// before compiling) and unknown keywords are ignored.
func quickSchema(v value) (*qschema, bool) {
	if v.k != kObject {
		return nil, false
	}
	q := &qschema{}
	if v.obj.len() == 0 {
		q.always = true
		return q, true
	}
	sub := func(s value) (*qschema, bool) { return quickSchema(s) }
	list := func(s value) ([]*qschema, bool) {
		out := make([]*qschema, len(s.arr))
		for i, it := range s.arr {
			var ok bool
			if out[i], ok = sub(it); !ok {
				return nil, false
			}
		}
		return out, true
	}
	get := func(key string) (value, bool) { return v.obj.get(key) }
	num := func(key string) *big.Rat {
		if s, has := get(key); has && s.k == kNumber {
			if r, ok := new(big.Rat).SetString(s.s); ok {
				return r
			}
		}
		return nil
	}
	flag := func(key string) bool {
		s, has := get(key)
		return has && s.k == kBool && s.b
	}
	count := func(key string) int {
		if r := num(key); r != nil && r.IsInt() {
			return int(r.Num().Int64())
		}
		return -1
	}
	var ok bool

	// Applicators.
	var c qcond
	for _, kw := range []struct {
		key string
		dst *[]*qschema
	}{{"allOf", &c.allOf}, {"anyOf", &c.anyOf}, {"oneOf", &c.oneOf}} {
		if s, has := get(kw.key); has {
			if *kw.dst, ok = list(s); !ok {
				return nil, false
			}
		}
	}
	if s, has := get("not"); has {
		if c.not, ok = sub(s); !ok {
			return nil, false
		}
	}
	if c.not != nil || c.allOf != nil || c.anyOf != nil || c.oneOf != nil {
		q.cond = &c
	}

	// Arrays.
	a := qarray{minItems: count("minItems"), maxItems: count("maxItems"), unique: flag("uniqueItems")}
	if s, has := get("items"); has {
		if s.k == kArray {
			a.itemsIsList = true
			if a.itemsList, ok = list(s); !ok {
				return nil, false
			}
			if ai, has := get("additionalItems"); has {
				if ai.k == kBool {
					a.addlItemsFalse = !ai.b
				} else if a.addlItems, ok = sub(ai); !ok {
					return nil, false
				}
			}
		} else if a.items, ok = sub(s); !ok {
			return nil, false
		}
	}
	if a.minItems >= 0 || a.maxItems >= 0 || a.unique || a.items != nil || a.itemsIsList {
		q.arr = &a
	}

	// Objects.
	o := qobject{minProps: count("minProperties"), maxProps: count("maxProperties")}
	if s, has := get("properties"); has {
		o.props = make(map[string]*qschema, s.obj.len())
		for _, m := range s.obj.members {
			if o.props[m.key], ok = sub(m.val); !ok {
				return nil, false
			}
		}
	}
	if s, has := get("patternProperties"); has {
		for _, m := range s.obj.members {
			re, err := cachedRegexp(m.key)
			if err != nil {
				return nil, false // jsonschema/v6 refuses the schema
			}
			ps, ok := sub(m.val)
			if !ok {
				return nil, false
			}
			o.patternProps = append(o.patternProps, qpattern{re.(*regexp.Regexp), ps})
		}
	}
	if s, has := get("additionalProperties"); has {
		if s.k == kBool {
			o.addlPropsFalse = !s.b
		} else if o.addlProps, ok = sub(s); !ok {
			return nil, false
		}
	}
	if s, has := get("dependencies"); has {
		for _, m := range s.obj.members {
			if m.val.k == kArray {
				if o.depRequired == nil {
					o.depRequired = map[string][]string{}
				}
				names := make([]string, 0, len(m.val.arr))
				for _, it := range m.val.arr {
					names = append(names, it.s)
				}
				o.depRequired[m.key] = names
				continue
			}
			if o.depSchemas == nil {
				o.depSchemas = map[string]*qschema{}
			}
			if o.depSchemas[m.key], ok = sub(m.val); !ok {
				return nil, false
			}
		}
	}
	if s, has := get("required"); has {
		for _, it := range s.arr {
			o.required = append(o.required, it.s)
		}
	}
	if o.minProps >= 0 || o.maxProps >= 0 || o.required != nil || o.depRequired != nil || o.depSchemas != nil ||
		o.props != nil || o.patternProps != nil || o.addlProps != nil || o.addlPropsFalse {
		q.obj = &o
	}

	// Strings.
	st := qstring{minLen: count("minLength"), maxLen: count("maxLength")}
	if s, has := get("pattern"); has {
		re, err := cachedRegexp(s.s)
		if err != nil {
			return nil, false
		}
		st.pattern = re.(*regexp.Regexp)
	}
	if st.minLen >= 0 || st.maxLen >= 0 || st.pattern != nil {
		q.str = &st
	}

	// Numbers.
	n := qnumber{multipleOf: num("multipleOf"), maximum: num("maximum"), minimum: num("minimum")}
	if flag("exclusiveMaximum") {
		n.exMaximum, n.maximum = n.maximum, nil
	}
	if flag("exclusiveMinimum") {
		n.exMinimum, n.minimum = n.minimum, nil
	}
	if n.multipleOf != nil || n.maximum != nil || n.minimum != nil || n.exMaximum != nil || n.exMinimum != nil {
		q.num = &n
	}

	// Any type.
	if s, has := get("type"); has {
		if s.k == kString {
			q.types = typeBits[s.s]
		} else {
			for _, it := range s.arr {
				q.types |= typeBits[it.s]
			}
		}
	}
	if s, has := get("enum"); has {
		q.enum, q.hasEnum = s.arr, true
	}
	if s, has := get("format"); has && s.k == kString {
		q.hasFormat = true
	}
	return q, true
}

// check validates v.
func (q *qschema) check(v value) verdict {
	if q.always {
		return valid
	}
	if q.types != 0 && !q.typeMatches(v) {
		return invalid
	}
	if q.hasEnum {
		found := false
		for _, e := range q.enum {
			if jsonEqual(v, e) {
				found = true
				break
			}
		}
		if !found {
			return invalid
		}
	}
	if q.hasFormat && v.k == kString {
		return unknown // the library's formats are not reproduced here
	}
	result := valid
	// and combines a sub-verdict: invalid wins, then unknown.
	and := func(r verdict) bool {
		if r == invalid {
			result = invalid
			return false
		}
		if r == unknown {
			result = unknown
		}
		return true
	}
	switch v.k {
	case kObject:
		if q.obj != nil && !q.obj.check(v, and) {
			return invalid
		}
	case kArray:
		if q.arr != nil && !q.arr.check(v, and) {
			return invalid
		}
	case kString:
		if s := q.str; s != nil {
			if s.minLen >= 0 || s.maxLen >= 0 {
				n := utf8.RuneCountInString(v.s)
				if (s.minLen >= 0 && n < s.minLen) || (s.maxLen >= 0 && n > s.maxLen) {
					return invalid
				}
			}
			if s.pattern != nil && !s.pattern.MatchString(v.s) {
				return invalid
			}
		}
	case kNumber:
		if b := q.num; b != nil {
			n, ok := new(big.Rat).SetString(v.s)
			if !ok {
				return unknown
			}
			if (b.minimum != nil && n.Cmp(b.minimum) < 0) || (b.maximum != nil && n.Cmp(b.maximum) > 0) ||
				(b.exMinimum != nil && n.Cmp(b.exMinimum) <= 0) || (b.exMaximum != nil && n.Cmp(b.exMaximum) >= 0) {
				return invalid
			}
			if b.multipleOf != nil && !new(big.Rat).Quo(n, b.multipleOf).IsInt() {
				return invalid
			}
		}
	}
	c := q.cond
	if c == nil {
		return result
	}
	if c.not != nil {
		switch c.not.check(v) {
		case valid:
			return invalid
		case unknown:
			result = unknown
		}
	}
	for _, s := range c.allOf {
		if !and(s.check(v)) {
			return invalid
		}
	}
	if len(c.anyOf) > 0 {
		any := invalid
		for _, s := range c.anyOf {
			r := s.check(v)
			if r == valid {
				any = valid
				break
			}
			if r == unknown {
				any = unknown
			}
		}
		if !and(any) {
			return invalid
		}
	}
	if len(c.oneOf) > 0 {
		matched, unsure := 0, false
		for _, s := range c.oneOf {
			switch s.check(v) {
			case valid:
				matched++
			case unknown:
				unsure = true
			}
		}
		switch {
		case matched > 1:
			return invalid
		case unsure:
			result = unknown
		case matched == 0:
			return invalid
		}
	}
	return result
}

func (q *qschema) typeMatches(v value) bool {
	switch v.k {
	case kNull:
		return q.types&tNull != 0
	case kBool:
		return q.types&tBoolean != 0
	case kString:
		return q.types&tString != 0
	case kArray:
		return q.types&tArray != 0
	case kObject:
		return q.types&tObject != 0
	}
	// A number: "number", or "integer" when its value is whole (1.0 and
	// 1e2 included, as jsonschema/v6 decides).
	return q.types&tNumber != 0 || (q.types&tInteger != 0 && isWhole(v.s))
}

// isWhole reports whether a JSON number's value is an integer.
func isWhole(s string) bool {
	plain := s != ""
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && !(i == 0 && s[i] == '-') {
			plain = false
			break
		}
	}
	if plain {
		return true
	}
	r, ok := new(big.Rat).SetString(s)
	return ok && r.IsInt()
}

func (q *qobject) check(v value, and func(verdict) bool) bool {
	n := v.obj.len()
	if (q.minProps >= 0 && n < q.minProps) || (q.maxProps >= 0 && n > q.maxProps) {
		return false
	}
	for _, name := range q.required {
		if _, ok := v.obj.get(name); !ok {
			return false
		}
	}
	for name, names := range q.depRequired {
		if _, ok := v.obj.get(name); ok {
			for _, r := range names {
				if _, ok := v.obj.get(r); !ok {
					return false
				}
			}
		}
	}
	for name, s := range q.depSchemas {
		if _, ok := v.obj.get(name); ok && !and(s.check(v)) {
			return false
		}
	}
	for _, m := range v.obj.members {
		evaluated := false
		if s, ok := q.props[m.key]; ok {
			evaluated = true
			if !and(s.check(m.val)) {
				return false
			}
		}
		for _, p := range q.patternProps {
			if p.re.MatchString(m.key) {
				evaluated = true
				if !and(p.s.check(m.val)) {
					return false
				}
			}
		}
		if !evaluated {
			if q.addlPropsFalse {
				return false
			}
			if q.addlProps != nil && !and(q.addlProps.check(m.val)) {
				return false
			}
		}
	}
	return true
}

func (q *qarray) check(v value, and func(verdict) bool) bool {
	n := len(v.arr)
	if (q.minItems >= 0 && n < q.minItems) || (q.maxItems >= 0 && n > q.maxItems) {
		return false
	}
	if q.unique {
		for i := 1; i < n; i++ {
			for j := 0; j < i; j++ {
				if jsonEqual(v.arr[i], v.arr[j]) {
					return false
				}
			}
		}
	}
	if q.items != nil {
		for _, it := range v.arr {
			if !and(q.items.check(it)) {
				return false
			}
		}
	}
	if q.itemsIsList {
		k := min(n, len(q.itemsList))
		for i := 0; i < k; i++ {
			if !and(q.itemsList[i].check(v.arr[i])) {
				return false
			}
		}
		if q.addlItemsFalse && n > k {
			return false
		}
		if q.addlItems != nil {
			for _, it := range v.arr[k:] {
				if !and(q.addlItems.check(it)) {
					return false
				}
			}
		}
	}
	return true
}

// jsonEqual is JSON equality as jsonschema/v6 defines it for enum and
// uniqueItems: numbers by value, objects regardless of member order.
func jsonEqual(a, b value) bool {
	if a.k != b.k {
		return false
	}
	switch a.k {
	case kNull:
		return true
	case kBool:
		return a.b == b.b
	case kString:
		return a.s == b.s
	case kNumber:
		if a.s == b.s {
			return true
		}
		x, ok1 := new(big.Rat).SetString(a.s)
		y, ok2 := new(big.Rat).SetString(b.s)
		return ok1 && ok2 && x.Cmp(y) == 0
	case kArray:
		if len(a.arr) != len(b.arr) {
			return false
		}
		for i := range a.arr {
			if !jsonEqual(a.arr[i], b.arr[i]) {
				return false
			}
		}
		return true
	}
	if a.obj.len() != b.obj.len() {
		return false
	}
	for _, m := range a.obj.members {
		bv, ok := b.obj.get(m.key)
		if !ok || !jsonEqual(m.val, bv) {
			return false
		}
	}
	return true
}
