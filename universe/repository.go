package universe

import (
	"fmt"
	"sort"
)

// Repository is one package source: every revision it holds, by name.
type Repository struct {
	// Name identifies the repository in manifests ("universe" pins it) and in
	// messages.
	Name string
	// Source is the repository's URI, recorded in DCOS_PACKAGE_SOURCE.
	Source string

	byName map[string][]*Package // ascending releaseVersion
	names  []string              // sorted
	all    []*Package            // by name, then releaseVersion
}

// NewRepository builds a repository from revisions in any order. Two
// revisions with the same name and releaseVersion are a conflict: the first
// one (in the given order) is kept and the other is reported. Each package's
// Repository and Source fields are set to name and source.
func NewRepository(name, source string, pkgs []*Package) (*Repository, []error) {
	r := &Repository{Name: name, Source: source, byName: map[string][]*Package{}}
	var problems []error
	seen := map[string]map[int]*Package{}
	for _, p := range pkgs {
		if p == nil {
			continue
		}
		revs := seen[p.Name]
		if revs == nil {
			revs = map[int]*Package{}
			seen[p.Name] = revs
		}
		if prev, dup := revs[p.ReleaseVersion]; dup {
			problems = append(problems, fileError(p.Location, fmt.Errorf("duplicate revision: %s is also at %s", p, prev.Location)))
			continue
		}
		revs[p.ReleaseVersion] = p
		p.Repository = name
		p.Source = source
		if p.memo == nil {
			p.memo = &memo{}
		}
		r.all = append(r.all, p)
	}
	sortPackages(r.all)
	for _, p := range r.all {
		if len(r.byName[p.Name]) == 0 {
			r.names = append(r.names, p.Name)
		}
		r.byName[p.Name] = append(r.byName[p.Name], p)
	}
	sort.Strings(r.names)
	return r, problems
}

// Revisions returns the revisions of the named package in ascending
// releaseVersion order, or nil. The slice must not be modified.
func (r *Repository) Revisions(name string) []*Package {
	if r == nil {
		return nil
	}
	return r.byName[name]
}

// Get returns the revision with the given releaseVersion, or nil.
func (r *Repository) Get(name string, release int) *Package {
	for _, p := range r.Revisions(name) {
		if p.ReleaseVersion == release {
			return p
		}
	}
	return nil
}

// Latest returns the revision with the highest releaseVersion, or nil.
func (r *Repository) Latest(name string) *Package {
	revs := r.Revisions(name)
	if len(revs) == 0 {
		return nil
	}
	return revs[len(revs)-1]
}

// Names returns the package names, sorted. The slice must not be modified.
func (r *Repository) Names() []string {
	if r == nil {
		return nil
	}
	return r.names
}

// Packages returns every revision, ordered by name then releaseVersion. The
// slice must not be modified.
func (r *Repository) Packages() []*Package {
	if r == nil {
		return nil
	}
	return r.all
}

// Len returns the number of revisions.
func (r *Repository) Len() int {
	if r == nil {
		return 0
	}
	return len(r.all)
}
