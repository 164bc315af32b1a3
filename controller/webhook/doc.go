// Package webhook serves `POST /api/v1/webhook/git`: push notifications from
// GitHub, GitLab and Gitea (also Forgejo and Gogs, which sign like Gitea),
// verified with a shared secret in constant time, turned into a Push and
// handed to a callback so the controller fetches the matching sources now
// instead of at the next poll.
//
// Verification, by provider (detected from the event header):
//
//	GitHub  X-GitHub-Event; X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>
//	GitLab  X-Gitlab-Event ("Push Hook", "Tag Push Hook"); X-Gitlab-Token: <secret>
//	Gitea   X-Gitea-Event (or X-Forgejo-Event, X-Gogs-Event); X-Gitea-Signature
//	        (or X-Forgejo-Signature, X-Gogs-Signature): <hex HMAC-SHA256 of the body>
//
// Answers: 202 for an accepted push, 200 for a GitHub ping and for events
// that are not pushes (ignored), 401 for a missing or wrong signature/token,
// 400 for an unreadable payload, 405 for a method other than POST, 413 for a
// body over the limit (default 5 MiB). Signatures are checked before the
// payload is parsed.
//
// Exported API:
//
//	const Path = "/api/v1/webhook/git"
//	type Push struct {
//		Provider string   // "github", "gitlab", "gitea"
//		Event    string   // the event header's value
//		Ref      string   // "refs/heads/main", "refs/tags/v1.0"
//		After    string   // the new commit ("" or zeros when the ref was deleted)
//		URLs     []string // the repository's URLs from the payload, as sent
//	}
//	type Options struct {
//		Secret       []byte                // required
//		OnPush       func(Push)            // called for each verified push, before the answer; keep it short
//		Registerer   prometheus.Registerer // optional
//		MaxBodyBytes int64                 // default 5 MiB
//		Logger       logrus.FieldLogger
//	}
//	func New(opts Options) (*Handler, error)
//	func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request)
//	func NormalizeURL(u string) string                 // "github.com/org/repo"
//	func SameRepository(a, b string) bool
//	func Matches(p Push, repoURL, ref string) bool     // does this push concern a source at (url, ref)?
//	func RefMatches(sourceRef, pushRef string) bool
//
// URL normalisation (for matching only): scheme, user info and port are
// dropped, the host and path are lower-cased, and a trailing "/" and ".git"
// are removed, so https://GitHub.com/Org/Repo.git, git@github.com:org/repo
// and ssh://git@github.com:22/org/repo/ all become "github.com/org/repo". A
// false match costs one cheap ref listing; a missed one waits for the poll.
//
// Ref matching: a source ref "main" matches a push to refs/heads/main or
// refs/tags/main; a full ref ("refs/heads/main") matches itself; an empty
// source ref (the remote's default branch) matches any branch push; a commit
// ref never matches (it cannot move).
//
// Metrics (registered on Options.Registerer):
//
//	universe_operator_webhook_requests_total{provider,result}
//	    provider: github | gitlab | gitea | unknown
//	    result:   accepted | ping | ignored | unauthorized | bad_request |
//	              method_not_allowed | too_large
package webhook
