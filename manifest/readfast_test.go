package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// describe renders a Set completely, for comparisons.
func describe(s *Set) string {
	var b strings.Builder
	for _, r := range s.Results {
		fmt.Fprintf(&b, "%s name=%q", r.File, r.Name)
		if r.Release != nil {
			fmt.Fprintf(&b, " options=%s digest=%s", r.Release.Options, r.Release.Digest())
		}
		for _, p := range r.Problems {
			fmt.Fprintf(&b, "\n  %v", p)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestLoadDirMatchesLoad loads a tree with every kind of file from a
// directory (the Linux fast reads) and through os.Root's fs.FS alone: the
// sets must be the same.
func TestLoadDirMatchesLoad(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret.json")
	os.WriteFile(outside, []byte(`{"password": "x"}`), 0o644)
	files := map[string]string{
		"releases/a.yaml":             manifestDoc("a", "  optionsFile: options/a.json\n  options: {service: {instances: 3}}\n"),
		"releases/b.yaml":             manifestDoc("b", "  optionsFile: linked/a.json\n"),
		"releases/c.yaml":             manifestDoc("c", "  optionsFile: options/escape.json\n"),
		"releases/d.yaml":             manifestDoc("d", "  optionsFile: options/big.json\n"),
		"releases/e.yaml":             manifestDoc("e", "  optionsFile: options/dir.json\n"),
		"releases/f.yaml":             manifestDoc("f", "  optionsFile: options/empty.json\n"),
		"releases/sub/g.yaml":         manifestDoc("g", "  optionsFile: releases/sub/g-options.yaml\n"),
		"releases/sub/g-options.yaml": "x: 1\n",
		"releases/big.yaml":           manifestDoc("big", "  options: {x: \""+strings.Repeat("y", maxManifest)+"\"}\n"),
		"releases/empty.yaml":         "",
		"releases/real/h.yaml":        manifestDoc("h", ""),
		"options/a.json":              `{"service": {"name": "n"}}`,
		"options/big.json":            `{"x": "` + strings.Repeat("z", maxOptionsFile) + `"}`,
		"options/empty.json":          ``,
		"options/dir.json/inner":      `{}`,
	}
	dir := writeTree(t, files)
	for link, target := range map[string]string{
		"options/escape.json":  outside,
		"linked":               "options",
		"releases/link.yaml":   "a.yaml",
		"releases/linkdir":     "real",
		"releases/dangle.yaml": "nope.yaml",
	} {
		if err := os.Symlink(target, filepath.Join(dir, filepath.FromSlash(link))); err != nil {
			t.Fatal(err)
		}
	}
	fast, err := LoadDir(dir, "releases")
	if err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	slow, err := Load(LoadOptions{FS: root.FS(), Path: "releases"})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := describe(fast), describe(slow); a != b {
		t.Fatalf("LoadDir:\n%s\nLoad over os.Root:\n%s", a, b)
	}
	if n := len(fast.Releases()); n < 3 {
		t.Fatalf("only %d valid releases:\n%s", n, describe(fast))
	}
}
