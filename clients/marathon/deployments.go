package marathon

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
)

// Deployment is one deployment in flight (GET /v2/deployments).
type Deployment struct {
	ID             string             `json:"id"`
	Version        string             `json:"version"`
	AffectedApps   []string           `json:"affectedApps"`
	AffectedPods   []string           `json:"affectedPods,omitempty"`
	Steps          []DeploymentStep   `json:"steps"`
	CurrentActions []DeploymentAction `json:"currentActions"`
	CurrentStep    int                `json:"currentStep"`
	TotalSteps     int                `json:"totalSteps"`
}

// DeploymentStep is one step of a deployment plan.
type DeploymentStep struct {
	Actions []DeploymentAction `json:"actions"`
}

// UnmarshalJSON accepts the current form {"actions":[...]} and the form of
// Marathon <= 1.1.1, a bare array of actions.
func (s *DeploymentStep) UnmarshalJSON(b []byte) error {
	if t := strings.TrimSpace(string(b)); strings.HasPrefix(t, "[") {
		return json.Unmarshal(b, &s.Actions)
	}
	var v struct {
		Actions []DeploymentAction `json:"actions"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	s.Actions = v.Actions
	return nil
}

// DeploymentAction is one action (StartApplication, RestartApplication,
// ScaleApplication, StopApplication, ResolveArtifacts, ...*Pod).
type DeploymentAction struct {
	Action string `json:"action"`
	App    string `json:"app,omitempty"`
	Pod    string `json:"pod,omitempty"`
	// ReadinessCheckResults is kept raw (only present in currentActions).
	ReadinessCheckResults json.RawMessage `json:"readinessCheckResults,omitempty"`
}

// UnmarshalJSON also accepts "type" for the action name (Marathon <= 1.1.1).
func (a *DeploymentAction) UnmarshalJSON(b []byte) error {
	var v struct {
		Action                string          `json:"action"`
		Type                  string          `json:"type"`
		App                   string          `json:"app"`
		Pod                   string          `json:"pod"`
		ReadinessCheckResults json.RawMessage `json:"readinessCheckResults"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*a = DeploymentAction{Action: v.Action, App: v.App, Pod: v.Pod, ReadinessCheckResults: v.ReadinessCheckResults}
	if a.Action == "" {
		a.Action = v.Type
	}
	return nil
}

// Deployments lists the deployments in flight: GET /v2/deployments.
func (c *Client) Deployments(ctx context.Context) ([]Deployment, error) {
	r := request{method: http.MethodGet, path: "/v2/deployments", tmpl: "/v2/deployments"}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	var out []Deployment
	if err := json.Unmarshal(resp.body, &out); err != nil || !strings.HasPrefix(strings.TrimSpace(string(resp.body)), "[") {
		return nil, malformed(r, resp, err)
	}
	if out == nil {
		out = []Deployment{}
	}
	return out, nil
}

// DeleteDeployment cancels a deployment: DELETE
// /v2/deployments/{id}?force=true|false. With force=false Marathon starts a
// deployment that reverts the changes (200, its id and version in the
// result); with force=true it only cancels (202, empty result: tasks of old
// and new versions may be left mixed). A missing deployment is an error for
// which IsNotFound is true. (go-marathon v0.7.1 drops the force parameter.)
func (c *Client) DeleteDeployment(ctx context.Context, id string, force bool) (WriteResult, error) {
	if err := checkID("deployment", id); err != nil {
		return WriteResult{}, err
	}
	r := request{method: http.MethodDelete, path: "/v2/deployments" + escapeID(id), tmpl: "/v2/deployments/{id}", query: "force=" + boolString(force)}
	resp, err := c.do(ctx, r)
	if err != nil {
		return WriteResult{}, err
	}
	return writeResult(r, resp)
}

// QueueItem is one entry of the launch queue (GET /v2/queue).
type QueueItem struct {
	// AppID (or PodID) names what is waiting to launch.
	AppID string
	PodID string
	// Version is the app version waiting.
	Version string
	// Count is the number of instances waiting.
	Count int
	// Delay is the launch backoff: Overdue=false means Marathon is holding
	// launches back (the DC/OS UI shows "Delayed").
	Delay QueueDelay
	// Since is when the entry was queued.
	Since string
	// Raw is the entry as Marathon returned it.
	Raw json.RawMessage
}

// QueueDelay is the launch delay of a queue entry.
type QueueDelay struct {
	TimeLeftSeconds int64 `json:"timeLeftSeconds"`
	Overdue         bool  `json:"overdue"`
}

// Queue returns the launch queue: GET /v2/queue.
func (c *Client) Queue(ctx context.Context) ([]QueueItem, error) {
	r := request{method: http.MethodGet, path: "/v2/queue", tmpl: "/v2/queue"}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	var out struct {
		Queue *[]json.RawMessage `json:"queue"`
	}
	if err := json.Unmarshal(resp.body, &out); err != nil || out.Queue == nil {
		return nil, malformed(r, resp, err)
	}
	items := make([]QueueItem, 0, len(*out.Queue))
	for _, raw := range *out.Queue {
		var e struct {
			App struct {
				ID      string `json:"id"`
				Version string `json:"version"`
			} `json:"app"`
			Pod struct {
				ID string `json:"id"`
			} `json:"pod"`
			Count int        `json:"count"`
			Delay QueueDelay `json:"delay"`
			Since string     `json:"since"`
		}
		_ = json.Unmarshal(raw, &e) // lenient like App: Raw is complete
		items = append(items, QueueItem{AppID: e.App.ID, PodID: e.Pod.ID, Version: e.App.Version,
			Count: e.Count, Delay: e.Delay, Since: e.Since, Raw: raw})
	}
	return items, nil
}

// Info is GET /v2/info: the fields a controller uses, and Raw.
type Info struct {
	Name           string `json:"name"`
	Version        string `json:"version"`
	Buildref       string `json:"buildref"`
	Elected        bool   `json:"elected"`
	Leader         string `json:"leader"`
	FrameworkID    string `json:"frameworkId"`
	MarathonConfig struct {
		Master           string `json:"master"`
		FrameworkName    string `json:"framework_name"`
		MesosRole        string `json:"mesos_role"`
		MesosLeaderUIURL string `json:"mesos_leader_ui_url"`
		WebUIURL         string `json:"webui_url"`
		HA               bool   `json:"ha"`
		Hostname         string `json:"hostname"`
	} `json:"marathon_config"`
	// Raw is the whole answer.
	Raw json.RawMessage `json:"-"`
}

// Info returns Marathon's info: GET /v2/info.
func (c *Client) Info(ctx context.Context) (*Info, error) {
	r := request{method: http.MethodGet, path: "/v2/info", tmpl: "/v2/info"}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	var info Info
	if err := json.Unmarshal(resp.body, &info); err != nil {
		return nil, malformed(r, resp, err)
	}
	info.Raw = resp.body
	return &info, nil
}

// Leader returns the leader's "host:port": GET /v2/leader. No leader is an
// error for which IsNotFound is true.
func (c *Client) Leader(ctx context.Context) (string, error) {
	r := request{method: http.MethodGet, path: "/v2/leader", tmpl: "/v2/leader"}
	resp, err := c.do(ctx, r)
	if err != nil {
		return "", err
	}
	var out struct {
		Leader string `json:"leader"`
	}
	if err := json.Unmarshal(resp.body, &out); err != nil || out.Leader == "" {
		return "", malformed(r, resp, err)
	}
	return out.Leader, nil
}

// Ping checks that Marathon answers: GET /ping (any 2xx).
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/ping", tmpl: "/ping", accept: "text/plain"})
	return err
}
