package universe

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/universe-operator/universe-operator/errs"
)

// ServedMediaType is the Accept header sent to Universe servers: the v5
// repository format, which also carries 2.0-4.0 packages.
const ServedMediaType = "application/vnd.dcos.universe.repo+json;charset=utf-8;version=v5"

// DefaultFetchTimeout bounds FetchServed when ctx has no deadline.
const DefaultFetchTimeout = 60 * time.Second

// maxServedBytes bounds a served repository's size (the whole public
// Universe is about 50 MB).
const maxServedBytes = 512 << 20

// LoadServed loads the served JSON form of a repository,
// `{"packages":[...]}`, where each element is a package.json object plus
// "releaseVersion", "marathon": {"v2AppMustacheTemplate": base64},
// "config", "resource" and "command". Malformed elements are reported (as
// *FileError located at SOURCE#packages[i]) and left out. The repository is
// nil when data is not such a document at all.
func LoadServed(data []byte, opts ...LoadOption) (*Repository, []error) {
	c := newLoadConfig(opts)
	where := c.source
	if where == "" {
		where = "served repository"
	}
	items, err := servedItems(data)
	if err != nil {
		return nil, []error{fileError(where, fmt.Errorf("not a served repository: %w", err))}
	}
	// The elements are independent: parse them on every CPU.
	type parsed struct {
		p    *Package
		name string
		err  error
	}
	out := make([]parsed, len(items))
	workers := min(runtime.GOMAXPROCS(0), len(items))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(items) {
					return
				}
				p, name, err := parseServedPackage(items[i])
				out[i] = parsed{p, name, err}
			}
		}()
	}
	wg.Wait()
	var problems []error
	pkgs := make([]*Package, 0, len(items))
	for i, o := range out {
		loc := fmt.Sprintf("%s#packages[%d]", where, i)
		if o.name != "" {
			loc = fmt.Sprintf("%s (%s)", loc, o.name)
		}
		if o.err != nil {
			problems = append(problems, fileError(loc, o.err))
			continue
		}
		o.p.Location = loc
		pkgs = append(pkgs, o.p)
	}
	repo, dup := NewRepository(c.name, c.source, pkgs)
	return repo, append(problems, dup...)
}

// servedItems returns the elements of the "packages" array, reading the
// document once.
func servedItems(data []byte) ([]json.RawMessage, error) {
	if members, ok := splitObject(data); ok {
		// A valid document (the common case): split it without
		// encoding/json. As there, the last "packages" member counts, and
		// one that is not an array is an error.
		var items []json.RawMessage
		found := false
		for _, m := range members {
			if m.key != "packages" {
				continue
			}
			found = true
			if jsonType(m.value) != "array" {
				return nil, fmt.Errorf(`"packages" must be an array, got %s`, jsonType(m.value))
			}
			var ok bool
			if items, ok = splitArray(m.value); !ok {
				return servedItemsSlow(data)
			}
		}
		if !found {
			return nil, errors.New(`no "packages" member`)
		}
		return items, nil
	}
	return servedItemsSlow(data)
}

// servedItemsSlow is servedItems with encoding/json, whose errors it
// reports.
func servedItemsSlow(data []byte) ([]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, servedSyntax(data, dec, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("must be a JSON object with a \"packages\" array, got %s", jsonType(trimSpace(data)))
	}
	var items []json.RawMessage
	found := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, servedSyntax(data, dec, err)
		}
		if key, _ := tok.(string); key != "packages" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, servedSyntax(data, dec, err)
			}
			continue
		}
		found = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, servedSyntax(data, dec, err)
		}
		if jsonType(raw) != "array" {
			return nil, fmt.Errorf(`"packages" must be an array, got %s`, jsonType(raw))
		}
		sub := json.NewDecoder(bytes.NewReader(raw))
		_, _ = sub.Token() // '['
		items = items[:0]
		for sub.More() {
			var it json.RawMessage
			if err := sub.Decode(&it); err != nil {
				return nil, err
			}
			items = append(items, it)
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, servedSyntax(data, dec, err)
	}
	if !found {
		return nil, errors.New(`no "packages" member`)
	}
	return items, nil
}

func servedSyntax(data []byte, dec *json.Decoder, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("unexpected end of JSON input")
	}
	line, col := lineCol(data, dec.InputOffset())
	return fmt.Errorf("not JSON: %v near line %d column %d", err, line, col)
}

// parseServedPackage reads one element of a served repository (also the
// document inside DCOS_PACKAGE_DEFINITION). It returns the package's name
// when it has one, even on error.
func parseServedPackage(data []byte) (*Package, string, error) {
	members, err := objectMembers(data)
	if err != nil {
		if t := jsonType(trimSpace(data)); t != "object" {
			return nil, "", fmt.Errorf("must be a JSON object, got %s", t)
		}
		return nil, "", err
	}
	m := make(map[string]json.RawMessage, len(members))
	for _, mem := range members {
		m[mem.key] = mem.value
	}
	var name string
	if jsonType(m["name"]) == "string" {
		name, _ = unquote(m["name"])
	}
	p, perr := parseMetadata(m, "")
	var prob problems
	if perr != nil {
		prob = append(prob, perr.Error())
	}
	rv, ok := m["releaseVersion"]
	if !ok || jsonType(rv) == "null" {
		prob.addf(`missing required field "releaseVersion"`)
	} else if err := unmarshalInt(rv, &p.ReleaseVersion); err != nil || p.ReleaseVersion < 0 {
		prob.addf(`field "releaseVersion" must be a non-negative integer, got %s`, string(rv))
	}
	if mr, ok := m["marathon"]; ok && jsonType(mr) != "null" {
		var mar map[string]json.RawMessage
		objErr := unmarshalObject(mr, &mar)
		var tmpl string
		tmplErr := errors.New("not a string")
		if objErr == nil && mar != nil && jsonType(mar["v2AppMustacheTemplate"]) == "string" {
			tmpl, tmplErr = unquote(mar["v2AppMustacheTemplate"])
		}
		switch {
		case objErr != nil || mar == nil:
			prob.addf(`field "marathon" must be an object, got %s`, jsonType(mr))
		case tmplErr != nil:
			prob.addf(`marathon.v2AppMustacheTemplate must be a base64 string, got %s`, jsonType(mar["v2AppMustacheTemplate"]))
		default:
			b, err := base64.StdEncoding.DecodeString(tmpl)
			if err != nil {
				prob.addf("marathon.v2AppMustacheTemplate is not base64: %v", err)
			}
			p.Template = b
			if p.Template == nil {
				p.Template = []byte{}
			}
		}
	}
	for _, f := range []struct {
		key string
		dst *json.RawMessage
	}{{"config", &p.Config}, {"resource", &p.Resource}, {"command", &p.Command}} {
		v, ok := m[f.key]
		if !ok || jsonType(v) == "null" {
			continue
		}
		if jsonType(v) != "object" {
			prob.addf("field %q must be an object, got %s", f.key, jsonType(v))
			continue
		}
		*f.dst = v
	}
	if len(prob) > 0 {
		return nil, name, prob.err()
	}
	p.Definition = definitionOf(members)
	p.memo = &memo{}
	return p, name, nil
}

// unmarshalInt is json.Unmarshal into an int, without reflection for plain
// integers.
func unmarshalInt(raw []byte, dst *int) error {
	if len(raw) > 0 && len(raw) < 16 {
		digits := raw
		if digits[0] == '-' {
			digits = digits[1:]
		}
		plain := len(digits) > 0 && (digits[0] != '0' || len(digits) == 1)
		for _, c := range digits {
			if c < '0' || c > '9' {
				plain = false
				break
			}
		}
		if plain {
			n, err := strconv.Atoi(string(raw))
			if err == nil {
				*dst = n
				return nil
			}
		}
	}
	return json.Unmarshal(raw, dst)
}

// unmarshalObject is json.Unmarshal into a map of raw members (the last of
// duplicate keys wins), without reflection for valid objects.
func unmarshalObject(raw []byte, dst *map[string]json.RawMessage) error {
	if members, ok := splitObject(raw); ok {
		m := make(map[string]json.RawMessage, len(members))
		for _, mem := range members {
			m[mem.key] = mem.value
		}
		*dst = m
		return nil
	}
	return json.Unmarshal(raw, dst)
}

// definitionOf rebuilds a package object without the served-form members,
// keeping the order and text of the others.
func definitionOf(members []member) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	n := 0
	for _, m := range members {
		if reservedKeys[m.key] {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		b.Write(m.rawKey)
		b.WriteByte(':')
		b.Write(m.value)
	}
	b.WriteByte('}')
	return json.RawMessage(b.Bytes())
}

// FetchServed downloads a served repository from url (Accept:
// ServedMediaType) and loads it with LoadServed; the source defaults to url.
// client nil means http.DefaultClient; without a deadline on ctx the
// request is bounded by DefaultFetchTimeout. Network errors and 5xx answers
// are errs.Transient (retry later, keep the last good copy); other non-2xx
// answers and undecodable documents are errs.Permanent. The repository is
// nil whenever nothing usable was fetched.
func FetchServed(ctx context.Context, client *http.Client, url string, opts ...LoadOption) (*Repository, []error) {
	if client == nil {
		client = http.DefaultClient
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultFetchTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, []error{errs.Permanent(fmt.Errorf("universe %s: %w", url, err))}
	}
	req.Header.Set("Accept", ServedMediaType)
	req.Header.Set("User-Agent", "universe-operator")
	resp, err := client.Do(req)
	if err != nil {
		return nil, []error{errs.Transient(fmt.Errorf("universe %s: %w", url, err))}
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		e := fmt.Errorf("universe %s: HTTP %s: %s", url, resp.Status, strings.TrimSpace(string(msg)))
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout {
			return nil, []error{errs.Transient(e)}
		}
		return nil, []error{errs.Permanent(e)}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxServedBytes+1))
	if err != nil {
		return nil, []error{errs.Transient(fmt.Errorf("universe %s: reading the answer: %w", url, err))}
	}
	if len(data) > maxServedBytes {
		return nil, []error{errs.Permanent(fmt.Errorf("universe %s: answer larger than %d bytes", url, maxServedBytes))}
	}
	all := append([]LoadOption{WithSource(url)}, opts...)
	return LoadServed(data, all...)
}
