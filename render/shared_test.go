package render

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/universe-operator/universe-operator/internal/testenv"
	"github.com/universe-operator/universe-operator/universe"
)

// Tests over the real public Universe in ../shared (skipped when absent).

var (
	sharedOnce sync.Once
	sharedRepo *universe.Repository
	sharedErrs []error
)

func loadSharedUniverse(t testing.TB) *universe.Repository {
	t.Helper()
	dir := testenv.UniversePackages(t)
	sharedOnce.Do(func() { sharedRepo, sharedErrs = universe.LoadDir(dir) })
	if len(sharedErrs) > 0 {
		t.Fatalf("loading the real Universe: %v", sharedErrs)
	}
	return sharedRepo
}

// appSchema compiles ../shared/marathon-api/v1.7-schema/AppDefinition.json.
func appSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	raw, err := os.ReadFile(testenv.Shared(t, "marathon-api/v1.7-schema/AppDefinition.json"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	delete(doc.(map[string]any), "$schema") // "http://json-schema.org/schema#": it is draft-04
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	if err := c.AddResource("file:///AppDefinition.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("file:///AppDefinition.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var arrayIndex = regexp.MustCompile(`/[0-9]+(/|$)`)

// appReasons validates an app against the Marathon 1.7 schema and returns
// its failures as "rule at /generalised/pointer: message".
func appReasons(s *jsonschema.Schema, app []byte) []string {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(app))
	if err != nil {
		return []string{"not JSON: " + err.Error()}
	}
	err = s.Validate(doc)
	if err == nil {
		return nil
	}
	var out []string
	for _, p := range schemaProblems(err) {
		ptr := arrayIndex.ReplaceAllString(p.Pointer, "/[i]$1")
		ptr = arrayIndex.ReplaceAllString(ptr, "/[i]$1")
		msg := p.Message
		if p.Rule == "additionalProperties" {
			msg = "property not in Marathon 1.7"
		}
		out = append(out, fmt.Sprintf("%s at %s: %s", p.Rule, ptr, msg))
	}
	return out
}

func topReasons(counts map[string]int, n int) []string {
	type kv struct {
		k string
		v int
	}
	var all []kv
	for k, v := range counts {
		all = append(all, kv{k, v})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].v != all[j].v {
			return all[i].v > all[j].v
		}
		return all[i].k < all[j].k
	})
	var out []string
	for i := 0; i < len(all) && i < n; i++ {
		out = append(out, fmt.Sprintf("%4d  %s", all[i].v, all[i].k))
	}
	return out
}

// TestSharedRenderAllDefaults is `render --all` over the real Universe with
// default options: every outcome Cosmos has, with the counts of
// universe-semantics.md section 4, and every rendered app checked.
func TestSharedRenderAllDefaults(t *testing.T) {
	repo := loadSharedUniverse(t)
	jobs := make([]Job, 0, repo.Len())
	for _, p := range repo.Packages() {
		jobs = append(jobs, Job{Package: p})
	}
	outcomes := RenderMany(jobs, 0)
	schema := appSchema(t)
	var rendered, refused, broken, skipped, valid int
	var brokenNames []string
	refusals := map[string]int{}
	appFailures := map[string]int{}
	for _, o := range outcomes {
		p := o.Job.Package
		if o.Err != nil {
			var e *Error
			if !errors.As(o.Err, &e) {
				t.Errorf("%s: not a *render.Error: %v", p, o.Err)
				continue
			}
			switch e.Kind {
			case KindOptions:
				refused++
				if len(e.Problems) == 0 {
					t.Errorf("%s: refusal without a named property: %v", p, o.Err)
				}
				for _, pr := range e.Problems {
					if pr.Pointer == "" || pr.Rule == "" || !strings.Contains(o.Err.Error(), pr.Pointer) {
						t.Errorf("%s: problem without pointer or rule: %+v", p, pr)
					}
					refusals[pr.Rule+": "+pr.Message]++
				}
			case KindOutput:
				broken++
				brokenNames = append(brokenNames, fmt.Sprintf("%s/%d", p.Name, p.ReleaseVersion))
				if e.Line == 0 || e.Column == 0 || !strings.Contains(o.Err.Error(), fmt.Sprintf("line %d column %d", e.Line, e.Column)) {
					t.Errorf("%s: broken template without a position: %v", p, o.Err)
				}
			default:
				t.Errorf("%s: unexpected %s error: %v", p, e.Kind, o.Err)
			}
			continue
		}
		if o.Result.NoTemplate {
			skipped++
			continue
		}
		rendered++
		checkApp(t, p, o.Result)
		reasons := appReasons(schema, o.Result.App)
		if len(reasons) == 0 {
			valid++
		}
		seen := map[string]bool{}
		for _, r := range reasons {
			if !seen[r] {
				appFailures[r]++
				seen[r] = true
			}
		}
	}
	t.Logf("render --all with default options: rendered %d, refused by validation %d, broken templates %d, skipped %d (no template)", rendered, refused, broken, skipped)
	t.Logf("broken templates (rendered text is not JSON): %v", brokenNames)
	t.Logf("refusal reasons (rule: message, per problem):\n%s", strings.Join(topReasons(refusals, 20), "\n"))
	t.Logf("%d of %d rendered apps validate against Marathon's v1.7 AppDefinition.json; top reasons (apps affected):\n%s",
		valid, rendered, strings.Join(topReasons(appFailures, 15), "\n"))
	if rendered != 1040 || refused != 116 || broken != 8 || skipped != 71 {
		t.Errorf("got rendered %d, refused %d, broken %d, skipped %d; want 1040, 116, 8, 71", rendered, refused, broken, skipped)
	}
	want := "linkerd/10 linkerd/4 linkerd/5 linkerd/6 linkerd/7 linkerd/8 linkerd/9 namerd/4"
	sort.Strings(brokenNames)
	if got := strings.Join(brokenNames, " "); got != want {
		t.Errorf("broken templates %s, want %s", got, want)
	}
}

// Values that hit every value-preparation rule.
const (
	trickyString = "q\"uote b\\ack <&> tab\there é✓ end"
)

// optionStats counts which value-preparation rules constructed options hit.
type optionStats struct{ strings, wholeFloats, fractions, falses, stringArrays int }

// constructOptions builds options for a config.json schema that exercise
// the value-preparation rules while staying valid: strings with quotes,
// backslashes, <&>, non-ASCII and tabs (unless an enum, pattern, format or
// length limit forbids it); integers as whole-valued floats (2.0);
// numbers as fractions; booleans false; arrays of strings.
func constructOptions(schema map[string]any, st *optionStats) map[string]any {
	props, _ := schema["properties"].(map[string]any)
	out := map[string]any{}
	for name, raw := range props {
		p, ok := raw.(map[string]any)
		if !ok {
			continue
		}
		typ, _ := p["type"].(string)
		if _, hasEnum := p["enum"]; hasEnum {
			continue
		}
		switch typ {
		case "object":
			if sub := constructOptions(p, st); len(sub) > 0 {
				out[name] = sub
			}
		case "string":
			_, pattern := p["pattern"]
			_, format := p["format"]
			_, maxLen := p["maxLength"]
			if pattern || format || maxLen || holdsJSONText(p) {
				continue
			}
			out[name] = trickyString
			st.strings++
		case "integer":
			v, ok := numberWithin(p, true)
			if ok {
				out[name] = json.Number(strconv.FormatInt(int64(v), 10) + ".0")
				st.wholeFloats++
			}
		case "number":
			v, ok := numberWithin(p, false)
			if ok {
				out[name] = json.Number(strconv.FormatFloat(v, 'f', -1, 64))
				st.fractions++
			}
		case "boolean":
			out[name] = false
			st.falses++
		case "array":
			if v := arrayValue(p, st); v != nil {
				out[name] = v
			}
		}
	}
	return out
}

// arrayValue builds an array for an array-typed property: strings are the
// tricky string, objects are constructed, nested arrays recurse. Nil when
// the items cannot be satisfied.
func arrayValue(p map[string]any, st *optionStats) []any {
	if _, limited := p["maxItems"]; limited {
		return nil
	}
	element := func(item map[string]any) any {
		if item["enum"] != nil || item["pattern"] != nil || item["format"] != nil {
			return nil
		}
		switch t, _ := item["type"].(string); t {
		case "string":
			return trickyString
		case "object":
			if el := constructOptions(item, st); len(el) > 0 {
				return el
			}
		case "array":
			if v := arrayValue(item, st); v != nil {
				return v
			}
		}
		return nil
	}
	switch items := p["items"].(type) {
	case map[string]any: // every element
		el := element(items)
		if el == nil {
			return nil
		}
		if _, isString := el.(string); isString {
			st.stringArrays++
			return []any{el, "second"}
		}
		return []any{el}
	case []any: // a tuple
		var tuple []any
		for _, it := range items {
			m, _ := it.(map[string]any)
			el := element(m)
			if el == nil {
				return nil
			}
			tuple = append(tuple, el)
		}
		if len(tuple) > 0 {
			if _, isString := tuple[0].(string); isString {
				st.stringArrays++
			}
		}
		return tuple
	}
	return nil
}

// holdsJSONText reports whether a string property's default is JSON text
// other than a string (`[["hostname","UNIQUE"]]`, `1`): such templates
// splice the value raw into the JSON, so only JSON may go there.
func holdsJSONText(p map[string]any) bool {
	d, ok := p["default"].(string)
	if !ok {
		return false
	}
	var v any
	if json.Unmarshal([]byte(d), &v) != nil {
		return false
	}
	_, isString := v.(string)
	return !isString
}

// numberWithin picks a value within the property's bounds: the default (or
// minimum) plus a half for numbers; whole for integers.
func numberWithin(p map[string]any, integer bool) (float64, bool) {
	num := func(k string) (float64, bool) {
		switch v := p[k].(type) {
		case json.Number:
			f, err := v.Float64()
			return f, err == nil
		case float64:
			return v, true
		}
		return 0, false
	}
	if _, ok := p["multipleOf"]; ok {
		return 0, false
	}
	base, ok := num("default")
	if !ok {
		if base, ok = num("minimum"); !ok {
			base = 1
		}
	}
	v := base
	if !integer {
		v = base + 0.5
	} else {
		v = float64(int64(base))
	}
	if max, ok := num("maximum"); ok && v > max {
		v = base
	}
	if min, ok := num("minimum"); ok && v < min {
		return 0, false
	}
	if max, ok := num("maximum"); ok && v > max {
		return 0, false
	}
	return v, true
}

// knownTemplateBugs are real templates that cannot render the constructed
// options (Cosmos could not either): what each one does wrong.
var knownTemplateBugs = map[string]string{
	"eremetic":                      "no comma before \"fetch\" when eremetic.auth-uri is set",
	"beta-portworx-jupyter-service": "a trailing comma and a missing one in container.volumes when service.service_account_secret is set",
	"namerd":                        "splices roles raw into acceptedResourceRoles; broken with the default too",
}

// TestSharedConstructedOptions renders every package's newest revision with
// options built from its own schema to hit every value-preparation rule,
// and checks that the outputs parse.
func TestSharedConstructedOptions(t *testing.T) {
	repo := loadSharedUniverse(t)
	var st optionStats
	var jobs []Job
	for _, name := range repo.Names() {
		p := repo.Latest(name)
		if !p.HasTemplate() || p.Config == nil {
			continue
		}
		schema, err := jsonschema.UnmarshalJSON(bytes.NewReader(p.Config))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		opts := constructOptions(schema.(map[string]any), &st)
		raw, _ := json.Marshal(opts)
		jobs = append(jobs, Job{Package: p, Options: raw})
	}
	var rendered, refused, broken int
	refusals := map[string]int{}
	for _, o := range RenderMany(jobs, 0) {
		if o.Err != nil {
			var e *Error
			errors.As(o.Err, &e)
			switch {
			case e != nil && e.Kind == KindOptions:
				refused++
				for _, pr := range e.Problems {
					refusals[pr.Rule+": "+pr.Message]++
				}
			case e != nil && e.Kind == KindOutput:
				broken++
				if why, known := knownTemplateBugs[o.Job.Package.Name]; known {
					t.Logf("known template bug (%s): %v", why, o.Err)
				} else {
					t.Errorf("%v", o.Err)
				}
			default:
				t.Errorf("%v", o.Err)
			}
			continue
		}
		rendered++
		checkApp(t, o.Job.Package, o.Result)
		// The tricky string survives the round trip wherever it lands.
		if bytes.Contains(o.Job.Options, []byte(`"q\"uote`)) && !strings.Contains(string(o.Result.App), `q\"uote b\\ack <&> tab\there é✓ end`) {
			t.Logf("%s: the constructed string is not used verbatim by the template", o.Job.Package)
		}
	}
	t.Logf("newest revisions with constructed options: %d packages, rendered %d (all parse), refused %d, not JSON %d", len(jobs), rendered, refused, broken)
	t.Logf("option values set: %d tricky strings, %d whole-valued floats for integers, %d fractions, %d false booleans, %d arrays of strings",
		st.strings, st.wholeFloats, st.fractions, st.falses, st.stringArrays)
	if len(refusals) > 0 {
		t.Logf("refusals (required properties the construction cannot satisfy, and schema quirks):\n%s", strings.Join(topReasons(refusals, 10), "\n"))
	}
	if rendered < len(jobs)*9/10 {
		t.Errorf("only %d of %d rendered", rendered, len(jobs))
	}
	if st.strings == 0 || st.wholeFloats == 0 || st.fractions == 0 || st.falses == 0 || st.stringArrays == 0 {
		t.Errorf("a value-preparation rule was not exercised: %+v", st)
	}
}
