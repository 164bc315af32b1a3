package manifest

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/universe-operator/universe-operator/universe"
)

const good = `apiVersion: universe-operator/v1
kind: PackageRelease
metadata:
  name: kafka-prod
spec:
  package: kafka
  version: "2.9.0-2.4.0"
  universe: universe
  appId: /prod/kafka
  options: {service: {name: prod/kafka}}
  optionsFile: options/kafka.json
  suspend: false
  progressDeadline: 5m
  dependsOn: [zookeeper-prod]
  cleanup: {janitor: true}
  adopt: true
  upgradePolicy: {upgrade: true, downgrade: true}
`

func TestParseEveryField(t *testing.T) {
	r, ps := Parse("releases/kafka.yaml", []byte(good))
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	s := r.Spec
	if r.Name() != "kafka-prod" || s.Package != "kafka" || r.VersionSpec() != "2.9.0-2.4.0" || s.Universe != "universe" ||
		r.AppIDOverride() != "/prod/kafka" || s.OptionsFile != "options/kafka.json" || s.Suspend ||
		r.ProgressDeadlineOr(time.Hour) != 5*time.Minute || s.DependsOn[0] != "zookeeper-prod" || !r.JanitorEnabled(false) ||
		!s.Adopt || !r.AllowUpgrade() || !r.AllowDowngrade() || r.File != "releases/kafka.yaml" {
		t.Fatalf("parsed %+v", r)
	}
	if string(r.Options) != `{"service":{"name":"prod/kafka"}}` {
		t.Fatalf("options = %s", r.Options)
	}
	if p := r.Policy(); p.RefuseUndeclaredUpgrades || !p.AllowUndeclaredDowngrades {
		t.Fatalf("policy = %+v", p)
	}

	// Defaults.
	r, ps = Parse("min.json", []byte(`{"apiVersion":"universe-operator/v1","kind":"PackageRelease","metadata":{"name":"a"},"spec":{"package":"hello-web"}}`))
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	if r.VersionSpec() != "latest" || r.AppIDOverride() != "" || r.ProgressDeadlineOr(time.Hour) != time.Hour ||
		r.JanitorEnabled(false) || !r.JanitorEnabled(true) || !r.AllowUpgrade() || r.AllowDowngrade() || r.Options != nil {
		t.Fatalf("defaults: %+v", r)
	}
	if r.Policy() != (universe.Policy{}) {
		t.Fatalf("default policy = %+v", r.Policy())
	}
	// Equal content in another order has the same digest.
	r2, _ := Parse("min.yaml", []byte("kind: PackageRelease\napiVersion: universe-operator/v1\nspec: {package: hello-web}\nmetadata: {name: a}\n"))
	if r.Digest() != r2.Digest() {
		t.Fatal("digest depends on formatting")
	}
	r3, _ := Parse("min.yaml", []byte("kind: PackageRelease\napiVersion: universe-operator/v1\nspec: {package: hello-web, suspend: true}\nmetadata: {name: a}\n"))
	if r.Digest() == r3.Digest() {
		t.Fatal("digest ignores the spec")
	}
}

// TestParseErrors: every problem names the file, the field and the reason.
func TestParseErrors(t *testing.T) {
	head := "apiVersion: universe-operator/v1\nkind: PackageRelease\nmetadata: {name: rel}\n"
	cases := []struct {
		name, doc string
		want      []string
	}{
		{"unknown top key", head + "spec: {package: a1}\nstatus: {}\n", []string{"f.yaml: status: unknown key"}},
		{"unknown spec key", head + "spec: {package: a1, verison: '1'}\n", []string{`f.yaml: spec.verison: unknown key (did you mean "version"?)`}},
		{"unknown metadata key", "apiVersion: universe-operator/v1\nkind: PackageRelease\nmetadata: {name: rel, labels: {}}\nspec: {package: a1}\n", []string{"f.yaml: metadata.labels: unknown key"}},
		{"unknown cleanup key", head + "spec: {package: a1, cleanup: {janitor: true, volumes: true}}\n", []string{"spec.cleanup.volumes: unknown key"}},
		{"case matters", head + "spec: {package: a1, appID: /x}\n", []string{`spec.appID: unknown key (did you mean "appId"?)`}},
		{"apiVersion", "apiVersion: v1\nkind: PackageRelease\nmetadata: {name: rel}\nspec: {package: a1}\n", []string{`f.yaml: apiVersion: must be universe-operator/v1, not "v1"`}},
		{"no apiVersion", "kind: PackageRelease\nmetadata: {name: rel}\nspec: {package: a1}\n", []string{"f.yaml: apiVersion: required"}},
		{"kind", "apiVersion: universe-operator/v1\nkind: Release\nmetadata: {name: rel}\nspec: {package: a1}\n", []string{`f.yaml: kind: must be PackageRelease, not "Release"`}},
		{"not a manifest", "service: {name: x}\n", []string{"f.yaml: not a release manifest (no apiVersion or kind)"}},
		{"no name", "apiVersion: universe-operator/v1\nkind: PackageRelease\nspec: {package: a1}\n", []string{"f.yaml: metadata.name: required"}},
		{"bad name", "apiVersion: universe-operator/v1\nkind: PackageRelease\nmetadata: {name: Kafka_Prod}\nspec: {package: a1}\n", []string{`f.yaml: metadata.name: "Kafka_Prod" is not a valid name`, "DNS label"}},
		{"long name", "apiVersion: universe-operator/v1\nkind: PackageRelease\nmetadata: {name: " + strings.Repeat("a", 64) + "}\nspec: {package: a1}\n", []string{"metadata.name", "longer than 63"}},
		{"no spec", head, []string{"f.yaml: spec.package: required"}},
		{"bad package", head + "spec: {package: Kafka}\n", []string{`f.yaml: spec.package: "Kafka" is not a package name`}},
		{"bad version", head + "spec: {package: a1, version: 'not a version!'}\n", []string{"f.yaml: spec.version:"}},
		{"bad constraint", head + "spec: {package: a1, version: '>=2.8 <'}\n", []string{"f.yaml: spec.version:", "constraint"}},
		{"version spaces", head + "spec: {package: a1, version: ' 1.0'}\n", []string{"spec.version", "spaces"}},
		{"version number", head + "spec: {package: a1, version: 2.9}\n", []string{"f.yaml: spec.version: must be a string, not a number"}},
		{"bad universe", head + "spec: {package: a1, universe: Uni_verse}\n", []string{"spec.universe", "not a universe source name"}},
		{"bad app id", head + "spec: {package: a1, appId: /Prod/kafka}\n", []string{"f.yaml: spec.appId:", `segment "Prod"`}},
		{"app id dots", head + "spec: {package: a1, appId: /prod/../x}\n", []string{"spec.appId", `".."`}},
		{"app id root", head + "spec: {package: a1, appId: /}\n", []string{"spec.appId: must name an app"}},
		{"app id empty segment", head + "spec: {package: a1, appId: /a//b}\n", []string{"spec.appId", "empty path segment"}},
		{"options array", head + "spec: {package: a1, options: [1]}\n", []string{"f.yaml: spec.options: must be an object"}},
		{"options string", head + "spec: {package: a1, options: x}\n", []string{"spec.options: must be an object"}},
		{"optionsFile absolute", head + "spec: {package: a1, optionsFile: /etc/passwd}\n", []string{"f.yaml: spec.optionsFile:", "is absolute"}},
		{"optionsFile dotdot", head + "spec: {package: a1, optionsFile: ../secret.json}\n", []string{"f.yaml: spec.optionsFile:", "contains '..'"}},
		{"optionsFile inner dotdot", head + "spec: {package: a1, optionsFile: options/../../x.json}\n", []string{"spec.optionsFile", "contains '..'"}},
		{"optionsFile backslash", head + "spec: {package: a1, optionsFile: 'options\\x.json'}\n", []string{"spec.optionsFile", "'/'"}},
		{"suspend type", head + "spec: {package: a1, suspend: 'yes please'}\n", []string{"f.yaml: spec.suspend: must be true or false, not a string"}},
		{"deadline", head + "spec: {package: a1, progressDeadline: 5}\n", []string{"f.yaml: spec.progressDeadline: must be a duration string"}},
		{"deadline short", head + "spec: {package: a1, progressDeadline: 10ms}\n", []string{"spec.progressDeadline: must be at least 1s"}},
		{"deadline bad", head + "spec: {package: a1, progressDeadline: soon}\n", []string{`spec.progressDeadline: invalid duration "soon"`}},
		{"dependsOn type", head + "spec: {package: a1, dependsOn: zk}\n", []string{"f.yaml: spec.dependsOn: must be an array, not a string"}},
		{"dependsOn name", head + "spec: {package: a1, dependsOn: [ok, Not_OK]}\n", []string{`f.yaml: spec.dependsOn[1]: "Not_OK" is not a valid name`}},
		{"dependsOn self", head + "spec: {package: a1, dependsOn: [rel]}\n", []string{"spec.dependsOn[0]: a release cannot depend on itself"}},
		{"dependsOn twice", head + "spec: {package: a1, dependsOn: [a, a]}\n", []string{`spec.dependsOn[1]: "a" is listed twice`}},
		{"janitor type", head + "spec: {package: a1, cleanup: {janitor: 1}}\n", []string{"spec.cleanup.janitor: must be true or false"}},
		{"adopt type", head + "spec: {package: a1, adopt: 'true'}\n", []string{"spec.adopt: must be true or false, not a string"}},
		{"policy", head + "spec: {package: a1, upgradePolicy: {downgrades: true}}\n", []string{"spec.upgradePolicy.downgrades: unknown key"}},
		{"duplicate key", head + "spec: {package: a1}\nspec: {package: b1}\n", []string{`f.yaml: yaml: `, `"spec" already set`}},
		{"two documents", good + "---\n" + good, []string{"f.yaml: more than one YAML document: one release per file"}},
		{"syntax", "apiVersion: [\n", []string{"f.yaml: yaml: line"}},
		{"empty", "", []string{"f.yaml: empty document"}},
		{"list", "- a\n", []string{"f.yaml: must be an object, not an array"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, ps := Parse("f.yaml", []byte(c.doc))
			if r != nil || len(ps) == 0 {
				t.Fatalf("accepted: %+v", r)
			}
			var lines []string
			for _, p := range ps {
				if _, ok := p.(*Problem); !ok {
					t.Errorf("problem %T is not a *Problem", p)
				}
				lines = append(lines, p.Error())
			}
			text := strings.Join(lines, "\n")
			for _, w := range c.want {
				if !strings.Contains(text, w) {
					t.Errorf("problems %q lack %q", text, w)
				}
			}
			for _, l := range lines {
				if !strings.HasPrefix(l, "f.yaml: ") {
					t.Errorf("problem %q does not name the file", l)
				}
			}
		})
	}
	// JSON manifests: same rules.
	_, ps := Parse("f.json", []byte(`{"apiVersion":"universe-operator/v1","kind":"PackageRelease","metadata":{"name":"x"},"spec":{"package":"a1","package":"b1"}}`))
	if len(ps) != 1 || !strings.Contains(ps[0].Error(), "f.json: spec.package: duplicate key") {
		t.Fatalf("json duplicate: %v", ps)
	}
	_, ps = Parse("f.json", []byte(`{"apiVersion":"universe-operator/v1"} {}`))
	if len(ps) != 1 || !strings.Contains(ps[0].Error(), "unexpected data after the document") {
		t.Fatalf("json trailing data: %v", ps)
	}
}

// manifestDoc builds a manifest.
func manifestDoc(name, extra string) string {
	return fmt.Sprintf("apiVersion: universe-operator/v1\nkind: PackageRelease\nmetadata: {name: %s}\nspec:\n  package: webapp\n%s", name, extra)
}

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadDirectory(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret.json")
	os.WriteFile(outside, []byte(`{"password": "x"}`), 0o644)
	dir := writeTree(t, map[string]string{
		"releases/a.yaml":               manifestDoc("a", "  optionsFile: options/a.json\n  options: {service: {instances: 3}, extra: [1]}\n"),
		"releases/b.yml":                manifestDoc("b", "  dependsOn: [a]\n"),
		"releases/team/c.json":          `{"apiVersion":"universe-operator/v1","kind":"PackageRelease","metadata":{"name":"c"},"spec":{"package":"webapp","optionsFile":"releases/team/c-options.json"}}`,
		"releases/team/c-options.json":  `{"service": {"name": "team/c"}}`,
		"releases/dup1.yaml":            manifestDoc("dup", ""),
		"releases/dup2.yaml":            manifestDoc("dup", ""),
		"releases/broken.yaml":          manifestDoc("broken", "  suspend: maybe\n"),
		"releases/garbage.yaml":         "::: not yaml :::\n\t- [",
		"releases/missing-options.yaml": manifestDoc("missing-options", "  optionsFile: options/nope.json\n"),
		"releases/escape.yaml":          manifestDoc("escape", "  optionsFile: options/escape.json\n"),
		"releases/dirlink.yaml":         manifestDoc("dirlink", "  optionsFile: linked/a.json\n"),
		"releases/bad-options.yaml":     manifestDoc("bad-options", "  optionsFile: options/list.json\n"),
		"releases/yaml-options.yaml":    manifestDoc("yaml-options", "  optionsFile: options/y.yaml\n"),
		"releases/.hidden/x.yaml":       "not even parsed",
		"releases/.dotfile.yaml":        "not even parsed",
		"releases/README.md":            "ignored",
		"options/a.json":                `{"service": {"name": "from-file", "instances": 1}, "extra": {"replaced": true}}`,
		"options/list.json":             `[1, 2]`,
		"options/y.yaml":                "service:\n  name: from-yaml\n",
		"elsewhere/not-a-release.yaml":  "outside the releases path",
	})
	os.Symlink(outside, filepath.Join(dir, "options/escape.json"))
	os.Symlink("options", filepath.Join(dir, "linked"))

	set, err := LoadDir(dir, "releases")
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, r := range set.Results {
		files = append(files, r.File)
	}
	wantFiles := "releases/a.yaml releases/b.yml releases/bad-options.yaml releases/broken.yaml releases/dirlink.yaml releases/dup1.yaml releases/dup2.yaml releases/escape.yaml releases/garbage.yaml releases/missing-options.yaml releases/team/c.json releases/yaml-options.yaml"
	if strings.Join(files, " ") != wantFiles {
		t.Fatalf("files = %s\nwant    %s", strings.Join(files, " "), wantFiles)
	}
	var names []string
	for _, r := range set.Releases() {
		names = append(names, r.Name())
	}
	if strings.Join(names, " ") != "a b c dirlink yaml-options" {
		t.Fatalf("valid releases = %v", names)
	}
	a := set.Get("a").Release
	if string(a.Options) != `{"extra":[1],"service":{"instances":3,"name":"from-file"}}` {
		t.Fatalf("merged options = %s", a.Options)
	}
	if c := set.Get("c").Release; string(c.Options) != `{"service":{"name":"team/c"}}` {
		t.Fatalf("c options = %s", c.Options)
	}
	if y := set.Get("yaml-options").Release; string(y.Options) != `{"service":{"name":"from-yaml"}}` {
		t.Fatalf("yaml options = %s", y.Options)
	}
	problems := map[string]string{}
	for _, r := range set.Results {
		for _, p := range r.Problems {
			problems[r.File] += p.Error() + "\n"
		}
	}
	expect := map[string][]string{
		"releases/dup1.yaml":            {`releases/dup1.yaml: metadata.name: duplicate release name "dup": also defined in releases/dup2.yaml`},
		"releases/dup2.yaml":            {`releases/dup2.yaml: metadata.name: duplicate release name "dup": also defined in releases/dup1.yaml`},
		"releases/broken.yaml":          {"releases/broken.yaml: spec.suspend: must be true or false, not a string"},
		"releases/garbage.yaml":         {"releases/garbage.yaml: yaml:"},
		"releases/missing-options.yaml": {"releases/missing-options.yaml: spec.optionsFile: options/nope.json: no such file in the repository"},
		"releases/escape.yaml":          {"releases/escape.yaml: spec.optionsFile: options/escape.json: a symlink points outside the repository"},
		"releases/bad-options.yaml":     {"releases/bad-options.yaml: spec.optionsFile: options/list.json: must hold an object of options"},
	}
	for file, wants := range expect {
		for _, w := range wants {
			if !strings.Contains(problems[file], w) {
				t.Errorf("%s: problems %q lack %q", file, problems[file], w)
			}
		}
	}
	if len(problems) != len(expect) {
		t.Errorf("files with problems: %v", problems)
	}
	if strings.Contains(problems["releases/escape.yaml"], outside) {
		t.Error("message reveals the symlink target")
	}
	// Broken manifests keep their names (they must not be pruned) ...
	if got := strings.Join(set.Names(), " "); got != "a b bad-options broken c dirlink dup escape missing-options yaml-options" {
		t.Errorf("names = %s", got)
	}
	// ... except when the name cannot be read.
	if got := set.Unnamed(); len(got) != 1 || got[0] != "releases/garbage.yaml" {
		t.Errorf("unnamed = %v", got)
	}
	if set.Get("dup").Release != nil || set.Get("nope") != nil {
		t.Error("Get")
	}
	if len(set.Problems()) != 7 {
		t.Errorf("%d problems: %v", len(set.Problems()), set.Problems())
	}

	// The directory itself missing is an error of the whole load.
	if _, err := LoadDir(dir, "nope"); err == nil || !strings.Contains(err.Error(), `releases path "nope"`) {
		t.Fatalf("missing path: %v", err)
	}
	if _, err := LoadDir(dir, "../x"); err == nil {
		t.Fatal("path with .. accepted")
	}
	// An empty releases directory is a valid, empty set.
	os.MkdirAll(filepath.Join(dir, "empty"), 0o755)
	if s, err := LoadDir(dir, "empty"); err != nil || len(s.Results) != 0 {
		t.Fatalf("empty: %v %v", s, err)
	}
}

func TestOptionsFileThatIsAManifestIsKept(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"a.yaml": manifestDoc("a", "  optionsFile: b.yaml\n"),
		"b.yaml": manifestDoc("b", ""),
	})
	set, err := LoadDir(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if set.Get("b") == nil || set.Get("b").Release == nil {
		t.Fatal("a release was dropped because another one names its file as optionsFile")
	}
}

// A manifest that no longer parses stays in the set (unnamed: it blocks
// pruning) even when another release names its file as optionsFile; only a
// file that parses and is no manifest at all is taken for options.
func TestBrokenManifestNamedAsOptionsFileStays(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"a.yaml": manifestDoc("a", "  optionsFile: b.yaml\n"),
		"b.yaml": "apiVersion: universe-operator/v1\nkind: PackageRelease\nmetadata: {name: b\n",
		"c.yaml": manifestDoc("c", "  optionsFile: o.yaml\n"),
		"o.yaml": "service: {name: c}\n",
	})
	set, err := LoadDir(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if un := set.Unnamed(); !slices.Equal(un, []string{"b.yaml"}) {
		t.Fatalf("unnamed = %v, want [b.yaml]", un)
	}
	if r := set.Get("c"); r == nil || r.Release == nil {
		t.Fatalf("c = %+v", r)
	}
}

func TestLoadFromFS(t *testing.T) {
	fsys := fstest.MapFS{
		"rel/x.yaml":   {Data: []byte(manifestDoc("x", "  optionsFile: o.json\n"))},
		"o.json":       {Data: []byte(`{"service": {"name": "x"}}`)},
		"rel/big.yaml": {Data: make([]byte, maxManifest+1)},
	}
	set, err := Load(LoadOptions{FS: fsys, Path: "rel/"})
	if err != nil {
		t.Fatal(err)
	}
	if r := set.Get("x"); r == nil || r.Release == nil || string(r.Release.Options) != `{"service":{"name":"x"}}` {
		t.Fatalf("x = %+v", r)
	}
	if ps := set.Problems(); len(ps) != 1 || !strings.Contains(ps[0].Error(), "rel/big.yaml: larger than") {
		t.Fatalf("problems = %v", ps)
	}
	if _, err := Load(LoadOptions{}); err == nil {
		t.Fatal("no FS accepted")
	}
	var _ fs.FS = fsys
}

func loadTestPackage(t testing.TB) *universe.Package {
	t.Helper()
	repo, problems := universe.LoadDir("testdata/packages")
	if repo == nil || len(problems) > 0 {
		t.Fatalf("test package: %v", problems)
	}
	return repo.Latest("webapp")
}

func TestCheckOptions(t *testing.T) {
	pkg := loadTestPackage(t)
	mk := func(opts string) *Release {
		r, ps := Parse("releases/w.yaml", []byte(manifestDoc("w", "  options: "+opts+"\n")))
		if len(ps) > 0 {
			t.Fatal(ps)
		}
		return r
	}
	if err := CheckOptions(mk(`{service: {name: ok, instances: 2}}`), pkg); err != nil {
		t.Fatal(err)
	}
	err := CheckOptions(mk(`{service: {name: 5, instances: -1, bogus: 1, ports: [1, x]}}`), pkg)
	if err == nil {
		t.Fatal("bad options accepted")
	}
	text := err.Error()
	for _, w := range []string{
		"releases/w.yaml: spec.options.service.name:",
		"releases/w.yaml: spec.options.service.instances:",
		"releases/w.yaml: spec.options.service.ports[1]:",
		"webapp 1.0.0 (rev 0) config.json",
	} {
		if !strings.Contains(text, w) {
			t.Errorf("%q lacks %q", text, w)
		}
	}
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, "releases/w.yaml: spec.options") {
			t.Errorf("line %q", line)
		}
	}
}

func TestCheckDependencies(t *testing.T) {
	mk := func(name string, deps ...string) *Release {
		d := ""
		if len(deps) > 0 {
			b, _ := json.Marshal(deps)
			d = "  dependsOn: " + string(b) + "\n"
		}
		r, ps := Parse("releases/"+name+".yaml", []byte(manifestDoc(name, d)))
		if len(ps) > 0 {
			t.Fatal(ps)
		}
		return r
	}
	rels := []*Release{mk("a", "b"), mk("b", "c"), mk("c", "a"), mk("d", "a", "ghost", "broken"), mk("e")}
	out := CheckDependencies(rels, "broken")
	for _, n := range []string{"a", "b", "c"} {
		if len(out[n]) != 1 || !strings.Contains(out[n][0].Error(), "dependency cycle: ") ||
			!strings.HasPrefix(out[n][0].Error(), "releases/"+n+".yaml: spec.dependsOn: ") {
			t.Errorf("%s: %v", n, out[n])
		}
	}
	if len(out["d"]) != 1 || out["d"][0].Error() != `releases/d.yaml: spec.dependsOn[1]: no release named "ghost"` {
		t.Errorf("d: %v", out["d"])
	}
	if len(out["e"]) != 0 {
		t.Errorf("e: %v", out["e"])
	}
}

func TestCacheReparsesOnlyChangedFiles(t *testing.T) {
	files := map[string]string{"o.json": `{"service": {"name": "x"}}`}
	for i := range 50 {
		files[fmt.Sprintf("rel/r%02d.yaml", i)] = manifestDoc(fmt.Sprintf("r%02d", i), "  optionsFile: o.json\n")
	}
	files["rel/broken.yaml"] = manifestDoc("broken", "  bogus: 1\n")
	files["rel/dup.yaml"] = manifestDoc("r00", "")
	dir := writeTree(t, files)
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	var cache Cache
	load := func() *Set {
		set, err := Load(LoadOptions{FS: root.FS(), Path: "rel", Cache: &cache})
		if err != nil {
			t.Fatal(err)
		}
		return set
	}
	first := load()
	if cache.Hits() != 0 || len(first.Releases()) != 49 || len(first.Problems()) != 3 {
		t.Fatalf("first load: hits %d, %d releases, problems %v", cache.Hits(), len(first.Releases()), first.Problems())
	}
	os.WriteFile(filepath.Join(dir, "rel/r07.yaml"), []byte(manifestDoc("r07", "  suspend: true\n")), 0o644)
	os.WriteFile(filepath.Join(dir, "o.json"), []byte(`{"service": {"name": "y"}}`), 0o644)
	second := load()
	if cache.Hits() != 51 {
		t.Fatalf("second load: %d hits, want 51 (all but the changed file)", cache.Hits())
	}
	if !second.Get("r07").Release.Spec.Suspend || string(second.Get("r03").Release.Options) != `{"service":{"name":"y"}}` {
		t.Fatal("cached load missed a change")
	}
	// Problems are not duplicated by repeated loads from the cache.
	third := load()
	if n := len(third.Problems()); n != 3 {
		t.Fatalf("third load: %d problems: %v", n, third.Problems())
	}
	if string(first.Get("r03").Release.Options) != `{"service":{"name":"x"}}` {
		t.Fatal("a later load changed an earlier set")
	}
}

// A symbolic link to a directory under the releases path is reported (its
// manifests are not read), and counts as a file whose release is unknown,
// which blocks pruning; a link to a manifest file is read as before.
func TestSymlinkedDirectoryIsReported(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"releases/a.yaml": manifestDoc("a", ""),
		"other/b.yaml":    manifestDoc("b", ""),
		"other/c.yaml":    manifestDoc("c", ""),
	})
	if err := os.Symlink("../other", filepath.Join(dir, "releases", "more")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../other/c.yaml", filepath.Join(dir, "releases", "c.yaml")); err != nil {
		t.Fatal(err)
	}
	set, err := LoadDir(dir, "releases")
	if err != nil {
		t.Fatal(err)
	}
	if un := set.Unnamed(); !slices.Equal(un, []string{"releases/more"}) {
		t.Fatalf("unnamed = %v", un)
	}
	if ps := set.Problems(); len(ps) != 1 || !strings.Contains(ps[0].Error(), "releases/more: a symbolic link to a directory") {
		t.Fatalf("problems = %v", ps)
	}
	if set.Get("a") == nil || set.Get("c") == nil || set.Get("b") != nil {
		t.Fatalf("names = %v", set.Names())
	}
}
