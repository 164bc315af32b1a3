package render

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/universe-operator/universe-operator/universe"
)

// testPackage loads a one-revision package (packaging 4.0, release 0) with
// the given template and config.json ("" = absent) through the real loader.
func testPackage(t testing.TB, name, tmpl, config string) *universe.Package {
	t.Helper()
	base := strings.ToUpper(name[:1]) + "/" + name + "/0/"
	fsys := fstest.MapFS{
		base + "package.json": {Data: []byte(`{"packagingVersion": "4.0", "name": "` + name + `", "version": "1.0.0",
			"maintainer": "t@example.invalid", "description": "test", "tags": ["t"]}`)},
	}
	if tmpl != "" {
		fsys[base+"marathon.json.mustache"] = &fstest.MapFile{Data: []byte(tmpl)}
	}
	if config != "" {
		fsys[base+"config.json"] = &fstest.MapFile{Data: []byte(config)}
	}
	repo, problems := universe.LoadFS(fsys, universe.WithSource("https://universe.example/repo"))
	if len(problems) > 0 {
		t.Fatalf("test package: %v", problems)
	}
	return repo.Packages()[0]
}

// asError is errors.As for *Error.
func asError(err error, target **Error) bool { return errors.As(err, target) }

func isDepthError(err error) bool {
	var se *syntaxError
	return errors.As(err, &se) && strings.Contains(se.msg, "nesting deeper")
}
