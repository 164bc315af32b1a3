package manifest

import (
	"encoding/json"

	"github.com/universe-operator/universe-operator/config/strict"
)

// decodeFast fills r from a parsed manifest exactly as strict.DecodeTree
// does, without reflection, when the tree has no problem: only known keys,
// each with a value of its field's type. ok is false otherwise (r is then
// untouched), and DecodeTree reports the problems.
func decodeFast(tree any, r *Release) bool {
	top, ok := tree.(*strict.Object)
	if !ok {
		return false
	}
	var out Release
	for _, k := range top.Keys {
		v := top.Values[k]
		switch k {
		case "apiVersion":
			if out.APIVersion, ok = v.(string); !ok {
				return false
			}
		case "kind":
			if out.Kind, ok = v.(string); !ok {
				return false
			}
		case "metadata":
			m, ok := v.(*strict.Object)
			if !ok {
				return false
			}
			for _, mk := range m.Keys {
				if mk != "name" {
					return false
				}
				if out.Metadata.Name, ok = m.Values[mk].(string); !ok {
					return false
				}
			}
		case "spec":
			if !decodeSpec(v, &out.Spec) {
				return false
			}
		default:
			return false
		}
	}
	*r = out
	return true
}

func decodeSpec(v any, s *Spec) bool {
	obj, ok := v.(*strict.Object)
	if !ok {
		return false
	}
	for _, k := range obj.Keys {
		v := obj.Values[k]
		switch k {
		case "package":
			s.Package, ok = v.(string)
		case "version":
			s.Version, ok = v.(string)
		case "universe":
			s.Universe, ok = v.(string)
		case "appId":
			s.AppID, ok = v.(string)
		case "optionsFile":
			s.OptionsFile, ok = v.(string)
		case "options":
			// Any value: its canonical JSON, as strict writes raw values.
			s.Options = json.RawMessage(strict.Marshal(v))
		case "suspend":
			s.Suspend, ok = v.(bool)
		case "adopt":
			s.Adopt, ok = v.(bool)
		case "progressDeadline":
			if v == nil {
				s.ProgressDeadline = nil
				continue
			}
			if _, isString := v.(string); !isString {
				return false
			}
			d := &strict.Duration{}
			if d.UnmarshalJSON(strict.Marshal(v)) != nil {
				return false
			}
			s.ProgressDeadline = d
		case "dependsOn":
			if v == nil {
				s.DependsOn = nil
				continue
			}
			arr, isArr := v.([]any)
			if !isArr {
				return false
			}
			names := make([]string, len(arr))
			for i, e := range arr {
				if names[i], ok = e.(string); !ok {
					return false
				}
			}
			s.DependsOn = names
		case "cleanup":
			if v == nil {
				s.Cleanup = nil
				continue
			}
			c, isObj := v.(*strict.Object)
			if !isObj {
				return false
			}
			s.Cleanup = &Cleanup{}
			for _, ck := range c.Keys {
				if ck != "janitor" || !optionalBool(c.Values[ck], &s.Cleanup.Janitor) {
					return false
				}
			}
		case "upgradePolicy":
			if v == nil {
				s.UpgradePolicy = nil
				continue
			}
			u, isObj := v.(*strict.Object)
			if !isObj {
				return false
			}
			s.UpgradePolicy = &UpgradePolicy{}
			for _, uk := range u.Keys {
				switch uk {
				case "upgrade":
					ok = optionalBool(u.Values[uk], &s.UpgradePolicy.Upgrade)
				case "downgrade":
					ok = optionalBool(u.Values[uk], &s.UpgradePolicy.Downgrade)
				default:
					ok = false
				}
				if !ok {
					return false
				}
			}
		default:
			return false
		}
		if !ok {
			return false
		}
	}
	return true
}

// optionalBool decodes a *bool field: null leaves it nil.
func optionalBool(v any, dst **bool) bool {
	if v == nil {
		*dst = nil
		return true
	}
	b, ok := v.(bool)
	if ok {
		*dst = &b
	}
	return ok
}
