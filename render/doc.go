// Package render turns a Universe package revision plus user options into
// exactly the Marathon app JSON that DC/OS Cosmos would post
// (../shared/docs/universe-semantics.md sections 3-5). It is pure: no I/O.
//
//	Render(pkg *universe.Package, userOptions json.RawMessage, p Params) (*Result, error)
//	ValidateOptions(pkg *universe.Package, userOptions json.RawMessage) error
//	Defaults(pkg *universe.Package) (json.RawMessage, error)
//	Merge(base, override json.RawMessage) (json.RawMessage, error)
//	RenderMany(jobs []Job, workers int) []Outcome               // concurrent batch, in order
//	RenderEach(jobs []Job, workers int, fn func(int, Outcome))  // concurrent batch, streamed
//	Indent(doc []byte) ([]byte, error)                           // for people; keeps order and text
//
// userOptions may be nil, blank or `null` (no options). Params carries AppID
// (leading "/" added) and Source (the DCOS_PACKAGE_SOURCE value; defaults to
// pkg.Source). Result carries App (the final app JSON, compact,
// DCOS_PACKAGE_* labels included; nil when the package has no template,
// which Cosmos installs by posting nothing, and then NoTemplate is true),
// Options (merged defaults + user options) and UserOptions (what
// DCOS_PACKAGE_OPTIONS encodes); Result.Indented() prints App for people.
//
// The pipeline, exactly as Cosmos does it:
//  1. defaults from config.json (top-level properties; a default is taken as
//     is; otherwise recurse into properties and keep a non-empty result);
//  2. merged = deep merge of defaults and user options (objects merge,
//     anything else from the user replaces);
//  3. merged is validated against config.json as JSON Schema draft-04
//     (santhosh-tekuri/jsonschema/v6; each schema compiled once and cached
//     by content); no config.json but non-empty options: "options not
//     allowed"; merged empty: no validation; packages without a template:
//     no validation at all. Options a quick check proves valid skip the
//     compile (quick.go: exact for the draft-04 keywords it covers, held to
//     jsonschema/v6 by the tests); every refusal and every error comes from
//     jsonschema/v6. Schemas proven valid against the draft-04 meta-schema
//     are compiled without repeating that validation (metacheck.go);
//  4. the template is rendered by a Mustache engine that reproduces
//     mustache.java as Cosmos configures it (mustache.go says why it is not
//     github.com/cbroglie/mustache): no HTML escaping; Cosmos's value
//     preparation (strings JSON-escaped without quotes except as array
//     elements, ints and Java's Double.toString, Java List and Map
//     printing); mustache.java's truthiness and lookups (a key containing
//     dots first); the asJson function;
//  5. the output must be a JSON object with string-valued labels; the app is
//     the deep merge of it, {"id": appId} and the DCOS_PACKAGE_NAME,
//     _VERSION, _SOURCE, _OPTIONS and _DEFINITION labels.
//
// Template member order and number text are preserved end to end; JSON is
// never passed through go-marathon's types and never HTML-escaped. Strings
// are printed as circe (Cosmos's JSON library) prints them.
//
// Every error is errs.Permanent and is (or wraps) a *Error naming the
// package, version, revision, file, JSON path and rule, for example
// `kafka 2.9.0-2.4.0 (rev 11) config.json: options /service/name: expected string, got number (type)`
// or `linkerd 0.7.0-0.1 (rev 4) marathon.json.mustache: rendered output is not JSON: invalid character '\\' looking for the beginning of a value at line 6 column 29 ...`.
// Error.Kind tells options problems (KindOptions, with every broken rule in
// Problems) from template problems (KindTemplate, KindOutput) and unusable
// package files (KindConfig, KindPackage).
package render
