package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/universe-operator/universe-operator/internal/testenv"
)

// validatePackages are two small packages: webapp (options with a schema)
// and badtemplate (renders text that is not JSON).
var validatePackages = map[string]string{
	"W/webapp/0/package.json": `{"packagingVersion": "4.0", "name": "webapp", "version": "1.0.0", "maintainer": "t@example.invalid", "description": "d", "tags": ["t"]}`,
	"W/webapp/0/config.json": `{"type": "object", "properties": {"service": {"type": "object", "properties": {
		"name": {"type": "string", "default": "webapp"}, "instances": {"type": "integer", "minimum": 0, "default": 1}},
		"additionalProperties": false}}}`,
	"W/webapp/0/marathon.json.mustache":      `{"id": "{{service.name}}", "instances": {{service.instances}}, "cmd": "sleep 100"}`,
	"B/badtemplate/0/package.json":           `{"packagingVersion": "4.0", "name": "badtemplate", "version": "0.1.0", "maintainer": "t@example.invalid", "description": "d", "tags": ["t"]}`,
	"B/badtemplate/0/marathon.json.mustache": `{"id": "bad", "cmd": "sleep 1",`,
	"C/cli-only/0/package.json":              `{"packagingVersion": "4.0", "name": "cli-only", "version": "1.0.0", "maintainer": "t@example.invalid", "description": "d", "tags": ["t"]}`,
}

func writeValidateFiles(t *testing.T, base string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(base, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func vrel(name, spec string) string {
	return fmt.Sprintf("apiVersion: universe-operator/v1\nkind: PackageRelease\nmetadata:\n  name: %s\nspec:\n%s", name, spec)
}

func validateCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestValidateClean(t *testing.T) {
	dir := t.TempDir()
	writeValidateFiles(t, filepath.Join(dir, "universe"), validatePackages)
	writeValidateFiles(t, filepath.Join(dir, "releases"), map[string]string{
		"web.yaml":       vrel("web", "  package: webapp\n  options: {service: {instances: 2}}\n"),
		"web2.yaml":      vrel("web2", "  package: webapp\n  version: \"1.0.0\"\n  appId: /team/web2\n  dependsOn: [web]\n  optionsFile: opts/web2.json\n"),
		"opts/web2.json": `{"service": {"name": "ignored-by-appId"}}`,
	})
	writeValidateFiles(t, dir, map[string]string{"config.yaml": "dcos_url: https://dcos.example.com\nuniverses:\n  - {name: local, dir: universe}\nreleases: {dir: releases}\n"})
	code, out, errOut := validateCLI("validate", "--config", filepath.Join(dir, "config.yaml"))
	if code != exitOK || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if out != "ok: 2 release(s) in 2 file(s), 1 universe source(s) with 3 package(s): no problems\n" {
		t.Fatalf("stdout %q", out)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	rs := testenv.NewGitRepos(t)
	repo := rs.Create("gitops")
	files := map[string]string{
		"deploy/ok.yaml":             vrel("ok", "  package: webapp\n"),
		"deploy/broken.yaml":         vrel("broken", "  package: webapp\n  suspend: maybe\n  colour: blue\n"),
		"deploy/nopkg.yaml":          vrel("nopkg", "  package: kafka\n"),
		"deploy/badver.yaml":         vrel("badver", "  package: webapp\n  version: \"9.9.9\"\n  appId: /v\n"),
		"deploy/badopts.yaml":        vrel("badopts", "  package: webapp\n  appId: /o\n  options: {service: {instances: -1, colour: red}}\n"),
		"deploy/badtemplate.yaml":    vrel("badtemplate", "  package: badtemplate\n"),
		"deploy/nouniverse.yaml":     vrel("nouniverse", "  package: webapp\n  universe: elsewhere\n"),
		"deploy/ghost.yaml":          vrel("ghost", "  package: webapp\n  appId: /g\n  dependsOn: [nobody]\n"),
		"deploy/same-app.yaml":       vrel("same-app", "  package: webapp\n  appId: /webapp\n"),
		"deploy/cli.yaml":            vrel("cli", "  package: cli-only\n"),
		"deploy/escape.yaml":         vrel("escape", "  package: webapp\n  optionsFile: ../../etc/passwd\n"),
		"deploy/options/unused.json": `{"x": 1}`,
	}
	for p, c := range validatePackages {
		files["repo/packages/"+p] = c
	}
	repo.WriteFiles(files)
	repo.Commit("everything")
	srv := testenv.StartGitHTTP(t, rs, nil)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`marathon: {url: "http://marathon.mesos:8080"}
universes:
  - name: team
    git: {url: %q, ref: main, path: repo/packages}
  - name: down
    git: {url: "http://127.0.0.1:1/nothing.git", timeout: 5s}
releases:
  git: {url: %q, ref: main, path: deploy}
insecure_skip_verify: true
`, srv.URL("gitops"), srv.URL("gitops"))
	writeValidateFiles(t, dir, map[string]string{"config.yaml": cfg})
	code, out, errOut := validateCLI("validate", "--config", filepath.Join(dir, "config.yaml"), "--cache-dir", filepath.Join(dir, "cache"))
	if code != exitProblem || out != "" {
		t.Fatalf("exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	want := []string{
		"warning: insecure_skip_verify is true",
		"config.yaml: universes[1] (down): universe down: git list refs of http://127.0.0.1:1/nothing.git",
		"deploy/broken.yaml: spec.colour: unknown key",
		"deploy/broken.yaml: spec.suspend: must be true or false, not a string",
		"deploy/nopkg.yaml: spec.package:",
		"deploy/badver.yaml: spec.version:",
		"deploy/badopts.yaml: spec.options.service.instances:",
		"deploy/badopts.yaml: spec.options.service.colour: property is not allowed",
		"deploy/badtemplate.yaml: spec.package: cannot render",
		`deploy/nouniverse.yaml: spec.universe: no universe source named "elsewhere" (configured: team, down)`,
		`deploy/ghost.yaml: spec.dependsOn[0]: no release named "nobody"`,
		"deploy/ok.yaml: spec.appId: app id /webapp is also used by same-app (deploy/same-app.yaml)",
		"deploy/same-app.yaml: spec.appId: app id /webapp is also used by ok (deploy/ok.yaml)",
		"deploy/cli.yaml: spec.package: cli-only 1.0.0 (rev 0) has no marathon.json.mustache",
		"deploy/escape.yaml: spec.optionsFile:",
		"deploy/options/unused.json: not a release manifest",
		"validation failed:",
	}
	for _, w := range want {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q", w)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(errOut), "\n") {
		if !strings.HasPrefix(line, "universe-operator: ") {
			t.Errorf("line %q is not a one-line problem", line)
		}
	}
	if t.Failed() {
		t.Logf("stderr:\n%s", errOut)
	}
}

func TestValidateConfigAndUsageErrors(t *testing.T) {
	dir := t.TempDir()
	writeValidateFiles(t, dir, map[string]string{
		"bad.yaml":  "universes: [{name: u, dir: /u, extra: 1}]\nreleases: {dir: /r}\nmarathon: {auth: {token: inline}}\n",
		"good.yaml": "marathon: {url: 'http://m:8080', auth: {token_file: nope}}\nuniverses: [{name: u, dir: u}]\nreleases: {dir: r}\n",
	})
	code, _, errOut := validateCLI("validate", "--config", filepath.Join(dir, "bad.yaml"))
	if code != exitProblem || !strings.Contains(errOut, "bad.yaml: universes[0].extra: unknown key") ||
		!strings.Contains(errOut, "bad.yaml: marathon.auth.token: inline secrets are not allowed") || strings.Contains(errOut, "inline\n") {
		t.Fatalf("bad config: exit %d\n%s", code, errOut)
	}
	if code, _, _ := validateCLI("validate"); code != exitUsage {
		t.Fatalf("no --config: exit %d", code)
	}
	// Missing secrets are only problems with --check-secrets; missing
	// directories always are.
	code, _, errOut = validateCLI("validate", "--config", filepath.Join(dir, "good.yaml"), "--check-secrets")
	if code != exitProblem || !strings.Contains(errOut, "good.yaml: marathon.auth.token_file: secret file") ||
		!strings.Contains(errOut, "universes[0] (u): universe u: directory") || !strings.Contains(errOut, "releases:") {
		t.Fatalf("check-secrets: exit %d\n%s", code, errOut)
	}
}
