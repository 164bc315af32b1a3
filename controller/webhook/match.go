package webhook

import (
	"net/url"
	"regexp"
	"strings"
)

var (
	scpLike   = regexp.MustCompile(`^(?:[^@/:]+@)?([^/:]+):(.*)$`)
	hexCommit = regexp.MustCompile(`^[0-9a-fA-F]{40}$`)
)

// NormalizeURL reduces a repository URL to "host/path" for matching:
// scheme, user info and port dropped, host and path lower-cased, a trailing
// "/" and ".git" removed. https://GitHub.com/Org/Repo.git,
// git@github.com:org/repo and ssh://git@github.com:22/org/repo/ all become
// "github.com/org/repo". It returns "" for an empty or unreadable URL.
func NormalizeURL(raw string) string {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return ""
	}
	var host, p string
	if !strings.Contains(raw, "://") {
		m := scpLike.FindStringSubmatch(raw)
		if m == nil {
			return ""
		}
		host, p = m[1], m[2]
	} else {
		u, err := url.Parse(raw)
		if err != nil {
			return ""
		}
		host, p = u.Hostname(), u.Path
	}
	p = strings.Trim(strings.ToLower(p), "/")
	p = strings.TrimSuffix(p, ".git")
	p = strings.TrimRight(p, "/")
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "" {
		return p
	}
	if p == "" {
		return host
	}
	return host + "/" + p
}

// SameRepository reports whether two URLs name the same repository after
// normalisation.
func SameRepository(a, b string) bool {
	na, nb := NormalizeURL(a), NormalizeURL(b)
	return na != "" && na == nb
}

// RefMatches reports whether a push to pushRef concerns a source following
// sourceRef: "main" matches refs/heads/main and refs/tags/main, a full ref
// matches itself, "" (the default branch) matches any branch, and a commit
// never matches (it cannot move).
func RefMatches(sourceRef, pushRef string) bool {
	switch {
	case hexCommit.MatchString(sourceRef):
		return false
	case sourceRef == "" || sourceRef == "HEAD":
		return strings.HasPrefix(pushRef, "refs/heads/")
	case strings.HasPrefix(sourceRef, "refs/"):
		return pushRef == sourceRef
	}
	return pushRef == "refs/heads/"+sourceRef || pushRef == "refs/tags/"+sourceRef || pushRef == "refs/"+sourceRef
}

// Matches reports whether a push concerns a source at (repoURL, ref): one
// of the push's URLs names the same repository and the ref matches.
func Matches(p Push, repoURL, ref string) bool {
	if !RefMatches(ref, p.Ref) {
		return false
	}
	for _, u := range p.URLs {
		if SameRepository(u, repoURL) {
			return true
		}
	}
	return false
}
