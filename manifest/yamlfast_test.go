package manifest

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/universe-operator/universe-operator/config/strict"
	"github.com/universe-operator/universe-operator/universe"
)

// checkFastYAML compares fastYAML with strict.ParseDocument on one
// document: whenever the fast path answers, strict must accept the document
// and build exactly the same tree. It reports whether the fast path
// answered.
func checkFastYAML(t *testing.T, doc string) bool {
	t.Helper()
	got, ok := fastYAML([]byte(doc))
	if !ok {
		return false
	}
	want, err := strict.ParseDocument([]byte(doc), "yaml")
	if err != nil {
		t.Fatalf("fastYAML accepted what strict refuses (%v):\n%s", err, doc)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("fastYAML and strict differ on:\n%s\nfast:   %s\nstrict: %s", doc, strict.Marshal(got), strict.Marshal(want))
	}
	return true
}

// fastSeeds are documents in and just outside the fast path's subset.
var fastSeeds = []string{
	good, realistic(1), realistic(1999),
	"a: 1\n", "a: -0\n", "a: +5\n", "a: 0x1F\n", "a: 0o17\n", "a: 017\n", "a: 08\n", "a: 1_000\n", "a: 1.5\n", "a: 1e3\n",
	"a: 1e400\n", "a: 99999999999999999999\n", "a: 18446744073709551615\n", "a: 1.2.3\n", "a: 2001-12-14\n", "a: 2001-12\n",
	"a: 0b101\n", "a: -0b1\n", "a: .5\n", "a: .inf\n", "a: -.inf\n", "a: -\n", "a: - x\n", "a: yes\n", "a: Off\n", "a: y\n",
	"a: NULL\n", "a: ~\n", "a: null\n", "a:\n", "a: \n", "a: 'x'\n", "a: 'it''s'\n", "a: \"x\"\n", "a: \"x\\ty\"\n", "a: \"\"\n",
	"a: \"a # b\"\n", "a: x # c\n", "a: x#c\n", "a: [x, 1, true, null, \"s\", 'q']\n", "a: [x,y]\n", "a: []\n", "a: {}\n",
	"a: [x, ]\n", "a: {b: 1, c: [2, {d: e}]}\n", "a: {b: 1,c: 2}\n", "a: {b:1}\n", "a: {b: 1, b: 2}\n", "a: [\n  1]\n",
	"a:\n  b: 1\n  c:\n    d: x\n", "a:\n- 1\n- two\nb: 3\n", "a:\n  - 1\n  - [x]\n", "a:\n- b: 1\n", "a:\n  - b\n  c: 1\n",
	"a: 1\na: 2\n", "a: 1\n  b: 2\n", " a: 1\n", "a: 1\n---\nb: 2\n", "---\na: 1\n", "a: 1\n...\n", "a: x y\n", "a: x: y\n",
	"a: &x 1\n", "a: *x\n", "a: !!str 1\n", "a: |\n  x\n", "a: >\n  x\n", "? a\n: 1\n", "a : 1\n", "1: a\n", "yes: a\n",
	"a.b-c_d: 1\n", "A: B\n", "a: /x/y\n", "a: _x\n", "a: x.y\n", "a: 5m\n", "a: 1h30m\n", "a: 10ms\n", "a: 2.9.0-2.4.0\n",
	"# c\na: 1 # c\n\n# d\n", "a: 1\r\nb: 2\r\n", "a:\t1\n", "a: é\n", "\ufeffa: 1\n", "a: 1", "", "\n", "# only\n", "- a\n",
	"a: [1, [2, [3]]]\n", "a: {b: {c: {d: {}}}}\n", "a: 'x' y\n", "a: \"x\"y\n", "a: [x] y\n", "a:\n\n  b: 1\n", "a:\n    b: 1\n  c: 2\n",
	"a:\n  - 1\n   - 2\n", "a:\n  -  1\n", "a: -1_000\n", "a: +0x10\n", "a: 1e-5\n", "a: 12e\n", "a: 0.\n", "a: 00\n", "a: 0_\n",
	strings.Repeat("k", 200) + ": 1\n", strings.Repeat("k", 1100) + ": 1\n", "a: {" + strings.Repeat("k", 1100) + ": 1}\n",
	"a: " + strings.Repeat("v", 5000) + "\n", "a: [" + strings.Repeat("x, ", 2000) + "y]\n",
}

func TestFastYAMLMatchesStrict(t *testing.T) {
	answered := 0
	for _, doc := range fastSeeds {
		if checkFastYAML(t, doc) {
			answered++
		}
	}
	for _, doc := range []string{good, realistic(1), realistic(1999)} {
		if _, ok := fastYAML([]byte(doc)); !ok {
			t.Errorf("a typical manifest is not on the fast path:\n%s", doc)
		}
	}
	t.Logf("%d of %d seed documents on the fast path", answered, len(fastSeeds))
}

// randomYAML builds a random document from the pieces of the subset and
// many pieces just outside it.
func randomYAML(r *rand.Rand, clean bool) string {
	scalars := []string{"x", "kafka", "a-b", "/p/q", "a.b", "_u", "1", "-2", "+3", "0", "-0", "007", "08", "0x1F", "1_0",
		"1.5", "2.", "1e3", "1e400", "99999999999999999999", "2001-12-14", "2001-1-2", "1.2.3", "5m", "yes", "No", "on", "OFF",
		"y", "n", "true", "False", "null", "Null", "~", ".5", ".inf", "-.inf", "0b11", "-", "'q'", "'it''s'", `"d"`, `""`,
		`"a\"b"`, `"t\tu"`, "x y", "a:b", "a#b", "&a", "*a", "!x", "|", ">", "@x", "`x", "%x", "[a, b]", "[]", "{k: v}", "{}",
		"[a, [b, {c: d}]]", "{k: [1, 2], l: {m: n}}", "[a,]", "{k:v}", "{k: v, k: w}", "[1,2]"}
	keys := []string{"a", "b", "c", "apiVersion", "spec", "x-y", "k.1", "A", "on", "1", "'q'", "a b", "a:"}
	if clean {
		// Mostly what the fast path reads: it must then agree on all of it.
		scalars = []string{"x", "kafka", "a-b", "/p/q", "a.b", "_u", "1", "-2", "+3", "0", "-0", "007", "08", "0x1F", "1_0",
			"1.5", "2.", "1e3", "1e400", "99999999999999999999", "1.2.3", "5m", "yes", "No", "on", "true", "null", "'q'", `"d"`,
			`""`, "[a, b]", "[]", "{k: v}", "{}", "[a, [b, {c: d}]]", "{k: [1, 2], l: {m: n}}", "[1,2]", "Zz9", "v1.2"}
		keys = []string{"a", "b", "c", "d", "e", "apiVersion", "spec", "x-y", "k.1", "A"}
	}
	var b strings.Builder
	var block func(indent, depth int)
	block = func(indent, depth int) {
		n := 1 + r.Intn(4)
		for i := 0; i < n; i++ {
			pad := strings.Repeat(" ", indent)
			if r.Intn(12) == 0 {
				pad += " "
			}
			if r.Intn(10) == 0 {
				b.WriteString(pad + "# comment\n")
			}
			if r.Intn(15) == 0 {
				b.WriteString("\n")
			}
			key := keys[r.Intn(len(keys))]
			switch k := r.Intn(10); {
			case k < 6 || depth > 3:
				sep := ": "
				if r.Intn(20) == 0 {
					sep = []string{":", " : ", ":  ", ":\t"}[r.Intn(4)]
				}
				line := pad + key + sep + scalars[r.Intn(len(scalars))]
				if r.Intn(8) == 0 {
					line += " # c"
				}
				if r.Intn(30) == 0 {
					line += " "
				}
				b.WriteString(line + "\n")
			case k < 8:
				b.WriteString(pad + key + ":\n")
				block(indent+1+r.Intn(3), depth+1)
			default:
				b.WriteString(pad + key + ":\n")
				seqIndent := indent + r.Intn(3)
				for j := 0; j <= r.Intn(3); j++ {
					b.WriteString(strings.Repeat(" ", seqIndent) + "- " + scalars[r.Intn(len(scalars))] + "\n")
				}
			}
		}
	}
	block(0, 0)
	if r.Intn(20) == 0 {
		return "---\n" + b.String()
	}
	return b.String()
}

// TestFastYAMLRandomDocuments compares fastYAML with strict on random
// documents.
func TestFastYAMLRandomDocuments(t *testing.T) {
	n := 30000
	if testing.Short() {
		n = 3000
	}
	r := rand.New(rand.NewSource(5))
	answered := 0
	for i := 0; i < n; i++ {
		if checkFastYAML(t, randomYAML(r, i%2 == 0)) {
			answered++
		}
	}
	t.Logf("%d of %d random documents on the fast path", answered, n)
	if answered < n/20 {
		t.Errorf("only %d of %d random documents on the fast path", answered, n)
	}
}

// TestParseFastAndStrictAgree parses manifests through Parse (fast path)
// and through strict alone: releases and problems must be the same.
func TestParseFastAndStrictAgree(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	docs := []string{good, realistic(0), realistic(77)}
	for i := 0; i < 500; i++ {
		docs = append(docs, fmt.Sprintf("apiVersion: universe-operator/v1\nkind: PackageRelease\nmetadata:\n  name: %s\nspec:\n  package: %s\n  version: %s\n  options: {a: %s}\n  dependsOn:\n  - %s\n",
			[]string{"rel", "Rel", "a-b", "x"}[r.Intn(4)], []string{"kafka", "K", "1x"}[r.Intn(3)],
			[]string{"'1.0'", "1.0", ">=1", "\">=1 <2\"", "latest", "x y"}[r.Intn(6)],
			[]string{"1", "x", "[1, 2]", "{b: c}", "true"}[r.Intn(5)], []string{"zk", "rel", "Bad"}[r.Intn(3)]))
	}
	fast := 0
	for _, doc := range docs {
		rel, ps := Parse("r.yaml", []byte(doc))
		if _, ok := fastYAML([]byte(doc)); ok {
			fast++
		}
		tree, err := strict.ParseDocument([]byte(doc), "yaml")
		if err != nil {
			if rel != nil || fmt.Sprint(ps) != fmt.Sprint(parseStrict(t, doc)) {
				t.Fatalf("problems %v, strict %v", ps, parseStrict(t, doc))
			}
			continue
		}
		var want Release
		wantPs := strict.DecodeTree(tree, &want, strict.Options{})
		if (rel == nil) != (len(ps) > 0) {
			t.Fatalf("release %v and problems %v", rel, ps)
		}
		if len(wantPs) == 0 && len(ps) == 0 {
			want.File = "r.yaml"
			want.Options = want.Spec.Options
			if !reflect.DeepEqual(*rel, want) {
				t.Fatalf("release %+v, strict %+v", *rel, want)
			}
		} else if fmt.Sprint(ps) != fmt.Sprint(parseStrict(t, doc)) {
			t.Fatalf("problems %v, strict %v", ps, parseStrict(t, doc))
		}
	}
	if fast < len(docs)/2 {
		t.Errorf("only %d of %d on the fast path", fast, len(docs))
	}
}

// parseStrict is Parse without the fast path.
func parseStrict(t *testing.T, doc string) []error {
	t.Helper()
	ps := &problems{file: "r.yaml"}
	tree, err := strict.ParseDocument([]byte(doc), "yaml")
	if err != nil {
		ps.add("", "%v", err)
		return ps.list
	}
	var r Release
	for _, p := range strict.DecodeTree(tree, &r, strict.Options{}) {
		ps.add(p.Path, "%s", p.Reason)
	}
	if len(ps.list) == 0 {
		r.File = "r.yaml"
		r.check(ps)
	}
	return ps.list
}

func FuzzFastYAML(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) { checkFastYAML(t, doc) })
}

// FuzzMatchers holds the hand-written name matchers to their patterns.
func FuzzMatchers(f *testing.F) {
	for _, s := range []string{"a", "a-b", "-a", "a-", "", "a.b", "a..b", ".a", "a.", "A", "1a", "a_b", "kafka-prod", "v1.2-X", "a.-b", "ab"} {
		f.Add(s)
	}
	name, seg, version := regexp.MustCompile(namePattern), regexp.MustCompile(appSegPattern), regexp.MustCompile(versionPattern)
	f.Fuzz(func(t *testing.T, s string) {
		if isLabel(s) != name.MatchString(s) {
			t.Fatalf("isLabel(%q) = %v", s, isLabel(s))
		}
		if isAppSegment(s) != seg.MatchString(s) {
			t.Fatalf("isAppSegment(%q) = %v", s, isAppSegment(s))
		}
		if isVersionText(s) != version.MatchString(s) {
			t.Fatalf("isVersionText(%q) = %v", s, isVersionText(s))
		}
		if isPackageName(s) != universe.NamePattern.MatchString(s) {
			t.Fatalf("isPackageName(%q) = %v", s, isPackageName(s))
		}
	})
}

// randomTree builds a random manifest tree: known keys with right and
// wrong values, and unknown keys.
func randomTree(r *rand.Rand) any {
	scalar := func() any {
		return []any{"x", "kafka", "5m", "10ms", "soon", "", json.Number("1"), true, false, nil, []any{}, []any{"a", "b"},
			[]any{"a", json.Number("2")}, &strict.Object{Keys: []string{}, Values: map[string]any{}}}[r.Intn(14)]
	}
	right := func(k string) any {
		if r.Intn(6) == 0 {
			return scalar()
		}
		switch k {
		case "suspend", "adopt", "janitor", "upgrade", "downgrade":
			return r.Intn(2) == 0
		case "progressDeadline":
			return []any{"5m", "10ms", "soon", "1h30m"}[r.Intn(4)]
		case "dependsOn":
			return []any{"a", "b"}
		}
		return "x"
	}
	unknown := map[string]bool{"status": true, "File": true, "other": true, "labels": true, "volumes": true, "x": true}
	obj := func(keys []string, val func(string) any) *strict.Object {
		o := &strict.Object{Keys: []string{}, Values: map[string]any{}}
		for _, k := range keys {
			if unknown[k] && r.Intn(8) != 0 {
				continue
			}
			if r.Intn(2) == 0 {
				o.Keys = append(o.Keys, k)
				o.Values[k] = val(k)
			}
		}
		sort.Strings(o.Keys)
		return o
	}
	boolObj := func(keys ...string) func(string) any {
		return func(string) any {
			if r.Intn(4) == 0 {
				return scalar()
			}
			return obj(keys, right)
		}
	}
	spec := func(string) any {
		if r.Intn(8) == 0 {
			return scalar()
		}
		return obj([]string{"package", "version", "universe", "appId", "options", "optionsFile", "suspend", "progressDeadline",
			"dependsOn", "cleanup", "adopt", "upgradePolicy", "other"}, func(k string) any {
			switch k {
			case "cleanup":
				return boolObj("janitor", "volumes")(k)
			case "upgradePolicy":
				return boolObj("upgrade", "downgrade", "x")(k)
			case "options":
				return scalar()
			}
			return right(k)
		})
	}
	return obj([]string{"apiVersion", "kind", "metadata", "spec", "status", "File"}, func(k string) any {
		switch k {
		case "metadata":
			if r.Intn(4) == 0 {
				return scalar()
			}
			return obj([]string{"name", "labels"}, right)
		case "spec":
			return spec(k)
		}
		return right(k)
	})
}

// TestDecodeFastMatchesDecodeTree compares decodeFast with
// strict.DecodeTree on random trees.
func TestDecodeFastMatchesDecodeTree(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	fast := 0
	for i := 0; i < 20000; i++ {
		tree := randomTree(r)
		var got, want Release
		ok := decodeFast(tree, &got)
		problems := strict.DecodeTree(tree, &want, strict.Options{})
		if ok != (len(problems) == 0) {
			t.Fatalf("decodeFast %v, DecodeTree problems %v on %s", ok, problems, strict.Marshal(tree))
		}
		if ok {
			fast++
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("decodeFast %+v, DecodeTree %+v on %s", got, want, strict.Marshal(tree))
			}
		}
	}
	t.Logf("%d of 20000 random trees decoded on the fast path", fast)
	if fast < 1000 {
		t.Errorf("only %d trees on the fast path", fast)
	}
}
