package strict

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

type inner struct {
	C int `json:"c"`
}

type doc struct {
	A string            `json:"a"`
	B *inner            `json:"b,omitempty"`
	D Duration          `json:"d"`
	L []string          `json:"l"`
	M map[string]inner  `json:"m"`
	R json.RawMessage   `json:"r"`
	F float64           `json:"f"`
	U uint8             `json:"u"`
	P *bool             `json:"p"`
	S map[string]string `json:"s"`
	embedded
}

type embedded struct {
	E string `json:"e"`
}

func TestDecode(t *testing.T) {
	var d doc
	ps := Decode([]byte("a: x\nb: {c: 2}\nd: 90s\nl: [p, q]\nm: {k: {c: 1}}\nr: {any: [1, {x: y}]}\nf: 0.5\nu: 200\np: false\ne: emb\n"), &d, Options{})
	if len(ps) != 0 {
		t.Fatalf("problems: %v", ps)
	}
	if d.A != "x" || d.B.C != 2 || d.D.Duration != 90*time.Second || d.L[1] != "q" || d.M["k"].C != 1 || d.F != 0.5 ||
		d.U != 200 || d.P == nil || *d.P || d.E != "emb" || !strings.Contains(string(d.R), `"any"`) {
		t.Fatalf("decoded %+v", d)
	}
}

func TestProblems(t *testing.T) {
	cases := map[string][]string{
		"a: 1":                  {"a: must be a string, not a number"},
		"b: [1]":                {"b: must be an object, not an array"},
		"b: {c: 1.5}":           {"b.c: must be an integer in range, not 1.5"},
		"u: 300":                {"u: must be a non-negative integer in range, not 300"},
		"u: -1":                 {"u: must be a non-negative integer in range, not -1"},
		"l: [a, {}]":            {"l[1]: must be a string, not an object"},
		"m: {'x.y': {c: x}}":    {`m["x.y"].c: must be an integer, not a string`},
		"s: {k: 1}":             {"s.k: must be a string, not a number"},
		"d: forever":            {`d: invalid duration "forever"`},
		"d: ~":                  {"d: must not be null"},
		"a: ~":                  {"a: must be a string, not null"},
		"p: 0":                  {"p: must be true or false, not a number"},
		"f: x":                  {"f: must be a number, not a string"},
		"A: 1\nzz: 2":           {`A: unknown key (did you mean "a"?)`, "zz: unknown key"},
		"a: x\na: y":            {`key "a" already set`},
		"{\"a\":\"x\",\"a\":1}": {"a: duplicate key"},
		"a: x\n---\na: y":       {"more than one YAML document"},
	}
	for in, wants := range cases {
		var d doc
		ps := Decode([]byte(in), &d, Options{UnknownKey: func(path, key string) string {
			if key == "zz" {
				return "unknown key zz"
			}
			return ""
		}})
		var got []string
		for _, p := range ps {
			got = append(got, p.Error())
		}
		text := strings.Join(got, "\n")
		if len(ps) != len(wants) {
			t.Errorf("%q: %d problems, want %d: %s", in, len(ps), len(wants), text)
		}
		for _, w := range wants {
			if !strings.Contains(text, w) {
				t.Errorf("%q: %q lacks %q", in, text, w)
			}
		}
	}
}

func TestPaths(t *testing.T) {
	if Join("", "a") != "a" || Join("a", "b") != "a.b" || Join("a", "b c") != `a["b c"]` || Index("a", 2) != "a[2]" {
		t.Fatal("path building")
	}
}

func TestDeepNestingRejected(t *testing.T) {
	deep := strings.Repeat("[", 300) + strings.Repeat("]", 300)
	var d doc
	if ps := Decode([]byte(`{"r": `+deep+`}`), &d, Options{Format: "json"}); len(ps) == 0 {
		t.Fatal("300 levels of nesting accepted")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte("a: x\nb: {c: 2}\nd: 90s\nl: [p]\n"))
	f.Add([]byte(`{"a": "x", "m": {"k": {"c": 1}}, "r": [1, 2.5e10, null]}`))
	f.Add([]byte("a: &x [*x, *x]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var d doc
		for _, p := range Decode(data, &d, Options{}) {
			if p.Reason == "" {
				t.Fatalf("problem without a reason at %q", p.Path)
			}
		}
	})
}
