package render

import (
	"fmt"
	"strconv"
	"strings"
)

// This file is a Mustache engine that behaves like mustache.java as DC/OS
// Cosmos configures it (DefaultMustacheFactory with encode() writing values
// unchanged, executed on the Java values Cosmos prepares from the options).
// github.com/cbroglie/mustache cannot be made to do that (see the README's
// "Dependencies and why"): it splits dotted names before trying a key that
// contains a dot, treats 0 and blank strings as false, prints nil as
// "<nil>", resolves Go methods before map keys, prints to stdout when a
// lookup panics and reads partials from the disk.
//
// Supported: variables {{x}}, {{{x}}}, {{&x}} (all unescaped), sections
// {{#x}}, inverted sections {{^x}}, comments {{! }}, delimiter changes
// {{=<% %>=}}, blocks {{$x}}default{{/x}} (rendered as their default, as
// mustache.java does outside an extension), the implicit iterator {{.}},
// dotted names, and standalone-line removal for tag-only lines. Partials
// {{> x}} and parents {{< x}} fail, as they do in Cosmos (there is no file to
// load them from).
//
// Not reproduced, deliberately (no Universe template relies on them):
// Cosmos prints an object of more than four members in Scala HashMap order,
// this engine in document order; mustache.java would find Java methods on
// non-object scopes ({{length}} inside a section over a string), this engine
// finds nothing there; JDK 8, which Cosmos ran on, printed about 2% of
// doubles with more digits than Double.toString prints since JDK 19 (the
// shortest form, implemented here; e.g. 2.0E23 where JDK 8 gave
// 1.9999999999999998E23).

type nodeKind uint8

const (
	nText nodeKind = iota
	nVar
	nSection
	nInverted
	nBlock
)

type tmplNode struct {
	kind  nodeKind
	text  string // nText
	name  string // nVar, nSection, nInverted, nBlock
	line  int
	nodes []tmplNode
}

type template struct {
	nodes []tmplNode
}

// templateError is a Mustache syntax error.
type templateError struct {
	line int
	msg  string
}

func (e *templateError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// maxSectionDepth bounds section nesting in templates.
const maxSectionDepth = 200

type tparser struct {
	src        string
	otag, ctag string
	lineAt     []int // offsets of '\n'
}

func (p *tparser) line(pos int) int {
	lo, hi := 0, len(p.lineAt)
	for lo < hi {
		mid := (lo + hi) / 2
		if p.lineAt[mid] < pos {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo + 1
}

// parseTemplate compiles a Mustache template.
func parseTemplate(src string) (*template, error) {
	p := &tparser{src: src, otag: "{{", ctag: "}}"}
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			p.lineAt = append(p.lineAt, i)
		}
	}
	type frame struct {
		node  tmplNode
		nodes []tmplNode
	}
	stack := []*frame{{}}
	top := func() *frame { return stack[len(stack)-1] }
	addText := func(s string) {
		if s == "" {
			return
		}
		f := top()
		if n := len(f.nodes); n > 0 && f.nodes[n-1].kind == nText {
			f.nodes[n-1].text += s
			return
		}
		f.nodes = append(f.nodes, tmplNode{kind: nText, text: s})
	}
	pos, lastTagEnd := 0, 0
	for {
		i := strings.Index(src[pos:], p.otag)
		if i < 0 {
			addText(src[pos:])
			break
		}
		tagStart := pos + i
		inner := tagStart + len(p.otag)
		var content string
		var tagEnd int
		if inner < len(src) && src[inner] == '{' {
			j := strings.Index(src[inner:], "}"+p.ctag)
			if j < 0 {
				return nil, &templateError{p.line(tagStart), fmt.Sprintf("tag %s{ is not closed with }%s", p.otag, p.ctag)}
			}
			content = src[inner : inner+j+1] // "{name}"
			tagEnd = inner + j + 1 + len(p.ctag)
		} else {
			j := strings.Index(src[inner:], p.ctag)
			if j < 0 {
				return nil, &templateError{p.line(tagStart), fmt.Sprintf("tag %s is not closed with %s", p.otag, p.ctag)}
			}
			content = src[inner : inner+j]
			tagEnd = inner + j + len(p.ctag)
		}
		line := p.line(tagStart)
		sigil := byte(0)
		if trimmed := strings.TrimSpace(content); trimmed != "" && strings.IndexByte("#^/!=><$%&{", trimmed[0]) >= 0 {
			sigil = trimmed[0]
			content = trimmed
		}
		// Standalone lines: a tag other than a variable alone on its line
		// (only blanks around it) takes the whole line with it.
		textEnd, next := tagStart, tagEnd
		if sigil != 0 && sigil != '&' && sigil != '{' {
			lineStart := strings.LastIndexByte(src[:tagStart], '\n') + 1
			if lineStart >= lastTagEnd && isBlank(src[lineStart:tagStart]) {
				k := tagEnd
				for k < len(src) && (src[k] == ' ' || src[k] == '\t') {
					k++
				}
				switch {
				case k == len(src):
					textEnd, next = lineStart, k
				case src[k] == '\n':
					textEnd, next = lineStart, k+1
				case src[k] == '\r' && k+1 < len(src) && src[k+1] == '\n':
					textEnd, next = lineStart, k+2
				}
			}
		}
		addText(src[pos:textEnd])
		pos, lastTagEnd = next, next

		switch sigil {
		case '!':
		case '=':
			if len(content) < 2 || content[len(content)-1] != '=' {
				return nil, &templateError{line, fmt.Sprintf("bad delimiter change %q", content)}
			}
			parts := strings.Fields(content[1 : len(content)-1])
			if len(parts) != 2 || strings.ContainsRune(parts[0], '=') || strings.ContainsRune(parts[1], '=') {
				return nil, &templateError{line, fmt.Sprintf("bad delimiter change %q: want two delimiters like {{=<%% %%>=}}", content)}
			}
			p.otag, p.ctag = parts[0], parts[1]
		case '#', '^', '$':
			if len(stack) > maxSectionDepth {
				return nil, &templateError{line, fmt.Sprintf("sections nested deeper than %d levels", maxSectionDepth)}
			}
			kind := map[byte]nodeKind{'#': nSection, '^': nInverted, '$': nBlock}[sigil]
			stack = append(stack, &frame{node: tmplNode{kind: kind, name: strings.TrimSpace(content[1:]), line: line}})
		case '/':
			name := strings.TrimSpace(content[1:])
			if len(stack) == 1 {
				return nil, &templateError{line, fmt.Sprintf("closing tag {{/%s}} has no open section", name)}
			}
			f := top()
			if f.node.name != name {
				return nil, &templateError{line, fmt.Sprintf("closing tag {{/%s}} does not match the open section {{%s%s}} of line %d", name, sigilOf(f.node.kind), f.node.name, f.node.line)}
			}
			stack = stack[:len(stack)-1]
			f.node.nodes = f.nodes
			top().nodes = append(top().nodes, f.node)
		case '>', '<':
			return nil, &templateError{line, fmt.Sprintf("partial %q cannot be loaded: templates are rendered on their own, as in Cosmos", strings.TrimSpace(content[1:]))}
		case '%':
			return nil, &templateError{line, fmt.Sprintf("pragma %q is not supported", content)}
		case '&':
			top().nodes = append(top().nodes, tmplNode{kind: nVar, name: strings.TrimSpace(content[1:]), line: line})
		case '{':
			top().nodes = append(top().nodes, tmplNode{kind: nVar, name: strings.TrimSpace(content[1 : len(content)-1]), line: line})
		default:
			top().nodes = append(top().nodes, tmplNode{kind: nVar, name: strings.TrimSpace(content), line: line})
		}
	}
	if len(stack) > 1 {
		f := top()
		return nil, &templateError{f.node.line, fmt.Sprintf("section {{%s%s}} is not closed", sigilOf(f.node.kind), f.node.name)}
	}
	return &template{nodes: stack[0].nodes}, nil
}

func sigilOf(k nodeKind) string {
	switch k {
	case nInverted:
		return "^"
	case nBlock:
		return "$"
	}
	return "#"
}

func isBlank(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' && s[i] != '\t' {
			return false
		}
	}
	return true
}

// ------------------------------------------------------------ values

// mkind is the Java type a prepared value has in Cosmos's mustache scope.
type mkind uint8

const (
	mNull   mkind = iota // null (present key)
	mBool                // java.lang.Boolean
	mNum                 // java.lang.Integer or java.lang.Double (text holds toString())
	mString              // java.lang.String (already JSON-escaped by Cosmos)
	mList                // java.util.List
	mMap                 // java.util.Map
	mFunc                // java.util.function.Function (asJson)
)

// mval is a value in the rendering scope, prepared as Cosmos's jsonToJava
// prepares it. Lists and Maps are prepared lazily, member by member, as the
// template reaches them: most of a scope (resource.json, defaults) is never
// looked at. An mval belongs to one rendering and is not shared between
// goroutines (the constants below are never modified).
type mval struct {
	k    mkind
	b    bool
	text string // mNum, mString: what toString() returns
	fn   func(string) string

	src   value // mList, mMap: the JSON value to prepare from
	ready bool  // list or obj is built
	list  []*mval
	obj   *mobj
}

// mobj is a prepared Map: keys in order, values prepared on first use.
type mobj struct {
	keys  []string
	vals  []*mval
	src   []value
	index map[string]int
}

func (o *mobj) find(key string) int {
	if o.index != nil {
		if i, ok := o.index[key]; ok {
			return i
		}
		return -1
	}
	for i, k := range o.keys {
		if k == key {
			return i
		}
	}
	return -1
}

func (o *mobj) at(i int) *mval {
	if o.vals[i] == nil {
		o.vals[i] = prepare(o.src[i], false)
	}
	return o.vals[i]
}

func (o *mobj) get(key string) (*mval, bool) {
	i := o.find(key)
	if i < 0 {
		return nil, false
	}
	return o.at(i), true
}

// set adds or replaces a member.
func (o *mobj) set(key string, v *mval) {
	if i := o.find(key); i >= 0 {
		o.vals[i] = v
		return
	}
	o.keys = append(o.keys, key)
	o.vals = append(o.vals, v)
	o.src = append(o.src, nullValue)
	if o.index != nil {
		o.index[key] = len(o.keys) - 1
	} else if len(o.keys) > indexThreshold {
		o.index = make(map[string]int, len(o.keys))
		for i, k := range o.keys {
			o.index[k] = i
		}
	}
}

// items returns a List's elements (array elements: strings keep quotes).
func (v *mval) items() []*mval {
	if !v.ready {
		v.list = make([]*mval, len(v.src.arr))
		for i, it := range v.src.arr {
			v.list[i] = prepare(it, true)
		}
		v.ready = true
	}
	return v.list
}

// object returns a Map's members.
func (v *mval) object() *mobj {
	if !v.ready {
		v.obj = newMobj(v.src.obj)
		v.ready = true
	}
	return v.obj
}

func newMobj(o *object) *mobj {
	n := o.len()
	m := &mobj{keys: make([]string, n), vals: make([]*mval, n), src: make([]value, n)}
	for i, mem := range o.members {
		m.keys[i] = mem.key
		m.src[i] = mem.val
	}
	if n > indexThreshold {
		m.index = make(map[string]int, n)
		for i, k := range m.keys {
			m.index[k] = i
		}
	}
	return m
}

var (
	mNullVal  = &mval{k: mNull}
	mTrueVal  = &mval{k: mBool, b: true}
	mFalseVal = &mval{k: mBool}
)

// prepare converts a JSON value as Cosmos's jsonToJava does: null stays
// null; booleans are Booleans; a number that is integral and fits an int is
// an Integer (1.0 -> 1), any other a Double (printed by javaDouble); a string
// is JSON-encoded with its quotes removed, except an array element, which
// keeps its quotes; arrays are Lists and objects Maps of prepared values.
func prepare(v value, inArray bool) *mval {
	switch v.k {
	case kNull:
		return mNullVal
	case kBool:
		if v.b {
			return mTrueVal
		}
		return mFalseVal
	case kNumber:
		return &mval{k: mNum, text: javaNumber(v.s)}
	case kString:
		var b []byte
		if inArray {
			b = appendString(make([]byte, 0, len(v.s)+2), v.s)
		} else {
			b = appendStringBody(make([]byte, 0, len(v.s)), v.s)
		}
		return &mval{k: mString, text: string(b)}
	case kArray:
		return &mval{k: mList, src: v}
	default:
		return &mval{k: mMap, src: v}
	}
}

// javaNumber prints a JSON number as Cosmos's templates see it: an int when
// circe's toInt succeeds (the value is integral and fits 32 bits: 1, 1.0,
// 1e2), otherwise the Double's Java toString (0.5, 1.0E-7, 3.0E9).
func javaNumber(text string) string {
	if i, ok := integralInt32(text); ok {
		return strconv.FormatInt(int64(i), 10)
	}
	f, _ := strconv.ParseFloat(text, 64) // ±Inf on overflow, as Java's parseDouble
	return javaDouble(f)
}

// integralInt32 reports whether a JSON number literal is an integer that
// fits in 32 bits, exactly (no floating point involved).
func integralInt32(text string) (int32, bool) {
	neg := strings.HasPrefix(text, "-")
	s := strings.TrimPrefix(text, "-")
	mant, expText, _ := strings.Cut(strings.ToLower(s), "e")
	exp := 0
	if expText != "" {
		e, err := strconv.Atoi(expText)
		if err != nil || e > 400 || e < -400 {
			if err == nil && e < -400 {
				// 0e-500 is still zero
				if strings.Trim(strings.Replace(mant, ".", "", 1), "0") == "" {
					return 0, true
				}
			}
			return 0, false
		}
		exp = e
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := intPart + frac
	exp -= len(frac) // value = digits x 10^exp
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		return 0, true
	}
	for exp < 0 && strings.HasSuffix(digits, "0") {
		digits = digits[:len(digits)-1]
		exp++
	}
	if exp < 0 || len(digits)+exp > 10 {
		return 0, false
	}
	n, err := strconv.ParseInt(digits+strings.Repeat("0", exp), 10, 64)
	if err != nil {
		return 0, false
	}
	if neg {
		n = -n
	}
	if n < -1<<31 || n > 1<<31-1 {
		return 0, false
	}
	return int32(n), true
}

// javaString returns the value's Java toString(), as mustache.java writes
// it: Lists as [a, b], Maps as {k=v, k2=v2} (insertion order), null inside
// them as "null".
func (v *mval) javaString() string {
	var b strings.Builder
	v.writeJava(&b)
	return b.String()
}

func (v *mval) writeJava(b *strings.Builder) {
	switch v.k {
	case mNull:
		b.WriteString("null")
	case mBool:
		if v.b {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case mNum, mString:
		b.WriteString(v.text)
	case mList:
		b.WriteByte('[')
		for i, e := range v.items() {
			if i > 0 {
				b.WriteString(", ")
			}
			e.writeJava(b)
		}
		b.WriteByte(']')
	case mMap:
		b.WriteByte('{')
		o := v.object()
		for i, k := range o.keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(k)
			b.WriteByte('=')
			o.at(i).writeJava(b)
		}
		b.WriteByte('}')
	case mFunc:
		b.WriteString("<function1>")
	}
}

// ------------------------------------------------------------ rendering

// Limits that keep hostile templates from taking the process down.
const (
	maxOutputBytes = 32 << 20
	maxSteps       = 2_000_000
)

var (
	errOutputTooLarge = fmt.Errorf("rendered output is larger than %d bytes", maxOutputBytes)
	errTooManySteps   = fmt.Errorf("rendering takes more than %d steps (sections nested over large lists?)", maxSteps)
)

type renderer struct {
	out   []byte
	steps int
}

// render executes t with the scope stack [root].
func (t *template) render(root *mval) ([]byte, error) {
	r := &renderer{out: make([]byte, 0, 4096)}
	stack := make([]*mval, 1, 16)
	stack[0] = root
	if err := r.nodes(t.nodes, stack); err != nil {
		return nil, err
	}
	return r.out, nil
}

func (r *renderer) write(s string) error {
	if len(r.out)+len(s) > maxOutputBytes {
		return errOutputTooLarge
	}
	r.out = append(r.out, s...)
	return nil
}

func (r *renderer) nodes(nodes []tmplNode, stack []*mval) error {
	for i := range nodes {
		r.steps++
		if r.steps > maxSteps {
			return errTooManySteps
		}
		n := &nodes[i]
		switch n.kind {
		case nText:
			if err := r.write(n.text); err != nil {
				return err
			}
		case nVar:
			v := lookup(n.name, stack)
			if v == nil || v.k == mNull {
				continue
			}
			s := ""
			if v.k == mFunc {
				s = v.fn("") // a function used as a variable gets no text
			} else {
				s = v.javaString()
			}
			if err := r.write(s); err != nil {
				return err
			}
		case nBlock:
			if err := r.nodes(n.nodes, stack); err != nil {
				return err
			}
		case nInverted:
			if falsey(lookup(n.name, stack)) {
				if err := r.nodes(n.nodes, stack); err != nil {
					return err
				}
			}
		case nSection:
			if err := r.section(n, stack); err != nil {
				return err
			}
		}
	}
	return nil
}

// section follows mustache.java's iterate(): null/absent, false and "" render
// nothing; a List renders once per element (a null element adds no scope);
// a Function gets the rendered body and its result is written; anything
// else (true, numbers including 0, non-empty strings, Maps including {})
// renders once with the value pushed as the innermost scope.
func (r *renderer) section(n *tmplNode, stack []*mval) error {
	v := lookup(n.name, stack)
	if v == nil {
		return nil
	}
	switch v.k {
	case mNull:
		return nil
	case mBool:
		if !v.b {
			return nil
		}
	case mString:
		if v.text == "" {
			return nil
		}
	case mList:
		for _, e := range v.items() {
			s := stack
			if e.k != mNull {
				s = append(stack[:len(stack):len(stack)], e)
			}
			if err := r.nodes(n.nodes, s); err != nil {
				return err
			}
		}
		return nil
	case mFunc:
		inner := &renderer{out: make([]byte, 0, 64), steps: r.steps}
		if err := inner.nodes(n.nodes, stack); err != nil {
			return err
		}
		r.steps = inner.steps
		return r.write(v.fn(string(inner.out)))
	}
	return r.nodes(n.nodes, append(stack[:len(stack):len(stack)], v))
}

// falsey follows mustache.java's falsey(): an inverted section renders for
// null/absent, false, "" and empty Lists, and for nothing else.
func falsey(v *mval) bool {
	if v == nil {
		return true
	}
	switch v.k {
	case mNull:
		return true
	case mBool:
		return !v.b
	case mString:
		return v.text == ""
	case mList:
		return len(v.items()) == 0
	}
	return false
}

// lookup resolves a name as mustache.java's ReflectionObjectHandler.find
// does, innermost scope first:
//   - "." is the innermost scope;
//   - in a Map scope, the whole name is tried as a key first (a key may
//     contain dots); a present key whose value is null stops the search;
//   - then a dotted name is walked: when its first segment (or a later
//     intermediate one) is missing, the search goes on in the next outer
//     scope; once the walk has found its intermediate values, a missing last
//     segment or a null on the way ends the search with nothing;
//   - scopes that are not Maps (a string or number pushed by a section) hold
//     no names here (mustache.java would look for Java methods such as
//     length() on them; templates do not rely on that).
//
// It returns nil when nothing is found.
func lookup(name string, stack []*mval) *mval {
	if name == "." {
		return stack[len(stack)-1]
	}
	dotted := strings.IndexByte(name, '.') >= 0
next:
	for i := len(stack) - 1; i >= 0; i-- {
		scope := stack[i]
		if scope.k != mMap {
			continue
		}
		if v, ok := scope.object().get(name); ok {
			return v
		}
		if !dotted {
			continue
		}
		cur, sub := scope, name
		for {
			dot := strings.IndexByte(sub, '.')
			if dot < 0 {
				break
			}
			seg := sub[:dot]
			sub = sub[dot+1:]
			if cur.k != mMap {
				continue next
			}
			v, ok := cur.object().get(seg)
			if !ok {
				continue next
			}
			if v.k == mNull {
				return nil
			}
			cur = v
		}
		if cur.k == mMap {
			if v, ok := cur.object().get(sub); ok {
				return v
			}
		}
		return nil
	}
	return nil
}
