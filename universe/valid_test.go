package universe

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// membersByDecoder is objectMembers's encoding/json path.
func membersByDecoder(data []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errNotFast
	}
	var out []member
	for dec.More() {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		end := dec.InputOffset()
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		out = append(out, member{key: key, rawKey: bytes.TrimLeft(data[start:end], " \t\r\n,"), value: raw})
	}
	_, err = dec.Token()
	return out, err
}

// checkSplit compares splitObject with encoding/json on one document.
func checkSplit(t *testing.T, s string) {
	data := []byte(s)
	got, ok := splitObject(data)
	var m map[string]json.RawMessage
	objErr := json.Unmarshal(data, &m)
	if !ok {
		// Only valid objects may be split; deep ones may be refused.
		if objErr == nil && m != nil && json.Valid(data) && !strings.Contains(s, strings.Repeat("[", safeDepth)) && !strings.Contains(s, strings.Repeat("{", safeDepth)) {
			t.Fatalf("splitObject(%q) refused a valid object", s)
		}
		return
	}
	if objErr != nil || m == nil {
		t.Fatalf("splitObject(%q) accepted what json.Unmarshal refuses: %v", s, objErr)
	}
	want, err := membersByDecoder(data)
	if err != nil {
		t.Fatalf("decoder: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("splitObject(%q): %d members, decoder %d", s, len(got), len(want))
	}
	for i := range got {
		if got[i].key != want[i].key || !bytes.Equal(got[i].rawKey, want[i].rawKey) || !bytes.Equal(got[i].value, want[i].value) {
			t.Fatalf("splitObject(%q) member %d: %q %q %q, decoder %q %q %q", s, i, got[i].key, got[i].rawKey, got[i].value, want[i].key, want[i].rawKey, want[i].value)
		}
	}
	dm, err := decodeObject(data)
	if err != nil || len(dm) != len(m) {
		t.Fatalf("decodeObject(%q): %v %d members, json.Unmarshal %d", s, err, len(dm), len(m))
	}
	for k, v := range m {
		if !bytes.Equal(dm[k], v) {
			t.Fatalf("decodeObject(%q)[%q] = %q, json.Unmarshal %q", s, k, dm[k], v)
		}
	}
}

var splitSeeds = []string{`{}`, ` { } `, `{"a":1}`, `{"a" : [1, {"b": "c"}] , "a": null}`, "{\"\xff\":\"\\u00e9\"}",
	`{"k\"ey": "v\\", "e": ""}`, `{"a":1}x`, `[1]`, `null`, `{"a":}`, `{"a":1,}`, "{\"a\":\"\t\"}", `{"x":"aaaaaaaaaaaaaaaaaaaaa\"bbbbbbbbbbbbbb"}`,
	`{"long":"0123456789abcdef0123456789abcdef\u0001"}`, "{\"c\":\"0123456789\x1f\"}"}

func TestSplitObject(t *testing.T) {
	for _, s := range splitSeeds {
		checkSplit(t, s)
	}
	deep := `{"a":` + strings.Repeat("[", safeDepth+1) + strings.Repeat("]", safeDepth+1) + `}`
	if _, ok := splitObject([]byte(deep)); ok {
		t.Error("splitObject accepted nesting deeper than safeDepth")
	}
	if _, err := decodeObject([]byte(deep)); err != nil {
		t.Errorf("decodeObject of a deep but valid object: %v", err)
	}
}

func FuzzSplitObject(f *testing.F) {
	for _, s := range splitSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkSplit(t, s) })
}

func FuzzUnquote(f *testing.F) {
	for _, s := range []string{`""`, `"abc"`, `"a\"b"`, "\"\xff\"", `"\u00e9"`, `"a`, "\"\t\"", `"\ud800"`, `"\ud83d\ude00 x"`,
		`"\ud83d\u0041"`, `"\ud83dx"`, `"a\u00"`, "\"\xed\xa0\x80 \\n\"", `"\'"`, `"0123456789abcdef\/\b\f\n\r\t\\"`, "\"\xe2\x82\"", `"é\"x"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want string
		wantErr := json.Unmarshal([]byte(s), &want)
		got, err := unquote([]byte(s))
		if (err != nil) != (wantErr != nil) || got != want {
			t.Fatalf("unquote(%q) = %q, %v; json.Unmarshal %q, %v", s, got, err, want, wantErr)
		}
	})
}

func FuzzSplitArray(f *testing.F) {
	for _, s := range []string{`[]`, `[ ]`, `[1, "a", [2], {"b": 3}]`, `[1,]`, `["\"", "x"]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := splitArray([]byte(s))
		if !ok {
			return
		}
		var want []json.RawMessage
		if err := json.Unmarshal([]byte(s), &want); err != nil {
			t.Fatalf("splitArray(%q) accepted what json.Unmarshal refuses: %v", s, err)
		}
		if len(got) != len(want) {
			t.Fatalf("splitArray(%q): %d items, json.Unmarshal %d", s, len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("splitArray(%q)[%d] = %q, json.Unmarshal %q", s, i, got[i], want[i])
			}
		}
	})
}

func FuzzUnmarshalInt(f *testing.F) {
	for _, s := range []string{`0`, `-0`, `12`, `-7`, `01`, `1.0`, `1e2`, `"3"`, `99999999999999999999`, `9223372036854775807`, ` 5`, `-`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got, want int
		err := unmarshalInt([]byte(s), &got)
		wantErr := json.Unmarshal([]byte(s), &want)
		if (err != nil) != (wantErr != nil) || (err == nil && got != want) {
			t.Fatalf("unmarshalInt(%q) = %d, %v; json.Unmarshal %d, %v", s, got, err, want, wantErr)
		}
	})
}

func FuzzUnmarshalObject(f *testing.F) {
	for _, s := range splitSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got, want map[string]json.RawMessage
		err := unmarshalObject([]byte(s), &got)
		wantErr := json.Unmarshal([]byte(s), &want)
		if (err != nil) != (wantErr != nil) || (got == nil) != (want == nil) || len(got) != len(want) {
			t.Fatalf("unmarshalObject(%q) = %v, %v; json.Unmarshal %v, %v", s, got, err, want, wantErr)
		}
		for k, v := range want {
			if !bytes.Equal(got[k], v) {
				t.Fatalf("unmarshalObject(%q)[%q] = %q, json.Unmarshal %q", s, k, got[k], v)
			}
		}
	})
}

// FuzzServedItems compares servedItems with its encoding/json path.
func FuzzServedItems(f *testing.F) {
	for _, s := range []string{`{"packages": []}`, `{"packages": [{"a": 1}, 2, "x"], "other": {}}`, `{"packages": 1}`,
		`{"packages": [1], "packages": [2, 3]}`, `{"packages": [1], "packages": "x"}`, `{}`, `[]`, `{"packages": [1,]}`, ` {"packages" : [ {} ] } `} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := servedItems([]byte(s))
		want, wantErr := servedItemsSlow([]byte(s))
		if (err != nil) != (wantErr != nil) || (err != nil && err.Error() != wantErr.Error()) {
			t.Fatalf("servedItems(%q) error %v, encoding/json %v", s, err, wantErr)
		}
		if len(got) != len(want) {
			t.Fatalf("servedItems(%q): %d items, encoding/json %d", s, len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("servedItems(%q)[%d] = %q, encoding/json %q", s, i, got[i], want[i])
			}
		}
	})
}
