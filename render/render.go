package render

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/universe-operator/universe-operator/errs"
	"github.com/universe-operator/universe-operator/universe"
)

// The labels Cosmos sets on every app it installs; a template cannot
// override them.
const (
	LabelPackageName       = "DCOS_PACKAGE_NAME"
	LabelPackageVersion    = "DCOS_PACKAGE_VERSION"
	LabelPackageSource     = "DCOS_PACKAGE_SOURCE"
	LabelPackageOptions    = "DCOS_PACKAGE_OPTIONS"
	LabelPackageDefinition = "DCOS_PACKAGE_DEFINITION"
)

// Params are the install parameters besides the options.
type Params struct {
	// AppID, when not empty, replaces the template's "id" ("/" is prepended
	// when missing).
	AppID string
	// Source is the DCOS_PACKAGE_SOURCE value; empty means pkg.Source.
	Source string
}

// Result is what an install would post.
type Result struct {
	// App is the Marathon app definition, compact JSON, labels included; nil
	// when NoTemplate.
	App json.RawMessage
	// NoTemplate is true for packages without marathon.json.mustache:
	// installing them posts nothing (and validates nothing).
	NoTemplate bool
	// Options is the merged options (defaults + user options), compact.
	Options json.RawMessage
	// UserOptions is the user options as DCOS_PACKAGE_OPTIONS records them:
	// compact, null members dropped, `{}` when none were given.
	UserOptions json.RawMessage

	app value // App, parsed
}

// Indented returns App indented with two spaces (member order, number text
// and characters kept), for people; nil when there is no app.
func (r *Result) Indented() []byte {
	if r == nil || r.App == nil {
		return nil
	}
	if r.app.k != kObject {
		out, err := Indent(r.App)
		if err != nil {
			return append([]byte(nil), r.App...)
		}
		return out
	}
	return append(appendIndent(make([]byte, 0, len(r.App)+len(r.App)/4), r.app, 0), '\n')
}

// Kind classifies render errors.
type Kind string

const (
	// KindOptions: the options are refused (not an object, not allowed
	// without config.json, or failing the schema).
	KindOptions Kind = "options"
	// KindConfig: config.json cannot be used as a schema.
	KindConfig Kind = "config"
	// KindTemplate: marathon.json.mustache cannot be compiled or executed.
	KindTemplate Kind = "template"
	// KindOutput: the rendered text is not a JSON object, or its labels are
	// not a map of string to string.
	KindOutput Kind = "output"
	// KindPackage: the package itself is unusable (nil, bad package.json).
	KindPackage Kind = "package"
)

// Error is a render failure. Render, ValidateOptions, Defaults and Merge
// return it wrapped with errs.Permanent (errors.As finds it).
type Error struct {
	// Package, Version and Release name the revision ("" and 0 when none).
	Package string
	Version string
	Release int
	// File is the file at fault: "config.json", "marathon.json.mustache" or
	// "options" (the user's options).
	File string
	// Kind classifies the failure.
	Kind Kind
	// Problems lists every broken schema rule (KindOptions).
	Problems []Problem
	// Line and Column locate a template or output syntax error (1-based, 0
	// when not applicable); Offset is the byte offset in the rendered output.
	Line, Column, Offset int
	// Err is the underlying reason.
	Err error
}

// Error returns one line: `kafka 2.9.0-2.4.0 (rev 11) config.json: options
// /service/name: expected string, got number (type)`.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Package != "" {
		fmt.Fprintf(&b, "%s %s (rev %d) ", e.Package, e.Version, e.Release)
	}
	b.WriteString(e.File)
	b.WriteString(": ")
	if len(e.Problems) > 0 {
		for i, p := range e.Problems {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(p.String())
		}
	} else if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	return strings.ReplaceAll(b.String(), "\n", " ")
}

// Unwrap returns the underlying reason.
func (e *Error) Unwrap() error { return e.Err }

func newError(pkg *universe.Package, file string, k Kind, err error) error {
	e := &Error{File: file, Kind: k, Err: err}
	if pkg != nil {
		e.Package, e.Version, e.Release = pkg.Name, pkg.Version, pkg.ReleaseVersion
	}
	return errs.Permanent(e)
}

// parseOptions reads user options: nil, blank or `null` mean none.
func parseOptions(pkg *universe.Package, raw json.RawMessage) (value, bool, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return emptyObject, false, nil
	}
	v, err := parseJSON(raw)
	if err != nil {
		var se *syntaxError
		if errors.As(err, &se) {
			line, col := lineColumn(raw, se.offset)
			err = fmt.Errorf("options are not JSON: %s at line %d column %d", se.msg, line, col)
		}
		return value{}, false, newError(pkg, "options", KindOptions, err)
	}
	switch v.k {
	case kNull:
		return emptyObject, false, nil
	case kObject:
		return v, true, nil
	}
	return value{}, false, newError(pkg, "options", KindOptions, fmt.Errorf("options must be a JSON object, got %s", v.k))
}

// optionsStep is the outcome of defaults, merge and validation.
type optionsStep struct {
	user    value
	hasUser bool
	merged  value
}

func checkPackage(pkg *universe.Package) error {
	if pkg == nil {
		return newError(nil, "package", KindPackage, errors.New("no package"))
	}
	return nil
}

// options runs defaults + merge + validation (Cosmos's order).
func options(pkg *universe.Package, userOptions json.RawMessage, validate bool) (optionsStep, error) {
	var st optionsStep
	var err error
	if st.user, st.hasUser, err = parseOptions(pkg, userOptions); err != nil {
		return st, err
	}
	cfg := configFor(pkg.Config)
	defaults := emptyObject
	if cfg != nil {
		if cfg.parseErr != nil {
			return st, newError(pkg, universe.ConfigFile, KindConfig, cfg.parseErr)
		}
		defaults = cfg.defaults
	}
	st.merged = deepMerge(defaults, st.user)
	if !validate || st.merged.obj.len() == 0 {
		return st, nil
	}
	if cfg == nil {
		return st, newError(pkg, "options", KindOptions, errors.New("options not allowed: the package has no config.json"))
	}
	if ptr, ok := uncomparableNumber(st.merged, ""); ok {
		// jsonschema/v6 compares numbers with math/big, which refuses
		// exponents beyond ±1,000,000 (and the library then fails).
		p := Problem{Pointer: ptr, Rule: "number", Message: "number out of range: its exponent is beyond ±1000000"}
		return st, errs.Permanent(&Error{Package: pkg.Name, Version: pkg.Version, Release: pkg.ReleaseVersion,
			File: universe.ConfigFile, Kind: KindOptions, Problems: []Problem{p}, Err: errors.New(p.String())})
	}
	if cfg.quickValid(st.merged) {
		return st, nil // proven valid: no need to compile the schema
	}
	schema, err := cfg.compile()
	if err != nil {
		return st, newError(pkg, universe.ConfigFile, KindConfig, fmt.Errorf("not a usable JSON schema: %w", err))
	}
	if err := validateOptions(schema, toAny(st.merged)); err != nil {
		e := &Error{Package: pkg.Name, Version: pkg.Version, Release: pkg.ReleaseVersion,
			File: universe.ConfigFile, Kind: KindOptions, Problems: schemaProblems(err), Err: err}
		return st, errs.Permanent(e)
	}
	return st, nil
}

// ValidateOptions checks user options for a package as an install would:
// defaults, merge and draft-04 validation of the merged options. Packages
// without a template accept anything (Cosmos does not validate them).
func ValidateOptions(pkg *universe.Package, userOptions json.RawMessage) error {
	if err := checkPackage(pkg); err != nil {
		return err
	}
	_, err := options(pkg, userOptions, pkg.HasTemplate())
	return err
}

// Defaults returns the default options of a package (compact JSON object).
func Defaults(pkg *universe.Package) (json.RawMessage, error) {
	if err := checkPackage(pkg); err != nil {
		return nil, err
	}
	cfg := configFor(pkg.Config)
	if cfg == nil {
		return json.RawMessage(`{}`), nil
	}
	if cfg.parseErr != nil {
		return nil, newError(pkg, universe.ConfigFile, KindConfig, cfg.parseErr)
	}
	return appendCompact(nil, cfg.defaults, false), nil
}

// Merge deep-merges override into base the way Cosmos merges options:
// objects merge recursively, anything else in override (arrays, scalars,
// null) replaces. Both must be JSON objects (nil or blank: {}). The result
// is compact and keeps member order and number text.
func Merge(base, override json.RawMessage) (json.RawMessage, error) {
	b, _, err := parseOptions(nil, base)
	if err != nil {
		return nil, err
	}
	o, _, err := parseOptions(nil, override)
	if err != nil {
		return nil, err
	}
	return appendCompact(nil, deepMerge(b, o), false), nil
}

// Render produces the app Cosmos would post for pkg with userOptions (nil:
// none), following ../shared/docs/universe-semantics.md sections 3-5.
func Render(pkg *universe.Package, userOptions json.RawMessage, p Params) (*Result, error) {
	if err := checkPackage(pkg); err != nil {
		return nil, err
	}
	st, err := options(pkg, userOptions, pkg.HasTemplate())
	if err != nil {
		return nil, err
	}
	res := &Result{
		Options:     appendCompact(nil, st.merged, false),
		UserOptions: appendCompact(nil, st.user, true),
	}
	if !pkg.HasTemplate() {
		res.NoTemplate = true
		return res, nil
	}
	te := templateFor(pkg.Template)
	if te.err != nil {
		e := &Error{Package: pkg.Name, Version: pkg.Version, Release: pkg.ReleaseVersion,
			File: universe.TemplateFile, Kind: KindTemplate, Err: te.err}
		var tErr *templateError
		if errors.As(te.err, &tErr) {
			e.Line = tErr.line
		}
		return nil, errs.Permanent(e)
	}

	// The scope: merged options, the package's resource under "resource"
	// (winning over a user key of that name), and the asJson function.
	scope := st.merged
	if pkg.Resource != nil {
		rv, err := parseJSON(pkg.Resource)
		if err != nil || rv.k != kObject {
			if err == nil {
				err = fmt.Errorf("must be a JSON object, got %s", rv.k)
			}
			return nil, newError(pkg, universe.ResourceFile, KindPackage, err)
		}
		scope = deepMerge(scope, objectValue([]member{{key: "resource", val: rv}}))
	}
	root := &mval{k: mMap, src: scope}
	root.object().set("asJson", &mval{k: mFunc, fn: func(name string) string {
		if v, ok := scope.obj.get(name); ok && v.k == kString {
			return v.s
		}
		return "null"
	}})
	out, err := te.tmpl.render(root)
	if err != nil {
		return nil, newError(pkg, universe.TemplateFile, KindTemplate, err)
	}

	app, err := parseJSON(out)
	if err != nil {
		var se *syntaxError
		e := &Error{Package: pkg.Name, Version: pkg.Version, Release: pkg.ReleaseVersion,
			File: universe.TemplateFile, Kind: KindOutput}
		if errors.As(err, &se) {
			e.Line, e.Column = lineColumn(out, se.offset)
			e.Offset = se.offset
			e.Err = fmt.Errorf("rendered output is not JSON: %s at line %d column %d (offset %d) near %s",
				se.msg, e.Line, e.Column, se.offset, excerpt(out, se.offset))
		} else {
			e.Err = fmt.Errorf("rendered output is not JSON: %w", err)
		}
		return nil, errs.Permanent(e)
	}
	if app.k != kObject {
		return nil, newError(pkg, universe.TemplateFile, KindOutput, fmt.Errorf("template must be a JSON object, the rendered output is a JSON %s", app.k))
	}
	labels := emptyObject
	if l, ok := app.obj.get("labels"); ok && l.k != kNull {
		if l.k != kObject {
			return nil, newError(pkg, universe.TemplateFile, KindOutput, fmt.Errorf("labels must be a map of string to string, got a JSON %s", l.k))
		}
		for _, m := range l.obj.members {
			if m.val.k != kString {
				return nil, newError(pkg, universe.TemplateFile, KindOutput, fmt.Errorf("labels must be a map of string to string: /labels/%s is a %s", escapePointer(m.key), m.val.k))
			}
		}
		labels = l
	}

	source := p.Source
	if source == "" {
		source = pkg.Source
	}
	definition, err := pkg.DefinitionLabel()
	if err != nil {
		return nil, newError(pkg, universe.PackageFile, KindPackage, err)
	}
	fixed := objectValue([]member{
		{key: LabelPackageName, val: stringValue(pkg.Name)},
		{key: LabelPackageVersion, val: stringValue(pkg.Version)},
		{key: LabelPackageSource, val: stringValue(source)},
		{key: LabelPackageOptions, val: stringValue(base64.StdEncoding.EncodeToString(res.UserOptions))},
		{key: LabelPackageDefinition, val: stringValue(definition)},
	})
	if p.AppID != "" {
		id := p.AppID
		if !strings.HasPrefix(id, "/") {
			id = "/" + id
		}
		app = deepMerge(app, objectValue([]member{{key: "id", val: stringValue(id)}}))
	}
	app = deepMerge(app, objectValue([]member{{key: "labels", val: labels}}))
	app = deepMerge(app, objectValue([]member{{key: "labels", val: fixed}}))
	res.App = appendCompact(make([]byte, 0, len(out)+len(definition)+512), app, false)
	res.app = app
	return res, nil
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// excerpt quotes the text around offset on its line, for error messages.
func excerpt(data []byte, offset int) string {
	if offset > len(data) {
		offset = len(data)
	}
	start := bytes.LastIndexByte(data[:offset], '\n') + 1
	if offset-start > 40 {
		start = offset - 40
	}
	end := offset + 20
	if end > len(data) {
		end = len(data)
	}
	if nl := bytes.IndexByte(data[offset:end], '\n'); nl >= 0 {
		end = offset + nl
	}
	return strconv.Quote(strings.ToValidUTF8(string(data[start:end]), "\uFFFD"))
}
