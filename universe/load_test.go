package universe

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/universe-operator/universe-operator/errs"
	"github.com/universe-operator/universe-operator/examples"
)

const goodPackage = `{"packagingVersion": "4.0", "name": "good", "version": "1.0.0", "maintainer": "m", "description": "d", "tags": ["t"]}`

func pkgJSON(fields string) []byte {
	return []byte(`{"packagingVersion": "3.0", "version": "1.0.0", "maintainer": "m", "description": "d", "tags": ["t"]` + fields + `}`)
}

func TestLoadReportsEveryMalformedFile(t *testing.T) {
	fsys := fstest.MapFS{
		"README.md":                                  {Data: []byte("not a package")},
		"G/good/0/package.json":                      {Data: []byte(goodPackage)},
		"G/good/0/config.json":                       {Data: []byte(`{"type": "object"}`)},
		"G/good/0/marathon.json.mustache":            {Data: []byte(`{"id": "{{x}}"}`)},
		"G/good/0/extra-file.json":                   {Data: []byte(`ignored`)},
		"G/good/1/package.json":                      {Data: []byte("{\n  \"name\": \"good\",\n  \"version\": 1.0\n  \"x\": 1}")},
		"G/good/2/package.json":                      {Data: []byte(`[1]`)},
		"G/good/3/package.json":                      {Data: pkgJSON(`, "name": "good", "framework": "yes", "tags": "t", "upgradesFrom": [1]`)},
		"G/good/4/package.json":                      {Data: []byte(`{"name": "good"}`)},
		"G/good/5/package.json":                      {Data: pkgJSON(`, "name": "other"`)},
		"G/good/6/package.json":                      {Data: []byte(strings.Replace(goodPackage, `"1.0.0"`, `"1.0 beta"`, 1))},
		"G/good/7/package.json":                      {Data: []byte(strings.Replace(goodPackage, `"4.0"`, `"6.0"`, 1))},
		"G/good/8/package.json":                      {Data: pkgJSON(`, "name": "good", "minDcosReleaseVersion": "1.x"`)},
		"G/good/9/package.json":                      {Data: []byte(goodPackage)},
		"G/good/9/config.json":                       {Data: []byte(`{"type": `)},
		"G/good/9/resource.json":                     {Data: []byte(`[]`)},
		"G/good/9/command.json":                      {Data: []byte(``)},
		"G/good/10/config.json":                      {Data: []byte(`{}`)},
		"G/good/latest/package.json":                 {Data: []byte(goodPackage)},
		"G/good/01/package.json":                     {Data: []byte(goodPackage)},
		"G/Good/0/package.json":                      {Data: []byte(goodPackage)},
		"H/good/0/package.json":                      {Data: []byte(goodPackage)},
		"gg/x/0/package.json":                        {Data: []byte(goodPackage)},
		"N/nulls/0/package.json":                     {Data: pkgJSON(`, "name": "nulls", "scm": null, "framework": null, "licenses": [{"name": "Apache", "url": "https://www.apache.org/licenses/LICENSE-2.0"}]`)},
		"O/old/0/package.json":                       {Data: []byte(`{"packagingVersion": "2.0", "name": "old", "version": "0.1", "maintainer": "m", "description": "d", "tags": [], "upgradesFrom": ["*"], "minDcosReleaseVersion": "whatever"}`)},
		"F/five/3/package.json":                      {Data: []byte(`{"packagingVersion": "5.0", "name": "five", "version": "1.0.0", "maintainer": "m", "description": "d", "tags": ["t"], "manager": {"packageName": "cosmos"}, "upgradesFrom": [], "downgradesTo": ["*"]}`)},
		"F/five/3/marathon.json.mustache":            {Data: []byte(``)},
		"F/five/4/package.json":                      {Data: []byte(`{"packagingVersion": "5.0", "name": "five", "version": "1.0.0", "maintainer": "m", "description": "d", "tags": ["t"], "manager": "cosmos"}`)},
		"L/licensed/0/package.json":                  {Data: pkgJSON(`, "name": "licensed", "licenses": [{"name": 1}]`)},
		"T/tagged/0/package.json":                    {Data: pkgJSON(`, "name": "tagged", "tags": ["two words"]`)},
		"T/tagged/1/package.json":                    {Data: []byte(`null`)},
		"U/upper-X/0/package.json":                   {Data: pkgJSON(`, "name": "upper-X"`)},
		"E/empty-version/0/package.json":             {Data: []byte(`{"packagingVersion": "3.0", "name": "empty-version", "version": "", "maintainer": "m", "description": "d", "tags": ["t"]}`)},
		"D/dir-as-file/0/package.json/placeholder":   {Data: []byte(`x`)},
		"D/dir-as-file/1/package.json":               {Data: pkgJSON(`, "name": "dir-as-file"`)},
		"D/dir-as-file/1/marathon.json.mustache/dir": {Data: []byte(`x`)},
	}
	repo, problems := LoadFS(fsys, WithName("test"), WithSource("https://example.invalid/repo"))
	want := map[string]string{
		"G/good/1/package.json":                  "not JSON: invalid character '\"' after object key:value pair at line 4 column 3",
		"G/good/2/package.json":                  "must be a JSON object, got array",
		"G/good/3/package.json":                  `field "tags" must be an array of strings, got string; field "framework" must be a boolean, got string`,
		"G/good/4/package.json":                  `missing required field "packagingVersion"; missing required field "version"; missing required field "maintainer"; missing required field "description"; missing required field "tags"`,
		"G/good/5/package.json":                  `name "other" differs from its directory name "good"`,
		"G/good/6/package.json":                  `version "1.0 beta" does not match ^[-a-zA-Z0-9.]+$`,
		"G/good/7/package.json":                  `unsupported packagingVersion "6.0"`,
		"G/good/8/package.json":                  `minDcosReleaseVersion "1.x" is not a DC/OS release version`,
		"G/good/9/config.json":                   "not JSON: unexpected end of JSON input at line 1 column 10",
		"G/good/9/resource.json":                 "must be a JSON object, got array",
		"G/good/9/command.json":                  "empty file",
		"G/good/10/package.json":                 "missing: every revision needs a package.json",
		"G/good/latest":                          `revision directory "latest" is not a releaseVersion`,
		"G/good/01":                              `revision directory "01" is not a releaseVersion`,
		"G/Good":                                 `package "Good" must be under directory "G"`,
		"H/good":                                 `package "good" must be under directory "G"`,
		"gg":                                     "unexpected directory",
		"F/five/4/package.json":                  `field "manager" must be an object, got string`,
		"L/licensed/0/package.json":              "licenses[0].name must be a string; licenses[0].url must be a string",
		"T/tagged/0/package.json":                `tag "two words" must be one word without spaces`,
		"T/tagged/1/package.json":                "must be a JSON object, got null",
		"U/upper-X/0/package.json":               `name "upper-X" does not match`,
		"E/empty-version/0/package.json":         "version is empty",
		"D/dir-as-file/0/package.json":           "is a directory",
		"D/dir-as-file/1/marathon.json.mustache": "is a directory",
	}
	got := map[string]string{}
	for _, p := range problems {
		var fe *FileError
		if !errors.As(p, &fe) || !errs.IsPermanent(p) {
			t.Errorf("not a permanent *FileError: %v", p)
			continue
		}
		if _, dup := got[fe.Path]; dup {
			t.Errorf("two errors for %s", fe.Path)
		}
		got[fe.Path] = fe.Err.Error()
	}
	for path, reason := range want {
		if !strings.Contains(got[path], reason) {
			t.Errorf("%s: got %q, want it to contain %q", path, got[path], reason)
		}
	}
	for path, reason := range got {
		if _, ok := want[path]; !ok {
			t.Errorf("unexpected problem %s: %s", path, reason)
		}
	}
	if repo == nil {
		t.Fatal("no repository")
	}
	// What loaded: good/0, nulls/0, old/0, five/3.
	var names []string
	for _, p := range repo.Packages() {
		names = append(names, fmt.Sprintf("%s/%d", p.Name, p.ReleaseVersion))
		if p.Repository != "test" || p.Source != "https://example.invalid/repo" {
			t.Errorf("%s: repository %q source %q", p, p.Repository, p.Source)
		}
	}
	if strings.Join(names, " ") != "five/3 good/0 nulls/0 old/0" {
		t.Errorf("loaded %v", names)
	}
	good := repo.Get("good", 0)
	if good.Location != "G/good/0" || string(good.Config) != `{"type": "object"}` || string(good.Template) != `{"id": "{{x}}"}` || good.Resource != nil || good.Command != nil {
		t.Errorf("good/0: %+v", good)
	}
	old := repo.Get("old", 0)
	if old.UpgradesFrom.Declared || old.MinDcosReleaseVersion != "" {
		t.Errorf("2.0 package fields must be ignored: %+v", old)
	}
	five := repo.Get("five", 3)
	if !five.UpgradesFrom.Declared || len(five.UpgradesFrom.Versions) != 0 || !five.DowngradesTo.Matches("anything") || !five.HasTemplate() || five.MediaVersion() != "v5" {
		t.Errorf("five/3: %+v", five)
	}
	if five.UpgradesFrom.String() != "[]" || old.UpgradesFrom.String() != "absent" || five.DowngradesTo.String() != `["*"]` {
		t.Errorf("VersionList.String: %s %s %s", five.UpgradesFrom, old.UpgradesFrom, five.DowngradesTo)
	}
}

func TestLoadDir(t *testing.T) {
	if _, problems := LoadDir(filepath.Join(t.TempDir(), "missing")); len(problems) != 1 || !errs.IsPermanent(problems[0]) {
		t.Errorf("missing dir: %v", problems)
	}
	file := filepath.Join(t.TempDir(), "f")
	_ = os.WriteFile(file, nil, 0o644)
	if repo, problems := LoadDir(file); repo != nil || len(problems) != 1 {
		t.Errorf("file: %v %v", repo, problems)
	}

	dir := t.TempDir()
	if err := os.CopyFS(dir, examples.Packages()); err != nil {
		t.Fatal(err)
	}
	// A symbolic link leading out of the tree must not be followed.
	secret := filepath.Join(t.TempDir(), "secret.json")
	_ = os.WriteFile(secret, []byte(`{"leaked": true}`), 0o644)
	if err := os.Symlink(secret, filepath.Join(dir, "H", "hello-web", "0", "command.json")); err != nil {
		t.Fatal(err)
	}
	repo, problems := LoadDir(dir)
	if len(problems) != 1 || !strings.Contains(problems[0].Error(), filepath.Join(dir, "H", "hello-web", "0", "command.json")) {
		t.Errorf("problems %v", problems)
	}
	if repo.Get("hello-web", 0) != nil {
		t.Error("hello-web/0 loaded through an escaping symlink")
	}
	if p := repo.Get("hello-web", 1); p == nil || p.Location != filepath.Join(dir, "H", "hello-web", "1") || !strings.HasPrefix(p.Source, "file:///") {
		t.Errorf("hello-web/1: %+v", p)
	}
}

// servedFrom builds a served repository document from packages.
func servedFrom(t *testing.T, pkgs []*Package) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString(`{"packages": [`)
	for i, p := range pkgs {
		if i > 0 {
			b.WriteString(",\n")
		}
		doc, err := p.RepoJSON()
		if err != nil {
			t.Fatal(err)
		}
		b.Write(doc)
	}
	b.WriteString("]}")
	return b.Bytes()
}

func TestServedFormEqualsDirectoryForm(t *testing.T) {
	dirRepo, problems := LoadFS(examples.Packages(), WithSource("https://example.invalid/repo"))
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	served := servedFrom(t, dirRepo.Packages())
	repo, problems := LoadServed(served, WithName("served"), WithSource("https://example.invalid/repo"))
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	if repo.Len() != dirRepo.Len() {
		t.Fatalf("%d revisions, want %d", repo.Len(), dirRepo.Len())
	}
	for i, want := range dirRepo.Packages() {
		got := repo.Packages()[i]
		a, _ := want.RepoJSON()
		b, _ := got.RepoJSON()
		if !bytes.Equal(a, b) {
			t.Errorf("%s: repo JSON differs:\n%s\n%s", want, a, b)
		}
		if got.Name != want.Name || got.Version != want.Version || got.ReleaseVersion != want.ReleaseVersion ||
			!bytes.Equal(got.Template, want.Template) || got.Framework != want.Framework ||
			got.UpgradesFrom.String() != want.UpgradesFrom.String() || got.DowngradesTo.String() != want.DowngradesTo.String() ||
			got.PostUninstallNotes != want.PostUninstallNotes || got.MinDcosReleaseVersion != want.MinDcosReleaseVersion {
			t.Errorf("%s: served %+v", want, got)
		}
		if !strings.HasPrefix(got.Location, "https://example.invalid/repo#packages[") {
			t.Errorf("location %s", got.Location)
		}
		if bytes.Contains(got.Definition, []byte("releaseVersion")) || bytes.Contains(got.Definition, []byte("v2AppMustacheTemplate")) {
			t.Errorf("definition keeps served-only members: %s", got.Definition)
		}
	}
}

func TestRepoJSONFormat(t *testing.T) {
	p := &Package{
		Name: "xy", Version: "1", ReleaseVersion: 7, PackagingVersion: "3.0",
		Definition: json.RawMessage("{\n  \"zz\": \"first\", \"packagingVersion\": \"3.0\", \"name\": \"xy\", \"version\": \"1\", \"maintainer\": \"m\", \"description\": \"d\", \"tags\": [],\n  \"n\": 1.50, \"nul\": null, \"esc\": \"\\u00e9<&>\", \"releaseVersion\": 99\n}"),
		Template:   []byte("{}"),
		Config:     json.RawMessage(`{ "a" : [ 1 , "b c" ] }`),
		Command:    json.RawMessage(`{"pip": []}`),
	}
	got, err := p.RepoJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"zz":"first","packagingVersion":"3.0","name":"xy","version":"1","maintainer":"m","description":"d","tags":[],"n":1.50,"nul":null,"esc":"\u00e9<&>","releaseVersion":7,"marathon":{"v2AppMustacheTemplate":"e30="},"config":{"a":[1,"b c"]},"command":{"pip":[]}}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	label, err := p.DefinitionLabel()
	if err != nil {
		t.Fatal(err)
	}
	env, _ := base64.StdEncoding.DecodeString(label)
	if !strings.HasPrefix(string(env), `{"metadata":{"Content-Type":"application/vnd.dcos.universe.package+json;charset=utf-8;version=v3","Content-Encoding":"gzip"},"data":"`) {
		t.Errorf("envelope %s", env)
	}
	back, err := DecodeDefinitionLabel(label)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := back.RepoJSON(); string(again) != want {
		t.Errorf("label round trip: %s", again)
	}
	if _, err := (&Package{Definition: json.RawMessage(`[1]`)}).RepoJSON(); err == nil {
		t.Error("a non-object definition encoded")
	}
}

func TestDecodeDefinitionLabelErrors(t *testing.T) {
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	cases := map[string]string{
		"not base64!":          "not base64",
		enc(`[`):               "envelope is not JSON",
		enc(`{"metadata":{}}`): `envelope has no "data"`,
		enc(`{"data":"!!"}`):   "data is not base64",
		enc(`{"metadata":{"Content-Encoding":"gzip"},"data":"` + enc("plain") + `"}`): "data is not gzip",
		enc(`{"metadata":{"Content-Encoding":"br"},"data":""}`):                       "unsupported Content-Encoding",
		enc(`{"data":"` + enc(`{"name":"x"}`) + `"}`):                                 "missing required field",
	}
	for label, want := range cases {
		_, err := DecodeDefinitionLabel(label)
		if err == nil || !errs.IsPermanent(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", label, err, want)
		}
	}
	// An identity-encoded envelope (no gzip) is accepted.
	plain := enc(`{"metadata":{},"data":"` + enc(`{"packagingVersion":"2.0","name":"xy","version":"1","maintainer":"m","description":"d","tags":[],"releaseVersion":3,"scm":null}`) + `"}`)
	if p, err := DecodeDefinitionLabel(plain); err != nil || p.ReleaseVersion != 3 || p.Location != "DCOS_PACKAGE_DEFINITION" {
		t.Errorf("plain envelope: %+v %v", p, err)
	}
}

func TestLoadServedErrors(t *testing.T) {
	for _, doc := range []string{``, `[]`, `null`, `{}`, `{"packages": 5}`, `{"packages": [`} {
		if repo, problems := LoadServed([]byte(doc)); repo != nil || len(problems) != 1 || !errs.IsPermanent(problems[0]) {
			t.Errorf("%q: %v %v", doc, repo, problems)
		}
	}
	good := `{"packagingVersion": "3.0", "name": "ab", "version": "1", "maintainer": "m", "description": "d", "tags": ["t"], "releaseVersion": 0}`
	doc := `{"packages": [` + strings.Join([]string{
		good,
		`{"packagingVersion": "3.0", "name": "ab", "version": "1", "maintainer": "m", "description": "d", "tags": ["t"]}`,
		strings.Replace(good, `"releaseVersion": 0`, `"releaseVersion": -1`, 1),
		strings.Replace(good, `"releaseVersion": 0`, `"releaseVersion": 1, "marathon": {"v2AppMustacheTemplate": "!!"}`, 1),
		strings.Replace(good, `"releaseVersion": 0`, `"releaseVersion": 2, "marathon": []`, 1),
		strings.Replace(good, `"releaseVersion": 0`, `"releaseVersion": 3, "config": [], "resource": "r"`, 1),
		strings.Replace(good, `"releaseVersion": 0`, `"releaseVersion": 4, "marathon": {}`, 1),
		good,
		`7`,
	}, ",") + `]}`
	repo, problems := LoadServed([]byte(doc), WithSource("https://u.example/repo"))
	want := []string{
		`#packages[1] (ab): missing required field "releaseVersion"`,
		`#packages[2] (ab): field "releaseVersion" must be a non-negative integer, got -1`,
		`#packages[3] (ab): marathon.v2AppMustacheTemplate is not base64`,
		`#packages[4] (ab): field "marathon" must be an object, got array`,
		`#packages[5] (ab): field "config" must be an object, got array; field "resource" must be an object, got string`,
		`#packages[6] (ab): marathon.v2AppMustacheTemplate must be a base64 string, got nothing`,
		`#packages[8]: must be a JSON object, got number`,
		`#packages[7] (ab): duplicate revision: ab 1 (rev 0) is also at https://u.example/repo#packages[0] (ab)`,
	}
	if len(problems) != len(want) {
		t.Errorf("%d problems: %v", len(problems), problems)
	}
	for i, w := range want {
		if i < len(problems) && !strings.Contains(problems[i].Error(), w) {
			t.Errorf("problem %d: %v\nwant %s", i, problems[i], w)
		}
	}
	if repo.Len() != 1 || repo.Source != "https://u.example/repo" {
		t.Errorf("repository: %d revisions, source %s", repo.Len(), repo.Source)
	}
}

func TestFetchServed(t *testing.T) {
	dirRepo, _ := LoadFS(examples.Packages())
	body := servedFrom(t, dirRepo.Packages())
	var mu sync.Mutex
	var accept string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/repo":
			mu.Lock()
			accept = r.Header.Get("Accept")
			mu.Unlock()
			w.Header().Set("Content-Type", "application/vnd.dcos.universe.repo+json;charset=utf-8;version=v5")
			_, _ = w.Write(body)
		case "/busy":
			http.Error(w, "try later", http.StatusServiceUnavailable)
		case "/slow":
			time.Sleep(2 * time.Second)
		case "/html":
			_, _ = w.Write([]byte("<html></html>"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	repo, problems := FetchServed(ctx, srv.Client(), srv.URL+"/repo", WithName("remote"))
	if len(problems) > 0 || repo.Len() != dirRepo.Len() || repo.Name != "remote" || repo.Source != srv.URL+"/repo" {
		t.Fatalf("fetch: %v %v", repo, problems)
	}
	mu.Lock()
	defer mu.Unlock()
	if accept != ServedMediaType {
		t.Errorf("Accept %q", accept)
	}
	if p := repo.Latest("hello-web"); p.Source != srv.URL+"/repo" {
		t.Errorf("package source %q", p.Source)
	}
	check := func(path string, permanent bool, want string) {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		repo, problems := FetchServed(c, nil, srv.URL+path)
		if repo != nil || len(problems) != 1 {
			t.Fatalf("%s: %v %v", path, repo, problems)
		}
		if errs.IsPermanent(problems[0]) != permanent || !strings.Contains(problems[0].Error(), want) {
			t.Errorf("%s: %v (permanent %v), want permanent=%v %q", path, problems[0], errs.IsPermanent(problems[0]), permanent, want)
		}
	}
	check("/missing", true, "HTTP 404")
	check("/busy", false, "HTTP 503 Service Unavailable: try later")
	check("/slow", false, "context deadline exceeded")
	check("/html", true, "not a served repository")
	srv.Close()
	check("/repo", false, "connect")
}

// Fuzz targets for the loaders: any bytes, never a panic.

func FuzzLoadPackageJSON(f *testing.F) {
	f.Add([]byte(goodPackage), []byte(`{}`))
	f.Add(pkgJSON(`, "name": "good", "upgradesFrom": ["*", 1], "licenses": [{}]`), []byte(`[`))
	f.Add([]byte(`{"packagingVersion": "5.0", "manager": null}`), []byte(`null`))
	f.Fuzz(func(t *testing.T, pkg, config []byte) {
		fsys := fstest.MapFS{"G/good/0/package.json": {Data: pkg}, "G/good/0/config.json": {Data: config}}
		repo, problems := LoadFS(fsys)
		if repo == nil {
			t.Fatal("no repository")
		}
		if repo.Len()+len(problems) == 0 {
			t.Fatal("neither a revision nor a problem")
		}
		for _, p := range repo.Packages() {
			if _, err := p.RepoJSON(); err != nil {
				t.Fatalf("loaded revision does not encode: %v", err)
			}
		}
	})
}

func FuzzLoadServed(f *testing.F) {
	f.Add([]byte(`{"packages": [{"packagingVersion": "3.0", "name": "ab", "version": "1", "maintainer": "m", "description": "d", "tags": [], "releaseVersion": 0, "marathon": {"v2AppMustacheTemplate": "e30="}}]}`))
	f.Add([]byte(`{"packages": [null, 1, {}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		repo, _ := LoadServed(data)
		for _, p := range repo.Packages() {
			doc, err := p.RepoJSON()
			if err != nil {
				t.Fatalf("loaded revision does not encode: %v", err)
			}
			if !json.Valid(doc) {
				t.Fatalf("invalid repo JSON %s", doc)
			}
			label, err := p.DefinitionLabel()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := DecodeDefinitionLabel(label); err != nil {
				t.Fatalf("label does not decode: %v", err)
			}
		}
	})
}

func FuzzDecodeDefinitionLabel(f *testing.F) {
	repo, _ := LoadFS(examples.Packages())
	for _, p := range repo.Packages() {
		l, _ := p.DefinitionLabel()
		f.Add(l)
	}
	f.Add("e30=")
	f.Fuzz(func(t *testing.T, label string) {
		_, _ = DecodeDefinitionLabel(label)
	})
}

var _ fs.FS = fstest.MapFS{}
