package render

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/universe-operator/universe-operator/errs"
)

const apiConfig = `{"type": "object", "properties": {
	"service": {"type": "object", "properties": {"name": {"type": "string", "default": "svc"}, "count": {"type": "integer", "default": 1}}},
	"empty": {"type": "object", "properties": {"x": {"type": "string"}}}}}`

func TestDefaults(t *testing.T) {
	pkg := testPackage(t, "defaults", `{"id": "/x"}`, apiConfig)
	got, err := Defaults(pkg)
	if err != nil || string(got) != `{"service":{"name":"svc","count":1}}` {
		t.Errorf("Defaults: %s %v", got, err)
	}
	none := testPackage(t, "noconfig", `{"id": "/x"}`, "")
	if got, err := Defaults(none); err != nil || string(got) != `{}` {
		t.Errorf("Defaults without config: %s %v", got, err)
	}
	if _, err := Defaults(nil); err == nil {
		t.Error("Defaults(nil) succeeded")
	}
}

func TestValidateOptions(t *testing.T) {
	pkg := testPackage(t, "validate", `{"id": "/x"}`, apiConfig)
	if err := ValidateOptions(pkg, json.RawMessage(`{"service": {"count": 3}}`)); err != nil {
		t.Errorf("valid options: %v", err)
	}
	err := ValidateOptions(pkg, json.RawMessage(`{"service": {"count": "three"}}`))
	var e *Error
	if !errors.As(err, &e) || !errs.IsPermanent(err) || e.Kind != KindOptions || len(e.Problems) != 1 ||
		e.Problems[0].Pointer != "/service/count" || e.Problems[0].Rule != "type" {
		t.Errorf("invalid options: %#v", err)
	}
	want := `validate 1.0.0 (rev 0) config.json: options /service/count: expected integer, got string (type)`
	if err == nil || err.Error() != want {
		t.Errorf("message:\n%v\nwant\n%s", err, want)
	}
	for _, bad := range []string{`[1]`, `"s"`, `{"a":`, `1`} {
		err := ValidateOptions(pkg, json.RawMessage(bad))
		if !errors.As(err, &e) || e.Kind != KindOptions || e.File != "options" {
			t.Errorf("options %s: %v", bad, err)
		}
	}
	for _, none := range []string{``, ` `, `null`} {
		if err := ValidateOptions(pkg, json.RawMessage(none)); err != nil {
			t.Errorf("options %q: %v", none, err)
		}
	}
	// No template: Cosmos validates nothing.
	cli := testPackage(t, "cli", "", apiConfig)
	if err := ValidateOptions(cli, json.RawMessage(`{"service": 5}`)); err != nil {
		t.Errorf("package without template: %v", err)
	}
}

func TestRenderErrors(t *testing.T) {
	if _, err := Render(nil, nil, Params{}); err == nil || !errs.IsPermanent(err) {
		t.Errorf("nil package: %v", err)
	}
	badSchema := testPackage(t, "badschema", `{"id": "/x"}`, `{"type": "object", "properties": {"a": {"type": "no-such-type", "default": 1}}}`)
	_, err := Render(badSchema, nil, Params{})
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindConfig || e.File != "config.json" {
		t.Errorf("invalid schema: %v", err)
	}
	ref := testPackage(t, "remoteref", `{"id": "/x"}`, `{"type": "object", "properties": {"a": {"$ref": "http://example.invalid/s.json", "default": 1}}}`)
	_, err = Render(ref, nil, Params{})
	if !errors.As(err, &e) || e.Kind != KindConfig || !strings.Contains(err.Error(), "not loaded") {
		t.Errorf("remote $ref: %v", err)
	}
	out := testPackage(t, "brokenout", "{\n  \"id\": \"/x\",\n  \"cpus\": {{c}}\n}", `{"type": "object", "properties": {"c": {"type": "string", "default": "x"}}}`)
	_, err = Render(out, nil, Params{})
	if !errors.As(err, &e) || e.Kind != KindOutput || e.Line != 3 || e.Column != 11 {
		t.Errorf("broken output: %v (line %d column %d)", err, e.Line, e.Column)
	}
}

func TestRenderUserOptionsLabel(t *testing.T) {
	pkg := testPackage(t, "optlabel", `{"id": "/x"}`, apiConfig)
	res, err := Render(pkg, json.RawMessage(`{"service": {"name": "n", "gone": null}, "top": null, "l": [null]}`), Params{})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.UserOptions) != `{"service":{"name":"n"},"l":[null]}` {
		t.Errorf("user options %s", res.UserOptions)
	}
	if string(res.Options) != `{"service":{"name":"n","count":1,"gone":null},"top":null,"l":[null]}` {
		t.Errorf("merged options %s", res.Options)
	}
	res, err = Render(pkg, nil, Params{Source: "https://other.example/repo"})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.UserOptions) != `{}` || !strings.Contains(string(res.App), `"DCOS_PACKAGE_SOURCE":"https://other.example/repo"`) || !strings.Contains(string(res.App), `"DCOS_PACKAGE_OPTIONS":"e30="`) {
		t.Errorf("no options: %s", res.App)
	}
}

func TestRenderManyKeepsOrder(t *testing.T) {
	var jobs []Job
	for i := 0; i < 50; i++ {
		jobs = append(jobs, Job{Package: testPackage(t, "many", `{"id": "/{{n}}"}`, `{"type":"object"}`), Options: json.RawMessage(`{"n": ` + strings.Repeat("1", i%5+1) + `}`)})
	}
	for i, o := range RenderMany(jobs, 4) {
		if o.Err != nil || !strings.Contains(string(o.Result.App), `"id":"/`+strings.Repeat("1", i%5+1)+`"`) {
			t.Errorf("job %d: %v %s", i, o.Err, o.Result.App)
		}
	}
}
