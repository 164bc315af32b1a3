package universe

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestParseVersion(t *testing.T) {
	cases := []struct {
		in     string
		core   []int64
		suffix string
		pre    bool
		bad    bool
	}{
		{in: "2.9.0-2.4.0", core: []int64{2, 9, 0}, suffix: "2.4.0"},
		{in: "1.4.0-2.0.0", core: []int64{1, 4, 0}, suffix: "2.0.0"},
		{in: "0.2.0-0.1.0", core: []int64{0, 2, 0}, suffix: "0.1.0"},
		{in: "2.9.0-2.4.0-beta", core: []int64{2, 9, 0}, suffix: "2.4.0-beta", pre: true},
		{in: "1.10", core: []int64{1, 10}},
		{in: "v1.2.3", core: []int64{1, 2, 3}},
		{in: "6.0.0rc1", core: []int64{6, 0, 0}, suffix: "rc1", pre: true},
		{in: "1.4.13a", core: []int64{1, 4, 13}, suffix: "a"},
		{in: "1.2.3.4", core: []int64{1, 2, 3, 4}},
		{in: "2.0.0-1.0.0-cdh5.11.0", core: []int64{2, 0, 0}, suffix: "1.0.0-cdh5.11.0"},
		{in: "1.0.0-RELEASE.2018-08-25T01-56-38Z", core: []int64{1, 0, 0}, suffix: "RELEASE.2018-08-25T01-56-38Z"},
		{in: "0.1.0-pre-1-g1d2e", core: []int64{0, 1, 0}, suffix: "pre-1-g1d2e", pre: true},
		{in: "1.0.0-snapshot", core: []int64{1, 0, 0}, suffix: "snapshot", pre: true},
		{in: "1.0.0-apache", core: []int64{1, 0, 0}, suffix: "apache"},
		{in: "5", core: []int64{5}},
		{in: "5-1", core: []int64{5}, suffix: "1"},
		{in: "stub-universe", bad: true},
		{in: "latest", bad: true},
		{in: "3.1.x", bad: true},
		{in: "1.4.0.-1", bad: true},
		{in: "8688ecd-1.2.9", bad: true},
		{in: "", bad: true},
		{in: "v", bad: true},
		{in: "1." + strings.Repeat("9", 19), bad: true},
	}
	for _, c := range cases {
		v, err := ParseVersion(c.in)
		if c.bad {
			if err == nil {
				t.Errorf("%q parsed as %+v, want an error", c.in, v)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if compareCore(v.Core, c.core) != 0 || len(v.Core) != len(c.core) || v.Suffix != c.suffix || v.PreRelease != c.pre {
			t.Errorf("%q: %+v, want core %v suffix %q pre %v", c.in, v, c.core, c.suffix, c.pre)
		}
	}
}

func TestIsConstraint(t *testing.T) {
	yes := []string{">=2.8 <3", "~2.9", "^1.2", "2.x", "2.X", "2.*", "*", "=1.0", "!=1.0", "1.0 || 2.0", "1.0,2.0", "3.1.x", "x"}
	no := []string{"", "latest", "2.9.0-2.4.0", "1.0", "stub-universe", "1.x-2"}
	for _, s := range yes {
		if !IsConstraint(s) {
			t.Errorf("IsConstraint(%q) = false", s)
		}
	}
	for _, s := range no {
		if IsConstraint(s) {
			t.Errorf("IsConstraint(%q) = true", s)
		}
	}
}

func TestConstraintMatch(t *testing.T) {
	cases := []struct {
		constraint string
		match      []string
		noMatch    []string
	}{
		{">=2.8 <3", []string{"2.8", "2.9.0-2.4.0", "2.10.1", "2.99.99-1.0"}, []string{"2.7.9", "3.0.0", "3.0.0-2.4.0", "2.9.0-2.4.0-beta", "stub-universe"}},
		{">= 2.8, < 3", []string{"2.9.0-2.4.0"}, []string{"3.0"}},
		{"~2.9", []string{"2.9.0", "2.9.5-1.0", "2.9"}, []string{"2.10.0", "2.8.9", "3.9"}},
		{"~2.9.1", []string{"2.9.1", "2.9.9"}, []string{"2.9.0", "2.10.0"}},
		{"~2", []string{"2.0.0", "2.99"}, []string{"3.0.0", "1.9"}},
		{"^1.2.3", []string{"1.2.3", "1.9.0"}, []string{"1.2.2", "2.0.0"}},
		{"^0.2.3", []string{"0.2.3", "0.2.9"}, []string{"0.3.0", "0.2.2"}},
		{"^0.0.3", []string{"0.0.3"}, []string{"0.0.4", "0.0.2"}},
		{"2.x", []string{"2.0", "2.9.0-2.4.0", "2.0.0.1"}, []string{"3.0", "1.99"}},
		{"2.9.*", []string{"2.9.0", "2.9.7-1"}, []string{"2.10.0"}},
		{"2.9", []string{"2.9.0", "2.9.3"}, []string{"2.10"}},
		{"=2.9.0", []string{"2.9.0", "2.9.0-2.4.0", "2.9"}, []string{"2.9.0.1", "2.9.1"}},
		{">2.9", []string{"2.10.0", "3"}, []string{"2.9.9", "2.9"}},
		{">2.9.0", []string{"2.9.1", "2.10"}, []string{"2.9.0", "2.9.0-2.4.0"}},
		{"<=2.9", []string{"2.9.9", "2.0"}, []string{"2.10"}},
		{"<2.9", []string{"2.8.99"}, []string{"2.9.0", "2.9.0-1.0"}},
		{"!=2.9", []string{"2.8", "2.10"}, []string{"2.9.0", "2.9.5"}},
		{"!=2.9.0", []string{"2.9.1"}, []string{"2.9.0-2.4.0"}},
		{"*", []string{"0.0.1", "99"}, []string{"latest", "1.0.0-beta"}},
		{"<1 || >=3", []string{"0.9", "3.0"}, []string{"1.0", "2.9"}},
		{">=2.9.0-2.4.0", []string{"2.9.0-2.4.0", "2.9.0-2.5.0", "2.9.0-10.0", "2.10"}, []string{"2.9.0-2.3.9", "2.9.0", "2.8"}},
		{"<2.9.0-2.4.0", []string{"2.9.0-2.3.9", "2.9.0", "2.8"}, []string{"2.9.0-2.4.0"}},
		{">=2.9.0-beta", []string{"2.9.0-beta", "2.10.0-2.4.0-beta", "2.10.0"}, []string{"2.8.0-beta"}},
		{">=1.0.0-a", []string{"1.0.0-b", "1.0.0-a.1"}, []string{"1.0.0", "1.0.0-1"}},
		{"v1.x", []string{"1.2"}, []string{"2.0"}},
	}
	for _, c := range cases {
		con, err := ParseConstraint(c.constraint)
		if err != nil {
			t.Errorf("%q: %v", c.constraint, err)
			continue
		}
		for _, v := range c.match {
			if !con.Match(v) {
				t.Errorf("%q should match %q", c.constraint, v)
			}
		}
		for _, v := range c.noMatch {
			if con.Match(v) {
				t.Errorf("%q should not match %q", c.constraint, v)
			}
		}
		if con.String() != c.constraint {
			t.Errorf("String() = %q", con.String())
		}
	}
}

func TestConstraintErrors(t *testing.T) {
	for _, s := range []string{"", " ", ">=", "1.0 ||", "|| 1.0", ">=stub", "2.x.3", "*.1", ">*", "2.x-1", "~", "abc"} {
		if c, err := ParseConstraint(s); err == nil {
			t.Errorf("ParseConstraint(%q) = %v, want an error", s, c)
		}
	}
}

func TestCompareDCOSVersions(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"1.10", "1.9", 1}, {"1.9", "1.10", -1}, {"1.10", "1.10.0", 0}, {"1.13.0-dev", "1.13", 0},
		{"999", "2.2", 1}, {"v2.1.0", "2.1", 0}, {"2.1.0-beta1", "2.1.0", 0},
	}
	for _, c := range cases {
		got, err := CompareDCOSVersions(c.a, c.b)
		if err != nil || got != c.want {
			t.Errorf("CompareDCOSVersions(%q, %q) = %d %v, want %d", c.a, c.b, got, err, c.want)
		}
	}
	if _, err := CompareDCOSVersions("dev", "1.0"); err == nil {
		t.Error("a non-numeric DC/OS version compared")
	}
}

func FuzzConstraint(f *testing.F) {
	f.Add(">=2.8 <3", "2.9.0-2.4.0")
	f.Add("~0.x", "0.1")
	f.Add("^0.0.0", "v0.0.0-beta")
	f.Fuzz(func(t *testing.T, constraint, version string) {
		c, err := ParseConstraint(constraint)
		if err != nil {
			return
		}
		_ = c.Match(version)
		_ = IsConstraint(constraint)
	})
}

func FuzzValidJSON(f *testing.F) {
	for _, s := range []string{`{}`, `[1,2.5e3,"x\u00e9",null,true]`, `{"a":{"b":[{}]}}`, `"\ud83d"`, `-0.0e-0`, ` 1 `, `01`, `"\x"`, `[1,]`, "\"\xff\"", `{"a" 1}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validJSON([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid %v", s, got, want)
		}
	})
}

func FuzzAppendCompact(f *testing.F) {
	for _, s := range []string{`{ "a" : [ 1 , "b \" c\\\\" ] }`, `"\\\\\\""`, ` [ ] `, `{"a\\"":"\\\\"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !json.Valid([]byte(s)) {
			return
		}
		var want bytes.Buffer
		if err := json.Compact(&want, []byte(s)); err != nil {
			t.Fatal(err)
		}
		if got := appendCompact(nil, []byte(s)); string(got) != want.String() {
			t.Fatalf("appendCompact(%q) = %q, json.Compact %q", s, got, want.String())
		}
	})
}
