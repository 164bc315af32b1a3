package reconcile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/universe-operator/universe-operator/errs"
)

// LabelRelease is the ownership label: its value is the name of the release
// (metadata.name) that owns the app. Apps without it are never changed or
// deleted, unless a release explicitly adopts them.
const LabelRelease = "UNIVERSE_OPERATOR_RELEASE"

// LabelHash carries Hash of the rendered app (before the ownership labels
// were added), so a changed rendering is seen without a field-level compare.
const LabelHash = "UNIVERSE_OPERATOR_HASH"

// HashLen is the number of hex characters of the SHA-256 kept in LabelHash
// (64 bits: plenty to detect a change, short enough to read in the UI).
const HashLen = 16

// Hash returns the first HashLen hex characters of the SHA-256 of the app's
// canonical form: object keys sorted, compact, strings escaped minimally
// (never <, > or &), numbers exactly as written, and the two ownership labels
// removed (and a labels member that is then empty, or null, dropped). The
// result is therefore the same before and after Stamp. Errors are
// errs.Permanent (the app is not a JSON object).
func Hash(app []byte) (string, error) {
	root, err := parseObject(app)
	if err != nil {
		return "", errs.Permanent(fmt.Errorf("hash app: %w", err))
	}
	return hashOf(root), nil
}

func hashOf(root value) string {
	labels := root.get("labels")
	if labels != nil && (labels.kind == kindNull || (labels.kind == kindObject &&
		(len(labels.obj) == 0 || labels.find(LabelRelease) >= 0 || labels.find(LabelHash) >= 0))) {
		root = root.clone()
		labels = root.get("labels")
		labels.del(LabelRelease)
		labels.del(LabelHash)
		if labels.kind == kindNull || len(labels.obj) == 0 {
			root.del("labels")
		}
	}
	sum := sha256.Sum256(root.bytes())
	return hex.EncodeToString(sum[:])[:HashLen]
}

// Stamp adds the ownership labels (LabelRelease = release, LabelHash = hash)
// to a rendered app and returns the stamped bytes and the hash. Only the
// labels object is edited, in place: every other byte (key order,
// whitespace, number formatting, escapes) is kept. Existing ownership labels
// are overwritten, so stamping twice gives the same result. A missing or
// null labels member is created. Errors (not a JSON object, labels not an
// object, empty release) are errs.Permanent.
func Stamp(renderedApp []byte, release string) (app []byte, hash string, err error) {
	if release == "" {
		return nil, "", errs.Permanent(errors.New("stamp app: empty release name"))
	}
	root, err := parseObject(renderedApp)
	if err != nil {
		return nil, "", errs.Permanent(fmt.Errorf("stamp app: %w", err))
	}
	hash = hashOf(root)
	relText := appendQuoted(nil, release)
	hashText := appendQuoted(nil, hash)

	open := bytes.IndexByte(renderedApp, '{') // first non-space byte: parseObject succeeded
	doc := string(renderedApp)
	members, _, err := scanMembers(doc, open)
	if err != nil {
		return nil, "", errs.Permanent(fmt.Errorf("stamp app: %w", err))
	}
	var edits []edit
	labelsAt := -1
	for i, m := range members {
		if m.key == "labels" {
			labelsAt = i // the last one wins, as for every JSON reader
		}
	}
	ownLabels := func() []byte {
		b := []byte(`{"` + LabelRelease + `":`)
		b = append(b, relText...)
		b = append(b, `,"`+LabelHash+`":`...)
		b = append(b, hashText...)
		return append(b, '}')
	}
	switch {
	case labelsAt < 0:
		edits = append(edits, insertMember(renderedApp, members, open, []byte(`"labels"`), ownLabels()))
	case renderedApp[members[labelsAt].valStart] == 'n': // null
		m := members[labelsAt]
		edits = append(edits, edit{at: m.valStart, end: m.valEnd, text: ownLabels()})
	case renderedApp[members[labelsAt].valStart] == '{':
		lopen := members[labelsAt].valStart
		inner, _, err := scanMembers(doc, lopen)
		if err != nil {
			return nil, "", errs.Permanent(fmt.Errorf("stamp app: %w", err))
		}
		seenRel, seenHash := false, false
		for _, m := range inner {
			switch m.key {
			case LabelRelease:
				seenRel = true
				edits = append(edits, edit{at: m.valStart, end: m.valEnd, text: relText})
			case LabelHash:
				seenHash = true
				edits = append(edits, edit{at: m.valStart, end: m.valEnd, text: hashText})
			}
		}
		var add [][2][]byte
		if !seenRel {
			add = append(add, [2][]byte{[]byte(`"` + LabelRelease + `"`), relText})
		}
		if !seenHash {
			add = append(add, [2][]byte{[]byte(`"` + LabelHash + `"`), hashText})
		}
		if len(add) > 0 {
			e := insertMember(renderedApp, inner, lopen, add[0][0], add[0][1])
			if len(add) > 1 {
				// Reuse the same separator style for the second label.
				e2 := insertMember(renderedApp, inner, lopen, add[1][0], add[1][1])
				if len(inner) == 0 {
					e2.text = append([]byte{','}, e2.text...)
				}
				e.text = append(e.text, e2.text...)
			}
			edits = append(edits, e)
		}
	default:
		return nil, "", errs.Permanent(fmt.Errorf("stamp app: labels must be an object of strings, got %s",
			root.get("labels").kind))
	}

	out := applyEdits(renderedApp, edits)
	// Self-check: the stamped app must read back as owned by release with the
	// same hash. A failure here is a bug in this function, never bad input
	// that passed parseObject, so it is reported loudly.
	check, err := parseObject(out)
	if err != nil {
		return nil, "", fmt.Errorf("stamp app: internal error, stamped JSON does not parse: %w", err)
	}
	if r, ok := ownerOf(check); !ok || r != release || labelString(check, LabelHash) != hash || hashOf(check) != hash {
		return nil, "", errors.New("stamp app: internal error, stamped labels do not read back")
	}
	return out, hash, nil
}

// Owner returns the release named by the app's LabelRelease label, and
// whether the app carries one (a non-empty string). Invalid JSON is not owned.
func Owner(app []byte) (release string, owned bool) {
	root, err := parseObject(app)
	if err != nil {
		return "", false
	}
	return ownerOf(root)
}

func ownerOf(root value) (string, bool) {
	r := labelString(root, LabelRelease)
	return r, r != ""
}

// HashLabel returns the app's LabelHash label, or "" when absent.
func HashLabel(app []byte) string {
	root, err := parseObject(app)
	if err != nil {
		return ""
	}
	return labelString(root, LabelHash)
}

func labelString(root value, key string) string {
	s, _ := root.get("labels").getString(key)
	return s
}

// AppID returns the canonical id (CanonicalID) of an app definition. Errors
// are errs.Permanent: not a JSON object, or no string "id".
func AppID(app []byte) (string, error) {
	root, err := parseSkim(app, skimSpec{"id": nil})
	if err != nil {
		return "", errs.Permanent(fmt.Errorf("app id: %w", err))
	}
	id, ok := root.getString("id")
	if !ok || id == "" {
		return "", errs.Permanent(errors.New("app id: the app has no string \"id\""))
	}
	return CanonicalID(id), nil
}

// CanonicalID returns a Marathon path id in the form Marathon stores it:
// absolute (leading slash), no empty or "." segments, ".." resolved, no
// trailing slash (PathId.canonicalPath relative to the root group).
func CanonicalID(id string) string {
	var out []string
	for seg := range strings.SplitSeq(id, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
		}
	}
	return "/" + strings.Join(out, "/")
}

// ---- raw editing ----

// memberSpan locates one object member in the raw bytes.
type memberSpan struct {
	key              string
	wsStart          int // first byte after the preceding '{' or ','
	keyStart, keyEnd int
	valStart, valEnd int
}

// scanMembers lists the members of the object whose '{' is at open, and
// returns the index of its closing '}'. data must be valid JSON.
func scanMembers(data string, open int) ([]memberSpan, int, error) {
	p := parser{data: data, pos: open + 1}
	var out []memberSpan
	for {
		ws := p.pos
		p.skipWS()
		if p.pos >= len(data) {
			return nil, 0, p.errf("unexpected end of input in object")
		}
		if data[p.pos] == '}' {
			return out, p.pos, nil
		}
		m := memberSpan{wsStart: ws, keyStart: p.pos}
		key, err := p.str()
		if err != nil {
			return nil, 0, err
		}
		m.key, m.keyEnd = key, p.pos
		p.skipWS()
		if p.pos >= len(data) || data[p.pos] != ':' {
			return nil, 0, p.errf("expected ':'")
		}
		p.pos++
		p.skipWS()
		m.valStart = p.pos
		if _, err := p.value(); err != nil {
			return nil, 0, err
		}
		m.valEnd = p.pos
		out = append(out, m)
		p.skipWS()
		if p.pos < len(data) && data[p.pos] == ',' {
			p.pos++
		}
	}
}

type edit struct {
	at, end int // replace data[at:end] (at == end: insert)
	text    []byte
}

// insertMember builds the edit that appends key:val as the last member of
// the object whose '{' is at open, copying the indentation and key/value
// separator of the current last member so a pretty-printed object stays
// pretty.
func insertMember(data []byte, members []memberSpan, open int, key, val []byte) edit {
	if len(members) == 0 {
		t := slices.Concat(key, []byte{':'}, val)
		return edit{at: open + 1, end: open + 1, text: t}
	}
	last := members[len(members)-1]
	indent := data[last.wsStart:last.keyStart]
	sep := data[last.keyEnd:last.valStart]
	t := slices.Concat([]byte{','}, indent, key, sep, val)
	return edit{at: last.valEnd, end: last.valEnd, text: t}
}

func applyEdits(data []byte, edits []edit) []byte {
	slices.SortFunc(edits, func(a, b edit) int { return a.at - b.at })
	out := make([]byte, 0, len(data)+256)
	prev := 0
	for _, e := range edits {
		out = append(out, data[prev:e.at]...)
		out = append(out, e.text...)
		prev = e.end
	}
	return append(out, data[prev:]...)
}
