package reconcile

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// readFixture reads testdata/<rel>.
func readFixture(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// op is one edit of a JSON document, addressed by JSON pointer. Kinds:
// "set" (replace or create; "-" as last segment appends to an array) and
// "del" (remove a member or array element).
type op struct {
	kind, path, val string
}

func set(path, val string) op { return op{"set", path, val} }
func del(path string) op      { return op{"del", path, ""} }

// mutate applies ops to a JSON document (numbers kept as written).
func mutate(t testing.TB, doc []byte, ops ...op) []byte {
	t.Helper()
	var root any
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&root); err != nil {
		t.Fatal(err)
	}
	for _, o := range ops {
		var v any
		if o.kind == "set" {
			d := json.NewDecoder(strings.NewReader(o.val))
			d.UseNumber()
			if err := d.Decode(&v); err != nil {
				t.Fatalf("op %s %s: %v", o.kind, o.path, err)
			}
		}
		segs := strings.Split(strings.TrimPrefix(o.path, "/"), "/")
		root = apply(t, root, segs, o.kind, v)
	}
	out, err := json.Marshal(root)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func apply(t testing.TB, node any, segs []string, kind string, v any) any {
	t.Helper()
	seg := strings.ReplaceAll(strings.ReplaceAll(segs[0], "~1", "/"), "~0", "~")
	last := len(segs) == 1
	switch n := node.(type) {
	case map[string]any:
		if last {
			if kind == "del" {
				if _, ok := n[seg]; !ok {
					t.Fatalf("del: no member %q", seg)
				}
				delete(n, seg)
			} else {
				n[seg] = v
			}
			return n
		}
		child, ok := n[seg]
		if !ok {
			child = map[string]any{}
		}
		n[seg] = apply(t, child, segs[1:], kind, v)
		return n
	case []any:
		if seg == "-" && last && kind == "set" {
			return append(n, v)
		}
		i, err := strconv.Atoi(seg)
		if err != nil || i < 0 || i >= len(n) {
			t.Fatalf("bad index %q", seg)
		}
		if last {
			if kind == "del" {
				return append(n[:i:i], n[i+1:]...)
			}
			n[i] = v
			return n
		}
		n[i] = apply(t, n[i], segs[1:], kind, v)
		return n
	default:
		t.Fatalf("cannot descend into %T at %q", node, seg)
	}
	return nil
}
