package render

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/universe-operator/universe-operator/universe"
)

// FuzzRender: any template with any options (and any config.json) renders
// or fails with a *Error; it never panics, and a success is a JSON object.
func FuzzRender(f *testing.F) {
	cases, _ := filepath.Glob("testdata/golden/*")
	for _, dir := range cases {
		tmpl, _ := os.ReadFile(filepath.Join(dir, "marathon.json.mustache"))
		opts, _ := os.ReadFile(filepath.Join(dir, "options.json"))
		cfg, _ := os.ReadFile(filepath.Join(dir, "config.json"))
		f.Add(string(tmpl), string(opts), string(cfg))
	}
	f.Add(`{"a": {{#x}}{{.}}{{/x}}}`, `{"x": [1, "2", null]}`, ``)
	f.Add(`{{=| |=}}|#a||/a|`, `{"a": {}}`, `{"type":"object"}`)
	f.Fuzz(func(t *testing.T, tmpl, opts, cfg string) {
		pkg := &universe.Package{
			Name: "fuzz", Version: "1.0", PackagingVersion: "4.0",
			Definition: json.RawMessage(`{"packagingVersion":"4.0","name":"fuzz","version":"1.0"}`),
			Template:   []byte(tmpl),
			Source:     "https://universe.example/repo",
		}
		if cfg != "" {
			pkg.Config = json.RawMessage(cfg)
		}
		res, err := Render(pkg, json.RawMessage(opts), Params{AppID: "fuzz"})
		if err != nil {
			var e *Error
			if !asError(err, &e) {
				t.Fatalf("error is not a *render.Error: %v", err)
			}
			_ = err.Error()
			return
		}
		var app map[string]any
		if err := json.Unmarshal(res.App, &app); err != nil {
			t.Fatalf("app is not a JSON object: %v\n%s", err, res.App)
		}
		if !json.Valid(res.UserOptions) || !json.Valid(res.Options) {
			t.Fatalf("options are not JSON: %s / %s", res.UserOptions, res.Options)
		}
	})
}

// FuzzMerge: merging any two documents never panics; merging objects gives
// an object that re-parses to the same compact text.
func FuzzMerge(f *testing.F) {
	f.Add(`{"a":{"x":1}}`, `{"a":{"y":[1,2]},"b":null}`)
	f.Add(`{"a":1.50}`, `[]`)
	f.Add(`{"\u00e9":"<&>"}`, `{"\u00e9":{"z":"\ud800"}}`)
	f.Fuzz(func(t *testing.T, a, b string) {
		out, err := Merge(json.RawMessage(a), json.RawMessage(b))
		if err != nil {
			return
		}
		v, err := parseJSON(out)
		if err != nil || v.k != kObject {
			t.Fatalf("merge output does not parse: %v\n%s", err, out)
		}
		if again := appendCompact(nil, v, false); string(again) != string(out) {
			t.Fatalf("not stable:\n%s\n%s", out, again)
		}
		if !json.Valid(out) {
			t.Fatalf("encoding/json rejects %s", out)
		}
	})
}

// FuzzParseJSON: the parser agrees with encoding/json on validity, and what
// it prints re-parses to the same text.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`{}`, `[1,2.5e3,"x\u00e9",null,true]`, `{"a":{"b":[{}]}}`, `"\ud83d\ude00"`, `-0.0e-0`, `{"a":1,"a":2}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseJSON([]byte(s))
		if (err == nil) != json.Valid([]byte(s)) {
			// encoding/json accepts invalid UTF-8 and lone surrogates as we do;
			// the only difference allowed is our nesting limit.
			if err == nil || !isDepthError(err) {
				t.Fatalf("parseJSON error %v, json.Valid %v for %q", err, json.Valid([]byte(s)), s)
			}
			return
		}
		if err != nil {
			return
		}
		out := appendCompact(nil, v, false)
		v2, err := parseJSON(out)
		if err != nil {
			t.Fatalf("output does not parse: %v\n%s", err, out)
		}
		if out2 := appendCompact(nil, v2, false); string(out2) != string(out) {
			t.Fatalf("not stable:\n%s\n%s", out, out2)
		}
	})
}
