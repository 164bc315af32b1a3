package config

import (
	"strings"
	"testing"
)

// FuzzParse: the configuration parser never panics, and every error line
// names the file.
func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte(`{"marathon":{"url":"http://m:8080"},"universes":[{"name":"u","dir":"/u"}],"releases":{"dir":"/r"}}`))
	f.Add([]byte("dcos_url: https://d\nauth: {token: x}\nuniverses: [{name: u, git: {url: 'git@h:o/r.git', ref: main}}]\nreleases: {git: {url: 'ssh://git@h/r.git', auth: {ssh_key_env: K}}}\nzookeeper: {servers: [a, 'b:1']}\n"))
	f.Add([]byte("interval: 5s\nprogress_deadline: -1m\nworkers: 99999999999999999999\nprune_max_fraction: 1e400\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("---\n---\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data)
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "fuzz.yaml: ") {
					t.Fatalf("error line without the file name: %q", line)
				}
			}
			return
		}
		if c.Interval.Duration < 1e9 || c.Workers < 1 || len(c.Marathon.URLs) == 0 || len(c.Universes) == 0 {
			t.Fatalf("accepted an invalid configuration: %+v", c)
		}
	})
}
