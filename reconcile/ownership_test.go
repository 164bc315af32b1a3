package reconcile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/universe-operator/universe-operator/errs"
)

func TestStampKeepsBytes(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"no labels, compact",
			`{"id":"/a","cpus":1.0,"cmd":"a<b>&c"}`,
			`{"id":"/a","cpus":1.0,"cmd":"a<b>&c","labels":{"UNIVERSE_OPERATOR_RELEASE":"rel","UNIVERSE_OPERATOR_HASH":"@H@"}}`},
		{"no labels, pretty",
			"{\n  \"id\": \"/a\",\n  \"mem\": 1e3\n}\n",
			"{\n  \"id\": \"/a\",\n  \"mem\": 1e3,\n  \"labels\": {\"UNIVERSE_OPERATOR_RELEASE\":\"rel\",\"UNIVERSE_OPERATOR_HASH\":\"@H@\"}\n}\n"},
		{"empty object",
			`{ }`,
			`{"labels":{"UNIVERSE_OPERATOR_RELEASE":"rel","UNIVERSE_OPERATOR_HASH":"@H@"} }`},
		{"labels null",
			`{"id":"/a","labels":null,"x":[1,2.50]}`,
			`{"id":"/a","labels":{"UNIVERSE_OPERATOR_RELEASE":"rel","UNIVERSE_OPERATOR_HASH":"@H@"},"x":[1,2.50]}`},
		{"empty labels",
			`{"labels":{},"id":"/a"}`,
			`{"labels":{"UNIVERSE_OPERATOR_RELEASE":"rel","UNIVERSE_OPERATOR_HASH":"@H@"},"id":"/a"}`},
		{"labels pretty",
			"{\n    \"labels\": {\n        \"DCOS_PACKAGE_NAME\": \"kafka\",\n        \"Z\": \"\\u003c\"\n    },\n    \"id\": \"/k\"\n}",
			"{\n    \"labels\": {\n        \"DCOS_PACKAGE_NAME\": \"kafka\",\n        \"Z\": \"\\u003c\",\n        \"UNIVERSE_OPERATOR_RELEASE\": \"rel\",\n        \"UNIVERSE_OPERATOR_HASH\": \"@H@\"\n    },\n    \"id\": \"/k\"\n}"},
		{"labels already stamped (other release, stale hash)",
			`{"labels":{"UNIVERSE_OPERATOR_HASH":"old","A":"b","UNIVERSE_OPERATOR_RELEASE":"other"}}`,
			`{"labels":{"UNIVERSE_OPERATOR_HASH":"@H@","A":"b","UNIVERSE_OPERATOR_RELEASE":"rel"}}`},
		{"only the release label present",
			`{"labels":{"UNIVERSE_OPERATOR_RELEASE":"x"}}`,
			`{"labels":{"UNIVERSE_OPERATOR_RELEASE":"rel","UNIVERSE_OPERATOR_HASH":"@H@"}}`},
		{"duplicate labels keys: the last one counts",
			`{"labels":{"A":"1"},"labels":{"B":"2"}}`,
			`{"labels":{"A":"1"},"labels":{"B":"2","UNIVERSE_OPERATOR_RELEASE":"rel","UNIVERSE_OPERATOR_HASH":"@H@"}}`},
		{"escaped key spelling labels",
			`{"label\u0073":{"A":"1"}}`,
			`{"label\u0073":{"A":"1","UNIVERSE_OPERATOR_RELEASE":"rel","UNIVERSE_OPERATOR_HASH":"@H@"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, hash, err := Stamp([]byte(tt.in), "rel")
			if err != nil {
				t.Fatal(err)
			}
			want := strings.ReplaceAll(tt.want, "@H@", hash)
			if string(out) != want {
				t.Errorf("Stamp =\n%s\nwant\n%s", out, want)
			}
			if len(hash) != HashLen {
				t.Errorf("hash %q has length %d", hash, len(hash))
			}
			if r, ok := Owner(out); !ok || r != "rel" {
				t.Errorf("Owner = %q, %v", r, ok)
			}
			if HashLabel(out) != hash {
				t.Errorf("HashLabel = %q, want %q", HashLabel(out), hash)
			}
			h2, err := Hash(out)
			if err != nil || h2 != hash {
				t.Errorf("Hash(stamped) = %q, %v; want %q", h2, err, hash)
			}
			again, hash2, err := Stamp(out, "rel")
			if err != nil || hash2 != hash || !bytes.Equal(again, out) {
				t.Errorf("stamping twice changed the app:\n%s\n%s", out, again)
			}
		})
	}
}

func TestHashCanonical(t *testing.T) {
	a := []byte(`{"b":1.0,"a":"x<y","labels":{"K":"v"}}`)
	b := []byte("{\n  \"labels\": {\"K\": \"v\"},\n  \"a\": \"x\\u003cy\",\n  \"b\": 1.0\n}")
	ha, err := Hash(a)
	if err != nil {
		t.Fatal(err)
	}
	hb, _ := Hash(b)
	if ha != hb {
		t.Errorf("same app, different hashes: %s %s", ha, hb)
	}
	// The canonical form is frozen: sorted keys, compact, no HTML escaping,
	// numbers as written.
	sum := sha256.Sum256([]byte(`{"a":"x<y","b":1.0,"labels":{"K":"v"}}`))
	if want := hex.EncodeToString(sum[:])[:HashLen]; ha != want {
		t.Errorf("Hash = %s, want %s", ha, want)
	}
	hc, _ := Hash([]byte(`{"b":1,"a":"x<y","labels":{"K":"v"}}`))
	if hc == ha {
		t.Errorf("1 and 1.0 render differently and must hash differently")
	}
	// Ownership labels do not count; an emptied labels object neither.
	h1, _ := Hash([]byte(`{"id":"/a"}`))
	h2, _ := Hash([]byte(`{"id":"/a","labels":{"UNIVERSE_OPERATOR_RELEASE":"r","UNIVERSE_OPERATOR_HASH":"x"}}`))
	h3, _ := Hash([]byte(`{"id":"/a","labels":{}}`))
	if h1 != h2 || h1 != h3 {
		t.Errorf("hashes %s %s %s should be equal", h1, h2, h3)
	}
}

func TestStampErrors(t *testing.T) {
	for _, tt := range []struct{ in, release, want string }{
		{`{"labels":[]}`, "r", "labels must be an object"},
		{`{"labels":"x"}`, "r", "labels must be an object"},
		{`[]`, "r", "must be a JSON object"},
		{`{"id":`, "r", "invalid JSON"},
		{`{}`, "", "empty release name"},
	} {
		_, _, err := Stamp([]byte(tt.in), tt.release)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !errs.IsPermanent(err) {
			t.Errorf("Stamp(%s) error = %v, want permanent %q", tt.in, err, tt.want)
		}
	}
}

func TestStampReleaseNeedingEscapes(t *testing.T) {
	out, _, err := Stamp([]byte(`{}`), "a\"b<c>\n")
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(out) || !strings.Contains(string(out), `"a\"b<c>\n"`) {
		t.Errorf("stamped: %s", out)
	}
	if r, _ := Owner(out); r != "a\"b<c>\n" {
		t.Errorf("Owner = %q", r)
	}
}

func TestOwner(t *testing.T) {
	for _, tt := range []struct {
		in      string
		release string
		owned   bool
	}{
		{`{"labels":{"UNIVERSE_OPERATOR_RELEASE":"kafka-prod"}}`, "kafka-prod", true},
		{`{"labels":{"UNIVERSE_OPERATOR_RELEASE":""}}`, "", false},
		{`{"labels":{"UNIVERSE_OPERATOR_RELEASE":1}}`, "", false},
		{`{"labels":{}}`, "", false},
		{`{}`, "", false},
		{`not json`, "", false},
	} {
		r, ok := Owner([]byte(tt.in))
		if r != tt.release || ok != tt.owned {
			t.Errorf("Owner(%s) = %q, %v", tt.in, r, ok)
		}
	}
}

func TestCanonicalID(t *testing.T) {
	for in, want := range map[string]string{
		"kafka": "/kafka", "/kafka": "/kafka", "/prod/kafka/": "/prod/kafka", "prod//kafka": "/prod/kafka",
		"/a/../b": "/b", "/../a": "/a", "./a/./b": "/a/b", "": "/", "/": "/",
	} {
		if got := CanonicalID(in); got != want {
			t.Errorf("CanonicalID(%q) = %q, want %q", in, got, want)
		}
	}
	if id, err := AppID([]byte(`{"id":"prod/kafka/"}`)); err != nil || id != "/prod/kafka" {
		t.Errorf("AppID = %q, %v", id, err)
	}
	if _, err := AppID([]byte(`{"id":3}`)); !errs.IsPermanent(err) {
		t.Errorf("AppID without string id: %v", err)
	}
}
