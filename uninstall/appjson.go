package uninstall

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/go-json-experiment/json/jsontext"
)

// dropOnPut are the members of Marathon's GET answer that are not sent back
// with the SDK_UNINSTALL update: "uris" and "version", which Cosmos's
// MarathonClient.modifyApp removes ("Marathon appends extraneous fields when
// you fetch the current configuration"; a body "version" means "roll back
// to that version"), and the read-only status fields of AppInfo.
var dropOnPut = map[string]bool{
	"uris": true, "version": true,
	"tasksStaged": true, "tasksRunning": true, "tasksHealthy": true, "tasksUnhealthy": true,
	"deployments": true, "readinessCheckResults": true, "tasks": true, "lastTaskFailure": true,
	"taskStats": true, "tasksStats": true, "versionInfo": true,
}

// member is one member of a JSON object, its value byte for byte.
type member struct {
	name string
	raw  []byte
}

// objectMembers splits a JSON object into its members, in order.
func objectMembers(raw []byte) ([]member, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(raw), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, err
	}
	if tok.Kind() != '{' {
		return nil, fmt.Errorf("not a JSON object but %s", kindName(tok.Kind()))
	}
	var out []member
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, err
		}
		name := tok.String()
		val, err := dec.ReadValue()
		if err != nil {
			return nil, err
		}
		out = append(out, member{name: name, raw: bytes.Clone(val)})
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, err
	}
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the JSON object")
	}
	return out, nil
}

func kindName(k jsontext.Kind) string {
	switch k {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "something else"
}

// writeObject writes members as a compact JSON object.
func writeObject(b *bytes.Buffer, ms []member) {
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(m.name)
		b.Write(name)
		b.WriteByte(':')
		b.Write(m.raw)
	}
	b.WriteByte('}')
}

// sdkUninstallBody turns Marathon's GET answer for an app into the body of
// Cosmos's SDK uninstall update: the same object without "uris", "version"
// and the status fields, with env SDK_UNINSTALL="true" (added at the end of
// env, or replacing an existing entry in place). Every other member, and
// every other env entry (secret references included), is kept byte for
// byte and in order.
func sdkUninstallBody(app json.RawMessage) (json.RawMessage, error) {
	ms, err := objectMembers(app)
	if err != nil {
		return nil, fmt.Errorf("app JSON: %w", err)
	}
	out := make([]member, 0, len(ms)+1)
	sawEnv := false
	for _, m := range ms {
		if dropOnPut[m.name] {
			continue
		}
		if m.name == "env" {
			env, err := setEnv(m.raw, EnvSDKUninstall, `"true"`)
			if err != nil {
				return nil, fmt.Errorf("app JSON: env: %w", err)
			}
			m.raw, sawEnv = env, true
		}
		out = append(out, m)
	}
	if !sawEnv {
		out = append(out, member{name: "env", raw: []byte(`{"` + EnvSDKUninstall + `":"true"}`)})
	}
	var b bytes.Buffer
	writeObject(&b, out)
	return b.Bytes(), nil
}

// setEnv sets name to the raw value in an env object (null = empty).
func setEnv(raw []byte, name, value string) ([]byte, error) {
	var ms []member
	if !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		var err error
		if ms, err = objectMembers(raw); err != nil {
			return nil, err
		}
	}
	found := false
	for i := range ms {
		if ms[i].name == name {
			ms[i].raw, found = []byte(value), true
		}
	}
	if !found {
		ms = append(ms, member{name: name, raw: []byte(value)})
	}
	var b bytes.Buffer
	writeObject(&b, ms)
	return b.Bytes(), nil
}
