// Package universe is the model of DC/OS Universe packages: loading package
// repositories, choosing a package revision, and deciding whether a running
// revision may move to another one. It does no rendering (see package
// render) and keeps I/O to the loaders (LoadDir, LoadFS, FetchServed).
//
// # Model
//
// A *Package is ONE revision of a package (`repo/packages/<L>/<name>/<rev>/`):
// Name, Version, ReleaseVersion, PackagingVersion ("2.0".."5.0"), Definition
// (package.json bytes as read), the parsed metadata (Framework, the three
// notes, MinDcosReleaseVersion, UpgradesFrom/DowngradesTo as a VersionList
// whose Declared field tells an absent list from `[]`), Config, Template,
// Resource and Command (nil when the file is absent), Location (the revision
// directory, or URL#packages[i] for the served form), and Repository/Source
// (the repository's name and URI, the DCOS_PACKAGE_SOURCE value).
// (*Package).RepoJSON returns the package in the served repository format
// (package.json members, releaseVersion, marathon.v2AppMustacheTemplate in
// base64, config, resource, command), the document DCOS_PACKAGE_DEFINITION
// carries; (*Package).DefinitionLabel encodes that label and
// DecodeDefinitionLabel reads one back (the controller uses it to know what
// is installed).
//
// A *Repository holds the revisions of a source: Name, Source, Names(),
// Revisions(name) ascending by releaseVersion, Get(name, release),
// Latest(name), Packages(), Len(). NewRepository builds one from revisions.
//
// # Loading
//
//	LoadDir(dir string, opts ...LoadOption) (*Repository, []error)
//	LoadFS(fsys fs.FS, opts ...LoadOption) (*Repository, []error)
//	LoadServed(data []byte, opts ...LoadOption) (*Repository, []error)
//	FetchServed(ctx, client *http.Client, url string, opts ...LoadOption) (*Repository, []error)
//
// dir (or the root of fsys) is a `packages` directory; LoadDir keeps
// symbolic links from leading outside it. Every malformed file is reported
// as one error (a *FileError naming the path and the reason, wrapped with
// errs.Permanent) and its revision is left out; the rest loads. A nil
// *Repository means the source could not be read at all (the caller must
// then keep its last good copy and must not prune); FetchServed marks
// network and 5xx failures errs.Transient. Options: WithName, WithSource,
// WithLocationPrefix.
//
// # Choosing a revision
//
//	Select(repos []*Repository, q Query) (*Package, error)
//
// Query{Name, Version, Release, Universe, DCOSVersion}. Revisions are ordered
// by releaseVersion only; version strings are never used for ordering.
//   - Version "" or "latest": the highest releaseVersion in the first
//     repository (priority order, or the one named by Universe) that has the
//     name.
//   - An exact version string: the highest releaseVersion carrying exactly
//     that string, in the first repository that has one. A spec that some
//     revision carries literally is always exact.
//   - A constraint (">=2.8 <3", "~2.9", "^1.2", "2.x", "<1 || >=3"; the
//     syntax, the parsing of Universe version strings and the comparison
//     rules are defined in version.go, see ParseConstraint and
//     ParseVersion): the highest releaseVersion whose version satisfies it,
//     in the first repository that has one. Version strings that do not
//     parse ("stub-universe", "3.1.x") never match a constraint, and
//     pre-releases match only constraints naming one; a failed selection
//     lists what was skipped and why.
//   - Release (non-nil): exactly that releaseVersion.
//
// With DCOSVersion set, revisions whose minDcosReleaseVersion is newer are
// not candidates; an exact request for one fails saying why. Every "not
// found" error is errs.Permanent and lists what is available.
//
// # Moving between revisions
//
//	CheckTransition(installed, candidate *Package, policy Policy) error
//	Classify(installed, candidate *Package) Move
//
// Upgrade (higher releaseVersion): allowed when the candidate's upgradesFrom
// contains "*" or the installed version string; downgrade: allowed when the
// INSTALLED package's downgradesTo contains "*" or the candidate's version.
// `[]` allows nothing. When the list is not declared (absent, or packaging
// 2.0/3.0) the Policy decides; its zero value is the default: upgrades
// allowed, downgrades refused. A refusal is a *TransitionError
// (errs.Permanent) with the reason.
package universe
