package reconcile

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestParseMatchesEncodingJSON(t *testing.T) {
	valid := []string{
		`{"a":"plain","b":"esc \" \\ \/ \b \f \n \r \t","c":"\u00e9\u4e2d\ud83d\ude00","d":"lone \ud800 x","e":"\udc00\ud800\u0041"}`,
		`{"n":[0,-0,1.5,-12e3,1E+2,1e-7,123456789012345678901234567890]}`,
		`[true,false,null,{},[],"",{"":""}]`,
		` {"dup":1,"dup":2,"a":{"z":1,"y":2,"z":3}} `,
		`"top-level string"`, `3`, `null`,
		"{\"raw utf8\":\"caf\xc3\xa9 <&> \xff\"}",
	}
	for _, s := range valid {
		v, err := parseJSON([]byte(s))
		if err != nil {
			t.Errorf("parse %q: %v", s, err)
			continue
		}
		want, _ := decodeAny([]byte(s))
		got, err := decodeAny(v.bytes())
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%q: canonical form %q decodes to %v, want %v", s, v.bytes(), got, want)
		}
	}
	invalid := []string{``, ` `, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `[1 2]`, `{"a":1}}`, `01`, `-`, `1.`, `1e`, `.5`, `+1`,
		`"\x"`, `"\u12"`, `"\u12g4"`, "\"a\x01b\"", "\"tab\there\"", `tru`, `nul`, `"unterminated`, `{"a":"b\`, `{1:2}`,
		strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1)}
	for _, s := range invalid {
		if _, err := parseJSON([]byte(s)); err == nil || json.Valid([]byte(s)) {
			t.Errorf("parse %q: err %v, json.Valid %v", s, err, json.Valid([]byte(s)))
		}
		if _, err := parseSkim([]byte(s), skimApp); err == nil {
			t.Errorf("skim %q accepted", s)
		}
	}
	// A skim validates what it skips.
	for _, s := range []string{`{"skipped":"a\x01"}`, `{"skipped":[1,]}`, `{"skipped":{"a" 1}}`, `{"skipped":"\q"}`, `{"id":"/a"} x`} {
		if _, err := parseSkim([]byte(s), skimApp); err == nil {
			t.Errorf("skim %q accepted", s)
		}
	}
	if _, err := parseSkim([]byte(`[1]`), skimApp); err == nil || !strings.Contains(err.Error(), "must be a JSON object, got an array") {
		t.Errorf("skim of an array: %v", err)
	}
}

func TestSkimKeepsOnlyWhatItReads(t *testing.T) {
	v, err := parseSkim(readFixture(t, "compare/plain-cmd.actual.json"), skimApp)
	if err != nil {
		t.Fatal(err)
	}
	if v.get("cmd") != nil || v.get("fetch") != nil || v.get("labels").get("DCOS_PACKAGE_NAME") != nil {
		t.Errorf("skim built members it does not read: %s", v.bytes())
	}
	if r, _ := v.get("labels").getString(LabelRelease); r != "hello-prod" {
		t.Errorf("release label %q", r)
	}
	if n := len(v.get("healthChecks").arr); n != 1 {
		t.Errorf("health checks %d", n)
	}
}

func TestSetsLargeAndDuplicated(t *testing.T) {
	var cs, rev []string
	for i := 0; i < 40; i++ {
		cs = append(cs, fmt.Sprintf(`["host%d","UNIQUE"]`, i))
	}
	rev = slices.Clone(cs)
	slices.Reverse(rev)
	d := []byte(`{"id":"/a","constraints":[` + strings.Join(cs, ",") + `,` + cs[0] + `]}`)
	a := []byte(`{"id":"/a","constraints":[` + strings.Join(rev, ",") + `]}`)
	if drift := Compare(d, a); drift.Drifted() {
		t.Errorf("reordered large set with a duplicate drifts:\n%s", drift)
	}
	a2 := []byte(`{"id":"/a","constraints":[` + strings.Join(rev[1:], ",") + `,["rack","LIKE","x"]]}`)
	drift := Compare(d, a2)
	// host39 (desired index 39) is gone, the rack constraint (Marathon's
	// index 39) was added.
	if got := drift.Paths(); !slices.Equal(got, []string{"/constraints/39", "/constraints/39"}) ||
		drift.Changes[0].Kind != ChangeMissing || drift.Changes[1].Kind != ChangeExtra {
		t.Errorf("paths %q\n%s", got, drift)
	}
	// Large unmatched object sets are paired in order, not searched.
	var hd, ha []string
	for i := 0; i < 100; i++ {
		hd = append(hd, fmt.Sprintf(`{"protocol":"TCP","port":%d}`, 1000+i))
		ha = append(ha, fmt.Sprintf(`{"protocol":"TCP","port":%d}`, 2000+i))
	}
	drift = Compare([]byte(`{"healthChecks":[`+strings.Join(hd, ",")+`]}`), []byte(`{"healthChecks":[`+strings.Join(ha, ",")+`]}`))
	if len(drift.Changes) != 100 || drift.Changes[0].Path != "/healthChecks/0/port" {
		t.Errorf("%d changes, first %v", len(drift.Changes), drift.Changes[0])
	}
}
