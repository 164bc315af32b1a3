// Package testenv gives tests access to the real parts they run against: the
// shared Universe and Marathon API data beside the repository, system binaries
// (git, java for ZooKeeper, chromium) and servers started on loopback.
//
// A missing part skips the test with a message, except when the environment
// variable UNIVERSE_OPERATOR_REQUIRE_INTEGRATION is set (CI sets it): then it
// fails, so CI can never go green by skipping.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// RequireEnv is the variable that turns skips into failures.
const RequireEnv = "UNIVERSE_OPERATOR_REQUIRE_INTEGRATION"

// Missing skips (or, under RequireEnv, fails) the test because a part is absent.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv(RequireEnv) != "" {
		t.Fatalf("required for integration tests: "+format, args...)
	}
	t.Skipf("skipped: "+format, args...)
}

var (
	rootOnce sync.Once
	rootDir  string
)

// RepoRoot returns the module's root directory (where go.mod is).
func RepoRoot() string {
	rootOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		rootDir = filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	})
	return rootDir
}

// SharedDir returns the ../shared directory beside the repository
// (override with UNIVERSE_OPERATOR_SHARED), or "" when it does not exist.
func SharedDir() string {
	dir := os.Getenv("UNIVERSE_OPERATOR_SHARED")
	if dir == "" {
		dir = filepath.Join(RepoRoot(), "..", "shared")
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return ""
	}
	return dir
}

// Shared returns the path of rel inside ../shared, skipping the test when
// ../shared or the path is absent. Unlike binaries, ../shared is optional even
// on CI only when it is entirely absent: a partial tree is a failure.
func Shared(t testing.TB, rel string) string {
	t.Helper()
	dir := SharedDir()
	if dir == "" {
		t.Skip("skipped: ../shared is not present beside the repository")
	}
	p := filepath.Join(dir, rel)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("../shared is present but %s is missing: %v", rel, err)
	}
	return p
}

// UniversePackages returns ../shared/universe/repo/packages or skips.
func UniversePackages(t testing.TB) string { return Shared(t, "universe/repo/packages") }

// Binary returns the path of a program on PATH, or skips/fails via Missing.
func Binary(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "%s is not installed", name)
	}
	return p
}
