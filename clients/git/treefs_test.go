package git

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/universe-operator/universe-operator/internal/testenv"
)

func TestTreeFS(t *testing.T) {
	rs := testenv.NewGitRepos(t)
	repo := rs.Create("links")
	repo.WriteFiles(map[string]string{
		"releases/a.yaml":        "a",
		"releases/sub/b.yaml":    "b",
		"options/kafka.json":     `{"x":1}`,
		"deep/er/still/file.txt": "deep",
	})
	if err := os.Chmod(filepath.Join(repo.Work, "releases/a.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	repo.Symlink("../options/kafka.json", "releases/opts.json")  // inside
	repo.Symlink("../../etc/passwd", "releases/escape.json")     // above the root
	repo.Symlink("/etc/passwd", "releases/absolute.json")        // absolute
	repo.Symlink("loop2", "loop1")                               // loop
	repo.Symlink("loop1", "loop2")                               //
	repo.Symlink("deep/er", "shortcut")                          // a directory
	repo.Symlink("shortcut/../../options/kafka.json", "tricky")  // .. after a dir link
	repo.Symlink("releases/sub/../../options/kafka.json", "ok2") // .. inside
	head := repo.Commit("links")
	srv := testenv.StartGitHTTP(t, rs, nil)
	c := newClient(t)
	remote := Remote{URL: srv.URL("links"), Ref: "main"}
	if _, err := c.Sync(context.Background(), remote); err != nil {
		t.Fatal(err)
	}
	err := c.Read(context.Background(), remote, head, func(fsys fs.FS) error {
		for name, want := range map[string]string{
			"releases/opts.json":              `{"x":1}`,
			"shortcut/still/file.txt":         "deep",
			"ok2":                             `{"x":1}`,
			"releases/sub/b.yaml":             "b",
			"deep/er/still/../still/file.txt": "",
		} {
			b, err := fs.ReadFile(fsys, name)
			if want == "" {
				if err == nil {
					t.Errorf("%s: invalid path accepted", name)
				}
				continue
			}
			if err != nil || string(b) != want {
				t.Errorf("%s = %q, %v; want %q", name, b, err, want)
			}
		}
		for _, name := range []string{"releases/escape.json", "releases/absolute.json"} {
			_, err := fs.ReadFile(fsys, name)
			if !errors.Is(err, ErrSymlinkEscapes) {
				t.Errorf("%s: %v, want ErrSymlinkEscapes", name, err)
			}
		}
		// "tricky" resolves shortcut -> deep/er, then ../.. -> the root: inside.
		if b, err := fs.ReadFile(fsys, "tricky"); err != nil || string(b) != `{"x":1}` {
			t.Errorf("tricky = %q, %v", b, err)
		}
		if _, err := fs.ReadFile(fsys, "loop1"); err == nil || !strings.Contains(err.Error(), "too many levels") {
			t.Errorf("loop: %v", err)
		}
		if _, err := fs.ReadFile(fsys, "missing.yaml"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("missing: %v", err)
		}
		if _, err := fs.ReadFile(fsys, "releases/a.yaml/x"); err == nil {
			t.Error("path through a file accepted")
		}
		st, err := fs.Stat(fsys, "releases/a.yaml")
		if err != nil || st.Mode()&0o111 == 0 || st.Size() != 1 {
			t.Errorf("stat executable: %v %v", st, err)
		}
		rl, ok := fsys.(fs.ReadLinkFS)
		if !ok {
			t.Fatal("not a ReadLinkFS")
		}
		if target, err := rl.ReadLink("releases/escape.json"); err != nil || target != "../../etc/passwd" {
			t.Errorf("readlink = %q %v", target, err)
		}
		if li, err := rl.Lstat("shortcut"); err != nil || li.Mode()&fs.ModeSymlink == 0 {
			t.Errorf("lstat shortcut = %v %v", li, err)
		}
		// The standard conformance checks, on the part without broken links.
		sub, err := fs.Sub(fsys, "deep")
		if err != nil {
			return err
		}
		if err := fstest.TestFS(sub, "er/still/file.txt"); err != nil {
			t.Errorf("fstest: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Read(context.Background(), remote, strings.Repeat("0", 40), func(fs.FS) error { return nil }); err == nil {
		t.Fatal("reading an unknown commit succeeded")
	}
}
