// Package strict decodes YAML or JSON documents into Go structs and reports
// every problem at once with its path, instead of stopping at the first one
// like encoding/json does.
//
//	var v T
//	problems := strict.Decode(data, &v, strict.Options{})
//	for _, p := range problems {
//		fmt.Println(p.Path, p.Reason) // "spec.options", "must be an object, not a string"
//	}
//
// Exported API:
//
//	type Problem struct{ Path, Reason string } // Path like spec.dependsOn[1]; "" = the document
//	func (p *Problem) Error() string           // "PATH: REASON"
//	type Options struct {
//		// UnknownKey, when set, may return a specific reason for an unknown key
//		// (for example "inline secrets are not allowed: use token_file").
//		UnknownKey func(path, key string) string
//		// Format is "yaml", "json" or "" (detect: a document starting with '{' is JSON).
//		Format string
//	}
//	type Object struct{ Keys []string; Values map[string]any } // a decoded object (YAML keys sorted, JSON keys in order)
//	func ParseDocument(data []byte, format string) (any, error) // one document -> tree of *Object, []any, json.Number, string, bool, nil
//	func Marshal(tree any) []byte                               // canonical JSON: compact, keys sorted, no HTML escaping, number text kept
//	func ToJSON(data []byte, format string) ([]byte, error)     // ParseDocument + Marshal
//	func Decode(data []byte, v any, opts Options) []*Problem
//	func DecodeJSON(data []byte, v any, opts Options) []*Problem
//	func DecodeTree(tree any, v any, opts Options) []*Problem   // Check, then assign (no second parse)
//	func Check(value any, t reflect.Type, path string, opts Options) []*Problem // the walk itself
//	func Join(path, key string) string  // path building: Join("spec", "options") = "spec.options"
//	func Index(path string, i int) string
//
//	type Duration struct{ time.Duration } // "60s", "10m", "1h30m"; JSON string form only
//
// Rules: keys match the `json` tag exactly (case-sensitive, unlike
// encoding/json); unknown keys, duplicate keys, wrong types, null for a
// non-pointer scalar and more than one YAML document are problems; fields of
// type json.RawMessage or any accept any value; a type implementing
// json.Unmarshaler is checked by calling it. A json.RawMessage field receives
// the canonical JSON of its value (so reformatting a file does not change
// it). YAML is parsed by go.yaml.in/yaml/v2 (the parser sigs.k8s.io/yaml
// wraps) in strict mode, once, straight into the tree; YAML 1.1 booleans
// (yes/no/on/off) are booleans, as with sigs.k8s.io/yaml.
package strict
