package manifest

import (
	"encoding/json"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/universe-operator/universe-operator/config/strict"
)

// A fast path for the YAML manifests people write.
//
// Most of the time of loading manifests went into go.yaml.in/yaml/v2's
// scanner, a general YAML 1.1 implementation. fastYAML reads the plain
// subset release manifests are written in (block mappings, block sequences
// of scalars, one-line flow collections, plain and simply quoted scalars,
// comments) and builds exactly the tree strict.ParseDocument builds from
// them: it resolves plain scalars as yaml.v2 does (the same YAML 1.1 words
// for booleans and null, the same strconv calls in the same order for
// numbers) and converts them as strict does (numbers to json.Number, keys
// sorted). Whatever it does not handle itself (tabs, non-ASCII or control
// characters, anchors, tags, block scalars, multi-line or escaped strings,
// document markers, duplicate keys, timestamps, floats strict refuses,
// keys that are not plain words, anything unusual) makes it give up
// (ok false), and the caller parses the document with strict, whose results
// and errors stand. The tests compare both on generated and fuzzed
// documents.

// maxFastDepth bounds nesting on the fast path (strict allows 200).
const maxFastDepth = 64

// maxFastKey bounds keys on the fast path: YAML allows implicit keys of up
// to 1024 characters.
const maxFastKey = 256

// yamlWords are yaml.v2's plain scalars that resolve by name (its
// resolveMap): booleans and null. Others there start with '.', '+', '-' or
// '<', which the fast path leaves to yaml.v2.
var yamlWords = map[string]any{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true,
	"true": true, "True": true, "TRUE": true,
	"on": true, "On": true, "ON": true,
	"n": false, "N": false, "no": false, "No": false, "NO": false,
	"false": false, "False": false, "FALSE": false,
	"off": false, "Off": false, "OFF": false,
	"null": nil, "Null": nil, "NULL": nil,
}

// yamlStyleFloat is yaml.v2's pattern for floats.
var yamlStyleFloat = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)

// fastYAML parses data (a whole document) when it is in the subset, into
// strict's tree: *strict.Object, []any, json.Number, string, bool, nil.
func fastYAML(data []byte) (any, bool) {
	if len(data) == 0 || len(data) > maxManifest {
		return nil, false
	}
	// Printable ASCII and newlines only: no tabs, CR, BOM, control or
	// non-ASCII characters (yaml.v2 has rules for each). And no document
	// markers, which strict checks line by line.
	for _, c := range data {
		if (c < 0x20 && c != '\n') || c > 0x7e {
			return nil, false
		}
	}
	p := &yamlFast{src: string(data)}
	p.splitLines()
	for _, l := range p.lines {
		if strings.HasPrefix(l.text, "---") || strings.HasPrefix(l.text, "...") {
			return nil, false
		}
	}
	p.skipBlank()
	if p.i >= len(p.lines) || p.lines[p.i].indent != 0 {
		return nil, false
	}
	obj, ok := p.mapping(0, 0)
	if !ok {
		return nil, false
	}
	p.skipBlank()
	if p.i != len(p.lines) {
		return nil, false
	}
	return obj, true
}

type yamlLine struct {
	indent int
	text   string // without the indentation
}

type yamlFast struct {
	src   string
	lines []yamlLine
	i     int // current line
}

func (p *yamlFast) splitLines() {
	s := p.src
	p.lines = make([]yamlLine, 0, strings.Count(s, "\n")+1)
	for len(s) > 0 {
		line := s
		if nl := strings.IndexByte(s, '\n'); nl >= 0 {
			line, s = s[:nl], s[nl+1:]
		} else {
			s = ""
		}
		n := 0
		for n < len(line) && line[n] == ' ' {
			n++
		}
		p.lines = append(p.lines, yamlLine{indent: n, text: line[n:]})
	}
}

// skipBlank skips empty lines and comment lines.
func (p *yamlFast) skipBlank() {
	for p.i < len(p.lines) {
		t := p.lines[p.i].text
		if t != "" && t[0] != '#' {
			return
		}
		p.i++
	}
}

// mapping reads the block mapping whose entries start at column indent.
func (p *yamlFast) mapping(indent, depth int) (*strict.Object, bool) {
	if depth > maxFastDepth {
		return nil, false
	}
	obj := &strict.Object{Keys: []string{}, Values: map[string]any{}}
	for {
		p.skipBlank()
		if p.i >= len(p.lines) {
			break
		}
		l := p.lines[p.i]
		if l.indent < indent {
			break
		}
		if l.indent > indent {
			return nil, false
		}
		key, rest, ok := splitKey(l.text)
		if !ok {
			return nil, false
		}
		if _, dup := obj.Values[key]; dup {
			return nil, false // yaml.v2 (strict) reports it
		}
		p.i++
		var val any
		if rest != "" {
			// "key: value": the value on the same line.
			var end int
			val, end, ok = flowValue(rest, depth+1)
			if !ok || !trailingComment(rest[end:]) {
				return nil, false
			}
		} else {
			// "key:": a nested mapping or a block sequence below.
			p.skipBlank()
			if p.i >= len(p.lines) {
				return nil, false // a null value: left to yaml.v2
			}
			next := p.lines[p.i]
			switch {
			case strings.HasPrefix(next.text, "- ") && next.indent >= indent:
				val, ok = p.sequence(next.indent, depth+1)
			case next.indent > indent:
				val, ok = p.mapping(next.indent, depth+1)
			default:
				return nil, false
			}
			if !ok {
				return nil, false
			}
		}
		obj.Keys = append(obj.Keys, key)
		obj.Values[key] = val
	}
	if len(obj.Keys) == 0 {
		return nil, false
	}
	sort.Strings(obj.Keys)
	return obj, true
}

// sequence reads a block sequence of one-line values at column indent.
func (p *yamlFast) sequence(indent, depth int) ([]any, bool) {
	if depth > maxFastDepth {
		return nil, false
	}
	out := []any{}
	for {
		p.skipBlank()
		if p.i >= len(p.lines) {
			break
		}
		l := p.lines[p.i]
		if l.indent != indent || !strings.HasPrefix(l.text, "- ") {
			if l.indent > indent {
				return nil, false
			}
			break
		}
		item := strings.TrimLeft(l.text[2:], " ")
		if item == "" || item[0] == '#' || looksLikeMapping(item) {
			return nil, false
		}
		v, end, ok := flowValue(item, depth+1)
		if !ok || !trailingComment(item[end:]) {
			return nil, false
		}
		out = append(out, v)
		p.i++
	}
	return out, true
}

// looksLikeMapping reports whether a sequence item holds "key: value" (a
// mapping in a sequence, left to yaml.v2).
func looksLikeMapping(s string) bool {
	return strings.Contains(s, ": ") || strings.HasSuffix(s, ":")
}

// splitKey splits "key: rest" or "key:" (rest empty).
func splitKey(text string) (key, rest string, ok bool) {
	n := 0
	for n < len(text) && isKeyChar(text[n], n == 0) {
		n++
	}
	if n == 0 || n > maxFastKey || n >= len(text) || text[n] != ':' {
		return "", "", false
	}
	key = text[:n]
	if _, special := yamlWords[key]; special {
		return "", "", false
	}
	after := text[n+1:]
	if after == "" {
		return key, "", true
	}
	if after[0] != ' ' {
		return "", "", false
	}
	rest = strings.TrimLeft(after, " ")
	if rest == "" || rest[0] == '#' {
		return "", "", false // "key:" followed by a comment: left to yaml.v2
	}
	return key, rest, true
}

// isKeyChar: keys are words that resolve to themselves as strings.
func isKeyChar(c byte, first bool) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		return true
	case first:
		return false
	case c >= '0' && c <= '9', c == '_', c == '-', c == '.':
		return true
	}
	return false
}

// trailingComment reports whether rest is empty or spaces and a comment.
func trailingComment(rest string) bool {
	t := strings.TrimLeft(rest, " ")
	return t == "" || (t[0] == '#' && len(t) < len(rest))
}

// flowValue reads one value at the start of s: a scalar or a one-line flow
// collection. It returns the value and where it ends.
func flowValue(s string, depth int) (any, int, bool) {
	if depth > maxFastDepth || s == "" {
		return nil, 0, false
	}
	switch s[0] {
	case '[':
		return flowSequence(s, depth)
	case '{':
		return flowMapping(s, depth)
	case '"', '\'':
		q := s[0]
		end := strings.IndexByte(s[1:], q)
		if end < 0 {
			return nil, 0, false
		}
		body := s[1 : 1+end]
		if q == '"' && strings.IndexByte(body, '\\') >= 0 {
			return nil, 0, false // escapes: left to yaml.v2
		}
		if q == '\'' && 2+end < len(s) && s[2+end] == '\'' {
			return nil, 0, false // '' inside: left to yaml.v2
		}
		return body, 2 + end, true
	}
	n := 0
	for n < len(s) && isPlainChar(s[n]) {
		n++
	}
	if n == 0 {
		return nil, 0, false
	}
	v, ok := resolvePlain(s[:n])
	return v, n, ok
}

// isPlainChar: the characters of plain scalars on the fast path (none of
// YAML's indicators or flow punctuation, no spaces).
func isPlainChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '_', '.', '/', '-', '+':
		return true
	}
	return false
}

func flowSequence(s string, depth int) (any, int, bool) {
	out := []any{}
	i := skipSpaces(s, 1)
	if i < len(s) && s[i] == ']' {
		return out, i + 1, true
	}
	for {
		v, n, ok := flowValue(s[i:], depth+1)
		if !ok {
			return nil, 0, false
		}
		out = append(out, v)
		i = skipSpaces(s, i+n)
		if i >= len(s) {
			return nil, 0, false
		}
		switch s[i] {
		case ',':
			i = skipSpaces(s, i+1)
			if i < len(s) && s[i] == ']' {
				return nil, 0, false // a trailing comma: left to yaml.v2
			}
		case ']':
			return out, i + 1, true
		default:
			return nil, 0, false
		}
	}
}

func flowMapping(s string, depth int) (any, int, bool) {
	obj := &strict.Object{Keys: []string{}, Values: map[string]any{}}
	i := skipSpaces(s, 1)
	if i < len(s) && s[i] == '}' {
		return obj, i + 1, true
	}
	for {
		n := 0
		for i+n < len(s) && isKeyChar(s[i+n], n == 0) {
			n++
		}
		if n == 0 || n > maxFastKey || i+n+1 >= len(s) || s[i+n] != ':' || s[i+n+1] != ' ' {
			return nil, 0, false
		}
		key := s[i : i+n]
		if _, special := yamlWords[key]; special {
			return nil, 0, false
		}
		if _, dup := obj.Values[key]; dup {
			return nil, 0, false
		}
		i = skipSpaces(s, i+n+1)
		v, m, ok := flowValue(s[i:], depth+1)
		if !ok {
			return nil, 0, false
		}
		obj.Keys = append(obj.Keys, key)
		obj.Values[key] = v
		i = skipSpaces(s, i+m)
		if i >= len(s) {
			return nil, 0, false
		}
		switch s[i] {
		case ',':
			i = skipSpaces(s, i+1)
			if i < len(s) && s[i] == '}' {
				return nil, 0, false
			}
		case '}':
			sort.Strings(obj.Keys)
			return obj, i + 1, true
		default:
			return nil, 0, false
		}
	}
}

func skipSpaces(s string, i int) int {
	for i < len(s) && s[i] == ' ' {
		i++
	}
	return i
}

// resolvePlain resolves a plain scalar as yaml.v2 does (resolve) and
// converts it as strict does (fromYAML); ok is false for what the fast path
// leaves to them.
func resolvePlain(in string) (any, bool) {
	switch c := in[0]; {
	case c == '.':
		return nil, false // floats such as .5 and .inf
	case c == '-' || c == '+':
		if len(in) < 2 || in[1] < '0' || in[1] > '9' {
			return nil, false // "-" and "- x" are YAML syntax
		}
		return resolveNumeric(in)
	case c >= '0' && c <= '9':
		return resolveNumeric(in)
	}
	if v, special := yamlWords[in]; special {
		return v, true
	}
	return in, true
}

// resolveNumeric is yaml.v2's resolution of a scalar starting with a digit
// or a sign, and strict's conversion of the result.
func resolveNumeric(in string) (any, bool) {
	if len(in) > 4 && in[4] == '-' && isDigits(in[:4]) {
		return nil, false // maybe a timestamp
	}
	plain := strings.ReplaceAll(in, "_", "")
	if v, err := strconv.ParseInt(plain, 0, 64); err == nil {
		return json.Number(strconv.FormatInt(v, 10)), true
	}
	if v, err := strconv.ParseUint(plain, 0, 64); err == nil {
		return json.Number(strconv.FormatUint(v, 10)), true
	}
	if yamlStyleFloat.MatchString(plain) {
		if f, err := strconv.ParseFloat(plain, 64); err == nil {
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, false
			}
			return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), true
		}
	}
	if strings.HasPrefix(plain, "0b") || strings.HasPrefix(plain, "-0b") {
		return nil, false
	}
	return in, true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
