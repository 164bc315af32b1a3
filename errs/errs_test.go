package errs

import (
	"errors"
	"fmt"
	"io"
	"testing"
	"time"
)

func TestClassOf(t *testing.T) {
	base := io.ErrUnexpectedEOF
	cases := []struct {
		name  string
		err   error
		class Class
		after time.Duration
	}{
		{"unclassified is transient", base, ClassTransient, 0},
		{"permanent", Permanent(base), ClassPermanent, 0},
		{"waiting keeps delay", Waiting(base, 3*time.Second), ClassWaiting, 3 * time.Second},
		{"transient", Transient(base), ClassTransient, 0},
		{"wrapping keeps class", fmt.Errorf("release x: %w", Permanent(base)), ClassPermanent, 0},
		{"outermost class wins", Waiting(fmt.Errorf("ctx: %w", Permanent(base)), time.Second), ClassWaiting, time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ClassOf(c.err); got != c.class {
				t.Fatalf("ClassOf = %v, want %v", got, c.class)
			}
			if got := RetryAfter(c.err); got != c.after {
				t.Fatalf("RetryAfter = %v, want %v", got, c.after)
			}
			if !errors.Is(c.err, base) {
				t.Fatalf("errors.Is lost the cause")
			}
			if c.err.Error() != base.Error() && !errors.Is(c.err, base) {
				t.Fatalf("message changed")
			}
		})
	}
	if Permanent(nil) != nil || Waiting(nil, time.Second) != nil || Transient(nil) != nil {
		t.Fatal("nil must stay nil")
	}
	if IsPermanent(nil) || !IsPermanent(Permanent(base)) {
		t.Fatal("IsPermanent wrong")
	}
	for c, s := range map[Class]string{ClassTransient: "transient", ClassWaiting: "waiting", ClassPermanent: "permanent"} {
		if c.String() != s {
			t.Fatalf("%d.String() = %q", c, c.String())
		}
	}
}
