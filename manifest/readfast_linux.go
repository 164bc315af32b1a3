//go:build linux

package manifest

import (
	"io/fs"
	"os"
	"path"
	"sync"

	"golang.org/x/sys/unix"
)

// fileReader reads the files of a directory opened as an os.Root with plain
// system calls: directories are opened once each, relative to their parent,
// with O_NOFOLLOW (so nothing can lead outside the root), and a file costs
// openat, fstat, read and close, where os.Root walks every path component
// and os.File adds four fcntl calls and a failing epoll_ctl per open. It
// handles regular files only; anything else (a symbolic link, an error of
// any kind) is left to the caller's os.Root path (errNotFast), so results
// and messages stay the same.
type fileReader struct {
	rootFile *os.File
	mu       sync.Mutex
	fds      map[string]int // open directories by slash path ("." = the root)
}

// newFileReader returns a reader for root, nil when it cannot make one.
func newFileReader(root *os.Root) *fileReader {
	f, err := root.Open(".")
	if err != nil {
		return nil
	}
	return &fileReader{rootFile: f, fds: map[string]int{".": int(f.Fd())}}
}

// close closes every directory opened.
func (r *fileReader) close() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, fd := range r.fds {
		if name != "." {
			_ = unix.Close(fd)
		}
	}
	r.fds = nil
	_ = r.rootFile.Close()
}

func openat(dirfd int, name string, flags int) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, flags|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// dir returns the descriptor of a directory, opening it and its parents.
func (r *fileReader) dir(name string) (int, bool) {
	r.mu.Lock()
	if r.fds == nil {
		r.mu.Unlock()
		return -1, false
	}
	fd, ok := r.fds[name]
	r.mu.Unlock()
	if ok {
		return fd, true
	}
	parent, ok := r.dir(path.Dir(name))
	if !ok {
		return -1, false
	}
	fd, err := openat(parent, path.Base(name), unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return -1, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if prev, ok := r.fds[name]; ok || r.fds == nil {
		_ = unix.Close(fd)
		return prev, ok
	}
	r.fds[name] = fd
	return fd, true
}

// read reads the regular file name (a valid fs path) with a size limit,
// with readLimited's results; errNotFast when readLimited must do it.
func (r *fileReader) read(name string, limit int64) ([]byte, error) {
	if r == nil || !fs.ValidPath(name) || name == "." {
		return nil, errNotFast
	}
	dirfd, ok := r.dir(path.Dir(name))
	if !ok {
		return nil, errNotFast
	}
	fd, err := openat(dirfd, path.Base(name), unix.O_RDONLY|unix.O_NONBLOCK)
	if err != nil {
		return nil, errNotFast
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, errNotFast
	}
	if st.Size > limit {
		return nil, errLarger(limit)
	}
	data := make([]byte, 0, st.Size+1)
	for {
		n, err := unix.Read(fd, data[len(data):cap(data)])
		if err == unix.EINTR {
			continue
		}
		if err != nil || n < 0 {
			return nil, errNotFast
		}
		if n == 0 {
			return data, nil
		}
		data = data[:len(data)+n]
		if int64(len(data)) > limit {
			return nil, errLarger(limit)
		}
		if int64(len(data)) == st.Size && len(data) < cap(data) {
			return data, nil // a regular file read short of the buffer is at its end
		}
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
	}
}
