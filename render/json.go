package render

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// This file is a small JSON model that keeps what encoding/json loses and
// Cosmos keeps: the order of object members and the exact text of numbers.
// Strings are printed the way circe (Cosmos's JSON library) prints them:
// only `"`, `\` and control characters are escaped; `<`, `>`, `&`, U+2028
// and non-ASCII text are written as they are.

// kind is the type of a JSON value.
type kind uint8

const (
	kNull kind = iota
	kBool
	kNumber
	kString
	kArray
	kObject
)

func (k kind) String() string {
	return [...]string{"null", "boolean", "number", "string", "array", "object"}[k]
}

// value is a JSON value. Values are never modified after construction, so
// they may be shared (between goroutines too).
type value struct {
	k   kind
	b   bool
	s   string // string value, or the number's source text
	arr []value
	obj *object
}

// member is one object member.
type member struct {
	key string
	val value
}

// object is an ordered JSON object.
type object struct {
	members []member
	index   map[string]int // set when large
}

const indexThreshold = 12

func newObject(members []member) *object {
	o := &object{members: members}
	if len(members) > indexThreshold {
		o.index = make(map[string]int, len(members))
		for i, m := range members {
			o.index[m.key] = i
		}
	}
	return o
}

// get returns the member's value and whether the key is present.
func (o *object) get(key string) (value, bool) {
	if o == nil {
		return value{}, false
	}
	if o.index != nil {
		i, ok := o.index[key]
		if !ok {
			return value{}, false
		}
		return o.members[i].val, true
	}
	for i := range o.members {
		if o.members[i].key == key {
			return o.members[i].val, true
		}
	}
	return value{}, false
}

func (o *object) len() int {
	if o == nil {
		return 0
	}
	return len(o.members)
}

var (
	nullValue   = value{k: kNull}
	emptyObject = value{k: kObject, obj: newObject(nil)}
)

func objectValue(members []member) value { return value{k: kObject, obj: newObject(members)} }
func stringValue(s string) value         { return value{k: kString, s: s} }

// ---------------------------------------------------------------- parsing

// syntaxError is a JSON syntax error at a byte offset.
type syntaxError struct {
	msg    string
	offset int
}

func (e *syntaxError) Error() string { return e.msg }

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 1000

type parser struct {
	data  []byte
	pos   int
	depth int

	// Scratch stacks for the members and items of the containers being
	// parsed: each container gets one exactly-sized slice at its end.
	members []member
	items   []value
	// arena holds the text of the document's strings and numbers: one
	// allocation instead of one per string. Strings point into it; it is
	// only ever appended to, so they never change.
	arena []byte
}

// parseJSON parses one JSON document (surrounding whitespace allowed).
// Duplicate keys keep the first position and the last value, as circe does.
func parseJSON(data []byte) (value, error) {
	p := parser{data: data}
	if len(data) > 64 {
		p.arena = make([]byte, 0, len(data))
	}
	p.skipSpace()
	v, err := p.value()
	if err != nil {
		return value{}, err
	}
	p.skipSpace()
	if p.pos < len(p.data) {
		return value{}, p.errorf("invalid character %s after top-level value", p.quoteChar())
	}
	return v, nil
}

func (p *parser) errorf(format string, args ...any) error {
	return &syntaxError{msg: fmt.Sprintf(format, args...), offset: p.pos}
}

func (p *parser) quoteChar() string {
	if p.pos >= len(p.data) {
		return "end of input"
	}
	r, _ := utf8.DecodeRune(p.data[p.pos:])
	if r == utf8.RuneError {
		return fmt.Sprintf("byte 0x%02x", p.data[p.pos])
	}
	return strconv.QuoteRune(r)
}

func (p *parser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
			// Indentation: eight spaces at a time.
			for p.pos+8 <= len(p.data) && binary.LittleEndian.Uint64(p.data[p.pos:]) == ones*' ' {
				p.pos += 8
			}
		default:
			return
		}
	}
}

// SWAR constants: a byte repeated over a 64-bit word.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// specialBytes has the high bit of each byte of w set (and possibly of
// some bytes after it) where w has '"', '\\', a control character (< 0x20)
// or a non-ASCII byte (>= 0x80); it is zero when w has none.
func specialBytes(w uint64) uint64 {
	quote := w ^ (ones * '"')
	back := w ^ (ones * '\\')
	// (x - ones) &^ x & highs is non-zero when a byte of x is zero;
	// (w - ones*0x20) &^ w & highs when a byte of w is below 0x20.
	return (((quote - ones) &^ quote) | ((back - ones) &^ back) | ((w - ones*0x20) &^ w) | w) & highs
}

func (p *parser) value() (value, error) {
	if p.pos >= len(p.data) {
		return value{}, p.errorf("unexpected end of input, expecting a value")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		s, err := p.string()
		return value{k: kString, s: s}, err
	case c == 't':
		return p.literal("true", value{k: kBool, b: true})
	case c == 'f':
		return p.literal("false", value{k: kBool})
	case c == 'n':
		return p.literal("null", nullValue)
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	default:
		return value{}, p.errorf("invalid character %s looking for the beginning of a value", p.quoteChar())
	}
}

func (p *parser) literal(word string, v value) (value, error) {
	if len(p.data)-p.pos >= len(word) && string(p.data[p.pos:p.pos+len(word)]) == word {
		p.pos += len(word)
		return v, nil
	}
	for i := 0; i < len(word); i++ {
		if p.pos >= len(p.data) {
			return value{}, p.errorf("unexpected end of input in literal %s", word)
		}
		if p.data[p.pos] != word[i] {
			return value{}, p.errorf("invalid character %s in literal %s", p.quoteChar(), word)
		}
		p.pos++
	}
	return v, nil
}

func (p *parser) number() (value, error) {
	start := p.pos
	if p.data[p.pos] == '-' {
		p.pos++
	}
	digits := func() int {
		n := 0
		for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	if p.pos < len(p.data) && p.data[p.pos] == '0' {
		p.pos++
	} else if digits() == 0 {
		return value{}, p.errorf("invalid character %s in number", p.quoteChar())
	}
	if p.pos < len(p.data) && p.data[p.pos] == '.' {
		p.pos++
		if digits() == 0 {
			return value{}, p.errorf("invalid character %s after decimal point in number", p.quoteChar())
		}
	}
	if p.pos < len(p.data) && (p.data[p.pos] == 'e' || p.data[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.data) && (p.data[p.pos] == '+' || p.data[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			return value{}, p.errorf("invalid character %s in exponent of number", p.quoteChar())
		}
	}
	return value{k: kNumber, s: p.intern(p.data[start:p.pos])}, nil
}

// intern returns b as a string kept in the arena (a fresh string when the
// arena is full).
func (p *parser) intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(p.arena)+len(b) > cap(p.arena) {
		return string(b)
	}
	start := len(p.arena)
	p.arena = append(p.arena, b...)
	return unsafe.String(&p.arena[start], len(b))
}

func (p *parser) string() (string, error) {
	p.pos++ // opening quote
	start := p.pos
	// Fast path: no escapes, valid UTF-8 (eight ASCII bytes at a time).
	ascii := true
	for p.pos < len(p.data) {
		for p.pos+8 <= len(p.data) && specialBytes(binary.LittleEndian.Uint64(p.data[p.pos:])) == 0 {
			p.pos += 8
		}
		if p.pos >= len(p.data) {
			break
		}
		c := p.data[p.pos]
		if c == '"' {
			s := p.data[start:p.pos]
			p.pos++
			if ascii || utf8.Valid(s) {
				return p.intern(s), nil
			}
			return string([]rune(string(s))), nil // invalid bytes become U+FFFD
		}
		if c == '\\' || c < 0x20 {
			break
		}
		if c >= 0x80 {
			ascii = false
		}
		p.pos++
	}
	buf := make([]byte, 0, p.pos-start+16)
	buf = append(buf, p.data[start:p.pos]...)
	for {
		if p.pos >= len(p.data) {
			return "", p.errorf("unexpected end of input in string")
		}
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			if utf8.Valid(buf) {
				return p.intern(buf), nil
			}
			return string([]rune(string(buf))), nil
		case c < 0x20:
			return "", p.errorf("invalid control character %q in string", rune(c))
		case c != '\\':
			buf = append(buf, c)
			p.pos++
			continue
		}
		p.pos++
		if p.pos >= len(p.data) {
			return "", p.errorf("unexpected end of input in string escape")
		}
		e := p.data[p.pos]
		p.pos++
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.errorf("invalid \\u escape in string")
			}
			if utf16IsHigh(r) && p.pos+6 <= len(p.data) && p.data[p.pos] == '\\' && p.data[p.pos+1] == 'u' {
				save := p.pos
				p.pos += 2
				if r2, ok := p.hex4(); ok && utf16IsLow(r2) {
					r = 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00)
				} else {
					p.pos = save
				}
			}
			buf = utf8.AppendRune(buf, r) // lone surrogates become U+FFFD
		default:
			p.pos--
			return "", p.errorf("invalid escape character %s in string", p.quoteChar())
		}
	}
}

func utf16IsHigh(r rune) bool { return r >= 0xD800 && r < 0xDC00 }
func utf16IsLow(r rune) bool  { return r >= 0xDC00 && r < 0xE000 }

func (p *parser) hex4() (rune, bool) {
	if p.pos+4 > len(p.data) {
		return 0, false
	}
	var r rune
	for i := 0; i < 4; i++ {
		c := p.data[p.pos+i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	p.pos += 4
	return r, true
}

func (p *parser) array() (value, error) {
	p.depth++
	if p.depth > maxDepth {
		return value{}, p.errorf("nesting deeper than %d levels", maxDepth)
	}
	p.pos++
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		p.depth--
		return value{k: kArray, arr: []value{}}, nil
	}
	base := len(p.items)
	for {
		p.skipSpace()
		v, err := p.value()
		if err != nil {
			return value{}, err
		}
		p.items = append(p.items, v)
		p.skipSpace()
		if p.pos >= len(p.data) {
			return value{}, p.errorf("unexpected end of input in array")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			p.depth--
			items := make([]value, len(p.items)-base)
			copy(items, p.items[base:])
			clear(p.items[base:])
			p.items = p.items[:base]
			return value{k: kArray, arr: items}, nil
		default:
			return value{}, p.errorf("invalid character %s after array element", p.quoteChar())
		}
	}
}

func (p *parser) object() (value, error) {
	p.depth++
	if p.depth > maxDepth {
		return value{}, p.errorf("nesting deeper than %d levels", maxDepth)
	}
	p.pos++
	var seen map[string]int
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		p.depth--
		return objectValue(nil), nil
	}
	base := len(p.members)
	for {
		p.skipSpace()
		if p.pos >= len(p.data) {
			return value{}, p.errorf("unexpected end of input in object")
		}
		if p.data[p.pos] != '"' {
			return value{}, p.errorf("invalid character %s looking for the beginning of an object key", p.quoteChar())
		}
		key, err := p.string()
		if err != nil {
			return value{}, err
		}
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return value{}, p.errorf("invalid character %s after object key", p.quoteChar())
		}
		p.pos++
		p.skipSpace()
		v, err := p.value()
		if err != nil {
			return value{}, err
		}
		members := p.members[base:]
		if len(members) >= 8 && seen == nil {
			seen = make(map[string]int, 16)
			for i, m := range members {
				seen[m.key] = i
			}
		}
		dup := -1
		if seen != nil {
			if i, ok := seen[key]; ok {
				dup = i
			}
		} else {
			for i := range members {
				if members[i].key == key {
					dup = i
					break
				}
			}
		}
		if dup >= 0 {
			members[dup].val = v
		} else {
			if seen != nil {
				seen[key] = len(members)
			}
			p.members = append(p.members, member{key: key, val: v})
		}
		p.skipSpace()
		if p.pos >= len(p.data) {
			return value{}, p.errorf("unexpected end of input in object")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			p.depth--
			out := make([]member, len(p.members)-base)
			copy(out, p.members[base:])
			clear(p.members[base:])
			p.members = p.members[:base]
			return objectValue(out), nil
		default:
			return value{}, p.errorf("invalid character %s after object key:value pair", p.quoteChar())
		}
	}
}

// ---------------------------------------------------------------- printing

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string the way circe prints it: `"`,
// `\`, \b \f \n \r \t escaped by name, other ISO control characters
// (U+0000-U+001F, U+007F-U+009F) as \u00xx, everything else as is.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendStringBody(dst, s)
	return append(dst, '"')
}

// appendStringBody is appendString without the quotes.
func appendStringBody(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		// Eight printable ASCII bytes at a time (DEL is escaped).
		for i+8 <= len(s) {
			w := loadString64(s[i:])
			del := w ^ (ones * 0x7f)
			if specialBytes(w)|((del-ones)&^del&highs) != 0 {
				break
			}
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < 0x7f {
			i++
			continue
		}
		if c >= 0x80 {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r >= 0x80 && r <= 0x9f {
				dst = append(dst, s[start:i]...)
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&0xf])
				i += size
				start = i
				continue
			}
			i += size
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default: // other control characters and DEL
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	return append(dst, s[start:]...)
}

// loadString64 reads the first eight bytes of s (len(s) >= 8) as a
// little-endian word.
func loadString64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// appendCompact appends v as compact JSON. With dropNulls, object members
// whose value is null are left out at every level (circe's dropNullValues).
func appendCompact(dst []byte, v value, dropNulls bool) []byte {
	switch v.k {
	case kNull:
		return append(dst, "null"...)
	case kBool:
		if v.b {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case kNumber:
		return append(dst, v.s...)
	case kString:
		return appendString(dst, v.s)
	case kArray:
		dst = append(dst, '[')
		for i, it := range v.arr {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendCompact(dst, it, dropNulls)
		}
		return append(dst, ']')
	default:
		dst = append(dst, '{')
		n := 0
		for _, m := range v.obj.members {
			if dropNulls && m.val.k == kNull {
				continue
			}
			if n > 0 {
				dst = append(dst, ',')
			}
			n++
			dst = appendString(dst, m.key)
			dst = append(dst, ':')
			dst = appendCompact(dst, m.val, dropNulls)
		}
		return append(dst, '}')
	}
}

// appendIndent appends v as indented JSON (two spaces), for people.
func appendIndent(dst []byte, v value, depth int) []byte {
	nl := func(d int) {
		dst = append(dst, '\n')
		for i := 0; i < d; i++ {
			dst = append(dst, ' ', ' ')
		}
	}
	switch v.k {
	case kArray:
		if len(v.arr) == 0 {
			return append(dst, "[]"...)
		}
		dst = append(dst, '[')
		for i, it := range v.arr {
			if i > 0 {
				dst = append(dst, ',')
			}
			nl(depth + 1)
			dst = appendIndent(dst, it, depth+1)
		}
		nl(depth)
		return append(dst, ']')
	case kObject:
		if v.obj.len() == 0 {
			return append(dst, "{}"...)
		}
		dst = append(dst, '{')
		for i, m := range v.obj.members {
			if i > 0 {
				dst = append(dst, ',')
			}
			nl(depth + 1)
			dst = appendString(dst, m.key)
			dst = append(dst, ':', ' ')
			dst = appendIndent(dst, m.val, depth+1)
		}
		nl(depth)
		return append(dst, '}')
	default:
		return appendCompact(dst, v, false)
	}
}

// Indent re-indents a JSON document with two spaces per level, keeping
// member order, number text and unescaped characters (unlike json.Indent
// on re-encoded data, nothing is HTML-escaped). For printing apps to people.
func Indent(doc []byte) ([]byte, error) {
	v, err := parseJSON(doc)
	if err != nil {
		return nil, err
	}
	return append(appendIndent(nil, v, 0), '\n'), nil
}

// ---------------------------------------------------------------- merging

// deepMerge merges fragment into target as Cosmos's JsonUtil.merge does:
// for each member of fragment, in order, two objects merge recursively and
// anything else from fragment replaces; replaced keys keep their position,
// new keys are appended. Neither input is modified.
func deepMerge(target, fragment value) value {
	if target.k != kObject || fragment.k != kObject {
		return fragment
	}
	if fragment.obj.len() == 0 {
		return target
	}
	out := make([]member, len(target.obj.members), len(target.obj.members)+len(fragment.obj.members))
	copy(out, target.obj.members)
	pos := make(map[string]int, len(out))
	for i, m := range out {
		pos[m.key] = i
	}
	for _, fm := range fragment.obj.members {
		if i, ok := pos[fm.key]; ok {
			if out[i].val.k == kObject && fm.val.k == kObject {
				out[i].val = deepMerge(out[i].val, fm.val)
			} else {
				out[i].val = fm.val
			}
			continue
		}
		pos[fm.key] = len(out)
		out = append(out, fm)
	}
	return objectValue(out)
}

// ---------------------------------------------------------------- conversion

// toAny converts v to the form jsonschema/v6 validates: map[string]any,
// []any, json.Number, string, bool, nil.
func toAny(v value) any {
	switch v.k {
	case kNull:
		return nil
	case kBool:
		return v.b
	case kNumber:
		return json.Number(v.s)
	case kString:
		return v.s
	case kArray:
		out := make([]any, len(v.arr))
		for i, it := range v.arr {
			out[i] = toAny(it)
		}
		return out
	default:
		out := make(map[string]any, v.obj.len())
		for _, m := range v.obj.members {
			out[m.key] = toAny(m.val)
		}
		return out
	}
}

// lineColumn converts a byte offset into a 1-based line and column (in
// characters).
func lineColumn(data []byte, offset int) (line, col int) {
	if offset > len(data) {
		offset = len(data)
	}
	line, col = 1, 1
	for i := 0; i < offset; {
		if data[i] == '\n' {
			line++
			col = 1
			i++
			continue
		}
		_, size := utf8.DecodeRune(data[i:])
		i += size
		col++
	}
	return line, col
}
