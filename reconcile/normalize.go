package reconcile

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/universe-operator/universe-operator/errs"
)

// statusFields are read-only fields Marathon adds to what it returns (app
// status, embeds). They are never part of a definition and are stripped from
// both sides before comparing.
var statusFields = []string{
	"version", "versionInfo",
	"tasksStaged", "tasksRunning", "tasksHealthy", "tasksUnhealthy",
	"tasks", "deployments", "readinessCheckResults", "lastTaskFailure",
	"taskStats", "tasksStats", "counts",
}

// statusSet is statusFields as a set.
var statusSet = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range statusFields {
		m[k] = true
	}
	return m
}()

// mesosBridgeName is Marathon's default --mesos_bridge_name: an ipAddress
// naming it means the container/bridge network.
const mesosBridgeName = "mesos-bridge"

// Normalize returns the app in the canonical form Compare works on: status
// fields stripped, nulls and empty collections dropped, deprecated fields
// translated and structural defaults applied the way Marathon's
// AppNormalization does, compact with sorted keys. It is idempotent.
// Errors are errs.Permanent (not a JSON object).
func Normalize(app []byte) ([]byte, error) {
	root, err := parseObject(app)
	if err != nil {
		return nil, errs.Permanent(fmt.Errorf("normalize app: %w", err))
	}
	normalizeApp(&root)
	return root.bytes(), nil
}

// normalizeApp rewrites root in place and returns what defaults depend on.
// It must not fail on any JSON object, however odd: unexpected types are left
// alone (Marathon would refuse them with a 422, and the comparison then shows
// them as they are).
func normalizeApp(root *value) appCtx {
	for _, k := range statusFields {
		root.del(k)
	}
	clean(root, levelTop)

	// id and dependencies: canonical absolute paths (withCanonizedIds).
	if id, ok := root.getString("id"); ok {
		root.set("id", str(CanonicalID(id)))
	}
	if deps := root.get("dependencies"); deps != nil && deps.kind == kindArray {
		for i := range deps.arr {
			if deps.arr[i].kind == kindString {
				deps.arr[i].str = CanonicalID(deps.arr[i].str)
			}
		}
	}

	normalizeFetch(root)
	migrateDockerPortMappings(root)
	nonHost, bridge := normalizeNetworks(root)
	migratedPorts := normalizePortDefinitions(root, nonHost)
	normalizeContainer(root, nonHost, bridge, migratedPorts)
	if nonHost {
		root.del("requirePorts") // forced to false for non-host networking
	}
	normalizeHealthChecks(root)
	normalizeReadiness(root)
	for _, p := range setSegments() {
		dedupeSet(root, p)
	}

	// Conversions above can leave emptied objects behind (a docker object
	// whose network moved away): clean again so the form is idempotent.
	clean(root, levelTop)

	ctx := contextOf(root)
	// Residency and the upgrade strategy Marathon picks for resident apps
	// (AppConversion.ResidencyAndUpgradeStrategy).
	if ctx.persistent && root.get("residency") == nil {
		root.set("residency", obj(kv("relaunchEscalationTimeoutSeconds", num("3600")), kv("taskLostBehavior", str("WAIT_FOREVER"))))
		ctx.resident = true
	}
	if root.get("upgradeStrategy") == nil {
		if ctx.resident || ctx.external {
			root.set("upgradeStrategy", obj(kv("maximumOverCapacity", num("0")), kv("minimumHealthCapacity", num("0.5"))))
		} else {
			root.set("upgradeStrategy", obj(kv("maximumOverCapacity", num("1")), kv("minimumHealthCapacity", num("1"))))
		}
	}
	return ctx
}

func contextOf(root *value) appCtx {
	var c appCtx
	if vols := root.get("container").get("volumes"); vols != nil && vols.kind == kindArray {
		for i := range vols.arr {
			if vols.arr[i].get("persistent") != nil {
				c.persistent = true
			}
			if vols.arr[i].get("external") != nil {
				c.external = true
			}
		}
	}
	c.resident = c.persistent || root.get("residency") != nil
	if id, ok := root.getString("id"); ok {
		segs := strings.Split(strings.TrimPrefix(id, "/"), "/")
		if len(segs) > 1 {
			c.topGroup = segs[0]
		}
	}
	return c
}

// cleanLevel says where in the app an object sits, which decides which empty
// collections are meaningful there.
type cleanLevel uint8

const (
	levelOther cleanLevel = iota
	levelTop
	levelContainer
	levelDocker
)

// keepEmpty reports whether an empty collection under key means something:
// "portDefinitions": [] (no ports, versus absent = one default port), the
// deprecated "ports": [], and "portMappings": [] (no mappings, versus absent
// = one default mapping on container networks).
func keepEmpty(level cleanLevel, key string) bool {
	switch level {
	case levelTop:
		return key == "portDefinitions" || key == "ports"
	case levelContainer, levelDocker:
		return key == "portMappings"
	}
	return false
}

// clean drops null members and empty arrays/objects (except where keepEmpty
// says emptiness is meaningful) from objects, recursively. Marathon treats
// them as absent and writes them or not depending on its version. It works
// in place and copies members only when one is dropped.
func clean(v *value, level cleanLevel) {
	switch v.kind {
	case kindArray:
		for i := range v.arr {
			if k := v.arr[i].kind; k == kindObject || k == kindArray {
				clean(&v.arr[i], levelOther)
			}
		}
	case kindObject:
		drop := 0
		for i := range v.obj {
			m := &v.obj[i]
			if m.val.kind == kindObject || m.val.kind == kindArray {
				sub := levelOther
				switch {
				case level == levelTop && m.key == "container":
					sub = levelContainer
				case level == levelContainer && m.key == "docker":
					sub = levelDocker
				}
				clean(&m.val, sub)
			}
			if dropMember(level, m) {
				drop++
			}
		}
		if drop > 0 {
			out := make([]member, 0, len(v.obj)-drop)
			for i := range v.obj {
				if !dropMember(level, &v.obj[i]) {
					out = append(out, v.obj[i])
				}
			}
			v.obj = out
		}
	}
}

func dropMember(level cleanLevel, m *member) bool {
	return m.val.kind == kindNull || (m.val.isEmptyCollection() && !keepEmpty(level, m.key))
}

// normalizeFetch converts the deprecated uris into fetch entries the way
// Marathon does (AppNormalization.Artifacts: extract only for archives).
func normalizeFetch(root *value) {
	uris := root.get("uris")
	if uris == nil {
		return
	}
	if root.get("fetch") == nil && uris.kind == kindArray {
		fetch := make([]value, 0, len(uris.arr))
		for _, u := range uris.arr {
			if u.kind != kindString {
				return // not convertible: leave it for the comparison to show
			}
			fetch = append(fetch, obj(kv("uri", u), kv("extract", boolean(isExtract(u.str)))))
		}
		root.set("fetch", arr(fetch...))
	}
	root.del("uris")
}

// isExtract mirrors Marathon's FetchUri.isExtract on the URI's path.
func isExtract(uri string) bool {
	if i := strings.IndexAny(uri, "?#"); i >= 0 {
		uri = uri[:i]
	}
	for _, ext := range []string{".tgz", ".tar.gz", ".tbz2", ".tar.bz2", ".txz", ".tar.xz", ".zip"} {
		if strings.HasSuffix(uri, ext) {
			return true
		}
	}
	return false
}

// migrateDockerPortMappings moves the deprecated container.docker.portMappings
// to container.portMappings (AppNormalization.migrateDockerPortMappings).
func migrateDockerPortMappings(root *value) {
	c := root.get("container")
	if c == nil || c.kind != kindObject {
		return
	}
	d := c.get("docker")
	if d == nil || d.kind != kindObject {
		return
	}
	pm := d.get("portMappings")
	if pm == nil {
		return
	}
	pmv := *pm
	d.del("portMappings")
	if c.get("portMappings") == nil {
		c.set("portMappings", pmv)
	}
}

// normalizeNetworks translates ipAddress and container.docker.network into
// networks (AppNormalization.NetworkTranslation), defaults to host
// networking, fills each network's mode, and reports whether any network is
// not host and whether one is container/bridge.
func normalizeNetworks(root *value) (nonHost, bridge bool) {
	// Work on a copy: root.set below may move root's members in memory.
	var ip *value
	if p := root.get("ipAddress"); p != nil && p.kind == kindObject {
		cp := *p
		ip = &cp
	}
	var dockerNet string
	if d := root.get("container").get("docker"); d != nil {
		dockerNet, _ = d.getString("network")
	}
	if root.get("networks") == nil {
		var labels *value
		if ip != nil {
			labels = ip.get("labels") // points into the copy: stable
		}
		withLabels := func(ms ...member) value {
			if labels != nil {
				ms = append(ms, kv("labels", *labels))
			}
			return obj(ms...)
		}
		var nets []value
		switch {
		case ip != nil && dockerNet != "":
			switch dockerNet {
			case "HOST":
				nets = []value{obj(kv("mode", str("host")))}
			case "USER":
				ms := []member{kv("mode", str("container"))}
				if n := ip.get("networkName"); n != nil {
					ms = append(ms, kv("name", *n))
				}
				nets = []value{withLabels(ms...)}
			case "BRIDGE":
				nets = []value{withLabels(kv("mode", str("container/bridge")))}
			}
		case ip != nil:
			name, hasName := ip.getString("networkName")
			if hasName && name == mesosBridgeName {
				nets = []value{withLabels(kv("mode", str("container/bridge")))}
			} else {
				ms := []member{kv("mode", str("container"))}
				if n := ip.get("networkName"); n != nil {
					ms = append(ms, kv("name", *n))
				}
				nets = []value{withLabels(ms...)}
			}
		case dockerNet != "":
			switch dockerNet {
			case "HOST":
				nets = []value{obj(kv("mode", str("host")))}
			case "USER":
				nets = []value{obj(kv("mode", str("container")))}
			case "BRIDGE":
				nets = []value{obj(kv("mode", str("container/bridge")))}
			}
		}
		if nets == nil {
			nets = []value{obj(kv("mode", str("host")))} // Apps.DefaultNetworks
		}
		root.set("networks", arr(nets...))
	}
	// ipAddress.discovery.ports become port mappings of a Mesos container
	// (AppNormalization.migrateIpDiscovery); ipAddress itself is dropped.
	if ip != nil {
		if root.get("container") == nil {
			root.set("container", obj(kv("type", str("MESOS"))))
		}
		c := root.get("container")
		ctype, _ := c.getString("type")
		if ports := ip.get("discovery").get("ports"); ports != nil && ports.kind == kindArray &&
			c.kind == kindObject && ctype == "MESOS" && c.get("portMappings") == nil {
			pms := make([]value, 0, len(ports.arr))
			for _, p := range ports.arr {
				var ms []member
				if n := p.get("number"); n != nil {
					ms = append(ms, kv("containerPort", *n))
				}
				for _, k := range []string{"name", "protocol", "labels"} {
					if x := p.get(k); x != nil {
						ms = append(ms, kv(k, *x))
					}
				}
				pms = append(pms, obj(ms...))
			}
			c.set("portMappings", arr(pms...))
		}
		root.del("ipAddress")
	}
	if d := root.get("container").get("docker"); d != nil {
		d.del("network")
	}
	if nets := root.get("networks"); nets != nil && nets.kind == kindArray {
		for i := range nets.arr {
			n := &nets.arr[i]
			if n.kind != kindObject {
				continue
			}
			if n.get("mode") == nil {
				n.set("mode", str("container"))
			}
			mode, _ := n.getString("mode")
			if mode != "host" {
				nonHost = true
			}
			if mode == "container/bridge" {
				bridge = true
			}
		}
	}
	return nonHost, bridge
}

// normalizePortDefinitions migrates ports to portDefinitions, drops them for
// non-host networking and fills the default port definition for host
// networking (AppNormalization.applyDefaultPortDefinitions). It returns the
// number of port definitions the app asked for (-1 when none), which decides
// how many port mappings Marathon adds on container networks.
func normalizePortDefinitions(root *value, nonHost bool) int {
	pd := root.get("portDefinitions")
	if pd == nil {
		if ports := root.get("ports"); ports != nil && ports.kind == kindArray {
			defs := make([]value, 0, len(ports.arr))
			for _, p := range ports.arr {
				defs = append(defs, obj(kv("port", p), kv("protocol", str("tcp"))))
			}
			root.set("portDefinitions", arr(defs...))
			pd = root.get("portDefinitions")
		}
	}
	migrated := -1
	if pd != nil && pd.kind == kindArray {
		migrated = len(pd.arr)
	}
	hasPD := pd != nil
	root.del("ports") // pd is stale from here on
	switch {
	case nonHost:
		root.del("portDefinitions")
	case !hasPD:
		root.set("portDefinitions", arr(obj(kv("name", str("default")), kv("port", num("0")), kv("protocol", str("tcp")))))
	}
	return migrated
}

// normalizeContainer applies Marathon's container rules: host networking has
// no port mappings,
// container networks get a default mapping (and a Mesos container when none
// is given), bridge mappings get hostPort 0, and the type defaults to DOCKER.
func normalizeContainer(root *value, nonHost, bridge bool, migratedPorts int) {
	c := root.get("container")
	if c == nil {
		if !nonHost {
			return
		}
		root.set("container", obj(kv("type", str("MESOS"))))
		c = root.get("container")
	}
	if c.kind != kindObject {
		return
	}
	if c.get("type") == nil {
		c.set("type", str("DOCKER"))
	}
	if !nonHost {
		c.del("portMappings")
		return
	}
	if c.get("portMappings") == nil {
		c.set("portMappings", arr(obj(kv("name", str("default"))))) // Apps.DefaultPortMappings
	}
	pms := c.get("portMappings")
	if pms.kind != kindArray {
		return
	}
	for delta := migratedPorts - len(pms.arr); delta > 0; delta-- {
		pms.arr = append(pms.arr, obj()) // AppNormalization.maybeAddPortMappings
	}
	for i := range pms.arr {
		m := &pms.arr[i]
		if m.kind != kindObject {
			continue
		}
		if bridge && m.get("hostPort") == nil {
			m.set("hostPort", num("0")) // bridge: a missing host port means 0
		}
	}
}

// normalizeHealthChecks adds portIndex 0 to checks that name no port
// (AppNormalization.normalizeHealthChecks; COMMAND checks have no port).
func normalizeHealthChecks(root *value) {
	hcs := root.get("healthChecks")
	if hcs == nil || hcs.kind != kindArray {
		return
	}
	for i := range hcs.arr {
		hc := &hcs.arr[i]
		if hc.kind != kindObject {
			continue
		}
		proto, ok := hc.getString("protocol")
		if !ok {
			proto = "HTTP"
		}
		if proto != "COMMAND" && hc.get("port") == nil && hc.get("portIndex") == nil {
			hc.set("portIndex", num("0"))
		}
	}
}

// normalizeReadiness fills httpStatusCodesForReady ([200] by default,
// AppNormalization.normalizeReadinessCheck).
func normalizeReadiness(root *value) {
	rcs := root.get("readinessChecks")
	if rcs == nil || rcs.kind != kindArray {
		return
	}
	for i := range rcs.arr {
		rc := &rcs.arr[i]
		if rc.kind == kindObject && rc.get("httpStatusCodesForReady") == nil {
			rc.set("httpStatusCodesForReady", arr(num("200")))
		}
	}
}

var (
	setSegsOnce sync.Once
	setSegs     [][]string
)

// setSegments is setPaths split into segments, once.
func setSegments() [][]string {
	setSegsOnce.Do(func() {
		for _, p := range setPaths {
			setSegs = append(setSegs, strings.Split(strings.TrimPrefix(p, "/"), "/"))
		}
	})
	return setSegs
}

// dedupeSet removes duplicate elements of the array at path (a set in
// Marathon: duplicates collapse).
func dedupeSet(v *value, path []string) {
	if v == nil {
		return
	}
	if len(path) == 0 {
		if v.kind != kindArray || len(v.arr) < 2 {
			return
		}
		if len(v.arr) <= 16 {
			out := v.arr[:0]
			for i := range v.arr {
				if !slices.ContainsFunc(out, func(x value) bool { return sameValue(&x, &v.arr[i]) }) {
					out = append(out, v.arr[i])
				}
			}
			v.arr = out
			return
		}
		seen := make(map[string]bool, len(v.arr))
		out := v.arr[:0]
		for _, el := range v.arr {
			k := string(el.bytes())
			if seen[k] {
				continue
			}
			seen[k] = true
			out = append(out, el)
		}
		v.arr = out
		return
	}
	if path[0] == "*" {
		if v.kind == kindArray {
			for i := range v.arr {
				dedupeSet(&v.arr[i], path[1:])
			}
		}
		return
	}
	dedupeSet(v.get(path[0]), path[1:])
}

// sameValue reports whether a and b are the same JSON text once canonical
// (what encode would write for both is equal).
func sameValue(a, b *value) bool {
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case kindBool:
		return a.b == b.b
	case kindNumber, kindString:
		return a.str == b.str
	case kindArray:
		return slices.EqualFunc(a.arr, b.arr, func(x, y value) bool { return sameValue(&x, &y) })
	case kindObject:
		return slices.EqualFunc(a.obj, b.obj, func(x, y member) bool { return x.key == y.key && sameValue(&x.val, &y.val) })
	}
	return true
}

// numEqual reports whether two number literals denote the same value.
func numEqual(a, b string) bool {
	if a == b {
		return true
	}
	fa, errA := strconv.ParseFloat(a, 64)
	fb, errB := strconv.ParseFloat(b, 64)
	return errA == nil && errB == nil && fa == fb
}

func isZero(lit string) bool {
	f, err := strconv.ParseFloat(lit, 64)
	return err == nil && f == 0
}
