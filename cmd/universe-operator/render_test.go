package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/universe-operator/universe-operator/examples"
	"github.com/universe-operator/universe-operator/internal/testenv"
	"github.com/universe-operator/universe-operator/universe"
)

const examplePackages = "../../examples/universe/repo/packages"

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func decodeApp(t *testing.T, out string) map[string]any {
	t.Helper()
	var app map[string]any
	if err := json.Unmarshal([]byte(out), &app); err != nil {
		t.Fatalf("output is not a JSON object: %v\n%s", err, out)
	}
	return app
}

func TestRenderCommand(t *testing.T) {
	code, out, errOut := runCLI(t, "render", "--universe", examplePackages, "--package", "hello-web")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	app := decodeApp(t, out)
	labels := app["labels"].(map[string]any)
	if app["id"] != "hello-web" || labels["DCOS_PACKAGE_VERSION"] != "1.1.0" || labels["DCOS_SERVICE_SCHEME"] != "http" || labels["DCOS_PACKAGE_OPTIONS"] != "e30=" {
		t.Errorf("app %v", app)
	}
	if !strings.HasPrefix(out, "{\n  \"id\": \"hello-web\",\n") {
		t.Errorf("not indented in template order:\n%s", out[:80])
	}

	opts := filepath.Join(t.TempDir(), "options.json")
	_ = os.WriteFile(opts, []byte(`{"service": {"greeting": "<b>hi</b> & \"bye\"", "virtual_host": "hello.example.com"}}`), 0o644)
	code, out, errOut = runCLI(t, "render", "--universe", examplePackages, "--package", "hello-web",
		"--version", "1.0.0", "--options", opts, "--app-id", "team/hello", "--compact")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Count(out, "\n") != 1 || !strings.Contains(out, `"GREETING":"<b>hi</b> & \"bye\""`) {
		t.Errorf("compact output:\n%s", out)
	}
	app = decodeApp(t, out)
	labels = app["labels"].(map[string]any)
	userOpts, _ := base64.StdEncoding.DecodeString(labels["DCOS_PACKAGE_OPTIONS"].(string))
	if app["id"] != "/team/hello" || labels["DCOS_PACKAGE_VERSION"] != "1.0.0" || labels["HAPROXY_0_VHOST"] != "hello.example.com" ||
		string(userOpts) != `{"service":{"greeting":"<b>hi</b> & \"bye\"","virtual_host":"hello.example.com"}}` {
		t.Errorf("app %v, options %s", app, userOpts)
	}

	for _, args := range [][]string{
		{"--release", "0"},
		{"--version", "<1.1"},
		{"--version", "~1.0", "--dcos-version", "1.13"},
	} {
		code, out, errOut = runCLI(t, append([]string{"render", "--universe", "../../examples", "--package", "hello-web"}, args...)...)
		if code != exitOK || decodeApp(t, out)["labels"].(map[string]any)["DCOS_PACKAGE_VERSION"] != "1.0.0" {
			t.Errorf("%v: exit %d %s", args, code, errOut)
		}
	}
}

func TestRenderCommandErrors(t *testing.T) {
	badOpts := filepath.Join(t.TempDir(), "bad.json")
	_ = os.WriteFile(badOpts, []byte(`{"service": {"instances": "two"}}`), 0o644)
	cases := []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"render"}, exitUsage, "--universe is required"},
		{[]string{"render", "--universe", examplePackages}, exitUsage, "--package NAME is required"},
		{[]string{"render", "--universe", examplePackages, "--package", "x", "--version", "1", "--release", "1"}, exitUsage, "not both"},
		{[]string{"render", "--universe", examplePackages, "--all"}, exitUsage, "--out DIR is required"},
		{[]string{"render", "--universe", examplePackages, "--all", "--out", "x", "--package", "a"}, exitUsage, "belong to the single form"},
		{[]string{"render", "--universe", examplePackages, "--all", "--out", "x", "--app-id", "a"}, exitUsage, "belong to the single form"},
		{[]string{"render", "--universe", examplePackages, "--package", "a", "--out", "x"}, exitUsage, "belong to --all"},
		{[]string{"render", "--universe", examplePackages, "--package", "a", "--release", "-3"}, exitUsage, "non-negative"},
		{[]string{"render", "--universe", examplePackages, "--package", "nope"}, exitProblem, `package "nope" not found`},
		{[]string{"render", "--universe", examplePackages, "--package", "hello-web", "--version", "9.9"}, exitProblem, `has no version "9.9"`},
		{[]string{"render", "--universe", examplePackages, "--package", "hello-web", "--version", ">=5"}, exitProblem, `no revision of "hello-web" matches ">=5"`},
		{[]string{"render", "--universe", examplePackages, "--package", "hello-web", "--dcos-version", "1.9"}, exitProblem, "requires DC/OS 1.10 or newer"},
		{[]string{"render", "--universe", examplePackages, "--package", "hello-web", "--options", badOpts}, exitProblem,
			"hello-web 1.1.0 (rev 1) config.json: options /service/instances: expected integer, got string (type)"},
		{[]string{"render", "--universe", examplePackages, "--package", "hello-web", "--options", "/no/such/file"}, exitProblem, "options file"},
		{[]string{"render", "--universe", "/no/such/dir", "--package", "x"}, exitProblem, "no such directory or file"},
	}
	for _, c := range cases {
		code, _, errOut := runCLI(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.err) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, errOut, c.code, c.err)
		}
		if strings.Count(strings.TrimSpace(errOut), "\n") > 0 && c.code == exitProblem {
			t.Errorf("%v: more than one line: %q", c.args, errOut)
		}
	}
}

// writeUniverse copies the examples and adds broken and CLI-only packages.
func writeUniverse(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, examples.Packages()); err != nil {
		t.Fatal(err)
	}
	write := func(rel, content string) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pkg := func(name string) string {
		return `{"packagingVersion": "3.0", "name": "` + name + `", "version": "1.0", "maintainer": "m", "description": "d", "tags": ["t"]}`
	}
	write("B/broken/0/package.json", pkg("broken"))
	write("B/broken/0/marathon.json.mustache", "{\n  \"id\": \"/b\",\n  \"cpus\": {{cpus}}\n}")
	write("B/broken/0/config.json", `{"type": "object", "properties": {"cpus": {"type": "string", "default": "one"}}}`)
	write("C/cli-only/0/package.json", pkg("cli-only"))
	write("C/cli-only/0/command.json", `{"pip": ["x"]}`)
	write("M/malformed/3/package.json", `{"name": "malformed"`)
	write("M/malformed/3/config.json", `[`)
	return dir
}

func readDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(dir, p)
			files[filepath.ToSlash(rel)] = string(b)
		}
		return nil
	})
	return files
}

func TestRenderAll(t *testing.T) {
	out := t.TempDir()
	// A stale result from an earlier run is replaced; other files stay.
	_ = os.MkdirAll(filepath.Join(out, "hello-web"), 0o755)
	_ = os.WriteFile(filepath.Join(out, "hello-web", "7.err"), []byte("stale"), 0o644)
	_ = os.WriteFile(filepath.Join(out, "hello-web", "notes.txt"), []byte("mine"), 0o644)
	code, stdout, errOut := runCLI(t, "render", "--universe", examplePackages, "--all", "--out", out)
	if code != exitOK || stdout != "rendered 6, failed 0, skipped 0 (no template)\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, errOut)
	}
	files := readDir(t, out)
	for _, f := range []string{"hello-web/0.json", "hello-web/1.json", "pingpong-framework/0.json", "greeter/0.json", "greeter/1.json", "greeter/2.json", "hello-web/notes.txt"} {
		if _, ok := files[f]; !ok {
			t.Errorf("missing %s (have %v)", f, files)
		}
	}
	if _, ok := files["hello-web/7.err"]; ok {
		t.Error("stale result kept")
	}
	// --compact writes the exact bytes, one line per app.
	code, _, errOut = runCLI(t, "render", "--universe", examplePackages, "--all", "--out", out, "--compact")
	if b, _ := os.ReadFile(filepath.Join(out, "greeter", "0.json")); code != exitOK || strings.Count(string(b), "\n") != 1 || !json.Valid(b) {
		t.Errorf("--compact: exit %d %s\n%s", code, errOut, b)
	}

	// Failures, skipped packages, malformed revisions and --options-dir.
	dir := writeUniverse(t)
	optsDir := t.TempDir()
	_ = os.WriteFile(filepath.Join(optsDir, "greeter.json"), []byte(`{"greeter": {"message": "from options-dir"}}`), 0o644)
	_ = os.WriteFile(filepath.Join(optsDir, "hello-web.json"), []byte(`{"service": {"mem": 1}}`), 0o644)
	out2 := t.TempDir()
	code, stdout, errOut = runCLI(t, "render", "--universe", dir, "--all", "--out", out2, "--options-dir", optsDir)
	if code != exitProblem || stdout != "rendered 4, failed 4, skipped 1 (no template)\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, errOut)
	}
	files = readDir(t, out2)
	want := map[string]string{
		"broken/0.err":    "broken 1.0 (rev 0) marathon.json.mustache: rendered output is not JSON: invalid character 'o' looking for the beginning of a value at line 3 column 11",
		"hello-web/0.err": "hello-web 1.0.0 (rev 0) config.json: options /service/mem: got 1, want 32 (minimum)",
		"hello-web/1.err": "hello-web 1.1.0 (rev 1) config.json: options /service/mem: got 1, want 32 (minimum)",
		"malformed/3.err": "package.json: not JSON",
	}
	for f, w := range want {
		if !strings.Contains(files[f], w) || strings.Count(files[f], "\n") != 1 {
			t.Errorf("%s: %q, want one line containing %q", f, files[f], w)
		}
	}
	if !strings.Contains(files["malformed/3.err"], "config.json") {
		t.Errorf("malformed/3.err does not list every malformed file: %q", files["malformed/3.err"])
	}
	if !strings.Contains(files["greeter/2.json"], `"MESSAGE": "from options-dir"`) {
		t.Errorf("options-dir not used:\n%s", files["greeter/2.json"])
	}
	if _, ok := files["cli-only/0.json"]; ok {
		t.Error("a package without template was rendered")
	}
	if !strings.Contains(errOut, "M/malformed/3/package.json: not JSON") || !strings.Contains(errOut, "4 revision(s) failed to render") {
		t.Errorf("stderr %q", errOut)
	}
}

func TestRenderServedForm(t *testing.T) {
	repo, problems := universe.LoadFS(examples.Packages())
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	var b bytes.Buffer
	b.WriteString(`{"packages": [`)
	for i, p := range repo.Packages() {
		if i > 0 {
			b.WriteByte(',')
		}
		doc, _ := p.RepoJSON()
		b.Write(doc)
	}
	b.WriteString(`]}`)
	file := filepath.Join(t.TempDir(), "repo.json")
	_ = os.WriteFile(file, b.Bytes(), 0o644)
	code, out, errOut := runCLI(t, "render", "--universe", file, "--package", "greeter", "--version", "1.1.0")
	if code != exitOK || decodeApp(t, out)["env"].(map[string]any)["GREETER_VERSION"] != "1.1.0" {
		t.Errorf("served file: exit %d %s", code, errOut)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") != universe.ServedMediaType {
			http.Error(w, "bad accept", http.StatusNotAcceptable)
			return
		}
		_, _ = w.Write(b.Bytes())
	}))
	defer srv.Close()
	code, out, errOut = runCLI(t, "render", "--universe", srv.URL+"/repo", "--package", "pingpong-framework")
	if code != exitOK {
		t.Fatalf("served URL: exit %d %s", code, errOut)
	}
	labels := decodeApp(t, out)["labels"].(map[string]any)
	if labels["DCOS_PACKAGE_SOURCE"] != srv.URL+"/repo" || labels["DCOS_COMMONS_UNINSTALL"] != "true" || labels["DCOS_PACKAGE_FRAMEWORK_NAME"] != "pingpong" {
		t.Errorf("labels %v", labels)
	}
}

func TestRenderGit(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	repos := testenv.NewGitRepos(t)
	r := repos.Create("universe")
	files := map[string]string{}
	_ = fs.WalkDir(examples.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := fs.ReadFile(examples.FS(), p)
			files[strings.TrimPrefix(p, "universe/")] = string(b)
		}
		return nil
	})
	r.WriteFiles(files)
	r.Commit("example packages")
	srv := testenv.StartGitHTTP(t, repos, nil)
	code, out, errOut := runCLI(t, "render", "--universe", srv.URL("universe"), "--package", "greeter", "--version", "1.0.0")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	labels := decodeApp(t, out)["labels"].(map[string]any)
	if labels["DCOS_PACKAGE_SOURCE"] != srv.URL("universe") || labels["DCOS_PACKAGE_VERSION"] != "1.0.0" {
		t.Errorf("labels %v", labels)
	}
	code, _, errOut = runCLI(t, "render", "--universe", srv.URL("universe"), "--ref", "no-such-branch", "--package", "greeter")
	if code != exitProblem || !strings.Contains(errOut, "no-such-branch") {
		t.Errorf("missing ref: exit %d %s", code, errOut)
	}
}
