package universe

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"sort"
	"sync"
)

// rootFS is an fs.FS over an os.Root that keeps every directory it has
// opened as an os.Root of its own. os.Root stays inside its directory
// (symbolic links cannot lead out) but resolves paths one component at a
// time; opening each file relative to its already-open directory costs one
// system call instead of one per path component.
type rootFS struct {
	root *os.Root
	mu   sync.Mutex
	dirs map[string]*os.Root

	// The fast path (Linux, rootfs_linux.go): the root directory and the
	// descriptors of the directories opened below it.
	rootFile *os.File
	fds      map[string]int
}

func newRootFS(root *os.Root) *rootFS {
	r := &rootFS{root: root, dirs: map[string]*os.Root{".": root}}
	r.initFast()
	return r
}

// close closes every directory opened (not the root itself).
func (r *rootFS) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closeFast()
	for name, d := range r.dirs {
		if name != "." {
			_ = d.Close()
		}
	}
	r.dirs = map[string]*os.Root{".": r.root}
}

// dir returns the open directory name (a valid fs path).
func (r *rootFS) dir(name string) (*os.Root, error) {
	r.mu.Lock()
	d, ok := r.dirs[name]
	r.mu.Unlock()
	if ok {
		return d, nil
	}
	parent, err := r.dir(path.Dir(name))
	if err != nil {
		return nil, err
	}
	d, err = parent.OpenRoot(path.Base(name))
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if prev, ok := r.dirs[name]; ok {
		_ = d.Close()
		return prev, nil
	}
	r.dirs[name] = d
	return d, nil
}

// Open implements fs.FS.
func (r *rootFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return r.root.Open(".")
	}
	d, err := r.dir(path.Dir(name))
	if err == nil {
		f, err := d.Open(path.Base(name))
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return f, err
		}
	}
	// A symbolic link may lead to another directory of the tree (a file
	// shared between revisions, ../0/config.json), which the directory's
	// own root refuses: the tree's root decides (it still refuses links
	// leading out of the tree).
	f, err := r.root.Open(name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: unwrapPath(err)}
	}
	return f, nil
}

// ReadDir implements fs.ReadDirFS.
func (r *rootFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	if r.fastOK() {
		if entries, ok := r.readDirFast(name); ok {
			return entries, nil
		}
	}
	d, err := r.dir(name)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: unwrapPath(err)}
	}
	f, err := d.Open(".")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries, err := f.ReadDir(-1)
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	return entries, err
}

func unwrapPath(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}
