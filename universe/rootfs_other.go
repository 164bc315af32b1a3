//go:build !linux

package universe

import (
	"errors"
	"io/fs"
)

// Without Linux system calls there is no fast path: os.Root does everything.

func (r *rootFS) fastOK() bool                                      { return false }
func (r *rootFS) initFast()                                         {}
func (r *rootFS) closeFast()                                        {}
func (r *rootFS) forget(string)                                     {}
func (r *rootFS) readDirFast(string) ([]fs.DirEntry, bool)          { return nil, false }
func (r *rootFS) readFileFast(_, _ string, _ int64) ([]byte, error) { return nil, errNotFast }

var errNotFast = errors.New("not handled by the fast path")
