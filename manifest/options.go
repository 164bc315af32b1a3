package manifest

import (
	"errors"
	"fmt"
	"strings"

	"github.com/universe-operator/universe-operator/config/strict"
	"github.com/universe-operator/universe-operator/render"
	"github.com/universe-operator/universe-operator/universe"
)

// CheckOptions validates the release's effective options against the
// package's config.json (defaults, merge and draft-04 validation, exactly as
// the renderer does). Each broken rule becomes a *Problem naming the
// manifest, the field (spec.options plus the option's path, e.g.
// spec.options.service.name) and the rule; several are joined.
func CheckOptions(r *Release, pkg *universe.Package) error {
	err := render.ValidateOptions(pkg, r.Options)
	if err == nil {
		return nil
	}
	return optionProblems(r, pkg, err)
}

// optionProblems turns a render error into *Problem values.
func optionProblems(r *Release, pkg *universe.Package, err error) error {
	var re *render.Error
	where := pkg.Name + " " + pkg.Version + fmt.Sprintf(" (rev %d)", pkg.ReleaseVersion)
	if errors.As(err, &re) && len(re.Problems) > 0 {
		out := make([]error, 0, len(re.Problems))
		for _, p := range re.Problems {
			out = append(out, &Problem{File: r.File, Field: pointerField("spec.options", p.Pointer),
				Reason: fmt.Sprintf("%s (rule %s of %s %s)", p.Message, p.Rule, where, re.File)})
		}
		return errors.Join(out...)
	}
	return &Problem{File: r.File, Field: "spec.options", Reason: err.Error()}
}

// pointerField appends a JSON pointer ("/service/name") to a field path.
func pointerField(base, pointer string) string {
	if pointer == "" || pointer == "/" {
		return base
	}
	out := base
	for _, tok := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		if isIndex(tok) {
			out += "[" + tok + "]"
			continue
		}
		out = strict.Join(out, tok)
	}
	return out
}

// isIndex reports whether a pointer token is an array index.
func isIndex(s string) bool {
	if s == "" || len(s) > 9 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// RenderProblem words a render.Render failure for a release as a *Problem
// (options problems get their option paths, template problems the
// template's file and position).
func RenderProblem(r *Release, pkg *universe.Package, err error) error {
	var re *render.Error
	if errors.As(err, &re) && re.Kind == render.KindOptions {
		return optionProblems(r, pkg, err)
	}
	return &Problem{File: r.File, Field: "spec.package", Reason: "cannot render " + err.Error()}
}
