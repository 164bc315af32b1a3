package git

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// ErrSymlinkEscapes is the error (inside *fs.PathError) for a path whose
// symbolic links lead outside the repository, or are absolute.
var ErrSymlinkEscapes = errors.New("symlink points outside the repository")

// errLoop is a chain of more than maxLinks symbolic links.
var errLoop = errors.New("too many levels of symbolic links")

// errNotDir is a path that goes through a file as if it were a directory.
var errNotDir = errors.New("not a directory")

const (
	maxLinks = 40
	maxBlob  = 64 << 20
)

// TreeFS is a read-only fs.FS over the tree of one commit, read straight
// from the repository's object store (nothing is written to disk).
// Symbolic links are followed only while they stay inside the tree;
// absolute targets and targets above the root fail with ErrSymlinkEscapes.
// It implements fs.ReadDirFS, fs.ReadFileFS, fs.StatFS and fs.ReadLinkFS
// and is safe for concurrent use (object access is serialised; file
// contents are read into memory on Open).
type TreeFS struct {
	mu    sync.Mutex
	store storer.EncodedObjectStorer
	root  plumbing.Hash
	trees map[plumbing.Hash]*object.Tree
}

// newTreeFS returns the FS of a tree.
func newTreeFS(store storer.EncodedObjectStorer, root plumbing.Hash) *TreeFS {
	return &TreeFS{store: store, root: root, trees: map[plumbing.Hash]*object.Tree{}}
}

// node is a resolved tree entry.
type node struct {
	name string
	mode filemode.FileMode
	hash plumbing.Hash
}

func (n node) isDir() bool { return n.mode == filemode.Dir }

// tree returns a decoded tree object, cached (trees are immutable).
func (f *TreeFS) tree(h plumbing.Hash) (*object.Tree, error) {
	if t, ok := f.trees[h]; ok {
		return t, nil
	}
	t, err := object.GetTree(f.store, h)
	if err != nil {
		return nil, err
	}
	f.trees[h] = t
	return t, nil
}

// blob reads a blob's bytes.
func (f *TreeFS) blob(h plumbing.Hash) ([]byte, error) {
	obj, err := f.store.EncodedObject(plumbing.BlobObject, h)
	if err != nil {
		return nil, err
	}
	if obj.Size() > maxBlob {
		return nil, errors.New("file larger than 64 MiB")
	}
	r, err := obj.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// resolve walks name from the root; symbolic links are followed (also the
// last element when follow is true) as long as they stay inside the tree.
// Callers hold f.mu.
func (f *TreeFS) resolve(op, name string, follow bool) (node, error) {
	fail := func(err error) (node, error) { return node{}, &fs.PathError{Op: op, Path: name, Err: err} }
	if !fs.ValidPath(name) {
		return fail(fs.ErrInvalid)
	}
	rootNode := node{name: ".", mode: filemode.Dir, hash: f.root}
	var parts []string
	if name != "." {
		parts = strings.Split(name, "/")
	}
	var cur []string // the resolved directory path, symlink-free
	dir := rootNode
	links := 0
	for len(parts) > 0 {
		p := parts[0]
		parts = parts[1:]
		switch p {
		case "", ".":
			continue
		case "..":
			if len(cur) == 0 {
				return fail(ErrSymlinkEscapes)
			}
			// Re-walk the parent from the root (cur is free of symlinks).
			cur = cur[:len(cur)-1]
			n, err := f.walkPlain(cur)
			if err != nil {
				return fail(err)
			}
			dir = n
			continue
		}
		t, err := f.tree(dir.hash)
		if err != nil {
			return fail(err)
		}
		e, err := t.FindEntry(p)
		if err != nil {
			return fail(fs.ErrNotExist)
		}
		n := node{name: p, mode: e.Mode, hash: e.Hash}
		last := len(parts) == 0
		switch {
		case n.mode == filemode.Symlink && (!last || follow):
			links++
			if links > maxLinks {
				return fail(errLoop)
			}
			target, err := f.blob(n.hash)
			if err != nil {
				return fail(err)
			}
			ts := string(target)
			if strings.HasPrefix(ts, "/") || ts == "" {
				return fail(ErrSymlinkEscapes)
			}
			parts = append(strings.Split(ts, "/"), parts...)
		case n.mode == filemode.Dir:
			cur = append(cur, p)
			dir = n
			if last {
				return n, nil
			}
		case n.mode == filemode.Submodule:
			return fail(fs.ErrNotExist)
		default:
			if !last {
				return fail(errNotDir)
			}
			return n, nil
		}
	}
	if len(cur) == 0 {
		return rootNode, nil
	}
	return dir, nil
}

// walkPlain walks a symlink-free directory path from the root.
func (f *TreeFS) walkPlain(parts []string) (node, error) {
	n := node{name: ".", mode: filemode.Dir, hash: f.root}
	for _, p := range parts {
		t, err := f.tree(n.hash)
		if err != nil {
			return node{}, err
		}
		e, err := t.FindEntry(p)
		if err != nil {
			return node{}, fs.ErrNotExist
		}
		n = node{name: p, mode: e.Mode, hash: e.Hash}
	}
	return n, nil
}

// info builds the FileInfo of a node. Callers hold f.mu.
func (f *TreeFS) info(n node) (*fileInfo, error) {
	fi := &fileInfo{name: n.name, mode: n.mode}
	if !n.isDir() {
		obj, err := f.store.EncodedObject(plumbing.AnyObject, n.hash)
		if err != nil {
			return nil, err
		}
		fi.size = obj.Size()
	}
	return fi, nil
}

// Open opens a file or directory, following symbolic links inside the tree.
func (f *TreeFS) Open(name string) (fs.File, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.resolve("open", name, true)
	if err != nil {
		return nil, err
	}
	fi, err := f.info(n)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	if n.isDir() {
		entries, err := f.readDir(n)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return &dirFile{info: fi, entries: entries}, nil
	}
	data, err := f.blob(n.hash)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &blobFile{info: fi, r: bytes.NewReader(data)}, nil
}

// ReadFile reads a whole file.
func (f *TreeFS) ReadFile(name string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.resolve("readfile", name, true)
	if err != nil {
		return nil, err
	}
	if n.isDir() {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: errors.New("is a directory")}
	}
	data, err := f.blob(n.hash)
	if err != nil {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: err}
	}
	return data, nil
}

// Stat describes a file, following symbolic links.
func (f *TreeFS) Stat(name string) (fs.FileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.resolve("stat", name, true)
	if err != nil {
		return nil, err
	}
	fi, err := f.info(n)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	return fi, nil
}

// Lstat describes a file without following a final symbolic link.
func (f *TreeFS) Lstat(name string) (fs.FileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.resolve("lstat", name, false)
	if err != nil {
		return nil, err
	}
	fi, err := f.info(n)
	if err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: err}
	}
	return fi, nil
}

// ReadLink returns a symbolic link's target as stored.
func (f *TreeFS) ReadLink(name string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.resolve("readlink", name, false)
	if err != nil {
		return "", err
	}
	if n.mode != filemode.Symlink {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	b, err := f.blob(n.hash)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: err}
	}
	return string(b), nil
}

// ReadDir lists a directory sorted by name.
func (f *TreeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.resolve("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if !n.isDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errNotDir}
	}
	entries, err := f.readDir(n)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	return entries, nil
}

// readDir lists a directory node. Callers hold f.mu.
func (f *TreeFS) readDir(n node) ([]fs.DirEntry, error) {
	t, err := f.tree(n.hash)
	if err != nil {
		return nil, err
	}
	out := make([]fs.DirEntry, 0, len(t.Entries))
	for _, e := range t.Entries {
		if e.Mode == filemode.Submodule {
			continue
		}
		out = append(out, &dirEntry{fsys: f, n: node{name: e.Name, mode: e.Mode, hash: e.Hash}})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

// fileInfo describes a tree entry.
type fileInfo struct {
	name string
	mode filemode.FileMode
	size int64
}

func (i *fileInfo) Name() string       { return i.name }
func (i *fileInfo) Size() int64        { return i.size }
func (i *fileInfo) ModTime() time.Time { return time.Time{} }
func (i *fileInfo) IsDir() bool        { return i.mode == filemode.Dir }
func (i *fileInfo) Sys() any           { return nil }
func (i *fileInfo) Mode() fs.FileMode {
	switch i.mode {
	case filemode.Dir:
		return fs.ModeDir | 0o555
	case filemode.Symlink:
		return fs.ModeSymlink | 0o777
	case filemode.Executable:
		return 0o555
	}
	return 0o444
}

// dirEntry is one entry of a directory listing.
type dirEntry struct {
	fsys *TreeFS
	n    node
}

func (d *dirEntry) Name() string { return d.n.name }
func (d *dirEntry) IsDir() bool  { return d.n.isDir() }
func (d *dirEntry) Type() fs.FileMode {
	return (&fileInfo{mode: d.n.mode}).Mode().Type()
}
func (d *dirEntry) Info() (fs.FileInfo, error) {
	d.fsys.mu.Lock()
	defer d.fsys.mu.Unlock()
	return d.fsys.info(d.n)
}

// blobFile is an open file; its content is in memory.
type blobFile struct {
	info *fileInfo
	r    *bytes.Reader
}

func (b *blobFile) Stat() (fs.FileInfo, error) { return b.info, nil }
func (b *blobFile) Read(p []byte) (int, error) { return b.r.Read(p) }
func (b *blobFile) Close() error               { return nil }

// dirFile is an open directory.
type dirFile struct {
	info    *fileInfo
	entries []fs.DirEntry
	off     int
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: errors.New("is a directory")}
}
func (d *dirFile) Close() error { return nil }

// ReadDir returns the next n entries (all remaining when n <= 0).
func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.off:]
	if n <= 0 {
		d.off = len(d.entries)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	if n > len(rest) {
		n = len(rest)
	}
	d.off += n
	return rest[:n], nil
}
