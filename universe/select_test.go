package universe

import (
	"errors"
	"strings"
	"testing"

	"github.com/universe-operator/universe-operator/errs"
)

// rev makes a revision for selection tests.
func rev(name string, release int, version string, minDcos ...string) *Package {
	p := &Package{Name: name, ReleaseVersion: release, Version: version, PackagingVersion: "4.0"}
	if len(minDcos) > 0 {
		p.MinDcosReleaseVersion = minDcos[0]
	}
	return p
}

func repoOf(t *testing.T, name string, pkgs ...*Package) *Repository {
	t.Helper()
	r, problems := NewRepository(name, "https://"+name+".example/repo", pkgs)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	return r
}

func intp(i int) *int { return &i }

func TestSelect(t *testing.T) {
	main := repoOf(t, "main",
		// kibana-like: the highest revision does not have the highest-looking version.
		rev("kibana", 0, "4.5.3"), rev("kibana", 5, "3.2.0-7.9.3"), rev("kibana", 3, "2.0.0-6.0.0"),
		// duplicate version strings
		rev("dup", 1, "1.0"), rev("dup", 2, "1.0"), rev("dup", 3, "2.0"),
		// hidden and DC/OS-specific revisions
		rev("kafka", 10, "2.8.0-2.3.0", "1.10"), rev("kafka", 11, "2.9.0-2.4.0", "1.12"), rev("kafka", 12, "2.10.0-2.5.0-beta", "1.12"),
		rev("kafka", 13, "3.0.0-3.0.0", "999"),
		rev("odd", 0, "stub-universe"), rev("odd", 1, "3.1.x"), rev("odd", 2, "1.5.0"), rev("odd", 3, "latest"),
	)
	local := repoOf(t, "local",
		rev("kibana", 99, "9.9.9"),
		rev("dup", 9, "1.0"),
		rev("onlylocal", 1, "1.0.0"),
		rev("kafka", 20, "2.9.1-2.4.0"),
	)
	repos := []*Repository{main, local}
	cases := []struct {
		name string
		q    Query
		want string // "repo/release", or "error: substring"
	}{
		{"latest is the highest release", Query{Name: "kibana"}, "main/5"},
		{"latest keyword", Query{Name: "kibana", Version: "latest"}, "main/5"},
		{"latest from the first repository having the name", Query{Name: "onlylocal"}, "local/1"},
		{"pinned universe", Query{Name: "kibana", Universe: "local"}, "local/99"},
		{"exact version", Query{Name: "kibana", Version: "4.5.3"}, "main/0"},
		{"exact duplicates: highest release", Query{Name: "dup", Version: "1.0"}, "main/2"},
		{"exact in a lower-priority repository", Query{Name: "kibana", Version: "9.9.9"}, "local/99"},
		{"exact not found", Query{Name: "kibana", Version: "4.5"}, `error: package "kibana" has no version "4.5"`},
		{"release", Query{Name: "kibana", Release: intp(3)}, "main/3"},
		{"release ignores version", Query{Name: "kibana", Release: intp(0), Version: "9.9.9"}, "main/0"},
		{"release not found", Query{Name: "kibana", Release: intp(4)}, "error: has no release 4; available: 3.2.0-7.9.3 (rev 5)"},
		{"constraint: highest matching release, pre-release excluded", Query{Name: "kafka", Version: ">=2.8 <3"}, "main/11"},
		{"constraint naming a pre-release", Query{Name: "kafka", Version: ">=2.10.0-beta"}, "main/13"},
		{"constraint with DC/OS filter", Query{Name: "kafka", Version: ">=2.8", DCOSVersion: "1.11"}, "main/10"},
		{"constraint with wildcard", Query{Name: "kibana", Version: "2.x"}, "main/3"},
		{"literal version that looks like a constraint", Query{Name: "odd", Version: "3.1.x"}, "main/1"},
		{"literal latest is not reachable by name", Query{Name: "odd", Version: "latest"}, "main/3"},
		{"constraint skips unparseable versions", Query{Name: "odd", Version: ">=1"}, "main/2"},
		{"constraint no match lists skipped", Query{Name: "odd", Version: ">=2"}, `error: skipped, version string not comparable: "latest" (rev 3), "3.1.x" (rev 1), "stub-universe" (rev 0)`},
		{"constraint no match names pre-releases", Query{Name: "kafka", Version: "~2.10"}, "error: matching pre-releases, excluded unless the constraint names a pre-release: 2.10.0-2.5.0-beta (rev 12)"},
		{"constraint falls to the next repository", Query{Name: "kafka", Version: "~2.9.1"}, "local/20"},
		{"latest with DC/OS version skips hidden", Query{Name: "kafka", DCOSVersion: "1.12.3"}, "main/12"},
		{"latest with old DC/OS", Query{Name: "kafka", DCOSVersion: "1.9"}, "error: requires DC/OS 1.10 or newer"},
		{"exact too new for DC/OS", Query{Name: "kafka", Version: "2.9.0-2.4.0", DCOSVersion: "1.11"}, "error: kafka 2.9.0-2.4.0 (rev 11) requires DC/OS 1.12 or newer (minDcosReleaseVersion), the cluster runs 1.11"},
		{"release too new for DC/OS", Query{Name: "kafka", Release: intp(13), DCOSVersion: "2.2"}, "error: requires DC/OS 999 or newer"},
		{"unknown package", Query{Name: "nope"}, `error: package "nope" not found in universe "main", "local"`},
		{"unknown universe", Query{Name: "kibana", Universe: "other"}, `error: no universe named "other" (have "main", "local")`},
		{"package absent from the pinned universe", Query{Name: "onlylocal", Universe: "main"}, `error: package "onlylocal" not found in universe "main"`},
		{"bad constraint", Query{Name: "kibana", Version: ">=x.y"}, "error: version constraint"},
		{"no name", Query{}, "error: no package name"},
		{"bad DC/OS version", Query{Name: "kibana", DCOSVersion: "dev"}, "error: DC/OS version"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Select(repos, c.q)
			if strings.HasPrefix(c.want, "error: ") {
				if err == nil {
					t.Fatalf("selected %s (%s), want an error", p, p.Repository)
				}
				if !errs.IsPermanent(err) {
					t.Errorf("error is not permanent: %v", err)
				}
				if !strings.Contains(err.Error(), strings.TrimPrefix(c.want, "error: ")) {
					t.Errorf("error %q\nwant it to contain %q", err, strings.TrimPrefix(c.want, "error: "))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Repository + "/" + itoa(p.ReleaseVersion); got != c.want {
				t.Errorf("selected %s, want %s", got, c.want)
			}
		})
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestNewRepositoryDuplicates(t *testing.T) {
	a := rev("x", 1, "1.0")
	a.Location = "first"
	b := rev("x", 1, "1.1")
	b.Location = "second"
	r, problems := NewRepository("r", "s", []*Package{a, b, nil})
	if len(problems) != 1 || !strings.Contains(problems[0].Error(), "duplicate revision") || !strings.Contains(problems[0].Error(), "second") {
		t.Errorf("problems %v", problems)
	}
	if r.Get("x", 1) != a || r.Len() != 1 || r.Latest("x") != a || r.Latest("y") != nil || r.Get("x", 2) != nil {
		t.Errorf("repository %+v", r.Packages())
	}
	var fe *FileError
	if !errors.As(problems[0], &fe) || fe.Path != "second" {
		t.Errorf("not a FileError: %#v", problems[0])
	}
}
