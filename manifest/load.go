package manifest

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/universe-operator/universe-operator/config/strict"
)

// maxOptionsFile bounds an options file.
const maxOptionsFile = 1 << 20

// ResolveOptions reads r.Spec.OptionsFile from fsys (the repository root:
// an os.Root's FS for a directory, the Git tree for a Git source, both of
// which refuse symlinks that leave the repository) and sets r.Options to the
// file's options deep-merged under the inline options. Without an
// optionsFile, r.Options stays the inline options. Problems name the
// manifest, spec.optionsFile and the reason.
func ResolveOptions(fsys fs.FS, r *Release) []error {
	return resolveOptions(fsys, r, nil)
}

// optionFiles caches parsed options files for one Load (many releases
// often share one file). Values are never modified after parsing.
type optionFiles struct {
	mu    sync.Mutex
	files map[string]optionFile
	fast  *fileReader
}

type optionFile struct {
	opts any
	err  error
}

// read returns the parsed options of a file, reading it once per Load.
func (o *optionFiles) read(fsys fs.FS, clean string) (any, error) {
	if o != nil {
		o.mu.Lock()
		f, ok := o.files[clean]
		o.mu.Unlock()
		if ok {
			return f.opts, f.err
		}
	}
	var fast *fileReader
	if o != nil {
		fast = o.fast
	}
	opts, err := readOptionsFile(fsys, fast, clean)
	if o != nil {
		o.mu.Lock()
		o.files[clean] = optionFile{opts, err}
		o.mu.Unlock()
	}
	return opts, err
}

// readOptionsFile reads and parses one options file (an object).
func readOptionsFile(fsys fs.FS, fast *fileReader, clean string) (any, error) {
	data, err := readFile(fsys, fast, clean, maxOptionsFile)
	if err != nil {
		return nil, err
	}
	js, err := strict.ToJSON(data, formatOf(clean))
	if err != nil {
		return nil, err
	}
	opts, err := decodeNumbers(js)
	if err != nil {
		return nil, err
	}
	if _, ok := opts.(map[string]any); !ok {
		return nil, errors.New("must hold an object of options")
	}
	return opts, nil
}

func resolveOptions(fsys fs.FS, r *Release, files *optionFiles) []error {
	ps := &problems{file: r.File}
	name := r.Spec.OptionsFile
	if name == "" {
		return nil
	}
	const field = "spec.optionsFile"
	if err := checkRelPath(name); err != nil {
		ps.add(field, "%v", err)
		return ps.list
	}
	clean := path.Clean(name)
	fileOpts, err := files.read(fsys, clean)
	if err != nil {
		ps.add(field, "%s: %v", clean, err)
		return ps.list
	}
	merged := fileOpts
	if len(r.Spec.Options) > 0 {
		inline, err := decodeNumbers(r.Spec.Options)
		if err != nil {
			ps.add("spec.options", "%v", err)
			return ps.list
		}
		merged = deepMerge(fileOpts, inline)
	}
	out, err := encode(merged)
	if err != nil {
		ps.add(field, "%s: %v", clean, err)
		return ps.list
	}
	r.Options = out
	return nil
}

// readLimited reads a regular file from fsys (following symlinks the FS
// allows) with a size limit: one Open, then Stat on the open file.
func readLimited(fsys fs.FS, name string, limit int64) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fsErr(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fsErr(err)
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	if st.Size() > limit {
		return nil, errLarger(limit)
	}
	data := make([]byte, 0, st.Size()+1)
	for {
		n, err := f.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fsErr(err)
		}
		if int64(len(data)) > limit {
			return nil, errLarger(limit)
		}
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
	}
	return data, nil
}

// errLarger is the error for a file over a size limit.
func errLarger(limit int64) error { return fmt.Errorf("larger than %d bytes", limit) }

// errNotFast says the fast path did not read a file.
var errNotFast = errors.New("not read by the fast path")

// readFile is readLimited, through fast when it can.
func readFile(fsys fs.FS, fast *fileReader, name string, limit int64) ([]byte, error) {
	if fast != nil {
		if data, err := fast.read(name, limit); err != errNotFast {
			return data, err
		}
	}
	return readLimited(fsys, name, limit)
}

// fsErr words a file system error without repeating the path.
func fsErr(err error) error {
	msg := err.Error()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return errors.New("no such file in the repository")
	case errors.Is(err, fs.ErrPermission):
		return errors.New("permission denied")
	case strings.Contains(msg, "escapes") || strings.Contains(msg, "outside the repository"):
		return errors.New("a symlink points outside the repository")
	case strings.Contains(msg, "too many levels of symbolic links"):
		return errors.New("symlink loop")
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// LoadOptions says where the manifests are.
type LoadOptions struct {
	// FS is the repository root: manifests are under Path in it, and
	// optionsFile paths are resolved in it. Use os.Root's FS for a directory
	// (so symlinks cannot leave it) or the Git tree (clients/git TreeFS).
	FS fs.FS
	// Path is the releases directory inside FS (slash-separated; "" or "."
	// = the root).
	Path string
	// Workers bounds parallel reading and parsing (default 2*GOMAXPROCS).
	Workers int
	// Cache, when set, keeps parse results between loads: a file whose name
	// and content did not change is not parsed again (options files are
	// always read again). One Load at a time per Cache.
	Cache *Cache

	fast *fileReader // LoadDir's fast reads of FS (nil: none)
}

// Cache holds parse results by file name and content hash; entries not
// used by the latest Load are dropped. The zero value is ready to use.
type Cache struct {
	mu   sync.Mutex
	cur  map[cacheKey]*cacheEntry
	next map[cacheKey]*cacheEntry
	hits int
}

type cacheKey struct {
	file string
	sum  [32]byte
}

type cacheEntry struct {
	rel         *Release
	problems    []error
	name        string
	optionsFile string
}

// Hits returns how many files the latest Load took from the cache.
func (c *Cache) Hits() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits
}

func (c *Cache) begin() {
	c.mu.Lock()
	c.next = map[cacheKey]*cacheEntry{}
	c.hits = 0
	c.mu.Unlock()
}

func (c *Cache) end() {
	c.mu.Lock()
	c.cur, c.next = c.next, nil
	c.mu.Unlock()
}

func (c *Cache) get(k cacheKey) *cacheEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.cur[k]
	if e != nil {
		c.next[k] = e
		c.hits++
	}
	return e
}

func (c *Cache) put(k cacheKey, e *cacheEntry) {
	c.mu.Lock()
	c.next[k] = e
	c.mu.Unlock()
}

// Result is what one manifest file yielded.
type Result struct {
	// File is the manifest's path relative to the repository root.
	File string
	// Name is the release name when it could be read (even from a manifest
	// with other problems), else "".
	Name string
	// Release is the valid release, or nil when Problems is not empty.
	Release *Release
	// Problems are everything wrong with this file (file, field, reason).
	Problems []error

	optionsFile string // spec.optionsFile as far as it could be read
}

// Set is the outcome of loading a directory of manifests.
type Set struct {
	// Results holds one entry per manifest file, sorted by File.
	Results []*Result

	byName map[string]*Result
}

// Releases returns the valid releases sorted by name.
func (s *Set) Releases() []*Release {
	var out []*Release
	for _, r := range s.Results {
		if r.Release != nil {
			out = append(out, r.Release)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

// Get returns the result for a release name (a valid release, or the
// first broken file that carries the name), or nil.
func (s *Set) Get(name string) *Result {
	if s == nil {
		return nil
	}
	return s.byName[name]
}

// Problems returns every problem of every file, in file order.
func (s *Set) Problems() []error {
	var out []error
	for _, r := range s.Results {
		out = append(out, r.Problems...)
	}
	return out
}

// Names returns every release name present in the set, valid or not,
// sorted. A name whose manifest is broken is still "present": it must not
// be pruned.
func (s *Set) Names() []string {
	out := make([]string, 0, len(s.byName))
	for n := range s.byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Unnamed returns the files whose release name could not be read. While any
// exist the controller cannot tell which release they were meant to be.
func (s *Set) Unnamed() []string {
	var out []string
	for _, r := range s.Results {
		if r.Name == "" {
			out = append(out, r.File)
		}
	}
	return out
}

// isManifestFile reports whether a file name is a manifest candidate.
func isManifestFile(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// Load reads every manifest under opts.Path in opts.FS. The error is set
// only when the releases directory itself cannot be read (then the caller
// keeps its previous set); problems with single files are in their Results.
func Load(opts LoadOptions) (*Set, error) {
	fsys := opts.FS
	if fsys == nil {
		return nil, errors.New("releases: no file system given")
	}
	dir := path.Clean(strings.Trim(opts.Path, "/"))
	if opts.Path == "" {
		dir = "."
	}
	if dir != "." {
		if err := checkRelPath(dir); err != nil {
			return nil, fmt.Errorf("releases path: %w", err)
		}
	}
	st, err := fs.Stat(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("releases path %q: %w", dir, fsErr(err))
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("releases path %q: not a directory", dir)
	}
	var files []string
	var linkedDirs []*Result
	err = fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", p, fsErr(err))
		}
		if p != dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			// A link to a directory is not walked: its manifests would
			// silently not count (and their releases be pruned). Say so;
			// as a file whose release is unknown it also blocks pruning.
			if st, err := fs.Stat(fsys, p); err == nil && st.IsDir() {
				linkedDirs = append(linkedDirs, &Result{File: p, Problems: []error{&Problem{File: p,
					Reason: "a symbolic link to a directory: not followed, so the manifests in it are not read; use a real directory"}}})
				return nil
			}
		}
		if d.IsDir() || !isManifestFile(d.Name()) {
			return nil
		}
		files = append(files, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("releases path %q: %w", dir, err)
	}
	if opts.Cache != nil {
		opts.Cache.begin()
		defer opts.Cache.end()
	}
	results := make([]*Result, len(files))
	optFiles := &optionFiles{files: map[string]optionFile{}, fast: opts.fast}
	workers := opts.Workers
	if workers <= 0 {
		// More workers than CPUs: reads block in system calls while
		// others parse.
		workers = 2 * runtime.GOMAXPROCS(0)
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(workers, max(1, len(files))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = loadFile(fsys, opts.fast, files[i], opts.Cache, optFiles)
			}
		}()
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	return finish(append(results, linkedDirs...)), nil
}

// LoadDir is Load over a directory: dir is the repository root (opened as
// an os.Root, so symlinks cannot leave it) and sub the releases path in it.
func LoadDir(dir, sub string) (*Set, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("releases directory %s: %w", dir, fsErr(err))
	}
	defer root.Close()
	fast := newFileReader(root)
	defer fast.close()
	return Load(LoadOptions{FS: root.FS(), Path: sub, fast: fast})
}

// loadFile reads, parses and resolves one manifest.
func loadFile(fsys fs.FS, fast *fileReader, file string, cache *Cache, optFiles *optionFiles) *Result {
	res := &Result{File: file}
	data, err := readFile(fsys, fast, file, int64(maxManifest))
	if err != nil {
		res.Problems = []error{&Problem{File: file, Reason: err.Error()}}
		return res
	}
	var e *cacheEntry
	var key cacheKey
	if cache != nil {
		key = cacheKey{file: file, sum: sha256.Sum256(data)}
		e = cache.get(key)
	}
	if e == nil {
		e = &cacheEntry{}
		e.rel, e.problems = Parse(file, data)
		if len(e.problems) > 0 {
			e.name, e.optionsFile = namesOf(data, file)
		} else {
			e.name, e.optionsFile = e.rel.Name(), e.rel.Spec.OptionsFile
		}
		if cache != nil {
			cache.put(key, e)
		}
	}
	res.Name, res.optionsFile = e.name, e.optionsFile
	if len(e.problems) > 0 {
		res.Problems = e.problems
		return res
	}
	copied := *e.rel
	rel := &copied
	if ps := resolveOptions(fsys, rel, optFiles); len(ps) > 0 {
		res.Problems = ps
		return res
	}
	res.Release = rel
	return res
}

// namesOf reads metadata.name and spec.optionsFile from a manifest that
// failed validation, when the document can be read at all and they are
// valid; "" otherwise.
func namesOf(data []byte, file string) (name, optionsFile string) {
	js, err := strict.ToJSON(data, formatOf(file))
	if err != nil {
		return "", ""
	}
	var doc struct {
		Kind     any `json:"kind"`
		Metadata struct {
			Name any `json:"name"`
		} `json:"metadata"`
		Spec struct {
			OptionsFile any `json:"optionsFile"`
		} `json:"spec"`
	}
	if json.Unmarshal(js, &doc) != nil {
		return "", ""
	}
	if n, ok := doc.Metadata.Name.(string); ok && ValidName(n) == nil && doc.Kind == Kind {
		name = n
	}
	if f, ok := doc.Spec.OptionsFile.(string); ok && checkRelPath(f) == nil {
		optionsFile = f
	}
	return name, optionsFile
}

// finish drops options files from the results, marks duplicate names and
// indexes the set.
func finish(results []*Result) *Set {
	optionFiles := map[string]bool{}
	for _, r := range results {
		if r.optionsFile != "" {
			optionFiles[path.Clean(r.optionsFile)] = true
		}
	}
	kept := results[:0]
	for _, r := range results {
		// An options file is not a manifest, unless it is one (then it is
		// kept: dropping a release because another one reads its file as
		// options would prune it). Only a file that parses and has neither
		// apiVersion nor kind is dropped: a broken manifest that another
		// one names as its options file stays, unnamed, and blocks pruning.
		if optionFiles[r.File] && r.Release == nil && r.Name == "" && onlyNotManifest(r.Problems) {
			continue
		}
		kept = append(kept, r)
	}
	results = kept
	sort.Slice(results, func(i, j int) bool { return results[i].File < results[j].File })

	byName := map[string][]*Result{}
	for _, r := range results {
		if r.Name != "" {
			byName[r.Name] = append(byName[r.Name], r)
		}
	}
	s := &Set{Results: results, byName: map[string]*Result{}}
	for name, rs := range byName {
		if len(rs) > 1 {
			for _, r := range rs {
				var others []string
				for _, o := range rs {
					if o != r {
						others = append(others, o.File)
					}
				}
				// Clip: Problems may be shared with a Cache entry.
				r.Problems = append(r.Problems[:len(r.Problems):len(r.Problems)], &Problem{File: r.File, Field: "metadata.name",
					Reason: fmt.Sprintf("duplicate release name %q: also defined in %s", name, strings.Join(others, ", "))})
				r.Release = nil
			}
		}
		s.byName[name] = rs[0]
		for _, r := range rs {
			if r.Release != nil {
				s.byName[name] = r
			}
		}
	}
	return s
}

// CheckDependencies checks spec.dependsOn across releases: every target must
// exist, and there must be no cycle. present lists names that exist but
// whose manifests are broken (Set.Names): depending on them is not reported
// here (their own files carry the problem). It returns the problems by
// release name (each *Problem names the release's file and field).
func CheckDependencies(rels []*Release, present ...string) map[string][]error {
	byName := map[string]*Release{}
	for _, r := range rels {
		byName[r.Name()] = r
	}
	known := map[string]bool{}
	for _, n := range present {
		known[n] = true
	}
	out := map[string][]error{}
	for _, r := range rels {
		for i, d := range r.Spec.DependsOn {
			if _, ok := byName[d]; !ok && !known[d] {
				out[r.Name()] = append(out[r.Name()], &Problem{File: r.File, Field: strict.Index("spec.dependsOn", i),
					Reason: fmt.Sprintf("no release named %q", d)})
			}
		}
	}
	// Cycles: depth-first search with colours; every release on a cycle
	// gets the problem.
	const (
		white = iota
		grey
		black
	)
	colour := map[string]int{}
	var stack []string
	var visit func(n string)
	visit = func(n string) {
		colour[n] = grey
		stack = append(stack, n)
		r := byName[n]
		for _, d := range r.Spec.DependsOn {
			if _, ok := byName[d]; !ok {
				continue
			}
			switch colour[d] {
			case white:
				visit(d)
			case grey:
				start := len(stack) - 1
				for stack[start] != d {
					start--
				}
				cycle := append(append([]string{}, stack[start:]...), d)
				desc := strings.Join(cycle, " -> ")
				for _, m := range cycle[:len(cycle)-1] {
					out[m] = append(out[m], &Problem{File: byName[m].File, Field: "spec.dependsOn",
						Reason: "dependency cycle: " + desc})
				}
			}
		}
		stack = stack[:len(stack)-1]
		colour[n] = black
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if colour[n] == white {
			visit(n)
		}
	}
	return out
}
