// Package errs classifies errors so the controller knows what to do with them.
//
// Every error that leaves a client or a decision function is one of three
// classes:
//
//   - Permanent: the input is wrong (a broken template, options failing the
//     schema, an unknown version, a 422 from Marathon). Retrying cannot help;
//     a human has to change the input, and the controller waits for that.
//   - Waiting: the world is busy (a deployment in flight, a 409). Retry after
//     a fixed delay, without growing backoff.
//   - Transient: the world is failing (5xx, timeouts, refused connections).
//     Retry with exponential backoff.
//
// Unclassified errors count as Transient: it is the safe default, because a
// retry with backoff never loses work and never hammers a server.
package errs

import (
	"errors"
	"time"
)

// Class is the retry class of an error.
type Class int

const (
	// ClassTransient errors are retried with exponential backoff.
	ClassTransient Class = iota
	// ClassWaiting errors are retried after a fixed delay.
	ClassWaiting
	// ClassPermanent errors are not retried until the input changes.
	ClassPermanent
)

// String returns the lower-case name used in logs, metrics and the status API.
func (c Class) String() string {
	switch c {
	case ClassWaiting:
		return "waiting"
	case ClassPermanent:
		return "permanent"
	default:
		return "transient"
	}
}

// classified wraps an error with its class; errors.Is/As see through it.
type classified struct {
	class Class
	after time.Duration
	err   error
}

func (c *classified) Error() string { return c.err.Error() }
func (c *classified) Unwrap() error { return c.err }

// Permanent marks err as needing a human. A nil err stays nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &classified{class: ClassPermanent, err: err}
}

// Waiting marks err as "busy, retry after the given delay". A nil err stays nil.
func Waiting(err error, after time.Duration) error {
	if err == nil {
		return nil
	}
	return &classified{class: ClassWaiting, after: after, err: err}
}

// Transient marks err explicitly as retryable with backoff. A nil err stays nil.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return &classified{class: ClassTransient, err: err}
}

// ClassOf returns the class of the outermost classified error in err's chain,
// or ClassTransient when none is classified. Wrapping with fmt.Errorf("...: %w")
// keeps the class.
func ClassOf(err error) Class {
	var c *classified
	if errors.As(err, &c) {
		return c.class
	}
	return ClassTransient
}

// RetryAfter returns the delay attached by Waiting, or 0.
func RetryAfter(err error) time.Duration {
	var c *classified
	if errors.As(err, &c) && c.class == ClassWaiting {
		return c.after
	}
	return 0
}

// IsPermanent reports whether err needs a human.
func IsPermanent(err error) bool { return err != nil && ClassOf(err) == ClassPermanent }
