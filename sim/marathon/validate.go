package marathon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// detail is one entry of a Marathon error's "details" array.
type detail struct {
	Path   string   `json:"path"`
	Errors []string `json:"errors"`
}

// details collects validation errors by path, keeping first-seen order.
type details []detail

func (d *details) add(p, msg string) {
	if p == "" {
		p = "/"
	}
	for i := range *d {
		if (*d)[i].Path == p {
			for _, e := range (*d)[i].Errors {
				if e == msg {
					return
				}
			}
			(*d)[i].Errors = append((*d)[i].Errors, msg)
			return
		}
	}
	*d = append(*d, detail{Path: p, Errors: []string{msg}})
}

// Error codes Marathon's generated RAML readers (play-json) report.
const (
	errExpString = "error.expected.jsstring"
	errExpNumber = "error.expected.jsnumber"
	errExpInt    = "error.expected.int"
	errExpLong   = "error.expected.long"
	errExpBool   = "error.expected.jsboolean"
	errExpObject = "error.expected.jsobject"
	errExpArray  = "error.expected.jsarray"
	errMin       = "error.min"
	errMax       = "error.max"
	errMinLength = "error.minLength"
	errMaxLength = "error.maxLength"
	errPattern   = "error.pattern"
	errEnum      = "error.unknown.enum.literal"
	errMissing   = "error.path.missing"
)

type kind int

const (
	kAny kind = iota
	kString
	kNumber
	kInt
	kLong
	kBool
	kObject
	kArray
	kMap
	kCustom
)

// spec describes a JSON value as Marathon's RAML types do.
type spec struct {
	kind     kind
	min, max *float64
	minLen   int
	maxLen   int
	pattern  *regexp.Regexp
	enum     []string
	props    map[string]*spec
	required []string
	elem     *spec
	custom   func(p string, v any, d *details)
}

func fp(f float64) *float64 { return &f }

func anchored(p string) *regexp.Regexp { return regexp.MustCompile(`^(?:` + p + `)$`) }

var (
	rePathID      = anchored(`(\/?((\.\.)|(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9]))?($|\/))+`)
	reLegacyName  = anchored(`[a-z0-9]([-a-z0-9]*[a-z0-9])?`)
	reNetworkName = anchored(`[a-z0-9]([-a-z0-9_]*[a-z0-9])?`)
	reExecutor    = anchored(`//cmd|/?[^/]+(/[^/]+)*|`)
	// reIDSegment is PathId's rule for one path element (state.PathId).
	reIDSegment = anchored(`(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])|(\.|\.\.)`)
)

var (
	sString  = &spec{kind: kString}
	sBool    = &spec{kind: kBool}
	sAnyPort = &spec{kind: kInt, min: fp(0), max: fp(65535)}
	sLabels  = &spec{kind: kMap, elem: sString}
	sPathID  = &spec{kind: kString, minLen: 1, pattern: rePathID}
	sName    = &spec{kind: kString, minLen: 1, maxLen: 63, pattern: reLegacyName}
	sLegacy  = &spec{kind: kString, minLen: 1, pattern: reLegacyName}
	sNetProt = &spec{kind: kString, enum: []string{"tcp", "udp", "udp,tcp"}}
	sURI     = &spec{kind: kString, minLen: 1, maxLen: 1024}
	sNonNeg  = &spec{kind: kInt, min: fp(0)}
)

func arrayOf(e *spec) *spec { return &spec{kind: kArray, elem: e} }

func obj(props map[string]*spec, required ...string) *spec {
	return &spec{kind: kObject, props: props, required: required}
}

var (
	sPortMapping = obj(map[string]*spec{
		"containerPort": sAnyPort,
		"hostPort":      sAnyPort,
		"labels":        sLabels,
		"name":          sLegacy,
		"protocol":      sNetProt,
		"servicePort":   sAnyPort,
		"networkNames":  arrayOf(sName),
	})
	sHealthCheck = obj(map[string]*spec{
		"command":                obj(map[string]*spec{"value": sString}),
		"gracePeriodSeconds":     sNonNeg,
		"ignoreHttp1xx":          sBool,
		"intervalSeconds":        sNonNeg,
		"maxConsecutiveFailures": sNonNeg,
		"path":                   sString,
		"port":                   sAnyPort,
		"portIndex":              sAnyPort,
		"protocol":               {kind: kString, enum: []string{"HTTP", "HTTPS", "TCP", "COMMAND", "MESOS_TCP", "MESOS_HTTP", "MESOS_HTTPS"}},
		"ipProtocol":             {kind: kString, enum: []string{"IPv4", "IPv6"}},
		"timeoutSeconds":         {kind: kInt},
		"delaySeconds":           sNonNeg,
	})
	sContainer = obj(map[string]*spec{
		"type": {kind: kString, enum: []string{"MESOS", "DOCKER"}},
		"docker": obj(map[string]*spec{
			"credential":     obj(map[string]*spec{"principal": sString, "secret": sString}, "principal"),
			"pullConfig":     obj(map[string]*spec{"secret": {kind: kString, minLen: 1}}, "secret"),
			"forcePullImage": sBool,
			"image":          {kind: kString, minLen: 1},
			"network":        {kind: kString, enum: []string{"BRIDGE", "HOST", "NONE", "USER"}},
			"parameters":     arrayOf(obj(map[string]*spec{"key": {kind: kString, minLen: 1}, "value": sString}, "key", "value")),
			"portMappings":   arrayOf(sPortMapping),
			"privileged":     sBool,
		}, "image"),
		"linuxInfo": {kind: kObject},
		"volumes": arrayOf(obj(map[string]*spec{
			"containerPath": sString,
			"hostPath":      sString,
			"mode":          {kind: kString, enum: []string{"RO", "RW"}},
			"persistent": obj(map[string]*spec{
				"type":        {kind: kString, enum: []string{"root", "path", "mount"}},
				"size":        {kind: kLong, min: fp(0)},
				"maxSize":     {kind: kLong, min: fp(0)},
				"profileName": {kind: kString, minLen: 1},
			}),
			"external": obj(map[string]*spec{"size": {kind: kLong, min: fp(0)}, "name": sString, "provider": sString}),
			"secret":   sString,
		})),
		"portMappings": arrayOf(sPortMapping),
	})
	sResourceLimit = &spec{kind: kCustom, custom: func(p string, v any, d *details) {
		switch x := v.(type) {
		case json.Number:
		case string:
			if x != "unlimited" {
				d.add(p, errEnum)
			}
		default:
			d.add(p, errExpNumber)
		}
	}}
	sEnv = &spec{kind: kCustom, custom: func(p string, v any, d *details) {
		m, ok := v.(map[string]any)
		if !ok {
			d.add(p, errExpObject)
			return
		}
		for k, val := range m {
			switch x := val.(type) {
			case string:
			case map[string]any:
				s, ok := x["secret"]
				if !ok {
					d.add(p+"/"+k+"/secret", errMissing)
				} else if _, ok := s.(string); !ok {
					d.add(p+"/"+k+"/secret", errExpString)
				}
			default:
				d.add(p+"/"+k, errExpString)
			}
		}
	}}
	sUnreachable = &spec{kind: kCustom, custom: func(p string, v any, d *details) {
		switch x := v.(type) {
		case string:
			if x != "disabled" {
				d.add(p, errEnum)
			}
		case map[string]any:
			checkValue(p, x, obj(map[string]*spec{
				"inactiveAfterSeconds": {kind: kLong, min: fp(0)},
				"expungeAfterSeconds":  {kind: kLong, min: fp(0)},
			}), d)
		default:
			d.add(p, errExpObject)
		}
	}}
)

// appSpec describes the App type of Marathon 1.10's RAML (v2/types/app.raml).
var appSpec = obj(map[string]*spec{
	"id":                    sPathID,
	"acceptedResourceRoles": arrayOf(sString),
	"args":                  arrayOf(sString),
	"backoffFactor":         {kind: kNumber, min: fp(1)},
	"backoffSeconds":        sNonNeg,
	"cmd":                   {kind: kString, minLen: 1},
	"constraints":           arrayOf(&spec{kind: kArray, elem: sString, minLen: 2, maxLen: 3}),
	"container":             sContainer,
	"cpus":                  {kind: kNumber, min: fp(0.001)},
	"dependencies":          arrayOf(sPathID),
	"disk":                  {kind: kNumber, min: fp(0)},
	"env":                   sEnv,
	"executor":              {kind: kString, pattern: reExecutor},
	"executorResources": obj(map[string]*spec{
		"cpus": {kind: kNumber, min: fp(0.1)},
		"mem":  {kind: kNumber, min: fp(32)},
		"disk": {kind: kNumber, min: fp(10)},
	}),
	"fetch": arrayOf(obj(map[string]*spec{
		"uri": sURI, "extract": sBool, "executable": sBool, "cache": sBool,
		"destPath": {kind: kString, minLen: 1, maxLen: 1024},
	}, "uri")),
	"healthChecks":          arrayOf(sHealthCheck),
	"check":                 {kind: kObject},
	"instances":             sNonNeg,
	"labels":                sLabels,
	"maxLaunchDelaySeconds": sNonNeg,
	"mem":                   {kind: kNumber, min: fp(0)},
	"gpus":                  sNonNeg,
	"ipAddress": obj(map[string]*spec{
		"discovery": obj(map[string]*spec{
			"ports": arrayOf(obj(map[string]*spec{
				"number": sAnyPort, "name": sLegacy, "protocol": sNetProt, "labels": sLabels,
			}, "name")),
		}),
		"groups":      arrayOf(sString),
		"labels":      sLabels,
		"networkName": {kind: kString, minLen: 1},
	}),
	"networks": arrayOf(obj(map[string]*spec{
		"name":   {kind: kString, minLen: 1, maxLen: 63, pattern: reNetworkName},
		"mode":   {kind: kString, enum: []string{"container", "container/bridge", "host"}},
		"labels": sLabels,
	})),
	"ports": arrayOf(sAnyPort),
	"portDefinitions": arrayOf(obj(map[string]*spec{
		"port": sAnyPort, "labels": sLabels, "name": sLegacy, "protocol": sNetProt,
	})),
	"readinessChecks": arrayOf(obj(map[string]*spec{
		"name":                    {kind: kString, minLen: 1},
		"protocol":                {kind: kString, enum: []string{"HTTP", "HTTPS"}},
		"path":                    {kind: kString, minLen: 1, maxLen: 1024},
		"portName":                sLegacy,
		"intervalSeconds":         sNonNeg,
		"timeoutSeconds":          {kind: kInt, min: fp(1)},
		"httpStatusCodesForReady": {kind: kArray, minLen: 1, elem: &spec{kind: kInt, min: fp(100), max: fp(999)}},
		"preserveLastResponse":    sBool,
	})),
	"residency": obj(map[string]*spec{
		"relaunchEscalationTimeoutSeconds": {kind: kLong, min: fp(0)},
		"taskLostBehavior":                 {kind: kString, enum: []string{"WAIT_FOREVER", "RELAUNCH_AFTER_TIMEOUT"}},
	}),
	"resourceLimits":             obj(map[string]*spec{"cpus": sResourceLimit, "mem": sResourceLimit}),
	"requirePorts":               sBool,
	"secrets":                    {kind: kMap, elem: obj(map[string]*spec{"source": {kind: kString, minLen: 1}}, "source")},
	"taskKillGracePeriodSeconds": sNonNeg,
	"upgradeStrategy": obj(map[string]*spec{
		"maximumOverCapacity":   {kind: kNumber, min: fp(0), max: fp(1)},
		"minimumHealthCapacity": {kind: kNumber, min: fp(0), max: fp(1)},
	}, "maximumOverCapacity", "minimumHealthCapacity"),
	"uris":                sURI,
	"user":                sString,
	"version":             sString,
	"versionInfo":         {kind: kObject},
	"killSelection":       {kind: kString, enum: []string{"YOUNGEST_FIRST", "OLDEST_FIRST"}},
	"unreachableStrategy": sUnreachable,
	"tty":                 sBool,
	"role":                {kind: kString, minLen: 1},
})

func init() {
	// uris is an array of URIs; declared here to keep the table readable.
	appSpec.props["uris"] = arrayOf(sURI)
}

// checkValue validates v against s, adding RAML-reader errors under path p.
// JSON null counts as absent, as Marathon's readers treat optional fields.
func checkValue(p string, v any, s *spec, d *details) {
	if v == nil || s == nil || s.kind == kAny {
		return
	}
	switch s.kind {
	case kCustom:
		s.custom(p, v, d)
	case kString:
		str, ok := v.(string)
		if !ok {
			d.add(p, errExpString)
			return
		}
		n := len([]rune(str))
		if s.minLen > 0 && n < s.minLen {
			d.add(p, errMinLength)
		}
		if s.maxLen > 0 && n > s.maxLen {
			d.add(p, errMaxLength)
		}
		if s.pattern != nil && !s.pattern.MatchString(str) {
			d.add(p, errPattern)
		}
		if len(s.enum) > 0 {
			found := false
			for _, e := range s.enum {
				if strings.EqualFold(e, str) {
					found = true
				}
			}
			if !found {
				d.add(p, errEnum)
			}
		}
	case kNumber, kInt, kLong:
		num, ok := v.(json.Number)
		if !ok {
			d.add(p, errExpNumber)
			return
		}
		f, err := num.Float64()
		if err != nil {
			d.add(p, errExpNumber)
			return
		}
		if s.kind == kInt && (f != math.Trunc(f) || f > math.MaxInt32 || f < math.MinInt32) {
			d.add(p, errExpInt)
			return
		}
		if s.kind == kLong && (f != math.Trunc(f) || math.Abs(f) > 9.2e18) {
			d.add(p, errExpLong)
			return
		}
		if s.min != nil && f < *s.min {
			d.add(p, errMin)
		}
		if s.max != nil && f > *s.max {
			d.add(p, errMax)
		}
	case kBool:
		if _, ok := v.(bool); !ok {
			d.add(p, errExpBool)
		}
	case kObject:
		m, ok := v.(map[string]any)
		if !ok {
			d.add(p, errExpObject)
			return
		}
		for _, r := range s.required {
			if x, ok := m[r]; !ok || x == nil {
				d.add(p+"/"+r, errMissing)
			}
		}
		for _, k := range sortedKeys(m) {
			checkValue(p+"/"+k, m[k], s.props[k], d)
		}
	case kMap:
		m, ok := v.(map[string]any)
		if !ok {
			d.add(p, errExpObject)
			return
		}
		for _, k := range sortedKeys(m) {
			if m[k] == nil {
				d.add(p+"/"+k, errExpString)
				continue
			}
			checkValue(p+"/"+k, m[k], s.elem, d)
		}
	case kArray:
		arr, ok := v.([]any)
		if !ok {
			d.add(p, errExpArray)
			return
		}
		if s.minLen > 0 && len(arr) < s.minLen {
			d.add(p, errMinLength)
		}
		if s.maxLen > 0 && len(arr) > s.maxLen {
			d.add(p, errMaxLength)
		}
		for i, e := range arr {
			ep := fmt.Sprintf("%s(%d)", p, i)
			if e == nil {
				d.add(ep, errExpObject)
				continue
			}
			checkValue(ep, e, s.elem, d)
		}
	}
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// decodeGeneric decodes raw JSON into map/slice/json.Number/string/bool/nil.
func decodeGeneric(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// readErrors runs the RAML-reader layer over an app body. requireID is true
// when the body must carry an id (POST, array PUT).
func readErrors(body map[string]any, requireID bool) details {
	var d details
	if requireID {
		if v, ok := body["id"]; !ok || v == nil {
			d.add("/id", errMissing)
		}
	}
	checkValue("", body, appSpec, &d)
	return d
}

// canonicalID makes an app id absolute and resolves "." and ".." elements.
func canonicalID(id string) string {
	if id == "" {
		return "/"
	}
	if !strings.HasPrefix(id, "/") {
		id = "/" + id
	}
	c := path.Clean(id)
	return c
}

// semanticErrors applies Marathon's app validation rules (AppValidation,
// SchedulingValidation, EnvVarValidation) to a complete app whose types are
// already known to be right. As in Marathon, the rules of the deprecated API
// (ports, uris, ipAddress, docker.network) run first and, when they fail,
// are the only ones reported.
func semanticErrors(app map[string]any) details {
	var d, canonical details
	id, _ := app["id"].(string)
	cid := canonicalID(id)
	if cid == "/" {
		canonical.add("/id", "Path must contain at least one path element")
	} else {
		for _, seg := range strings.Split(strings.TrimPrefix(cid, "/"), "/") {
			if !reIDSegment.MatchString(seg) {
				canonical.add("/id", "must fully match regular expression '^(([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])\\.)*([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])|(\\.|\\.\\.)$'")
				break
			}
		}
	}
	for i, dep := range arr(app["dependencies"]) {
		if s, _ := dep.(string); canonicalID(s) == "/" {
			canonical.add(fmt.Sprintf("/dependencies(%d)", i), "Path must contain at least one path element")
		}
	}

	cmd, hasCmd := app["cmd"].(string)
	args := arr(app["args"])
	container, _ := app["container"].(map[string]any)
	ctype := "DOCKER"
	if t, ok := container["type"].(string); ok {
		ctype = strings.ToUpper(t)
	}
	docker, _ := container["docker"].(map[string]any)
	_, hasAppc := container["appc"].(map[string]any)
	hasImage := container != nil && ((docker != nil && !hasAppc) || (ctype == "MESOS" && hasAppc && docker == nil))
	if !((hasCmd != (len(args) > 0)) || (!(hasCmd && len(args) > 0) && hasImage)) {
		canonical.add("/", "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'.")
	}
	if hasCmd && len(cmd) <= 1 {
		canonical.add("/", "must not be an empty string")
	}

	// Deprecated-API rules (validateOldAppAPI).
	ports := arr(app["ports"])
	portDefs, hasPortDefs := app["portDefinitions"].([]any)
	_, hasIP := app["ipAddress"].(map[string]any)
	networks := arr(app["networks"])
	if docker != nil {
		if _, ok := docker["credential"]; ok && docker["credential"] != nil {
			d.add("/container/docker/credential", "must be empty")
		}
		if ctype == "MESOS" {
			for _, f := range []string{"network", "parameters", "portMappings"} {
				if v, ok := docker[f]; ok && v != nil && !(f != "network" && len(arr(v)) == 0) {
					d.add("/container/docker/"+f, "must be empty")
				}
			}
		}
		if _, ok := docker["network"].(string); ok && len(networks) > 0 {
			d.add("/", "must not specify both container.docker.network and networks")
		}
	}
	if ipAddr, ok := app["ipAddress"].(map[string]any); ok {
		disc, _ := ipAddr["discovery"].(map[string]any)
		if disc != nil && container != nil && ctype == "DOCKER" {
			d.add("/ipAddress", "ipAddress/discovery is not allowed for Docker containers")
		}
	}
	if uris := arr(app["uris"]); len(uris) > 0 && len(arr(app["fetch"])) > 0 {
		d.add("/uris", "may not be set in conjunction with fetch")
	}
	if hasIP && len(networks) > 0 {
		d.add("/", "must not specify both networks and ipAddress")
	}
	seen := map[float64]bool{}
	for _, p := range ports {
		n := num(p)
		if n != 0 && seen[n] {
			d.add("/", "ports must be unique")
			break
		}
		seen[n] = true
	}
	if hasIP && (len(ports) > 0 || len(portDefs) > 0) {
		d.add("/", "cannot specify both an IP address and port")
	}
	if app["ports"] != nil && hasPortDefs {
		same := len(ports) == len(portDefs)
		for i := 0; same && i < len(ports); i++ {
			pd, _ := portDefs[i].(map[string]any)
			if num(pd["port"]) != num(ports[i]) {
				same = false
			}
		}
		if !same {
			d.add("/", "cannot specify both ports and port definitions")
		}
	}

	// Marathon validates the deprecated API first and stops there on errors.
	if len(d) > 0 {
		return d
	}
	d = canonical

	// Port definitions and mappings.
	checkUnique := func(p string, items []any, key string, msg string, skipZero bool) {
		seen := map[string]bool{}
		for _, it := range items {
			m, _ := it.(map[string]any)
			v, ok := m[key]
			if !ok || v == nil {
				continue
			}
			s := fmt.Sprint(v)
			if skipZero && s == "0" {
				continue
			}
			if seen[s] {
				d.add(p, msg)
				return
			}
			seen[s] = true
		}
	}
	checkUnique("/portDefinitions", portDefs, "name", "Port names must be unique.", false)
	checkUnique("/portDefinitions", portDefs, "port", "Ports must be unique.", true)
	mappings := arr(container["portMappings"])
	mapPath := "/container/portMappings"
	if dm := arr(docker["portMappings"]); len(dm) > 0 {
		if len(mappings) > 0 {
			d.add("/container", "cannot specify both portMappings and docker.portMappings")
		}
		mappings, mapPath = dm, "/container/docker/portMappings"
	}
	checkUnique(mapPath, mappings, "name", "Port names must be unique.", false)

	netModes := map[string]int{}
	var netNames []string
	for _, n := range networks {
		m, _ := n.(map[string]any)
		mode, _ := m["mode"].(string)
		if mode == "" {
			mode = "container"
		}
		netModes[mode]++
		if name, ok := m["name"].(string); ok {
			netNames = append(netNames, name)
		}
	}
	hostNet, nonHostNet := netModes["host"] > 0, netModes["container"]+netModes["container/bridge"] > 0
	// Marathon's normalization silently drops portMappings under host
	// networking and portDefinitions under container networking before its
	// canonical rules run, so those combinations are accepted here too.
	if hostNet && nonHostNet {
		d.add("/networks", "host networking may not be combined with other network modes")
	}
	if netModes["container/bridge"] > 1 || (netModes["container/bridge"] > 0 && netModes["container"] > 0) {
		d.add("/networks", "bridge networking may not be combined with other network modes")
	}
	if ctype == "DOCKER" && container != nil && netModes["container"] > 1 {
		d.add("/", "may only specify a single container network when using the Docker container engine")
	}
	for i, pm := range mappings {
		m, _ := pm.(map[string]any)
		names := arr(m["networkNames"])
		for _, nn := range names {
			s, _ := nn.(string)
			if !contains(netNames, s) {
				d.add(fmt.Sprintf("%s(%d)/networkNames", mapPath, i), fmt.Sprintf("is not one of (%s)", strings.Join(netNames, ",")))
			}
		}
		if netModes["container"] > 1 && m["hostPort"] != nil && len(names) != 1 {
			d.add(fmt.Sprintf("%s(%d)", mapPath, i), "networkNames must be a single item list when hostPort is specified and more than 1 container network is defined")
		}
	}

	// Docker / Mesos container images.
	if container != nil {
		switch ctype {
		case "DOCKER":
			if docker == nil {
				d.add("/container/docker", "not defined")
			} else if _, ok := docker["pullConfig"].(map[string]any); ok {
				d.add("/container/docker/pullConfig", "pullConfig is not supported with Docker containerizer")
			}
		case "MESOS":
			if docker != nil && hasAppc {
				d.add("/container", "mesos containers should specify, at most, a single image type")
			}
			if docker != nil {
				if pc, ok := docker["pullConfig"].(map[string]any); ok {
					s, _ := pc["secret"].(string)
					secrets, _ := app["secrets"].(map[string]any)
					if _, ok := secrets[s]; !ok {
						d.add("/container/docker/pullConfig", "pullConfig.secret must refer to an existing secret")
					}
				}
			}
		}
		persistent := 0
		for i, vol := range arr(container["volumes"]) {
			m, _ := vol.(map[string]any)
			vp := fmt.Sprintf("/container/volumes(%d)", i)
			if pv, ok := m["persistent"].(map[string]any); ok {
				persistent++
				if num(pv["size"]) <= 0 {
					d.add(vp+"/persistent/size", "got "+fmt.Sprint(pv["size"])+", expected more than 0")
				}
				cp, _ := m["containerPath"].(string)
				if cp == "" || strings.Contains(cp, "/") {
					d.add(vp+"/containerPath", `value must not contain "/"`)
				}
				if mode, ok := m["mode"].(string); ok && mode != "RW" {
					d.add(vp+"/mode", "must be RW")
				}
			} else if s, ok := m["secret"].(string); ok {
				secrets, _ := app["secrets"].(map[string]any)
				if _, ok := secrets[s]; !ok {
					d.add(vp, "volume.secret must refer to an existing secret")
				}
			} else if _, ok := m["external"].(map[string]any); !ok {
				if cp, _ := m["containerPath"].(string); cp == "" {
					d.add(vp+"/containerPath", "must not be empty")
				}
				if hp, _ := m["hostPath"].(string); hp == "" {
					d.add(vp+"/hostPath", "must not be empty")
				}
			}
		}
		_, hasResidency := app["residency"].(map[string]any)
		if hasResidency && persistent == 0 {
			d.add("/", "App must contain persistent volumes and define residency")
		}
	}

	// Health checks.
	portCount := len(portDefs)
	if !hasPortDefs {
		portCount = len(ports)
		if app["ports"] == nil && !nonHostNet && !(docker != nil && docker["network"] != nil && docker["network"] != "HOST") {
			portCount = 1 // the default port definition
		}
	}
	if len(mappings) > 0 {
		portCount = len(mappings)
	} else if nonHostNet || (docker != nil && (docker["network"] == "BRIDGE" || docker["network"] == "USER")) {
		if _, ok := container["portMappings"]; !ok && docker["portMappings"] == nil {
			portCount = 1 // the default port mapping
		}
	}
	mesosChecks, commandChecks := 0, 0
	for i, hc := range arr(app["healthChecks"]) {
		m, _ := hc.(map[string]any)
		proto, _ := m["protocol"].(string)
		proto = strings.ToUpper(proto)
		_, hasCommand := m["command"].(map[string]any)
		if proto == "" {
			proto = "HTTP"
			if hasCommand {
				proto = "COMMAND"
			}
		}
		if hasCommand {
			commandChecks++
		}
		if hasCommand || proto == "COMMAND" || strings.HasPrefix(proto, "MESOS_") {
			mesosChecks++
		}
		if !hasCommand && (proto == "HTTP" || proto == "HTTPS" || proto == "TCP") {
			okIdx := true
			if pi, ok := m["portIndex"]; ok && pi != nil {
				okIdx = int(num(pi)) < portCount
			} else if m["port"] == nil {
				okIdx = portCount >= 1
			}
			if !okIdx {
				d.add(fmt.Sprintf("/healthChecks(%d)", i), "Health check port indices must address an element of the ports array or container port mappings.")
			}
		}
		if ip, _ := m["ipProtocol"].(string); strings.EqualFold(ip, "IPv6") && !(strings.HasPrefix(proto, "MESOS_") && ctype == "DOCKER" && container != nil) {
			d.add(fmt.Sprintf("/healthChecks(%d)", i), "IPv6 can only be used for container type DOCKER and Mesos http/https/tcp health checks")
		}
	}
	if mesosChecks-commandChecks > 1 {
		d.add("/", "AppDefinition can contain at most one Mesos health check")
	}

	// Constraints.
	for i, c := range arr(app["constraints"]) {
		parts := arr(c)
		cp := fmt.Sprintf("/constraints(%d)", i)
		strs := make([]string, len(parts))
		for j, p := range parts {
			strs[j], _ = p.(string)
		}
		if msg := constraintError(strs); msg != "" {
			d.add(cp, msg)
		}
	}

	// Environment variables referring to secrets.
	secrets, _ := app["secrets"].(map[string]any)
	if env, ok := app["env"].(map[string]any); ok {
		for _, k := range sortedKeys(env) {
			if ref, ok := env[k].(map[string]any); ok {
				s, _ := ref["secret"].(string)
				if _, ok := secrets[s]; !ok {
					d.add("/env/"+k, fmt.Sprintf("references an undefined secret named '%s'", s))
				}
			}
		}
	}
	if roles, ok := app["acceptedResourceRoles"].([]any); ok && len(roles) == 0 {
		d.add("/acceptedResourceRoles", "must not be empty")
	}

	// Labels with rules of their own.
	labels, _ := app["labels"].(map[string]any)
	if v, ok := labels["DCOS_MIGRATION_API_VERSION"].(string); ok && v != "" {
		fw, _ := labels["DCOS_PACKAGE_FRAMEWORK_NAME"].(string)
		mp, _ := labels["DCOS_MIGRATION_API_PATH"].(string)
		if v != "v1" || fw == "" || mp == "" {
			d.add("/", "DCOS_PACKAGE_FRAMEWORK_NAME and DCOS_MIGRATION_API_PATH must be defined when using DCOS_MIGRATION_API_VERSION")
		}
	}
	if labels["MARATHON_SINGLE_INSTANCE_APP"] == "true" {
		if inst, ok := app["instances"]; ok && num(inst) > 1 {
			d.add("/", "Single instance app may only have one instance")
		}
	}

	// Upgrade strategies of single-instance and resident apps.
	if us, ok := app["upgradeStrategy"].(map[string]any); ok {
		_, resident := app["residency"].(map[string]any)
		for _, f := range []string{"minimumHealthCapacity", "maximumOverCapacity"} {
			v := num(us[f])
			if labels["MARATHON_SINGLE_INSTANCE_APP"] == "true" && v != 0 {
				d.add("/upgradeStrategy/"+f, fmt.Sprintf("got %v, expected 0.0", v))
			}
			if resident && f == "maximumOverCapacity" && v != 0 {
				d.add("/upgradeStrategy/"+f, fmt.Sprintf("got %v, expected 0.0", v))
			}
		}
	}

	// GPUs and the Docker containerizer.
	if num(app["gpus"]) > 0 && container != nil && ctype == "DOCKER" {
		d.add("/", "GPU resources only work with the Mesos containerizer")
	}

	// Readiness checks.
	rcs := arr(app["readinessChecks"])
	if len(rcs) > 1 {
		d.add("/readinessChecks", "got "+strconv.Itoa(len(rcs))+", expected 1 or less")
	}
	var portNames []string
	for _, pd := range portDefs {
		m, _ := pd.(map[string]any)
		if n, ok := m["name"].(string); ok {
			portNames = append(portNames, n)
		}
	}
	if len(mappings) > 0 {
		portNames = nil
		for _, pm := range mappings {
			m, _ := pm.(map[string]any)
			if n, ok := m["name"].(string); ok {
				portNames = append(portNames, n)
			}
		}
	}
	for i, rc := range rcs {
		m, _ := rc.(map[string]any)
		name := "http-api"
		if n, ok := m["portName"].(string); ok {
			name = n
		}
		if !contains(portNames, name) {
			d.add(fmt.Sprintf("/readinessChecks(%d)/portName", i), "No port definition reference for portName "+name)
		}
		interval, timeout := 30.0, 10.0
		if v, ok := m["intervalSeconds"]; ok {
			interval = num(v)
		}
		if v, ok := m["timeoutSeconds"]; ok {
			timeout = num(v)
		}
		if timeout >= interval {
			d.add(fmt.Sprintf("/readinessChecks(%d)/timeoutSeconds", i), fmt.Sprintf("got %v, expected less than %v", timeout, interval))
		}
	}

	// Unreachable strategy ordering.
	if us, ok := app["unreachableStrategy"].(map[string]any); ok {
		if num(us["inactiveAfterSeconds"]) > num(us["expungeAfterSeconds"]) && us["expungeAfterSeconds"] != nil {
			d.add("/unreachableStrategy/inactiveAfterSeconds", "got "+fmt.Sprint(us["inactiveAfterSeconds"])+", expected less than or equal to "+fmt.Sprint(us["expungeAfterSeconds"]))
		}
	}
	return d
}

// constraintError returns Marathon's message for an invalid app constraint.
func constraintError(c []string) string {
	if len(c) < 2 || len(c) > 3 {
		return "Each constraint must have either 2 or 3 fields"
	}
	if c[0] == "" && c[1] == "" {
		return "Missing field and operator"
	}
	var value *string
	if len(c) == 3 {
		value = &c[2]
	}
	isInt := func(s string) bool { _, err := strconv.ParseInt(s, 10, 32); return err == nil }
	switch c[1] {
	case "UNIQUE":
		if value != nil {
			return "Value specified but not used"
		}
	case "CLUSTER", "IS":
		if value == nil || *value == "" {
			return "Missing value"
		}
	case "GROUP_BY":
		if value != nil && !isInt(*value) {
			return "Value was specified but is not a number"
		}
	case "LIKE", "UNLIKE":
		if value == nil {
			return "A regular expression value must be provided"
		}
		if _, err := regexp.Compile(*value); err != nil {
			return fmt.Sprintf("'%s' is not a valid regular expression", *value)
		}
	case "MAX_PER":
		if value == nil || !isInt(*value) {
			return "Value was not specified or is not a number"
		}
	default:
		return "Constraint operator must be one of the following UNIQUE, CLUSTER, GROUP_BY, LIKE, MAX_PER, UNLIKE or IS"
	}
	return ""
}

func arr(v any) []any {
	a, _ := v.([]any)
	return a
}

func num(v any) float64 {
	switch x := v.(type) {
	case json.Number:
		f, _ := x.Float64()
		return f
	case float64:
		return x
	case int:
		return float64(x)
	}
	return 0
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
