package source

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/universe-operator/universe-operator/clients/git"
	"github.com/universe-operator/universe-operator/config"
	"github.com/universe-operator/universe-operator/controller/webhook"
	"github.com/universe-operator/universe-operator/internal/testenv"
)

// pkgFiles returns the files of one package revision under prefix.
func pkgFiles(prefix, name, version string, rev int) map[string]string {
	dir := fmt.Sprintf("%s/%s/%s/%d/", prefix, strings.ToUpper(name[:1]), name, rev)
	return map[string]string{
		dir + "package.json": fmt.Sprintf(`{"packagingVersion": "4.0", "name": %q, "version": %q, "maintainer": "t@example.invalid",
			"description": "test", "tags": ["t"]}`, name, version),
		dir + "config.json":            `{"type": "object", "properties": {"service": {"type": "object", "properties": {"name": {"type": "string", "default": "svc"}}}}}`,
		dir + "marathon.json.mustache": `{"id": "{{service.name}}", "cmd": "sleep 100", "instances": 1}`,
	}
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func release(name, pkg string) string {
	return fmt.Sprintf("apiVersion: universe-operator/v1\nkind: PackageRelease\nmetadata: {name: %s}\nspec:\n  package: %s\n", name, pkg)
}

// fixedClock is a controllable clock.
type fixedClock struct{ ns atomic.Int64 }

func (c *fixedClock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *fixedClock) add(d time.Duration) { c.ns.Add(int64(d)) }

func newGit(t *testing.T) *git.Client {
	t.Helper()
	return newGitB(t)
}

func newGitB(t testing.TB) *git.Client {
	t.Helper()
	c, err := git.New(git.Options{CacheDir: t.TempDir(), Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestGitSourcesLastGoodSnapshot(t *testing.T) {
	rs := testenv.NewGitRepos(t)
	repo := rs.Create("gitops")
	repo.WriteFiles(merge(
		pkgFiles("universe/repo/packages", "webapp", "1.0.0", 0),
		map[string]string{
			"deploy/releases/a.yaml": release("a", "webapp"),
			"deploy/releases/b.yaml": release("b", "webapp") + "  optionsFile: deploy/options/b.json\n",
			"deploy/options/b.json":  `{"service": {"name": "b"}}`,
			"README.md":              "not a release: outside the releases path",
		}))
	first := repo.Commit("initial")
	srv := testenv.StartGitHTTP(t, rs, nil)
	clock := &fixedClock{}
	clock.add(time.Hour)
	opts := Options{Git: newGit(t), Now: clock.now}
	ug := &config.GitSource{URL: srv.URL("gitops"), Ref: "main", Path: "universe/repo/packages", Timeout: config.GitSource{}.Timeout}
	unis, err := NewUniverses([]config.UniverseSource{{Name: "team", Git: ug}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	rels, err := NewReleases(config.ReleaseSource{Git: &config.GitSource{URL: srv.URL("gitops"), Ref: "main", Path: "deploy/releases"}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// Before the first refresh nothing is in force and nothing is healthy.
	if unis.Healthy() || rels.Snapshot().Ready() || len(unis.Repositories()) != 0 {
		t.Fatal("sources healthy before loading")
	}
	if !unis.Refresh(ctx) {
		t.Fatal("first refresh reported no change")
	}
	changed, err := rels.Refresh(ctx)
	if err != nil || !changed {
		t.Fatalf("releases refresh: %v %v", changed, err)
	}
	snap := unis.Snapshots()[0]
	wantURI := srv.URL("gitops") + "#main:universe/repo/packages"
	if !snap.Healthy || snap.Commit != first || snap.URI != wantURI || snap.Repository == nil || snap.Kind != KindGit {
		t.Fatalf("universe snapshot %+v", snap.Status)
	}
	pkg := snap.Repository.Latest("webapp")
	if pkg == nil || pkg.Source != wantURI || pkg.Repository != "team" || pkg.Location != "universe/repo/packages/W/webapp/0" {
		t.Fatalf("package %+v", pkg)
	}
	rsnap := rels.Snapshot()
	if !rsnap.Healthy || rsnap.Commit != first || len(rsnap.Set.Releases()) != 2 {
		t.Fatalf("releases snapshot %+v", rsnap.Status)
	}
	if b := rsnap.Set.Get("b").Release; b.File != "deploy/releases/b.yaml" || string(b.Options) != `{"service":{"name":"b"}}` {
		t.Fatalf("release b = %+v", b)
	}

	// Unchanged: a re-check publishes no new snapshot.
	clock.add(time.Minute)
	if unis.Refresh(ctx) {
		t.Fatal("unchanged universe reported a change")
	}
	if changed, err := rels.Refresh(ctx); changed || err != nil {
		t.Fatalf("unchanged releases: %v %v", changed, err)
	}
	if s := unis.Snapshots()[0]; s.LoadedAt.Equal(s.CheckedAt) || !s.Healthy {
		t.Fatalf("re-check did not just update CheckedAt: %+v", s.Status)
	}

	// The server goes down: the last good snapshots stay in force.
	srv.Stop()
	clock.add(time.Minute)
	downAt := clock.now()
	unis.Refresh(ctx)
	_, rerr := rels.Refresh(ctx)
	clock.add(time.Minute)
	unis.Refresh(ctx)
	snap = unis.Snapshots()[0]
	if snap.Healthy || !snap.Stale || snap.Err == nil || snap.Repository == nil || snap.Commit != first ||
		!snap.FailingSince.Equal(downAt) || !strings.Contains(snap.Err.Error(), srv.URL("gitops")) {
		t.Fatalf("universe while down: %+v err %v", snap.Status, snap.Err)
	}
	if unis.Healthy() || len(unis.Repositories()) != 1 {
		t.Fatal("a failing universe must be unhealthy but keep its repository")
	}
	rsnap = rels.Snapshot()
	if rerr == nil || rsnap.Healthy || !rsnap.Stale || rsnap.Set == nil || len(rsnap.Set.Releases()) != 2 ||
		!strings.HasPrefix(rsnap.Err.Error(), "releases: ") {
		t.Fatalf("releases while down: %+v %v", rsnap.Status, rerr)
	}
	srv.Start()
	unis.Refresh(ctx)
	if s := unis.Snapshots()[0]; !s.Healthy || s.Stale || s.Err != nil || !s.FailingSince.IsZero() {
		t.Fatalf("after recovery: %+v", s.Status)
	}

	// A commit that breaks the tree (paths gone): last good kept, reason given.
	repo.Remove("universe")
	repo.Remove("deploy/releases")
	broken := repo.Commit("oops")
	unis.Refresh(ctx)
	_, rerr = rels.Refresh(ctx)
	snap = unis.Snapshots()[0]
	if snap.Healthy || snap.Commit != first || !strings.Contains(snap.Err.Error(), `path "universe/repo/packages" does not exist`) ||
		!strings.Contains(snap.Err.Error(), broken[:12]) {
		t.Fatalf("broken universe: %+v %v", snap.Status, snap.Err)
	}
	if rerr == nil || !strings.Contains(rerr.Error(), `releases path "deploy/releases"`) || rels.Snapshot().Set == nil {
		t.Fatalf("broken releases: %v", rerr)
	}

	// Fixed, with a new revision and a release removed: both load.
	repo.WriteFiles(merge(pkgFiles("universe/repo/packages", "webapp", "1.1.0", 1), pkgFiles("universe/repo/packages", "webapp", "1.0.0", 0),
		map[string]string{"deploy/releases/a.yaml": release("a", "webapp")}))
	fixed := repo.Commit("fixed")
	if !unis.Refresh(ctx) {
		t.Fatal("fix not loaded")
	}
	if changed, err := rels.Refresh(ctx); !changed || err != nil {
		t.Fatalf("releases fix: %v", err)
	}
	if s := unis.Snapshots()[0]; s.Commit != fixed || s.Repository.Latest("webapp").Version != "1.1.0" {
		t.Fatalf("fixed universe %+v", s.Status)
	}
	if s := rels.Snapshot(); s.Commit != fixed || len(s.Set.Releases()) != 1 {
		t.Fatalf("fixed releases %+v", s.Status)
	}

	// Webhook matching.
	push := webhook.Push{Ref: "refs/heads/main", URLs: []string{strings.ToUpper(srv.URL("gitops"))}}
	if got := unis.Matching(push); len(got) != 1 || got[0] != "team" || !rels.Matches(push) {
		t.Fatalf("matching: %v %v", got, rels.Matches(push))
	}
	push.Ref = "refs/heads/other"
	if len(unis.Matching(push)) != 0 || rels.Matches(push) {
		t.Fatal("other branch matched")
	}
	if _, err := unis.RefreshSource(ctx, "nope"); err == nil {
		t.Fatal("unknown source refreshed")
	}
}

func TestDeletedBranchKeepsSnapshot(t *testing.T) {
	rs := testenv.NewGitRepos(t)
	repo := rs.Create("r")
	repo.Commit("main branch")
	repo.Checkout("release")
	repo.WriteFiles(map[string]string{"a.yaml": release("a", "webapp")})
	repo.Commit("c")
	srv := testenv.StartGitDaemon(t, rs)
	rels, err := NewReleases(config.ReleaseSource{Git: &config.GitSource{URL: srv.URL("r"), Ref: "release"}}, Options{Git: newGit(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rels.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	repo.DeleteBranch("release")
	_, err = rels.Refresh(context.Background())
	s := rels.Snapshot()
	if err == nil || !strings.Contains(err.Error(), "ref not found") || !s.Stale || s.Set == nil || len(s.Set.Releases()) != 1 {
		t.Fatalf("deleted branch: %v %+v", err, s.Status)
	}
}

func TestDirSources(t *testing.T) {
	root := t.TempDir()
	uni := filepath.Join(root, "universe")
	relDir := filepath.Join(root, "releases")
	write := func(files map[string]string, base string) {
		for p, c := range files {
			full := filepath.Join(base, filepath.FromSlash(p))
			os.MkdirAll(filepath.Dir(full), 0o755)
			if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(pkgFiles(".", "webapp", "1.0.0", 0), uni)
	write(map[string]string{"B/broken/0/package.json": "{"}, uni)
	write(map[string]string{"a.yaml": release("a", "webapp")}, relDir)
	unis, err := NewUniverses([]config.UniverseSource{{Name: "local", Dir: uni}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rels, err := NewReleases(config.ReleaseSource{Dir: relDir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if !unis.Refresh(ctx) {
		t.Fatal("not loaded")
	}
	s := unis.Snapshots()[0]
	if !s.Healthy || !strings.HasPrefix(s.Commit, "dir:") || s.URI != "file://"+filepath.ToSlash(uni) || len(s.Problems) != 1 ||
		!strings.Contains(s.Problems[0].Error(), filepath.Join(uni, "B/broken/0/package.json")) {
		t.Fatalf("dir universe %+v problems %v", s.Status, s.Problems)
	}
	if unis.Refresh(ctx) {
		t.Fatal("unchanged directory reloaded")
	}
	write(pkgFiles(".", "webapp", "2.0.0", 1), uni)
	if !unis.Refresh(ctx) || unis.Snapshots()[0].Repository.Latest("webapp").Version != "2.0.0" {
		t.Fatal("changed directory not reloaded")
	}
	if changed, err := rels.Refresh(ctx); !changed || err != nil || len(rels.Snapshot().Set.Releases()) != 1 {
		t.Fatalf("dir releases: %v", err)
	}
	if changed, _ := rels.Refresh(ctx); changed {
		t.Fatal("unchanged releases reloaded")
	}
	os.RemoveAll(relDir)
	if _, err := rels.Refresh(ctx); err == nil || !rels.Snapshot().Stale {
		t.Fatal("missing releases directory not reported")
	}
}

// served builds the served JSON form of one package.
func served(version string) []byte {
	doc := map[string]any{"packages": []any{map[string]any{
		"packagingVersion": "4.0", "name": "webapp", "version": version, "maintainer": "t@example.invalid",
		"description": "test", "tags": []string{"t"}, "releaseVersion": 0,
		"marathon": map[string]any{"v2AppMustacheTemplate": base64.StdEncoding.EncodeToString([]byte(`{"id": "x", "cmd": "sleep 1"}`))},
	}}}
	b, _ := json.Marshal(doc)
	return b
}

func TestServedSources(t *testing.T) {
	var mu sync.Mutex
	body := served("1.0.0")
	status := 0
	var gets, notModified atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		gets.Add(1)
		if status != 0 {
			http.Error(w, "boom", status)
			return
		}
		etag := fmt.Sprintf(`"%x"`, sha256.Sum256(body))
		if r.Header.Get("If-None-Match") == etag {
			notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		if !strings.Contains(r.Header.Get("Accept"), "version=v5") {
			http.Error(w, "bad accept", http.StatusNotAcceptable)
			return
		}
		w.Header().Set("ETag", etag)
		w.Write(body)
	}))
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "repo.json")
	os.WriteFile(file, served("3.0.0"), 0o644)
	unis, err := NewUniverses([]config.UniverseSource{{Name: "served", URL: srv.URL + "/repo"}, {Name: "file", File: file}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	unis.Refresh(ctx)
	snaps := unis.Snapshots()
	if !snaps[0].Healthy || snaps[0].URI != srv.URL+"/repo" || !strings.HasPrefix(snaps[0].Commit, "sha256:") ||
		snaps[0].Repository.Latest("webapp").Source != srv.URL+"/repo" {
		t.Fatalf("served: %+v %v", snaps[0].Status, snaps[0].Err)
	}
	if !snaps[1].Healthy || snaps[1].Repository.Latest("webapp").Version != "3.0.0" || snaps[1].Kind != KindFile {
		t.Fatalf("file: %+v %v", snaps[1].Status, snaps[1].Err)
	}
	// Priority order is the configured order.
	if repos := unis.Repositories(); repos[0].Name != "served" || repos[1].Name != "file" {
		t.Fatal("priority order")
	}
	if unis.Refresh(ctx) || notModified.Load() != 1 {
		t.Fatalf("unchanged served repository: 304s = %d", notModified.Load())
	}
	mu.Lock()
	body = served("1.1.0")
	mu.Unlock()
	if !unis.Refresh(ctx) || unis.Snapshots()[0].Repository.Latest("webapp").Version != "1.1.0" {
		t.Fatal("changed served repository not reloaded")
	}
	mu.Lock()
	status = 503
	mu.Unlock()
	unis.Refresh(ctx)
	if s := unis.Snapshots()[0]; s.Healthy || !s.Stale || !strings.Contains(s.Err.Error(), "503") || s.Repository == nil {
		t.Fatalf("503: %+v %v", s.Status, s.Err)
	}
	mu.Lock()
	status, body = 0, []byte(`{"not": "a repository"}`)
	mu.Unlock()
	unis.Refresh(ctx)
	if s := unis.Snapshots()[0]; s.Healthy || s.Repository.Latest("webapp").Version != "1.1.0" || !strings.Contains(s.Err.Error(), "packages") {
		t.Fatalf("garbage: %+v %v", s.Status, s.Err)
	}
}

func TestGitURIAndRemote(t *testing.T) {
	for _, c := range []struct{ url, ref, path, want string }{
		{"https://g/u.git", "main", "repo/packages/", "https://g/u.git#main:repo/packages"},
		{"https://g/u.git", "", "", "https://g/u.git#HEAD"},
		{"git@g:o/u.git", "v1", ".", "git@g:o/u.git#v1"},
	} {
		if got := GitURI(c.url, c.ref, c.path); got != c.want {
			t.Errorf("GitURI(%q, %q, %q) = %q, want %q", c.url, c.ref, c.path, got, c.want)
		}
	}
	r := GitRemote(&config.GitSource{URL: "u", Ref: "r", Auth: &config.GitAuth{Username: "x", TokenEnv: "T", KnownHostsFile: "k"}})
	if r.Auth.Username != "x" || r.Auth.TokenEnv != "T" || r.Auth.KnownHostsFile != "k" {
		t.Fatalf("remote %+v", r)
	}
}

func TestConcurrentRefreshAndRead(t *testing.T) {
	rs := testenv.NewGitRepos(t)
	repo := rs.Create("c")
	repo.WriteFiles(merge(pkgFiles("p", "webapp", "1.0.0", 0), map[string]string{"r/a.yaml": release("a", "webapp")}))
	repo.Commit("c")
	srv := testenv.StartGitHTTP(t, rs, nil)
	g := newGit(t)
	// Both sources in the same repository and ref share one cache.
	unis, _ := NewUniverses([]config.UniverseSource{{Name: "u", Git: &config.GitSource{URL: srv.URL("c"), Ref: "main", Path: "p"}}}, Options{Git: g})
	rels, _ := NewReleases(config.ReleaseSource{Git: &config.GitSource{URL: srv.URL("c"), Ref: "main", Path: "r"}}, Options{Git: g})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					_ = unis.Snapshots()
					_ = rels.Snapshot()
					_ = unis.Healthy()
				}
			}
		}()
	}
	for i := range 5 {
		var inner sync.WaitGroup
		inner.Add(2)
		go func() { defer inner.Done(); unis.Refresh(context.Background()) }()
		go func() { defer inner.Done(); _, _ = rels.Refresh(context.Background()) }()
		inner.Wait()
		repo.Write("r/a.yaml", release("a", "webapp")+fmt.Sprintf("# %d\n", i))
		repo.Commit("more")
	}
	close(stop)
	wg.Wait()
	if !unis.Healthy() || !rels.Snapshot().Healthy {
		t.Fatalf("%v %v", unis.Snapshots()[0].Err, rels.Snapshot().Err)
	}
}

func TestPruneBlockers(t *testing.T) {
	root := t.TempDir()
	uni := filepath.Join(root, "u")
	os.MkdirAll(uni, 0o755)
	relDir := filepath.Join(root, "r")
	os.MkdirAll(relDir, 0o755)
	os.WriteFile(filepath.Join(relDir, "a.yaml"), []byte(release("a", "webapp")), 0o644)
	unis, _ := NewUniverses([]config.UniverseSource{{Name: "u", Dir: uni}}, Options{})
	rels, _ := NewReleases(config.ReleaseSource{Dir: relDir}, Options{})
	if b := PruneBlockers(unis, rels); len(b) != 2 || !strings.Contains(b[0], "not loaded yet") {
		t.Fatalf("before loading: %v", b)
	}
	unis.Refresh(context.Background())
	rels.Refresh(context.Background())
	if b := PruneBlockers(unis, rels); len(b) != 0 {
		t.Fatalf("healthy: %v", b)
	}
	os.WriteFile(filepath.Join(relDir, "junk.yaml"), []byte(": : :"), 0o644)
	rels.Refresh(context.Background())
	if b := PruneBlockers(unis, rels); len(b) != 1 || !strings.Contains(b[0], "junk.yaml") {
		t.Fatalf("unnamed manifest: %v", b)
	}
	os.RemoveAll(uni)
	unis.Refresh(context.Background())
	if b := PruneBlockers(unis, rels); len(b) != 2 || !strings.Contains(b[0], "universe source u is not healthy") {
		t.Fatalf("failed universe: %v", b)
	}
}

func TestTenThousandManifests(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 10,000 files")
	}
	rs := testenv.NewGitRepos(t)
	repo := rs.Create("many")
	files := make(map[string]string, 10000)
	for i := range 10000 {
		files[fmt.Sprintf("releases/t%02d/r%05d.yaml", i%40, i)] = release(fmt.Sprintf("r%05d", i), "webapp")
	}
	repo.WriteFiles(files)
	repo.Commit("10k")
	srv := testenv.StartGitHTTP(t, rs, nil)
	rels, err := NewReleases(config.ReleaseSource{Git: &config.GitSource{URL: srv.URL("many"), Ref: "main", Path: "releases"}}, Options{Git: newGit(t)})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := rels.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	cold := time.Since(start)
	if n := len(rels.Snapshot().Set.Releases()); n != 10000 {
		t.Fatalf("%d releases", n)
	}
	repo.Write("releases/t07/r00007.yaml", release("r00007", "webapp")+"  suspend: true\n")
	repo.Commit("suspend one")
	srv.ResetStats()
	start = time.Now()
	if changed, err := rels.Refresh(context.Background()); err != nil || !changed {
		t.Fatal(err)
	}
	warm := time.Since(start)
	st := srv.Stats()
	if !rels.Snapshot().Set.Get("r00007").Release.Spec.Suspend || rels.cache.Hits() != 9999 || st.UploadPacks != 1 {
		t.Fatalf("incremental: hits %d, stats %+v", rels.cache.Hits(), st)
	}
	t.Logf("10,000 manifests over loopback git: first load %s, after a one-file commit %s (%d pack bytes)", cold, warm, st.PackBytes)
}
