package reconcile

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/universe-operator/universe-operator/errs"
)

// Health is the app health exactly as the DC/OS UI shows it.
type Health string

// The DC/OS UI health values.
const (
	HealthHealthy   Health = "Healthy"
	HealthUnhealthy Health = "Unhealthy"
	HealthIdle      Health = "Idle"
	HealthNA        Health = "NA"
)

// MarathonStatus is the service status exactly as the DC/OS UI shows it.
type MarathonStatus string

// The DC/OS UI status values.
const (
	StatusRunning    MarathonStatus = "Running"
	StatusDeploying  MarathonStatus = "Deploying"
	StatusDelayed    MarathonStatus = "Delayed"
	StatusRecovering MarathonStatus = "Recovering"
	StatusStopped    MarathonStatus = "Stopped"
	StatusDeleting   MarathonStatus = "Deleting"
	StatusNA         MarathonStatus = "NA"
)

// TaskCounts are the task counts the DC/OS UI shows for an app.
type TaskCounts struct {
	Staged    int `json:"staged"`
	Running   int `json:"running"`
	Healthy   int `json:"healthy"`
	Unhealthy int `json:"unhealthy"`
}

// QueueEntry is an app's entry in Marathon's launch queue (GET /v2/queue).
type QueueEntry struct {
	// AppID is the canonical app id.
	AppID string `json:"appId"`
	// Count is the number of instances left to launch.
	Count int `json:"count"`
	// Delay is the launch backoff, nil when the entry has none.
	Delay *QueueDelay `json:"delay,omitempty"`
	// ObservedAt is when the queue was read; with Delay.TimeLeftSeconds it
	// tells when the delay runs out. Zero: trust Delay.Overdue alone.
	ObservedAt time.Time `json:"observedAt,omitzero"`
}

// QueueDelay is the launch delay of a queue entry.
type QueueDelay struct {
	// TimeLeftSeconds is the wait before the next launch attempt, as read.
	TimeLeftSeconds float64 `json:"timeLeftSeconds"`
	// Overdue is true when the app waits for offers, not for its backoff.
	Overdue bool `json:"overdue"`
}

// delayed reports whether the entry's backoff delay is still running at now.
func (q *QueueEntry) delayed(now time.Time) bool {
	if q == nil || q.Delay == nil || q.Delay.Overdue {
		return false
	}
	if q.ObservedAt.IsZero() {
		return true
	}
	left := time.Duration(q.Delay.TimeLeftSeconds * float64(time.Second))
	return now.Before(q.ObservedAt.Add(left))
}

// ParseQueue reads the body of GET /v2/queue into entries by canonical app
// id (pod entries are skipped). observedAt is when the body was read. Errors
// are errs.Permanent (the body is not the documented shape).
func ParseQueue(raw []byte, observedAt time.Time) (map[string]QueueEntry, error) {
	root, err := parseObject(raw)
	if err != nil {
		return nil, errs.Permanent(fmt.Errorf("queue: %w", err))
	}
	out := map[string]QueueEntry{}
	q := root.get("queue")
	if q == nil {
		return out, nil
	}
	if q.kind != kindArray {
		return nil, errs.Permanent(fmt.Errorf("queue: \"queue\" must be an array, got %s", q.kind))
	}
	for i := range q.arr {
		item := &q.arr[i]
		id, ok := item.get("app").getString("id")
		if !ok {
			continue // a pod, or garbage
		}
		e := QueueEntry{AppID: CanonicalID(id), ObservedAt: observedAt}
		if c, ok := item.getNumber("count"); ok {
			e.Count = int(c)
		}
		if d := item.get("delay"); d != nil && d.kind == kindObject {
			e.Delay = &QueueDelay{}
			e.Delay.TimeLeftSeconds, _ = d.getNumber("timeLeftSeconds")
			if o := d.get("overdue"); o != nil && o.kind == kindBool {
				e.Delay.Overdue = o.b
			}
		}
		out[e.AppID] = e
	}
	return out, nil
}

// Framework is what the status needs of a Mesos framework (GET
// /mesos/master/state-summary or the operator API's GET_FRAMEWORKS): pass the
// frameworks currently registered.
type Framework struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	WebUIURL string `json:"webuiUrl,omitempty"`
}

// TaskFailure is the app's lastTaskFailure.
type TaskFailure struct {
	Message   string `json:"message"`
	State     string `json:"state"`
	TaskID    string `json:"taskId,omitempty"`
	Host      string `json:"host,omitempty"`
	Timestamp string `json:"timestamp,omitempty"`
	Version   string `json:"version,omitempty"`
}

// AppStatus is what the status API shows of one Marathon app.
type AppStatus struct {
	AppID       string         `json:"appId"`
	Instances   int            `json:"instances"`
	Tasks       TaskCounts     `json:"tasks"`
	Health      Health         `json:"health"`
	Status      MarathonStatus `json:"status"`
	ServiceLink string         `json:"serviceLink,omitempty"`
	// Deployments are the ids of deployments in flight on the app.
	Deployments []string `json:"deployments,omitempty"`
	// HealthChecks is the number of health checks defined.
	HealthChecks    int          `json:"healthChecks"`
	LastTaskFailure *TaskFailure `json:"lastTaskFailure,omitempty"`
}

// Converged reports whether the app runs as defined: no deployment in
// flight, and Healthy, or (without health checks) at least as many tasks
// running as instances wanted. Issue 6's health gate uses it.
func (s AppStatus) Converged() bool {
	if len(s.Deployments) > 0 {
		return false
	}
	if s.HealthChecks > 0 {
		return s.Health == HealthHealthy || (s.Instances == 0 && s.Tasks.Running == 0)
	}
	return s.Tasks.Running >= s.Instances
}

// Status computes health, Marathon status, task counts and service link of
// an app exactly as universe-semantics.md section 7 says (the DC/OS UI's
// rules and precedence). app is one element of GET /v2/apps with
// embed=apps.tasks,apps.counts,apps.deployments,apps.lastTaskFailure; queue
// is the app's launch queue entry (nil when not queued); frameworks are the
// registered Mesos frameworks; now is the time to judge queue delays by.
// Errors are errs.Permanent (app is not a JSON object).
func Status(app []byte, queue *QueueEntry, frameworks []Framework, now time.Time) (AppStatus, error) {
	root, err := parseSkim(app, skimApp)
	if err != nil {
		return AppStatus{}, errs.Permanent(fmt.Errorf("app status: %w", err))
	}
	return statusOf(&root, queue, frameworks, now), nil
}

func intField(v *value, key string, dflt int) int {
	f, ok := v.getNumber(key)
	if !ok || math.IsNaN(f) || f < math.MinInt32 || f > math.MaxInt32 {
		return dflt
	}
	return int(f)
}

func statusOf(root *value, queue *QueueEntry, frameworks []Framework, now time.Time) AppStatus {
	var s AppStatus
	if id, ok := root.getString("id"); ok {
		s.AppID = CanonicalID(id)
	}
	s.Instances = intField(root, "instances", 1)
	if hc := root.get("healthChecks"); hc != nil && hc.kind == kindArray {
		s.HealthChecks = len(hc.arr)
	}
	if deps := root.get("deployments"); deps != nil && deps.kind == kindArray {
		for i := range deps.arr {
			if id, ok := deps.arr[i].getString("id"); ok {
				s.Deployments = append(s.Deployments, id)
			}
		}
	}
	s.Tasks = taskCounts(root)
	if f := root.get("lastTaskFailure"); f != nil && f.kind == kindObject {
		tf := &TaskFailure{}
		tf.Message, _ = f.getString("message")
		tf.State, _ = f.getString("state")
		tf.TaskID, _ = f.getString("taskId")
		tf.Host, _ = f.getString("host")
		tf.Timestamp, _ = f.getString("timestamp")
		tf.Version, _ = f.getString("version")
		s.LastTaskFailure = tf
	}

	// Health, in order (section 7).
	switch {
	case s.Tasks.Unhealthy > 0:
		s.Health = HealthUnhealthy
	case s.Tasks.Running > 0 && s.Tasks.Healthy == s.Tasks.Running:
		s.Health = HealthHealthy
	case s.HealthChecks > 0 && s.Tasks.Running == 0:
		s.Health = HealthIdle
	default:
		s.Health = HealthNA
	}

	// Status, in order (section 7).
	switch {
	case sdkUninstall(root):
		s.Status = StatusDeleting
	case s.Instances == 0 && s.Tasks.Running == 0:
		s.Status = StatusStopped
	case queue.delayed(now):
		s.Status = StatusDelayed
	case queue != nil && len(s.Deployments) == 0:
		s.Status = StatusRecovering
	case len(s.Deployments) > 0:
		s.Status = StatusDeploying
	case s.Tasks.Running > 0:
		s.Status = StatusRunning
	default:
		s.Status = StatusNA
	}

	s.ServiceLink = serviceLink(root, frameworks)
	return s
}

// taskCounts: running and staged from Marathon's counts (embed=apps.counts)
// or, without them, from the tasks' states; healthy and unhealthy from the
// tasks' health-check results (a task is healthy when it has results and
// all are alive, unhealthy when any result is not alive), or from Marathon's
// counts when the tasks are not embedded.
func taskCounts(root *value) TaskCounts {
	var c TaskCounts
	tasks := root.get("tasks")
	if tasks != nil && tasks.kind != kindArray {
		tasks = nil
	}
	var running, staged, healthy, unhealthy int
	if tasks != nil {
		for i := range tasks.arr {
			t := &tasks.arr[i]
			switch st, _ := t.getString("state"); st {
			case "TASK_RUNNING":
				running++
			case "TASK_STAGING", "TASK_STARTING":
				staged++
			}
			res := t.get("healthCheckResults")
			if res == nil || res.kind != kindArray || len(res.arr) == 0 {
				continue
			}
			alive := true
			for k := range res.arr {
				a := res.arr[k].get("alive")
				if a == nil || a.kind != kindBool || !a.b {
					alive = false
				}
			}
			if alive {
				healthy++
			} else {
				unhealthy++
			}
		}
	}
	c.Running = intField(root, "tasksRunning", running)
	c.Staged = intField(root, "tasksStaged", staged)
	if tasks != nil {
		c.Healthy, c.Unhealthy = healthy, unhealthy
	} else {
		c.Healthy = intField(root, "tasksHealthy", 0)
		c.Unhealthy = intField(root, "tasksUnhealthy", 0)
	}
	return c
}

// sdkUninstall: env SDK_UNINSTALL is set (a non-empty value, as the UI's
// truthiness test).
func sdkUninstall(root *value) bool {
	v := root.get("env").get("SDK_UNINSTALL")
	if v == nil {
		return false
	}
	switch v.kind {
	case kindNull:
		return false
	case kindString:
		return v.str != ""
	case kindBool:
		return v.b
	default:
		return true
	}
}

// serviceLink: /service/<DCOS_SERVICE_NAME>/ when the app has
// DCOS_SERVICE_SCHEME and a numeric DCOS_SERVICE_PORT_INDEX; otherwise
// /service/<framework name>/ when a registered framework named by
// DCOS_PACKAGE_FRAMEWORK_NAME has a webui_url; otherwise "".
func serviceLink(root *value, frameworks []Framework) string {
	labels := root.get("labels")
	name, _ := labels.getString("DCOS_SERVICE_NAME")
	_, hasScheme := labels.getString("DCOS_SERVICE_SCHEME")
	idx, hasIdx := labels.getString("DCOS_SERVICE_PORT_INDEX")
	if name = strings.Trim(name, "/"); name != "" && hasScheme && hasIdx && isNonNegInt(idx) {
		return "/service/" + name + "/"
	}
	fw, _ := labels.getString("DCOS_PACKAGE_FRAMEWORK_NAME")
	if fw = strings.Trim(fw, "/"); fw == "" {
		return ""
	}
	for _, f := range frameworks {
		if strings.Trim(f.Name, "/") == fw && f.WebUIURL != "" {
			return "/service/" + fw + "/"
		}
	}
	return ""
}

func isNonNegInt(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 0
}
