package marathon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// member is one key/value pair of a JSON object, the value kept as compact raw
// JSON so that what a client sent is returned byte for byte.
type member struct {
	key string
	val json.RawMessage
}

// object is a JSON object that keeps its key order.
type object []member

// errNotObject is returned by parseObject when the JSON value is not an object.
var errNotObject = errors.New("not a JSON object")

// parseObject reads one JSON object from data, keeping key order and the raw
// (compacted) value bytes. Duplicate keys keep the first position and the last
// value, as a JSON reader that builds a map would. Syntax errors are returned
// as *syntaxError.
func parseObject(data []byte) (object, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, wrapSyntax(data, dec, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errNotObject
	}
	var obj object
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, wrapSyntax(data, dec, err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, &syntaxError{msg: "Unexpected character: was expecting double-quote to start field name"}
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, wrapSyntax(data, dec, err)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return nil, wrapSyntax(data, dec, err)
		}
		obj = obj.set(key, buf.Bytes())
	}
	if _, err := dec.Token(); err != nil {
		return nil, wrapSyntax(data, dec, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &syntaxError{msg: "Unexpected character after the end of the JSON object"}
	}
	return obj, nil
}

// syntaxError is a JSON syntax error worded like the Jackson messages Marathon
// returns in "details".
type syntaxError struct{ msg string }

func (e *syntaxError) Error() string { return e.msg }

func wrapSyntax(data []byte, dec *json.Decoder, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &syntaxError{msg: fmt.Sprintf("Unexpected end-of-input: expected close marker for OBJECT (from [Source: (String)%q; line: 1, column: %d])",
			truncate(string(data), 200), dec.InputOffset()+1)}
	}
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "json: ")
	if msg != "" {
		msg = strings.ToUpper(msg[:1]) + msg[1:]
	}
	return &syntaxError{msg: fmt.Sprintf("%s (at offset %d)", msg, dec.InputOffset())}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// get returns the raw value of key.
func (o object) get(key string) (json.RawMessage, bool) {
	for _, m := range o {
		if m.key == key {
			return m.val, true
		}
	}
	return nil, false
}

// has reports whether key is present with a non-null value.
func (o object) has(key string) bool {
	v, ok := o.get(key)
	return ok && !isNull(v)
}

// set replaces the value of key in place, or appends it.
func (o object) set(key string, val json.RawMessage) object {
	for i := range o {
		if o[i].key == key {
			out := o.clone()
			out[i].val = val
			return out
		}
	}
	out := make(object, len(o), len(o)+1)
	copy(out, o)
	return append(out, member{key: key, val: val})
}

// setFront replaces the value of key in place, or inserts it first.
func (o object) setFront(key string, val json.RawMessage) object {
	if _, ok := o.get(key); ok {
		return o.set(key, val)
	}
	out := make(object, 0, len(o)+1)
	out = append(out, member{key: key, val: val})
	return append(out, o...)
}

// del removes key.
func (o object) del(keys ...string) object {
	out := make(object, 0, len(o))
outer:
	for _, m := range o {
		for _, k := range keys {
			if m.key == k {
				continue outer
			}
		}
		out = append(out, m)
	}
	return out
}

func (o object) clone() object {
	out := make(object, len(o))
	copy(out, o)
	return out
}

// keys returns the keys in order.
func (o object) keys() []string {
	out := make([]string, len(o))
	for i, m := range o {
		out[i] = m.key
	}
	return out
}

// marshal writes the object as compact JSON.
func (o object) marshal() []byte {
	var b bytes.Buffer
	o.writeTo(&b)
	return b.Bytes()
}

func (o object) writeTo(b *bytes.Buffer) {
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		writeString(b, m.key)
		b.WriteByte(':')
		b.Write(m.val)
	}
	b.WriteByte('}')
}

// writeString writes s as a JSON string without HTML escaping.
func writeString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	// Encode appends a newline.
	b.Truncate(b.Len() - 1)
}

// jsonString returns s encoded as a JSON string.
func jsonString(s string) json.RawMessage {
	var b bytes.Buffer
	writeString(&b, s)
	return b.Bytes()
}

// jsonInt returns n encoded as JSON.
func jsonInt(n int) json.RawMessage { return json.RawMessage(strconv.Itoa(n)) }

// mustJSON marshals v; used for values whose encoding cannot fail.
func mustJSON(v any) json.RawMessage {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("marathon sim: marshal %T: %v", v, err))
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

func isNull(v json.RawMessage) bool { return len(v) == 0 || string(v) == "null" }

// parseArray splits a raw JSON array into its raw elements; ok is false when
// v is not an array.
func parseArray(v json.RawMessage) ([]json.RawMessage, bool) {
	if len(v) == 0 || v[0] != '[' {
		return nil, false
	}
	var out []json.RawMessage
	if err := json.Unmarshal(v, &out); err != nil {
		return nil, false
	}
	return out, true
}

// joinArray builds a raw JSON array.
func joinArray(items []json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, it := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(it)
	}
	b.WriteByte(']')
	return b.Bytes()
}

// asObject parses a raw value that is known to be syntactically valid JSON.
func asObject(v json.RawMessage) (object, bool) {
	if len(v) == 0 || v[0] != '{' {
		return nil, false
	}
	o, err := parseObject(v)
	if err != nil {
		return nil, false
	}
	return o, true
}

// rawString decodes a raw JSON string value.
func rawString(v json.RawMessage) (string, bool) {
	if len(v) == 0 || v[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false
	}
	return s, true
}

// rawNumber decodes a raw JSON number value.
func rawNumber(v json.RawMessage) (float64, bool) {
	if len(v) == 0 || !(v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(v), 64)
	return f, err == nil
}
