package render

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/universe-operator/universe-operator/errs"
	"github.com/universe-operator/universe-operator/universe"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden (read every changed one)")

// goldenSource is the DCOS_PACKAGE_SOURCE of golden cases.
const goldenSource = "https://universe.example/repo"

// definitionPlaceholder replaces DCOS_PACKAGE_DEFINITION in golden files:
// its bytes depend on the gzip implementation, so the test checks that it
// decodes back to the package instead of comparing bytes.
const definitionPlaceholder = "<checked: decodes to this package>"

// caseParams is testdata/golden/<case>/params.json.
type caseParams struct {
	AppID   string `json:"appId"`
	Release int    `json:"release"`
}

// loadCase loads testdata/golden/<case> as one package revision through the
// real loader: its package files are placed at <L>/<name>/<release>/.
func loadCase(t *testing.T, dir string) (*universe.Package, json.RawMessage, caseParams) {
	t.Helper()
	var params caseParams
	if b, err := os.ReadFile(filepath.Join(dir, "params.json")); err == nil {
		if err := json.Unmarshal(b, &params); err != nil {
			t.Fatalf("params.json: %v", err)
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, universe.PackageFile))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct{ Name string }
	if err := json.Unmarshal(raw, &meta); err != nil || meta.Name == "" {
		t.Fatalf("package.json: no name (%v)", err)
	}
	base := strings.ToUpper(meta.Name[:1]) + "/" + meta.Name + "/" + strconv.Itoa(params.Release) + "/"
	fsys := fstest.MapFS{}
	for _, f := range []string{universe.PackageFile, universe.ConfigFile, universe.TemplateFile, universe.ResourceFile, universe.CommandFile} {
		if b, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
			fsys[base+f] = &fstest.MapFile{Data: b}
		}
	}
	repo, problems := universe.LoadFS(fsys, universe.WithSource(goldenSource))
	for _, p := range problems {
		t.Fatalf("loading the case: %v", p)
	}
	pkgs := repo.Packages()
	if len(pkgs) != 1 {
		t.Fatalf("case holds %d revisions", len(pkgs))
	}
	opts, err := os.ReadFile(filepath.Join(dir, "options.json"))
	if err != nil {
		opts = nil
	}
	return pkgs[0], opts, params
}

// goldenOutput renders a case into the text its golden file holds, and the
// name of that file (expected.json, expected.err or expected.skip).
func goldenOutput(t *testing.T, pkg *universe.Package, opts json.RawMessage, params caseParams) (string, []byte) {
	t.Helper()
	res, err := Render(pkg, opts, Params{AppID: params.AppID})
	if err != nil {
		if !errs.IsPermanent(err) {
			t.Errorf("error is not errs.Permanent: %v", err)
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("error is not a *render.Error: %v", err)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("error has several lines: %q", err)
		}
		return "expected.err", []byte("kind: " + string(e.Kind) + "\n" + err.Error() + "\n")
	}
	if res.NoTemplate {
		if res.App != nil {
			t.Errorf("NoTemplate with an app")
		}
		return "expected.skip", []byte("no template: installing posts nothing\noptions: " + string(res.Options) + "\n")
	}
	checkApp(t, pkg, res)
	app, err := parseJSON(res.App)
	if err != nil {
		t.Fatalf("app is not JSON: %v", err)
	}
	labels, _ := app.obj.get("labels")
	for i, m := range labels.obj.members {
		if m.key == LabelPackageDefinition {
			labels.obj.members[i].val = stringValue(definitionPlaceholder)
		}
	}
	return "expected.json", appendIndent(nil, app, 0)
}

// checkApp checks what every rendered app must satisfy: a JSON object,
// string labels, and DCOS_PACKAGE_* labels that decode back.
func checkApp(t *testing.T, pkg *universe.Package, res *Result) {
	t.Helper()
	var app map[string]any
	if err := json.Unmarshal(res.App, &app); err != nil {
		t.Fatalf("app is not a JSON object: %v", err)
	}
	labels, ok := app["labels"].(map[string]any)
	if !ok {
		t.Fatalf("app has no labels object")
	}
	for k, v := range labels {
		if _, ok := v.(string); !ok {
			t.Errorf("label %s is not a string", k)
		}
	}
	if labels[LabelPackageName] != pkg.Name || labels[LabelPackageVersion] != pkg.Version || labels[LabelPackageSource] != pkg.Source {
		t.Errorf("name/version/source labels: %v %v %v", labels[LabelPackageName], labels[LabelPackageVersion], labels[LabelPackageSource])
	}
	opts, err := base64.StdEncoding.DecodeString(labels[LabelPackageOptions].(string))
	if err != nil || !bytes.Equal(opts, res.UserOptions) {
		t.Errorf("DCOS_PACKAGE_OPTIONS decodes to %q, want %q (%v)", opts, res.UserOptions, err)
	}
	def, err := universe.DecodeDefinitionLabel(labels[LabelPackageDefinition].(string))
	if err != nil {
		t.Fatalf("DCOS_PACKAGE_DEFINITION: %v", err)
	}
	want, _ := pkg.RepoJSON()
	got, _ := def.RepoJSON()
	if !bytes.Equal(got, want) {
		t.Errorf("DCOS_PACKAGE_DEFINITION decodes to\n%s\nwant\n%s", got, want)
	}
	if def.Name != pkg.Name || def.ReleaseVersion != pkg.ReleaseVersion || !bytes.Equal(def.Template, pkg.Template) {
		t.Errorf("decoded definition is %s", def)
	}
}

func TestGolden(t *testing.T) {
	cases, err := os.ReadDir("testdata/golden")
	if err != nil {
		t.Fatal(err)
	}
	outputs := []string{"expected.json", "expected.err", "expected.skip"}
	for _, c := range cases {
		if !c.IsDir() {
			continue
		}
		t.Run(c.Name(), func(t *testing.T) {
			dir := filepath.Join("testdata", "golden", c.Name())
			pkg, opts, params := loadCase(t, dir)
			name, got := goldenOutput(t, pkg, opts, params)
			if *update {
				for _, o := range outputs {
					_ = os.Remove(filepath.Join(dir, o))
				}
				if err := os.WriteFile(filepath.Join(dir, name), got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				var have []string
				for _, o := range outputs {
					if _, err := os.Stat(filepath.Join(dir, o)); err == nil {
						have = append(have, o)
					}
				}
				t.Fatalf("rendering gives %s but the case has %v:\n%s", name, have, got)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs (go test ./render -run TestGolden -update, then read the diff)\n--- got\n%s\n--- want\n%s", name, got, want)
			}
		})
	}
}
