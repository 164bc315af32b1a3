package manifest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/universe-operator/universe-operator/config/strict"
	"github.com/universe-operator/universe-operator/universe"
)

// APIVersion and Kind are the only accepted apiVersion and kind.
const (
	APIVersion = "universe-operator/v1"
	Kind       = "PackageRelease"
)

// Release is one release manifest.
type Release struct {
	// APIVersion must be "universe-operator/v1".
	APIVersion string `json:"apiVersion"`
	// Kind must be "PackageRelease".
	Kind string `json:"kind"`
	// Metadata names the release.
	Metadata Metadata `json:"metadata"`
	// Spec says what to run.
	Spec Spec `json:"spec"`

	// File is the manifest's path, slash-separated, relative to the
	// repository root (not a key).
	File string `json:"-"`
	// Options are the effective user options: the optionsFile deep-merged
	// under spec.options, canonical JSON (sorted keys, compact); nil when
	// the release gives no options (not a key).
	Options json.RawMessage `json:"-"`
}

// Metadata identifies a release.
type Metadata struct {
	// Name is the release's unique name: a DNS label (see ValidName). It is
	// the key of everything the controller records and the value of the
	// UNIVERSE_OPERATOR_RELEASE ownership label.
	Name string `json:"name"`
}

// Spec is what a release asks for.
type Spec struct {
	// Package is the Universe package name.
	Package string `json:"package"`
	// Version is an exact version string, "latest" (the default when empty)
	// or a constraint such as ">=2.8 <3".
	Version string `json:"version,omitempty"`
	// Universe pins a universe source by name; empty = priority order.
	Universe string `json:"universe,omitempty"`
	// AppID overrides the app id the template sets.
	AppID string `json:"appId,omitempty"`
	// Options are inline user options (a JSON object).
	Options json.RawMessage `json:"options,omitempty"`
	// OptionsFile names a JSON or YAML file of options in the same
	// repository, relative to its root, merged under Options.
	OptionsFile string `json:"optionsFile,omitempty"`
	// Suspend leaves the release alone: no update, no deletion.
	Suspend bool `json:"suspend,omitempty"`
	// ProgressDeadline overrides the controller's progress_deadline.
	ProgressDeadline *strict.Duration `json:"progressDeadline,omitempty"`
	// DependsOn names releases that must be Synced and Healthy first.
	DependsOn []string `json:"dependsOn,omitempty"`
	// Cleanup says what happens after the app is removed.
	Cleanup *Cleanup `json:"cleanup,omitempty"`
	// Adopt lets the controller take over an existing app with the same id
	// that carries no ownership label (never an app owned by another release).
	Adopt bool `json:"adopt,omitempty"`
	// UpgradePolicy decides version moves for packages that declare no
	// upgradesFrom/downgradesTo (default: upgrades yes, downgrades no).
	UpgradePolicy *UpgradePolicy `json:"upgradePolicy,omitempty"`
}

// Cleanup configures what happens when the release is removed.
type Cleanup struct {
	// Janitor runs the janitor steps (destroy volumes, unreserve resources,
	// delete the ZooKeeper node) after the app is gone. Default: true for
	// packages with "framework": true, false otherwise.
	Janitor *bool `json:"janitor,omitempty"`
}

// UpgradePolicy is the release's policy for packages without a declared
// upgrade path.
type UpgradePolicy struct {
	// Upgrade allows moving to a higher releaseVersion (default true).
	Upgrade *bool `json:"upgrade,omitempty"`
	// Downgrade allows moving to a lower releaseVersion (default false).
	Downgrade *bool `json:"downgrade,omitempty"`
}

// Name returns metadata.name.
func (r *Release) Name() string { return r.Metadata.Name }

// VersionSpec returns spec.version, "latest" when empty.
func (r *Release) VersionSpec() string {
	if v := strings.TrimSpace(r.Spec.Version); v != "" {
		return v
	}
	return "latest"
}

// AppIDOverride returns spec.appId with a leading "/", or "".
func (r *Release) AppIDOverride() string {
	if r.Spec.AppID == "" {
		return ""
	}
	return "/" + strings.TrimPrefix(r.Spec.AppID, "/")
}

// ProgressDeadlineOr returns spec.progressDeadline, or def when unset.
func (r *Release) ProgressDeadlineOr(def time.Duration) time.Duration {
	if r.Spec.ProgressDeadline != nil && r.Spec.ProgressDeadline.Duration > 0 {
		return r.Spec.ProgressDeadline.Duration
	}
	return def
}

// JanitorEnabled returns spec.cleanup.janitor, defaulting to framework
// (the package's "framework" flag).
func (r *Release) JanitorEnabled(framework bool) bool {
	if r.Spec.Cleanup != nil && r.Spec.Cleanup.Janitor != nil {
		return *r.Spec.Cleanup.Janitor
	}
	return framework
}

// AllowUpgrade returns spec.upgradePolicy.upgrade (default true).
func (r *Release) AllowUpgrade() bool {
	if p := r.Spec.UpgradePolicy; p != nil && p.Upgrade != nil {
		return *p.Upgrade
	}
	return true
}

// AllowDowngrade returns spec.upgradePolicy.downgrade (default false).
func (r *Release) AllowDowngrade() bool {
	if p := r.Spec.UpgradePolicy; p != nil && p.Downgrade != nil {
		return *p.Downgrade
	}
	return false
}

// Policy returns the release's policy for packages without a declared
// upgrade path, as the universe package takes it.
func (r *Release) Policy() universe.Policy {
	return universe.Policy{RefuseUndeclaredUpgrades: !r.AllowUpgrade(), AllowUndeclaredDowngrades: r.AllowDowngrade()}
}

// Digest returns the hex sha256 of the spec (inline options replaced by the
// effective options). Two releases with the same digest ask for the same
// thing; the controller uses it to remember a failed (revision, input).
func (r *Release) Digest() string {
	s := r.Spec
	s.Options = r.Options
	s.OptionsFile = ""
	b, _ := json.Marshal(struct {
		Name string `json:"name"`
		Spec Spec   `json:"spec"`
	}{r.Metadata.Name, s})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Problem is one thing wrong with a manifest.
type Problem struct {
	// File is the manifest (or options file) path.
	File string
	// Field is the JSON path of the field, e.g. spec.options.service.name;
	// "" = the file as a whole.
	Field string
	// Reason says what is wrong.
	Reason string
}

// Error returns "FILE: FIELD: REASON".
func (p *Problem) Error() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		b.WriteString(": ")
	}
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Reason)
	return b.String()
}

// problems collects *Problem values for one file.
// notManifest starts the one problem of a file that parses but has neither
// apiVersion nor kind: an options file, or a stray document.
const notManifest = "not a release manifest (no apiVersion or kind)"

// onlyNotManifest reports whether a file's only problem is notManifest.
func onlyNotManifest(list []error) bool {
	if len(list) != 1 {
		return false
	}
	var p *Problem
	return errors.As(list[0], &p) && p.Field == "" && strings.HasPrefix(p.Reason, notManifest)
}

type problems struct {
	file string
	list []error
}

func (p *problems) add(field, format string, args ...any) {
	p.list = append(p.list, &Problem{File: p.file, Field: field, Reason: fmt.Sprintf(format, args...)})
}

const maxManifest = 1 << 20

// The patterns names are checked against, as regular expressions (the
// tests hold the matchers below to them; the matchers are what the checks
// use, being much cheaper on thousands of manifests).
const (
	namePattern     = `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	appSegPattern   = `^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])$`
	versionPattern  = `^[-a-zA-Z0-9.]+$`
	universePattern = namePattern
)

// isLabel matches namePattern: lower-case letters, digits and '-', not
// starting or ending with '-'.
func isLabel(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// isAppSegment matches appSegPattern: labels separated by dots.
func isAppSegment(s string) bool {
	for {
		dot := strings.IndexByte(s, '.')
		if dot < 0 {
			return isLabel(s)
		}
		if !isLabel(s[:dot]) {
			return false
		}
		s = s[dot+1:]
	}
}

// isVersionText matches versionPattern.
func isVersionText(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// isPackageName matches universe.NamePattern (^[a-z][a-z0-9-]*[a-z0-9]$).
func isPackageName(s string) bool {
	if len(s) < 2 || s[0] < 'a' || s[0] > 'z' || s[len(s)-1] == '-' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// ValidName checks a release name: a DNS label (RFC 1123): 1 to 63
// characters, lower-case letters, digits and '-', starting and ending with a
// letter or digit.
func ValidName(name string) error {
	switch {
	case name == "":
		return errors.New("required")
	case len(name) > 63:
		return fmt.Errorf("%q is longer than 63 characters", name)
	case !isLabel(name):
		return fmt.Errorf("%q is not a valid name: use lower-case letters, digits and '-', starting and ending with a letter or digit (a DNS label)", name)
	}
	return nil
}

// formatOf returns the decoding format for a file name.
func formatOf(file string) string {
	switch strings.ToLower(path.Ext(file)) {
	case ".json":
		return "json"
	case ".yaml", ".yml":
		return "yaml"
	}
	return ""
}

// Parse decodes and checks one manifest. It does not read optionsFile (see
// ResolveOptions); Release.Options holds the inline options. The release is
// nil when there is any problem.
func Parse(file string, data []byte) (*Release, []error) {
	ps := &problems{file: file}
	if len(data) > maxManifest {
		ps.add("", "larger than %d bytes", maxManifest)
		return nil, ps.list
	}
	var tree any
	if formatOf(file) == "yaml" {
		tree, _ = fastYAML(data) // nil when not in its subset
	}
	if tree == nil {
		var err error
		if tree, err = strict.ParseDocument(data, formatOf(file)); err != nil {
			ps.add("", "%v", err)
			return nil, ps.list
		}
	}
	if obj, ok := tree.(*strict.Object); ok {
		_, hasAPI := obj.Values["apiVersion"]
		_, hasKind := obj.Values["kind"]
		if !hasAPI && !hasKind {
			ps.add("", notManifest+": every .yaml, .yml and .json file "+
				"under the releases path must be a %s %s, or the optionsFile of one", APIVersion, Kind)
			return nil, ps.list
		}
	}
	var r Release
	if !decodeFast(tree, &r) {
		for _, p := range strict.DecodeTree(tree, &r, strict.Options{}) {
			ps.add(p.Path, "%s", p.Reason)
		}
	}
	if len(ps.list) > 0 {
		return nil, ps.list
	}
	r.File = file
	r.check(ps)
	if len(ps.list) > 0 {
		return nil, ps.list
	}
	if len(r.Spec.Options) > 0 {
		// Already canonical: the decoder writes raw values compactly with
		// sorted keys, so reformatting a manifest does not change them.
		r.Options = r.Spec.Options
	}
	return &r, nil
}

// check validates the decoded manifest's values.
func (r *Release) check(ps *problems) {
	switch r.APIVersion {
	case APIVersion:
	case "":
		ps.add("apiVersion", "required: %s", APIVersion)
	default:
		ps.add("apiVersion", "must be %s, not %q", APIVersion, r.APIVersion)
	}
	switch r.Kind {
	case Kind:
	case "":
		ps.add("kind", "required: %s", Kind)
	default:
		ps.add("kind", "must be %s, not %q", Kind, r.Kind)
	}
	if err := ValidName(r.Metadata.Name); err != nil {
		ps.add("metadata.name", "%v", err)
	}
	s := &r.Spec
	switch {
	case s.Package == "":
		ps.add("spec.package", "required")
	case !isPackageName(s.Package):
		ps.add("spec.package", "%q is not a package name (lower-case letters, digits and '-', starting with a letter)", s.Package)
	}
	if v := s.Version; v != "" {
		if err := checkVersion(v); err != nil {
			ps.add("spec.version", "%v", err)
		}
	}
	if s.Universe != "" && !isLabel(s.Universe) {
		ps.add("spec.universe", "%q is not a universe source name", s.Universe)
	}
	if s.AppID != "" {
		if err := checkAppID(s.AppID); err != nil {
			ps.add("spec.appId", "%v", err)
		}
	}
	if len(s.Options) > 0 {
		t := bytes.TrimSpace(s.Options)
		switch {
		case bytes.Equal(t, []byte("null")):
			s.Options = nil
		case len(t) == 0 || t[0] != '{':
			ps.add("spec.options", "must be an object")
		}
	}
	if s.OptionsFile != "" {
		if err := checkRelPath(s.OptionsFile); err != nil {
			ps.add("spec.optionsFile", "%v", err)
		}
	}
	if s.ProgressDeadline != nil && s.ProgressDeadline.Duration < time.Second {
		ps.add("spec.progressDeadline", "must be at least 1s, not %s", s.ProgressDeadline.Duration)
	}
	seen := map[string]int{}
	for i, d := range s.DependsOn {
		f := strict.Index("spec.dependsOn", i)
		if err := ValidName(d); err != nil {
			ps.add(f, "%v", err)
			continue
		}
		if d == r.Metadata.Name {
			ps.add(f, "a release cannot depend on itself")
		}
		if j, dup := seen[d]; dup {
			ps.add(f, "%q is listed twice (also spec.dependsOn[%d])", d, j)
		}
		seen[d] = i
	}
}

// checkVersion accepts "latest", an exact version string (the pattern of
// package.json "version") or a constraint the universe package parses.
func checkVersion(v string) error {
	if strings.TrimSpace(v) != v {
		return fmt.Errorf("%q has leading or trailing spaces", v)
	}
	if universe.IsConstraint(v) {
		if _, err := universe.ParseConstraint(v); err != nil {
			return err
		}
		return nil
	}
	if v == "latest" || isVersionText(v) {
		return nil
	}
	return fmt.Errorf("%q is neither \"latest\", an exact version string (letters, digits, '.', '-') nor a constraint such as \">=2.8 <3\"", v)
}

// checkAppID checks a Marathon app id (absolute or relative path of
// segments, each lower-case letters, digits, '-' and '.').
func checkAppID(id string) error {
	p := strings.TrimPrefix(id, "/")
	if p == "" {
		return errors.New("must name an app, not the root group")
	}
	for _, seg := range strings.Split(p, "/") {
		switch {
		case seg == "":
			return fmt.Errorf("%q has an empty path segment", id)
		case seg == "." || seg == "..":
			return fmt.Errorf("%q must not contain %q segments", id, seg)
		case !isAppSegment(seg):
			return fmt.Errorf("%q is not a valid Marathon app id: segment %q must be lower-case letters, digits, '-' and '.', starting and ending with a letter or digit", id, seg)
		}
	}
	return nil
}

// checkRelPath checks a repository-relative path lexically: not absolute,
// no "..", no back slashes or NUL.
func checkRelPath(p string) error {
	switch {
	case strings.HasPrefix(p, "/") || (len(p) > 1 && p[1] == ':'):
		return fmt.Errorf("%q is absolute: give a path relative to the repository root", p)
	case strings.ContainsAny(p, "\\\x00"):
		return fmt.Errorf("%q must use '/' as the separator and no NUL", p)
	case hasDotDot(p):
		return fmt.Errorf("%q contains '..': the file must be inside the repository", p)
	case path.Clean(p) == ".":
		return fmt.Errorf("%q does not name a file", p)
	}
	return nil
}

// hasDotDot reports whether a slash path has a ".." element.
func hasDotDot(p string) bool {
	for _, e := range strings.Split(p, "/") {
		if e == ".." {
			return true
		}
	}
	return false
}

// decodeNumbers decodes JSON keeping numbers as json.Number.
func decodeNumbers(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	return v, nil
}

// encode writes v compactly without HTML escaping (maps sorted by key).
func encode(v any) (json.RawMessage, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// deepMerge merges override into base: objects merge recursively, any
// other override value (scalar, array, null) replaces.
func deepMerge(base, override any) any {
	bm, ok1 := base.(map[string]any)
	om, ok2 := override.(map[string]any)
	if !ok1 || !ok2 {
		return override
	}
	out := make(map[string]any, len(bm)+len(om))
	for k, v := range bm {
		out[k] = v
	}
	for k, v := range om {
		if bv, ok := out[k]; ok {
			out[k] = deepMerge(bv, v)
		} else {
			out[k] = v
		}
	}
	return out
}
