package state

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/universe-operator/universe-operator/errs"
)

// File layout: <dir>/<kind>/<key> holds one record:
//
//	uostate1 <version> <length> <sha256 hex of value>\n<value>
//
// Temp files are <dir>/<kind>/.tmp-<random>; <dir>/.lock is the lock.
const (
	fileMagic  = "uostate1"
	tempPrefix = ".tmp-"
	lockName   = ".lock"
)

// FileStore is the Store in a local directory (state_dir). Safe for
// concurrent use by goroutines and by several processes on one host.
type FileStore struct {
	dir string

	mu     sync.Mutex // serialises this process's operations on the flock
	lock   *os.File
	closed bool
}

// OpenFile opens (creating it when missing) a file store in dir, removing
// temp files a crashed writer left behind.
func OpenFile(dir string) (*FileStore, error) {
	if dir == "" {
		return nil, errs.Permanent(errors.New("state: no state_dir configured"))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, errs.Permanent(fmt.Errorf("state: create state_dir: %w", err))
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, errs.Permanent(fmt.Errorf("state: open lock file: %w", err))
	}
	s := &FileStore{dir: dir, lock: lock}
	err = s.locked(context.Background(), true, func() error {
		kinds, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, k := range kinds {
			if !k.IsDir() || validKind(k.Name()) != nil {
				continue
			}
			kdir := filepath.Join(dir, k.Name())
			files, err := os.ReadDir(kdir)
			if err != nil {
				return err
			}
			removed := false
			for _, f := range files {
				if strings.HasPrefix(f.Name(), tempPrefix) {
					if err := os.Remove(filepath.Join(kdir, f.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
						return err
					}
					removed = true
				}
			}
			if removed {
				if err := syncDir(kdir); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		lock.Close()
		return nil, errs.Transient(fmt.Errorf("state: open %s: %w", dir, err))
	}
	return s, nil
}

// Dir returns the store's directory.
func (s *FileStore) Dir() string { return s.dir }

// Close releases the lock file. Idempotent.
func (s *FileStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.lock.Close()
}

// locked runs fn holding this process's mutex and the flock (exclusive for
// writes, shared for reads), waiting for other processes until ctx ends.
func (s *FileStore) locked(ctx context.Context, exclusive bool, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	fd := int(s.lock.Fd())
	for wait := time.Millisecond; ; wait = min(wait*2, 50*time.Millisecond) {
		err := syscall.Flock(fd, how|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			return fmt.Errorf("lock %s: %w", s.lock.Name(), err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the lock on %s: %w", s.lock.Name(), context.Cause(ctx))
		case <-time.After(wait):
		}
	}
	defer func() { _ = syscall.Flock(fd, syscall.LOCK_UN) }()
	return fn()
}

func (s *FileStore) path(kind, key string) string { return filepath.Join(s.dir, kind, key) }

// read returns the record in a file: (nil, 0, ErrNotFound) when absent.
func (s *FileStore) read(kind, key string) ([]byte, int64, error) {
	p := s.path(kind, key)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, errs.Transient(fmt.Errorf("state: read %s: %w", p, err))
	}
	value, version, err := decodeRecord(b)
	if err != nil {
		return nil, 0, errs.Permanent(fmt.Errorf("%w: %s: %s (delete the record to reset it)", ErrCorrupt, p, err))
	}
	return value, version, nil
}

func encodeRecord(value []byte, version int64) []byte {
	sum := sha256.Sum256(value)
	h := fmt.Sprintf("%s %d %d %s\n", fileMagic, version, len(value), hex.EncodeToString(sum[:]))
	return append([]byte(h), value...)
}

func decodeRecord(b []byte) ([]byte, int64, error) {
	nl := bytes.IndexByte(b, '\n')
	if nl < 0 || nl > 200 {
		return nil, 0, errors.New("no header")
	}
	f := strings.Fields(string(b[:nl]))
	if len(f) != 4 || f[0] != fileMagic {
		return nil, 0, errors.New("bad header")
	}
	version, err1 := strconv.ParseInt(f[1], 10, 64)
	length, err2 := strconv.Atoi(f[2])
	if err1 != nil || err2 != nil || version < 1 || length < 0 {
		return nil, 0, errors.New("bad header numbers")
	}
	value := b[nl+1:]
	if len(value) != length {
		return nil, 0, fmt.Errorf("truncated: %d of %d bytes", len(value), length)
	}
	sum := sha256.Sum256(value)
	if hex.EncodeToString(sum[:]) != f[3] {
		return nil, 0, errors.New("checksum mismatch")
	}
	return value, version, nil
}

// Get implements Store.
func (s *FileStore) Get(ctx context.Context, kind, key string) ([]byte, int64, error) {
	if err := checkArgs(kind, key, nil, Any); err != nil {
		return nil, 0, err
	}
	var value []byte
	var version int64
	err := s.locked(ctx, false, func() error {
		var err error
		value, version, err = s.read(kind, key)
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return nil, 0, fmt.Errorf("%w: %s/%s", ErrNotFound, kind, key)
	}
	if err != nil {
		return nil, 0, classify(err)
	}
	return value, version, nil
}

// Put implements Store: the new record is written to a temp file, synced,
// renamed over the old one, and the directory synced, all under the
// exclusive lock, so readers see the old or the new record, never a mix.
func (s *FileStore) Put(ctx context.Context, kind, key string, value []byte, expect int64) (int64, error) {
	if err := checkArgs(kind, key, value, expect); err != nil {
		return 0, err
	}
	var next int64
	err := s.locked(ctx, true, func() error {
		_, cur, err := s.read(kind, key)
		switch {
		case errors.Is(err, ErrNotFound):
			cur = 0
		case err != nil:
			return err
		}
		if expect != Any && expect != cur {
			found := "no record"
			if cur > 0 {
				found = fmt.Sprintf("version %d", cur)
			}
			return conflict(kind, key, expect, found)
		}
		next = cur + 1
		return s.write(kind, key, encodeRecord(value, next))
	})
	if err != nil {
		return 0, classify(err)
	}
	return next, nil
}

func (s *FileStore) write(kind, key string, data []byte) error {
	kdir := filepath.Join(s.dir, kind)
	if _, err := os.Stat(kdir); errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(kdir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("state: create %s: %w", kdir, err)
		}
		if err := syncDir(s.dir); err != nil {
			return err
		}
	}
	var r [8]byte
	_, _ = rand.Read(r[:])
	// Not named after the key: a 253-character key would exceed NAME_MAX.
	tmp := filepath.Join(kdir, tempPrefix+hex.EncodeToString(r[:]))
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("state: write %s: %w", tmp, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, s.path(kind, key))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("state: write %s: %w", s.path(kind, key), err)
	}
	return syncDir(kdir)
}

// Delete implements Store.
func (s *FileStore) Delete(ctx context.Context, kind, key string) error {
	if err := checkArgs(kind, key, nil, Any); err != nil {
		return err
	}
	err := s.locked(ctx, true, func() error {
		err := os.Remove(s.path(kind, key))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("state: delete %s: %w", s.path(kind, key), err)
		}
		return syncDir(filepath.Join(s.dir, kind))
	})
	return classify(err)
}

// List implements Store.
func (s *FileStore) List(ctx context.Context, kind string) ([]string, error) {
	if err := validKind(kind); err != nil {
		return nil, err
	}
	var keys []string
	err := s.locked(ctx, false, func() error {
		entries, err := os.ReadDir(filepath.Join(s.dir, kind))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("state: list %s: %w", kind, err)
		}
		for _, e := range entries {
			if e.Type().IsRegular() && validKey(e.Name()) == nil {
				keys = append(keys, e.Name())
			}
		}
		return nil
	})
	if err != nil {
		return nil, classify(err)
	}
	sort.Strings(keys)
	if keys == nil {
		keys = []string{}
	}
	return keys, nil
}

// classify leaves classified errors and the caller-handled sentinels alone
// and marks everything else (I/O) transient.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrConflict), errors.Is(err, ErrNotFound), errors.Is(err, ErrClosed):
		return err
	case errs.ClassOf(err) != errs.ClassTransient:
		return err
	}
	return errs.Transient(err)
}

// syncDir makes a rename or unlink in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("state: sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("state: sync %s: %w", dir, err)
	}
	return nil
}
