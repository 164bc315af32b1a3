package universe

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/universe-operator/universe-operator/errs"
)

// LoadOption configures a loader.
type LoadOption func(*loadConfig)

type loadConfig struct {
	name   string
	source string
	prefix string
}

// WithName sets the repository's name (default: "universe").
func WithName(name string) LoadOption { return func(c *loadConfig) { c.name = name } }

// WithSource sets the repository's URI, recorded in DCOS_PACKAGE_SOURCE
// (default: a file:// URL of the directory, or the served form's URL).
func WithSource(uri string) LoadOption { return func(c *loadConfig) { c.source = uri } }

// WithLocationPrefix makes LoadFS report locations as prefix + "/" + the
// path inside the file system (for example "URL@commit:repo/packages"), so
// messages say where a file really is.
func WithLocationPrefix(prefix string) LoadOption { return func(c *loadConfig) { c.prefix = prefix } }

func newLoadConfig(opts []LoadOption) loadConfig {
	c := loadConfig{name: "universe"}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}

// The files of a revision directory.
const (
	PackageFile  = "package.json"
	ConfigFile   = "config.json"
	TemplateFile = "marathon.json.mustache"
	ResourceFile = "resource.json"
	CommandFile  = "command.json"
)

var (
	letterPattern   = regexp.MustCompile(`^[A-Z]$`)
	releasePattern  = regexp.MustCompile(`^(0|[1-9][0-9]{0,8})$`)
	maxRevisionFile = int64(64 << 20) // no real file comes close; guards memory
)

// LoadDir loads the Universe packages tree under dir (a `packages`
// directory holding `<L>/<name>/<releaseVersion>/`); symbolic links may not
// lead outside dir. Malformed files are
// reported, one error each (a *FileError wrapped with errs.Permanent), and
// their revision is left out; the rest loads. The repository is nil only
// when dir itself cannot be read.
func LoadDir(dir string, opts ...LoadOption) (*Repository, []error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, []error{errs.Permanent(fmt.Errorf("universe directory %s: %w", dir, err))}
	}
	if !st.IsDir() {
		return nil, []error{errs.Permanent(fmt.Errorf("universe directory %s: not a directory", dir))}
	}
	// os.Root keeps symbolic links from leading outside dir (trees exported
	// from Git keep their symlinks).
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, []error{errs.Permanent(fmt.Errorf("universe directory %s: %w", dir, err))}
	}
	defer root.Close()
	fsys := newRootFS(root)
	defer fsys.close()
	c := newLoadConfig(opts)
	if c.source == "" {
		c.source = "file://" + filepath.ToSlash(abs)
	}
	return load(fsys, func(rel string) string { return filepath.Join(dir, filepath.FromSlash(rel)) }, c)
}

// LoadFS is LoadDir over an fs.FS whose root is the `packages` directory
// (use fs.Sub to point into a larger tree). Locations in errors are paths
// inside fsys.
func LoadFS(fsys fs.FS, opts ...LoadOption) (*Repository, []error) {
	c := newLoadConfig(opts)
	if c.source == "" {
		c.source = "fs:///"
	}
	where := func(rel string) string { return rel }
	if c.prefix != "" {
		where = func(rel string) string { return strings.TrimSuffix(c.prefix, "/") + "/" + rel }
	}
	return load(fsys, where, c)
}

// revisionDir is one `<L>/<name>/<rev>` directory to load.
type revisionDir struct {
	rel     string // slash path inside the FS
	name    string // directory name of the package
	release int
}

func load(fsys fs.FS, where func(string) string, c loadConfig) (*Repository, []error) {
	letters, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, []error{errs.Permanent(fmt.Errorf("universe %s: %w", where("."), err))}
	}
	var problems []error
	var dirs []revisionDir
	for _, l := range letters {
		if !l.IsDir() {
			continue // README files and the like
		}
		if !letterPattern.MatchString(l.Name()) {
			problems = append(problems, fileError(where(l.Name()), errors.New("unexpected directory: packages are under one upper-case letter directory")))
			continue
		}
		names, err := fs.ReadDir(fsys, l.Name())
		if err != nil {
			problems = append(problems, fileError(where(l.Name()), err))
			continue
		}
		for _, n := range names {
			if !n.IsDir() {
				continue
			}
			prel := path.Join(l.Name(), n.Name())
			if !strings.HasPrefix(n.Name(), strings.ToLower(l.Name())) {
				problems = append(problems, fileError(where(prel), fmt.Errorf("package %q must be under directory %q", n.Name(), strings.ToUpper(n.Name()[:1]))))
				continue
			}
			revs, err := fs.ReadDir(fsys, prel)
			if err != nil {
				problems = append(problems, fileError(where(prel), err))
				continue
			}
			for _, r := range revs {
				if !r.IsDir() {
					continue
				}
				rrel := path.Join(prel, r.Name())
				if !releasePattern.MatchString(r.Name()) {
					problems = append(problems, fileError(where(rrel), fmt.Errorf("revision directory %q is not a releaseVersion (a non-negative integer)", r.Name())))
					continue
				}
				rel, _ := strconv.Atoi(r.Name())
				dirs = append(dirs, revisionDir{rel: rrel, name: n.Name(), release: rel})
			}
		}
	}

	pkgs := make([]*Package, len(dirs))
	perDir := make([][]error, len(dirs))
	workers := runtime.GOMAXPROCS(0)
	if workers > len(dirs) {
		workers = len(dirs)
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				pkgs[i], perDir[i] = loadRevision(fsys, dirs[i], where)
			}
		}()
	}
	for i := range dirs {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, e := range perDir {
		problems = append(problems, e...)
	}
	repo, dup := NewRepository(c.name, c.source, pkgs)
	problems = append(problems, dup...)
	sortErrors(problems)
	return repo, problems
}

// loadRevision reads and checks one revision directory. Every malformed file
// is one error; a revision with any malformed file is left out.
func loadRevision(fsys fs.FS, d revisionDir, where func(string) string) (*Package, []error) {
	// One directory listing instead of a lookup per possible file: opening
	// through os.Root costs a system call per path component.
	entries, err := fs.ReadDir(fsys, d.rel)
	if err != nil {
		return nil, []error{fileError(where(d.rel), err)}
	}
	present := make(map[string]fs.DirEntry, len(entries))
	for _, e := range entries {
		present[e.Name()] = e
	}
	fast, _ := fsys.(*rootFS)
	if fast != nil && fast.fastOK() {
		defer fast.forget(d.rel)
	}
	read := func(file string) ([]byte, error) {
		e, ok := present[file]
		if !ok {
			return nil, fs.ErrNotExist
		}
		if e.IsDir() {
			return nil, errors.New("is a directory")
		}
		if fast != nil && e.Type() == 0 {
			if b, err := fast.readFileFast(d.rel, file, maxRevisionFile); err != errNotFast {
				return b, err
			}
		}
		f, err := fsys.Open(path.Join(d.rel, file))
		if err != nil {
			return nil, err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return nil, err
		}
		if st.IsDir() {
			return nil, errors.New("is a directory")
		}
		if st.Size() > maxRevisionFile {
			return nil, errTooLarge(maxRevisionFile)
		}
		b := make([]byte, 0, st.Size()+1)
		for {
			n, err := f.Read(b[len(b):cap(b)])
			b = b[:len(b)+n]
			if err == io.EOF {
				return b, nil
			}
			if err != nil {
				return nil, err
			}
			if len(b) == cap(b) {
				if int64(len(b)) > maxRevisionFile {
					return nil, errTooLarge(maxRevisionFile)
				}
				b = append(b, 0)[:len(b)]
			}
		}
	}
	filePath := func(file string) string { return where(path.Join(d.rel, file)) }
	raw, err := read(PackageFile)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, []error{fileError(filePath(PackageFile), errors.New("missing: every revision needs a package.json"))}
		}
		return nil, []error{fileError(filePath(PackageFile), err)}
	}
	var problems []error
	var p *Package
	if m, err := decodeObject(raw); err != nil {
		problems = append(problems, fileError(filePath(PackageFile), err))
	} else if p, err = parseMetadata(m, d.name); err != nil {
		problems = append(problems, fileError(filePath(PackageFile), err))
	}
	optional := func(file string, check bool) []byte {
		b, err := read(file)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				problems = append(problems, fileError(filePath(file), err))
			}
			return nil
		}
		if check {
			if err := checkObject(b); err != nil {
				problems = append(problems, fileError(filePath(file), err))
				return nil
			}
		}
		return b
	}
	config := optional(ConfigFile, true)
	resource := optional(ResourceFile, true)
	command := optional(CommandFile, true)
	template := optional(TemplateFile, false)
	if len(problems) > 0 {
		return nil, problems
	}
	p.ReleaseVersion = d.release
	p.Definition = raw
	p.Location = where(d.rel)
	p.Config, p.Resource, p.Command, p.Template = config, resource, command, template
	p.memo = &memo{}
	return p, nil
}

// errTooLarge is the error for a file over the loaders' size limit.
func errTooLarge(limit int64) error { return fmt.Errorf("file is larger than %d bytes", limit) }

// sortErrors orders load errors by their location so reports are stable.
func sortErrors(list []error) {
	key := func(e error) string {
		var fe *FileError
		if errors.As(e, &fe) {
			return fe.Path
		}
		return e.Error()
	}
	sort.SliceStable(list, func(i, j int) bool { return key(list[i]) < key(list[j]) })
}
