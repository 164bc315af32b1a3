package universe

import (
	"encoding/binary"
	"encoding/json"
	"unicode/utf16"
	"unicode/utf8"
)

// validJSON reports whether data is exactly one JSON value (surrounding
// whitespace allowed), like json.Valid, without allocating. Loaders use it
// to reject malformed files; it is several times faster than json.Valid on
// the Universe's large config.json files.
func validJSON(data []byte) bool {
	v := validator{data: data, maxDepth: maxValidDepth}
	v.space()
	if !v.value(0) {
		return false
	}
	v.space()
	return v.pos == len(v.data)
}

type validator struct {
	data     []byte
	pos      int
	maxDepth int
}

const maxValidDepth = 10000

// safeDepth bounds the nesting the fast splitters accept: well below
// encoding/json's limit, so that whatever they accept encoding/json accepts
// too (deeper documents take the encoding/json path and its errors).
const safeDepth = 5000

// isSpace marks JSON whitespace.
var isSpace = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}

func (v *validator) space() {
	for v.pos < len(v.data) && isSpace[v.data[v.pos]] {
		v.pos++
		// Indentation: eight spaces at a time.
		for v.pos+8 <= len(v.data) && binary.LittleEndian.Uint64(v.data[v.pos:]) == ones*' ' {
			v.pos += 8
		}
	}
}

func (v *validator) value(depth int) bool {
	if v.pos >= len(v.data) || depth > v.maxDepth {
		return false
	}
	switch c := v.data[v.pos]; {
	case c == '"':
		return v.str()
	case c == '{':
		v.pos++
		v.space()
		if v.pos < len(v.data) && v.data[v.pos] == '}' {
			v.pos++
			return true
		}
		for {
			v.space()
			if v.pos >= len(v.data) || v.data[v.pos] != '"' || !v.str() {
				return false
			}
			v.space()
			if v.pos >= len(v.data) || v.data[v.pos] != ':' {
				return false
			}
			v.pos++
			v.space()
			if !v.value(depth + 1) {
				return false
			}
			v.space()
			if v.pos >= len(v.data) {
				return false
			}
			switch v.data[v.pos] {
			case ',':
				v.pos++
			case '}':
				v.pos++
				return true
			default:
				return false
			}
		}
	case c == '[':
		v.pos++
		v.space()
		if v.pos < len(v.data) && v.data[v.pos] == ']' {
			v.pos++
			return true
		}
		for {
			v.space()
			if !v.value(depth + 1) {
				return false
			}
			v.space()
			if v.pos >= len(v.data) {
				return false
			}
			switch v.data[v.pos] {
			case ',':
				v.pos++
			case ']':
				v.pos++
				return true
			default:
				return false
			}
		}
	case c == 't':
		return v.lit("true")
	case c == 'f':
		return v.lit("false")
	case c == 'n':
		return v.lit("null")
	case c == '-' || c >= '0' && c <= '9':
		return v.num()
	}
	return false
}

func (v *validator) lit(word string) bool {
	if len(v.data)-v.pos < len(word) || string(v.data[v.pos:v.pos+len(word)]) != word {
		return false
	}
	v.pos += len(word)
	return true
}

func (v *validator) digits() int {
	n := 0
	for v.pos < len(v.data) && v.data[v.pos] >= '0' && v.data[v.pos] <= '9' {
		v.pos++
		n++
	}
	return n
}

func (v *validator) num() bool {
	if v.data[v.pos] == '-' {
		v.pos++
	}
	if v.pos < len(v.data) && v.data[v.pos] == '0' {
		v.pos++
	} else if v.digits() == 0 {
		return false
	}
	if v.pos < len(v.data) && v.data[v.pos] == '.' {
		v.pos++
		if v.digits() == 0 {
			return false
		}
	}
	if v.pos < len(v.data) && (v.data[v.pos] == 'e' || v.data[v.pos] == 'E') {
		v.pos++
		if v.pos < len(v.data) && (v.data[v.pos] == '+' || v.data[v.pos] == '-') {
			v.pos++
		}
		if v.digits() == 0 {
			return false
		}
	}
	return true
}

// SWAR constants: a byte repeated over a 64-bit word.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// plainWord reports whether none of the 8 bytes of w is '"', '\\' or a
// control character (< 0x20): the bytes a JSON string scan must look at.
func plainWord(w uint64) bool {
	quote := w ^ (ones * '"')
	back := w ^ (ones * '\\')
	// (x - ones) &^ x & highs is non-zero when a byte of x is zero;
	// (w - ones*0x20) &^ w & highs is non-zero when a byte of w is < 0x20.
	special := ((quote - ones) &^ quote) | ((back - ones) &^ back) | ((w - ones*0x20) &^ w)
	return special&highs == 0
}

// str checks a string; like encoding/json it accepts any bytes >= 0x20
// (invalid UTF-8 included) and requires valid escapes.
func (v *validator) str() bool {
	v.pos++
	for v.pos < len(v.data) {
		// Skip eight ordinary bytes at a time.
		for v.pos+8 <= len(v.data) && plainWord(binary.LittleEndian.Uint64(v.data[v.pos:])) {
			v.pos += 8
		}
		if v.pos >= len(v.data) {
			break
		}
		c := v.data[v.pos]
		switch {
		case c == '"':
			v.pos++
			return true
		case c < 0x20:
			return false
		case c == '\\':
			v.pos++
			if v.pos >= len(v.data) {
				return false
			}
			switch v.data[v.pos] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				v.pos++
			case 'u':
				if len(v.data)-v.pos < 5 {
					return false
				}
				for _, h := range v.data[v.pos+1 : v.pos+5] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return false
					}
				}
				v.pos += 5
			default:
				return false
			}
		default:
			v.pos++
		}
	}
	return false
}

// splitObject splits data, when it is one valid JSON object (surrounding
// whitespace allowed, nesting at most safeDepth), into its members in
// order: each key decoded, its source text (quotes included) and the
// value's source text. ok is false for anything else; callers then use
// encoding/json, whose errors they report. It reads data once.
func splitObject(data []byte) (members []member, ok bool) {
	v := validator{data: data, maxDepth: safeDepth}
	v.space()
	if v.pos >= len(data) || data[v.pos] != '{' {
		return nil, false
	}
	v.pos++
	v.space()
	if v.pos < len(data) && data[v.pos] == '}' {
		v.pos++
	} else {
		for {
			v.space()
			ks := v.pos
			if v.pos >= len(data) || data[v.pos] != '"' || !v.str() {
				return nil, false
			}
			rawKey := data[ks:v.pos:v.pos]
			v.space()
			if v.pos >= len(data) || data[v.pos] != ':' {
				return nil, false
			}
			v.pos++
			v.space()
			vs := v.pos
			if !v.value(1) {
				return nil, false
			}
			key, err := unquote(rawKey)
			if err != nil {
				return nil, false
			}
			members = append(members, member{key: key, rawKey: rawKey, value: json.RawMessage(data[vs:v.pos:v.pos])})
			v.space()
			if v.pos >= len(data) {
				return nil, false
			}
			if data[v.pos] == ',' {
				v.pos++
				continue
			}
			if data[v.pos] != '}' {
				return nil, false
			}
			v.pos++
			break
		}
	}
	v.space()
	if v.pos != len(data) {
		return nil, false
	}
	return members, true
}

// splitArray splits raw, one valid JSON array (as a member value of a
// document splitObject accepted), into its elements' source text; ok is
// false when raw is anything else.
func splitArray(raw []byte) (items []json.RawMessage, ok bool) {
	v := validator{data: raw, maxDepth: safeDepth}
	if len(raw) == 0 || raw[0] != '[' {
		return nil, false
	}
	v.pos++
	v.space()
	if v.pos < len(raw) && raw[v.pos] == ']' {
		v.pos++
		return []json.RawMessage{}, v.pos == len(raw)
	}
	for {
		v.space()
		vs := v.pos
		if !v.value(1) {
			return nil, false
		}
		items = append(items, json.RawMessage(raw[vs:v.pos:v.pos]))
		v.space()
		if v.pos >= len(raw) {
			return nil, false
		}
		if raw[v.pos] == ',' {
			v.pos++
			continue
		}
		if raw[v.pos] != ']' {
			return nil, false
		}
		v.pos++
		return items, v.pos == len(raw)
	}
}

// unquote decodes a JSON string's source text (quotes included) exactly
// as json.Unmarshal does (escapes decoded, invalid UTF-8 and lone
// surrogates become U+FFFD), without reflection. Anything but a well-formed
// string is left to json.Unmarshal for its error.
func unquote(raw []byte) (string, error) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return unquoteSlow(raw)
	}
	body := raw[1 : len(raw)-1]
	i := 0
	for i+8 <= len(body) && plainWord(binary.LittleEndian.Uint64(body[i:])) {
		i += 8
	}
	for i < len(body) && body[i] != '\\' && body[i] != '"' && body[i] >= 0x20 {
		i++
	}
	if i == len(body) && utf8.Valid(body) {
		return string(body), nil
	}
	if i < len(body) && body[i] != '\\' {
		return unquoteSlow(raw) // a bare quote or control character
	}
	buf := make([]byte, 0, len(body)+8)
	for r := 0; r < len(body); {
		c := body[r]
		switch {
		case c == '\\':
			if r+1 >= len(body) {
				return unquoteSlow(raw)
			}
			switch e := body[r+1]; e {
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
				rr := hex4(body[r+2:])
				if rr < 0 {
					return unquoteSlow(raw)
				}
				r += 6
				if utf16.IsSurrogate(rr) {
					if r+1 < len(body) && body[r] == '\\' && body[r+1] == 'u' {
						if rr1 := hex4(body[r+2:]); rr1 >= 0 {
							if dec := utf16.DecodeRune(rr, rr1); dec != utf8.RuneError {
								r += 6
								buf = utf8.AppendRune(buf, dec)
								continue
							}
						}
					}
					rr = utf8.RuneError
				}
				buf = utf8.AppendRune(buf, rr)
				continue
			default:
				return unquoteSlow(raw)
			}
			r += 2
		case c == '"' || c < 0x20:
			return unquoteSlow(raw)
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			r++
		default:
			rr, size := utf8.DecodeRune(body[r:])
			if rr == utf8.RuneError && size == 1 {
				buf = utf8.AppendRune(buf, utf8.RuneError)
			} else {
				buf = append(buf, body[r:r+size]...)
			}
			r += size
		}
	}
	return string(buf), nil
}

// hex4 reads four hex digits, -1 when there are not.
func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

func unquoteSlow(raw []byte) (string, error) {
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}
