package universe

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/universe-operator/universe-operator/examples"
)

// malformedTree is a tree with every kind of problem the loader reports.
func malformedTree() fstest.MapFS {
	return fstest.MapFS{
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
		"G/good/9/package.json":                      {Data: []byte(goodPackage)},
		"G/good/9/config.json":                       {Data: []byte(`{"type": `)},
		"G/good/9/resource.json":                     {Data: []byte(`[]`)},
		"G/good/9/command.json":                      {Data: []byte(``)},
		"G/good/10/config.json":                      {Data: []byte(`{}`)},
		"G/good/11/package.json":                     {Data: []byte(strings.Replace(goodPackage, `"good"`, `"g\u006f\u006fd"`, 1))},
		"G/good/12/package.json":                     {Data: []byte(goodPackage + " trailing")},
		"G/good/13/package.json":                     {Data: []byte("{\"name\": \"good\", \"version\": \"1\xff\"}")},
		"G/good/latest/package.json":                 {Data: []byte(goodPackage)},
		"G/Good/0/package.json":                      {Data: []byte(goodPackage)},
		"gg/x/0/package.json":                        {Data: []byte(goodPackage)},
		"T/tagged/1/package.json":                    {Data: []byte(`null`)},
		"D/dir-as-file/0/package.json/placeholder":   {Data: []byte(`x`)},
		"D/dir-as-file/1/package.json":               {Data: pkgJSON(`, "name": "dir-as-file"`)},
		"D/dir-as-file/1/marathon.json.mustache/dir": {Data: []byte(`x`)},
		"O/outside/0/package.json":                   {Data: pkgJSON(`, "name": "outside"`)},
		"B/big/0/package.json":                       {Data: pkgJSON(`, "name": "big", "description": "` + strings.Repeat("x", 70000) + `"`)},
		"B/big/0/config.json":                        {Data: []byte(`{"type": "object", "description": "` + strings.Repeat("y", 100000) + `"}`)},
	}
}

// TestLoadDirMatchesLoadFS loads the same trees from a directory (the
// Linux fast path: raw openat, getdents64, read) and from an fs.FS (the
// portable path): problems and packages must be the same, symbolic links
// included.
func TestLoadDirMatchesLoadFS(t *testing.T) {
	tree := malformedTree()
	dir := t.TempDir()
	if err := os.CopyFS(dir, tree); err != nil {
		t.Fatal(err)
	}
	// Symbolic links: a file and a revision inside the tree (followed by
	// os.Root; directories that are links are not packages), and one
	// leading out of the tree (refused).
	outside := filepath.Join(t.TempDir(), "secret.json")
	_ = os.WriteFile(outside, []byte(`{"leaked": true}`), 0o644)
	links := map[string]string{
		"G/good/0/resource.json":   "config.json",
		"O/outside/0/command.json": outside,
		"G/good/7":                 "0",
		"L":                        "G",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, filepath.FromSlash(name))); err != nil {
			t.Fatal(err)
		}
	}
	fromDir, dirProblems := LoadDir(dir, WithSource("s"))
	// The portable path (os.Root only) over the same directory.
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	slow := &rootFS{root: root, dirs: map[string]*os.Root{".": root}}
	if slow.fastOK() {
		t.Fatal("the reference uses the fast path")
	}
	defer slow.close()
	fromFS, fsProblems := load(slow, func(rel string) string { return rel }, newLoadConfig([]LoadOption{WithSource("s")}))

	reasons := func(list []error, strip string) []string {
		var out []string
		for _, p := range list {
			var fe *FileError
			if !errors.As(p, &fe) {
				t.Errorf("not a *FileError: %v", p)
				continue
			}
			out = append(out, strings.TrimPrefix(filepath.ToSlash(fe.Path), strip)+": "+fe.Err.Error())
		}
		return out
	}
	a := reasons(dirProblems, filepath.ToSlash(dir)+"/")
	b := reasons(fsProblems, "")
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Errorf("problems differ:\nLoadDir:\n%s\nLoadFS:\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
	if len(a) < 15 {
		t.Errorf("only %d problems:\n%s", len(a), strings.Join(a, "\n"))
	}
	if fromDir.Len() != fromFS.Len() || fromDir.Len() < 2 {
		for _, p := range fromDir.Packages() {
			t.Logf("LoadDir: %s at %s", p, p.Location)
		}
		for _, p := range fromFS.Packages() {
			t.Logf("reference: %s at %s", p, p.Location)
		}
		t.Fatalf("%d and %d revisions", fromDir.Len(), fromFS.Len())
	}
	for i, p := range fromDir.Packages() {
		q := fromFS.Packages()[i]
		if p.Name != q.Name || p.ReleaseVersion != q.ReleaseVersion || !bytes.Equal(p.Definition, q.Definition) ||
			!bytes.Equal(p.Config, q.Config) || !bytes.Equal(p.Template, q.Template) || !bytes.Equal(p.Resource, q.Resource) ||
			!bytes.Equal(p.Command, q.Command) || (p.Template == nil) != (q.Template == nil) {
			t.Errorf("%s differs between LoadDir and LoadFS", p)
		}
	}
	if p := fromDir.Get("good", 0); p == nil || !bytes.Equal(p.Resource, p.Config) {
		t.Errorf("good/0 through the in-tree link: %+v; %v", p, dirProblems)
	}
	if p := fromDir.Get("big", 0); p == nil || len(p.Config) < 100000 {
		t.Errorf("big/0 not read whole")
	}
}

// A symbolic link to a file of another directory of the tree (a config.json
// shared between revisions) is followed, as Cosmos's Universe build follows
// it; a link leading out of the tree stays refused (TestLoadDir).
func TestLoadDirFollowsLinksWithinTheTree(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, examples.Packages()); err != nil {
		t.Fatal(err)
	}
	shared := filepath.Join(dir, "G", "greeter", "1", "config.json")
	if err := os.Remove(shared); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../0/config.json", shared); err != nil {
		t.Fatal(err)
	}
	repo, problems := LoadDir(dir)
	if len(problems) != 0 {
		t.Fatalf("problems: %v", problems)
	}
	zero, one := repo.Get("greeter", 0), repo.Get("greeter", 1)
	if zero == nil || one == nil || !bytes.Equal(zero.Config, one.Config) {
		t.Fatalf("greeter/1 through the link: %v %v", zero, one)
	}
}
