package marathon

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/universe-operator/universe-operator/internal/testenv"
)

type corpusCase struct {
	Name            string          `json:"name"`
	App             json.RawMessage `json:"app"`
	Valid           bool            `json:"valid"`
	Message         string          `json:"message"`
	Path            string          `json:"path"`
	Error           string          `json:"error"`
	SchemaDisagrees string          `json:"schemaDisagrees"`
}

func loadCorpus(t *testing.T) []corpusCase {
	t.Helper()
	b, err := os.ReadFile("testdata/validation_corpus.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []corpusCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

// TestValidationCorpus posts every corpus app and checks Marathon's answer:
// 201 for valid apps, 422 with the expected message, path and error otherwise.
func TestValidationCorpus(t *testing.T) {
	for _, c := range loadCorpus(t) {
		t.Run(c.Name, func(t *testing.T) {
			e := newEnv(t, Options{})
			r := e.do("POST", "/v2/apps", string(c.App))
			if c.Valid {
				if r.status != 201 {
					t.Fatalf("want 201, got %d %s", r.status, r.body)
				}
				return
			}
			if r.status != 422 {
				t.Fatalf("want 422, got %d %s", r.status, r.body)
			}
			var body struct {
				Message string   `json:"message"`
				Details []detail `json:"details"`
			}
			if err := json.Unmarshal(r.body, &body); err != nil {
				t.Fatalf("422 body: %v %s", err, r.body)
			}
			if body.Message != c.Message {
				t.Errorf("message %q, want %q (%s)", body.Message, c.Message, r.body)
			}
			found := false
			for _, d := range body.Details {
				if d.Path == c.Path && contains(d.Errors, c.Error) {
					found = true
				}
			}
			if !found {
				t.Errorf("details lack {%s: %s}: %s", c.Path, c.Error, r.body)
			}
		})
	}
}

// TestValidationAgreesWithSchema checks the simulator's verdicts against
// Marathon's last published JSON schema (AppDefinition.json, 1.7) wherever
// the schema has an opinion; every known disagreement is listed in the corpus
// with its reason, and must really be a disagreement.
func TestValidationAgreesWithSchema(t *testing.T) {
	path := testenv.Shared(t, "marathon-api/v1.7-schema/AppDefinition.json")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	// "http://json-schema.org/schema#" is not a draft the library knows; the
	// schema is written for draft 4.
	delete(doc.(map[string]any), "$schema")
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	if err := c.AddResource("AppDefinition.json", doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("AppDefinition.json")
	if err != nil {
		t.Fatal(err)
	}
	agreed, disagreed := 0, 0
	for _, cs := range loadCorpus(t) {
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(string(cs.App)))
		if err != nil {
			t.Fatalf("%s: %v", cs.Name, err)
		}
		schemaValid := schema.Validate(inst) == nil
		g, _ := decodeGeneric(cs.App)
		simValid := validApp(g.(map[string]any))
		if simValid != cs.Valid {
			t.Errorf("%s: validator says valid=%v, corpus says %v", cs.Name, simValid, cs.Valid)
		}
		if cs.SchemaDisagrees == "" {
			agreed++
			if schemaValid != simValid {
				t.Errorf("%s: schema valid=%v, simulator valid=%v", cs.Name, schemaValid, simValid)
			}
		} else {
			disagreed++
			if schemaValid == simValid {
				t.Errorf("%s: listed as a disagreement (%s) but both say valid=%v", cs.Name, cs.SchemaDisagrees, simValid)
			}
		}
	}
	t.Logf("%d cases agree with AppDefinition.json, %d known disagreements", agreed, disagreed)
}

// validApp runs both validation layers as POST does.
func validApp(m map[string]any) bool {
	if len(readErrors(m, true)) > 0 {
		return false
	}
	id, _ := m["id"].(string)
	m["id"] = canonicalID(id)
	return len(semanticErrors(m)) == 0
}

func TestMalformedBodies(t *testing.T) {
	e := newEnv(t, Options{})
	for _, tc := range []struct {
		body    string
		status  int
		message string
	}{
		{`{"id": "/a", "cmd": `, 400, "Invalid JSON"},
		{`{"id" "/a"}`, 400, "Invalid JSON"},
		{``, 400, "Please specify data in JSON format"},
		{`[1,2]`, 422, "Invalid JSON"},
		{`"x"`, 422, "Invalid JSON"},
	} {
		r := e.do("POST", "/v2/apps", tc.body)
		if r.status != tc.status {
			t.Errorf("%q: status %d, want %d (%s)", tc.body, r.status, tc.status, r.body)
			continue
		}
		m := r.json(t)
		if m["message"] != tc.message {
			t.Errorf("%q: message %v, want %s", tc.body, m["message"], tc.message)
		}
		if tc.status == 400 && tc.message == "Invalid JSON" {
			if _, ok := m["details"].(string); !ok {
				t.Errorf("%q: details should be the parser message: %s", tc.body, r.body)
			}
		}
	}
	// Type errors in an update body and the version rule.
	e.do("POST", "/v2/apps", `{"id":"/u","cmd":"sleep 1"}`)
	if r := e.do("PUT", "/v2/apps/u?force=true", `{"instances":"two"}`); r.status != 422 ||
		!strings.Contains(string(r.body), `"path":"/instances","errors":["error.expected.jsnumber"]`) {
		t.Fatalf("update type error: %d %s", r.status, r.body)
	}
	// Groups and apps may not share ids.
	if r := e.do("POST", "/v2/apps", `{"id":"/u/sub","cmd":"sleep 1"}`); r.status != 422 ||
		!strings.Contains(string(r.body), "Groups and Applications may not have the same identifier.") {
		t.Fatalf("app under an app: %d %s", r.status, r.body)
	}
}

func TestLabelSelectorParser(t *testing.T) {
	labels := map[string]string{"env": "prod", "tier": "front end", "deployed": "eu", "a.b-c_d": "x,y", "!!!": "---"}
	for q, want := range map[string]bool{
		"env":                              true,
		"missing":                          false,
		"env==prod":                        true,
		"env == prod":                      true,
		"env!=prod":                        false,
		"env!=dev":                         true,
		"missing!=dev":                     false, // every selector needs the label
		"env in (stage,prod)":              true,
		"env in (stage, qa)":               false,
		"env notin (stage,qa)":             true,
		"env notin (prod)":                 false,
		"missing notin (x)":                false,
		"env, deployed in (us, eu)":        true,
		"env==prod,tier==front\\ end":      true,
		"env==prod,tier!=front\\ end":      false,
		"a.b-c_d==x\\,y":                   true,
		"\\!\\!\\! in (\\-\\-\\-, \\&\\&)": true,
		"env in ()":                        false,
	} {
		sels, err := parseSelectors(q)
		if err != nil {
			t.Errorf("%q: %v", q, err)
			continue
		}
		got := true
		for _, s := range sels {
			got = got && s.matches(labels)
		}
		if got != want {
			t.Errorf("%q matches=%v, want %v (%+v)", q, got, want, sels)
		}
	}
	for _, bad := range []string{"env==", "env in (a", "==x", "env,,x", "env in a", "a b"} {
		if _, err := parseSelectors(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzLabelSelector(f *testing.F) {
	for _, s := range []string{"a", "a==b", "a in (b,c)", `x\ y!=z`, "a notin ()"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		sels, err := parseSelectors(q)
		if err == nil {
			for _, s := range sels {
				_ = s.matches(map[string]string{"a": "b"})
			}
		}
	})
}

func FuzzParseAppBody(f *testing.F) {
	f.Add([]byte(sleepApp))
	f.Add([]byte(`{"id":"/a","cmd":"x","healthChecks":[{"portIndex":3}],"container":{"docker":{"portMappings":[{}]}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		o, m, e := parseAppBody(body)
		if e != nil {
			return
		}
		readErrors(m, true)
		if id, ok := m["id"].(string); ok {
			m["id"] = canonicalID(id)
		}
		if len(semanticErrors(m)) == 0 && len(readErrors(m, true)) == 0 {
			d := newDef(o, versionZero, versionZero, versionZero, "*", func(p []portSpec) []int { return make([]int, len(p)) })
			if !json.Valid(d.rendered) {
				t.Fatalf("rendered invalid JSON: %s", d.rendered)
			}
		}
	})
}
