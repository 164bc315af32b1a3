package strict

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"unicode/utf8"
)

// marshalValue encodes a tree as compact JSON with object keys sorted and
// without HTML escaping: the canonical form (number text is kept as read).
func marshalValue(v any) []byte {
	return appendValue(nil, v)
}

func appendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case *Object:
		keys := x.Keys
		if !slices.IsSorted(keys) {
			keys = slices.Sorted(slices.Values(keys))
		}
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendValue(b, x.Values[k])
		}
		return append(b, '}')
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, e)
		}
		return append(b, ']')
	case json.Number:
		return append(b, x...)
	case string:
		return appendString(b, x)
	case bool:
		return strconv.AppendBool(b, x)
	case nil:
		return append(b, "null"...)
	}
	s, _ := json.Marshal(v)
	return append(b, s...)
}

const hexDigits = "0123456789abcdef"

// appendString writes a JSON string without HTML escaping; invalid UTF-8
// becomes U+FFFD, like encoding/json.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// assign stores a checked tree into v (settable), like json.Unmarshal would,
// without encoding and decoding it again.
func assign(tree any, v reflect.Value) error {
	t := v.Type()
	if t == rawMessageType {
		v.SetBytes(marshalValue(tree))
		return nil
	}
	if t.Kind() == reflect.Pointer {
		if tree == nil {
			v.SetZero()
			return nil
		}
		p := reflect.New(t.Elem())
		if err := assign(tree, p.Elem()); err != nil {
			return err
		}
		v.Set(p)
		return nil
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return v.Addr().Interface().(json.Unmarshaler).UnmarshalJSON(marshalValue(tree))
	}
	if t.Kind() == reflect.Interface {
		if p := plain(tree); p != nil {
			v.Set(reflect.ValueOf(p))
		} else {
			v.SetZero()
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, _ := tree.(*Object)
		if obj == nil {
			return nil
		}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := cut(f.Tag.Get("json"))
			if name == "-" {
				continue
			}
			if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
				if err := assign(obj, v.Field(i)); err != nil {
					return err
				}
				continue
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if val, ok := obj.Values[name]; ok {
				if err := assign(val, v.Field(i)); err != nil {
					return err
				}
			}
		}
	case reflect.Map:
		obj, _ := tree.(*Object)
		if obj == nil {
			v.SetZero()
			return nil
		}
		m := reflect.MakeMapWithSize(t, len(obj.Keys))
		for _, k := range obj.Keys {
			e := reflect.New(t.Elem()).Elem()
			if err := assign(obj.Values[k], e); err != nil {
				return err
			}
			m.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), e)
		}
		v.Set(m)
	case reflect.Slice:
		arr, _ := tree.([]any)
		if arr == nil {
			v.SetZero()
			return nil
		}
		s := reflect.MakeSlice(t, len(arr), len(arr))
		for i, e := range arr {
			if err := assign(e, s.Index(i)); err != nil {
				return err
			}
		}
		v.Set(s)
	case reflect.String:
		s, _ := tree.(string)
		v.SetString(s)
	case reflect.Bool:
		bv, _ := tree.(bool)
		v.SetBool(bv)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, _ := tree.(json.Number)
		i, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil {
			return err
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, _ := tree.(json.Number)
		u, err := strconv.ParseUint(string(n), 10, 64)
		if err != nil {
			return err
		}
		v.SetUint(u)
	case reflect.Float32, reflect.Float64:
		n, _ := tree.(json.Number)
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil {
			return err
		}
		v.SetFloat(f)
	default:
		return fmt.Errorf("internal error: cannot assign to %s", t)
	}
	return nil
}

// cut splits a json tag at its first comma.
func cut(tag string) (string, string, bool) {
	for i := 0; i < len(tag); i++ {
		if tag[i] == ',' {
			return tag[:i], tag[i+1:], true
		}
	}
	return tag, "", false
}

// plain converts a tree to encoding/json's generic form (map[string]any,
// []any, json.Number, ...), for fields of type any.
func plain(tree any) any {
	switch x := tree.(type) {
	case *Object:
		m := make(map[string]any, len(x.Keys))
		for _, k := range x.Keys {
			m[k] = plain(x.Values[k])
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(e)
		}
		return out
	}
	return tree
}
