//go:build linux

package universe

import (
	"errors"
	"io/fs"
	"path"
	"sort"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The fast path of rootFS on Linux: directories are opened with
// openat(O_NOFOLLOW|O_DIRECTORY) relative to their already-open parent,
// listed with getdents64 (the entry types come with the names: no lstat per
// entry) and regular files are read with openat(O_NOFOLLOW), fstat, read and
// close, bypassing os.File (which costs four fcntl calls and a failing
// epoll_ctl per file opened). O_NOFOLLOW keeps every path component a real
// directory or file inside the root, so nothing can lead outside it. Whatever
// the fast path does not handle itself (a symbolic link, a special file, an
// error of any kind) is done again through os.Root, so results and error
// messages are those of the portable path.

// fastOK reports whether the fast path is usable.
func (r *rootFS) fastOK() bool { return r.rootFile != nil }

// initFast opens the root directory for the fast path (best effort).
func (r *rootFS) initFast() {
	f, err := r.root.Open(".")
	if err != nil {
		return
	}
	r.rootFile = f
	// Fd puts the file into blocking mode, which is what a directory
	// descriptor used with openat and getdents64 needs anyway.
	r.fds = map[string]int{".": int(f.Fd())}
}

// closeFast closes the descriptors of the fast path.
func (r *rootFS) closeFast() {
	for name, fd := range r.fds {
		if name != "." {
			_ = unix.Close(fd)
		}
	}
	r.fds = nil
	if r.rootFile != nil {
		_ = r.rootFile.Close()
		r.rootFile = nil
	}
}

// dirFD returns a cached descriptor of the directory name (a valid fs
// path), opening it and its parents with O_NOFOLLOW as needed.
func (r *rootFS) dirFD(name string) (int, bool) {
	r.mu.Lock()
	fd, ok := r.fds[name]
	r.mu.Unlock()
	if ok {
		return fd, true
	}
	parent, ok := r.dirFD(path.Dir(name))
	if !ok {
		return -1, false
	}
	fd, err := openat(parent, path.Base(name), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC)
	if err != nil {
		return -1, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if prev, ok := r.fds[name]; ok {
		_ = unix.Close(fd)
		return prev, true
	}
	r.fds[name] = fd
	return fd, true
}

func openat(dirfd int, name string, flags int) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, flags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// fastDirEntry is a directory entry read with getdents64.
type fastDirEntry struct {
	fsys *rootFS
	dir  string
	name string
	typ  fs.FileMode
}

func (e *fastDirEntry) Name() string      { return e.name }
func (e *fastDirEntry) IsDir() bool       { return e.typ.IsDir() }
func (e *fastDirEntry) Type() fs.FileMode { return e.typ }
func (e *fastDirEntry) Info() (fs.FileInfo, error) {
	return e.fsys.root.Lstat(path.Join(e.dir, e.name))
}

// readDirFast lists the directory name (sorted by name) without following
// symbolic links; ok is false when the fast path cannot tell (the caller
// then uses os.Root).
func (r *rootFS) readDirFast(name string) ([]fs.DirEntry, bool) {
	if name == "." {
		// The root descriptor may have been listed before: list a fresh one.
		fd, err := openat(r.fds["."], ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
		if err != nil {
			return nil, false
		}
		defer unix.Close(fd)
		return r.listFD(fd, name)
	}
	parent, ok := r.dirFD(path.Dir(name))
	if !ok {
		return nil, false
	}
	fd, err := openat(parent, path.Base(name), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC)
	if err != nil {
		return nil, false
	}
	entries, ok := r.listFD(fd, name)
	if !ok {
		_ = unix.Close(fd)
		return nil, false
	}
	// Keep the descriptor: the entries are opened relative to it next.
	r.mu.Lock()
	if _, dup := r.fds[name]; dup {
		_ = unix.Close(fd)
	} else {
		r.fds[name] = fd
	}
	r.mu.Unlock()
	return entries, true
}

// forget closes the cached descriptor of a directory no longer needed.
func (r *rootFS) forget(name string) {
	r.mu.Lock()
	fd, ok := r.fds[name]
	if ok && name != "." {
		delete(r.fds, name)
	}
	r.mu.Unlock()
	if ok && name != "." {
		_ = unix.Close(fd)
	}
}

// listFD reads every entry of an open directory (at offset 0).
func (r *rootFS) listFD(fd int, name string) ([]fs.DirEntry, bool) {
	var buf [8192]byte
	var out []fs.DirEntry
	for {
		n, err := unix.ReadDirent(fd, buf[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil || n < 0 {
			return nil, false
		}
		if n == 0 {
			break
		}
		b := buf[:n]
		for len(b) > 0 {
			// struct linux_dirent64 { u64 ino; s64 off; u16 reclen; u8 type; char name[]; }
			if len(b) < 19 {
				return nil, false
			}
			reclen := int(*(*uint16)(unsafe.Pointer(&b[16])))
			if reclen < 19 || reclen > len(b) {
				return nil, false
			}
			typ := b[18]
			raw := b[19:reclen]
			l := 0
			for l < len(raw) && raw[l] != 0 {
				l++
			}
			entry := string(raw[:l])
			b = b[reclen:]
			if entry == "." || entry == ".." {
				continue
			}
			mode, ok := direntMode(fd, entry, typ)
			if !ok {
				return nil, false
			}
			out = append(out, &fastDirEntry{fsys: r, dir: name, name: entry, typ: mode})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, true
}

// direntMode converts a getdents64 type (lstat when the file system does not
// give one) into the type bits of an fs.FileMode, as os.ReadDir does.
func direntMode(dirfd int, name string, typ byte) (fs.FileMode, bool) {
	switch typ {
	case unix.DT_REG:
		return 0, true
	case unix.DT_DIR:
		return fs.ModeDir, true
	case unix.DT_LNK:
		return fs.ModeSymlink, true
	case unix.DT_FIFO:
		return fs.ModeNamedPipe, true
	case unix.DT_SOCK:
		return fs.ModeSocket, true
	case unix.DT_BLK:
		return fs.ModeDevice, true
	case unix.DT_CHR:
		return fs.ModeDevice | fs.ModeCharDevice, true
	}
	var st unix.Stat_t
	for {
		err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, false
		}
		break
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return 0, true
	case unix.S_IFDIR:
		return fs.ModeDir, true
	case unix.S_IFLNK:
		return fs.ModeSymlink, true
	}
	return 0, false // other types: let os.ReadDir say
}

// errNotFast says the fast path could not read a file.
var errNotFast = errors.New("not handled by the fast path")

// readFileFast reads the regular file base in the directory dir (whose
// descriptor is cached), with the size limit of the loaders. It returns
// errNotFast when os.Root must do it (a symbolic link, not a regular file,
// any system call error), a size error otherwise.
func (r *rootFS) readFileFast(dir, base string, limit int64) ([]byte, error) {
	r.mu.Lock()
	dirfd, ok := r.fds[dir]
	r.mu.Unlock()
	if !ok {
		return nil, errNotFast
	}
	fd, err := openat(dirfd, base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC)
	if err != nil {
		return nil, errNotFast
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, errNotFast
	}
	if st.Size > limit {
		return nil, errTooLarge(limit)
	}
	b := make([]byte, 0, st.Size+1)
	for {
		n, err := unix.Read(fd, b[len(b):cap(b)])
		if err == unix.EINTR {
			continue
		}
		if err != nil || n < 0 {
			return nil, errNotFast
		}
		if n == 0 {
			return b, nil
		}
		b = b[:len(b)+n]
		if int64(len(b)) == st.Size && len(b) < cap(b) {
			// A regular file read short of what was asked is at its end:
			// this saves the read that would return 0.
			return b, nil
		}
		if len(b) == cap(b) {
			if int64(len(b)) > limit {
				return nil, errTooLarge(limit)
			}
			b = append(b, 0)[:len(b)]
		}
	}
}
