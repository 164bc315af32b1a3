package marathon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/universe-operator/universe-operator/errs"
)

// App is one app as Marathon returned it: Raw holds the object verbatim
// (with Marathon's defaults and the embedded status fields); the other
// fields are parsed from it for convenience. A field of an unexpected type
// is left zero rather than failing the whole answer (one odd app must not
// hide the others); Raw is always complete.
type App struct {
	ID        string
	Version   string
	Instances int
	Labels    map[string]string
	// Task counts (present by default and with embed=apps.counts).
	TasksStaged, TasksRunning, TasksHealthy, TasksUnhealthy int
	// Deployments lists the ids of deployments in flight for the app.
	Deployments []string
	// HealthChecks is the number of health checks defined.
	HealthChecks int
	// Raw is Marathon's JSON object for the app, byte for byte.
	Raw json.RawMessage
}

// UnmarshalJSON keeps the raw object and parses the summary fields.
func (a *App) UnmarshalJSON(b []byte) error {
	dec := jsontext.NewDecoder(bytes.NewBuffer(b), lenient...)
	if dec.PeekKind() != '{' {
		return errors.New("app is not a json object")
	}
	*a = App{Raw: append(json.RawMessage(nil), bytes.TrimSpace(b)...)}
	return a.parse(dec)
}

var lenient = []jsontext.Options{jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)}

// parse reads one app object from dec (positioned before its '{') into the
// summary fields, skipping everything else without building it. A field of
// an unexpected type is skipped, not an error. Token-level parsing keeps a
// 2,000-app list well inside a reconcile pass's CPU budget
// (BenchmarkListApps2000).
func (a *App) parse(dec *jsontext.Decoder) error {
	if _, err := dec.ReadToken(); err != nil { // '{'
		return err
	}
	for dec.PeekKind() != '}' {
		name, err := dec.ReadToken()
		if err != nil {
			return err
		}
		switch name.String() { // before the next call invalidates name
		case "id":
			a.ID, err = readString(dec)
		case "version":
			a.Version, err = readString(dec)
		case "instances":
			a.Instances, err = readInt(dec)
		case "tasksStaged":
			a.TasksStaged, err = readInt(dec)
		case "tasksRunning":
			a.TasksRunning, err = readInt(dec)
		case "tasksHealthy":
			a.TasksHealthy, err = readInt(dec)
		case "tasksUnhealthy":
			a.TasksUnhealthy, err = readInt(dec)
		case "labels":
			a.Labels, err = readLabels(dec)
		case "deployments":
			a.Deployments, err = readDeploymentIDs(dec)
		case "healthChecks":
			a.HealthChecks, err = countArray(dec)
		default:
			err = dec.SkipValue()
		}
		if err != nil {
			return err
		}
	}
	_, err := dec.ReadToken() // '}'
	return err
}

func readString(dec *jsontext.Decoder) (string, error) {
	if dec.PeekKind() != '"' {
		return "", dec.SkipValue()
	}
	t, err := dec.ReadToken()
	if err != nil {
		return "", err
	}
	return t.String(), nil
}

func readInt(dec *jsontext.Decoder) (int, error) {
	if dec.PeekKind() != '0' {
		return 0, dec.SkipValue()
	}
	t, err := dec.ReadToken()
	if err != nil {
		return 0, err
	}
	return int(t.Int()), nil
}

func readLabels(dec *jsontext.Decoder) (map[string]string, error) {
	if dec.PeekKind() != '{' {
		return nil, dec.SkipValue()
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, err
	}
	var m map[string]string
	for dec.PeekKind() != '}' {
		t, err := dec.ReadToken()
		if err != nil {
			return nil, err
		}
		k := t.String() // tokens are only valid until the next call
		if dec.PeekKind() != '"' {
			if err := dec.SkipValue(); err != nil {
				return nil, err
			}
			continue
		}
		v, err := dec.ReadToken()
		if err != nil {
			return nil, err
		}
		if m == nil {
			m = make(map[string]string, 8)
		}
		m[k] = v.String()
	}
	_, err := dec.ReadToken()
	return m, err
}

func readDeploymentIDs(dec *jsontext.Decoder) ([]string, error) {
	if dec.PeekKind() != '[' {
		return nil, dec.SkipValue()
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, err
	}
	var ids []string
	for dec.PeekKind() != ']' {
		if dec.PeekKind() != '{' {
			if err := dec.SkipValue(); err != nil {
				return nil, err
			}
			continue
		}
		if _, err := dec.ReadToken(); err != nil {
			return nil, err
		}
		for dec.PeekKind() != '}' {
			k, err := dec.ReadToken()
			if err != nil {
				return nil, err
			}
			if k.String() == "id" { // before the next call invalidates k
				id, err := readString(dec)
				if err != nil {
					return nil, err
				}
				ids = append(ids, id)
				continue
			}
			if err := dec.SkipValue(); err != nil {
				return nil, err
			}
		}
		if _, err := dec.ReadToken(); err != nil {
			return nil, err
		}
	}
	_, err := dec.ReadToken()
	return ids, err
}

func countArray(dec *jsontext.Decoder) (int, error) {
	if dec.PeekKind() != '[' {
		return 0, dec.SkipValue()
	}
	if _, err := dec.ReadToken(); err != nil {
		return 0, err
	}
	n := 0
	for dec.PeekKind() != ']' {
		if err := dec.SkipValue(); err != nil {
			return 0, err
		}
		n++
	}
	_, err := dec.ReadToken()
	return n, err
}

// decodeAppList reads {"apps":[...]}: each app's bytes are kept verbatim in
// Raw and its summary parsed, in one pass over the body. It takes ownership
// of body: the Raw fields are slices of it.
func decodeAppList(body []byte) ([]App, error) {
	dec := jsontext.NewDecoder(bytes.NewBuffer(body), lenient...)
	if dec.PeekKind() != '{' {
		return nil, errors.New("answer is not a json object")
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, err
	}
	var apps []App
	found := false
	for dec.PeekKind() != '}' {
		name, err := dec.ReadToken()
		if err != nil {
			return nil, err
		}
		if name.String() != "apps" || found {
			if err := dec.SkipValue(); err != nil {
				return nil, err
			}
			continue
		}
		found = true
		if dec.PeekKind() != '[' {
			return nil, errors.New(`"apps" is not an array`)
		}
		if _, err := dec.ReadToken(); err != nil {
			return nil, err
		}
		apps = make([]App, 0, 64)
		for dec.PeekKind() != ']' {
			if dec.PeekKind() != '{' {
				return nil, fmt.Errorf("app %d is not a json object", len(apps))
			}
			start := dec.InputOffset()
			var a App
			if err := a.parse(dec); err != nil {
				return nil, err
			}
			// Between the previous token and this object there is only
			// white space and a comma.
			raw := bytes.TrimLeft(body[start:dec.InputOffset()], " \t\r\n,")
			a.Raw = raw[:len(raw):len(raw)] // an append by the caller must not reach the next app

			apps = append(apps, a)
		}
		if _, err := dec.ReadToken(); err != nil {
			return nil, err
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, err
	}
	if !found {
		return nil, errors.New(`no "apps" in the answer`)
	}
	return apps, nil
}

// MarshalJSON returns Raw.
func (a App) MarshalJSON() ([]byte, error) {
	if len(a.Raw) == 0 {
		return []byte("null"), nil
	}
	return a.Raw, nil
}

// WriteResult is Marathon's answer to a write: the deployment it started
// (empty when none, e.g. DELETE /v2/deployments?force=true) and the new
// version.
type WriteResult struct {
	DeploymentID string
	Version      string
	// Status is the HTTP status (200, 201 or 202).
	Status int
}

// ListApps lists apps: GET /v2/apps with a label selector (Marathon's
// syntax: "k", "k==v", "k!=v", "k in (a,b)", commas = AND; "" = all apps)
// and the given embeds (apps.tasks, apps.counts, apps.deployments,
// apps.readiness, apps.lastTaskFailure, apps.taskStats).
func (c *Client) ListApps(ctx context.Context, selector string, embed ...string) ([]App, error) {
	q := url.Values{}
	if selector != "" {
		q.Set("label", selector)
	}
	if len(embed) > 0 {
		q["embed"] = embed
	}
	r := request{method: http.MethodGet, path: "/v2/apps", tmpl: "/v2/apps", query: q.Encode()}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	apps, err := decodeAppList(resp.body)
	if err != nil {
		return nil, malformed(r, resp, err)
	}
	return apps, nil
}

// GetApp returns one app: GET /v2/apps/{id}. A missing app is an error for
// which IsNotFound is true.
func (c *Client) GetApp(ctx context.Context, id string, embed ...string) (*App, error) {
	if err := checkID("app", id); err != nil {
		return nil, err
	}
	q := url.Values{}
	if len(embed) > 0 {
		q["embed"] = embed
	}
	r := request{method: http.MethodGet, path: "/v2/apps" + escapeID(id), tmpl: "/v2/apps/{id}", query: q.Encode()}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	var out struct {
		App *App `json:"app"`
	}
	if err := json.Unmarshal(resp.body, &out); err != nil || out.App == nil {
		return nil, malformed(r, resp, err)
	}
	return out.App, nil
}

// CreateApp creates an app: POST /v2/apps with raw as the body, byte for
// byte. An existing app is an error for which IsAlreadyExists is true.
func (c *Client) CreateApp(ctx context.Context, raw json.RawMessage) (WriteResult, error) {
	if err := checkBody(raw); err != nil {
		return WriteResult{}, err
	}
	r := request{method: http.MethodPost, path: "/v2/apps", tmpl: "/v2/apps", body: raw}
	resp, err := c.do(ctx, r)
	if err != nil {
		return WriteResult{}, err
	}
	return writeResult(r, resp)
}

// UpdateApp replaces an app's definition: PUT
// /v2/apps/{id}?partialUpdate=false[&force=true] with raw as the body, byte
// for byte. partialUpdate=false makes fields absent from raw disappear
// (Marathon's default would merge them). force=true cancels a deployment in
// flight; without it a locked app is an error for which IsLocked is true.
// Marathon creates the app when it does not exist (201).
func (c *Client) UpdateApp(ctx context.Context, id string, raw json.RawMessage, force bool) (WriteResult, error) {
	if err := checkID("app", id); err != nil {
		return WriteResult{}, err
	}
	if err := checkBody(raw); err != nil {
		return WriteResult{}, err
	}
	q := "partialUpdate=false"
	if force {
		q += "&force=true"
	}
	r := request{method: http.MethodPut, path: "/v2/apps" + escapeID(id), tmpl: "/v2/apps/{id}", query: q, body: raw}
	resp, err := c.do(ctx, r)
	if err != nil {
		return WriteResult{}, err
	}
	return writeResult(r, resp)
}

// DeleteApp deletes an app: DELETE /v2/apps/{id}?force=true|false (force is
// always sent, so Marathon's default does not matter).
func (c *Client) DeleteApp(ctx context.Context, id string, force bool) (WriteResult, error) {
	if err := checkID("app", id); err != nil {
		return WriteResult{}, err
	}
	r := request{method: http.MethodDelete, path: "/v2/apps" + escapeID(id), tmpl: "/v2/apps/{id}", query: "force=" + boolString(force)}
	resp, err := c.do(ctx, r)
	if err != nil {
		return WriteResult{}, err
	}
	return writeResult(r, resp)
}

// RestartApp restarts an app's tasks: POST /v2/apps/{id}/restart?force=.
func (c *Client) RestartApp(ctx context.Context, id string, force bool) (WriteResult, error) {
	if err := checkID("app", id); err != nil {
		return WriteResult{}, err
	}
	r := request{method: http.MethodPost, path: "/v2/apps" + escapeID(id) + "/restart", tmpl: "/v2/apps/{id}/restart", query: "force=" + boolString(force)}
	resp, err := c.do(ctx, r)
	if err != nil {
		return WriteResult{}, err
	}
	return writeResult(r, resp)
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func checkID(kind, id string) error {
	if strings.Trim(id, "/") == "" {
		return errs.Permanent(fmt.Errorf("marathon: empty %s id", kind))
	}
	return nil
}

func checkBody(raw json.RawMessage) error {
	trimmed := strings.TrimSpace(string(raw))
	if !strings.HasPrefix(trimmed, "{") || !json.Valid(raw) {
		return errs.Permanent(errors.New("marathon: app definition is not a valid json object"))
	}
	return nil
}

// writeResult reads a write answer: {"deploymentId","version"} (PUT,
// DELETE, restart) or the app with "deployments":[{"id"}] (POST), with the
// Marathon-Deployment-Id header preferred when present. An empty body (202)
// is an empty result.
func writeResult(r request, resp *response) (WriteResult, error) {
	res := WriteResult{Status: resp.status, DeploymentID: resp.header.Get("Marathon-Deployment-Id")}
	if len(strings.TrimSpace(string(resp.body))) == 0 {
		return res, nil
	}
	var m struct {
		DeploymentID string `json:"deploymentId"`
		Version      string `json:"version"`
		Deployments  []struct {
			ID string `json:"id"`
		} `json:"deployments"`
	}
	if err := json.Unmarshal(resp.body, &m); err != nil {
		return res, malformed(r, resp, err)
	}
	res.Version = m.Version
	if res.DeploymentID == "" {
		res.DeploymentID = m.DeploymentID
	}
	if res.DeploymentID == "" && len(m.Deployments) > 0 {
		res.DeploymentID = m.Deployments[0].ID
	}
	return res, nil
}

// malformed reports a 2xx answer that cannot be decoded (a proxy's HTML
// page, a truncated body): Transient, the next attempt may be fine.
func malformed(r request, resp *response, err error) error {
	if err == nil {
		err = errors.New("unexpected json shape")
	}
	return errs.Transient(fmt.Errorf("marathon %s %s: malformed answer (status %d, %d bytes: %q): %w",
		r.method, r.tmpl, resp.status, len(resp.body), shortText(resp.body), err))
}
