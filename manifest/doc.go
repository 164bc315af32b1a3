// Package manifest reads release manifests: one PackageRelease per file, YAML
// or JSON, decoded strictly (unknown keys, duplicate keys, wrong types and
// extra YAML documents are errors), with every problem naming the file, the
// field as a JSON path (spec.options.service.name) and the reason. A broken
// manifest marks only its own release: loading a directory returns one
// Result per file and never fails the whole set.
//
//	apiVersion: universe-operator/v1
//	kind: PackageRelease
//	metadata:
//	  name: kafka-prod
//	spec:
//	  package: kafka
//	  version: "2.9.0-2.4.0"
//	  options: {service: {name: prod/kafka}}
//	  optionsFile: options/kafka.json
//
// Exported API:
//
//	const APIVersion = "universe-operator/v1"
//	const Kind = "PackageRelease"
//
//	type Release struct {
//		APIVersion string; Kind string; Metadata Metadata; Spec Spec
//		File    string          // path of the manifest, slash-separated, relative to the repository root
//		Options json.RawMessage // effective user options: optionsFile deep-merged UNDER inline options; nil = none
//	}
//	type Metadata struct{ Name string }
//	type Spec struct {
//		Package, Version, Universe, AppID string
//		Options          json.RawMessage  // inline options as written (an object)
//		OptionsFile      string
//		Suspend, Adopt   bool
//		ProgressDeadline *strict.Duration
//		DependsOn        []string
//		Cleanup          *Cleanup        // {janitor: *bool}
//		UpgradePolicy    *UpgradePolicy  // {upgrade: *bool, downgrade: *bool}
//	}
//	func (r *Release) Name() string
//	func (r *Release) VersionSpec() string                                // "latest" when empty
//	func (r *Release) AppIDOverride() string                              // "" or the id with a leading "/"
//	func (r *Release) ProgressDeadlineOr(def time.Duration) time.Duration
//	func (r *Release) JanitorEnabled(framework bool) bool                 // cleanup.janitor, default = framework
//	func (r *Release) AllowUpgrade() bool                                 // upgradePolicy.upgrade, default true
//	func (r *Release) AllowDowngrade() bool                               // upgradePolicy.downgrade, default false
//	func (r *Release) Policy() universe.Policy                            // for universe.CheckTransition
//	func (r *Release) Digest() string                                     // sha256 of spec + effective options
//
//	type Problem struct{ File, Field, Reason string }                     // Error(): "FILE: FIELD: REASON"
//	func Parse(file string, data []byte) (*Release, []error)             // one file, no optionsFile resolution
//	func ResolveOptions(fsys fs.FS, r *Release) []error                  // read optionsFile in the repository, merge
//	func Load(opts LoadOptions) (*Set, error)                            // every manifest under a path of an fs.FS
//	type LoadOptions struct{ FS fs.FS; Path string; Workers int; Cache *Cache } // FS = repository root (os.Root FS or git TreeFS)
//	type Cache struct{ ... }                                             // parse results by (file, content hash); zero value ready
//	func (c *Cache) Hits() int
//	func LoadDir(dir, sub string) (*Set, error)                          // Load over os.OpenRoot(dir)
//	type Set struct{ Results []*Result }                                 // sorted by file
//	type Result struct{ File, Name string; Release *Release; Problems []error }
//	func (s *Set) Releases() []*Release                                  // the valid ones, by name
//	func (s *Set) Get(name string) *Result
//	func (s *Set) Problems() []error
//	func (s *Set) Names() []string                                       // every release name present, valid or not
//	func (s *Set) Unnamed() []string                                     // files whose release name is unknown
//	func CheckOptions(r *Release, pkg *universe.Package) error           // render.ValidateOptions as a *Problem
//	func CheckDependencies(rels []*Release, present ...string) map[string][]error // unknown targets, cycles; by release name
//	func RenderProblem(r *Release, pkg *universe.Package, err error) error // a render.Render failure as *Problem(s)
//	func ValidName(name string) error
//
// Rules:
//   - metadata.name and every dependsOn entry: a DNS label (RFC 1123): 1-63
//     characters of a-z, 0-9 and '-', starting and ending with a letter or
//     digit. Names are unique across the set: a duplicate marks BOTH files,
//     each message naming the other file.
//   - spec.package: a Universe package name, ^[a-z][a-z0-9-]*[a-z0-9]$.
//   - spec.version: "", "latest", an exact version string or a constraint
//     (left to the universe package's selection).
//   - spec.appId: Marathon app id path segments (lower-case letters, digits,
//     '-', '.'), a leading '/' is added.
//   - spec.optionsFile: a path relative to the REPOSITORY ROOT (not to the
//     manifest), no '..' element, not absolute, a regular file that may be a
//     symlink only when it stays inside the repository (checked on the real
//     file system through os.Root for directories, and on the Git tree for
//     Git sources), JSON or YAML holding an object, at most 1 MiB. It is deep-merged under spec.options: objects merge recursively,
//     inline values (scalars, arrays, null) win.
//   - Files: every *.yaml, *.yml and *.json under the releases path is a
//     manifest, except hidden files/directories (".name") and files that a
//     manifest names as its optionsFile.
//   - The prune guard: a name in Names() that has no valid Release must not be
//     pruned (its manifest is broken, not removed), and when Unnamed() is not
//     empty the controller cannot know which release a broken file was, so it
//     should refuse to prune at all.
package manifest
