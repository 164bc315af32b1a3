package render

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/santhosh-tekuri/jsonschema/v6"
	jskind "github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// configEntry is what render derives from one config.json, cached by the
// file's content.
type configEntry struct {
	parsed   value // the schema document (released once prepared)
	parseErr error
	defaults value // defaults extracted from it (an object)

	data        []byte // config.json (the package's bytes, never modified; compiling parses it again)
	prepareOnce sync.Once
	quick       *qschema // the quick check, nil when the schema has none

	compileOnce sync.Once
	schema      *jsonschema.Schema
	compileErr  error
}

// templateEntry is a compiled marathon.json.mustache, cached by content.
type templateEntry struct {
	tmpl *template
	err  error
}

// contentCache maps a sha256 of file content to what was derived from it.
// It is cleared when it grows past maxCacheEntries (a controller that
// renders many Universe versions over weeks must not grow without bound).
// Each value is built once: a goroutine asking for a value being built
// waits for it rather than building it again.
type contentCache struct {
	m sync.Map // [32]byte -> *cacheSlot
	n atomic.Int64
}

type cacheSlot struct {
	once sync.Once
	v    any
}

const maxCacheEntries = 8192

func (c *contentCache) get(data []byte, build func() any) any {
	key := sha256.Sum256(data)
	s, ok := c.m.Load(key)
	if !ok {
		var loaded bool
		s, loaded = c.m.LoadOrStore(key, &cacheSlot{})
		if !loaded && c.n.Add(1) > maxCacheEntries {
			c.m.Range(func(k, _ any) bool { c.m.Delete(k); return true })
			c.n.Store(0)
		}
	}
	slot := s.(*cacheSlot)
	slot.once.Do(func() { slot.v = build() })
	return slot.v
}

var (
	configCache   contentCache
	templateCache contentCache
)

// configFor returns the cached derivation of a config.json (nil data: nil).
func configFor(data []byte) *configEntry {
	if data == nil {
		return nil
	}
	return configCache.get(data, func() any {
		e := &configEntry{data: data}
		e.parsed, e.parseErr = parseJSON(data)
		if e.parseErr == nil && e.parsed.k != kObject {
			e.parseErr = fmt.Errorf("config.json must be a JSON object, got %s", e.parsed.k)
		}
		if e.parseErr == nil {
			e.defaults = extractDefaults(e.parsed)
		} else {
			e.defaults = emptyObject
		}
		return e
	}).(*configEntry)
}

// templateFor returns the cached compiled template.
func templateFor(data []byte) *templateEntry {
	return templateCache.get(data, func() any {
		t, err := parseTemplate(string(data))
		return &templateEntry{tmpl: t, err: err}
	}).(*templateEntry)
}

// extractDefaults builds the default options from a config.json schema as
// Cosmos does: for each member of the top-level "properties", its "default"
// taken as is (even an object, even null); otherwise, when it has
// "properties", the defaults found there, kept only when not empty. Nothing
// else ($ref, definitions, items, allOf, oneOf) is looked at.
func extractDefaults(schema value) value {
	props, _ := schema.obj.get("properties")
	return defaultsOf(props)
}

func defaultsOf(props value) value {
	if props.k != kObject {
		return emptyObject
	}
	var out []member
	for _, m := range props.obj.members {
		if m.val.k != kObject {
			continue
		}
		if d, ok := m.val.obj.get("default"); ok {
			out = append(out, member{key: m.key, val: d})
			continue
		}
		if sub, ok := m.val.obj.get("properties"); ok {
			if d := defaultsOf(sub); d.obj.len() > 0 {
				out = append(out, member{key: m.key, val: d})
			}
		}
	}
	return objectValue(out)
}

// compile compiles the schema once (draft-04, whatever "$schema" says, as
// Cosmos's validator does; no reference is ever fetched from the network or
// the disk). Annotations (description, title, default, examples) take no
// part in validation and make up most of a Universe config.json, so they are
// left out before compiling (compiling checks every schema against the
// meta-schema), and configs that differ only in annotations share one
// compiled schema.
func (e *configEntry) compile() (*jsonschema.Schema, error) {
	e.compileOnce.Do(func() {
		if e.parseErr != nil {
			e.compileErr = errors.New("config.json is not a JSON object")
			return
		}
		// The tree was released once prepared; most configs never need
		// compiling, so parse again the few that do.
		parsed, err := parseJSON(e.data)
		if err != nil || parsed.k != kObject {
			e.compileErr = errors.New("config.json is not a JSON object")
			return
		}
		stripped := stripAnnotations(parsed, true)
		key := appendCompact(nil, stripped, false)
		ce := schemaCache.get(key, func() any {
			c := &compiled{}
			c.schema, c.err = compileStripped(stripped)
			return c
		}).(*compiled)
		e.schema, e.compileErr = ce.schema, ce.err
	})
	return e.schema, e.compileErr
}

// prepare builds the quick check once, when the schema allows one (see
// quick.go), and releases the parsed document.
func (e *configEntry) prepare() {
	e.prepareOnce.Do(func() {
		parsed := e.parsed
		e.parsed = value{} // the defaults are extracted already
		if parsed.k == kObject && metaValid(parsed) {
			e.quick = buildQuick(parsed)
		}
	})
}

// quickValid reports whether the quick check proves options valid (without
// compiling the schema).
func (e *configEntry) quickValid(options value) bool {
	e.prepare()
	return e.quick != nil && e.quick.check(options) == valid
}

// compiled is a compiled schema (or why it does not compile), cached by
// the content of the annotation-free schema.
type compiled struct {
	schema *jsonschema.Schema
	err    error
}

var schemaCache contentCache

// The URLs schemas are compiled under. jsonschema/v6 (v6.0.3, pinned)
// validates every document it compiles against the meta-schema of its
// draft, except documents under http://json-schema.org/ (its own
// meta-schemas). A config that metaValid proves valid is compiled under
// fastSchemaURL: the same compile without the redundant meta-validation.
// The URL appears nowhere in results (validation errors are rewritten to
// schemaURL, see validateOptions); any compile error is reported by compiling again
// under schemaURL, so messages are those of the usual compile.
const (
	schemaURL     = "urn:universe-operator:config.json"
	fastSchemaURL = "http://json-schema.org/universe-operator/config.json"
)

func compileStripped(stripped value) (*jsonschema.Schema, error) {
	doc := func() map[string]any {
		d, _ := toAny(stripped).(map[string]any)
		delete(d, "$schema")
		return d
	}
	if metaValid(stripped) {
		if schema, err := compileDoc(doc(), fastSchemaURL); err == nil {
			return schema, nil
		}
	}
	return compileDoc(doc(), schemaURL)
}

// compileDoc compiles a config schema document under url.
func compileDoc(doc map[string]any, url string) (*jsonschema.Schema, error) {
	schema, err := compileSchemaAt(doc, url)
	var dup *jsonschema.DuplicateIDError
	if errors.As(err, &dup) {
		// Several real configs (DataStax, NiFi, HDFS) reuse one
		// documentation URL as "id" in many properties. Cosmos's validator
		// accepts that; ids only matter for $ref resolution, so validate
		// such a schema without them.
		walkSchemas(doc, func(m map[string]any) {
			if _, isString := m["id"].(string); isString {
				delete(m, "id")
			}
		})
		schema, err = compileSchemaAt(doc, url)
	}
	return schema, err
}

// annotations are the draft-04 keywords that never affect validation.
var annotations = map[string]bool{"description": true, "title": true, "default": true, "examples": true}

// stripAnnotations returns a schema without annotation keywords, walking
// schema positions only (a property named "description" stays).
func stripAnnotations(v value, isSchema bool) value {
	if !isSchema || v.k != kObject {
		return v
	}
	out := make([]member, 0, len(v.obj.members))
	for _, m := range v.obj.members {
		if annotations[m.key] {
			continue
		}
		val := m.val
		switch m.key {
		case "additionalItems", "additionalProperties", "not":
			val = stripAnnotations(val, true)
		case "items", "allOf", "anyOf", "oneOf":
			if val.k == kArray {
				arr := make([]value, len(val.arr))
				for i, it := range val.arr {
					arr[i] = stripAnnotations(it, true)
				}
				val = value{k: kArray, arr: arr}
			} else {
				val = stripAnnotations(val, true)
			}
		case "properties", "patternProperties", "definitions", "dependencies":
			if val.k == kObject {
				sub := make([]member, len(val.obj.members))
				for i, sm := range val.obj.members {
					sub[i] = member{key: sm.key, val: stripAnnotations(sm.val, true)}
				}
				val = objectValue(sub)
			}
		}
		out = append(out, member{key: m.key, val: val})
	}
	return objectValue(out)
}

func compileSchemaAt(doc map[string]any, url string) (*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	c.UseLoader(refuseLoader{})
	c.UseRegexpEngine(cachedRegexp)
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	return c.Compile(url)
}

// validateOptions validates v against a compiled config schema. The error of a
// schema compiled under fastSchemaURL is rewritten to name schemaURL, so it
// is exactly the error of the usual compile.
func validateOptions(schema *jsonschema.Schema, v any) (err error) {
	defer func() {
		// A backstop: the library must not take the controller down on
		// input it cannot handle (see uncomparableNumber).
		if r := recover(); r != nil {
			err = fmt.Errorf("the options cannot be validated: the JSON schema library failed (%v)", r)
		}
	}()
	err = schema.Validate(v)
	if err == nil || !strings.HasPrefix(schema.Location, fastSchemaURL) {
		return err
	}
	var ve *jsonschema.ValidationError
	if errors.As(err, &ve) {
		renameSchemaURL(ve)
	}
	return err
}

// renameSchemaURL replaces fastSchemaURL by schemaURL in an error tree.
func renameSchemaURL(e *jsonschema.ValidationError) {
	rename := func(s string) string {
		if rest, ok := strings.CutPrefix(s, fastSchemaURL); ok {
			return schemaURL + rest
		}
		return s
	}
	e.SchemaURL = rename(e.SchemaURL)
	switch k := e.ErrorKind.(type) {
	case *jskind.Schema:
		k.Location = rename(k.Location)
	case *jskind.Reference:
		k.URL = rename(k.URL)
	case *jskind.RefCycle:
		k.URL = rename(k.URL)
		k.KeywordLocation1 = rename(k.KeywordLocation1)
		k.KeywordLocation2 = rename(k.KeywordLocation2)
	}
	for _, c := range e.Causes {
		renameSchemaURL(c)
	}
}

// walkSchemas calls fn for every draft-04 schema object of doc: it walks
// schema positions only, so a property named "id" or "description" is
// never mistaken for the keyword.
func walkSchemas(schema any, fn func(map[string]any)) {
	m, ok := schema.(map[string]any)
	if !ok {
		return
	}
	fn(m)
	for _, kw := range []string{"additionalItems", "additionalProperties", "not"} {
		walkSchemas(m[kw], fn)
	}
	switch items := m["items"].(type) {
	case []any:
		for _, it := range items {
			walkSchemas(it, fn)
		}
	default:
		walkSchemas(items, fn)
	}
	for _, kw := range []string{"allOf", "anyOf", "oneOf"} {
		if list, ok := m[kw].([]any); ok {
			for _, it := range list {
				walkSchemas(it, fn)
			}
		}
	}
	for _, kw := range []string{"properties", "patternProperties", "definitions", "dependencies"} {
		if sub, ok := m[kw].(map[string]any); ok {
			for _, it := range sub {
				walkSchemas(it, fn)
			}
		}
	}
}

// refuseLoader refuses every external reference.
type refuseLoader struct{}

func (refuseLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("external schema %s is not loaded (no network or file access while validating options)", url)
}

// Problem is one broken rule: where in the options (a JSON pointer into the
// merged options), which schema keyword, and what is wrong.
type Problem struct {
	// Pointer is the JSON pointer of the offending value ("" = the root);
	// for a missing required property it points at the missing property.
	Pointer string
	// Rule is the JSON Schema keyword that failed ("type", "required", ...).
	Rule string
	// Message says what is wrong, in lower case.
	Message string
}

// String returns "options /service/name: expected string, got number (type)".
func (p Problem) String() string {
	ptr := p.Pointer
	if ptr == "" {
		ptr = "/"
	}
	return fmt.Sprintf("options %s: %s (%s)", ptr, p.Message, p.Rule)
}

var printer = message.NewPrinter(language.English)

// schemaProblems flattens a jsonschema validation error into its leaves.
func schemaProblems(err error) []Problem {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []Problem{{Rule: "schema", Message: err.Error()}}
	}
	var out []Problem
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		out = append(out, leafProblems(e)...)
	}
	walk(ve)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Pointer < out[j].Pointer })
	return out
}

func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1"))
	}
	return b.String()
}

func leafProblems(e *jsonschema.ValidationError) []Problem {
	ptr := pointer(e.InstanceLocation)
	rule := "schema"
	if kp := e.ErrorKind.KeywordPath(); len(kp) > 0 {
		rule = kp[len(kp)-1]
	}
	switch k := e.ErrorKind.(type) {
	case *jskind.Required:
		out := make([]Problem, 0, len(k.Missing))
		for _, m := range k.Missing {
			out = append(out, Problem{Pointer: pointer(append(append([]string{}, e.InstanceLocation...), m)), Rule: "required", Message: "required property is missing"})
		}
		return out
	case *jskind.AdditionalProperties:
		out := make([]Problem, 0, len(k.Properties))
		for _, m := range k.Properties {
			out = append(out, Problem{Pointer: pointer(append(append([]string{}, e.InstanceLocation...), m)), Rule: "additionalProperties", Message: "property is not allowed"})
		}
		return out
	case *jskind.Type:
		return []Problem{{Pointer: ptr, Rule: "type", Message: fmt.Sprintf("expected %s, got %s", strings.Join(k.Want, " or "), k.Got)}}
	}
	msg := strings.TrimPrefix(e.ErrorKind.LocalizedString(printer), rule+": ")
	return []Problem{{Pointer: ptr, Rule: rule, Message: msg}}
}

// uncomparableNumber finds the first number in v that math/big cannot
// parse (an exponent beyond ±1e6): jsonschema/v6 cannot compare it. It
// returns its JSON pointer below path (built only when one is found).
func uncomparableNumber(v value, path string) (string, bool) {
	switch v.k {
	case kNumber:
		// Only an exponent can be out of math/big's range: plain decimals
		// (almost every number) are not parsed.
		if strings.ContainsAny(v.s, "eE") {
			if _, ok := new(big.Rat).SetString(v.s); !ok {
				return path, true
			}
		}
	case kArray:
		for i, it := range v.arr {
			if p, ok := uncomparableNumber(it, ""); ok {
				return path + "/" + strconv.Itoa(i) + p, true
			}
		}
	case kObject:
		for _, m := range v.obj.members {
			if p, ok := uncomparableNumber(m.val, ""); ok {
				return path + "/" + escapePointer(m.key) + p, true
			}
		}
	}
	return "", false
}
