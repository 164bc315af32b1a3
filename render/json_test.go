package render

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseJSONKeepsOrderAndNumbers(t *testing.T) {
	in := `{"z": 1.50, "a": [1e3, -0, 0.1], "m": {"y": null, "x": true}, "z": "dup"}`
	v, err := parseJSON([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	got := string(appendCompact(nil, v, false))
	want := `{"z":"dup","a":[1e3,-0,0.1],"m":{"y":null,"x":true}}`
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if got := string(appendCompact(nil, v, true)); got != `{"z":"dup","a":[1e3,-0,0.1],"m":{"x":true}}` {
		t.Errorf("dropping nulls: %s", got)
	}
}

func TestParseJSONStrings(t *testing.T) {
	cases := map[string]string{
		`"a\"b\\c\/d\b\f\n\r\t"`:                  "a\"b\\c/d\b\f\n\r\t",
		`"\u00e9\ud83d\ude00"`:                    "é😀",
		`"\ud800x"`:                               "\uFFFDx", // a lone surrogate
		"\"\xff\xfe\"":                            "\uFFFD\uFFFD",
		`"<&>\u2028"`:                             "<&>\u2028",
		"\"\xe2\x9c\x93 ok\"":                     "✓ ok",
		`"\u0041\u0062"`:                          "Ab",
		`"long ` + strings.Repeat("x", 100) + `"`: "long " + strings.Repeat("x", 100),
	}
	for in, want := range cases {
		v, err := parseJSON([]byte(in))
		if err != nil || v.k != kString || v.s != want {
			t.Errorf("%q: got %q (%v), want %q", in, v.s, err, want)
		}
	}
}

func TestParseJSONErrors(t *testing.T) {
	cases := []struct {
		in     string
		offset int
		msg    string
	}{
		{``, 0, "unexpected end of input"},
		{`{"a" 1}`, 5, "after object key"},
		{`{"a": 1,}`, 8, "beginning of an object key"},
		{`[1 2]`, 3, "after array element"},
		{`{"a": 01}`, 7, "after object key:value pair"},
		{`"abc`, 4, "end of input in string"},
		{"\"a\nb\"", 2, "control character"},
		{`{"a": tru}`, 9, "in literal true"},
		{`1.`, 2, "after decimal point"},
		{`1e`, 2, "in exponent"},
		{`-`, 1, "in number"},
		{`{} x`, 3, "after top-level value"},
		{`"\x"`, 2, "invalid escape"},
		{`"\u12"`, 3, `invalid \u escape`},
		{strings.Repeat("[", maxDepth+1), maxDepth, "nesting deeper"},
	}
	for _, c := range cases {
		_, err := parseJSON([]byte(c.in))
		var se *syntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: %v, want a syntax error", c.in, err)
			continue
		}
		if se.offset != c.offset || !strings.Contains(se.msg, c.msg) {
			t.Errorf("%q: offset %d %q, want offset %d %q", c.in, se.offset, se.msg, c.offset, c.msg)
		}
	}
}

func TestAppendStringLikeCirce(t *testing.T) {
	in := "\"\\/\b\f\n\r\t\x00\x1f\x7f\u0080\u009f\u00a0<&>é\u2028😀"
	want := `"\"\\/\b\f\n\r\t\u0000\u001f\u007f\u0080\u009f` + "\u00a0<&>é\u2028😀\""
	if got := string(appendString(nil, in)); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// Go's encoder would write \u003c for <: make sure we never do.
	if strings.Contains(string(appendString(nil, "<>&")), `\u`) {
		t.Error("HTML-escaped")
	}
}

func TestDeepMerge(t *testing.T) {
	cases := []struct{ a, b, want string }{
		{`{}`, `{}`, `{}`},
		{`{"a":1}`, `{}`, `{"a":1}`},
		{`{"a":{"x":1,"y":2},"b":3}`, `{"a":{"y":20,"z":30},"c":4}`, `{"a":{"x":1,"y":20,"z":30},"b":3,"c":4}`},
		{`{"a":[1,2]}`, `{"a":[3]}`, `{"a":[3]}`},
		{`{"a":{"x":1}}`, `{"a":null}`, `{"a":null}`},
		{`{"a":null}`, `{"a":{"x":1}}`, `{"a":{"x":1}}`},
		{`{"a":"s"}`, `{"a":{"x":1}}`, `{"a":{"x":1}}`},
		{`{"a":{"x":1}}`, `{"a":"s"}`, `{"a":"s"}`},
		{`{"z":1,"a":2}`, `{"a":3,"b":4}`, `{"z":1,"a":3,"b":4}`},
	}
	for _, c := range cases {
		a, _ := parseJSON([]byte(c.a))
		b, _ := parseJSON([]byte(c.b))
		if got := string(appendCompact(nil, deepMerge(a, b), false)); got != c.want {
			t.Errorf("merge(%s, %s) = %s, want %s", c.a, c.b, got, c.want)
		}
		// Inputs are untouched.
		if got := string(appendCompact(nil, a, false)); got != strings.ReplaceAll(c.a, " ", "") {
			t.Errorf("merge modified its target: %s", got)
		}
	}
}

func TestMergeAPI(t *testing.T) {
	got, err := Merge(json.RawMessage(`{"a": {"x": 1}, "n": 1.50}`), json.RawMessage(`{"a": {"y": "<&>"}}`))
	if err != nil || string(got) != `{"a":{"x":1,"y":"<&>"},"n":1.50}` {
		t.Errorf("Merge: %s %v", got, err)
	}
	if got, err := Merge(nil, nil); err != nil || string(got) != `{}` {
		t.Errorf("Merge(nil, nil): %s %v", got, err)
	}
	if _, err := Merge(json.RawMessage(`[1]`), nil); err == nil || !strings.Contains(err.Error(), "must be a JSON object") {
		t.Errorf("Merge of an array: %v", err)
	}
	if _, err := Merge(json.RawMessage(`{"a":`), nil); err == nil || !strings.Contains(err.Error(), "not JSON") {
		t.Errorf("Merge of broken JSON: %v", err)
	}
}

func TestIndent(t *testing.T) {
	got, err := Indent([]byte(`{"b":[],"a":{},"c":[1,{"d":"<&>"}],"n":1.0e1}`))
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"b\": [],\n  \"a\": {},\n  \"c\": [\n    1,\n    {\n      \"d\": \"<&>\"\n    }\n  ],\n  \"n\": 1.0e1\n}\n"
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if _, err := Indent([]byte(`{`)); err == nil {
		t.Error("Indent accepted broken JSON")
	}
}

// FuzzParseJSONValues: the values parsed (strings decoded, numbers kept as
// text, the last of duplicate keys) are those of encoding/json.
func FuzzParseJSONValues(f *testing.F) {
	for _, s := range []string{`{}`, `[1,2.5e3,"x\u00e9",null,true]`, `{"a":{"b":[{}]}}`, `"\ud83d\ude00 \ud83d"`, `-0.0e-0`,
		`{"a":1,"a":2,"b":[1,{"c":"d"}]}`, "\"\xff\xfe ok\"", `"0123456789abcdef\"\\\/\b\f\n\r\t"`, `["        indented"]`,
		"{\n        \"k\": \"v\"\n}", `"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaé"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseJSON([]byte(s))
		if err != nil {
			return
		}
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		var want any
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("encoding/json refuses %q: %v", s, err)
		}
		if got := toAny(v); !reflect.DeepEqual(got, want) {
			t.Fatalf("parseJSON(%q) = %#v, encoding/json %#v", s, got, want)
		}
	})
}

// appendStringBodyRef is appendStringBody one character at a time.
func appendStringBodyRef(dst []byte, s string) []byte {
	for _, r := range s {
		switch {
		case r == '"':
			dst = append(dst, '\\', '"')
		case r == '\\':
			dst = append(dst, '\\', '\\')
		case r == '\b':
			dst = append(dst, '\\', 'b')
		case r == '\f':
			dst = append(dst, '\\', 'f')
		case r == '\n':
			dst = append(dst, '\\', 'n')
		case r == '\r':
			dst = append(dst, '\\', 'r')
		case r == '\t':
			dst = append(dst, '\\', 't')
		case r < 0x20 || (r >= 0x7f && r <= 0x9f):
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&0xf])
		default:
			dst = append(dst, string(r)...)
		}
	}
	return dst
}

// FuzzAppendStringBody holds the word-at-a-time printer to the reference.
func FuzzAppendStringBody(f *testing.F) {
	for _, s := range []string{"", "plain ascii text!", "quote\" back\\ tab\t", "é✓ \u0085 \x7f \x01 end", "0123456789abcdef\x7f", "\xff\xfeinvalid"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return // strings from the parser are valid UTF-8
		}
		if got, want := appendStringBody(nil, s), appendStringBodyRef(nil, s); string(got) != string(want) {
			t.Fatalf("appendStringBody(%q) = %q, want %q", s, got, want)
		}
	})
}
