package universe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/universe-operator/universe-operator/internal/testenv"
)

// Tests over the real public Universe in ../shared (skipped when absent).

var (
	sharedOnce     sync.Once
	sharedRepo     *Repository
	sharedProblems []error
)

// loadShared loads the real Universe once for all the tests of the package.
func loadShared(t *testing.T) *Repository {
	t.Helper()
	dir := testenv.UniversePackages(t)
	sharedOnce.Do(func() { sharedRepo, sharedProblems = LoadDir(dir) })
	for _, p := range sharedProblems {
		t.Errorf("real Universe: %v", p)
	}
	return sharedRepo
}

func TestSharedUniverseFacts(t *testing.T) {
	repo := loadShared(t)
	// The numbers ../shared/docs/universe-semantics.md gives.
	if len(repo.Names()) != 185 || repo.Len() != 1235 {
		t.Errorf("%d packages, %d revisions; want 185, 1235", len(repo.Names()), repo.Len())
	}
	packaging := map[string]int{}
	noTemplate, hidden := 0, 0
	upgrades := map[string]int{}
	for _, p := range repo.Packages() {
		packaging[p.PackagingVersion]++
		if !p.HasTemplate() {
			noTemplate++
		}
		if p.MinDcosReleaseVersion == "999" || p.MinDcosReleaseVersion == "9999" {
			hidden++
		}
		if p.PackagingVersion == "4.0" {
			switch l := p.UpgradesFrom; {
			case !l.Declared:
				upgrades["absent"]++
			case len(l.Versions) == 0:
				upgrades["[]"]++
			case len(l.Versions) == 1 && l.Versions[0] == "*":
				upgrades["*"]++
			default:
				upgrades["explicit"]++
			}
		}
		if (p.PackagingVersion == "2.0" || p.PackagingVersion == "3.0") && (p.UpgradesFrom.Declared || p.DowngradesTo.Declared) {
			t.Errorf("%s: a %s package declares upgrade paths", p, p.PackagingVersion)
		}
	}
	wantPackaging := map[string]int{"2.0": 137, "3.0": 573, "4.0": 495, "5.0": 30}
	for k, v := range wantPackaging {
		if packaging[k] != v {
			t.Errorf("packagingVersion %s: %d revisions, want %d", k, packaging[k], v)
		}
	}
	if noTemplate != 71 || hidden != 32 {
		t.Errorf("%d revisions without template (want 71), %d hidden (want 32)", noTemplate, hidden)
	}
	if upgrades["*"] != 80 || upgrades["explicit"] != 250 || upgrades["[]"] != 56 || upgrades["absent"] != 109 {
		t.Errorf("upgradesFrom in 4.0 revisions: %v, want * 80, explicit 250, [] 56, absent 109", upgrades)
	}
	// Version strings do not order revisions: kibana's newest revision is 3.2.0-7.9.3.
	if p, err := Select([]*Repository{repo}, Query{Name: "kibana"}); err != nil || p.Version != "3.2.0-7.9.3" {
		t.Errorf("kibana latest: %v %v", p, err)
	}
	reused := 0
	for _, name := range repo.Names() {
		seen := map[string]bool{}
		dup := false
		for _, p := range repo.Revisions(name) {
			dup = dup || seen[p.Version]
			seen[p.Version] = true
		}
		if dup {
			reused++
		}
	}
	if reused != 20 {
		t.Errorf("%d packages reuse a version string, want 20", reused)
	}
	t.Logf("185 packages, 1235 revisions, packaging %v, %d without template, %d hidden, upgradesFrom %v", packaging, noTemplate, hidden, upgrades)
}

// TestSharedConstraintsOnRealVersions shows how the real version strings
// parse for constraints.
func TestSharedConstraintsOnRealVersions(t *testing.T) {
	repo := loadShared(t)
	var bad []string
	pre := 0
	for _, p := range repo.Packages() {
		v, err := ParseVersion(p.Version)
		if err != nil {
			bad = append(bad, p.Version)
			continue
		}
		if v.PreRelease {
			pre++
		}
	}
	sort.Strings(bad)
	t.Logf("%d of %d version strings are not comparable by constraints: %v; %d are pre-releases", len(bad), repo.Len(), bad, pre)
	want := "1.4.0.-1 1.4.1.-1 3.1.x 3.2.x 3.2.x-2 8688ecd-1.2.9 latest latest"
	if got := strings.Join(bad, " "); got != want {
		t.Errorf("unparseable versions %v", bad)
	}
	p, err := Select([]*Repository{repo}, Query{Name: "kafka", Version: ">=2.8 <3"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kafka >=2.8 <3: %s", p)
	if !strings.HasPrefix(p.Version, "2.") {
		t.Errorf("kafka >=2.8 <3 chose %s", p)
	}
}

// TestSharedServedFormRoundTrip encodes the whole real Universe in the
// served form and loads it back: every revision must come back the same.
func TestSharedServedFormRoundTrip(t *testing.T) {
	repo := loadShared(t)
	served := servedFrom(t, repo.Packages())
	back, problems := LoadServed(served, WithSource(repo.Source))
	if len(problems) > 0 {
		t.Fatalf("%d problems, first %v", len(problems), problems[0])
	}
	if back.Len() != repo.Len() {
		t.Fatalf("%d revisions back, want %d", back.Len(), repo.Len())
	}
	for i, p := range repo.Packages() {
		a, _ := p.RepoJSON()
		b, _ := back.Packages()[i].RepoJSON()
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs after the round trip", p)
		}
	}
}

// compileMeta compiles one of the Universe meta schemas of ../shared.
func compileMeta(t *testing.T, file, pointer string, extra ...string) *jsonschema.Schema {
	t.Helper()
	dir := testenv.Shared(t, "universe/repo/meta/schema")
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	for _, f := range append([]string{file}, extra...) {
		raw, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource("file:///schema/"+f, doc); err != nil {
			t.Fatal(err)
		}
	}
	s, err := c.Compile("file:///schema/" + file + pointer)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validates(s *jsonschema.Schema, raw []byte) bool {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	return err == nil && s.Validate(doc) == nil
}

// TestSharedMetaSchemaCrossCheck compares our package.json checks with the
// Universe's own meta schema, on every real package.json and on mutations
// of one. The only differences are deliberate and listed.
func TestSharedMetaSchemaCrossCheck(t *testing.T) {
	repo := loadShared(t)
	schema := compileMeta(t, "package-schema.json", "")
	for _, p := range repo.Packages() {
		if !validates(schema, p.Definition) {
			t.Errorf("%s: package.json fails the meta schema but loaded", p)
		}
	}
	base := map[string]any{}
	if err := json.Unmarshal(repo.Latest("kafka").Definition, &base); err != nil {
		t.Fatal(err)
	}
	mutations := map[string]func(m map[string]any){
		"valid":                    func(m map[string]any) {},
		"no name":                  func(m map[string]any) { delete(m, "name") },
		"no version":               func(m map[string]any) { delete(m, "version") },
		"no maintainer":            func(m map[string]any) { delete(m, "maintainer") },
		"no tags":                  func(m map[string]any) { delete(m, "tags") },
		"no packagingVersion":      func(m map[string]any) { delete(m, "packagingVersion") },
		"packagingVersion 6.0":     func(m map[string]any) { m["packagingVersion"] = "6.0" },
		"name Upper":               func(m map[string]any) { m["name"] = "Kafka" },
		"name trailing dash":       func(m map[string]any) { m["name"] = "kafka-" },
		"version with space":       func(m map[string]any) { m["version"] = "1 2" },
		"version number":           func(m map[string]any) { m["version"] = 2 },
		"framework string":         func(m map[string]any) { m["framework"] = "true" },
		"tags string":              func(m map[string]any) { m["tags"] = "x" },
		"tag with space":           func(m map[string]any) { m["tags"] = []any{"a b"} },
		"tag number":               func(m map[string]any) { m["tags"] = []any{1} },
		"upgradesFrom string":      func(m map[string]any) { m["upgradesFrom"] = "*" },
		"upgradesFrom number item": func(m map[string]any) { m["upgradesFrom"] = []any{1} },
		"minDcos 1.x":              func(m map[string]any) { m["minDcosReleaseVersion"] = "1.x" },
		"minDcos number":           func(m map[string]any) { m["minDcosReleaseVersion"] = 1.1 },
		"licenses without url":     func(m map[string]any) { m["licenses"] = []any{map[string]any{"name": "x"}} },
		"preInstallNotes number":   func(m map[string]any) { m["preInstallNotes"] = 1 },
		"selected string":          func(m map[string]any) { m["selected"] = "yes" },
		"lastUpdated string":       func(m map[string]any) { m["lastUpdated"] = "yesterday" },
		"no description":           func(m map[string]any) { delete(m, "description") },
		// Deliberate differences:
		"unknown field":       func(m map[string]any) { m["surprise"] = 1 }, // ignored, as Cosmos's decoders do
		"null optional field": func(m map[string]any) { m["scm"] = nil },    // null counts as absent
		"license url not uri": func(m map[string]any) { m["licenses"] = []any{map[string]any{"name": "x", "url": "ftp://x"}} },
	}
	deliberate := map[string]string{
		"unknown field":       "we accept: Cosmos ignores unknown fields",
		"null optional field": "we accept: null is absent, as in Cosmos's decoders",
		"license url not uri": "we accept any string: the URL is informational",
	}
	names := make([]string, 0, len(mutations))
	for n := range mutations {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		mutations[name](m)
		raw, _ := json.Marshal(m)
		fields := map[string]json.RawMessage{}
		_ = json.Unmarshal(raw, &fields)
		_, err := parseMetadata(fields, "kafka")
		ours := err == nil
		theirs := validates(schema, raw)
		why, isDeliberate := deliberate[name]
		switch {
		case ours == theirs && isDeliberate:
			t.Errorf("%s: listed as a deliberate difference but both say %v", name, ours)
		case ours != theirs && !isDeliberate:
			t.Errorf("%s: we accept=%v, the meta schema accepts=%v (%v)", name, ours, theirs, err)
		case ours != theirs:
			t.Logf("%s: we accept=%v, meta schema accepts=%v: %s", name, ours, theirs, why)
		}
	}
}

// TestSharedRepoFormatMatchesServedSchema validates what DCOS_PACKAGE_DEFINITION
// carries (RepoJSON) against the served repository schema of ../shared.
func TestSharedRepoFormatMatchesServedSchema(t *testing.T) {
	repo := loadShared(t)
	schemas := map[string]*jsonschema.Schema{}
	for _, v := range []string{"20", "30", "40", "50"} {
		schemas[v[:1]+".0"] = compileMeta(t, "vX-repo-definitions.json", "#/v"+v+"Package")
	}
	failed := 0
	for _, p := range repo.Packages() {
		doc, err := p.RepoJSON()
		if err != nil {
			t.Fatal(err)
		}
		if !validates(schemas[p.PackagingVersion], doc) {
			failed++
			if failed <= 5 {
				v, _ := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
				t.Errorf("%s: repo JSON fails the served schema: %v", p, schemas[p.PackagingVersion].Validate(v))
			}
		}
	}
	t.Logf("%d of %d revisions' repo JSON fail the served-repository schema", failed, repo.Len())
	_ = fmt.Sprint
}
