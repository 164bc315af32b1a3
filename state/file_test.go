package state

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/errs"
)

// helperEnv makes the test binary a second process writing to a state_dir.
const helperEnv = "UO_STATE_HELPER_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		os.Exit(helperIncrement(dir))
	}
	os.Exit(m.Run())
}

// helperIncrement opens the store and increments the shared counter.
func helperIncrement(dir string) int {
	n, _ := strconv.Atoi(os.Getenv("UO_STATE_HELPER_N"))
	s, err := OpenFile(dir)
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	defer s.Close()
	fmt.Println("READY")
	for range n {
		if err := increment(context.Background(), s, "counter"); err != nil {
			fmt.Println("ERROR", err)
			return 1
		}
	}
	return 0
}

func openFile(t *testing.T, dir string) *FileStore {
	t.Helper()
	s, err := OpenFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestFileConformance(t *testing.T) {
	runConformance(t, func(t *testing.T) storage {
		dir := filepath.Join(t.TempDir(), "state")
		return storage{open: func(t *testing.T) Store { return openFile(t, dir) }}
	})
}

func TestFileLayout(t *testing.T) {
	dir := t.TempDir()
	s := openFile(t, dir)
	ctx := context.Background()
	if _, err := s.Put(ctx, KindHistory, "kafka-prod", []byte(`{"a":1}`), Create); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "history", "kafka-prod")
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("record mode %v, want 0600 (records may hold options)", st.Mode().Perm())
	}
	b, _ := os.ReadFile(p)
	if !strings.HasPrefix(string(b), "uostate1 1 7 ") || !strings.HasSuffix(string(b), "\n{\"a\":1}") {
		t.Fatalf("record file = %q", b)
	}
	if s.Dir() != dir {
		t.Fatal("Dir")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(ctx, KindHistory, "kafka-prod"); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
	if _, err := OpenFile(""); !errs.IsPermanent(err) {
		t.Fatalf("empty dir: %v", err)
	}
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFile(filepath.Join(blocker, "sub")); err == nil || !strings.Contains(err.Error(), "state_dir") {
		t.Fatalf("unusable dir: %v", err)
	}
}

// A writer that crashed mid-way leaves a temp file: torn (half written) or
// complete but never renamed. Neither changes the record; re-opening removes
// them.
func TestFileCrashLeftovers(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := openFile(t, dir)
	if _, err := s.Put(ctx, KindCleanups, "kafka", []byte(`{"step":"delete-app"}`), Create); err != nil {
		t.Fatal(err)
	}
	kdir := filepath.Join(dir, KindCleanups)
	torn := encodeRecord([]byte(`{"step":"teardown-framework","more":"...`), 2)
	leftovers := map[string][]byte{
		".tmp-torn":     torn[:len(torn)/2],
		".tmp-complete": encodeRecord([]byte(`{"step":"unreserve"}`), 2),
		".tmp-empty":    nil,
	}
	for name, b := range leftovers {
		if err := os.WriteFile(filepath.Join(kdir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	check := func(s *FileStore) {
		t.Helper()
		got, v, err := s.Get(ctx, KindCleanups, "kafka")
		if err != nil || v != 1 || string(got) != `{"step":"delete-app"}` {
			t.Fatalf("record = %q v%d %v", got, v, err)
		}
		if keys, err := s.List(ctx, KindCleanups); err != nil || strings.Join(keys, ",") != "kafka" {
			t.Fatalf("list = %v %v", keys, err)
		}
	}
	check(s)
	if v, err := s.Put(ctx, KindCleanups, "kafka", []byte(`{"step":"teardown"}`), 1); err != nil || v != 2 {
		t.Fatalf("put beside leftovers: %d %v", v, err)
	}
	if _, err := s.Put(ctx, KindCleanups, "kafka", []byte(`{"step":"delete-app"}`), 2); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s2 := openFile(t, dir)
	got, v, err := s2.Get(ctx, KindCleanups, "kafka")
	if err != nil || v != 3 || string(got) != `{"step":"delete-app"}` {
		t.Fatalf("after re-open: %q v%d %v", got, v, err)
	}
	entries, _ := os.ReadDir(kdir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			t.Errorf("leftover %s not removed on open", e.Name())
		}
	}
}

// A record file damaged outside the store's control (disk trouble, a hand
// edit) is reported, naming the file, and never read as a wrong value.
func TestFileCorruptRecord(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := openFile(t, dir)
	p := filepath.Join(dir, KindPins, "kafka")
	value := []byte(`{"revision":"abc123"}`)
	good := encodeRecord(value, 4)
	damaged := map[string][]byte{
		"truncated":  good[:len(good)-3],
		"extended":   append(append([]byte{}, good...), 'x'),
		"bit flip":   append(append([]byte{}, good[:len(good)-1]...), '!'),
		"no header":  value,
		"empty":      {},
		"bad number": []byte(strings.Replace(string(good), "uostate1 4", "uostate1 x", 1)),
	}
	for name, b := range damaged {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, err := s.Get(ctx, KindPins, "kafka")
		if !errors.Is(err, ErrCorrupt) || !errs.IsPermanent(err) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: get: want permanent ErrCorrupt naming %s, got %v", name, p, err)
		}
		if _, err := s.Put(ctx, KindPins, "kafka", []byte("x"), Any); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: put over a corrupt record: %v", name, err)
		}
	}
	// Delete resets it.
	if err := s.Delete(ctx, KindPins, "kafka"); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Put(ctx, KindPins, "kafka", value, Create); err != nil || v != 1 {
		t.Fatalf("after reset: %d %v", v, err)
	}
	if err := os.WriteFile(p, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, v, err := s.Get(ctx, KindPins, "kafka"); err != nil || v != 4 || string(got) != string(value) {
		t.Fatalf("intact file: %q v%d %v", got, v, err)
	}
}

// Two processes on one host share a state_dir: the flock keeps their
// compare-and-set exact, so no increment is lost.
func TestFileTwoProcesses(t *testing.T) {
	dir := t.TempDir()
	const n = 60
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir, "UO_STATE_HELPER_N="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	if !sc.Scan() || sc.Text() != "READY" {
		t.Fatalf("helper: %q", sc.Text())
	}
	s := openFile(t, dir)
	ctx := context.Background()
	for range n {
		if err := increment(ctx, s, "counter"); err != nil {
			t.Fatal(err)
		}
	}
	var rest []string
	for sc.Scan() {
		rest = append(rest, sc.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v %v", err, rest)
	}
	got, v, err := s.Get(ctx, KindCleanups, "counter")
	if err != nil || string(got) != strconv.Itoa(2*n) || v != 2*n {
		t.Fatalf("counter = %q v%d %v, want %d", got, v, err, 2*n)
	}
}

// The lock wait respects the context.
func TestFileLockWaitHonoursContext(t *testing.T) {
	dir := t.TempDir()
	a, b := openFile(t, dir), openFile(t, dir)
	held := make(chan struct{})
	release := make(chan struct{})
	go func() {
		_ = a.locked(context.Background(), true, func() error {
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := b.Put(ctx, KindPins, "x", []byte("x"), Any)
	close(release)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), ".lock") {
		t.Fatalf("want a deadline error naming the lock, got %v", err)
	}
	if _, err := b.Put(context.Background(), KindPins, "x", []byte("x"), Any); err != nil {
		t.Fatal(err)
	}
}
