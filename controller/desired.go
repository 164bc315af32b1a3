package controller

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/universe-operator/universe-operator/api"
	"github.com/universe-operator/universe-operator/errs"
	"github.com/universe-operator/universe-operator/manifest"
	"github.com/universe-operator/universe-operator/reconcile"
	"github.com/universe-operator/universe-operator/render"
	"github.com/universe-operator/universe-operator/universe"
)

// Reasons of release errors (api.Error.Reason).
const (
	ReasonManifestInvalid  = "ManifestInvalid"
	ReasonPackageNotFound  = "PackageNotFound"
	ReasonOptionsInvalid   = "OptionsInvalid"
	ReasonRenderFailed     = "RenderFailed"
	ReasonNoTemplate       = "NoTemplate"
	ReasonAppIDTaken       = "AppIDTaken"
	ReasonAppIDConflict    = "AppIDConflict"
	ReasonMarathonRejected = "MarathonRejected"
	ReasonMarathonError    = "MarathonUnavailable"
	ReasonUnauthorized     = "Unauthorized"
	ReasonDeploymentLocked = "DeploymentInFlight"
	ReasonUninstallFailed  = "UninstallFailed"
	ReasonPruneRefused     = "PruneRefused"
)

// desiredEntry is what one declared release wants, computed from the
// inputs in force: immutable once built.
type desiredEntry struct {
	name   string
	rel    *manifest.Release // nil when the manifest is broken
	file   string
	pkg    *universe.Package // nil when not resolved
	app    json.RawMessage   // rendered and stamped
	hash   string
	appID  string // canonical
	err    error  // permanent: broken manifest, unknown package/version, render failure
	reason string // api reason of err

	// fp fingerprints every input of the release (manifest content,
	// resolved revision and its source commit, options, rendered hash):
	// a permanent failure is not retried until it changes.
	fp string

	manifestRev string
	universeRev string
	notes       api.Notes
	icon        string

	// waitSource says why the release must not be changed yet: a universe
	// source that comes first (or is the one it names) has not loaded, so
	// the package it resolved to may not be the one it should be.
	waitSource string

	// render memo
	pkgDigest string
	optsKey   string
}

// world is the desired state of one generation of inputs.
type world struct {
	gen     uint64
	in      *Inputs
	desired map[string]*desiredEntry // every declared name (valid or broken)
	byApp   map[string][]string      // canonical app id -> releases wanting it
	// healthy: every source loaded fine this time and every manifest has
	// a readable name; only then may anything be pruned.
	healthy bool
	// unhealthyWhy says why not healthy.
	unhealthyWhy string
}

// buildWorld computes the desired state from in, reusing prev's entries
// (and renders) for releases whose inputs did not change.
func (c *Controller) buildWorld(in *Inputs, prev *world, gen uint64) *world {
	w := &world{gen: gen, in: in, desired: map[string]*desiredEntry{}, byApp: map[string][]string{}}
	w.healthy = in.Healthy
	if !in.Healthy {
		var bad []string
		for _, s := range in.Sources {
			if !s.Healthy {
				msg := s.Role + " source " + s.Name
				if s.Error != "" {
					msg += ": " + s.Error
				}
				bad = append(bad, msg)
			}
		}
		w.unhealthyWhy = "a source failed to load: " + strings.Join(bad, "; ")
		if len(bad) == 0 {
			w.unhealthyWhy = "the sources have not loaded yet"
		}
	}
	if in.Releases == nil {
		w.healthy = false
		if w.unhealthyWhy == "" {
			w.unhealthyWhy = "the releases have not loaded yet"
		}
		return w
	}
	if un := in.Releases.Unnamed(); len(un) > 0 {
		w.healthy = false
		msg := "manifests whose release name cannot be read: " + strings.Join(un, ", ")
		if w.unhealthyWhy != "" {
			w.unhealthyWhy += "; " + msg
		} else {
			w.unhealthyWhy = msg
		}
	}
	sameRepos := prev != nil && prev.in != nil && sameRepositories(prev.in.Repositories, in.Repositories) &&
		equalMaps(prev.in.UniverseRevisions, in.UniverseRevisions) && slices.Equal(prev.in.Unloaded, in.Unloaded)

	type job struct {
		name string
		res  *manifest.Result
		old  *desiredEntry
	}
	var jobs []job
	for _, name := range in.Releases.Names() {
		res := in.Releases.Get(name)
		var old *desiredEntry
		if prev != nil {
			old = prev.desired[name]
		}
		if old != nil && sameRepos && res != nil && res.Release != nil && old.rel == res.Release &&
			old.manifestRev == in.ReleasesRevision {
			w.desired[name] = old
			continue
		}
		jobs = append(jobs, job{name, res, old})
	}
	if len(jobs) > 0 {
		out := make([]*desiredEntry, len(jobs))
		workers := min(runtime.GOMAXPROCS(0), len(jobs))
		var wg sync.WaitGroup
		next := make(chan int)
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					j := jobs[i]
					out[i] = c.desire(in, j.name, j.res, j.old)
				}
			}()
		}
		for i := range jobs {
			next <- i
		}
		close(next)
		wg.Wait()
		for i, j := range jobs {
			w.desired[j.name] = out[i]
		}
	}
	for name, d := range w.desired {
		if d.appID != "" && d.err == nil && (d.rel == nil || !d.rel.Spec.Suspend) {
			w.byApp[d.appID] = append(w.byApp[d.appID], name)
		}
	}
	for id := range w.byApp {
		sort.Strings(w.byApp[id])
	}
	return w
}

func sameRepositories(a, b []*universe.Repository) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

// desire computes one release's desired state. old is the previous entry
// (its render is reused when the package content, options and parameters
// are the same).
func (c *Controller) desire(in *Inputs, name string, res *manifest.Result, old *desiredEntry) *desiredEntry {
	d := &desiredEntry{name: name, manifestRev: in.ReleasesRevision}
	if res != nil {
		d.file = res.File
	}
	if res == nil || res.Release == nil {
		var probs []string
		if res != nil {
			for _, p := range res.Problems {
				probs = append(probs, p.Error())
			}
		}
		if len(probs) == 0 {
			probs = append(probs, "the manifest of release "+name+" is invalid")
		}
		d.err = errs.Permanent(errors.New(strings.Join(probs, "; ")))
		d.reason = ReasonManifestInvalid
		d.fp = "manifest-invalid|" + strings.Join(probs, "|")
		return d
	}
	rel := res.Release
	d.rel = rel
	digest := rel.Digest()
	pkg, err := universe.Select(in.Repositories, universe.Query{
		Name: rel.Spec.Package, Version: rel.VersionSpec(), Universe: rel.Spec.Universe,
		DCOSVersion: c.opts.DCOSVersion,
	})
	if err != nil {
		if why := unloadedBefore(in, "", rel.Spec.Universe); why != "" {
			// It may be in the source that has not loaded: not an error yet.
			d.waitSource = why
			d.fp = digest + "|wait|" + why
			return d
		}
		d.err = errs.Permanent(fmt.Errorf("%s: spec.package: %w", rel.File, err))
		d.reason = ReasonPackageNotFound
		d.fp = digest + "|select|" + err.Error()
		return d
	}
	d.waitSource = unloadedBefore(in, pkg.Repository, rel.Spec.Universe)
	d.pkg = pkg
	d.universeRev = in.UniverseRevisions[pkg.Repository]
	d.notes = api.Notes{PreInstall: pkg.PreInstallNotes, PostInstall: pkg.PostInstallNotes, PostUninstall: pkg.PostUninstallNotes}
	d.icon = iconOf(pkg.Resource)
	pkgRef := pkg.Repository + "/" + pkg.Name + "/" + strconv.Itoa(pkg.ReleaseVersion)
	d.optsKey = digest + "|" + rel.AppIDOverride() + "|" + pkg.Source
	d.fp = digest + "|" + pkgRef + "@" + d.universeRev

	if !pkg.HasTemplate() {
		d.err = errs.Permanent(fmt.Errorf("%s: package %s %s (revision %d) has no marathon.json.mustache: it installs nothing to deploy",
			rel.File, pkg.Name, pkg.Version, pkg.ReleaseVersion))
		d.reason = ReasonNoTemplate
		return d
	}

	// Reuse the previous render when nothing it depends on changed.
	if old != nil && old.err == nil && old.app != nil && old.optsKey == d.optsKey && old.pkg != nil {
		if old.pkg == pkg {
			d.pkgDigest = old.pkgDigest
		} else {
			d.pkgDigest = packageDigest(pkg)
		}
		if d.pkgDigest == old.pkgDigest {
			d.app, d.hash, d.appID = old.app, old.hash, old.appID
			d.fp += "|" + d.hash
			return d
		}
	} else {
		d.pkgDigest = packageDigest(pkg)
	}

	out, err := render.Render(pkg, rel.Options, render.Params{AppID: rel.AppIDOverride()})
	if err != nil {
		var re *render.Error
		d.reason = ReasonRenderFailed
		if errors.As(err, &re) && re.Kind == render.KindOptions {
			d.reason = ReasonOptionsInvalid
		}
		d.err = errs.Permanent(manifest.RenderProblem(rel, pkg, err))
		d.fp += "|render|" + err.Error()
		return d
	}
	app, hash, err := reconcile.Stamp(out.App, name)
	if err != nil {
		d.err = errs.Permanent(fmt.Errorf("%s: %w", rel.File, err))
		d.reason = ReasonRenderFailed
		d.fp += "|stamp|" + err.Error()
		return d
	}
	id, err := reconcile.AppID(app)
	if err != nil {
		d.err = errs.Permanent(fmt.Errorf("%s: the rendered app: %w", rel.File, err))
		d.reason = ReasonRenderFailed
		d.fp += "|id|" + err.Error()
		return d
	}
	d.app, d.hash, d.appID = app, hash, id
	d.fp += "|" + hash
	return d
}

// packageDigest fingerprints the content of a package revision (what a
// render depends on).
func packageDigest(p *universe.Package) string {
	h := sha256.New()
	for _, b := range [][]byte{[]byte(p.Name), []byte(p.Version), []byte(strconv.Itoa(p.ReleaseVersion)),
		[]byte(p.PackagingVersion), p.Definition, p.Config, p.Template, p.Resource, []byte(p.Source)} {
		fmt.Fprintf(h, "%d:", len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// iconOf returns images.icon-small (else icon-medium) of resource.json.
func iconOf(resource json.RawMessage) string {
	if len(resource) == 0 {
		return ""
	}
	var r struct {
		Images struct {
			Small  string `json:"icon-small"`
			Medium string `json:"icon-medium"`
			Large  string `json:"icon-large"`
		} `json:"images"`
	}
	if json.Unmarshal(resource, &r) != nil {
		return ""
	}
	for _, u := range []string{r.Images.Small, r.Images.Medium, r.Images.Large} {
		if strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "data:image/") {
			return u
		}
	}
	return ""
}

// unloadedBefore says which universe source that has not loaded yet could
// change what a release resolves to: the one it names (pinned), or any that
// comes before the source the package was found in (found "" = not found:
// any). "" when none.
func unloadedBefore(in *Inputs, found, pinned string) string {
	if len(in.Unloaded) == 0 {
		return ""
	}
	for _, name := range in.UniverseOrder {
		if pinned != "" && name != pinned {
			continue
		}
		if name == found {
			return ""
		}
		if slices.Contains(in.Unloaded, name) {
			return fmt.Sprintf("universe source %s has not loaded yet: the release is not changed until it has (it could hold the package)", name)
		}
	}
	return ""
}
