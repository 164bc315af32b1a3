// Package marathon simulates the HTTP API of Marathon 1.10, the DC/OS
// scheduler, faithfully enough to develop, test and demonstrate the
// universe-operator controller without a cluster. It follows Marathon's own
// API description (RAML v1.10, AppDefinition.json v1.7) and its source where
// the description is silent; deviations are listed at the end.
//
// # Using it
//
//	srv := marathon.New(marathon.Options{DeploymentDuration: 50 * time.Millisecond})
//	defer srv.Close()
//	ts := httptest.NewServer(srv.Handler())          // Marathon's API rooted at "/"
//	ctl := httptest.NewServer(srv.ControlHandler())  // simulator control API
//
// Exported API:
//
//	func New(opts Options) *Server
//	type Options struct { Leader, Version, FrameworkID, DefaultRole string; Timing Timing; Seed uint64;
//	                      EventBuffer int; EventHeartbeat time.Duration; RequestLogLimit int;
//	                      Agents []string; Logf func(format string, args ...any) }
//	type Timing struct { DeploymentDuration, TaskStageDuration, HealthDelay time.Duration; TimeScale float64 }
//	func (s *Server) Handler() http.Handler         // /v2/..., /ping; faults (sim/fault) applied inside
//	func (s *Server) ControlHandler() http.Handler  // control API, paths relative to its mount point
//	func (s *Server) Close()
//	func (s *Server) Faults() *fault.Injector       // the injector used by Handler
//	func (s *Server) AddObserver(o Observer)
//	func (s *Server) RequestLog() []RequestRecord
//	func (s *Server) Leader() string                // "" while no leader is elected
//	func (s *Server) ChangeLeader(newLeader string, gap time.Duration)
//	func (s *Server) CloseEventStreams() int
//	func (s *Server) Timing() Timing
//	func (s *Server) SetTiming(t Timing)
//	func (s *Server) SetHealth(appID, taskID string, healthy bool) error   // ErrNoApp, ErrNoTask
//	func (s *Server) KillTasks(appID, taskID string) ([]string, error)
//	func (s *Server) FailNextDeployment(appID, reason string)
//	func (s *Server) SetCrashLoop(appID string, on bool) error
//	func NewStandby(leader *Server, leaderURL func() string) http.Handler
//
//	type AppView struct {
//	    ID           string
//	    Labels       map[string]string
//	    Env          map[string]string // string values only; secret references are left out
//	    Raw          json.RawMessage   // the definition as GET /v2/apps/{id} shows it, without status fields
//	    Instances    int
//	    TasksRunning int
//	    Version      string
//	}
//	type Observer interface {
//	    AppRunning(AppView)   // a deployment finished and the app runs at this definition
//	    AppRemoved(id string) // the app was deleted and its tasks killed
//	}
//	type RequestRecord struct { Method, Path, Query string; Time time.Time; Duration time.Duration;
//	                            Status int; Remote, ClientID string }
//
// Observer calls are made from one goroutine per observer, without Server
// locks held, in the order the events happened (so in order per app); a slow
// observer never blocks the API (its queue is unbounded).
//
// RequestLog returns every API request Handler served (method, path, time,
// status, remote address and the X-Client-Id header), oldest first, so HA
// tests can check that no two controllers wrote at once. Dropped connections
// are recorded with status 0.
//
// # Marathon API served by Handler
//
//	GET    /ping                             "pong" (JSON "pong" with Accept: application/json)
//	GET    /v2/info, /v2/leader              DELETE /v2/leader abdicates (a new leader is elected)
//	GET    /v2/apps?id=&cmd=&label=&embed=   label selectors k, k==v, k!=v, k in (a,b), k notin (a,b), commas = AND
//	POST   /v2/apps                          201, Location, Marathon-Deployment-Id, app with deployments
//	PUT    /v2/apps?partialUpdate=&force=    several apps at once (array body)
//	PATCH  /v2/apps                          several existing apps at once
//	GET    /v2/apps/{id}?embed=              counts, tasks, deployments, lastTaskFailure always embedded
//	PUT    /v2/apps/{id}?force=&partialUpdate= (default true = merge top-level fields; {"version": v} = rollback)
//	PATCH  /v2/apps/{id}?force=
//	DELETE /v2/apps/{id}?force=              force defaults to true, as in Marathon
//	POST   /v2/apps/{id}/restart?force=
//	GET    /v2/apps/{id}/versions, /v2/apps/{id}/versions/{version}
//	GET    /v2/apps/{id}/tasks, DELETE /v2/apps/{id}/tasks?host=&scale=, DELETE /v2/apps/{id}/tasks/{taskId}?scale=
//	GET    /v2/tasks
//	GET    /v2/deployments, DELETE /v2/deployments/{id}?force= (revert deployment, or 202 cancel)
//	GET    /v2/queue, DELETE /v2/queue/{id}/delay
//	GET    /v2/events?event_type=            SSE; needs the header "Accept: text/event-stream", else 405
//	GET    /v2/pods, /v2/pods/::status       always empty (pods are not simulated)
//
// App ids may be nested (/prod/kafka); /v2/apps/prod/kafka/versions and the
// like are routed by their known suffixes, and ids are made absolute.
//
// Apps are stored as the raw JSON bytes received (unknown fields and key order
// kept; read-only status fields and version/versionInfo in a body are ignored,
// as Marathon ignores them). On read, Marathon's 1.10 defaults are filled in
// for absent fields (backoffFactor 1.15, backoffSeconds 1, cpus 1, mem 128,
// disk 0, gpus 0, executor "", instances 1, labels {}, maxLaunchDelaySeconds
// 300, networks [{"mode":"host"}], portDefinitions with a service port
// assigned from 10000-20000, requirePorts false, upgradeStrategy, killSelection,
// unreachableStrategy {0,0}, role, health-check and fetch defaults, version,
// versionInfo) and port number 0 is replaced by the assigned service port, so
// a naive desired-versus-actual comparison differs exactly where it would
// against a real Marathon. Fields Marathon 1.10 omits when empty (env,
// constraints, dependencies, fetch, healthChecks, args, secrets...) are not
// added.
//
// # Errors, as Marathon 1.10 shapes them
//
//	400 {"message":"Invalid JSON","details":"<parser message>"}          body is not JSON
//	400 {"message":"Please specify data in JSON format","details":"..."} empty body
//	422 {"message":"Invalid JSON","details":[{"path":"/cpus","errors":["error.min"]}]}
//	    type, range, pattern and enum errors found while reading the body
//	    (error.expected.jsstring, error.expected.jsnumber, error.min, error.max,
//	    error.pattern, error.minLength, error.unknown.enum.literal, error.path.missing)
//	422 {"message":"Object is not valid","details":[{"path":"/id","errors":["..."]}]}
//	    semantic rules (cmd/args/container, ports, health-check port indices,
//	    constraints operators, the version-only update rule, groups vs apps)
//	409 {"message":"An app with id [/x] already exists."}
//	409 {"message":"App is locked by one or more deployments. Override with the option '?force=true'. View details at '/v2/deployments/<DEPLOYMENT_ID>'.","deployments":[{"id":"..."}]}
//	404 {"message":"App '/x' does not exist"}
//
// # Time
//
// A deployment runs its steps (StartApplication+ScaleApplication for a new
// app, ScaleApplication for an instances-only change, RestartApplication for
// a config change or restart, StopApplication for a delete) one after the
// other; each step lasts Timing.DeploymentDuration/steps and ends only once
// its new tasks run (and, for apps with health checks, are healthy). Tasks are
// TASK_STAGING for Timing.TaskStageDuration, then TASK_RUNNING. Health-check
// results appear Timing.HealthDelay after a task runs (default: the check's
// delaySeconds, 15 s in Marathon); app-defined seconds (delaySeconds,
// gracePeriodSeconds, intervalSeconds, backoffSeconds, maxLaunchDelaySeconds)
// are multiplied by Timing.TimeScale, so tests run in milliseconds. Failures
// within gracePeriodSeconds do not count; maxConsecutiveFailures failures kill
// the task. Failed or killed tasks are relaunched after Marathon's backoff
// (backoffSeconds * backoffFactor^n, capped at maxLaunchDelaySeconds), visible
// in /v2/queue.
//
// # Control API (ControlHandler, relative to its mount point)
//
//	GET    /                                   state: leader, timing, apps, deployments, event streams
//	GET    /timing                             PUT /timing {"deploymentDurationMs","taskStageDurationMs","healthDelayMs","timeScale"}
//	POST   /apps/{id}/health                   {"healthy":false,"taskId":"optional"} flip health of the app's tasks (or one)
//	POST   /apps/{id}/kill                     {"taskId":"optional"} tasks crash (TASK_FAILED), restarted after backoff
//	POST   /apps/{id}/fail-next-deployment     {"reason":"optional"} the next deployment touching the app fails
//	POST   /apps/{id}/crash-loop               {"enabled":true} tasks fail right after they start running
//	POST   /events/close                       closes every /v2/events stream
//	POST   /leader                             {"leader":"host:port","gapMs":N} leader change (streams closed)
//	GET|POST|DELETE /faults                    sim/fault rules: {"rules":[{"method","path","status","body","drop","count"}],"latencyMs":N}
//
// # Events
//
// /v2/events streams Jetty's frame format, "event: <type>\r\ndata: <json>\r\n\r\n",
// with a "\r\n" heartbeat every 10 s. Types: event_stream_attached,
// api_post_event, group_change_success, deployment_info,
// deployment_step_success, deployment_step_failure, deployment_success,
// deployment_failed, status_update_event, instance_changed_event,
// health_status_changed_event, instance_health_changed_event,
// unhealthy_instance_kill_event, app_terminated_event. Each payload carries
// eventType and timestamp. A subscriber more than Options.EventBuffer events
// behind is disconnected, as Marathon does with slow consumers.
//
// # Deliberate deviations from Marathon
//
//   - Deprecated fields (uris, ports, ipAddress, container.docker.network,
//     container.docker.portMappings) are returned as sent instead of being
//     rewritten into fetch/portDefinitions/networks; defaults that would
//     contradict them are not added.
//   - Deployment events carry plan.original/plan.target groups holding only
//     the affected apps, not the whole root group.
//   - Groups, pods, readiness checks and offers are not simulated;
//     readinessCheckResults is always empty.
package marathon
