package marathon

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/universe-operator/universe-operator/errs"
)

// APIError is a non-2xx answer from Marathon. Errors returned by the Client
// wrap it in an errs class; use errors.As to reach it.
type APIError struct {
	// Method and Path name the call (Path is the template, e.g. /v2/apps/{id}).
	Method string
	Path   string
	// Status is the HTTP status code.
	Status int
	// Message is Marathon's "message" (or the start of a non-JSON body).
	Message string
	// Details are the per-field validation errors of a 400/422.
	Details []Detail
	// Deployments are the ids of the deployments locking the app (409).
	Deployments []string
	// Location is the redirect target of a 3xx answer.
	Location string
	// Body is the answer as received (at most 64 KiB kept).
	Body []byte
}

// Detail is one field's validation errors.
type Detail struct {
	Path   string   `json:"path"`
	Errors []string `json:"errors"`
}

// Error describes the request and Marathon's answer.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "marathon %s %s: %d", e.Method, e.Path, e.Status)
	if t := http.StatusText(e.Status); t != "" {
		b.WriteString(" " + strings.ToLower(t))
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	for i, d := range e.Details {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		p := d.Path
		if p == "" {
			p = "/"
		}
		b.WriteString(p + ": " + strings.Join(d.Errors, ", "))
	}
	if len(e.Deployments) > 0 {
		b.WriteString(" (deployments: " + strings.Join(e.Deployments, ", ") + ")")
	}
	if e.Location != "" {
		b.WriteString(" (redirect to " + e.Location + ": check the marathon url)")
	}
	return b.String()
}

// apiError builds and classifies the error for a non-2xx answer.
func (c *Client) apiError(r request, resp *response) error {
	e := &APIError{Method: r.method, Path: r.tmpl, Status: resp.status}
	body := resp.body
	if len(body) > 64<<10 {
		body = body[:64<<10]
	}
	e.Body = append([]byte(nil), body...)
	var m struct {
		Message     string   `json:"message"`
		Details     []Detail `json:"details"`
		Deployments []struct {
			ID string `json:"id"`
		} `json:"deployments"`
	}
	if json.Unmarshal(resp.body, &m) == nil {
		e.Message, e.Details = m.Message, m.Details
		for _, d := range m.Deployments {
			e.Deployments = append(e.Deployments, d.ID)
		}
	} else {
		e.Message = shortText(resp.body)
	}
	if resp.status >= 300 && resp.status < 400 {
		e.Location = resp.header.Get("Location")
	}
	return c.classify(e)
}

func shortText(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

func (c *Client) classify(e *APIError) error {
	switch {
	case e.Status == http.StatusConflict && isExists(e):
		return errs.Waiting(e, c.opts.ExistsRetryAfter)
	case e.Status == http.StatusConflict:
		return errs.Waiting(e, c.opts.LockedRetryAfter)
	case e.Status == http.StatusTooManyRequests || e.Status >= 500:
		return errs.Transient(e)
	default:
		// 3xx (wrong URL), 400, 401/403 (after the auth layer retried),
		// 404, 405, 422 and other 4xx: retrying the same request cannot help.
		return errs.Permanent(e)
	}
}

func isExists(e *APIError) bool {
	return e.Status == http.StatusConflict && len(e.Deployments) == 0 &&
		strings.Contains(strings.ToLower(e.Message), "already exists")
}

// asAPIError finds the *APIError in err's chain.
func asAPIError(err error) *APIError {
	var e *APIError
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// StatusOf returns the HTTP status of the *APIError in err's chain, or 0.
func StatusOf(err error) int {
	if e := asAPIError(err); e != nil {
		return e.Status
	}
	return 0
}

// IsNotFound reports whether Marathon answered 404 (no such app or
// deployment, or no leader for GET /v2/leader).
func IsNotFound(err error) bool { return StatusOf(err) == http.StatusNotFound }

// IsAlreadyExists reports whether a create failed because the app exists.
func IsAlreadyExists(err error) bool {
	e := asAPIError(err)
	return e != nil && isExists(e)
}

// IsLocked reports whether the app is locked by deployments in flight (409
// other than "already exists").
func IsLocked(err error) bool {
	e := asAPIError(err)
	return e != nil && e.Status == http.StatusConflict && !isExists(e)
}

// LockingDeployments returns the ids of the deployments that lock the app,
// from a 409 answer.
func LockingDeployments(err error) []string {
	if e := asAPIError(err); e != nil && e.Status == http.StatusConflict {
		return append([]string(nil), e.Deployments...)
	}
	return nil
}
