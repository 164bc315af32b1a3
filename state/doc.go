// Package state is the controller's small durable key-value store for its
// own records: release history (the last deployed definitions), pending
// uninstall cleanups, bad (revision, options) pairs and manual rollback pins.
//
// Values are opaque bytes (the caller's JSON); every record has a version for
// compare-and-set. One interface, two backends:
//
//	type Store interface {
//	        Get(ctx, kind, key string) (value []byte, version int64, err error)
//	        Put(ctx, kind, key string, value []byte, expectVersion int64) (newVersion int64, err error)
//	        Delete(ctx, kind, key string) error
//	        List(ctx, kind string) ([]string, error)
//	        Close() error
//	}
//
//	s := state.NewZooKeeper(zkClient)      // znodes <client root>/state/<kind>/<key>
//	s, err := state.OpenFile(cfg.StateDir)  // files <state_dir>/<kind>/<key>
//
// Versions: a record's first version is 1 and every Put adds 1. expectVersion
// is the version the caller last read: Create (0) means "must not exist", a
// positive number means "must still be at that version", Any (-1) writes
// unconditionally. A mismatch returns ErrConflict (re-read and retry). Get of a
// missing record returns ErrNotFound; Delete of a missing record succeeds.
// List returns the keys of a kind, sorted; an unknown kind has none. Deleting
// and re-creating a record starts again at version 1 (as znode versions do).
//
// Names: kinds and keys are lower-case DNS labels or dot-separated labels
// (a-z, 0-9, '-', '.'; start and end alphanumeric; a key up to 253 characters,
// each label up to 63), like release names. Anything else is ErrInvalidKey
// (errs.Permanent), naming the offending string. Values above MaxValueSize
// (900 KiB, below ZooKeeper's 1 MB znode limit) are ErrTooLarge
// (errs.Permanent), on both backends, so switching backends cannot break a
// working setup. I/O and connection failures are errs.Transient.
//
// The file backend writes each value atomically: temp file in the same
// directory, fsync, rename, directory fsync; the file carries a header with
// the version, length and SHA-256, so a torn or truncated file is reported as
// corrupt instead of read as a wrong value, and leftover temp files are
// ignored and removed. Every operation holds an flock on <state_dir>/.lock
// (shared for reads, exclusive for writes), so two processes on one host can
// share a state_dir without corrupting it and compare-and-set stays exact.
//
// Suggested kinds (constants): KindHistory, KindCleanups, KindBadRevisions,
// KindPins.
package state
