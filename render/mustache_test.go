package render

import (
	"errors"
	"strings"
	"testing"
)

// renderString renders a template against a JSON scope (no asJson).
func renderString(t *testing.T, tmpl, scope string) (string, error) {
	t.Helper()
	v, err := parseJSON([]byte(scope))
	if err != nil {
		t.Fatalf("scope: %v", err)
	}
	tp, err := parseTemplate(tmpl)
	if err != nil {
		return "", err
	}
	out, err := tp.render(prepare(v, false))
	return string(out), err
}

func TestMustacheRendering(t *testing.T) {
	cases := []struct {
		name, tmpl, scope, want string
	}{
		{"no escaping", `{{s}}|{{{s}}}|{{&s}}`, `{"s": "<&>\"'"}`, `<&>\"'|<&>\"'|<&>\"'`},
		{"string escaping", `{{s}}`, `{"s": "a\"b\\c\nd\t\u0001\u007f"}`, `a\"b\\c\nd\t\u0001\u007f`},
		{"array strings keep quotes", `{{a}}`, `{"a": ["x", "y\"z", 1, 1.5, true, null, []]}`, `["x", "y\"z", 1, 1.5, true, null, []]`},
		{"nested object strings lose quotes", `{{o}}`, `{"o": {"k": "v", "a": ["w"]}}`, `{k=v, a=["w"]}`},
		{"objects in arrays lose quotes", `{{a}}`, `{"a": [{"k": "v"}]}`, `[{k=v}]`},
		{"implicit iterator", `{{#a}}<{{.}}>{{/a}}`, `{"a": ["x", 2, false]}`, `<"x"><2><false>`},
		{"false element iterates", `{{#a}}*{{/a}}`, `{"a": [false, null, 0]}`, `***`},
		{"top scope", `{{#a}}{{.}}{{/a}}`, `{"a": [null]}`, `{a=[null]}`},
		{"dot on root", `{{.}}`, `{"k": 1}`, `{k=1}`},
		{"section pushes map", `{{#o}}{{k}}{{/o}}{{k}}`, `{"o": {"k": "in"}, "k": "out"}`, `inout`},
		{"section scalar scope", `{{#n}}{{.}}/{{k}}{{/n}}`, `{"n": 5, "k": "outer"}`, `5/outer`},
		{"inverted renders once with the same scope", `{{^e}}{{k}}{{/e}}`, `{"e": [], "k": "v"}`, `v`},
		{"null hides outer", `{{#o}}[{{k}}]{{/o}}`, `{"o": {"k": null}, "k": "outer"}`, `[]`},
		{"absent falls back", `{{#o}}[{{k}}]{{/o}}`, `{"o": {}, "k": "outer"}`, `[outer]`},
		{"literal dotted key first", `{{a.b}}`, `{"a.b": 1, "a": {"b": 2}}`, `1`},
		{"dotted path", `{{a.b}}`, `{"a": {"b": 2}}`, `2`},
		{"dotted key in inner scope", `{{#o}}{{a.b}}{{/o}}`, `{"o": {"a.b": "inner"}, "a": {"b": "outer"}}`, `inner`},
		{"intermediate missing falls through", `{{#o}}{{a.b.c}}{{/o}}`, `{"o": {"a": {}}, "a": {"b": {"c": "outer"}}}`, `outer`},
		{"last missing stops", `{{#o}}[{{a.b.c}}]{{/o}}`, `{"o": {"a": {"b": {}}}, "a": {"b": {"c": "outer"}}}`, `[]`},
		{"intermediate null stops", `{{#o}}[{{a.b}}]{{/o}}`, `{"o": {"a": null}, "a": {"b": "outer"}}`, `[]`},
		{"intermediate scalar falls through", `{{#o}}[{{a.b.c}}]{{/o}}`, `{"o": {"a": "str"}, "a": {"b": {"c": "outer"}}}`, `[outer]`},
		{"last segment on a scalar stops", `{{#o}}[{{a.b}}]{{/o}}`, `{"o": {"a": "str"}, "a": {"b": "outer"}}`, `[]`},
		{"empty name segments", `[{{a.}}][{{.a}}]`, `{"a": {"": "e"}, "": {"a": "f"}}`, `[e][f]`},
		{"number formats", `{{a}} {{b}} {{c}} {{d}}`, `{"a": 1.0, "b": 0.25, "c": 1e21, "d": -7}`, `1 0.25 1.0E21 -7`},
		{"whitespace in tags", `{{ a }}{{# b }}x{{/ b }}`, `{"a": 1, "b": true}`, `1x`},
		{"comments", `a{{! ignored }}b`, `{}`, `ab`},
		{"standalone lines", "a\n  {{#t}}  \nb\n  {{/t}}\nc", `{"t": true}`, "a\nb\nc"},
		{"standalone with CRLF", "a\r\n{{#t}}\r\nb\r\n{{/t}}\r\nc", `{"t": true}`, "a\r\nb\r\nc"},
		{"not standalone", "a {{#t}}b{{/t}} c\n", `{"t": true}`, "a b c\n"},
		{"variables are never standalone", "  {{x}}  \n", `{"x": 1}`, "  1  \n"},
		{"delimiters", `{{=<% %>=}}<%x%>{{x}}<%={{ }}=%>{{x}}`, `{"x": 1}`, `1{{x}}1`},
		{"triple with custom delimiters", `{{=| |=}}|{x}|`, `{"x": "<"}`, `<`},
		{"block default", `{{$b}}default{{/b}}`, `{}`, `default`},
		{"empty tag is a lookup of an empty key", `[{{ }}]`, `{"": "e"}`, `[e]`},
		{"unicode passes through", `{{s}}`, `{"s": "é ✓ 😀 \u2028"}`, "é ✓ 😀 \u2028"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := renderString(t, c.tmpl, c.scope)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("got  %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestMustacheAsJSON(t *testing.T) {
	cases := []struct{ tmpl, opts, want string }{
		{`{"v": {{#asJson}}cfg{{/asJson}}}`, `{"cfg": "{\"a\": \"<&>\"}"}`, `{"v": {"a": "<&>"}}`},
		{`{"v": {{#asJson}}n{{/asJson}}}`, `{"n": 1}`, `{"v": null}`},
		{`{"v": {{#asJson}} cfg {{/asJson}}}`, `{"cfg": "1"}`, `{"v": null}`},
		{`{"v": {{#asJson}}{{key}}{{/asJson}}}`, `{"key": "cfg", "cfg": "[1]"}`, `{"v": [1]}`},
		{`{"v": {{asJson}}}`, `{}`, `{"v": null}`},
		{`{"v": "{{^asJson}}never{{/asJson}}"}`, `{}`, `{"v": ""}`},
		{`{"v": {{#asJson}}asJson{{/asJson}}}`, `{"asJson": "\"user value is shadowed by the function but still found by it\""}`, `{"v": "user value is shadowed by the function but still found by it"}`},
	}
	for _, c := range cases {
		pkg := testPackage(t, "asjson", c.tmpl, `{"type": "object"}`)
		res, err := Render(pkg, []byte(c.opts), Params{})
		if err != nil {
			t.Errorf("%s: %v", c.tmpl, err)
			continue
		}
		v, _ := parseJSON(res.App)
		got, _ := v.obj.get("v")
		want, _ := parseJSON([]byte(c.want))
		w, _ := want.obj.get("v")
		if string(appendCompact(nil, got, false)) != string(appendCompact(nil, w, false)) {
			t.Errorf("%s with %s: got %s, want %s", c.tmpl, c.opts, appendCompact(nil, got, false), appendCompact(nil, w, false))
		}
	}
}

func TestMustacheParseErrors(t *testing.T) {
	cases := []struct{ tmpl, want string }{
		{"{{#a}}\n{{/b}}", "line 2: closing tag {{/b}} does not match the open section {{#a}} of line 1"},
		{"x\n{{/a}}", "line 2: closing tag {{/a}} has no open section"},
		{"{{#a}}\n\n", "line 1: section {{#a}} is not closed"},
		{"{{^a}}", "section {{^a}} is not closed"},
		{"a\nb {{x", "line 2: tag {{ is not closed with }}"},
		{"{{{x}}", "tag {{{ is not closed with }}}"},
		{"{{> p}}", `partial "p" cannot be loaded`},
		{"{{< p}}{{/p}}", `partial "p" cannot be loaded`},
		{"{{=a=}}", "bad delimiter change"},
		{"{{= =}}", "bad delimiter change"},
		{"{{%PRAGMA}}", "pragma"},
		{strings.Repeat("{{#a}}", maxSectionDepth+2), "nested deeper"},
	}
	for _, c := range cases {
		_, err := parseTemplate(c.tmpl)
		var te *templateError
		if !errors.As(err, &te) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.tmpl, err, c.want)
		}
	}
}

func TestMustacheLimits(t *testing.T) {
	list := `{"a": [` + strings.Repeat(`1,`, 99) + `1]}`
	tmpl := strings.Repeat("{{#a}}", 6) + "x" + strings.Repeat("{{/a}}", 6) // 10^12 iterations
	_, err := renderString(t, tmpl, list)
	if !errors.Is(err, errTooManySteps) {
		t.Errorf("nested iteration: %v, want the step limit", err)
	}
	big := `{"s": "` + strings.Repeat("x", 1<<20) + `", "a": [` + strings.Repeat(`1,`, 63) + `1]}`
	_, err = renderString(t, "{{#a}}{{#a}}{{s}}{{/a}}{{/a}}", big)
	if !errors.Is(err, errOutputTooLarge) {
		t.Errorf("huge output: %v, want the size limit", err)
	}
}
