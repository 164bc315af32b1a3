package universe

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/universe-operator/universe-operator/errs"
)

// Query asks Select for one revision.
type Query struct {
	// Name is the package name (required).
	Name string
	// Version is "" or "latest", an exact version string, or a constraint
	// (see ParseConstraint). Ignored when Release is set.
	Version string
	// Release, when not nil, asks for exactly this releaseVersion.
	Release *int
	// Universe, when not empty, pins the repository by name; otherwise
	// repositories are searched in priority order.
	Universe string
	// DCOSVersion, when not empty, is the cluster's DC/OS version: revisions
	// whose minDcosReleaseVersion is newer are not candidates.
	DCOSVersion string
}

// maxListed bounds the versions listed in a "not found" message.
const maxListed = 12

// Select chooses the revision a query asks for, from repositories in
// priority order (first = highest):
//   - Release set: that releaseVersion, in the first repository having it;
//   - Version "" or "latest": the highest releaseVersion in the first
//     repository that has the name (only DC/OS-compatible revisions count);
//   - an exact version string: the highest releaseVersion with exactly that
//     version, in the first repository having one (a spec that some revision
//     carries literally is always exact, even if it looks like a constraint);
//   - a constraint: the highest releaseVersion whose version matches, in the
//     first repository having a match.
//
// Errors are errs.Permanent and say what is available, what was skipped and
// why (a version string that does not parse, a pre-release, a DC/OS version
// too old for the revision).
func Select(repos []*Repository, q Query) (*Package, error) {
	p, err := selectPackage(repos, q)
	if err != nil {
		return nil, errs.Permanent(err)
	}
	return p, nil
}

func selectPackage(repos []*Repository, q Query) (*Package, error) {
	if q.Name == "" {
		return nil, errors.New("no package name given")
	}
	var dcos []int64
	if q.DCOSVersion != "" {
		var err error
		if dcos, err = dcosCore(q.DCOSVersion); err != nil {
			return nil, err
		}
	}
	searched := repos
	if q.Universe != "" {
		searched = nil
		var names []string
		for _, r := range repos {
			if r == nil {
				continue
			}
			names = append(names, strconv.Quote(r.Name))
			if r.Name == q.Universe {
				searched = []*Repository{r}
				break
			}
		}
		if searched == nil {
			return nil, fmt.Errorf("no universe named %q (have %s)", q.Universe, orNone(names))
		}
	}
	var having []*Repository
	var searchedNames []string
	for _, r := range searched {
		if r == nil {
			continue
		}
		searchedNames = append(searchedNames, strconv.Quote(r.Name))
		if len(r.Revisions(q.Name)) > 0 {
			having = append(having, r)
		}
	}
	if len(having) == 0 {
		return nil, fmt.Errorf("package %q not found in universe %s", q.Name, orNone(searchedNames))
	}
	compatible := func(p *Package) (bool, string) {
		if dcos == nil || p.MinDcosReleaseVersion == "" {
			return true, ""
		}
		min, err := dcosCore(p.MinDcosReleaseVersion)
		if err != nil {
			return false, fmt.Sprintf("%s has an unreadable minDcosReleaseVersion %q", p, p.MinDcosReleaseVersion)
		}
		if compareCore(min, dcos) > 0 {
			return false, fmt.Sprintf("%s requires DC/OS %s or newer (minDcosReleaseVersion), the cluster runs %s", p, p.MinDcosReleaseVersion, q.DCOSVersion)
		}
		return true, ""
	}

	switch {
	case q.Release != nil:
		for _, r := range having {
			if p := r.Get(q.Name, *q.Release); p != nil {
				if ok, why := compatible(p); !ok {
					return nil, errors.New(why)
				}
				return p, nil
			}
		}
		return nil, fmt.Errorf("package %q has no release %d; available: %s", q.Name, *q.Release, listRevisions(having[0].Revisions(q.Name)))

	case q.Version == "" || q.Version == "latest":
		revs := having[0].Revisions(q.Name)
		for i := len(revs) - 1; i >= 0; i-- {
			if ok, _ := compatible(revs[i]); ok {
				return revs[i], nil
			}
		}
		// Name the least demanding revision.
		var easiest *Package
		var easiestMin []int64
		for _, p := range revs {
			if min, err := dcosCore(p.MinDcosReleaseVersion); err == nil && (easiest == nil || compareCore(min, easiestMin) < 0) {
				easiest, easiestMin = p, min
			}
		}
		msg := fmt.Sprintf("no revision of %q in universe %q runs on DC/OS %s", q.Name, having[0].Name, q.DCOSVersion)
		if easiest != nil {
			msg += fmt.Sprintf(": the least demanding, %s, requires DC/OS %s or newer (minDcosReleaseVersion)", easiest, easiest.MinDcosReleaseVersion)
		}
		return nil, errors.New(msg)
	}

	// Exact version string (always tried first).
	var exactWhy string
	for _, r := range having {
		revs := r.Revisions(q.Name)
		found := false
		for i := len(revs) - 1; i >= 0; i-- {
			if revs[i].Version != q.Version {
				continue
			}
			found = true
			ok, why := compatible(revs[i])
			if ok {
				return revs[i], nil
			}
			if exactWhy == "" {
				exactWhy = why
			}
		}
		if found {
			break // the first repository with the version decides
		}
	}
	if exactWhy != "" {
		return nil, errors.New(exactWhy)
	}
	if !IsConstraint(q.Version) {
		return nil, fmt.Errorf("package %q has no version %q (an exact version string; use a constraint like \">=1.2\" for ranges); available: %s", q.Name, q.Version, listRevisions(having[0].Revisions(q.Name)))
	}

	c, err := ParseConstraint(q.Version)
	if err != nil {
		return nil, err
	}
	var unparsed, pre, tooNew []string
	for _, r := range having {
		revs := r.Revisions(q.Name)
		for i := len(revs) - 1; i >= 0; i-- {
			p := revs[i]
			v, err := ParseVersion(p.Version)
			if err != nil {
				unparsed = append(unparsed, fmt.Sprintf("%q (rev %d)", p.Version, p.ReleaseVersion))
				continue
			}
			if v.PreRelease && !c.pre {
				if c.MatchVersion(Version{Text: v.Text, Core: v.Core, Suffix: v.Suffix, HasSuffix: v.HasSuffix}) {
					pre = append(pre, fmt.Sprintf("%s (rev %d)", p.Version, p.ReleaseVersion))
				}
				continue
			}
			if !c.MatchVersion(v) {
				continue
			}
			if ok, _ := compatible(p); !ok {
				tooNew = append(tooNew, fmt.Sprintf("%s (rev %d, needs DC/OS %s)", p.Version, p.ReleaseVersion, p.MinDcosReleaseVersion))
				continue
			}
			return p, nil
		}
	}
	msg := fmt.Sprintf("no revision of %q matches %q; available: %s", q.Name, q.Version, listRevisions(having[0].Revisions(q.Name)))
	if len(tooNew) > 0 {
		msg += fmt.Sprintf("; matching but too new for DC/OS %s: %s", q.DCOSVersion, limitList(tooNew))
	}
	if len(pre) > 0 {
		msg += "; matching pre-releases, excluded unless the constraint names a pre-release: " + limitList(pre)
	}
	if len(unparsed) > 0 {
		msg += "; skipped, version string not comparable: " + limitList(unparsed)
	}
	return nil, errors.New(msg)
}

// listRevisions lists the newest revisions as `2.9.0-2.4.0 (rev 11)`.
func listRevisions(revs []*Package) string {
	items := make([]string, 0, len(revs))
	for i := len(revs) - 1; i >= 0; i-- {
		items = append(items, fmt.Sprintf("%s (rev %d)", revs[i].Version, revs[i].ReleaseVersion))
	}
	return limitList(items)
}

func limitList(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	if len(items) > maxListed {
		return strings.Join(items[:maxListed], ", ") + fmt.Sprintf(" and %d more", len(items)-maxListed)
	}
	return strings.Join(items, ", ")
}

func orNone(items []string) string {
	if len(items) == 0 {
		return "(none)"
	}
	return strings.Join(items, ", ")
}
