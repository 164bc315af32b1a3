package git

import (
	"context"
	"fmt"
	"io/fs"
	"testing"

	"github.com/universe-operator/universe-operator/internal/testenv"
)

// BenchmarkNoopSync is the cost of re-checking an unchanged source over
// loopback smart HTTP (git http-backend): one ref advertisement, no pack.
// Target: under 50 ms.
func BenchmarkNoopSync(b *testing.B) {
	for _, files := range []int{10, 10000} {
		b.Run(fmt.Sprintf("files=%d", files), func(b *testing.B) {
			rs := testenv.NewGitRepos(b)
			repo := rs.Create("bench")
			m := make(map[string]string, files)
			for i := range files {
				m[fmt.Sprintf("releases/r%05d.yaml", i)] = fmt.Sprintf("name: r%05d\n", i)
			}
			repo.WriteFiles(m)
			repo.Commit("bench")
			srv := testenv.StartGitHTTP(b, rs, nil)
			c := newClient(b)
			remote := Remote{URL: srv.URL("bench"), Ref: "main"}
			ctx := context.Background()
			if _, err := c.Sync(ctx, remote); err != nil {
				b.Fatal(err)
			}
			srv.ResetStats()
			b.ResetTimer()
			for b.Loop() {
				co, err := c.Sync(ctx, remote)
				if err != nil || co.Fetched {
					b.Fatalf("%v fetched=%v", err, co != nil && co.Fetched)
				}
			}
			b.StopTimer()
			if st := srv.Stats(); st.UploadPacks != 0 {
				b.Fatalf("no-op syncs fetched: %+v", st)
			}
		})
	}
}

// BenchmarkReadTree reads every file of a 10,000-file commit through
// Client.Read (the object store, no checkout).
func BenchmarkReadTree(b *testing.B) {
	rs := testenv.NewGitRepos(b)
	repo := rs.Create("bench")
	m := make(map[string]string, 10000)
	for i := range 10000 {
		m[fmt.Sprintf("releases/t%02d/r%05d.yaml", i%50, i)] = fmt.Sprintf("apiVersion: universe-operator/v1\nname: r%05d\n", i)
	}
	repo.WriteFiles(m)
	head := repo.Commit("bench")
	srv := testenv.StartGitHTTP(b, rs, nil)
	c := newClient(b)
	remote := Remote{URL: srv.URL("bench"), Ref: "main"}
	if _, err := c.Sync(context.Background(), remote); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		n := 0
		err := c.Read(context.Background(), remote, head, func(fsys fs.FS) error {
			return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				_, err = fs.ReadFile(fsys, p)
				n++
				return err
			})
		})
		if err != nil || n != 10000 {
			b.Fatalf("%d files, %v", n, err)
		}
	}
}
