package marathon

import (
	"fmt"
	"strings"
)

// selector is one label selector of a /v2/apps?label= query. Every form,
// including != and notin, requires the label to exist, as in Marathon.
type selector struct {
	key    string
	op     string // "exists", "==", "!=", "in", "notin"
	values []string
}

func (s selector) matches(labels map[string]string) bool {
	v, ok := labels[s.key]
	if !ok {
		return false
	}
	switch s.op {
	case "==":
		return v == s.values[0]
	case "!=":
		return v != s.values[0]
	case "in":
		return contains(s.values, v)
	case "notin":
		return !contains(s.values, v)
	}
	return true
}

// parseSelectors parses Marathon's label selector grammar:
//
//	query:    selector {, selector}
//	selector: term | term (==|!=) term | term (in|notin) ( term {, term} )
//	term:     one or more of [-A-Za-z0-9_.] or a backslash-escaped character
//
// Whitespace between tokens is skipped (a term may contain an escaped space).
// The error is the reason Marathon appends to "Can not parse label selector".
func parseSelectors(in string) ([]selector, error) {
	p := &selParser{s: in}
	var out []selector
	for {
		sel, err := p.selector()
		if err != nil {
			return nil, err
		}
		out = append(out, sel)
		p.skipSpace()
		if p.eof() {
			return out, nil
		}
		if !p.consume(",") {
			return nil, fmt.Errorf("',' expected but '%c' found", p.s[p.i])
		}
	}
}

type selParser struct {
	s string
	i int
}

func (p *selParser) eof() bool { return p.i >= len(p.s) }

func (p *selParser) skipSpace() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *selParser) consume(tok string) bool {
	p.skipSpace()
	if strings.HasPrefix(p.s[p.i:], tok) {
		p.i += len(tok)
		return true
	}
	return false
}

func isTermChar(c byte) bool {
	return c == '-' || c == '_' || c == '.' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func (p *selParser) term() (string, bool) {
	p.skipSpace()
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '\\' && p.i+1 < len(p.s) {
			b.WriteByte(p.s[p.i+1])
			p.i += 2
			continue
		}
		if !isTermChar(c) {
			break
		}
		b.WriteByte(c)
		p.i++
	}
	return b.String(), b.Len() > 0
}

// keyword reports whether the next token is the word w (not a longer term).
func (p *selParser) keyword(w string) bool {
	p.skipSpace()
	if !strings.HasPrefix(p.s[p.i:], w) {
		return false
	}
	end := p.i + len(w)
	if end < len(p.s) && (isTermChar(p.s[end]) || p.s[end] == '\\') {
		return false
	}
	p.i = end
	return true
}

func (p *selParser) selector() (selector, error) {
	key, ok := p.term()
	if !ok {
		if p.eof() {
			return selector{}, fmt.Errorf("string matching regex '(\\\\.|[-A-Za-z0-9_.])+' expected but end of source found")
		}
		return selector{}, fmt.Errorf("string matching regex '(\\\\.|[-A-Za-z0-9_.])+' expected but '%c' found", p.s[p.i])
	}
	save := p.i
	switch {
	case p.consume("=="), p.consume("!="):
		op := p.s[p.i-2 : p.i]
		v, ok := p.term()
		if !ok {
			return selector{}, fmt.Errorf("value expected after %s", op)
		}
		return selector{key: key, op: op, values: []string{v}}, nil
	case p.keyword("notin"), p.keyword("in"):
		op := "in"
		if strings.HasSuffix(p.s[:p.i], "notin") {
			op = "notin"
		}
		if !p.consume("(") {
			return selector{}, fmt.Errorf("'(' expected")
		}
		var set []string
		if !p.consume(")") {
			for {
				v, ok := p.term()
				if !ok {
					return selector{}, fmt.Errorf("set value expected")
				}
				set = append(set, v)
				if p.consume(")") {
					break
				}
				if !p.consume(",") {
					return selector{}, fmt.Errorf("',' or ')' expected")
				}
			}
		}
		return selector{key: key, op: op, values: set}, nil
	}
	p.i = save
	return selector{key: key, op: "exists"}, nil
}
