package marathon

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

const maxBody = 16 << 20

// apiError is an error answer in Marathon's shape.
type apiError struct {
	status int
	body   []byte
}

func msgError(status int, msg string) *apiError {
	return &apiError{status: status, body: mustJSON(map[string]string{"message": msg})}
}

func detailsError(status int, msg string, d details) *apiError {
	return &apiError{status: status, body: mustJSON(struct {
		Message string  `json:"message"`
		Details details `json:"details"`
	}{msg, d})}
}

func invalidJSON(d details) *apiError    { return detailsError(422, "Invalid JSON", d) }
func objectNotValid(d details) *apiError { return detailsError(422, "Object is not valid", d) }
func appNotFound(id string) *apiError {
	return msgError(http.StatusNotFound, fmt.Sprintf("App '%s' does not exist", id))
}
func lockedErr(l *lockedError) *apiError { return lockedAnswer(l.ids) }

func lockedAnswer(ids []string) *apiError {
	deps := make([]map[string]string, len(ids))
	for i, id := range ids {
		deps[i] = map[string]string{"id": id}
	}
	return &apiError{status: http.StatusConflict, body: mustJSON(struct {
		Message     string              `json:"message"`
		Deployments []map[string]string `json:"deployments"`
	}{lockedMessage, deps})}
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeMessage(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, mustJSON(map[string]string{"message": msg}))
}

func writeErr(w http.ResponseWriter, e *apiError) { writeJSON(w, e.status, e.body) }

func boolParam(r *http.Request, name string, def bool) bool {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def
	}
	return strings.EqualFold(v, "true")
}

func readBody(r *http.Request) ([]byte, *apiError) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return nil, msgError(http.StatusBadRequest, "could not read the request body: "+err.Error())
	}
	return b, nil
}

// parseAppBody reads one app JSON object the way Marathon's readers do.
func parseAppBody(body []byte) (object, map[string]any, *apiError) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil, &apiError{status: http.StatusBadRequest, body: mustJSON(map[string]string{
			"message": "Please specify data in JSON format",
			"details": "No content to map due to end-of-input\n at [Source: (org.glassfish.jersey.message.internal.ReaderInterceptorExecutor$UnCloseableInputStream); line: 1, column: 0]",
		})}
	}
	o, err := parseObject(body)
	if err != nil {
		var se *syntaxError
		if errors.As(err, &se) || !json.Valid(body) {
			msg := err.Error()
			if se == nil {
				msg = "Unexpected character"
			}
			return nil, nil, &apiError{status: http.StatusBadRequest, body: mustJSON(map[string]string{"message": "Invalid JSON", "details": msg})}
		}
		return nil, nil, invalidJSON(details{{Path: "/", Errors: []string{errExpObject}}})
	}
	g, _ := decodeGeneric(o.marshal())
	m, _ := g.(map[string]any)
	return o, m, nil
}

// serveAPI routes Marathon's API.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if leader := s.Leader(); leader != "" {
		w.Header().Set("X-Marathon-Leader", "http://"+leader)
	}
	switch p {
	case "/ping":
		s.servePing(w, r)
		return
	case "/v2/leader":
		s.serveLeader(w, r)
		return
	}
	if s.Leader() == "" {
		writeMessage(w, http.StatusServiceUnavailable, "Could not determine the current leader")
		return
	}
	switch {
	case p == "/v2/info":
		s.serveInfo(w, r)
	case p == "/v2/events":
		s.serveEvents(w, r)
	case p == "/v2/apps" || p == "/v2/apps/":
		s.serveApps(w, r)
	case strings.HasPrefix(p, "/v2/apps/"):
		s.serveApp(w, r, strings.TrimPrefix(p, "/v2/apps"))
	case p == "/v2/deployments" || p == "/v2/deployments/":
		s.serveDeployments(w, r)
	case strings.HasPrefix(p, "/v2/deployments/"):
		s.serveDeployment(w, r, strings.TrimPrefix(p, "/v2/deployments/"))
	case p == "/v2/queue" || p == "/v2/queue/":
		s.serveQueue(w, r)
	case strings.HasPrefix(p, "/v2/queue/") && strings.HasSuffix(p, "/delay"):
		s.serveQueueDelay(w, r, strings.TrimSuffix(strings.TrimPrefix(p, "/v2/queue"), "/delay"))
	case p == "/v2/tasks":
		s.serveTasks(w, r)
	case p == "/v2/pods" || p == "/v2/pods/" || p == "/v2/pods/::status":
		if r.Method != http.MethodGet {
			writeMessage(w, http.StatusMethodNotAllowed, "HTTP 405 Method Not Allowed")
			return
		}
		writeJSON(w, http.StatusOK, []byte("[]"))
	default:
		writeMessage(w, http.StatusNotFound, "URI not found: "+p)
	}
}

func methodNotAllowed(w http.ResponseWriter) {
	writeMessage(w, http.StatusMethodNotAllowed, "HTTP 405 Method Not Allowed")
}

func (s *Server) servePing(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "must-revalidate,no-cache,no-store")
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		writeJSON(w, http.StatusOK, []byte(`"pong"`))
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, "pong")
}

func (s *Server) serveInfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w)
		return
	}
	leader := s.Leader()
	host, port, _ := net.SplitHostPort(leader)
	httpPort, _ := strconv.Atoi(port)
	info := map[string]any{
		"name":        "marathon",
		"version":     s.opts.Version,
		"buildref":    "unknown",
		"elected":     true,
		"leader":      leader,
		"frameworkId": s.opts.FrameworkID,
		"marathon_config": map[string]any{
			"access_control_allow_origin": []string{}, "checkpoint": true, "decline_offer_duration": 120000,
			"default_network_name": "dcos", "env_vars_prefix": "", "executor": "//cmd", "failover_timeout": 604800,
			"features":       []string{"vips", "task_killing", "external_volumes", "secrets", "gpu_resources"},
			"framework_name": "marathon", "ha": true, "hostname": host, "launch_token": 100,
			"launch_token_refresh_interval": 30000, "leader_proxy_connection_timeout_ms": 5000,
			"leader_proxy_read_timeout_ms": 10000, "local_port_max": 20000, "local_port_min": 10000,
			"master": "zk://zk-1.zk:2181,zk-2.zk:2181,zk-3.zk:2181/mesos", "max_instances_per_offer": 100,
			"mesos_bridge_name": "mesos-bridge", "mesos_heartbeat_failure_threshold": 5,
			"mesos_heartbeat_interval": 15000, "mesos_leader_ui_url": "/mesos", "mesos_role": s.opts.DefaultRole,
			"mesos_user": "root", "min_revive_offers_interval": 5000, "offer_matching_timeout": 3000,
			"on_elected_prepare_timeout": 180000, "reconciliation_initial_delay": 15000,
			"reconciliation_interval": 600000, "scale_apps_initial_delay": 15000, "scale_apps_interval": 300000,
			"store_cache": true, "task_launch_confirm_timeout": 300000, "task_launch_timeout": 86400000,
			"task_lost_expunge_initial_delay": 300000, "task_lost_expunge_interval": 30000,
			"task_reservation_timeout": 20000, "webui_url": nil,
		},
		"zookeeper_config": map[string]any{
			"zk": "zk://zk-1.zk:2181,zk-2.zk:2181,zk-3.zk:2181/marathon", "zk_compression": true,
			"zk_compression_threshold": 65536, "zk_connection_timeout": 10000, "zk_max_node_size": 1024000,
			"zk_max_versions": maxVersions, "zk_session_timeout": 10000, "zk_timeout": 10000,
		},
		"http_config": map[string]any{"http_port": httpPort, "https_port": 8443},
	}
	writeJSON(w, http.StatusOK, mustJSON(info))
}

// ---- embeds ----------------------------------------------------------------

type embeds struct {
	counts, deployments, tasks, lastTaskFailure, taskStats, readiness bool
}

// resolveEmbeds maps embed parameters as Marathon's InfoEmbedResolver does,
// accepting the apps., app. and group.apps. prefixes or none.
func resolveEmbeds(vals []string) embeds {
	var e embeds
	for _, v := range vals {
		for _, p := range []string{"group.apps.", "apps.", "app."} {
			if strings.HasPrefix(v, p) {
				v = strings.TrimPrefix(v, p)
				break
			}
		}
		switch v {
		case "tasks":
			e.tasks, e.deployments = true, true
		case "failures":
			e.tasks, e.lastTaskFailure, e.deployments = true, true, true
		case "deployments":
			e.deployments = true
		case "lastTaskFailure":
			e.lastTaskFailure = true
		case "counts":
			e.counts = true
		case "taskStats":
			e.taskStats = true
		case "readiness":
			e.readiness = true
		}
	}
	return e
}

// appInfo returns an app as Marathon's AppInfo: the definition, then the
// embedded status fields. The answer is cached until the app changes (except
// with taskStats, whose lifetimes move with the clock); the returned slice is
// never modified afterwards. Callers hold s.mu.
func (s *Server) appInfo(a *app, e embeds) []byte {
	if a.info != nil && a.infoMask == e {
		return a.info
	}
	var b bytes.Buffer
	b.Grow(len(a.def.rendered) + 200 + 800*len(a.tasks))
	openObject(&b, a.def.rendered)
	if e.counts {
		st, ru, he, un := counts(a)
		fmt.Fprintf(&b, `,"tasksStaged":%d,"tasksRunning":%d,"tasksHealthy":%d,"tasksUnhealthy":%d`, st, ru, he, un)
	}
	if e.deployments {
		b.WriteString(`,"deployments":[`)
		if d := s.locks[a.id]; d != nil {
			b.WriteString(`{"id":`)
			b.Write(jsonString(d.id))
			b.WriteByte('}')
		}
		b.WriteByte(']')
	}
	if e.readiness {
		b.WriteString(`,"readinessCheckResults":[]`)
	}
	if e.tasks {
		b.WriteString(`,"tasks":[`)
		for i, t := range a.tasks {
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(s.taskJSON(t))
		}
		b.WriteByte(']')
	}
	if e.lastTaskFailure && a.lastFailure != nil {
		b.WriteString(`,"lastTaskFailure":`)
		b.Write(a.lastFailure)
	}
	if e.taskStats {
		b.WriteString(`,"taskStats":`)
		b.Write(taskStats(a))
	}
	b.WriteByte('}')
	if !e.taskStats {
		a.info, a.infoMask = b.Bytes(), e
	}
	return b.Bytes()
}

// writeParts answers 200 with the JSON pieces written one after the other.
// The pieces are immutable, so this runs without s.mu.
func writeParts(w http.ResponseWriter, parts [][]byte) {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(n))
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	for _, p := range parts {
		if _, err := bw.Write(p); err != nil {
			return
		}
	}
	_ = bw.Flush()
}

func taskStats(a *app) []byte {
	now := time.Now()
	groups := []struct {
		name string
		keep func(*task) bool
	}{
		{"startedAfterLastScaling", func(t *task) bool { return !t.stagedAt.Before(a.def.lastScalingAt) }},
		{"withLatestConfig", func(t *task) bool { return t.current(a.def) }},
		{"withOutdatedConfig", func(t *task) bool { return !t.current(a.def) }},
		{"totalSummary", func(*task) bool { return true }},
	}
	var b bytes.Buffer
	b.WriteByte('{')
	n := 0
	for _, g := range groups {
		var st, ru, he, un int
		var life []float64
		for _, t := range a.tasks {
			if !g.keep(t) {
				continue
			}
			if t.startedAt.IsZero() {
				st++
			} else {
				life = append(life, now.Sub(t.startedAt).Seconds())
			}
			if t.running() {
				ru++
			}
			if t.healthy() {
				he++
			}
			if t.unhealthy() {
				un++
			}
		}
		if st+ru == 0 {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		fmt.Fprintf(&b, `"%s":{"stats":{"counts":{"staged":%d,"running":%d,"healthy":%d,"unhealthy":%d}`, g.name, st, ru, he, un)
		if len(life) > 0 {
			sort.Float64s(life)
			sum := 0.0
			for _, l := range life {
				sum += l
			}
			median := life[len(life)/2]
			if len(life)%2 == 0 {
				median = (life[len(life)/2-1] + life[len(life)/2]) / 2
			}
			fmt.Fprintf(&b, `,"lifeTime":{"averageSeconds":%s,"medianSeconds":%s}`,
				strconv.FormatFloat(sum/float64(len(life)), 'f', -1, 64), strconv.FormatFloat(median, 'f', -1, 64))
		}
		b.WriteString("}}")
	}
	b.WriteByte('}')
	return b.Bytes()
}

// ---- /v2/apps --------------------------------------------------------------

func (s *Server) serveApps(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		s.listApps(w, r)
	case http.MethodPost:
		s.createApp(w, r)
	case http.MethodPut:
		s.updateMany(w, r, boolParam(r, "partialUpdate", true), true)
	case http.MethodPatch:
		s.updateMany(w, r, true, false)
	default:
		methodNotAllowed(w)
	}
}

func (s *Server) listApps(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var sels []selector
	if label := q.Get("label"); label != "" {
		var err error
		if sels, err = parseSelectors(label); err != nil {
			writeMessage(w, 422, fmt.Sprintf("Can not parse label selector %s. Reason: %v", label, err))
			return
		}
	}
	idFilter, cmdFilter := strings.ToLower(q.Get("id")), strings.ToLower(q.Get("cmd"))
	e := resolveEmbeds(q["embed"])
	e.counts, e.deployments = true, true

	s.mu.Lock()
	candidates := s.selectApps(sels)
	parts := make([][]byte, 0, 2*len(candidates)+2)
	parts = append(parts, []byte(`{"apps":[`))
	n := 0
	for _, a := range candidates {
		if idFilter != "" && !strings.Contains(strings.ToLower(a.id), idFilter) {
			continue
		}
		if cmdFilter != "" && !strings.Contains(strings.ToLower(a.def.cmd), cmdFilter) {
			continue
		}
		if n > 0 {
			parts = append(parts, comma)
		}
		n++
		parts = append(parts, s.appInfo(a, e))
	}
	s.mu.Unlock()
	parts = append(parts, []byte("]}"))
	writeParts(w, parts)
}

var comma = []byte(",")

// selectApps returns the apps matching every selector, sorted by id. Every
// selector requires its label, so the smallest candidate set from the label
// indexes (by key, or by key and value for == and in) bounds the work; when
// that set is a large share of all apps, one pass over the sorted ids is
// cheaper than sorting it. Callers hold s.mu.
func (s *Server) selectApps(sels []selector) []*app {
	matchAll := func(a *app) bool {
		for _, sel := range sels {
			if !sel.matches(a.def.labels) {
				return false
			}
		}
		return true
	}
	var smallest []map[*app]struct{}
	size := -1
	for _, sel := range sels {
		var sets []map[*app]struct{}
		n := 0
		switch sel.op {
		case "==", "in":
			seen := map[string]bool{}
			for _, v := range sel.values {
				if seen[v] {
					continue
				}
				seen[v] = true
				if set := s.labelValIdx[sel.key][v]; len(set) > 0 {
					sets = append(sets, set)
					n += len(set)
				}
			}
		default:
			if set := s.labelIdx[sel.key]; len(set) > 0 {
				sets, n = append(sets, set), len(set)
			}
		}
		if n == 0 {
			return nil
		}
		if size < 0 || n < size {
			smallest, size = sets, n
		}
	}
	if size < 0 || size > len(s.ids)/8 {
		out := make([]*app, 0, len(s.ids))
		for _, id := range s.ids {
			if a := s.apps[id]; matchAll(a) {
				out = append(out, a)
			}
		}
		return out
	}
	out := make([]*app, 0, size)
	for _, set := range smallest {
		for a := range set {
			if matchAll(a) {
				out = append(out, a)
			}
		}
	}
	// The sets of an "in" selector are disjoint (one value per label), so
	// no app appears twice.
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// buildDef creates a definition for app id, assigning service ports.
// Callers hold s.mu.
func (s *Server) buildDef(o object, id string, version, scaling, config time.Time) *appDef {
	return newDef(o.setFront("id", jsonString(id)), version, scaling, config, s.opts.DefaultRole, func(ports []portSpec) []int {
		dyn := s.dynPortsFor(id)
		for len(dyn) < len(ports) {
			dyn = append(dyn, 0)
		}
		for i, p := range ports {
			if p.fixedService == 0 && dyn[i] == 0 {
				dyn[i] = s.ports.take()
			}
		}
		if a := s.apps[id]; a != nil {
			a.dynPorts = dyn
		} else {
			s.pendingPorts[id] = dyn
		}
		return dyn
	})
}

// groupConflict reports whether id clashes with a group or app path.
// Callers hold s.mu.
func (s *Server) groupConflict(id string) bool {
	if s.groups[id] > 0 {
		return true
	}
	for _, g := range parentGroups(id) {
		if s.apps[g] != nil {
			return true
		}
	}
	return false
}

var errGroupConflict = objectNotValid(details{{Path: "/", Errors: []string{"Groups and Applications may not have the same identifier."}}})

func (s *Server) postEvent(r *http.Request, def *appDef) {
	if !s.bus.wants("api_post_event") {
		return
	}
	ip := r.RemoteAddr
	if h, _, err := net.SplitHostPort(ip); err == nil {
		ip = h
	}
	s.emit("api_post_event", struct {
		ClientIP      string          `json:"clientIp"`
		URI           string          `json:"uri"`
		AppDefinition json.RawMessage `json:"appDefinition"`
		EventType     string          `json:"eventType"`
		Timestamp     string          `json:"timestamp"`
	}{ip, r.URL.Path, def.rendered, "api_post_event", ts(time.Now())})
}

func (s *Server) createApp(w http.ResponseWriter, r *http.Request) {
	body, e := readBody(r)
	if e != nil {
		writeErr(w, e)
		return
	}
	o, m, e := parseAppBody(body)
	if e != nil {
		writeErr(w, e)
		return
	}
	if d := readErrors(m, true); len(d) > 0 {
		writeErr(w, invalidJSON(d))
		return
	}
	rawID, _ := m["id"].(string)
	id := canonicalID(rawID)
	m["id"] = id
	if d := semanticErrors(m); len(d) > 0 {
		writeErr(w, objectNotValid(d))
		return
	}
	force := boolParam(r, "force", false)

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.apps[id] != nil {
		writeMessage(w, http.StatusConflict, fmt.Sprintf("An app with id [%s] already exists.", id))
		return
	}
	if s.groupConflict(id) {
		writeErr(w, errGroupConflict)
		return
	}
	v := s.nextVersion()
	def := s.buildDef(o, id, v, v, v)
	d, lerr := s.deploy([]change{{id: id, to: def}}, force, v)
	if lerr != nil {
		writeErr(w, lockedErr(lerr))
		return
	}
	s.postEvent(r, def)
	var b bytes.Buffer
	openObject(&b, def.rendered)
	b.WriteString(`,"tasksStaged":0,"tasksRunning":0,"tasksHealthy":0,"tasksUnhealthy":0,"deployments":[{"id":`)
	b.Write(jsonString(d.id))
	b.WriteString(`}]}`)
	w.Header().Set("Location", location(r, id))
	w.Header().Set("Marathon-Deployment-Id", d.id)
	writeJSON(w, http.StatusCreated, b.Bytes())
}

// location builds the Location header the way Jersey resolves Marathon's
// relative URI (the app id) against the base URI.
func location(r *http.Request, id string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + id
}

func deploymentResult(w http.ResponseWriter, status int, d *deployment) {
	w.Header().Set("Marathon-Deployment-Id", d.id)
	writeJSON(w, status, mustJSON(struct {
		Version      string `json:"version"`
		DeploymentID string `json:"deploymentId"`
	}{ts(d.version), d.id}))
}

// serveApp routes /v2/apps/{id}[/restart|/tasks[/{taskId}]|/versions[/{v}]].
func (s *Server) serveApp(w http.ResponseWriter, r *http.Request, rest string) {
	segs := strings.Split(strings.Trim(rest, "/"), "/")
	n := len(segs)
	switch {
	case n >= 2 && segs[n-1] == "restart" && r.Method == http.MethodPost:
		s.restartApp(w, r, canonicalID(strings.Join(segs[:n-1], "/")))
	case n >= 2 && segs[n-1] == "tasks":
		s.appTasks(w, r, canonicalID(strings.Join(segs[:n-1], "/")), "")
	case n >= 3 && segs[n-2] == "tasks":
		s.appTasks(w, r, canonicalID(strings.Join(segs[:n-2], "/")), segs[n-1])
	case n >= 2 && segs[n-1] == "versions":
		s.appVersions(w, r, canonicalID(strings.Join(segs[:n-1], "/")), "")
	case n >= 3 && segs[n-2] == "versions":
		s.appVersions(w, r, canonicalID(strings.Join(segs[:n-2], "/")), segs[n-1])
	default:
		id := canonicalID(strings.Join(segs, "/"))
		switch r.Method {
		case http.MethodGet:
			s.getApp(w, r, id)
		case http.MethodPut:
			s.updateApp(w, r, id, boolParam(r, "partialUpdate", true), true)
		case http.MethodPatch:
			s.updateApp(w, r, id, true, false)
		case http.MethodDelete:
			s.deleteApp(w, r, id)
		default:
			methodNotAllowed(w)
		}
	}
}

func (s *Server) getApp(w http.ResponseWriter, r *http.Request, id string) {
	e := resolveEmbeds(r.URL.Query()["embed"])
	e.counts, e.tasks, e.lastTaskFailure, e.deployments = true, true, true, true
	s.mu.Lock()
	// "/group/*" lists the apps of a group, as Marathon does.
	if strings.HasSuffix(id, "/*") {
		prefix := strings.TrimSuffix(id, "*")
		var b bytes.Buffer
		b.WriteString(`{"*":[`)
		n := 0
		for _, aid := range s.ids {
			if strings.HasPrefix(aid, prefix) || prefix == "/" {
				if n > 0 {
					b.WriteByte(',')
				}
				n++
				b.Write(s.appInfo(s.apps[aid], e))
			}
		}
		s.mu.Unlock()
		b.WriteString("]}")
		writeJSON(w, http.StatusOK, b.Bytes())
		return
	}
	a := s.apps[id]
	if a == nil {
		s.mu.Unlock()
		writeErr(w, appNotFound(id))
		return
	}
	var b bytes.Buffer
	b.WriteString(`{"app":`)
	b.Write(s.appInfo(a, e))
	b.WriteByte('}')
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, b.Bytes())
}

// versionOnly reports whether a body asks for a rollback, and whether it
// wrongly combines version with other fields.
func versionOnly(o object) (version string, rollback bool, invalid bool) {
	v, ok := o.get("version")
	if !ok || isNull(v) {
		return "", false, false
	}
	for _, k := range o.keys() {
		if k != "version" && k != "id" {
			return "", true, true
		}
	}
	str, _ := rawString(v)
	return str, true, false
}

var errVersionCombined = objectNotValid(details{{Path: "/", Errors: []string{"The 'version' field may only be combined with the 'id' field."}}})

// updateTarget computes the new definition of app id from a PUT/PATCH body.
// Callers hold s.mu.
func (s *Server) updateTarget(id string, o object, m map[string]any, partial, allowCreate bool, v time.Time) (*appDef, *apiError) {
	a := s.apps[id]
	if version, rollback, invalid := versionOnly(o); rollback {
		if invalid {
			return nil, errVersionCombined
		}
		if a == nil {
			return nil, appNotFound(id)
		}
		want, ok := parseTS(version)
		var found *appDef
		for _, v := range a.versions {
			if ok && v.version.Equal(want) {
				found = v
			}
		}
		if found == nil {
			return nil, appNotFound(id)
		}
		return s.successor(a.def, found.obj, id, false, v), nil
	}
	if d := readErrors(m, false); len(d) > 0 {
		return nil, invalidJSON(d)
	}
	if a == nil && !allowCreate {
		return nil, appNotFound(id)
	}
	merged := o.del("id", "version")
	if a != nil && partial {
		merged = a.def.obj.clone()
		for _, mem := range o {
			if mem.key != "id" && mem.key != "version" {
				merged = merged.set(mem.key, mem.val)
			}
		}
	}
	merged = merged.setFront("id", jsonString(id))
	g, _ := decodeGeneric(merged.del(statusKeys...).marshal())
	gm, _ := g.(map[string]any)
	if d := semanticErrors(gm); len(d) > 0 {
		return nil, objectNotValid(d)
	}
	if a == nil {
		if s.groupConflict(id) {
			return nil, errGroupConflict
		}
		return s.buildDef(merged, id, v, v, v), nil
	}
	return s.successor(a.def, merged, id, false, v), nil
}

// successor builds the next version of an app from obj, or returns cur when
// nothing changed (Marathon keeps the version then).
func (s *Server) successor(cur *appDef, o object, id string, restart bool, v time.Time) *appDef {
	probe := newDef(o.setFront("id", jsonString(id)), cur.version, cur.lastScalingAt, cur.lastConfigChangeAt, s.opts.DefaultRole,
		func([]portSpec) []int { return nil })
	if !restart && probe.configKey == cur.configKey && probe.instances == cur.instances {
		return cur
	}
	if !restart && probe.configKey == cur.configKey {
		return s.buildDef(o, id, v, v, cur.lastConfigChangeAt)
	}
	return s.buildDef(o, id, v, v, v)
}

func (s *Server) updateApp(w http.ResponseWriter, r *http.Request, id string, partial, allowCreate bool) {
	body, e := readBody(r)
	if e != nil {
		writeErr(w, e)
		return
	}
	o, m, e := parseAppBody(body)
	if e != nil {
		writeErr(w, e)
		return
	}
	force := boolParam(r, "force", false)
	s.mu.Lock()
	defer s.mu.Unlock()
	existing := s.apps[id]
	v := s.nextVersion()
	def, e := s.updateTarget(id, o, m, partial, allowCreate, v)
	if e != nil {
		writeErr(w, e)
		return
	}
	var from *appDef
	if existing != nil {
		from = existing.def
	}
	d, lerr := s.deploy([]change{{id: id, from: from, to: def}}, force, v)
	if lerr != nil {
		writeErr(w, lockedErr(lerr))
		return
	}
	s.postEvent(r, def)
	status := http.StatusOK
	if existing == nil {
		status = http.StatusCreated
		w.Header().Set("Location", location(r, id))
	}
	deploymentResult(w, status, d)
}

// updateMany serves PUT and PATCH /v2/apps with an array of apps.
func (s *Server) updateMany(w http.ResponseWriter, r *http.Request, partial, allowCreate bool) {
	body, e := readBody(r)
	if e != nil {
		writeErr(w, e)
		return
	}
	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil {
		if json.Valid(body) {
			writeErr(w, invalidJSON(details{{Path: "/", Errors: []string{errExpArray}}}))
		} else {
			writeJSON(w, http.StatusBadRequest, mustJSON(map[string]string{"message": "Invalid JSON", "details": err.Error()}))
		}
		return
	}
	type parsed struct {
		o object
		m map[string]any
	}
	var bodies []parsed
	for i, it := range items {
		o, m, e := parseAppBody(it)
		if e != nil {
			if e.status == 422 {
				e = invalidJSON(details{{Path: fmt.Sprintf("(%d)", i), Errors: []string{errExpObject}}})
			}
			writeErr(w, e)
			return
		}
		if id, ok := m["id"].(string); !ok || id == "" {
			writeMessage(w, 422, "App Update must have app id set")
			return
		}
		if !partial {
			if d := readErrors(m, true); len(d) > 0 {
				for j := range d {
					d[j].Path = fmt.Sprintf("(%d)%s", i, d[j].Path)
				}
				writeErr(w, invalidJSON(d))
				return
			}
		}
		bodies = append(bodies, parsed{o, m})
	}
	force := boolParam(r, "force", false)
	s.mu.Lock()
	defer s.mu.Unlock()
	var changes []change
	var targets []*appDef
	v := s.nextVersion()
	for _, p := range bodies {
		rawID, _ := p.m["id"].(string)
		id := canonicalID(rawID)
		var from *appDef
		if a := s.apps[id]; a != nil {
			from = a.def
		}
		def, e := s.updateTarget(id, p.o, p.m, partial, allowCreate, v)
		if e != nil {
			writeErr(w, e)
			return
		}
		changes = append(changes, change{id: id, from: from, to: def})
		targets = append(targets, def)
	}
	d, lerr := s.deploy(changes, force, v)
	if lerr != nil {
		writeErr(w, lockedErr(lerr))
		return
	}
	for _, def := range targets {
		s.postEvent(r, def)
	}
	deploymentResult(w, http.StatusOK, d)
}

func (s *Server) deleteApp(w http.ResponseWriter, r *http.Request, id string) {
	force := boolParam(r, "force", true)
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[id]
	if a == nil {
		writeErr(w, appNotFound(id))
		return
	}
	d, lerr := s.deploy([]change{{id: id, from: a.def}}, force, s.nextVersion())
	if lerr != nil {
		writeErr(w, lockedErr(lerr))
		return
	}
	deploymentResult(w, http.StatusOK, d)
}

func (s *Server) restartApp(w http.ResponseWriter, r *http.Request, id string) {
	force := boolParam(r, "force", false)
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[id]
	if a == nil {
		writeErr(w, appNotFound(id))
		return
	}
	v := s.nextVersion()
	def := s.successor(a.def, a.def.obj, id, true, v)
	d, lerr := s.deploy([]change{{id: id, from: a.def, to: def, restart: true}}, force, v)
	if lerr != nil {
		writeErr(w, lockedErr(lerr))
		return
	}
	deploymentResult(w, http.StatusOK, d)
}

func (s *Server) appVersions(w http.ResponseWriter, r *http.Request, id, version string) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[id]
	if a == nil {
		writeErr(w, appNotFound(id))
		return
	}
	if version == "" {
		vs := make([]string, 0, len(a.versions))
		for i := len(a.versions) - 1; i >= 0; i-- {
			vs = append(vs, ts(a.versions[i].version))
		}
		writeJSON(w, http.StatusOK, mustJSON(map[string][]string{"versions": vs}))
		return
	}
	want, ok := parseTS(version)
	for _, v := range a.versions {
		if ok && v.version.Equal(want) {
			writeJSON(w, http.StatusOK, v.rendered)
			return
		}
	}
	writeErr(w, appNotFound(id))
}

func (s *Server) appTasks(w http.ResponseWriter, r *http.Request, id, taskID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[id]
	if a == nil {
		writeErr(w, appNotFound(id))
		return
	}
	switch r.Method {
	case http.MethodGet:
		if taskID != "" {
			methodNotAllowed(w)
			return
		}
		if strings.Contains(r.Header.Get("Accept"), "text/plain") && !strings.Contains(r.Header.Get("Accept"), "json") {
			w.Header().Set("Content-Type", "text/plain")
			var b strings.Builder
			for _, t := range a.tasks {
				fmt.Fprintf(&b, "%s\t%d\t%s:%d\n", strings.ReplaceAll(strings.TrimPrefix(a.id, "/"), "/", "_"), firstOr(t.servicePorts), t.host, firstOr(t.hostPorts))
			}
			_, _ = io.WriteString(w, b.String())
			return
		}
		var b bytes.Buffer
		b.WriteString(`{"tasks":[`)
		for i, t := range a.tasks {
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(s.taskJSON(t))
		}
		b.WriteString("]}")
		writeJSON(w, http.StatusOK, b.Bytes())
	case http.MethodDelete:
		var victims []*task
		host := r.URL.Query().Get("host")
		for _, t := range a.tasks {
			if (taskID == "" && (host == "" || host == "*" || t.host == host)) || t.id == taskID || t.instanceID == taskID {
				victims = append(victims, t)
			}
		}
		if taskID != "" && len(victims) == 0 {
			writeMessage(w, http.StatusNotFound, fmt.Sprintf("Task '%s' does not exist", taskID))
			return
		}
		if boolParam(r, "scale", false) {
			if boolParam(r, "wipe", false) {
				writeMessage(w, http.StatusBadRequest, "You cannot use scale and wipe at the same time.")
				return
			}
			for _, t := range victims {
				s.killTask(t, "TASK_KILLED", "", false)
			}
			inst := a.def.instances - len(victims)
			if inst < 0 {
				inst = 0
			}
			o := a.def.obj.set("instances", jsonInt(inst))
			v := s.nextVersion()
			def := s.successor(a.def, o, id, false, v)
			d, lerr := s.deploy([]change{{id: id, from: a.def, to: def}}, boolParam(r, "force", false), v)
			if lerr != nil {
				writeErr(w, lockedErr(lerr))
				return
			}
			deploymentResult(w, http.StatusOK, d)
			return
		}
		var b bytes.Buffer
		for i, t := range victims {
			s.killTask(t, "TASK_KILLED", "", false)
			if i > 0 {
				b.WriteByte(',')
			}
			t.changed()
			b.Write(s.taskJSON(t))
		}
		s.reconcile(a)
		s.checkApp(a)
		if taskID != "" {
			writeJSON(w, http.StatusOK, append(append([]byte(`{"task":`), b.Bytes()...), '}'))
			return
		}
		writeJSON(w, http.StatusOK, append(append([]byte(`{"tasks":[`), b.Bytes()...), ']', '}'))
	default:
		methodNotAllowed(w)
	}
}

func firstOr(v []int) int {
	if len(v) == 0 {
		return 0
	}
	return v[0]
}

func (s *Server) serveTasks(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w)
		return
	}
	status := strings.ToLower(r.URL.Query().Get("status"))
	var b bytes.Buffer
	b.WriteString(`{"tasks":[`)
	s.mu.Lock()
	n := 0
	for _, id := range s.ids {
		for _, t := range s.apps[id].tasks {
			if (status == "running" && !t.running()) || (status == "staging" && t.running()) {
				continue
			}
			if n > 0 {
				b.WriteByte(',')
			}
			n++
			b.Write(s.taskJSON(t))
		}
	}
	s.mu.Unlock()
	b.WriteString("]}")
	writeJSON(w, http.StatusOK, b.Bytes())
}

// ---- /v2/deployments -------------------------------------------------------

func (s *Server) serveDeployments(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w)
		return
	}
	var b bytes.Buffer
	b.WriteByte('[')
	s.mu.Lock()
	for i, d := range s.deplOrder {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(deploymentJSON(d))
	}
	s.mu.Unlock()
	b.WriteByte(']')
	writeJSON(w, http.StatusOK, b.Bytes())
}

func (s *Server) serveDeployment(w http.ResponseWriter, r *http.Request, id string) {
	if r.Method != http.MethodDelete {
		methodNotAllowed(w)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.deployments[id]
	if d == nil {
		writeMessage(w, http.StatusNotFound, fmt.Sprintf("DeploymentPlan %s does not exist", id))
		return
	}
	if boolParam(r, "force", false) {
		s.cancelDeployment(d, "Deployment canceled")
		w.WriteHeader(http.StatusAccepted)
		return
	}
	nd := s.revert(d)
	deploymentResult(w, http.StatusOK, nd)
}

// ---- /v2/queue -------------------------------------------------------------

func (s *Server) serveQueue(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w)
		return
	}
	now := time.Now()
	var b bytes.Buffer
	b.WriteString(`{"queue":[`)
	s.mu.Lock()
	n := 0
	for _, id := range s.ids {
		a := s.apps[id]
		if a.queuedSince.IsZero() {
			continue
		}
		missing := a.wanted - len(a.tasks)
		if a.restarting != nil {
			missing = a.wanted
			for _, t := range a.tasks {
				if t.current(a.def) {
					missing--
				}
			}
		}
		if missing <= 0 {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		left := a.delayUntil.Sub(now)
		if left < 0 {
			left = 0
		}
		fmt.Fprintf(&b, `{"count":%d,"role":%s,"delay":{"timeLeftSeconds":%d,"overdue":%t},"since":%s,`,
			missing, jsonString(a.def.role), int64((left+time.Second-1)/time.Second), left == 0, jsonString(ts(a.queuedSince)))
		b.WriteString(`"processedOffersSummary":{"processedOffersCount":0,"unusedOffersCount":0,"rejectSummaryLastOffers":[],"rejectSummaryLaunchAttempt":[]},"app":`)
		b.Write(a.def.rendered)
		b.WriteByte('}')
	}
	s.mu.Unlock()
	b.WriteString("]}")
	writeJSON(w, http.StatusOK, b.Bytes())
}

func (s *Server) serveQueueDelay(w http.ResponseWriter, r *http.Request, rawID string) {
	if r.Method != http.MethodDelete {
		methodNotAllowed(w)
		return
	}
	id := canonicalID(rawID)
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[id]
	if a == nil || a.queuedSince.IsZero() {
		writeMessage(w, http.StatusNotFound, fmt.Sprintf("Application %s not found in tasks queue.", id))
		return
	}
	s.resetDelay(a)
	s.reconcile(a)
	w.WriteHeader(http.StatusOK)
}
