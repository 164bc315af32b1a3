package render

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// libraryVerdict validates options with jsonschema/v6 (the oracle): the
// schema compiled the usual way, meta-validation included.
func libraryVerdict(t *testing.T, what string, schema *jsonschema.Schema, options value) verdict {
	t.Helper()
	err := schema.Validate(toAny(options))
	if err == nil {
		return valid
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("%s: not a validation error: %v", what, err)
	}
	return invalid
}

// quickStats counts how the quick check answered.
type quickStats struct{ valid, invalid, unknown, ineligible int }

func (s quickStats) String() string {
	return fmt.Sprintf("%d valid, %d invalid, %d unknown, %d without a quick check", s.valid, s.invalid, s.unknown, s.ineligible)
}

// compareQuick checks the quick verdict on options (built from doc, a
// config.json with its annotations, as Render builds it) against the
// library's (schema: doc compiled without annotations, as Render compiles
// it; nil when it does not compile).
func compareQuick(t *testing.T, what string, doc value, schema *jsonschema.Schema, options value, st *quickStats) {
	t.Helper()
	stripped := stripAnnotations(doc, true)
	if !metaValid(doc) {
		st.ineligible++
		return
	}
	q := buildQuick(doc)
	if q == nil {
		st.ineligible++
		return
	}
	if schema == nil {
		t.Fatalf("%s: the schema has a quick check but does not compile", what)
	}
	got := q.check(options)
	switch got {
	case unknown:
		st.unknown++
		return
	case valid:
		st.valid++
	case invalid:
		st.invalid++
	}
	if want := libraryVerdict(t, what, schema, options); got != want {
		t.Fatalf("%s: quick check says %v, jsonschema/v6 %v\nschema:  %s\noptions: %s", what, got == valid, want == valid,
			appendCompact(nil, stripped, false), appendCompact(nil, options, false))
	}
}

// TestSharedQuickCheckAgrees holds the quick check against jsonschema/v6 on
// every revision of the real Universe: its default options, options
// constructed from its schema to hit the value-preparation rules, and
// options broken in every way (wrong types, extremes, extra members,
// nulls). Every answer other than unknown must be the library's.
func TestSharedQuickCheckAgrees(t *testing.T) {
	repo := loadSharedUniverse(t)
	var st quickStats
	for i, p := range repo.Packages() {
		if p.Config == nil {
			continue
		}
		cfg := configFor(p.Config)
		if cfg.parseErr != nil {
			continue
		}
		parsed, _ := parseJSON(p.Config)
		stripped := stripAnnotations(parsed, true)
		d, _ := toAny(stripped).(map[string]any)
		delete(d, "$schema")
		schema, err := compileDoc(d, schemaURL)
		if err != nil {
			schema = nil
		}
		var doc map[string]any
		dec := json.NewDecoder(bytes.NewReader(p.Config))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			t.Fatal(err)
		}
		var ost optionStats
		constructed, _ := json.Marshal(constructOptions(doc, &ost))
		user, err := parseJSON(constructed)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewSource(int64(i)))
		variants := append(optionVariants(cfg.defaults, r), deepMerge(cfg.defaults, user))
		for j, opts := range variants {
			compareQuick(t, fmt.Sprintf("%s variant %d", p, j), parsed, schema, opts, &st)
		}
	}
	t.Logf("quick check on the real Universe: %s", st)
	if st.valid < 1000 || st.invalid < 1000 || st.ineligible > st.valid/10 {
		t.Errorf("too little agreement shown: %s", st)
	}
}

// TestQuickCheckRandomSchemas holds the quick check against jsonschema/v6
// on random schemas and options.
func TestQuickCheckRandomSchemas(t *testing.T) {
	n := 4000 // schemas with a quick check
	if testing.Short() {
		n = 400
	}
	r := rand.New(rand.NewSource(11))
	var st quickStats
	for i, eligible := 0, 0; eligible < n; i++ {
		schema := randomSchema(r, 0)
		if !metaValid(schema) || buildQuick(schema) == nil {
			continue
		}
		eligible++
		d, _ := toAny(stripAnnotations(schema, true)).(map[string]any)
		compiled, err := compileDoc(d, schemaURL)
		if err != nil {
			compiled = nil
		}
		base := objectValue([]member{{key: "a", val: stringValue("x")}, {key: "b", val: value{k: kNumber, s: "3"}},
			{key: "c", val: value{k: kArray, arr: []value{stringValue("a"), value{k: kNumber, s: "1.0"}}}}})
		for _, opts := range append(optionVariants(base, r), randomValue(r, 0), randomValue(r, 0)) {
			compareQuick(t, fmt.Sprintf("random schema %d", i), schema, compiled, opts, &st)
		}
	}
	t.Logf("quick check on %d random schemas: %s", n, st)
	if st.valid < n || st.invalid < n {
		t.Errorf("too little agreement shown: %s", st)
	}
}

// randomValue builds a random JSON value.
func randomValue(r *rand.Rand, depth int) value {
	switch n := r.Intn(9); {
	case n == 0 || depth > 2:
		return []value{stringValue("a"), stringValue("x"), stringValue(""), {k: kNumber, s: "1"}, {k: kNumber, s: "1.0"},
			{k: kNumber, s: "-2.5"}, {k: kNumber, s: "1e2"}, {k: kBool, b: true}, nullValue}[r.Intn(9)]
	case n < 4:
		arr := make([]value, r.Intn(4))
		for i := range arr {
			arr[i] = randomValue(r, depth+1)
		}
		return value{k: kArray, arr: arr}
	default:
		var ms []member
		for i, k := range []string{"a", "b", "c", "x-y"} {
			if r.Intn(2) == 0 || i == 0 {
				ms = append(ms, member{key: k, val: randomValue(r, depth+1)})
			}
		}
		return objectValue(ms)
	}
}

// FuzzQuickCheck: on any schema and options, a quick answer other than
// unknown is jsonschema/v6's.
func FuzzQuickCheck(f *testing.F) {
	f.Add(`{"type": "object", "properties": {"a": {"type": "integer", "minimum": 1, "maximum": 5}}, "required": ["a"]}`, `{"a": 2.0}`)
	f.Add(`{"items": {"enum": ["a", 1]}, "minItems": 1, "uniqueItems": true}`, `["a", 1.0]`)
	f.Add(`{"anyOf": [{"type": "string", "pattern": "^x"}, {"type": "null"}], "not": {"maxLength": 1}}`, `"xyz"`)
	f.Add(`{"dependencies": {"a": ["b"], "c": {"oneOf": [{"required": ["d"]}, {"required": ["e"]}]}}, "additionalProperties": {"type": "boolean"}, "patternProperties": {"^x-": {}}}`, `{"a": true, "b": false, "c": true, "d": 1, "x-1": 2}`)
	f.Add(`{"multipleOf": 0.5, "exclusiveMaximum": true, "maximum": 10, "items": [{}, {"type": "string"}], "additionalItems": false}`, `[1, "a", 3]`)
	f.Fuzz(func(t *testing.T, schemaText, optionsText string) {
		schema, err := parseJSON([]byte(schemaText))
		if err != nil || schema.k != kObject {
			return
		}
		options, err := parseJSON([]byte(optionsText))
		if err != nil {
			return
		}
		stripped := stripAnnotations(schema, true)
		d, _ := toAny(stripped).(map[string]any)
		delete(d, "$schema")
		compiled, err := compileDoc(d, schemaURL)
		if err != nil {
			compiled = nil
		}
		var st quickStats
		compareQuick(t, "fuzz", schema, compiled, options, &st)
	})
}

// TestSharedRenderVerdictsAreTheLibrarys renders every revision of the real
// Universe with its defaults, options constructed from its schema and
// broken options, and holds Render's verdict and problems to what
// jsonschema/v6 alone says of the merged options (the schema compiled the
// usual way, meta-validation included).
func TestSharedRenderVerdictsAreTheLibrarys(t *testing.T) {
	repo := loadSharedUniverse(t)
	resetCaches()
	var compared, refused int
	for i, p := range repo.Packages() {
		if p.Config == nil || !p.HasTemplate() {
			continue
		}
		parsed, err := parseJSON(p.Config)
		if err != nil {
			continue
		}
		stripped := stripAnnotations(parsed, true)
		d, _ := toAny(stripped).(map[string]any)
		delete(d, "$schema")
		schema, err := compileDoc(d, schemaURL)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		var doc map[string]any
		dec := json.NewDecoder(bytes.NewReader(p.Config))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			t.Fatal(err)
		}
		var ost optionStats
		constructed, _ := json.Marshal(constructOptions(doc, &ost))
		defaults := extractDefaults(parsed)
		r := rand.New(rand.NewSource(int64(i)))
		inputs := [][]byte{nil, constructed}
		for _, v := range optionVariants(defaults, r)[2:] {
			inputs = append(inputs, appendCompact(nil, v, false))
		}
		for _, in := range inputs {
			user := emptyObject
			if in != nil {
				if user, err = parseJSON(in); err != nil {
					t.Fatal(err)
				}
			}
			merged := deepMerge(defaults, user)
			wantErr := schema.Validate(toAny(merged))
			_, err := Render(p, in, Params{})
			var re *Error
			gotRefused := errors.As(err, &re) && re.Kind == KindOptions
			if merged.obj.len() == 0 {
				wantErr = nil // Cosmos does not validate empty options
			}
			if gotRefused != (wantErr != nil) {
				t.Fatalf("%s options %s: Render %v, jsonschema/v6 %v", p, in, err, wantErr)
			}
			compared++
			if wantErr == nil {
				continue
			}
			refused++
			got, want := problemSet(re.Problems), problemSet(schemaProblems(wantErr))
			if got != want {
				t.Fatalf("%s options %s: problems\n%s\njsonschema/v6:\n%s", p, in, got, want)
			}
		}
	}
	t.Logf("%d renders compared with jsonschema/v6, %d of them refused with the same problems", compared, refused)
	if refused < 1000 || compared-refused < 1000 {
		t.Errorf("too few of each verdict: %d compared, %d refused", compared, refused)
	}
}

// problemSet is problems as a sorted multiset of (pointer, rule, message).
func problemSet(ps []Problem) string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = fmt.Sprintf("%q %q %q", p.Pointer, p.Rule, p.Message)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
