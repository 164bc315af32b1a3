package reconcile

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func addFixtureSeeds(f *testing.F, add func(b []byte)) {
	files, _ := filepath.Glob(filepath.Join("testdata", "compare", "*.json"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			add(b)
		}
	}
	for _, s := range []string{`{}`, `{"labels":null}`, `{"labels":[]}`, `[]`, `{"a":1e400}`, `{"a":"\ud800"}`,
		`{"container":{"docker":{"network":"BRIDGE","portMappings":[{}]}},"ports":[0],"ipAddress":{"networkName":"mesos-bridge"}}`,
		`{"healthChecks":[1,{"protocol":7}],"uris":[1],"portDefinitions":{},"networks":[{"mode":null}]}`} {
		add([]byte(s))
	}
}

// decodeAny decodes with numbers kept as written.
func decodeAny(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func FuzzParse(f *testing.F) {
	addFixtureSeeds(f, func(b []byte) { f.Add(b) })
	f.Add([]byte(`{"apps":[{"id":"/a","labels":{"UNIVERSE_OPERATOR_RELEASE":"r"},"tasks":[{"state":"TASK_RUNNING"}]}],"x":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := parseJSON(b)
		if (err == nil) != json.Valid(b) {
			t.Fatalf("parse err %v, json.Valid %v for %q", err, json.Valid(b), b)
		}
		isObject := err == nil && v.kind == kindObject
		if _, serr := parseSkim(b, skimApp); (serr == nil) != isObject {
			t.Fatalf("skim err %v, but valid object %v for %q", serr, isObject, b)
		}
		if apps, aerr := ParseApps(b); aerr == nil {
			if !isObject {
				t.Fatalf("ParseApps accepted %q", b)
			}
			for _, a := range apps {
				if !json.Valid(a.App) {
					t.Fatalf("ParseApps app %q", a.App)
				}
			}
		}
		if err != nil {
			return
		}
		enc := v.bytes()
		if !json.Valid(enc) {
			t.Fatalf("canonical form invalid: %q", enc)
		}
		want, err1 := decodeAny(b)
		got, err2 := decodeAny(enc)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(want, got) {
			t.Fatalf("canonical form changes the value:\n%q\n%q", b, enc)
		}
	})
}

func FuzzCompare(f *testing.F) {
	addFixtureSeeds(f, func(b []byte) { f.Add(b, []byte(`{"id":"/x"}`)) })
	f.Fuzz(func(t *testing.T, x, y []byte) {
		_ = Compare(x, y) // never panics
		_ = Compare(y, x)
		if _, err := parseObject(x); err != nil {
			return
		}
		if d := Compare(x, x); d.Drifted() {
			t.Fatalf("Compare(x, x) drifts:\n%s\nx = %s", d, x)
		}
		n1, err := Normalize(x)
		if err != nil {
			t.Fatal(err)
		}
		n2, _ := Normalize(n1)
		if !bytes.Equal(n1, n2) {
			t.Fatalf("Normalize not idempotent:\n%s\n%s", n1, n2)
		}
		if d := Compare(x, n1); d.Drifted() {
			t.Fatalf("Compare(x, Normalize(x)) drifts:\n%s", d)
		}
		view, err := MarathonView(x)
		if err != nil {
			t.Fatal(err)
		}
		if d := Compare(x, view); d.Drifted() {
			t.Fatalf("Compare(x, MarathonView(x)) drifts:\n%s\nx    = %s\nview = %s", d, x, view)
		}
		_, _ = Status(x, nil, nil, t0)
		_, _ = NewActual(x)
	})
}

func FuzzStamp(f *testing.F) {
	addFixtureSeeds(f, func(b []byte) { f.Add(b, "kafka-prod") })
	f.Add([]byte(`{"labels":{"UNIVERSE_OPERATOR_RELEASE":"x","UNIVERSE_OPERATOR_RELEASE":"y"}}`), "r")
	f.Fuzz(func(t *testing.T, app []byte, release string) {
		out, hash, err := Stamp(app, release)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("stamped JSON invalid: %q", out)
		}
		if r, ok := Owner(out); !ok || r != release {
			t.Fatalf("Owner = %q, %v, want %q", r, ok, release)
		}
		if h, _ := Hash(out); h != hash || HashLabel(out) != hash {
			t.Fatalf("hash %q, Hash %q, label %q", hash, h, HashLabel(out))
		}
		again, hash2, err := Stamp(out, release)
		if err != nil || hash2 != hash || !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: %v\n%s\n%s", err, out, again)
		}
		// Everything but the two labels is the same value as before.
		strip := func(b []byte) any {
			v, err := decodeAny(b)
			if err != nil {
				t.Fatal(err)
			}
			m := v.(map[string]any)
			if l, ok := m["labels"].(map[string]any); ok {
				delete(l, LabelRelease)
				delete(l, LabelHash)
				if len(l) == 0 {
					delete(m, "labels")
				}
			} else if m["labels"] == nil {
				delete(m, "labels")
			}
			return m
		}
		if a, b := strip(app), strip(out); !reflect.DeepEqual(a, b) {
			t.Fatalf("stamping changed other fields:\n%s\n%s", app, out)
		}
	})
}
