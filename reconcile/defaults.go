package reconcile

import (
	"strings"
	"sync"
)

// DefaultRule documents one default Marathon fills into an app it returns.
// Compare treats a field that is present on one side only as equal when its
// value is one of Values; MarathonView fills in the first of Values.
type DefaultRule struct {
	// Path is a JSON pointer pattern; "*" stands for any array index.
	Path string
	// Values are the accepted defaults as JSON texts, the first being what
	// the Marathon version this package models (1.10) fills in. Several values
	// mean the default changed across Marathon versions.
	Values []string
	// When says under which condition the rule applies ("" = always).
	When string
	// Source names where the default is specified.
	Source string

	cond   func(c *appCtx, parent *value) bool
	dyn    func(c *appCtx) []value  // computed values (used instead of Values)
	noFill func(parent *value) bool // MarathonView leaves the field out when true
	vals   []value                  // parsed Values
}

// appCtx is what a default may depend on, computed from one normalized app.
type appCtx struct {
	persistent bool   // a container volume has "persistent"
	external   bool   // a container volume has "external"
	resident   bool   // persistent volumes or an explicit residency
	topGroup   string // first segment of a nested app id ("" for /app)
}

const (
	srcApp       = "v1.10-raml/v2/types/app.raml (App)"
	srcContainer = "v1.10-raml/v2/types/appContainer.raml"
	srcHealth    = "v1.10-raml/v2/types/healthCheck.raml (AppHealthCheck)"
	srcCheck     = "v1.10-raml/v2/types/check.raml (AppCheck)"
	srcArtifact  = "v1.10-raml/v2/types/artifact.raml; v1.7-schema AppDefinition.json fetch items"
	srcNetwork   = "v1.10-raml/v2/types/network.raml"
	srcReadiness = "v1.10-raml/v2/types/readinessCheck.raml"
	srcResources = "v1.10-raml/v2/types/resources.raml (ExecutorResources)"
	srcVolumes   = "v1.10-raml/v2/types/volumes.raml"
	srcLinux     = "v1.10-raml/v2/types/linux.raml"
	srcUnreach   = "v1.10-raml/v2/types/unreachableStrategy.raml; Marathon 1.4-1.9 UnreachableEnabled (300 s / 600 s); state.UnreachableStrategy.default(resident) = disabled"
	srcUpgrade   = "v1.10-raml/v2/examples/app.json; Marathon AppConversion.ResidencyAndUpgradeStrategy (forResidentTasks 0.5/0)"
)

func never(*value) bool { return true }

// notHTTPCheck: Marathon writes ignoreHttp1xx only for HTTP and HTTPS checks.
func notHTTPCheck(hc *value) bool {
	p, ok := hc.getString("protocol")
	return ok && p != "HTTP" && p != "HTTPS"
}

func residentOrExternal(c *appCtx, _ *value) bool { return c.resident || c.external }

func notResidentOrExternal(c *appCtx, p *value) bool { return !residentOrExternal(c, p) }

// defaultRules is the table of Marathon defaults modelled by this package.
// Structural defaults (networks, portDefinitions, port mappings, health-check
// portIndex, residency, whole upgradeStrategy, readiness status codes) are
// applied by normalization instead; see normalize.go.
var defaultRules = []DefaultRule{
	// top level
	{Path: "/instances", Values: []string{"1"}, Source: srcApp},
	{Path: "/cpus", Values: []string{"1"}, Source: srcApp},
	{Path: "/mem", Values: []string{"128"}, Source: srcApp},
	{Path: "/disk", Values: []string{"0"}, Source: srcApp},
	{Path: "/gpus", Values: []string{"0"}, Source: srcApp},
	{Path: "/executor", Values: []string{`""`}, Source: srcApp},
	{Path: "/backoffSeconds", Values: []string{"1"}, Source: srcApp},
	{Path: "/backoffFactor", Values: []string{"1.15"}, Source: srcApp},
	{Path: "/maxLaunchDelaySeconds", Values: []string{"300", "3600"},
		Source: srcApp + " (300); v1.10-raml/v2/examples/app.json and Marathon <= 1.9 (3600)"},
	{Path: "/requirePorts", Values: []string{"false"}, Source: srcApp},
	{Path: "/killSelection", Values: []string{`"YOUNGEST_FIRST"`}, Source: srcApp + "; v1.7-schema AppDefinition.json"},
	{Path: "/tty", Values: []string{"false"}, Source: srcApp + " (absent = no TTY)", noFill: never},
	// Marathon fills role from its --mesos_role flag: "*" by default, but DC/OS
	// starts Marathon with --mesos_role slave_public, so on a DC/OS cluster an
	// app posted without a role comes back with "slave_public". Both are the
	// cluster's default, not an edit; a role the release sets explicitly is
	// still compared strictly.
	{Path: "/role", Values: []string{`"*"`, `"slave_public"`}, When: "or the app's top-level group (Marathon >= 1.9 group roles)",
		Source: srcApp + " (role: Marathon's --mesos_role, \"*\" or DC/OS's \"slave_public\", or the enclosing group's role)",
		dyn: func(c *appCtx) []value {
			if c.topGroup != "" {
				return []value{str("*"), str("slave_public"), str(c.topGroup)}
			}
			return []value{str("*"), str("slave_public")}
		}},
	{Path: "/unreachableStrategy", Values: []string{`{"expungeAfterSeconds":0,"inactiveAfterSeconds":0}`,
		`{"expungeAfterSeconds":600,"inactiveAfterSeconds":300}`}, When: "app without persistent volumes", Source: srcUnreach,
		cond: func(c *appCtx, _ *value) bool { return !c.persistent }},
	{Path: "/unreachableStrategy", Values: []string{`"disabled"`}, When: "app with persistent volumes", Source: srcUnreach,
		cond: func(c *appCtx, _ *value) bool { return c.persistent }},
	{Path: "/unreachableStrategy/inactiveAfterSeconds", Values: []string{"0"}, Source: srcUnreach},
	{Path: "/unreachableStrategy/expungeAfterSeconds", Values: []string{"0"}, Source: srcUnreach},
	{Path: "/upgradeStrategy/minimumHealthCapacity", Values: []string{"1"}, When: "not resident", Source: srcUpgrade, cond: notResidentOrExternal},
	{Path: "/upgradeStrategy/maximumOverCapacity", Values: []string{"1"}, When: "not resident", Source: srcUpgrade, cond: notResidentOrExternal},
	{Path: "/upgradeStrategy/minimumHealthCapacity", Values: []string{"0.5"}, When: "resident (persistent/external volumes or residency)", Source: srcUpgrade, cond: residentOrExternal},
	{Path: "/upgradeStrategy/maximumOverCapacity", Values: []string{"0"}, When: "resident (persistent/external volumes or residency)", Source: srcUpgrade, cond: residentOrExternal},
	{Path: "/residency/relaunchEscalationTimeoutSeconds", Values: []string{"3600"}, Source: srcApp + " (AppResidency)"},
	{Path: "/residency/taskLostBehavior", Values: []string{`"WAIT_FOREVER"`}, Source: srcApp + " (AppResidency)"},
	{Path: "/executorResources/cpus", Values: []string{"0.1"}, Source: srcResources},
	{Path: "/executorResources/mem", Values: []string{"32"}, Source: srcResources},
	{Path: "/executorResources/disk", Values: []string{"10"}, Source: srcResources},

	// container
	{Path: "/container/type", Values: []string{`"DOCKER"`}, Source: srcContainer + "; v1.7-schema AppDefinition.json"},
	{Path: "/container/docker/forcePullImage", Values: []string{"false"}, Source: srcContainer + " (DockerContainer)"},
	{Path: "/container/docker/privileged", Values: []string{"false"}, Source: srcContainer + " (DockerContainer)"},
	{Path: "/container/portMappings/*/containerPort", Values: []string{"0"}, Source: srcContainer + " (ContainerPortMapping)"},
	{Path: "/container/portMappings/*/protocol", Values: []string{`"tcp"`}, Source: srcContainer + " (ContainerPortMapping)"},
	{Path: "/container/portMappings/*/servicePort", Values: []string{"0"}, When: "0 matches any port Marathon assigns",
		Source: srcContainer + " (ContainerPortMapping)"},
	{Path: "/container/volumes/*/persistent/type", Values: []string{`"root"`}, Source: srcVolumes + " (PersistentVolumeType)"},
	{Path: "/container/volumes/*/external/shared", Values: []string{"false"}, Source: srcVolumes + " (DVDIExternalVolumeInfo)"},
	{Path: "/container/linuxInfo/seccomp/unconfined", Values: []string{"false"}, Source: srcLinux},

	// ports and networks
	{Path: "/portDefinitions/*/port", Values: []string{"0"}, When: "0 matches any port Marathon assigns", Source: srcNetwork + " (PortDefinition)"},
	{Path: "/portDefinitions/*/protocol", Values: []string{`"tcp"`}, Source: srcNetwork + " (PortDefinition)"},
	{Path: "/networks/*/mode", Values: []string{`"container"`}, Source: srcNetwork + " (Network); v1.7-schema AppDefinition.json"},
	{Path: "/networks/*/name", Values: []string{`"dcos"`}, When: "container networks (DC/OS runs Marathon with --default_network_name=dcos)",
		Source: "Marathon api/v2/NetworkNormalization (default network name for unnamed container networks)",
		cond:   func(_ *appCtx, n *value) bool { m, _ := n.getString("mode"); return m == "container" }},

	// fetch
	{Path: "/fetch/*/extract", Values: []string{"true"}, Source: srcArtifact},
	{Path: "/fetch/*/executable", Values: []string{"false"}, Source: srcArtifact},
	{Path: "/fetch/*/cache", Values: []string{"false"}, Source: srcArtifact},

	// health checks
	{Path: "/healthChecks/*/gracePeriodSeconds", Values: []string{"300"}, Source: srcHealth},
	{Path: "/healthChecks/*/intervalSeconds", Values: []string{"60"}, Source: srcHealth},
	{Path: "/healthChecks/*/maxConsecutiveFailures", Values: []string{"3"}, Source: srcHealth},
	{Path: "/healthChecks/*/timeoutSeconds", Values: []string{"20"}, Source: srcHealth},
	{Path: "/healthChecks/*/delaySeconds", Values: []string{"15"}, Source: srcHealth + "; v1.7-schema AppDefinition.json"},
	{Path: "/healthChecks/*/protocol", Values: []string{`"HTTP"`}, Source: srcHealth},
	{Path: "/healthChecks/*/ipProtocol", Values: []string{`"IPv4"`}, Source: srcHealth, noFill: never},
	{Path: "/healthChecks/*/ignoreHttp1xx", Values: []string{"false"}, When: "any protocol (Marathon writes it for HTTP and HTTPS checks)",
		Source: "Marathon raml/HealthCheckConversion (MarathonHttpHealthCheck.ignoreHttp1xx)", noFill: notHTTPCheck},

	// app check
	{Path: "/check/intervalSeconds", Values: []string{"60"}, Source: srcCheck},
	{Path: "/check/timeoutSeconds", Values: []string{"20"}, Source: srcCheck},
	{Path: "/check/delaySeconds", Values: []string{"15"}, Source: srcCheck},
	{Path: "/check/http/scheme", Values: []string{`"HTTP"`}, Source: srcCheck + " (AppHttpCheck)"},

	// readiness checks
	{Path: "/readinessChecks/*/name", Values: []string{`"readinessCheck"`}, Source: srcReadiness},
	{Path: "/readinessChecks/*/protocol", Values: []string{`"HTTP"`}, Source: srcReadiness},
	{Path: "/readinessChecks/*/path", Values: []string{`"/"`}, Source: srcReadiness},
	{Path: "/readinessChecks/*/portName", Values: []string{`"http-api"`}, Source: srcReadiness},
	{Path: "/readinessChecks/*/intervalSeconds", Values: []string{"30"}, Source: srcReadiness},
	{Path: "/readinessChecks/*/timeoutSeconds", Values: []string{"10"}, Source: srcReadiness},
	{Path: "/readinessChecks/*/preserveLastResponse", Values: []string{"false"}, Source: srcReadiness},
}

// setPaths are arrays Marathon stores as sets: their order in an answer is
// not the order posted, and duplicates collapse.
var setPaths = []string{
	"/constraints",           // AppDefinition.constraints: Set[Constraint]
	"/acceptedResourceRoles", // Set[String]
	"/dependencies",          // Set[PathId]
	"/healthChecks",          // Set[HealthCheck]
	"/readinessChecks/*/httpStatusCodesForReady",  // Set[Int]
	"/container/volumes/*/persistent/constraints", // Set[Constraint]
}

// assignedPaths hold ports Marathon assigns when the app asks for 0.
var assignedPaths = []string{
	"/portDefinitions/*/port",
	"/container/portMappings/*/servicePort",
}

// Defaults returns the table of Marathon defaults Compare knows, for
// documentation (e.g. `universe-operator diff --explain`) and tests.
func Defaults() []DefaultRule {
	rules() // the table is completed once, before it is copied
	out := make([]DefaultRule, len(defaultRules))
	copy(out, defaultRules)
	return out
}

// ruleNode is the defaults table as a trie over path segments; "*" is the
// element of an array.
type ruleNode struct {
	children map[string]*ruleNode
	rules    []*DefaultRule
	set      bool
	assigned bool
	known    map[string]bool // members Marathon keeps; nil = an open map
}

func (n *ruleNode) child(key string) *ruleNode {
	if n == nil {
		return nil
	}
	return n.children[key]
}

func (n *ruleNode) elem() *ruleNode { return n.child("*") }

// rule returns the first rule whose condition holds.
func (n *ruleNode) rule(c *appCtx, parent *value) *DefaultRule {
	if n == nil {
		return nil
	}
	for _, r := range n.rules {
		if r.cond == nil || r.cond(c, parent) {
			return r
		}
	}
	return nil
}

func (r *DefaultRule) values(c *appCtx) []value {
	if r.dyn != nil {
		return r.dyn(c)
	}
	return r.vals
}

var (
	trieOnce sync.Once
	trieRoot *ruleNode
)

func rules() *ruleNode {
	trieOnce.Do(func() {
		trieRoot = &ruleNode{}
		walk := func(path string) *ruleNode {
			n := trieRoot
			for _, seg := range strings.Split(strings.TrimPrefix(path, "/"), "/") {
				if n.children == nil {
					n.children = map[string]*ruleNode{}
				}
				c := n.children[seg]
				if c == nil {
					c = &ruleNode{}
					n.children[seg] = c
				}
				n = c
			}
			return n
		}
		for i := range defaultRules {
			r := &defaultRules[i]
			for _, s := range r.Values {
				// A typo in the table is caught by TestDefaultsTable, which
				// checks every value parses; here it is skipped, never fatal.
				if v, err := parseJSON([]byte(s)); err == nil {
					r.vals = append(r.vals, v)
				}
			}
			n := walk(r.Path)
			n.rules = append(n.rules, r)
		}
		for _, p := range setPaths {
			walk(p).set = true
		}
		for _, p := range assignedPaths {
			walk(p).assigned = true
		}
		for p, keys := range knownFields {
			n := trieRoot
			if p != "" {
				n = walk(p)
			}
			n.known = map[string]bool{}
			for _, k := range keys {
				n.known[k] = true
			}
		}
	})
	return trieRoot
}

// unknown reports whether key is a member Marathon drops from the object
// under n.
func (n *ruleNode) unknown(key string) bool {
	return n != nil && n.known != nil && !n.known[key]
}

// knownFields are the members Marathon's App type (v1.10-raml/v2/types)
// knows, per object path. Marathon 1.5+ reads only these and drops the
// rest, so a field only the release has outside this list is not drift
// (Drift.Ignored lists it); MarathonView drops it. Objects not listed
// (env, labels, secrets, volume options...) are open maps.
var knownFields = map[string][]string{
	"": {"id", "acceptedResourceRoles", "args", "backoffFactor", "backoffSeconds", "cmd", "constraints",
		"container", "cpus", "dependencies", "disk", "env", "executor", "executorResources", "fetch",
		"healthChecks", "check", "instances", "labels", "maxLaunchDelaySeconds", "mem", "gpus", "ipAddress",
		"networks", "ports", "portDefinitions", "readinessChecks", "residency", "resourceLimits",
		"requirePorts", "secrets", "taskKillGracePeriodSeconds", "upgradeStrategy", "uris", "user",
		"version", "versionInfo", "killSelection", "unreachableStrategy", "tty", "role", "storeUrls"},
	"/container":                      {"type", "docker", "appc", "linuxInfo", "volumes", "portMappings"},
	"/container/docker":               {"credential", "pullConfig", "forcePullImage", "image", "network", "parameters", "portMappings", "privileged"},
	"/container/portMappings/*":       {"containerPort", "hostPort", "labels", "name", "protocol", "servicePort", "networkNames"},
	"/container/volumes/*":            {"containerPath", "hostPath", "mode", "persistent", "external", "secret"},
	"/container/volumes/*/persistent": {"type", "size", "maxSize", "profileName", "constraints"},
	"/container/linuxInfo":            {"seccomp", "ipcInfo"},
	"/healthChecks/*":                 {"command", "gracePeriodSeconds", "ignoreHttp1xx", "intervalSeconds", "maxConsecutiveFailures", "path", "port", "portIndex", "protocol", "ipProtocol", "timeoutSeconds", "delaySeconds"},
	"/healthChecks/*/command":         {"value"},
	"/check":                          {"http", "tcp", "exec", "intervalSeconds", "timeoutSeconds", "delaySeconds"},
	"/portDefinitions/*":              {"port", "labels", "name", "protocol"},
	"/fetch/*":                        {"uri", "extract", "executable", "cache", "destPath"},
	"/networks/*":                     {"name", "mode", "labels"},
	"/readinessChecks/*":              {"name", "protocol", "path", "portName", "intervalSeconds", "timeoutSeconds", "httpStatusCodesForReady", "preserveLastResponse"},
	"/upgradeStrategy":                {"maximumOverCapacity", "minimumHealthCapacity"},
	"/residency":                      {"relaunchEscalationTimeoutSeconds", "taskLostBehavior"},
	"/unreachableStrategy":            {"inactiveAfterSeconds", "expungeAfterSeconds"},
	"/executorResources":              {"cpus", "mem", "disk"},
	"/resourceLimits":                 {"cpus", "mem"},
}
