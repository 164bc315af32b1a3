package universe

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/universe-operator/universe-operator/errs"
)

// FileError is a malformed file (or served package entry) found while
// loading. Loaders return it wrapped with errs.Permanent; errors.As finds it.
type FileError struct {
	// Path is the file path or URL#packages[i] location.
	Path string
	// Err is the reason.
	Err error
}

// Error returns "path: reason".
func (e *FileError) Error() string { return e.Path + ": " + e.Err.Error() }

// Unwrap returns the reason.
func (e *FileError) Unwrap() error { return e.Err }

func fileError(path string, err error) error {
	return errs.Permanent(&FileError{Path: path, Err: err})
}

var (
	// NamePattern is the pattern every package name matches.
	NamePattern = regexp.MustCompile(`^[a-z][a-z0-9-]*[a-z0-9]$`)
	// VersionPattern is the pattern every package version string matches.
	VersionPattern = regexp.MustCompile(`^[-a-zA-Z0-9.]+$`)
	// DCOSVersionPattern is the pattern of minDcosReleaseVersion.
	DCOSVersionPattern = regexp.MustCompile(`^(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))*$`)
	tagPattern         = regexp.MustCompile(`^[^\s]+$`)
)

// packagingVersions are the supported packaging formats.
var packagingVersions = map[string]bool{"2.0": true, "3.0": true, "4.0": true, "5.0": true}

// jsonType names the type of a JSON value from its first byte.
func jsonType(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	case '[':
		return "array"
	case '{':
		return "object"
	default:
		return "number"
	}
}

// problems collects the problems of one file.
type problems []string

func (p *problems) addf(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return errors.New(strings.Join(p, "; "))
}

// fields reads a package.json-like object leniently: a null value counts
// as absent for optional fields.
type fields struct {
	m    map[string]json.RawMessage
	prob *problems
}

func (f fields) present(key string) bool {
	raw, ok := f.m[key]
	return ok && jsonType(raw) != "null"
}

func (f fields) str(key string, required bool) string {
	raw, ok := f.m[key]
	if !ok || jsonType(raw) == "null" {
		if required {
			f.prob.addf("missing required field %q", key)
		}
		return ""
	}
	if jsonType(raw) != "string" {
		f.prob.addf("field %q must be a string, got %s", key, jsonType(raw))
		return ""
	}
	s, err := unquote(raw)
	if err != nil {
		f.prob.addf("field %q must be a string, got %s", key, jsonType(raw))
		return ""
	}
	return s
}

func (f fields) boolean(key string) bool {
	raw, ok := f.m[key]
	if !ok || jsonType(raw) == "null" {
		return false
	}
	switch string(raw) {
	case "true":
		return true
	case "false":
		return false
	}
	var b bool
	if jsonType(raw) != "boolean" || json.Unmarshal(raw, &b) != nil {
		f.prob.addf("field %q must be a boolean, got %s", key, jsonType(raw))
	}
	return b
}

func (f fields) strings(key string, required bool) ([]string, bool) {
	raw, ok := f.m[key]
	if !ok || jsonType(raw) == "null" {
		if required {
			f.prob.addf("missing required field %q", key)
		}
		return nil, false
	}
	items, ok := splitArray(raw)
	if !ok && (jsonType(raw) != "array" || json.Unmarshal(raw, &items) != nil) {
		f.prob.addf("field %q must be an array of strings, got %s", key, jsonType(raw))
		return nil, false
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		var s string
		var err error
		if jsonType(it) == "string" {
			s, err = unquote(it)
		}
		if jsonType(it) != "string" || err != nil {
			f.prob.addf("field %q item %d must be a string, got %s", key, i, jsonType(it))
			continue
		}
		out = append(out, s)
	}
	return out, true
}

func (f fields) typed(key, want string) {
	raw, ok := f.m[key]
	if ok && jsonType(raw) != "null" && jsonType(raw) != want {
		f.prob.addf("field %q must be %s %s, got %s", key, article(want), want, jsonType(raw))
	}
}

func article(t string) string {
	if t == "array" || t == "object" {
		return "an"
	}
	return "a"
}

// parseMetadata validates package.json fields (as the semantics document and
// the meta schema list them) and fills a Package. dirName, when not empty, is
// the name of the package directory, which must equal "name".
func parseMetadata(m map[string]json.RawMessage, dirName string) (*Package, error) {
	var prob problems
	f := fields{m: m, prob: &prob}
	p := &Package{}
	p.PackagingVersion = f.str("packagingVersion", true)
	if p.PackagingVersion != "" && !packagingVersions[p.PackagingVersion] {
		prob.addf("unsupported packagingVersion %q (want 2.0, 3.0, 4.0 or 5.0)", p.PackagingVersion)
	}
	p.Name = f.str("name", true)
	if p.Name != "" && !NamePattern.MatchString(p.Name) {
		prob.addf("name %q does not match %s", p.Name, NamePattern)
	}
	if dirName != "" && p.Name != "" && p.Name != dirName {
		prob.addf("name %q differs from its directory name %q", p.Name, dirName)
	}
	p.Version = f.str("version", true)
	if p.Version != "" && !VersionPattern.MatchString(p.Version) {
		prob.addf("version %q does not match %s", p.Version, VersionPattern)
	} else if _, ok := m["version"]; ok && p.Version == "" && jsonType(m["version"]) == "string" {
		prob.addf("version is empty")
	}
	f.str("maintainer", true)
	f.str("description", true)
	if tags, ok := f.strings("tags", true); ok {
		for _, t := range tags {
			if !tagPattern.MatchString(t) {
				prob.addf("tag %q must be one word without spaces", t)
			}
		}
	}
	f.str("scm", false)
	f.str("website", false)
	p.Framework = f.boolean("framework")
	f.boolean("selected")
	p.PreInstallNotes = f.str("preInstallNotes", false)
	p.PostInstallNotes = f.str("postInstallNotes", false)
	p.PostUninstallNotes = f.str("postUninstallNotes", false)
	f.typed("licenses", "array")
	if f.present("licenses") {
		var lic []map[string]json.RawMessage
		if json.Unmarshal(m["licenses"], &lic) != nil {
			prob.addf("field \"licenses\" must be an array of objects with name and url")
		} else {
			for i, l := range lic {
				for _, k := range []string{"name", "url"} {
					if jsonType(l[k]) != "string" {
						prob.addf("licenses[%d].%s must be a string", i, k)
					}
				}
			}
		}
	}
	if p.PackagingVersion != "2.0" {
		p.MinDcosReleaseVersion = f.str("minDcosReleaseVersion", false)
		if p.MinDcosReleaseVersion != "" && !DCOSVersionPattern.MatchString(p.MinDcosReleaseVersion) {
			prob.addf("minDcosReleaseVersion %q is not a DC/OS release version (like 1.10)", p.MinDcosReleaseVersion)
		}
		f.boolean("hasKnownIssues")
		f.typed("lastUpdated", "number")
	}
	if p.PackagingVersion == "4.0" || p.PackagingVersion == "5.0" {
		p.UpgradesFrom.Versions, p.UpgradesFrom.Declared = f.strings("upgradesFrom", false)
		p.DowngradesTo.Versions, p.DowngradesTo.Declared = f.strings("downgradesTo", false)
	}
	if p.PackagingVersion == "5.0" {
		f.typed("manager", "object")
	}
	return p, prob.err()
}

// decodeObject parses data as one JSON object into its members (the last
// of duplicate keys wins). The values share data's memory.
func decodeObject(data []byte) (map[string]json.RawMessage, error) {
	if members, ok := splitObject(data); ok {
		m := make(map[string]json.RawMessage, len(members))
		for _, mem := range members {
			m[mem.key] = mem.value
		}
		return m, nil
	}
	return decodeObjectSlow(data)
}

// decodeObjectSlow is decodeObject through encoding/json, for the error of
// a malformed document.
func decodeObjectSlow(data []byte) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			// Offset counts the offending character; point at it.
			off := se.Offset
			if strings.HasPrefix(se.Error(), "invalid character") && off > 0 {
				off--
			}
			line, col := lineCol(data, off)
			return nil, fmt.Errorf("not JSON: %v at line %d column %d", se, line, col)
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("must be a JSON object, got %s", te.Value)
		}
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if m == nil {
		return nil, fmt.Errorf("must be a JSON object, got null")
	}
	return m, nil
}

// checkObject reports whether data is one JSON object (for config.json,
// resource.json and command.json).
func checkObject(data []byte) error {
	if len(trimSpace(data)) == 0 {
		return errors.New("empty file")
	}
	if !validJSON(data) {
		_, err := decodeObject(data)
		if err == nil {
			err = errors.New("not JSON")
		}
		return err
	}
	for _, c := range data {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return nil
		}
		return fmt.Errorf("must be a JSON object, got %s", jsonType(json.RawMessage(trimSpace(data))))
	}
	return errors.New("empty file")
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	return b
}

// lineCol converts a byte offset (as json.SyntaxError reports: the number
// of bytes read before the error) into a 1-based line and column.
func lineCol(data []byte, offset int64) (int, int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	line, col := 1, 1
	for _, c := range data[:offset] {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}
