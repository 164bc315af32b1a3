package state

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/universe-operator/universe-operator/errs"
)

// Store is the durable key-value store for controller records. Both
// backends (NewZooKeeper, OpenFile) implement it with the same semantics.
type Store interface {
	// Get returns a record's value and version, or ErrNotFound.
	Get(ctx context.Context, kind, key string) (value []byte, version int64, err error)
	// Put writes a record if its version is expectVersion (Create: must not
	// exist; Any: unconditional) and returns the new version, or
	// ErrConflict.
	Put(ctx context.Context, kind, key string, value []byte, expectVersion int64) (newVersion int64, err error)
	// Delete removes a record; a missing record is not an error.
	Delete(ctx context.Context, kind, key string) error
	// List returns the keys of a kind, sorted.
	List(ctx context.Context, kind string) ([]string, error)
	// Close releases the store's resources (not a ZooKeeper client given to
	// NewZooKeeper).
	Close() error
}

// Special values of expectVersion.
const (
	// Create expects the record not to exist.
	Create int64 = 0
	// Any writes whatever the current version.
	Any int64 = -1
)

// MaxValueSize is the largest value either backend accepts: below
// ZooKeeper's 1 MB znode limit with room for the request around it.
const MaxValueSize = 900 * 1024

// Suggested kinds for the controller's records.
const (
	// KindHistory: per release, the last deployed definitions.
	KindHistory = "history"
	// KindCleanups: per release, a pending uninstall and its steps.
	KindCleanups = "cleanups"
	// KindBadRevisions: per release, (revision, options) pairs that failed.
	KindBadRevisions = "bad-revisions"
	// KindPins: per release, a manual rollback pin.
	KindPins = "pins"
)

// Errors callers test with errors.Is.
var (
	// ErrNotFound: no such record.
	ErrNotFound = errors.New("state: record not found")
	// ErrConflict: the record is not at the expected version.
	ErrConflict = errors.New("state: version conflict")
	// ErrTooLarge: the value is above MaxValueSize (errs.Permanent).
	ErrTooLarge = errors.New("state: value too large")
	// ErrInvalidKey: a kind or key is not a DNS-label-like name
	// (errs.Permanent).
	ErrInvalidKey = errors.New("state: invalid name")
	// ErrCorrupt: a stored record cannot be read back (errs.Permanent; the
	// file backend names the file; Delete removes it).
	ErrCorrupt = errors.New("state: corrupt record")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("state: store closed")
)

// validKind checks a kind: one DNS label.
func validKind(kind string) error {
	if err := validLabel(kind); err != nil {
		return errs.Permanent(fmt.Errorf("%w: kind %q: %s", ErrInvalidKey, kind, err))
	}
	return nil
}

// validKey checks a key: DNS labels joined by dots, at most 253 characters.
func validKey(key string) error {
	bad := func(why string) error {
		return errs.Permanent(fmt.Errorf("%w: key %q: %s", ErrInvalidKey, key, why))
	}
	if len(key) > 253 {
		return bad(fmt.Sprintf("%d characters, at most 253", len(key)))
	}
	for _, l := range strings.Split(key, ".") {
		if err := validLabel(l); err != nil {
			return bad(err.Error())
		}
	}
	return nil
}

// validLabel: 1-63 of a-z 0-9 '-', starting and ending alphanumeric.
func validLabel(l string) error {
	switch {
	case l == "":
		return errors.New("empty name or label")
	case len(l) > 63:
		return fmt.Errorf("label of %d characters, at most 63", len(l))
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && i > 0 && i < len(l)-1:
		case c == '-':
			return errors.New("must start and end with a letter or digit")
		default:
			return fmt.Errorf("character %q not allowed (lower-case letters, digits, '-', '.')", c)
		}
	}
	return nil
}

func checkArgs(kind, key string, value []byte, expect int64) error {
	if err := validKind(kind); err != nil {
		return err
	}
	if err := validKey(key); err != nil {
		return err
	}
	if len(value) > MaxValueSize {
		return errs.Permanent(fmt.Errorf("%w: %s/%s is %d bytes, the limit is %d", ErrTooLarge, kind, key, len(value), MaxValueSize))
	}
	if expect < Any {
		return errs.Permanent(fmt.Errorf("state: put %s/%s: invalid expected version %d", kind, key, expect))
	}
	return nil
}

// conflict builds the error of a failed compare-and-set.
func conflict(kind, key string, expect int64, found string) error {
	want := fmt.Sprintf("version %d", expect)
	if expect == Create {
		want = "no record"
	}
	return fmt.Errorf("%w: %s/%s: expected %s, found %s", ErrConflict, kind, key, want, found)
}
