package controller

import (
	"context"
	"encoding/json"
	"time"

	"github.com/universe-operator/universe-operator/clients/marathon"
	"github.com/universe-operator/universe-operator/reconcile"
)

// eventTypes are the Marathon events the controller follows: hints that an
// app's definition, deployments, tasks or health changed.
var eventTypes = []string{
	"api_post_event",
	"deployment_success",
	"deployment_failed",
	"deployment_step_success",
	"deployment_step_failure",
	"status_update_event",
	"health_status_changed_event",
	"unhealthy_instance_kill_event",
	"app_terminated_event",
}

// watchEvents follows Marathon's event stream. Events are hints: the app
// they name is marked for a re-read and its release queued (debounced);
// a resync (after every reconnect, or after events were dropped) asks for
// a full pass.
func (c *Controller) watchEvents(ctx context.Context) {
	s := c.opts.Marathon.Events(ctx, eventTypes...)
	if s == nil {
		return
	}
	c.events.Store(s)
	first := true
	for ev := range s.C() {
		c.metrics.marathonEvents.WithLabelValues(ev.Type).Inc()
		if ev.Type == marathon.EventResync {
			if first {
				// The start-up pass lists everything anyway.
				first = false
				continue
			}
			c.requestPass("event-resync")
			continue
		}
		if ev.Type == "deployment_failed" {
			c.ro.deploymentFailed(ev.Data) // judged by the rollout gate
		}
		for _, id := range appIDsOf(ev) {
			c.hint(id)
		}
	}
}

// hint marks an app for a re-read and queues its release, if the app is
// (or should be) owned by one.
func (c *Controller) hint(appID string) {
	id := reconcile.CanonicalID(appID)
	release := c.cache.ownerOf(id)
	if release == "" {
		if claims := c.world.Load().byApp[id]; len(claims) > 0 {
			release = claims[0]
		}
	}
	if release == "" {
		return // not ours: never read, never touched
	}
	c.cache.markDirty(id)
	c.q.AddAfter(release, c.opts.EventDelay)
}

// eventsState describes the event stream for the status API.
func (c *Controller) eventsState() string {
	s := c.events.Load()
	if s == nil {
		return "not connected"
	}
	st := s.State()
	if st.Connected {
		c.metrics.eventStream.Set(1)
		return "connected since " + st.Since.UTC().Format(time.RFC3339)
	}
	c.metrics.eventStream.Set(0)
	msg := "disconnected"
	if !st.Since.IsZero() {
		msg += " since " + st.Since.UTC().Format(time.RFC3339)
	}
	if st.LastError != nil {
		msg += ": " + st.LastError.Error()
	}
	return msg
}

// appIDsOf extracts the app ids an event concerns.
func appIDsOf(ev marathon.Event) []string {
	var e struct {
		AppID         string `json:"appId"`
		AppDefinition *struct {
			ID string `json:"id"`
		} `json:"appDefinition"`
		Plan *struct {
			Steps []struct {
				Actions []struct {
					App string `json:"app"`
				} `json:"actions"`
			} `json:"steps"`
		} `json:"plan"`
	}
	if json.Unmarshal(ev.Data, &e) != nil {
		return nil
	}
	var ids []string
	if e.AppID != "" {
		ids = append(ids, e.AppID)
	}
	if e.AppDefinition != nil && e.AppDefinition.ID != "" {
		ids = append(ids, e.AppDefinition.ID)
	}
	if e.Plan != nil {
		seen := map[string]bool{}
		for _, st := range e.Plan.Steps {
			for _, a := range st.Actions {
				if a.App != "" && !seen[a.App] {
					seen[a.App] = true
					ids = append(ids, a.App)
				}
			}
		}
	}
	return ids
}
