package mesos

import (
	"context"
	"errors"
	"fmt"
	"sort"

	mesosv1 "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/master/calls"

	"github.com/universe-operator/universe-operator/errs"
)

// Resource is one reserved resource on an agent, summarised, with the
// resource exactly as the master reported it in Proto (what the master
// needs back to unreserve it or destroy its volume).
type Resource struct {
	// Name is cpus, mem, disk, ports, gpus...
	Name string
	// Type is SCALAR, RANGES or SET.
	Type string
	// Scalar, Ranges, Set hold the value for the matching Type.
	Scalar float64
	Ranges [][2]uint64
	Set    []string
	// Role and Principal are those of the (most refined) reservation.
	Role      string
	Principal string
	// Labels are the reservation's labels (SDK schedulers put resource_id there).
	Labels map[string]string
	// PersistenceID and ContainerPath describe a persistent volume ("" when
	// the resource is not one).
	PersistenceID string
	ContainerPath string
	// DiskSource is the disk source type (PATH, MOUNT, ...) or "" for root disk.
	DiskSource string
	// Proto is the resource as the master reported it.
	Proto mesosv1.Resource
}

// IsVolume reports whether the resource is a persistent volume.
func (r Resource) IsVolume() bool { return r.PersistenceID != "" }

// AgentResources are the resources reserved to a role on one agent.
type AgentResources struct {
	AgentID   string
	Hostname  string
	Resources []Resource
}

// Volumes returns the persistent volumes among the resources.
func (a AgentResources) Volumes() []Resource {
	var out []Resource
	for _, r := range a.Resources {
		if r.IsVolume() {
			out = append(out, r)
		}
	}
	return out
}

// reservationRole returns the role a resource is reserved to ("" when it is
// not dynamically or statically reserved), supporting both the
// post-refinement format (reservations[]; the last one is the most refined)
// and the older role + reservation format.
func reservationRole(r *mesosv1.Resource) (role, principal string, labels *mesosv1.Labels) {
	if n := len(r.Reservations); n > 0 {
		last := r.Reservations[n-1]
		return last.GetRole(), last.GetPrincipal(), last.Labels
	}
	if r.Role != nil && *r.Role != "" && *r.Role != "*" {
		if r.Reservation != nil {
			return *r.Role, r.Reservation.GetPrincipal(), r.Reservation.Labels
		}
		return *r.Role, "", nil
	}
	return "", "", nil
}

func summarise(p mesosv1.Resource) Resource {
	role, principal, labels := reservationRole(&p)
	r := Resource{Name: p.Name, Role: role, Principal: principal, Proto: p}
	if p.Type != nil {
		r.Type = p.Type.String()
	}
	if p.Scalar != nil {
		r.Scalar = p.Scalar.Value
	}
	if p.Ranges != nil {
		for _, rg := range p.Ranges.Range {
			r.Ranges = append(r.Ranges, [2]uint64{rg.Begin, rg.End})
		}
	}
	if p.Set != nil {
		r.Set = append(r.Set, p.Set.Item...)
	}
	if labels != nil {
		r.Labels = map[string]string{}
		for _, l := range labels.Labels {
			r.Labels[l.Key] = l.GetValue()
		}
	}
	if d := p.Disk; d != nil {
		if d.Persistence != nil {
			r.PersistenceID = d.Persistence.ID
		}
		if d.Volume != nil {
			r.ContainerPath = d.Volume.ContainerPath
		}
		if d.Source != nil {
			r.DiskSource = d.Source.Type.String()
		}
	}
	return r
}

// ReservedResources returns, per agent, the resources reserved to role
// (GET_AGENTS, total_resources), persistent volumes included. Agents with
// nothing reserved to the role are left out; the order is by agent id.
func (c *Client) ReservedResources(ctx context.Context, role string) ([]AgentResources, error) {
	if role == "" {
		return nil, errs.Permanent(errors.New("mesos: reserved resources: empty role"))
	}
	resp, err := c.call(ctx, "GET_AGENTS", calls.GetAgents())
	if err != nil {
		return nil, err
	}
	if resp == nil || resp.GetAgents == nil {
		return nil, errs.Transient(fmt.Errorf("mesos GET_AGENTS at %s: answer without get_agents", c.host()))
	}
	var out []AgentResources
	for _, a := range resp.GetAgents.Agents {
		ar := AgentResources{Hostname: a.AgentInfo.Hostname}
		if a.AgentInfo.ID != nil {
			ar.AgentID = a.AgentInfo.ID.Value
		}
		for _, p := range a.TotalResources {
			if r, _, _ := reservationRole(&p); r == role {
				ar.Resources = append(ar.Resources, summarise(p))
			}
		}
		if len(ar.Resources) > 0 {
			out = append(out, ar)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].AgentID < out[j].AgentID })
	return out, nil
}

// DestroyVolumes destroys persistent volumes on an agent (DESTROY_VOLUMES);
// the disk stays reserved to the role. Resources that are not volumes are
// an error (nothing is sent).
func (c *Client) DestroyVolumes(ctx context.Context, agentID string, volumes []Resource) error {
	if agentID == "" {
		return errs.Permanent(errors.New("mesos DESTROY_VOLUMES: empty agent id"))
	}
	if len(volumes) == 0 {
		return nil
	}
	protos := make([]mesosv1.Resource, 0, len(volumes))
	for _, v := range volumes {
		if !v.IsVolume() {
			return errs.Permanent(fmt.Errorf("mesos DESTROY_VOLUMES: %s resource on agent %s is not a persistent volume", v.Name, agentID))
		}
		protos = append(protos, v.Proto)
	}
	_, err := c.call(ctx, "DESTROY_VOLUMES", calls.DestroyVolumes(mesosv1.AgentID{Value: agentID}, protos...))
	return err
}

// Unreserve unreserves resources on an agent (UNRESERVE_RESOURCES). The
// persistent-volume part of a disk resource (persistence id and volume) is
// stripped before sending: Mesos unreserves the plain reserved disk, and
// that is what is left once DestroyVolumes has run. Destroy the volumes
// first; the master refuses to unreserve disk that still holds one.
func (c *Client) Unreserve(ctx context.Context, agentID string, res []Resource) error {
	if agentID == "" {
		return errs.Permanent(errors.New("mesos UNRESERVE_RESOURCES: empty agent id"))
	}
	if len(res) == 0 {
		return nil
	}
	protos := make([]mesosv1.Resource, 0, len(res))
	for _, r := range res {
		protos = append(protos, withoutVolume(r.Proto))
	}
	_, err := c.call(ctx, "UNRESERVE_RESOURCES", calls.UnreserveResources(mesosv1.AgentID{Value: agentID}, protos...))
	return err
}

// withoutVolume returns a copy of p without disk persistence and volume
// (the disk source, e.g. MOUNT, is kept: it is part of the reservation).
func withoutVolume(p mesosv1.Resource) mesosv1.Resource {
	if p.Disk == nil || (p.Disk.Persistence == nil && p.Disk.Volume == nil) {
		return p
	}
	d := *p.Disk
	d.Persistence, d.Volume = nil, nil
	if d.Source == nil {
		p.Disk = nil
	} else {
		p.Disk = &d
	}
	return p
}
