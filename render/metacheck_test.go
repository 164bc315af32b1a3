package render

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	jskind "github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// compileBothWays compiles a schema as Render does (without annotations)
// the usual way (meta-validation included, under schemaURL) and, when
// metaValid accepts it, under fastSchemaURL.
func compileBothWays(schema value) (slow, fast *jsonschema.Schema, slowErr, fastErr error, accepted bool) {
	stripped := stripAnnotations(schema, true)
	doc := func() map[string]any {
		d, _ := toAny(stripped).(map[string]any)
		delete(d, "$schema")
		return d
	}
	slow, slowErr = compileDoc(doc(), schemaURL)
	if accepted = metaValid(schema); accepted != metaValid(stripped) {
		panic("metaValid differs with and without annotations")
	}
	if accepted {
		fast, fastErr = compileDoc(doc(), fastSchemaURL)
	}
	return
}

// checkMetaSound fails when metaValid accepts a schema the meta-schema
// refuses.
func checkMetaSound(t *testing.T, what string, stripped value, slowErr error, accepted bool) {
	t.Helper()
	var sve *jsonschema.SchemaValidationError
	if accepted && errors.As(slowErr, &sve) {
		t.Fatalf("%s: metaValid accepted a schema that fails meta-validation: %v\n%s", what, slowErr, appendCompact(nil, stripped, false))
	}
}

// errText is everything a validation error says: every node of the error
// tree with its schema location, instance location and message (siblings
// sorted: jsonschema/v6 visits object members in map order), and the
// problems render derives.
func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	var ve *jsonschema.ValidationError
	if errors.As(err, &ve) {
		// Problems at one pointer come in the library's map order.
		var problems []string
		for _, p := range schemaProblems(err) {
			problems = append(problems, p.String())
		}
		sort.Strings(problems)
		return fmt.Sprintf("%s\n%s", canonicalTree(ve), strings.Join(problems, "\n"))
	}
	return err.Error()
}

func canonicalTree(e *jsonschema.ValidationError) string {
	k := e.ErrorKind
	if ap, ok := k.(*jskind.AdditionalProperties); ok {
		// Listed in map order.
		sorted := &jskind.AdditionalProperties{Properties: append([]string(nil), ap.Properties...)}
		sort.Strings(sorted.Properties)
		k = sorted
	}
	node := fmt.Sprintf("%s | %q | %T %+v | %s", e.SchemaURL, e.InstanceLocation, k, k, k.LocalizedString(printer))
	var kids []string
	for _, c := range e.Causes {
		kids = append(kids, strings.ReplaceAll(canonicalTree(c), "\n", "\n  "))
	}
	sort.Strings(kids)
	for _, k := range kids {
		node += "\n  " + k
	}
	return node
}

// TestSharedFastCompileAgrees compiles every distinct config.json of the
// real Universe both ways: metaValid must never accept a schema that fails
// meta-validation, the fast compile must succeed whenever the usual one does
// (and vice versa), and both schemas must give the same verdict and exactly
// the same errors (locations, kinds, messages) on the defaults and on many
// constructed options.
func TestSharedFastCompileAgrees(t *testing.T) {
	repo := loadSharedUniverse(t)
	seen := map[[32]byte]bool{}
	var total, accepted, compared int
	for _, p := range repo.Packages() {
		if p.Config == nil {
			continue
		}
		cfg := configFor(p.Config)
		if cfg.parseErr != nil {
			continue
		}
		parsed, _ := parseJSON(p.Config)
		stripped := stripAnnotations(parsed, true)
		key := sha256.Sum256(appendCompact(nil, stripped, false))
		if seen[key] {
			continue
		}
		seen[key] = true
		total++
		slow, fast, slowErr, fastErr, ok := compileBothWays(stripped)
		checkMetaSound(t, p.String(), stripped, slowErr, ok)
		if !ok {
			continue
		}
		accepted++
		if (slowErr == nil) != (fastErr == nil) {
			t.Errorf("%s: usual compile %v, fast compile %v", p, slowErr, fastErr)
			continue
		}
		if slowErr != nil {
			continue
		}
		r := rand.New(rand.NewSource(int64(total)))
		for i, opts := range optionVariants(cfg.defaults, r) {
			inst := toAny(opts)
			a := errText(slow.Validate(inst))
			b := errText(validateOptions(fast, inst))
			if a != b {
				t.Fatalf("%s variant %d: errors differ:\nusual: %s\nfast:  %s", p, i, a, b)
			}
			compared++
		}
	}
	t.Logf("%d distinct schemas, %d proven meta-valid (fast compile), %d validations compared", total, accepted, compared)
	if accepted < total*8/10 {
		t.Errorf("only %d of %d schemas take the fast compile", accepted, total)
	}
}

// optionVariants builds options that break every kind of rule from a
// schema's defaults: wrong types, extremes, extra members, nulls.
func optionVariants(defaults value, r *rand.Rand) []value {
	leaves := []value{
		stringValue(""), stringValue("x"), stringValue(strings.Repeat("Zz9-", 80)), stringValue("not valid! <&>\" é"),
		{k: kNumber, s: "-1000000000"}, {k: kNumber, s: "1e15"}, {k: kNumber, s: "2.5"}, {k: kNumber, s: "0"}, {k: kNumber, s: "65536"},
		{k: kBool, b: true}, {k: kBool}, nullValue, {k: kArray, arr: []value{stringValue("a"), {k: kNumber, s: "1"}, stringValue("a")}},
		{k: kArray, arr: []value{}}, emptyObject,
	}
	var mutate func(v value, p float64) value
	mutate = func(v value, p float64) value {
		if v.k == kObject {
			out := make([]member, 0, len(v.obj.members)+1)
			for _, m := range v.obj.members {
				out = append(out, member{key: m.key, val: mutate(m.val, p)})
			}
			if r.Float64() < p/2 {
				out = append(out, member{key: "zz_extra", val: stringValue("x")})
			}
			return objectValue(out)
		}
		if r.Float64() < p {
			return leaves[r.Intn(len(leaves))]
		}
		return v
	}
	out := []value{defaults, emptyObject}
	for _, p := range []float64{0.1, 0.3, 0.6, 1} {
		out = append(out, mutate(defaults, p), mutate(defaults, p))
	}
	return out
}

// TestMetaValidRefuses checks schemas the meta-schema refuses, and the
// constructs metaValid leaves to the usual compile: they compile with the
// usual errors.
func TestMetaValidRefuses(t *testing.T) {
	cases := []struct {
		schema string
		valid  bool // what the meta-schema says
	}{
		{`{"type": "object", "properties": {"a": {"type": "string", "minLength": 1}}}`, true},
		{`{"type": "strin"}`, false},
		{`{"type": []}`, false},
		{`{"type": ["string", "string"]}`, false},
		{`{"properties": {"a": 1}}`, false},
		{`{"properties": {"a": true}}`, false},
		{`{"required": []}`, false},
		{`{"required": ["a", "a"]}`, false},
		{`{"enum": []}`, false},
		{`{"enum": [1, 1.0]}`, false},
		{`{"enum": [1, 2, "1", true, null]}`, true},
		{`{"enum": [[1], [1]]}`, false},
		{`{"minLength": -1}`, false},
		{`{"minLength": 1.5}`, false},
		{`{"minLength": 1.0}`, true},
		{`{"maxItems": "3"}`, false},
		{`{"multipleOf": 0}`, false},
		{`{"multipleOf": 0.01}`, true},
		{`{"exclusiveMinimum": true}`, false},
		{`{"exclusiveMinimum": true, "minimum": 0}`, true},
		{`{"exclusiveMaximum": 1, "maximum": 0}`, false},
		{`{"pattern": "("}`, false},
		{`{"pattern": "^[a-z]+$"}`, true},
		{`{"patternProperties": {"(": {}}}`, true},
		{`{"additionalProperties": "no"}`, false},
		{`{"items": []}`, false},
		{`{"items": [{}, {"type": "string"}], "additionalItems": false}`, true},
		{`{"dependencies": {"a": "b"}}`, false},
		{`{"dependencies": {"a": ["b"], "c": {"required": ["d"]}}}`, true},
		{`{"allOf": []}`, false},
		{`{"not": []}`, false},
		{`{"format": 1}`, false},
		{`{"id": "#x", "type": "object"}`, true},
		{`{"id": "http://example.com/x", "type": "object", "properties": {"a": {"id": "http://example.com/y#z", "type": "string"}}}`, true},
		{`{"properties": {"a": {"id": "http://example.com/y", "type": "string"}, "b": {"id": "http://example.com/y", "type": "integer"}}}`, true},
		{`{"properties": {"a": {"id": 12}}}`, false},
		{`{"properties": {"a": {"id": "http://[::1"}}}`, true},
		{`{"$ref": "#/definitions/a", "definitions": {"a": {"type": "string"}}}`, true},
		{`{"properties": {"a": {"$schema": "http://json-schema.org/draft-04/schema#"}}}`, true},
		{`{"x-unknown": {"type": 12}, "propertyOrder": [1, 2]}`, true},
	}
	for _, c := range cases {
		parsed, err := parseJSON([]byte(c.schema))
		if err != nil {
			t.Fatal(err)
		}
		stripped := stripAnnotations(parsed, true)
		_, _, slowErr, fastErr, accepted := compileBothWays(stripped)
		checkMetaSound(t, c.schema, stripped, slowErr, accepted)
		var sve *jsonschema.SchemaValidationError
		if got := !errors.As(slowErr, &sve); got != c.valid {
			t.Errorf("%s: meta-valid %v, want %v (%v)", c.schema, got, c.valid, slowErr)
		}
		if accepted && (slowErr == nil) != (fastErr == nil) {
			t.Errorf("%s: usual compile %v, fast %v", c.schema, slowErr, fastErr)
		}
		// Through the cache and Render's path: the usual error text.
		e := &configEntry{data: []byte(c.schema), parsed: parsed}
		if _, err := e.compile(); (err == nil) != (slowErr == nil) || (err != nil && err.Error() != slowErr.Error()) {
			t.Errorf("%s: compile() = %v, want %v", c.schema, err, slowErr)
		}
	}
}

// FuzzMetaValid mutates small schemas: whatever metaValid accepts must pass
// meta-validation, and compile the same way under both URLs.
func FuzzMetaValid(f *testing.F) {
	for _, s := range []string{`{"type": "object", "properties": {"a": {"type": "integer", "minimum": 1, "maximum": 5}}, "required": ["a"]}`,
		`{"items": {"enum": ["a", "b"]}, "minItems": 1, "uniqueItems": true}`, `{"anyOf": [{"type": "string", "pattern": "^x"}, {"type": "null"}]}`,
		`{"dependencies": {"a": ["b"]}, "additionalProperties": {"type": "boolean"}, "patternProperties": {"^x-": {}}}`,
		`{"multipleOf": 0.5, "exclusiveMaximum": true, "maximum": 10, "not": {"enum": [3]}}`} {
		f.Add(s, int64(1))
	}
	f.Fuzz(func(t *testing.T, s string, seed int64) {
		parsed, err := parseJSON([]byte(s))
		if err != nil || parsed.k != kObject {
			return
		}
		stripped := stripAnnotations(parsed, true)
		slow, fast, slowErr, fastErr, accepted := compileBothWays(stripped)
		checkMetaSound(t, s, stripped, slowErr, accepted)
		if !accepted {
			return
		}
		if (slowErr == nil) != (fastErr == nil) {
			t.Fatalf("%s: usual compile %v, fast compile %v", s, slowErr, fastErr)
		}
		if slowErr != nil {
			return
		}
		r := rand.New(rand.NewSource(seed))
		for _, opts := range optionVariants(objectValue([]member{{key: "a", val: stringValue("x")}, {key: "b", val: objectValue([]member{{key: "c", val: value{k: kNumber, s: "3"}}})}}), r) {
			inst := toAny(opts)
			if a, b := errText(slow.Validate(inst)), errText(validateOptions(fast, inst)); a != b {
				t.Fatalf("%s: errors differ:\nusual: %s\nfast:  %s", s, a, b)
			}
		}
	})
}

// randomSchema builds a random draft-04 schema: every keyword, mostly with
// values the meta-schema accepts, sometimes with values wrong for it in many
// ways.
func randomSchema(r *rand.Rand, depth int) value {
	num := func() value {
		return value{k: kNumber, s: []string{"0", "1", "-1", "2.5", "1.0", "1e2", "0.0", "3", "100", "-0", "0.001"}[r.Intn(11)]}
	}
	natural := func() value { return value{k: kNumber, s: []string{"0", "1", "2", "5", "1.0", "10"}[r.Intn(6)]} }
	str := func() value {
		return stringValue([]string{"a", "b", "", "string", "integer", "^x", "(", "[a-z]+", "http://e.com/i", "#f", "object", "x y"}[r.Intn(12)])
	}
	typeName := func() value {
		return stringValue([]string{"array", "boolean", "integer", "null", "number", "object", "string"}[r.Intn(7)])
	}
	anyScalar := func() value {
		switch r.Intn(5) {
		case 0:
			return num()
		case 1:
			return str()
		case 2:
			return value{k: kBool, b: r.Intn(2) == 0}
		case 3:
			return nullValue
		}
		return value{k: kArray, arr: []value{num(), str()}}
	}
	right := func() bool { return r.Intn(14) != 0 }
	sub := func() value {
		if depth > 2 || !right() {
			if right() {
				return emptyObject
			}
			return anyScalar()
		}
		return randomSchema(r, depth+1)
	}
	list := func(f func() value, min int) value {
		n := min + r.Intn(3)
		arr := make([]value, n)
		for i := range arr {
			arr[i] = f()
		}
		return value{k: kArray, arr: arr}
	}
	members := func(f func() value) value {
		var ms []member
		for i := 0; i < r.Intn(4); i++ {
			ms = append(ms, member{key: []string{"a", "b", "c", "^x-"}[i], val: f()})
		}
		return objectValue(ms)
	}
	keywords := []string{"type", "enum", "properties", "required", "additionalProperties", "items", "additionalItems",
		"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "pattern",
		"minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties", "patternProperties", "dependencies",
		"definitions", "allOf", "anyOf", "oneOf", "not", "format", "id", "x-other", "title"}
	var ms []member
	for _, kw := range keywords {
		if r.Intn(6) != 0 {
			continue
		}
		var v value
		switch {
		case !right():
			v = anyScalar()
			if r.Intn(2) == 0 {
				v = list(anyScalar, 0)
			}
		case kw == "type":
			v = typeName()
			if r.Intn(3) == 0 {
				v = list(typeName, 1)
			}
		case kw == "enum":
			v = list(anyScalar, 1)
		case kw == "required":
			v = list(str, 1)
		case kw == "properties" || kw == "patternProperties" || kw == "definitions":
			v = members(sub)
		case kw == "dependencies":
			v = members(func() value {
				if r.Intn(2) == 0 {
					return list(str, 1)
				}
				return sub()
			})
		case kw == "items" || kw == "additionalItems" || kw == "additionalProperties" || kw == "not":
			switch r.Intn(3) {
			case 0:
				v = sub()
			case 1:
				v = list(sub, 1)
			default:
				v = value{k: kBool, b: r.Intn(2) == 0}
			}
		case kw == "allOf" || kw == "anyOf" || kw == "oneOf":
			v = list(sub, 1)
		case kw == "exclusiveMinimum" || kw == "exclusiveMaximum" || kw == "uniqueItems":
			v = value{k: kBool, b: r.Intn(2) == 0}
		case kw == "minLength" || kw == "maxLength" || kw == "minItems" || kw == "maxItems" || kw == "minProperties" || kw == "maxProperties":
			v = natural()
		case kw == "pattern" || kw == "format" || kw == "id" || kw == "title":
			v = str()
		default:
			v = num()
		}
		ms = append(ms, member{key: kw, val: v})
	}
	return objectValue(ms)
}

// TestMetaValidRandomSchemas: on random schemas, whatever metaValid accepts
// passes meta-validation, compiles the same under both URLs and validates
// options with exactly the same errors.
func TestMetaValidRandomSchemas(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 1000
	}
	r := rand.New(rand.NewSource(7))
	accepted, compiled := 0, 0
	for i := 0; i < n; i++ {
		schema := randomSchema(r, 0)
		slow, fast, slowErr, fastErr, ok := compileBothWays(schema)
		text := string(appendCompact(nil, schema, false))
		checkMetaSound(t, text, schema, slowErr, ok)
		if !ok {
			continue
		}
		accepted++
		if (slowErr == nil) != (fastErr == nil) {
			t.Fatalf("%s: usual compile %v, fast compile %v", text, slowErr, fastErr)
		}
		if slowErr != nil {
			continue
		}
		compiled++
		base := objectValue([]member{{key: "a", val: stringValue("x")}, {key: "b", val: value{k: kNumber, s: "3"}}, {key: "c", val: value{k: kArray, arr: []value{stringValue("a")}}}})
		for _, opts := range optionVariants(base, r) {
			inst := toAny(opts)
			if a, b := errText(slow.Validate(inst)), errText(validateOptions(fast, inst)); a != b {
				t.Fatalf("%s: errors differ:\nusual: %s\nfast:  %s", text, a, b)
			}
		}
	}
	t.Logf("%d random schemas: %d accepted by metaValid, %d of them compiled and compared", n, accepted, compiled)
	if accepted < n/20 || compiled < n/40 {
		t.Errorf("too few accepted (%d) or compiled (%d) to mean anything", accepted, compiled)
	}
}
