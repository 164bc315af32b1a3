package render

import (
	"math/big"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Compiling a schema with jsonschema/v6 first validates the whole document
// against the draft-04 meta-schema; on the Universe's large config.json
// files that is a third of the compile time. metaValid proves, for the
// common case, that this validation would pass, so that it can be skipped:
// it accepts a schema only when every draft-04 keyword in every schema
// position satisfies the meta-schema (the one bundled with jsonschema/v6,
// formats included), and refuses (the caller then compiles the usual way,
// meta-validation included) anything it does not check exactly: "id",
// "$ref", a nested "$schema", a relative "id", enums or required lists it cannot prove
// unique, numbers it cannot prove non-negative integers, and so on. A
// refusal never changes a result; it only costs the usual compile time.

// metaValid reports whether schema (a config.json, compiled without its
// annotations and top-level "$schema") certainly passes draft-04
// meta-validation, and holds no "$ref" and no relative "id"
// (whose resolution and errors involve the document's URL).
func metaValid(schema value) bool {
	return metaSchema(schema, true)
}

// metaSchema checks one schema position.
func metaSchema(v value, root bool) bool {
	if v.k != kObject {
		return false // draft-04 schemas are objects
	}
	var hasMax, hasMin, hasExMax, hasExMin bool
	for _, m := range v.obj.members {
		val := m.val
		switch m.key {
		case "$schema":
			if !root {
				return false
			}
		case "id":
			if val.k != kString || !absoluteID(val.s) {
				return false
			}
		case "$ref":
			return false
		case "format":
			if val.k != kString {
				return false
			}
		case "title", "description", "default", "examples":
			// Annotations: dropped before compiling (stripAnnotations), so
			// never meta-validated.
		case "multipleOf":
			if !positiveNumber(val) {
				return false
			}
		case "maximum":
			if val.k != kNumber {
				return false
			}
			hasMax = true
		case "minimum":
			if val.k != kNumber {
				return false
			}
			hasMin = true
		case "exclusiveMaximum":
			if val.k != kBool {
				return false
			}
			hasExMax = true
		case "exclusiveMinimum":
			if val.k != kBool {
				return false
			}
			hasExMin = true
		case "maxLength", "minLength", "maxItems", "minItems", "maxProperties", "minProperties":
			if !plainNonNegativeInteger(val) {
				return false
			}
		case "pattern":
			if val.k != kString || !compilableRegexp(val.s) {
				return false
			}
		case "additionalItems", "additionalProperties":
			if val.k != kBool && !metaSchema(val, false) {
				return false
			}
		case "items":
			if val.k == kArray {
				if !schemaArray(val) {
					return false
				}
			} else if !metaSchema(val, false) {
				return false
			}
		case "uniqueItems":
			if val.k != kBool {
				return false
			}
		case "required":
			if !uniqueStrings(val) {
				return false
			}
		case "definitions", "properties", "patternProperties":
			if val.k != kObject {
				return false
			}
			for _, sm := range val.obj.members {
				if !metaSchema(sm.val, false) {
					return false
				}
			}
		case "dependencies":
			if val.k != kObject {
				return false
			}
			for _, sm := range val.obj.members {
				if sm.val.k == kArray {
					if !uniqueStrings(sm.val) {
						return false
					}
				} else if !metaSchema(sm.val, false) {
					return false
				}
			}
		case "enum":
			if !uniqueScalars(val) {
				return false
			}
		case "type":
			if !simpleTypes(val) {
				return false
			}
		case "allOf", "anyOf", "oneOf":
			if !schemaArray(val) {
				return false
			}
		case "not":
			if !metaSchema(val, false) {
				return false
			}
		}
		// Any other member is not a draft-04 keyword: the meta-schema
		// allows it with any value, and nothing looks inside it.
	}
	// The meta-schema's dependencies.
	return (!hasExMax || hasMax) && (!hasExMin || hasMin)
}

// absoluteID: an "id" that is an absolute URL (the meta-schema asks for a
// string; its "uriref" format is not one jsonschema/v6 checks). An absolute
// id does not depend on the URL the document is compiled under, so it
// resolves the same under both; relative ones, and ids under
// json-schema.org, are left to the usual compile.
func absoluteID(id string) bool {
	if strings.Contains(id, "json-schema.org") {
		return false
	}
	u, err := url.Parse(id)
	return err == nil && u.IsAbs()
}

// schemaArray: a non-empty array of schemas.
func schemaArray(v value) bool {
	if v.k != kArray || len(v.arr) == 0 {
		return false
	}
	for _, it := range v.arr {
		if !metaSchema(it, false) {
			return false
		}
	}
	return true
}

// uniqueStrings: a non-empty array of distinct strings.
func uniqueStrings(v value) bool {
	if v.k != kArray || len(v.arr) == 0 {
		return false
	}
	seen := make(map[string]bool, len(v.arr))
	for _, it := range v.arr {
		if it.k != kString || seen[it.s] {
			return false
		}
		seen[it.s] = true
	}
	return true
}

var simpleTypeNames = map[string]bool{"array": true, "boolean": true, "integer": true, "null": true, "number": true, "object": true, "string": true}

// simpleTypes: a type name, or a non-empty array of distinct type names.
func simpleTypes(v value) bool {
	if v.k == kString {
		return simpleTypeNames[v.s]
	}
	if !uniqueStrings(v) {
		return false
	}
	for _, it := range v.arr {
		if !simpleTypeNames[it.s] {
			return false
		}
	}
	return true
}

// uniqueScalars: a non-empty array of strings, numbers, booleans and nulls
// that are certainly distinct as JSON values (numbers compare by value, so
// two numbers with the same value, like 1 and 1.0, make it refuse).
func uniqueScalars(v value) bool {
	if v.k != kArray || len(v.arr) == 0 {
		return false
	}
	strs := make(map[string]bool, len(v.arr))
	var nums []*big.Rat
	seenTrue, seenFalse, seenNull := false, false, false
	for _, it := range v.arr {
		switch it.k {
		case kString:
			if strs[it.s] {
				return false
			}
			strs[it.s] = true
		case kBool:
			if (it.b && seenTrue) || (!it.b && seenFalse) {
				return false
			}
			seenTrue, seenFalse = seenTrue || it.b, seenFalse || !it.b
		case kNull:
			if seenNull {
				return false
			}
			seenNull = true
		case kNumber:
			r, ok := new(big.Rat).SetString(it.s)
			if !ok {
				return false
			}
			for _, n := range nums {
				if n.Cmp(r) == 0 {
					return false
				}
			}
			nums = append(nums, r)
		default:
			return false // arrays and objects: not proven distinct here
		}
	}
	return true
}

// plainNonNegativeInteger: a number written as digits only (an integer
// under every reading of "integer").
func plainNonNegativeInteger(v value) bool {
	if v.k != kNumber || v.s == "" || len(v.s) > 18 {
		return false
	}
	for i := 0; i < len(v.s); i++ {
		if v.s[i] < '0' || v.s[i] > '9' {
			return false
		}
	}
	return true
}

// positiveNumber: a number certainly greater than zero.
func positiveNumber(v value) bool {
	if v.k != kNumber {
		return false
	}
	r, ok := new(big.Rat).SetString(v.s)
	return ok && r.Sign() > 0
}

// regexps caches compiled patterns: the meta-schema's "format": "regex"
// check and the compiler's "pattern" and "patternProperties" compile the
// same patterns over and over (many configs share them). A *regexp.Regexp
// is safe for concurrent use. Failures are not cached, and return
// regexp.Compile's own error, as the library's default engine does.
var (
	regexps     sync.Map // string -> *regexp.Regexp
	regexpCount atomic.Int64
)

// cachedRegexp is a jsonschema.RegexpEngine: regexp.Compile, once per
// pattern.
func cachedRegexp(s string) (jsonschema.Regexp, error) {
	if re, ok := regexps.Load(s); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, err
	}
	if regexpCount.Add(1) > maxCacheEntries {
		regexps.Clear()
		regexpCount.Store(0)
	}
	actual, _ := regexps.LoadOrStore(s, re)
	return actual.(*regexp.Regexp), nil
}

// compilableRegexp reports whether the pattern compiles (the meta-schema's
// "format": "regex", with the engine the compiler uses).
func compilableRegexp(s string) bool {
	_, err := cachedRegexp(s)
	return err == nil
}
