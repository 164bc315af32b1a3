package state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/universe-operator/universe-operator/errs"
)

// storage is one empty place for records; open returns a new, independent
// handle to it (a new client or a new open of the directory), so tests can
// re-open and run several writers.
type storage struct {
	open func(t *testing.T) Store
}

// runConformance runs the table of behaviours every backend must share.
func runConformance(t *testing.T, fresh func(t *testing.T) storage) {
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T, st storage)
	}{
		{"get missing", func(t *testing.T, st storage) {
			s := st.open(t)
			_, _, err := s.Get(ctx, KindHistory, "kafka-prod")
			if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "history/kafka-prod") {
				t.Fatalf("want ErrNotFound naming the record, got %v", err)
			}
			if errs.IsPermanent(err) {
				t.Fatal("not found must not be permanent")
			}
		}},
		{"put and get", func(t *testing.T, st storage) {
			s := st.open(t)
			for i, v := range [][]byte{[]byte(`{"revision":"abc"}`), {}, {0, 1, 2, 0xff, '\n'}} {
				key := fmt.Sprint("r", i)
				ver, err := s.Put(ctx, KindPins, key, v, Create)
				if err != nil || ver != 1 {
					t.Fatalf("put %q: %d %v", v, ver, err)
				}
				got, gv, err := s.Get(ctx, KindPins, key)
				if err != nil || gv != 1 || !bytes.Equal(got, v) || got == nil {
					t.Fatalf("get %s = %q v%d %v, want %q v1", key, got, gv, err, v)
				}
			}
		}},
		{"compare and set", func(t *testing.T, st storage) {
			s := st.open(t)
			k := KindCleanups
			if v, err := s.Put(ctx, k, "a", []byte("1"), Create); err != nil || v != 1 {
				t.Fatalf("create: %d %v", v, err)
			}
			if _, err := s.Put(ctx, k, "a", []byte("x"), Create); !errors.Is(err, ErrConflict) {
				t.Fatalf("create existing: %v", err)
			}
			if v, err := s.Put(ctx, k, "a", []byte("2"), 1); err != nil || v != 2 {
				t.Fatalf("update v1: %d %v", v, err)
			}
			if _, err := s.Put(ctx, k, "a", []byte("x"), 1); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "cleanups/a") {
				t.Fatalf("stale update: %v", err)
			}
			if _, err := s.Put(ctx, k, "a", []byte("x"), 7); !errors.Is(err, ErrConflict) {
				t.Fatalf("future version: %v", err)
			}
			if _, err := s.Put(ctx, k, "missing", []byte("x"), 1); !errors.Is(err, ErrConflict) {
				t.Fatalf("update missing: %v", err)
			}
			if v, err := s.Put(ctx, k, "a", []byte("3"), Any); err != nil || v != 3 {
				t.Fatalf("any existing: %d %v", v, err)
			}
			if v, err := s.Put(ctx, k, "b", []byte("b"), Any); err != nil || v != 1 {
				t.Fatalf("any missing: %d %v", v, err)
			}
			if _, err := s.Put(ctx, k, "a", nil, -2); !errs.IsPermanent(err) {
				t.Fatalf("bad expected version: %v", err)
			}
			got, v, err := s.Get(ctx, k, "a")
			if err != nil || v != 3 || string(got) != "3" {
				t.Fatalf("final: %q v%d %v", got, v, err)
			}
		}},
		{"delete", func(t *testing.T, st storage) {
			s := st.open(t)
			if _, err := s.Put(ctx, KindHistory, "x", []byte("1"), Create); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Put(ctx, KindHistory, "x", []byte("2"), 1); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete(ctx, KindHistory, "x"); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.Get(ctx, KindHistory, "x"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("after delete: %v", err)
			}
			if err := s.Delete(ctx, KindHistory, "x"); err != nil {
				t.Fatalf("delete missing: %v", err)
			}
			if err := s.Delete(ctx, "never-used", "x"); err != nil {
				t.Fatalf("delete in unknown kind: %v", err)
			}
			if v, err := s.Put(ctx, KindHistory, "x", []byte("again"), Create); err != nil || v != 1 {
				t.Fatalf("re-create: %d %v", v, err)
			}
		}},
		{"list", func(t *testing.T, st storage) {
			s := st.open(t)
			if keys, err := s.List(ctx, KindBadRevisions); err != nil || keys == nil || len(keys) != 0 {
				t.Fatalf("empty kind: %#v %v", keys, err)
			}
			for _, k := range []string{"zeta", "alpha", "kafka-prod", "a.b"} {
				if _, err := s.Put(ctx, KindBadRevisions, k, []byte(k), Create); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.Put(ctx, KindPins, "other-kind", nil, Create); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete(ctx, KindBadRevisions, "zeta"); err != nil {
				t.Fatal(err)
			}
			keys, err := s.List(ctx, KindBadRevisions)
			if err != nil || strings.Join(keys, ",") != "a.b,alpha,kafka-prod" {
				t.Fatalf("list = %v %v", keys, err)
			}
		}},
		{"persists across re-open", func(t *testing.T, st storage) {
			s := st.open(t)
			if _, err := s.Put(ctx, KindHistory, "kafka", []byte("v1"), Create); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Put(ctx, KindHistory, "kafka", []byte("v2"), 1); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s2 := st.open(t)
			got, v, err := s2.Get(ctx, KindHistory, "kafka")
			if err != nil || v != 2 || string(got) != "v2" {
				t.Fatalf("after re-open: %q v%d %v", got, v, err)
			}
			if keys, _ := s2.List(ctx, KindHistory); strings.Join(keys, ",") != "kafka" {
				t.Fatalf("list after re-open: %v", keys)
			}
			if v, err := s2.Put(ctx, KindHistory, "kafka", []byte("v3"), 2); err != nil || v != 3 {
				t.Fatalf("put after re-open: %d %v", v, err)
			}
		}},
		{"concurrent writers: exactly one wins", func(t *testing.T, st storage) {
			const writers = 8
			stores := make([]Store, writers)
			for i := range stores {
				stores[i] = st.open(t)
			}
			if _, err := stores[0].Put(ctx, KindCleanups, "race", []byte("seed"), Create); err != nil {
				t.Fatal(err)
			}
			for round := int64(1); round <= 5; round++ {
				var wg sync.WaitGroup
				results := make([]error, writers)
				start := make(chan struct{})
				for i, s := range stores {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						_, results[i] = s.Put(ctx, KindCleanups, "race", []byte(fmt.Sprint("w", i)), round)
					}()
				}
				close(start)
				wg.Wait()
				winner := -1
				for i, err := range results {
					switch {
					case err == nil && winner >= 0:
						t.Fatalf("round %d: writers %d and %d both won", round, winner, i)
					case err == nil:
						winner = i
					case !errors.Is(err, ErrConflict):
						t.Fatalf("round %d writer %d: %v", round, i, err)
					}
				}
				if winner < 0 {
					t.Fatalf("round %d: nobody won", round)
				}
				got, v, err := stores[1].Get(ctx, KindCleanups, "race")
				if err != nil || v != round+1 || string(got) != fmt.Sprint("w", winner) {
					t.Fatalf("round %d: %q v%d %v, want w%d v%d", round, got, v, err, winner, round+1)
				}
			}
			// And read-modify-write loops lose no update.
			var wg sync.WaitGroup
			for i, s := range stores[:4] {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 10 {
						if err := increment(ctx, s, "counter"); err != nil {
							t.Errorf("writer %d: %v", i, err)
							return
						}
					}
				}()
			}
			wg.Wait()
			got, _, err := stores[0].Get(ctx, KindCleanups, "counter")
			if err != nil || string(got) != "40" {
				t.Fatalf("counter = %q %v, want 40", got, err)
			}
		}},
		{"names are checked", func(t *testing.T, st storage) {
			s := st.open(t)
			long := strings.Repeat("a", 64)
			for _, bad := range []string{"", "Kafka", "-lead", "trail-", "a_b", "a/b", "..", ".hidden",
				"a..b", long, "tab\tx", "ünï", "a b", strings.Repeat("abc.", 64) + "x"} {
				_, err := s.Put(ctx, KindPins, bad, []byte("x"), Any)
				if !errors.Is(err, ErrInvalidKey) || !errs.IsPermanent(err) || !strings.Contains(err.Error(), strconv.Quote(bad)) {
					t.Errorf("key %q: want a permanent ErrInvalidKey naming it, got %v", bad, err)
				}
				if _, _, err := s.Get(ctx, KindPins, bad); !errors.Is(err, ErrInvalidKey) {
					t.Errorf("get key %q: %v", bad, err)
				}
				if err := s.Delete(ctx, KindPins, bad); !errors.Is(err, ErrInvalidKey) {
					t.Errorf("delete key %q: %v", bad, err)
				}
			}
			for _, bad := range []string{"", "Pins", "a.b", "x/y", long} {
				if _, err := s.List(ctx, bad); !errors.Is(err, ErrInvalidKey) || !errs.IsPermanent(err) {
					t.Errorf("kind %q: %v", bad, err)
				}
			}
			for _, good := range []string{"a", "kafka-prod", "a.b-c.d", strings.Repeat("a", 63), "0-9"} {
				if _, err := s.Put(ctx, KindPins, good, []byte("x"), Any); err != nil {
					t.Errorf("key %q: %v", good, err)
				}
			}
		}},
		{"size limit", func(t *testing.T, st storage) {
			s := st.open(t)
			max := bytes.Repeat([]byte("v"), MaxValueSize)
			if _, err := s.Put(ctx, KindHistory, "big", max, Create); err != nil {
				t.Fatalf("put %d bytes: %v", len(max), err)
			}
			got, _, err := s.Get(ctx, KindHistory, "big")
			if err != nil || !bytes.Equal(got, max) {
				t.Fatalf("get big: %d bytes %v", len(got), err)
			}
			_, err = s.Put(ctx, KindHistory, "big", append(max, 'x'), Any)
			if !errors.Is(err, ErrTooLarge) || !errs.IsPermanent(err) || !strings.Contains(err.Error(), "history/big") {
				t.Fatalf("oversize: %v", err)
			}
		}},
		{"context", func(t *testing.T, st storage) {
			s := st.open(t)
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if _, err := s.Put(cctx, KindPins, "x", []byte("x"), Any); !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled put: %v", err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, fresh(t)) })
	}
}

// increment adds one to a decimal counter with compare-and-set, retrying
// on conflicts: the read-modify-write every controller record update does.
func increment(ctx context.Context, s Store, key string) error {
	for {
		b, v, err := s.Get(ctx, KindCleanups, key)
		n := 0
		switch {
		case errors.Is(err, ErrNotFound):
			v = Create
		case err != nil:
			return err
		default:
			if n, err = strconv.Atoi(string(b)); err != nil {
				return err
			}
		}
		_, err = s.Put(ctx, KindCleanups, key, []byte(strconv.Itoa(n+1)), v)
		if errors.Is(err, ErrConflict) {
			continue
		}
		return err
	}
}
