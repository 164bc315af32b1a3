package strict

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v2"
)

// Problem is one thing wrong with a document, at a path.
type Problem struct {
	// Path is where: "spec.options.service.name", "universes[1].git";
	// "" means the document as a whole.
	Path string
	// Reason says what is wrong, in lower case.
	Reason string
}

// Error returns "PATH: REASON" (just the reason when Path is empty).
func (p *Problem) Error() string {
	if p.Path == "" {
		return p.Reason
	}
	return p.Path + ": " + p.Reason
}

// Options tunes Decode.
type Options struct {
	// UnknownKey, when set, may return a specific reason for an unknown key
	// at path (the object's path) ; "" keeps the default "unknown key".
	UnknownKey func(path, key string) string
	// Format is "yaml", "json" or "" to detect (a document whose first
	// non-blank byte is '{' is JSON, anything else YAML).
	Format string
}

// maxDocument bounds what ToJSON accepts, so a huge file cannot exhaust memory.
const maxDocument = 16 << 20

// ToJSON converts one YAML (or JSON) document to JSON. Duplicate keys,
// several YAML documents and trailing data after a JSON value are errors.
func ToJSON(data []byte, format string) ([]byte, error) {
	v, err := ParseDocument(data, format)
	if err != nil {
		return nil, err
	}
	return Marshal(v), nil
}

// ParseDocument parses one YAML or JSON document (format "yaml", "json",
// or "" to detect: a document starting with '{' is JSON) into a tree of
// *Object, []any, json.Number, string, bool and nil. Duplicate keys,
// several YAML documents, trailing data, NaN/Inf and nesting deeper than
// 200 levels are errors.
func ParseDocument(data []byte, format string) (any, error) {
	if len(data) > maxDocument {
		return nil, fmt.Errorf("document is larger than %d bytes", maxDocument)
	}
	if format == "" {
		format = "yaml"
		if t := bytes.TrimLeft(data, " \t\r\n\ufeff"); len(t) > 0 && t[0] == '{' {
			format = "json"
		}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("empty document")
	}
	switch format {
	case "json":
		return parseJSON(data)
	case "yaml":
		return parseYAML(data)
	}
	return nil, fmt.Errorf("unknown format %q", format)
}

// parseYAML decodes one YAML document (strict: duplicate keys fail) and
// converts it to the JSON tree.
func parseYAML(data []byte) (any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.SetStrict(true)
	var v any
	if err := dec.Decode(&v); err != nil {
		if err == io.EOF {
			return nil, errors.New("empty document")
		}
		return nil, cleanYAMLError(err)
	}
	if hasDocumentMarker(data) {
		for {
			var next any
			err := dec.Decode(&next)
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, cleanYAMLError(err)
			}
			if next != nil {
				return nil, errors.New("more than one YAML document: one release per file")
			}
		}
	}
	if v == nil {
		return nil, errors.New("empty document")
	}
	return fromYAML(v, 0)
}

// hasDocumentMarker reports whether a line starts with "---" or "...",
// the only way a YAML stream holds a second document.
func hasDocumentMarker(data []byte) bool {
	for len(data) > 0 {
		if bytes.HasPrefix(data, []byte("---")) || bytes.HasPrefix(data, []byte("...")) {
			return true
		}
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return false
		}
		data = data[i+1:]
	}
	return false
}

// fromYAML converts a yaml.v2 value to the JSON tree (object keys sorted).
func fromYAML(v any, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("yaml: nesting deeper than %d levels", maxDepth)
	}
	switch x := v.(type) {
	case map[any]any:
		obj := &Object{Keys: make([]string, 0, len(x)), Values: make(map[string]any, len(x))}
		for k, val := range x {
			ks, ok := k.(string)
			if !ok {
				ks = fmt.Sprint(k)
			}
			if _, dup := obj.Values[ks]; dup {
				return nil, fmt.Errorf("yaml: key %q appears twice", ks)
			}
			cv, err := fromYAML(val, depth+1)
			if err != nil {
				return nil, err
			}
			obj.Keys = append(obj.Keys, ks)
			obj.Values[ks] = cv
		}
		sort.Strings(obj.Keys)
		return obj, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			cv, err := fromYAML(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = cv
		}
		return out, nil
	case string, bool, nil:
		return x, nil
	case int:
		return json.Number(strconv.FormatInt(int64(x), 10)), nil
	case int64:
		return json.Number(strconv.FormatInt(x, 10)), nil
	case uint64:
		return json.Number(strconv.FormatUint(x, 10)), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, errors.New("yaml: .nan and .inf are not JSON numbers")
		}
		return json.Number(strconv.FormatFloat(x, 'g', -1, 64)), nil
	case time.Time:
		return x.Format(time.RFC3339Nano), nil
	case []byte:
		return string(x), nil
	}
	return fmt.Sprint(v), nil
}

// Marshal encodes a tree from ParseDocument as JSON.
func Marshal(v any) []byte { return marshalValue(v) }

// cleanYAMLError strips library prefixes from YAML errors.
func cleanYAMLError(err error) error {
	msg := err.Error()
	msg = strings.ReplaceAll(msg, "yaml: unmarshal errors:\n  ", "yaml: ")
	msg = strings.ReplaceAll(msg, "\n  ", "; ")
	if !strings.HasPrefix(msg, "yaml") {
		msg = "yaml: " + msg
	}
	return errors.New(msg)
}

// Decode parses data (YAML or JSON) and decodes it into v (a pointer to a
// struct), reporting every problem. v is filled only when there are none.
func Decode(data []byte, v any, opts Options) []*Problem {
	tree, err := ParseDocument(data, opts.Format)
	if err != nil {
		return []*Problem{{Reason: err.Error()}}
	}
	return DecodeTree(tree, v, opts)
}

// DecodeJSON decodes JSON data into v (a pointer), reporting every problem.
// v is filled only when there are none.
func DecodeJSON(data []byte, v any, opts Options) []*Problem {
	tree, err := parseJSON(data)
	if err != nil {
		return []*Problem{{Reason: err.Error()}}
	}
	return DecodeTree(tree, v, opts)
}

// DecodeTree checks a tree from ParseDocument against v's type and, when
// there is no problem, decodes it into v (a pointer).
func DecodeTree(tree any, v any, opts Options) []*Problem {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return []*Problem{{Reason: "internal error: decode target is not a pointer"}}
	}
	if ps := Check(tree, rv.Type().Elem(), "", opts); len(ps) > 0 {
		return ps
	}
	if err := assign(tree, rv.Elem()); err != nil {
		return []*Problem{{Reason: err.Error()}}
	}
	return nil
}

// Object is a decoded JSON object with its keys in document order.
type Object struct {
	Keys   []string
	Values map[string]any
}

// parseJSON decodes one JSON value into Object / []any / json.Number /
// string / bool / nil, rejecting duplicate keys and trailing data.
func parseJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := parseValue(dec, "", 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("json: unexpected data after the document")
	}
	return v, nil
}

// maxDepth bounds nesting so a hostile document cannot exhaust the stack.
const maxDepth = 200

func parseValue(dec *json.Decoder, path string, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("json: nesting deeper than %d levels", maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return nil, errors.New("json: unexpected end of document")
		}
		return nil, jsonError(err, dec)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := &Object{Values: map[string]any{}}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, jsonError(err, dec)
				}
				key, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("json: object key is not a string at offset %d", dec.InputOffset())
				}
				kp := Join(path, key)
				if _, dup := obj.Values[key]; dup {
					return nil, fmt.Errorf("%s: duplicate key", kp)
				}
				val, err := parseValue(dec, kp, depth+1)
				if err != nil {
					return nil, err
				}
				obj.Keys = append(obj.Keys, key)
				obj.Values[key] = val
			}
			if _, err := dec.Token(); err != nil {
				return nil, jsonError(err, dec)
			}
			return obj, nil
		case '[':
			arr := []any{}
			for dec.More() {
				val, err := parseValue(dec, Index(path, len(arr)), depth+1)
				if err != nil {
					return nil, err
				}
				arr = append(arr, val)
			}
			if _, err := dec.Token(); err != nil {
				return nil, jsonError(err, dec)
			}
			return arr, nil
		default:
			return nil, fmt.Errorf("json: unexpected %q at offset %d", string(t), dec.InputOffset())
		}
	default:
		return tok, nil
	}
}

// jsonError words a syntax error with its offset.
func jsonError(err error, dec *json.Decoder) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("json: %s at offset %d", se.Error(), se.Offset)
	}
	return fmt.Errorf("json: %v at offset %d", err, dec.InputOffset())
}

// plainKey reports whether a key can be written after a dot in a path.
func plainKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case (c >= '0' && c <= '9') || c == '-':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// Join appends an object key to a path: Join("spec", "options") is
// "spec.options"; keys that are not identifiers are quoted in brackets:
// spec.options["a.b"].
func Join(path, key string) string {
	if !plainKey(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// Index appends an array index to a path: Index("spec.dependsOn", 1) is
// "spec.dependsOn[1]".
func Index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

var (
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
)

// kindName names the JSON kind of a decoded value for messages.
func kindName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case *Object:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}

// Check walks a value decoded by parseJSON against Go type t and returns
// every problem, each with its path.
func Check(value any, t reflect.Type, path string, opts Options) []*Problem {
	var out []*Problem
	check(value, t, path, opts, &out)
	return out
}

func check(value any, t reflect.Type, path string, opts Options, out *[]*Problem) {
	add := func(format string, args ...any) {
		*out = append(*out, &Problem{Path: path, Reason: fmt.Sprintf(format, args...)})
	}
	if t == rawMessageType || t.Kind() == reflect.Interface {
		return
	}
	if t.Kind() == reflect.Pointer {
		if value == nil {
			return
		}
		t = t.Elem()
		if t == rawMessageType || t.Kind() == reflect.Interface {
			return
		}
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		if value == nil {
			add("must not be null")
			return
		}
		ptr := reflect.New(t)
		if err := ptr.Interface().(json.Unmarshaler).UnmarshalJSON(marshalValue(value)); err != nil {
			add("%s", err.Error())
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := value.(*Object)
		if !ok {
			add("must be an object, not %s", kindName(value))
			return
		}
		fields := structFields(t)
		for _, k := range obj.Keys {
			f, ok := fields[k]
			if !ok {
				reason := ""
				if opts.UnknownKey != nil {
					reason = opts.UnknownKey(path, k)
				}
				if reason == "" {
					reason = "unknown key" + suggest(k, fields)
				}
				*out = append(*out, &Problem{Path: Join(path, k), Reason: reason})
				continue
			}
			check(obj.Values[k], f, Join(path, k), opts, out)
		}
	case reflect.Map:
		if value == nil {
			return
		}
		obj, ok := value.(*Object)
		if !ok {
			add("must be an object, not %s", kindName(value))
			return
		}
		if t.Key().Kind() != reflect.String {
			add("internal error: map key type %s", t.Key())
			return
		}
		for _, k := range obj.Keys {
			check(obj.Values[k], t.Elem(), Join(path, k), opts, out)
		}
	case reflect.Slice, reflect.Array:
		if value == nil && t.Kind() == reflect.Slice {
			return
		}
		arr, ok := value.([]any)
		if !ok {
			add("must be an array, not %s", kindName(value))
			return
		}
		for i, v := range arr {
			check(v, t.Elem(), Index(path, i), opts, out)
		}
	case reflect.String:
		if _, ok := value.(string); !ok {
			add("must be a string, not %s", kindName(value))
		}
	case reflect.Bool:
		if _, ok := value.(bool); !ok {
			add("must be true or false, not %s", kindName(value))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := value.(json.Number)
		if !ok {
			add("must be an integer, not %s", kindName(value))
			return
		}
		i, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil || reflect.Zero(t).OverflowInt(i) {
			add("must be an integer in range, not %s", n)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := value.(json.Number)
		if !ok {
			add("must be a non-negative integer, not %s", kindName(value))
			return
		}
		u, err := strconv.ParseUint(n.String(), 10, 64)
		if err != nil || reflect.Zero(t).OverflowUint(u) {
			add("must be a non-negative integer in range, not %s", n)
		}
	case reflect.Float32, reflect.Float64:
		n, ok := value.(json.Number)
		if !ok {
			add("must be a number, not %s", kindName(value))
			return
		}
		f, err := n.Float64()
		if err != nil || math.IsInf(f, 0) || reflect.Zero(t).OverflowFloat(f) {
			add("must be a number in range, not %s", n)
		}
	default:
		add("internal error: unsupported type %s", t)
	}
}

// structFields maps the JSON names of t's exported fields to their types
// (embedded structs flattened).
func structFields(t reflect.Type) map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			for k, v := range structFields(f.Type) {
				m[k] = v
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f.Type
	}
	return m
}

// suggest returns ` (did you mean "x"?)` when a known key is close to k.
func suggest(k string, fields map[string]reflect.Type) string {
	best, bestD := "", min(3, max(2, len(k)/3+1))
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if strings.EqualFold(n, k) {
			return fmt.Sprintf(" (did you mean %q?)", n)
		}
		if d := distance(strings.ToLower(k), strings.ToLower(n)); d < bestD {
			best, bestD = n, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

// distance is the Levenshtein distance (small strings only).
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Duration is a time.Duration written as a Go duration string ("60s",
// "10m", "1h30m") in YAML/JSON.
type Duration struct{ time.Duration }

// UnmarshalJSON accepts only a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("must be a duration string such as \"60s\" or \"10m\", not %s", kindOfRaw(b))
	}
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("invalid duration %q: use a number with a unit such as \"90s\", \"10m\" or \"1h30m\"", s)
	}
	d.Duration = v
	return nil
}

// MarshalJSON writes the duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// kindOfRaw names the JSON kind of raw bytes.
func kindOfRaw(b []byte) string {
	v, err := parseJSON(b)
	if err != nil {
		return "invalid JSON"
	}
	return kindName(v)
}
