package git

import (
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// maxPacks is the number of pack files (one per fetch that brought
// objects) after which the cache is dropped before the next fetch and
// cloned afresh (shallow, so that costs one tree), keeping object lookups
// fast.
const maxPacks = 64

// keepTrees is how many exported work trees a cache keeps.
const keepTrees = 3

// tooManyPacks reports whether the cache's repository has more than
// maxPacks pack files.
func tooManyPacks(dir string) bool {
	packs, err := filepath.Glob(filepath.Join(dir, "repo", "objects", "pack", "*.pack"))
	return err == nil && len(packs) > maxPacks
}

// export writes the tree of commit to dir/trees/<commit> once (for
// Options.Worktrees) and keeps the keepTrees most recently used trees.
func export(repo *gogit.Repository, dir string, commit plumbing.Hash) (string, error) {
	trees := filepath.Join(dir, "trees")
	target := filepath.Join(trees, commit.String())
	if st, err := os.Stat(target); err == nil && st.IsDir() {
		now := time.Now()
		_ = os.Chtimes(target, now, now)
		pruneTrees(trees, target)
		return target, nil
	}
	if err := os.MkdirAll(trees, 0o755); err != nil {
		return "", err
	}
	co, err := repo.CommitObject(commit)
	if err != nil {
		return "", fmt.Errorf("commit %s: %w", commit, err)
	}
	tree, err := co.Tree()
	if err != nil {
		return "", fmt.Errorf("tree of %s: %w", commit, err)
	}
	tmp, err := os.MkdirTemp(trees, ".tmp-")
	if err != nil {
		return "", err
	}
	if err := writeTree(tree, tmp); err != nil {
		_ = os.RemoveAll(tmp)
		return "", err
	}
	if err := os.Rename(tmp, target); err != nil {
		_ = os.RemoveAll(tmp)
		return "", err
	}
	pruneTrees(trees, target)
	return target, nil
}

// writeTree writes every file of tree under dst. Symbolic links are
// written as symbolic links with their target as stored: readers must stay
// inside the tree (os.Root) to be safe from links that point out.
func writeTree(tree *object.Tree, dst string) error {
	made := map[string]bool{dst: true}
	return tree.Files().ForEach(func(f *object.File) error {
		rel, ok := safeRel(f.Name)
		if !ok {
			return nil // a name git itself refuses (.., .git, absolute)
		}
		p := filepath.Join(dst, filepath.FromSlash(rel))
		if parent := filepath.Dir(p); !made[parent] {
			if err := os.MkdirAll(parent, 0o755); err != nil {
				return err
			}
			made[parent] = true
		}
		switch f.Mode {
		case filemode.Symlink:
			target, err := f.Contents()
			if err != nil {
				return fmt.Errorf("%s: %w", f.Name, err)
			}
			return os.Symlink(target, p)
		case filemode.Regular, filemode.Executable, filemode.Deprecated:
			mode := os.FileMode(0o644)
			if f.Mode == filemode.Executable {
				mode = 0o755
			}
			r, err := f.Reader()
			if err != nil {
				return fmt.Errorf("%s: %w", f.Name, err)
			}
			defer r.Close()
			out, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
			if err != nil {
				return err
			}
			if _, err := io.Copy(out, r); err != nil {
				out.Close()
				return fmt.Errorf("%s: %w", f.Name, err)
			}
			return out.Close()
		}
		return nil
	})
}

// safeRel checks a tree path: relative, no "." / ".." / empty elements,
// no ".git" element.
func safeRel(name string) (string, bool) {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") {
		return "", false
	}
	for _, e := range strings.Split(name, "/") {
		if e == "" || e == "." || e == ".." || strings.EqualFold(e, ".git") {
			return "", false
		}
	}
	return path.Clean(name), true
}

// pruneTrees keeps the keepTrees most recently used trees (always current)
// and removes leftovers of interrupted exports.
func pruneTrees(trees, current string) {
	entries, err := os.ReadDir(trees)
	if err != nil {
		return
	}
	type tree struct {
		path string
		mod  time.Time
	}
	var list []tree
	for _, e := range entries {
		p := filepath.Join(trees, e.Name())
		info, err := e.Info()
		if err != nil || p == current {
			continue
		}
		if strings.HasPrefix(e.Name(), ".tmp-") {
			if time.Since(info.ModTime()) > time.Hour {
				_ = os.RemoveAll(p)
			}
			continue
		}
		list = append(list, tree{p, info.ModTime()})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].mod.After(list[j].mod) })
	for i, t := range list {
		if i >= keepTrees-1 {
			_ = os.RemoveAll(t.path)
		}
	}
}
