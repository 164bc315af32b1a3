package render

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/universe-operator/universe-operator/errs"
)

// Numbers math/big cannot parse (exponents beyond ±1e6) are refused with
// the option's pointer, before the quick check (which could prove other
// branches valid) or jsonschema/v6 (which fails on them) see them; a schema
// holding such a number fails cleanly too. Nothing panics.
func TestOutOfRangeNumbers(t *testing.T) {
	for _, tc := range []struct {
		config, options, want string
	}{
		{`{"properties":{"p":{"anyOf":[{"multipleOf":1},{}]}}}`, `{"p":1e1000001}`, "options /p: number out of range"},
		{`{"properties":{"p":{"oneOf":[{"maximum":0},{"type":"number"}]}}}`, `{"p":1e-1000001}`, "options /p: number out of range"},
		{`{"properties":{"a":{"type":"object"}}}`, `{"a":{"x/y":[1,2,-5E+2000000]}}`, "options /a/x~1y/2: number out of range"},
		{`{"properties":{"p":{"type":"number","maximum":1e1000001}}}`, `{"p":1}`, ""},
		{`{"properties":{"p":{"type":"number","maximum":1e1000001}}}`, `{"p":"x"}`, "config.json: options /p: expected number, got string (type)"},
	} {
		pkg := testPackage(t, "big", `{"id":"/big"}`, tc.config)
		var err error
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("%s with %s: panic %v", tc.config, tc.options, r)
				}
			}()
			err = ValidateOptions(pkg, json.RawMessage(tc.options))
		}()
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s with %s: %v", tc.config, tc.options, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errs.IsPermanent(err) {
			t.Errorf("%s with %s: %v, want a permanent error containing %q", tc.config, tc.options, err, tc.want)
		}
	}
}

// The library's own failure on such a number is turned into an error, not
// a crash: the backstop behind the check above.
func TestValidateOptionsRecovers(t *testing.T) {
	cfg := configFor([]byte(`{"properties":{"p":{"anyOf":[{"multipleOf":1},{}]}}}`))
	schema, err := cfg.compile()
	if err != nil {
		t.Fatal(err)
	}
	err = validateOptions(schema, map[string]any{"p": json.Number("1e1000001")})
	if err == nil || !strings.Contains(err.Error(), "the JSON schema library failed") {
		t.Fatalf("got %v", err)
	}
}
