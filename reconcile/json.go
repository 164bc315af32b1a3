package reconcile

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// This file holds a small strict JSON parser that builds a tree with object
// members sorted by key. It exists because the reconcile pass compares
// thousands of apps whose labels carry tens of kilobytes of base64: the
// generic encoding/json decoder into interface{} costs several times more
// than a parser that copies the input once into a string, takes strings and
// number literals as substrings of it, and finds string ends with
// strings.IndexByte. It accepts exactly what encoding/json's Valid accepts
// (RFC 8259; bytes of invalid UTF-8 inside strings are kept as they are).

type kind uint8

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

// maxDepth bounds nesting like encoding/json does, so hostile input cannot
// make the parser recurse without end.
const maxDepth = 10000

// value is one JSON value. Objects keep their members sorted by key with
// duplicates resolved (last occurrence wins, as in encoding/json and Marathon).
type value struct {
	kind kind
	b    bool
	str  string // string contents (unescaped) or the number literal
	arr  []value
	obj  []member
}

type member struct {
	key string
	val value
}

type parser struct {
	data  string // the document: strings without escapes are substrings of it
	pos   int
	depth int
	// Scratch stacks: members and elements are collected here and copied
	// once into an exactly sized slice when their container closes.
	mstack []member
	vstack []value
	idx    []int32
	// alias is set when data aliases memory the caller owns: every string
	// kept in the tree is then cloned.
	alias bool
	// hiM and hiV are the high-water marks of the stacks (what to clear).
	hiM, hiV int
	// skipTop names top-level members to validate and skip (parseExcept).
	skipTop map[string]bool
}

// parseExcept parses a JSON object fully but for the top-level members
// named in skip, which are validated and left out.
func parseExcept(data []byte, skip map[string]bool) (value, error) {
	p := getParser(string(data))
	defer putParser(p)
	p.skipTop = skip
	p.skipWS()
	v, err := p.value()
	if err != nil {
		return value{}, err
	}
	p.skipWS()
	if p.pos != len(p.data) {
		return value{}, p.errf("unexpected data after the top-level value")
	}
	if v.kind != kindObject {
		return value{}, fmt.Errorf("app must be a JSON object, got %s", v.kind)
	}
	return v, nil
}

// parserPool recycles the scratch stacks between parses.
var parserPool = sync.Pool{New: func() any { return new(parser) }}

func getParser(data string) *parser {
	p := parserPool.Get().(*parser)
	p.data, p.pos, p.depth, p.alias, p.skipTop = data, 0, 0, false, nil
	return p
}

func putParser(p *parser) {
	// Drop references into the document so a pooled parser keeps no app
	// alive, and do not keep the buffers of a freak document.
	clear(p.mstack[:p.hiM])
	clear(p.vstack[:p.hiV])
	p.mstack, p.vstack, p.idx = p.mstack[:0], p.vstack[:0], p.idx[:0]
	p.hiM, p.hiV = 0, 0
	p.data = ""
	if cap(p.mstack) > 1<<12 || cap(p.vstack) > 1<<12 || cap(p.idx) > 1<<12 {
		return
	}
	parserPool.Put(p)
}

// parseJSON parses one JSON document (surrounding whitespace allowed). The
// input is copied once into a string; the tree's strings share it.
func parseJSON(data []byte) (value, error) {
	p := getParser(string(data))
	defer putParser(p)
	p.skipWS()
	v, err := p.value()
	if err != nil {
		return value{}, err
	}
	p.skipWS()
	if p.pos != len(p.data) {
		return value{}, p.errf("unexpected data after the top-level value")
	}
	return v, nil
}

// skimSpec says which members of an object a skim parse builds: a member
// whose key is in the spec is built — fully when its spec is nil, else
// object members (or, under "*", array elements) by that spec; members not
// in the spec are validated and skipped.
type skimSpec map[string]skimSpec

// parseSkim parses a JSON object building only what spec names. It reads
// data in place (no copy of the document) and clones the few strings it
// keeps, so the per-pass reads (NewActual, Status) cost little more than a
// scan of the bytes.
func parseSkim(data []byte, spec skimSpec) (value, error) {
	if len(data) == 0 {
		return value{}, fmt.Errorf("invalid JSON at offset 0: unexpected end of input")
	}
	// The parser only reads the document; every string it keeps is cloned
	// (p.alias), so nothing of data outlives this call.
	p := getParser(unsafe.String(&data[0], len(data)))
	p.alias = true
	defer putParser(p)
	p.skipWS()
	if p.pos >= len(p.data) || p.data[p.pos] != '{' {
		v, err := p.value()
		if err != nil {
			return value{}, err
		}
		return value{}, fmt.Errorf("app must be a JSON object, got %s", v.kind)
	}
	v, err := p.objectSpec(spec)
	if err != nil {
		return value{}, err
	}
	p.skipWS()
	if p.pos != len(p.data) {
		return value{}, p.errf("unexpected data after the top-level value")
	}
	return v, nil
}

// valueSpec builds the value at pos by spec (nil: fully).
func (p *parser) valueSpec(spec skimSpec) (value, error) {
	if spec == nil || p.pos >= len(p.data) {
		return p.value()
	}
	switch p.data[p.pos] {
	case '{':
		return p.objectSpec(spec)
	case '[':
		return p.arraySpec(spec["*"])
	}
	return p.value()
}

// parseObject parses data and requires a JSON object.
func parseObject(data []byte) (value, error) {
	v, err := parseJSON(data)
	if err != nil {
		return value{}, err
	}
	if v.kind != kindObject {
		return value{}, fmt.Errorf("app must be a JSON object, got %s", v.kind)
	}
	return v, nil
}

func (k kind) String() string {
	switch k {
	case kindNull:
		return "null"
	case kindBool:
		return "a boolean"
	case kindNumber:
		return "a number"
	case kindString:
		return "a string"
	case kindArray:
		return "an array"
	default:
		return "an object"
	}
}

func (p *parser) errf(format string, args ...any) error {
	return fmt.Errorf("invalid JSON at offset %d: %s", p.pos, fmt.Sprintf(format, args...))
}

func (p *parser) skipWS() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) value() (value, error) {
	if p.pos >= len(p.data) {
		return value{}, p.errf("unexpected end of input")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		s, err := p.str()
		return value{kind: kindString, str: s}, err
	case c == 't':
		return value{kind: kindBool, b: true}, p.literal("true")
	case c == 'f':
		return value{kind: kindBool}, p.literal("false")
	case c == 'n':
		return value{kind: kindNull}, p.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		n, err := p.number()
		return value{kind: kindNumber, str: n}, err
	default:
		return value{}, p.errf("unexpected character %q", c)
	}
}

func (p *parser) literal(word string) error {
	if !strings.HasPrefix(p.data[p.pos:], word) {
		return p.errf("invalid literal, expected %s", word)
	}
	p.pos += len(word)
	return nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.errf("nested deeper than %d", maxDepth)
	}
	return nil
}

func (p *parser) object() (value, error) { return p.objectSpec(nil) }

// objectSpec parses an object; with a spec, only the members it names are
// built (see skimSpec).
func (p *parser) objectSpec(spec skimSpec) (value, error) {
	if err := p.enter(); err != nil {
		return value{}, err
	}
	p.pos++ // '{'
	v := value{kind: kindObject}
	p.skipWS()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		p.depth--
		return v, nil
	}
	base := len(p.mstack)
	defer func() {
		p.hiM = max(p.hiM, len(p.mstack))
		p.mstack = p.mstack[:base]
	}()
	for {
		p.skipWS()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return value{}, p.errf("expected a string key")
		}
		key, err := p.rawStr()
		if err != nil {
			return value{}, err
		}
		p.skipWS()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return value{}, p.errf("expected ':' after object key")
		}
		p.pos++
		p.skipWS()
		sub, named := spec[key]
		if p.alias && (spec == nil || named) {
			key = strings.Clone(key)
		}
		if (spec != nil && !named) || (p.depth == 1 && p.skipTop[key]) {
			if err := p.skip(); err != nil {
				return value{}, err
			}
		} else {
			val, err := p.valueSpec(sub)
			if err != nil {
				return value{}, err
			}
			p.mstack = append(p.mstack, member{key: key, val: val})
		}
		p.skipWS()
		if p.pos >= len(p.data) {
			return value{}, p.errf("unexpected end of input in object")
		}
		if p.data[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.data[p.pos] == '}' {
			p.pos++
			break
		}
		return value{}, p.errf("expected ',' or '}' in object")
	}
	p.depth--
	v.obj = p.sortedMembers(p.mstack[base:])
	return v, nil
}

// sortedMembers returns a new slice of ms sorted by key, the last of
// duplicate keys kept. Sorting a permutation of indices and copying once
// keeps member moves (and GC write barriers) to one per member.
func (p *parser) sortedMembers(ms []member) []member {
	sorted := true
	for i := 1; i < len(ms); i++ {
		if ms[i-1].key >= ms[i].key {
			sorted = false
			break
		}
	}
	if sorted {
		return slices.Clone(ms)
	}
	idx := p.idx[:0]
	for i := range ms {
		idx = append(idx, int32(i))
	}
	slices.SortFunc(idx, func(a, b int32) int {
		if c := strings.Compare(ms[a].key, ms[b].key); c != 0 {
			return c
		}
		return int(a - b)
	})
	out := make([]member, 0, len(ms))
	for k, i := range idx {
		if k+1 < len(idx) && ms[idx[k+1]].key == ms[i].key {
			continue // a later duplicate wins
		}
		out = append(out, ms[i])
	}
	p.idx = idx[:0]
	return out
}

// skip validates the value at pos and moves past it without building it.
func (p *parser) skip() error {
	if p.pos >= len(p.data) {
		return p.errf("unexpected end of input")
	}
	switch c := p.data[p.pos]; {
	case c == '{', c == '[':
		if err := p.enter(); err != nil {
			return err
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		p.pos++
		p.skipWS()
		if p.pos < len(p.data) && p.data[p.pos] == closer {
			p.pos++
			p.depth--
			return nil
		}
		for {
			p.skipWS()
			if c == '{' {
				if p.pos >= len(p.data) || p.data[p.pos] != '"' {
					return p.errf("expected a string key")
				}
				if err := p.skipStr(); err != nil {
					return err
				}
				p.skipWS()
				if p.pos >= len(p.data) || p.data[p.pos] != ':' {
					return p.errf("expected ':' after object key")
				}
				p.pos++
				p.skipWS()
			}
			if err := p.skip(); err != nil {
				return err
			}
			p.skipWS()
			if p.pos >= len(p.data) {
				return p.errf("unexpected end of input")
			}
			if p.data[p.pos] == ',' {
				p.pos++
				continue
			}
			if p.data[p.pos] == closer {
				p.pos++
				p.depth--
				return nil
			}
			return p.errf("expected ',' or %q", closer)
		}
	case c == '"':
		return p.skipStr()
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		_, err := p.number()
		return err
	default:
		return p.errf("unexpected character %q", c)
	}
}

// skipStr validates a string without building it (escapes rarely occur;
// then the full decoder checks them).
func (p *parser) skipStr() error {
	start := p.pos + 1
	rest := p.data[start:]
	end := strings.IndexByte(rest, '"')
	if end >= 0 && strings.IndexByte(rest[:end], '\\') < 0 {
		if i := ctlAt(rest[:end]); i >= 0 {
			p.pos = start + i
			return p.errf("control character in string")
		}
		p.pos = start + end + 1
		return nil
	}
	_, err := p.str()
	return err
}

// sortMembers sorts by key (stable) and keeps the last of duplicate keys.
func sortMembers(ms []member) []member {
	sorted := true
	for i := 1; i < len(ms); i++ {
		if ms[i-1].key >= ms[i].key {
			sorted = false
			break
		}
	}
	if sorted {
		return ms
	}
	slices.SortStableFunc(ms, func(a, b member) int { return strings.Compare(a.key, b.key) })
	out := ms[:0]
	for i := range ms {
		if i+1 < len(ms) && ms[i+1].key == ms[i].key {
			continue // a later duplicate wins
		}
		out = append(out, ms[i])
	}
	return out
}

func (p *parser) array() (value, error) { return p.arraySpec(nil) }

// arraySpec parses an array building each element by spec (nil: fully).
func (p *parser) arraySpec(spec skimSpec) (value, error) {
	if err := p.enter(); err != nil {
		return value{}, err
	}
	p.pos++ // '['
	v := value{kind: kindArray}
	p.skipWS()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		p.depth--
		return v, nil
	}
	base := len(p.vstack)
	defer func() {
		p.hiV = max(p.hiV, len(p.vstack))
		p.vstack = p.vstack[:base]
	}()
	for {
		p.skipWS()
		el, err := p.valueSpec(spec)
		if err != nil {
			return value{}, err
		}
		p.vstack = append(p.vstack, el)
		p.skipWS()
		if p.pos >= len(p.data) {
			return value{}, p.errf("unexpected end of input in array")
		}
		if p.data[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.data[p.pos] == ']' {
			p.pos++
			break
		}
		return value{}, p.errf("expected ',' or ']' in array")
	}
	p.depth--
	v.arr = slices.Clone(p.vstack[base:])
	return v, nil
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// ctlAt returns the index of the first byte below 0x20, or -1.
func ctlAt(seg string) int {
	i := 0
	for ; i+8 <= len(seg); i += 8 {
		x := uint64(seg[i]) | uint64(seg[i+1])<<8 | uint64(seg[i+2])<<16 | uint64(seg[i+3])<<24 |
			uint64(seg[i+4])<<32 | uint64(seg[i+5])<<40 | uint64(seg[i+6])<<48 | uint64(seg[i+7])<<56
		if (x-0x20*ones)&^x&highs != 0 {
			break
		}
	}
	for ; i < len(seg); i++ {
		if seg[i] < 0x20 {
			return i
		}
	}
	return -1
}

// str parses a string starting at the opening quote.
func (p *parser) str() (string, error) {
	s, err := p.rawStr()
	if err == nil && p.alias {
		s = strings.Clone(s)
	}
	return s, err
}

// rawStr is str without the clone: the result may alias the document.
func (p *parser) rawStr() (string, error) {
	start := p.pos + 1
	rest := p.data[start:]
	end := strings.IndexByte(rest, '"')
	if end < 0 {
		p.pos = len(p.data)
		return "", p.errf("unterminated string")
	}
	seg := rest[:end]
	if strings.IndexByte(seg, '\\') < 0 {
		if i := ctlAt(seg); i >= 0 {
			p.pos = start + i
			return "", p.errf("control character in string")
		}
		p.pos = start + end + 1
		return seg, nil
	}
	return p.strSlow(start)
}

func (p *parser) strSlow(start int) (string, error) {
	var b strings.Builder
	i := start
	for {
		if i >= len(p.data) {
			p.pos = i
			return "", p.errf("unterminated string")
		}
		c := p.data[i]
		switch {
		case c == '"':
			p.pos = i + 1
			return b.String(), nil
		case c < 0x20:
			p.pos = i
			return "", p.errf("control character in string")
		case c != '\\':
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(p.data) {
			p.pos = i
			return "", p.errf("unterminated escape")
		}
		switch e := p.data[i+1]; e {
		case '"', '\\', '/':
			b.WriteByte(e)
			i += 2
		case 'b':
			b.WriteByte('\b')
			i += 2
		case 'f':
			b.WriteByte('\f')
			i += 2
		case 'n':
			b.WriteByte('\n')
			i += 2
		case 'r':
			b.WriteByte('\r')
			i += 2
		case 't':
			b.WriteByte('\t')
			i += 2
		case 'u':
			r, ok := hex4(p.data, i+2)
			if !ok {
				p.pos = i
				return "", p.errf("invalid \\u escape")
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if r2, ok2 := hex4(p.data, i+2); ok2 && i+1 < len(p.data) && p.data[i] == '\\' && p.data[i+1] == 'u' {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						b.WriteRune(dec)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			b.WriteRune(r)
		default:
			p.pos = i
			return "", p.errf("invalid escape %q", e)
		}
	}
}

func hex4(data string, at int) (rune, bool) {
	if at+4 > len(data) {
		return 0, false
	}
	var r rune
	for i := at; i < at+4; i++ {
		c := data[i]
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// number parses an RFC 8259 number and returns its literal text.
func (p *parser) number() (string, error) {
	d := p.data
	i := p.pos
	if d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		p.pos = i
		return "", p.errf("invalid number")
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			p.pos = i
			return "", p.errf("invalid number: digit expected after '.'")
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			p.pos = i
			return "", p.errf("invalid number: digit expected in exponent")
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	s := d[p.pos:i]
	p.pos = i
	if p.alias {
		s = strings.Clone(s)
	}
	return s, nil
}

// ---- tree helpers ----

func (v *value) find(key string) int {
	i, ok := slices.BinarySearchFunc(v.obj, key, func(m member, k string) int { return strings.Compare(m.key, k) })
	if !ok {
		return -1
	}
	return i
}

// get returns the member value for key, or nil when v is not an object or
// has no such member.
func (v *value) get(key string) *value {
	if v == nil || v.kind != kindObject {
		return nil
	}
	if i := v.find(key); i >= 0 {
		return &v.obj[i].val
	}
	return nil
}

// set inserts or replaces a member of an object.
func (v *value) set(key string, val value) {
	i, ok := slices.BinarySearchFunc(v.obj, key, func(m member, k string) int { return strings.Compare(m.key, k) })
	if ok {
		v.obj[i].val = val
		return
	}
	v.obj = slices.Insert(v.obj, i, member{key: key, val: val})
}

// del removes a member of an object.
func (v *value) del(key string) {
	if v == nil || v.kind != kindObject {
		return
	}
	if i := v.find(key); i >= 0 {
		v.obj = slices.Delete(v.obj, i, i+1)
	}
}

// getString returns the string at key, and whether it is a string.
func (v *value) getString(key string) (string, bool) {
	m := v.get(key)
	if m == nil || m.kind != kindString {
		return "", false
	}
	return m.str, true
}

// getNumber returns the number at key as float64, and whether it is one.
func (v *value) getNumber(key string) (float64, bool) {
	m := v.get(key)
	if m == nil || m.kind != kindNumber {
		return 0, false
	}
	f, err := strconv.ParseFloat(m.str, 64)
	return f, err == nil
}

func (v *value) isEmptyCollection() bool {
	return (v.kind == kindArray && len(v.arr) == 0) || (v.kind == kindObject && len(v.obj) == 0)
}

// clone returns a deep copy (strings are immutable and shared).
func (v value) clone() value {
	switch v.kind {
	case kindArray:
		arr := make([]value, len(v.arr))
		for i := range v.arr {
			arr[i] = v.arr[i].clone()
		}
		v.arr = arr
	case kindObject:
		obj := make([]member, len(v.obj))
		for i := range v.obj {
			obj[i] = member{key: v.obj[i].key, val: v.obj[i].val.clone()}
		}
		v.obj = obj
	}
	return v
}

func str(s string) value          { return value{kind: kindString, str: s} }
func num(lit string) value        { return value{kind: kindNumber, str: lit} }
func boolean(b bool) value        { return value{kind: kindBool, b: b} }
func obj(ms ...member) value      { return value{kind: kindObject, obj: sortMembers(ms)} }
func arr(vs ...value) value       { return value{kind: kindArray, arr: append([]value{}, vs...)} }
func kv(k string, v value) member { return member{key: k, val: v} }

// ---- canonical encoding ----

// encode writes v compactly with sorted keys (they are kept sorted), strings
// escaped minimally (", \, control characters; never <, > or &) and numbers
// as written. This is the canonical form hashed by Hash: changing it changes
// every hash, so it is frozen.
func (v *value) encode(b []byte) []byte {
	switch v.kind {
	case kindNull:
		return append(b, "null"...)
	case kindBool:
		if v.b {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case kindNumber:
		return append(b, v.str...)
	case kindString:
		return appendQuoted(b, v.str)
	case kindArray:
		b = append(b, '[')
		for i := range v.arr {
			if i > 0 {
				b = append(b, ',')
			}
			b = v.arr[i].encode(b)
		}
		return append(b, ']')
	default:
		b = append(b, '{')
		for i := range v.obj {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendQuoted(b, v.obj[i].key)
			b = append(b, ':')
			b = v.obj[i].val.encode(b)
		}
		return append(b, '}')
	}
}

func (v *value) bytes() []byte { return v.encode(nil) }

const hexDigits = "0123456789abcdef"

// appendQuoted appends s as a JSON string. Only what JSON requires is
// escaped: the Go encoder's HTML escaping of <, > and & is deliberately not
// done.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
