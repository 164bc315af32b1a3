package marathon

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"strings"
	"time"
)

// statusKeys are read-only fields of Marathon's AppInfo; a body carrying them
// (for example a GET answer sent back) has them ignored, as Marathon does.
var statusKeys = []string{
	"tasksStaged", "tasksRunning", "tasksHealthy", "tasksUnhealthy", "deployments",
	"readinessCheckResults", "tasks", "lastTaskFailure", "taskStats", "tasksStats",
	"version", "versionInfo",
}

// appDef is one immutable version of an app definition.
type appDef struct {
	id                 string
	obj                object // as received: status fields dropped, id made absolute
	version            time.Time
	lastScalingAt      time.Time
	lastConfigChangeAt time.Time
	rendered           []byte // the definition as Marathon returns it, defaults filled in
	configKey          string // canonical form without instances, to tell config from scale changes

	instances      int
	labels         map[string]string
	env            map[string]string
	cmd            string
	health         []hcSpec
	backoffSeconds float64
	backoffFactor  float64
	maxLaunchDelay float64
	killSelection  string
	role           string
	minHealth      float64 // upgradeStrategy.minimumHealthCapacity
	maxOver        float64 // upgradeStrategy.maximumOverCapacity
	netMode        string  // "host", "container/bridge" or "container"
	ports          []portSpec
	resident       bool
}

// portSpec is one port of an app: a port definition under host networking or
// a port mapping under container networking.
type portSpec struct {
	fixedService int  // explicit non-zero service port (port or servicePort)
	hostPort     int  // explicit host port (-1 = none allocated, 0 = dynamic)
	mapping      bool // a container port mapping
}

// hcSpec is the timing of one health check, in seconds as the app gives it.
type hcSpec struct {
	grace, interval, delay float64
	maxFailures            int
}

// newDef builds an app definition from a validated object. servicePorts
// returns the app's dynamic service ports by port index, assigning one to
// every port that does not fix its own.
func newDef(o object, version, scaling, config time.Time, role string, servicePorts func([]portSpec) []int) *appDef {
	id, _ := rawString(mustGet(o, "id"))
	id = canonicalID(id)
	o = o.del(statusKeys...).setFront("id", jsonString(id))
	d := &appDef{id: id, obj: o, version: version, lastScalingAt: scaling, lastConfigChangeAt: config}
	generic, _ := decodeGeneric(o.marshal())
	m, _ := generic.(map[string]any)
	d.extractFacts(m, role)
	d.configKey = canonicalKey(m, "instances")
	d.rendered = d.render(m, servicePorts(d.ports))
	return d
}

func mustGet(o object, key string) json.RawMessage {
	v, _ := o.get(key)
	return v
}

// canonicalKey is a key-order independent form of m without the given keys.
func canonicalKey(m map[string]any, without ...string) string {
	c := make(map[string]any, len(m))
	for k, v := range m {
		if !contains(without, k) {
			c[k] = v
		}
	}
	b, _ := json.Marshal(c)
	sum := sha256.Sum256(b)
	return string(sum[:])
}

func numOr(m map[string]any, key string, def float64) float64 {
	if v, ok := m[key]; ok && v != nil {
		return num(v)
	}
	return def
}

func (d *appDef) extractFacts(m map[string]any, defaultRole string) {
	d.instances = int(numOr(m, "instances", 1))
	d.labels = map[string]string{}
	if l, ok := m["labels"].(map[string]any); ok {
		for k, v := range l {
			if s, ok := v.(string); ok {
				d.labels[k] = s
			}
		}
	}
	d.env = map[string]string{}
	if e, ok := m["env"].(map[string]any); ok {
		for k, v := range e {
			if s, ok := v.(string); ok {
				d.env[k] = s
			}
		}
	}
	d.cmd, _ = m["cmd"].(string)
	d.backoffSeconds = numOr(m, "backoffSeconds", 1)
	d.backoffFactor = numOr(m, "backoffFactor", 1.15)
	d.maxLaunchDelay = numOr(m, "maxLaunchDelaySeconds", 300)
	d.killSelection = "YOUNGEST_FIRST"
	if k, ok := m["killSelection"].(string); ok {
		d.killSelection = strings.ToUpper(k)
	}
	d.role = defaultRole
	if r, ok := m["role"].(string); ok && r != "" {
		d.role = r
	}
	for _, hc := range arr(m["healthChecks"]) {
		h, _ := hc.(map[string]any)
		d.health = append(d.health, hcSpec{
			grace:       numOr(h, "gracePeriodSeconds", 300),
			interval:    numOr(h, "intervalSeconds", 60),
			delay:       numOr(h, "delaySeconds", 15),
			maxFailures: int(numOr(h, "maxConsecutiveFailures", 3)),
		})
	}
	container, _ := m["container"].(map[string]any)
	for _, v := range arr(container["volumes"]) {
		if vm, ok := v.(map[string]any); ok && vm["persistent"] != nil {
			d.resident = true
		}
	}
	d.minHealth, d.maxOver = 1, 1
	switch {
	case d.resident:
		d.minHealth, d.maxOver = 0.5, 0
	case d.labels["MARATHON_SINGLE_INSTANCE_APP"] == "true":
		d.minHealth, d.maxOver = 0, 0
	}
	if us, ok := m["upgradeStrategy"].(map[string]any); ok {
		d.minHealth = numOr(us, "minimumHealthCapacity", d.minHealth)
		d.maxOver = numOr(us, "maximumOverCapacity", d.maxOver)
	}
	d.netMode = effectiveNetMode(m)
	requirePorts, _ := m["requirePorts"].(bool)
	if d.netMode == "host" {
		switch {
		case m["portDefinitions"] != nil:
			for _, pd := range arr(m["portDefinitions"]) {
				p, _ := pd.(map[string]any)
				port := int(num(p["port"]))
				ps := portSpec{fixedService: port, hostPort: 0}
				if requirePorts {
					ps.hostPort = port
				}
				d.ports = append(d.ports, ps)
			}
		case m["ports"] != nil:
			for _, p := range arr(m["ports"]) {
				port := int(num(p))
				ps := portSpec{fixedService: port}
				if requirePorts {
					ps.hostPort = port
				}
				d.ports = append(d.ports, ps)
			}
		default:
			d.ports = []portSpec{{}}
		}
		return
	}
	mappings := arr(container["portMappings"])
	if docker, ok := container["docker"].(map[string]any); ok && len(mappings) == 0 {
		mappings = arr(docker["portMappings"])
	}
	_, explicit := container["portMappings"]
	if docker, ok := container["docker"].(map[string]any); ok && docker["portMappings"] != nil {
		explicit = true
	}
	if !explicit {
		ps := portSpec{mapping: true, hostPort: -1}
		if d.netMode == "container/bridge" {
			ps.hostPort = 0
		}
		d.ports = []portSpec{ps}
		return
	}
	for _, pm := range mappings {
		p, _ := pm.(map[string]any)
		ps := portSpec{mapping: true, fixedService: int(num(p["servicePort"])), hostPort: -1}
		if hp, ok := p["hostPort"]; ok && hp != nil {
			ps.hostPort = int(num(hp))
		} else if d.netMode == "container/bridge" {
			ps.hostPort = 0
		}
		d.ports = append(d.ports, ps)
	}
}

// effectiveNetMode is the networking mode Marathon derives for an app from
// networks, or from the deprecated docker.network and ipAddress fields.
func effectiveNetMode(m map[string]any) string {
	for _, n := range arr(m["networks"]) {
		nm, _ := n.(map[string]any)
		mode, _ := nm["mode"].(string)
		switch mode {
		case "host":
			return "host"
		case "container/bridge":
			return "container/bridge"
		default:
			return "container"
		}
	}
	container, _ := m["container"].(map[string]any)
	docker, _ := container["docker"].(map[string]any)
	if nw, ok := docker["network"].(string); ok {
		switch strings.ToUpper(nw) {
		case "BRIDGE":
			return "container/bridge"
		case "USER":
			return "container"
		}
		return "host"
	}
	if m["ipAddress"] != nil {
		return "container"
	}
	return "host"
}

// servicePort returns the service port a port index shows.
func (d *appDef) servicePort(i int, dynamic []int) int {
	if i < len(d.ports) && d.ports[i].fixedService != 0 {
		return d.ports[i].fixedService
	}
	if i < len(dynamic) {
		return dynamic[i]
	}
	return 0
}

// render builds the definition Marathon 1.10 would return: the stored fields
// in their order, absent fields with their defaults appended.
func (d *appDef) render(m map[string]any, dynamic []int) []byte {
	o := d.obj.clone()
	hostNet := d.netMode == "host"
	bridge := d.netMode == "container/bridge"

	// Fields present with a null value take their default, as absent ones do.
	fill := func(key string, val json.RawMessage) {
		if v, ok := o.get(key); !ok || isNull(v) {
			o = o.set(key, val)
		}
	}

	// Nested defaults on fields the app gives.
	if v, ok := o.get("portDefinitions"); ok && !isNull(v) {
		items, _ := parseArray(v)
		for i, it := range items {
			po, ok := asObject(it)
			if !ok {
				continue
			}
			if p, ok := rawNumber(mustGet(po, "port")); !ok || p == 0 {
				po = po.set("port", jsonInt(d.servicePort(i, dynamic)))
			}
			if !po.has("protocol") {
				po = po.set("protocol", jsonString("tcp"))
			}
			items[i] = po.marshal()
		}
		o = o.set("portDefinitions", joinArray(items))
	}
	if v, ok := o.get("container"); ok && !isNull(v) {
		if co, ok := asObject(v); ok {
			o = o.set("container", d.renderContainer(co, dynamic, hostNet, bridge))
		}
	} else if !hostNet {
		co := object{{"type", jsonString("MESOS")}}
		o = o.set("container", d.renderContainer(co, dynamic, hostNet, bridge))
	}
	if v, ok := o.get("healthChecks"); ok && !isNull(v) {
		items, _ := parseArray(v)
		for i, it := range items {
			if ho, ok := asObject(it); ok {
				items[i] = renderHealthCheck(ho, len(d.ports) > 0)
			}
		}
		o = o.set("healthChecks", joinArray(items))
	}
	if v, ok := o.get("fetch"); ok && !isNull(v) {
		items, _ := parseArray(v)
		for i, it := range items {
			if fo, ok := asObject(it); ok {
				for _, kv := range []member{{"extract", json.RawMessage("true")}, {"executable", json.RawMessage("false")}, {"cache", json.RawMessage("false")}} {
					if !fo.has(kv.key) {
						fo = fo.set(kv.key, kv.val)
					}
				}
				items[i] = fo.marshal()
			}
		}
		o = o.set("fetch", joinArray(items))
	}
	if v, ok := o.get("readinessChecks"); ok && !isNull(v) {
		items, _ := parseArray(v)
		for i, it := range items {
			if ro, ok := asObject(it); ok {
				for _, kv := range []member{
					{"name", jsonString("readinessCheck")}, {"protocol", jsonString("HTTP")}, {"path", jsonString("/")},
					{"portName", jsonString("http-api")}, {"intervalSeconds", jsonInt(30)}, {"timeoutSeconds", jsonInt(10)},
					{"httpStatusCodesForReady", json.RawMessage("[200]")}, {"preserveLastResponse", json.RawMessage("false")},
				} {
					if !ro.has(kv.key) {
						ro = ro.set(kv.key, kv.val)
					}
				}
				items[i] = ro.marshal()
			}
		}
		o = o.set("readinessChecks", joinArray(items))
	}

	// Top-level defaults, in the order of Marathon's App type.
	fill("backoffFactor", json.RawMessage("1.15"))
	fill("backoffSeconds", json.RawMessage("1"))
	fill("cpus", json.RawMessage("1"))
	fill("disk", json.RawMessage("0"))
	fill("executor", jsonString(""))
	fill("instances", json.RawMessage("1"))
	fill("labels", json.RawMessage("{}"))
	fill("maxLaunchDelaySeconds", json.RawMessage("300"))
	fill("mem", json.RawMessage("128"))
	fill("gpus", json.RawMessage("0"))
	fill("networks", defaultNetworks(m))
	if hostNet && m["ports"] == nil {
		if v, ok := o.get("portDefinitions"); !ok || isNull(v) {
			o = o.set("portDefinitions", json.RawMessage(`[{"port":`+string(jsonInt(d.servicePort(0, dynamic)))+`,"name":"default","protocol":"tcp"}]`))
		}
	}
	if d.resident {
		fill("residency", json.RawMessage(`{"relaunchEscalationTimeoutSeconds":3600,"taskLostBehavior":"WAIT_FOREVER"}`))
	}
	fill("requirePorts", json.RawMessage("false"))
	switch {
	case d.resident:
		fill("upgradeStrategy", json.RawMessage(`{"maximumOverCapacity":0,"minimumHealthCapacity":0.5}`))
	case d.labels["MARATHON_SINGLE_INSTANCE_APP"] == "true":
		fill("upgradeStrategy", json.RawMessage(`{"maximumOverCapacity":0,"minimumHealthCapacity":0}`))
	default:
		fill("upgradeStrategy", json.RawMessage(`{"maximumOverCapacity":1,"minimumHealthCapacity":1}`))
	}
	o = o.set("version", jsonString(ts(d.version)))
	o = o.set("versionInfo", json.RawMessage(`{"lastScalingAt":`+string(jsonString(ts(d.lastScalingAt)))+`,"lastConfigChangeAt":`+string(jsonString(ts(d.lastConfigChangeAt)))+`}`))
	fill("killSelection", jsonString("YOUNGEST_FIRST"))
	if d.resident {
		fill("unreachableStrategy", jsonString("disabled"))
	} else {
		fill("unreachableStrategy", json.RawMessage(`{"inactiveAfterSeconds":0,"expungeAfterSeconds":0}`))
	}
	fill("role", jsonString(d.role))
	return o.marshal()
}

func defaultNetworks(m map[string]any) json.RawMessage {
	container, _ := m["container"].(map[string]any)
	docker, _ := container["docker"].(map[string]any)
	name := ""
	if ip, ok := m["ipAddress"].(map[string]any); ok {
		name, _ = ip["networkName"].(string)
	}
	withName := func(mode string) json.RawMessage {
		if name == "" {
			return json.RawMessage(`[{"mode":"` + mode + `"}]`)
		}
		return json.RawMessage(`[{"name":` + string(jsonString(name)) + `,"mode":"` + mode + `"}]`)
	}
	if nw, ok := docker["network"].(string); ok {
		switch strings.ToUpper(nw) {
		case "BRIDGE":
			return json.RawMessage(`[{"mode":"container/bridge"}]`)
		case "USER":
			return withName("container")
		}
		return json.RawMessage(`[{"mode":"host"}]`)
	}
	if m["ipAddress"] != nil {
		return withName("container")
	}
	return json.RawMessage(`[{"mode":"host"}]`)
}

func (d *appDef) renderContainer(co object, dynamic []int, hostNet, bridge bool) json.RawMessage {
	if !co.has("type") {
		co = co.set("type", jsonString("DOCKER"))
	}
	if v, ok := co.get("docker"); ok && !isNull(v) {
		if do, ok := asObject(v); ok {
			for _, kv := range []member{{"forcePullImage", json.RawMessage("false")}, {"parameters", json.RawMessage("[]")}, {"privileged", json.RawMessage("false")}} {
				if !do.has(kv.key) {
					do = do.set(kv.key, kv.val)
				}
			}
			if !hostNet {
				if pm, ok := do.get("portMappings"); ok && !isNull(pm) {
					do = do.set("portMappings", d.renderMappings(pm, dynamic, bridge))
				}
			}
			co = co.set("docker", do.marshal())
		}
	}
	if !co.has("volumes") {
		co = co.set("volumes", json.RawMessage("[]"))
	}
	if !hostNet {
		if pm, ok := co.get("portMappings"); ok && !isNull(pm) {
			co = co.set("portMappings", d.renderMappings(pm, dynamic, bridge))
		} else if !hasDockerMappings(co) {
			def := object{{"containerPort", jsonInt(0)}}
			if bridge {
				def = append(def, member{"hostPort", jsonInt(0)})
			}
			def = append(def, member{"labels", json.RawMessage("{}")}, member{"name", jsonString("default")},
				member{"protocol", jsonString("tcp")}, member{"servicePort", jsonInt(d.servicePort(0, dynamic))})
			co = co.set("portMappings", joinArray([]json.RawMessage{def.marshal()}))
		}
	}
	return co.marshal()
}

func hasDockerMappings(co object) bool {
	v, ok := co.get("docker")
	if !ok {
		return false
	}
	do, ok := asObject(v)
	return ok && do.has("portMappings")
}

func (d *appDef) renderMappings(v json.RawMessage, dynamic []int, bridge bool) json.RawMessage {
	items, _ := parseArray(v)
	for i, it := range items {
		mo, ok := asObject(it)
		if !ok {
			continue
		}
		if !mo.has("containerPort") {
			mo = mo.set("containerPort", jsonInt(0))
		}
		if bridge && !mo.has("hostPort") {
			mo = mo.set("hostPort", jsonInt(0))
		}
		if !mo.has("labels") {
			mo = mo.set("labels", json.RawMessage("{}"))
		}
		if !mo.has("protocol") {
			mo = mo.set("protocol", jsonString("tcp"))
		}
		if p, ok := rawNumber(mustGet(mo, "servicePort")); !ok || p == 0 {
			mo = mo.set("servicePort", jsonInt(d.servicePort(i, dynamic)))
		}
		items[i] = mo.marshal()
	}
	return joinArray(items)
}

func renderHealthCheck(ho object, hasPorts bool) json.RawMessage {
	proto := "HTTP"
	if v, ok := rawString(mustGet(ho, "protocol")); ok {
		proto = strings.ToUpper(v)
	} else if ho.has("command") {
		proto = "COMMAND"
	}
	add := func(key string, val json.RawMessage) {
		if !ho.has(key) {
			ho = ho.set(key, val)
		}
	}
	add("gracePeriodSeconds", jsonInt(300))
	if proto == "HTTP" || proto == "HTTPS" {
		add("ignoreHttp1xx", json.RawMessage("false"))
	}
	add("intervalSeconds", jsonInt(60))
	add("maxConsecutiveFailures", jsonInt(3))
	if proto != "COMMAND" && hasPorts && !ho.has("port") && !ho.has("portIndex") {
		ho = ho.set("portIndex", jsonInt(0))
	}
	add("protocol", jsonString(proto))
	add("ipProtocol", jsonString("IPv4"))
	add("timeoutSeconds", jsonInt(20))
	add("delaySeconds", jsonInt(15))
	return ho.marshal()
}

// openObject writes rendered (a JSON object) without its closing brace.
func openObject(b *bytes.Buffer, rendered []byte) {
	b.Write(rendered[:len(rendered)-1])
}
