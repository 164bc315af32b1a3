package universe

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unsafe"
)

// Package is one revision of a Universe package: the content of
// `repo/packages/<L>/<name>/<releaseVersion>/` or of one element of a served
// repository's "packages" array. A Package is immutable once loaded; share it
// freely between goroutines.
type Package struct {
	// Name is the package name (package.json "name").
	Name string
	// Version is the package's version string, not comparable between
	// revisions (package.json "version").
	Version string
	// ReleaseVersion is the revision number: the directory name, or the
	// served form's "releaseVersion". Revisions are ordered by it alone.
	ReleaseVersion int
	// PackagingVersion is "2.0", "3.0", "4.0" or "5.0".
	PackagingVersion string
	// Definition is package.json as read (for the served form: the package
	// object without releaseVersion, marathon, config, resource, command).
	Definition json.RawMessage

	// Framework is package.json "framework" (false when absent).
	Framework bool
	// PreInstallNotes is package.json "preInstallNotes".
	PreInstallNotes string
	// PostInstallNotes is package.json "postInstallNotes".
	PostInstallNotes string
	// PostUninstallNotes is package.json "postUninstallNotes": what is left to
	// do by hand after an uninstall.
	PostUninstallNotes string
	// MinDcosReleaseVersion is the oldest DC/OS release the revision supports
	// ("" when unset; "999" hides a revision).
	MinDcosReleaseVersion string
	// UpgradesFrom lists the installed versions this revision may upgrade
	// from (packaging 4.0 and 5.0 only; Declared is false when absent).
	UpgradesFrom VersionList
	// DowngradesTo lists the versions an installation of this revision may
	// downgrade to (packaging 4.0 and 5.0 only).
	DowngradesTo VersionList

	// Config is config.json (a JSON Schema draft-04 for the options), nil
	// when absent.
	Config json.RawMessage
	// Template is marathon.json.mustache, nil when absent (a CLI-only
	// package: installing it posts nothing to Marathon).
	Template []byte
	// Resource is resource.json, nil when absent.
	Resource json.RawMessage
	// Command is command.json (packaging 2.0 and 3.0), nil when absent.
	Command json.RawMessage

	// Location says where the revision was read from: the revision
	// directory, or URL#packages[i] for the served form. Used in messages.
	Location string
	// Repository is the name of the repository the revision was loaded into.
	Repository string
	// Source is the URI of that repository: the DCOS_PACKAGE_SOURCE label.
	Source string

	memo *memo
}

// memo caches values derived from an immutable Package.
type memo struct {
	labelOnce sync.Once
	label     string
	labelErr  error
}

// VersionList is an upgradesFrom or downgradesTo list. Declared tells an
// absent list (the package declares no path: the release's policy decides)
// from an empty one (`[]`: no path at all).
type VersionList struct {
	// Declared is true when the field is present in package.json.
	Declared bool
	// Versions are the listed version strings; "*" matches any version.
	Versions []string
}

// Matches reports whether the list contains "*" or exactly version.
func (l VersionList) Matches(version string) bool {
	for _, v := range l.Versions {
		if v == "*" || v == version {
			return true
		}
	}
	return false
}

// String renders the list for messages: "absent", "[]" or `["1.0", "*"]`.
func (l VersionList) String() string {
	if !l.Declared {
		return "absent"
	}
	quoted := make([]string, len(l.Versions))
	for i, v := range l.Versions {
		quoted[i] = strconv.Quote(v)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// String names the revision for messages: `kafka 2.9.0-2.4.0 (rev 11)`.
func (p *Package) String() string {
	if p == nil {
		return "<no package>"
	}
	return fmt.Sprintf("%s %s (rev %d)", p.Name, p.Version, p.ReleaseVersion)
}

// HasTemplate reports whether the revision has a marathon.json.mustache.
func (p *Package) HasTemplate() bool { return p.Template != nil }

// MediaVersion returns the "vN" of the revision's package media type: "v2"
// for packaging 2.0 up to "v5" for 5.0.
func (p *Package) MediaVersion() string {
	major, _, _ := strings.Cut(p.PackagingVersion, ".")
	return "v" + major
}

// PackageMediaType is the Content-Type Cosmos records in
// DCOS_PACKAGE_DEFINITION for the revision's packaging version.
func (p *Package) PackageMediaType() string {
	return "application/vnd.dcos.universe.package+json;charset=utf-8;version=" + p.MediaVersion()
}

// reservedKeys are the served-form members that are not package.json fields.
var reservedKeys = map[string]bool{
	"releaseVersion": true, "marathon": true, "config": true, "resource": true, "command": true,
}

// RepoJSON returns the revision in the served repository format, compact:
// the package.json members in their order, then "releaseVersion",
// "marathon": {"v2AppMustacheTemplate": base64(template)} when there is a
// template, then "config", "resource" and "command" when present. Strings and
// numbers keep their exact source text (nulls included); only insignificant
// whitespace is removed. This is the document DCOS_PACKAGE_DEFINITION
// carries. Config, Resource and Command must hold valid JSON, as the loaders
// guarantee.
func (p *Package) RepoJSON() ([]byte, error) {
	size := len(p.Definition) + len(p.Config) + len(p.Resource) + len(p.Command) + base64.StdEncoding.EncodedLen(len(p.Template)) + 128
	out := make([]byte, 0, size)
	err := p.writeRepoJSON(out, func(b []byte) []byte { out = b; return b })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// writeRepoJSON appends RepoJSON's document to buf piece by piece; after
// each piece it calls flush with the buffer, which returns the buffer to
// append to next (the same one to collect the whole document, or an emptied
// one to stream it).
func (p *Package) writeRepoJSON(buf []byte, flush func([]byte) []byte) error {
	members, err := objectMembers(p.Definition)
	if err != nil {
		return fmt.Errorf("%s: package.json: %w", p, err)
	}
	buf = append(buf, '{')
	first := true
	for _, m := range members {
		if reservedKeys[m.key] {
			continue
		}
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = append(buf, m.rawKey...)
		buf = append(buf, ':')
		buf = appendCompact(buf, m.value)
	}
	if !first {
		buf = append(buf, ',')
	}
	buf = append(buf, `"releaseVersion":`...)
	buf = strconv.AppendInt(buf, int64(p.ReleaseVersion), 10)
	if p.Template != nil {
		buf = append(buf, `,"marathon":{"v2AppMustacheTemplate":"`...)
		buf = base64.StdEncoding.AppendEncode(buf, p.Template)
		buf = append(buf, `"}`...)
	}
	buf = flush(buf)
	for _, f := range []struct {
		key string
		raw json.RawMessage
	}{{"config", p.Config}, {"resource", p.Resource}, {"command", p.Command}} {
		if f.raw == nil {
			continue
		}
		buf = append(buf, `,"`...)
		buf = append(buf, f.key...)
		buf = append(buf, `":`...)
		buf = appendCompact(buf, f.raw)
		buf = flush(buf)
	}
	buf = append(buf, '}')
	flush(buf)
	return nil
}

// DefinitionLabel returns the DCOS_PACKAGE_DEFINITION label value: base64 of
// the compact JSON envelope
// {"metadata":{"Content-Type":<PackageMediaType>,"Content-Encoding":"gzip"},"data":<base64(gzip(RepoJSON))>}.
// The gzip stream has no name and no time stamp, so the label is the same
// for the same revision on every run. It is computed once per loaded
// revision and kept.
func (p *Package) DefinitionLabel() (string, error) {
	if p.memo == nil {
		return p.buildDefinitionLabel()
	}
	p.memo.labelOnce.Do(func() { p.memo.label, p.memo.labelErr = p.buildDefinitionLabel() })
	return p.memo.label, p.memo.labelErr
}

// labelScratch is the reusable memory of one label computation.
type labelScratch struct {
	gz  *gzip.Writer
	doc []byte       // a piece of RepoJSON on its way into gz
	out bytes.Buffer // the gzip stream
	env []byte       // the envelope
}

var labelScratches = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return &labelScratch{gz: w}
}}

func (p *Package) buildDefinitionLabel() (string, error) {
	sc := labelScratches.Get().(*labelScratch)
	sc.out.Reset()
	sc.gz.Reset(&sc.out)
	// RepoJSON is streamed into the compressor: the gzip stream depends on
	// the bytes written, not on how they are cut into Write calls.
	var werr error
	err := p.writeRepoJSON(sc.doc[:0], func(b []byte) []byte {
		if _, err := sc.gz.Write(b); err != nil && werr == nil {
			werr = err
		}
		sc.doc = b
		return b[:0]
	})
	if err != nil {
		labelScratches.Put(sc)
		return "", err
	}
	if err := sc.gz.Close(); err != nil || werr != nil {
		if err == nil {
			err = werr
		}
		return "", fmt.Errorf("%s: gzip package definition: %w", p, err)
	}
	const head = `{"metadata":{"Content-Type":"`
	mt := p.PackageMediaType()
	const mid = `","Content-Encoding":"gzip"},"data":"`
	const tail = `"}`
	env := append(sc.env[:0], head...)
	env = append(env, mt...)
	env = append(env, mid...)
	env = base64.StdEncoding.AppendEncode(env, sc.out.Bytes())
	env = append(env, tail...)
	// One allocation for the result: the string shares the encoded bytes,
	// which nothing else references.
	label := make([]byte, base64.StdEncoding.EncodedLen(len(env)))
	base64.StdEncoding.Encode(label, env)
	sc.env = env
	if cap(sc.doc) > 1<<20 {
		sc.doc = nil // do not keep one huge config's buffer around
	}
	if sc.out.Cap() > 1<<20 || cap(sc.env) > 2<<20 {
		sc.out = bytes.Buffer{}
		sc.env = nil
	}
	labelScratches.Put(sc)
	return unsafe.String(unsafe.SliceData(label), len(label)), nil
}

// member is one member of a JSON object, in source order.
type member struct {
	key    string
	rawKey []byte // the key's JSON text, quotes included
	value  json.RawMessage
}

// objectMembers splits a JSON object into its members, in order, keeping
// each key's and value's source text.
func objectMembers(data []byte) ([]member, error) {
	if members, ok := splitObject(data); ok {
		return members, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("not a JSON object")
	}
	var out []member
	for dec.More() {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not JSON: %w", err)
		}
		key, _ := tok.(string)
		end := dec.InputOffset()
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("not JSON: %w", err)
		}
		rawKey := bytes.TrimLeft(data[start:end], " \t\r\n,")
		out = append(out, member{key: key, rawKey: rawKey, value: raw})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	return out, nil
}

// sortPackages orders revisions by name, then releaseVersion.
func sortPackages(pkgs []*Package) {
	sort.SliceStable(pkgs, func(i, j int) bool {
		if pkgs[i].Name != pkgs[j].Name {
			return pkgs[i].Name < pkgs[j].Name
		}
		return pkgs[i].ReleaseVersion < pkgs[j].ReleaseVersion
	})
}

// appendCompact appends valid JSON src without insignificant whitespace,
// keeping every other byte (string escapes, number text) as it is. src must
// be valid JSON (the loaders checked it); it is not validated again. String
// contents are skipped with bytes.IndexByte, which is what makes it fast on
// config.json files that are mostly descriptions.
func appendCompact(dst, src []byte) []byte {
	start := 0
	for i := 0; i < len(src); i++ {
		switch src[i] {
		case '"':
			// Find the closing quote: one not preceded by an odd number of
			// backslashes.
			j := i + 1
			for {
				k := bytes.IndexByte(src[j:], '"')
				if k < 0 {
					return append(dst, src[start:]...)
				}
				j += k
				bs := 0
				for b := j - 1; b > i && src[b] == '\\'; b-- {
					bs++
				}
				if bs%2 == 0 {
					break
				}
				j++
			}
			i = j
		case ' ', '\t', '\n', '\r':
			dst = append(dst, src[start:i]...)
			// Skip the whole run (indentation eight spaces at a time).
			j := i + 1
			for j < len(src) {
				if j+8 <= len(src) && binary.LittleEndian.Uint64(src[j:]) == ones*' ' {
					j += 8
					continue
				}
				if !isSpace[src[j]] {
					break
				}
				j++
			}
			start = j
			i = j - 1
		}
	}
	return append(dst, src[start:]...)
}
