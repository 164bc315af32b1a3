package universe

// validJSON reports whether data is exactly one JSON value (surrounding
// whitespace allowed), like json.Valid, without allocating. Loaders use it
// to reject malformed files; it is several times faster than json.Valid on
// the Universe's large config.json files.
func validJSON(data []byte) bool {
	v := validator{data: data}
	v.space()
	if !v.value(0) {
		return false
	}
	v.space()
	return v.pos == len(v.data)
}

type validator struct {
	data []byte
	pos  int
}

const maxValidDepth = 10000

func (v *validator) space() {
	for v.pos < len(v.data) {
		switch v.data[v.pos] {
		case ' ', '\t', '\n', '\r':
			v.pos++
		default:
			return
		}
	}
}

func (v *validator) value(depth int) bool {
	if v.pos >= len(v.data) || depth > maxValidDepth {
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

// str checks a string; like encoding/json it accepts any bytes >= 0x20
// (invalid UTF-8 included) and requires valid escapes.
func (v *validator) str() bool {
	v.pos++
	for v.pos < len(v.data) {
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
