package git

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"time"
)

// flock takes an exclusive advisory lock on file (created when missing),
// waiting until ctx ends, so two processes sharing a cache directory do not
// fetch into it at once.
func flock(ctx context.Context, file string) (func(), error) {
	f, err := os.OpenFile(file, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", file, err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				_ = f.Close()
			}, nil
		}
		if err != syscall.EWOULDBLOCK {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", file, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for the cache lock %s: %w", file, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
