package manifest

import (
	"strings"
	"testing"
	"testing/fstest"
)

// FuzzParse: the manifest parser never panics; it either returns a release
// that passes its own rules or problems that all name the file.
func FuzzParse(f *testing.F) {
	f.Add([]byte(good), "r.yaml")
	f.Add([]byte(realistic(3)), "r.yml")
	f.Add([]byte(`{"apiVersion":"universe-operator/v1","kind":"PackageRelease","metadata":{"name":"a"},"spec":{"package":"b1","options":{"x":[1,2.5e300,null,"\u003c"]}}}`), "r.json")
	f.Add([]byte("apiVersion: universe-operator/v1\nkind: PackageRelease\nmetadata: {name: a}\nspec: {package: b1, options: &a {x: *a}}\n"), "r.yaml")
	f.Add([]byte("---\n- a\n---\n"), "r.yaml")
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		if name == "" || strings.ContainsAny(name, "\n") {
			name = "r.yaml"
		}
		r, ps := Parse(name, data)
		if r == nil && len(ps) == 0 {
			t.Fatal("neither a release nor problems")
		}
		if r != nil {
			if ValidName(r.Name()) != nil || r.APIVersion != APIVersion || r.Kind != Kind || r.Spec.Package == "" {
				t.Fatalf("invalid release accepted: %+v", r)
			}
			_ = r.Digest()
			// Options resolution on an empty repository never panics.
			_ = ResolveOptions(fstest.MapFS{}, r)
			return
		}
		for _, p := range ps {
			if !strings.HasPrefix(p.Error(), name+": ") {
				t.Fatalf("problem %q does not name the file", p)
			}
		}
	})
}
