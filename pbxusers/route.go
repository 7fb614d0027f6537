package pbxusers

import (
	"context"
	"fmt"
)

// maxRouteSubjects bounds how many users a route evaluation loads while
// following forwards.
const maxRouteSubjects = 64

// Route answers "a call to this user from this caller at this time while the
// user is in this state: what rings, for how long, then what, and why?". It
// loads the user, the users it may forward to (following forwards up to the
// hop limit) and the time frames their rules use, then calls Resolve. Users
// other than the called one are taken as available. state "" means
// available.
func (d *Directory) Route(ctx context.Context, tenant, userID string, call Call, state PresenceState) (RoutePlan, error) {
	if state == "" {
		state = PresenceAvailable
	}
	subjects := map[string]RouteSubject{}
	frames := map[string]TimeFrame{}
	sipIDs := map[string]string{} // device id named in a ring plan → its SIP id
	err := d.view(ctx, func(t *txn) error {
		tn, err := t.tenant(tenant)
		if err != nil {
			return err
		}
		queue := []string{userID}
		for len(queue) > 0 && len(subjects) < maxRouteSubjects {
			id := queue[0]
			queue = queue[1:]
			if _, ok := subjects[id]; ok {
				continue
			}
			u, err := t.tx.GetUser(t.ctx, tenant, id)
			if isNotFound(err) && id != userID {
				continue // Resolve explains a forward to a missing user
			}
			if err != nil {
				return err
			}
			s, err := t.routeSubject(tn, u)
			if err != nil {
				return err
			}
			if id == userID {
				s.State = state
			}
			subjects[id] = s
			for _, tf := range u.Routing.TimeFrameRefs() {
				if _, ok := frames[tf]; ok {
					continue
				}
				stf, err := t.tx.GetTimeFrame(t.ctx, tenant, tf)
				if isNotFound(err) {
					continue
				}
				if err != nil {
					return err
				}
				loaded, err := stf.TimeFrame.Loaded()
				if err != nil {
					return fmt.Errorf("time frame %s: %w", tf, err)
				}
				frames[tf] = loaded
			}
			for _, dev := range u.Routing.deviceRefs() {
				if _, ok := sipIDs[dev]; ok {
					continue
				}
				dv, err := t.tx.GetDevice(t.ctx, tenant, dev)
				if isNotFound(err) {
					continue // the plan keeps the id it names
				}
				if err != nil {
					return err
				}
				sipIDs[dev] = dv.SIPID
			}
			queue = append(queue, u.Routing.UserRefs()...)
		}
		return nil
	})
	if err != nil {
		return RoutePlan{}, err
	}
	plan, err := Resolve(call, userID, subjects, frames)
	if err != nil {
		return plan, err
	}
	plan.deviceSIPIDs(sipIDs)
	plan.Users = make(map[string]string, len(subjects))
	for id, s := range subjects {
		label := s.Name
		if s.Extension != "" {
			label += " (" + s.Extension + ")"
		}
		plan.Users[id] = label
	}
	return plan, nil
}

// deviceSIPIDs replaces the device ids of ring-plan targets in p (and the
// plans it leads to) by the devices' SIP ids, which the user's own
// devices are given as (see routeSubject): every device target of a plan
// from Route names what a SIP proxy rings.
func (p *RoutePlan) deviceSIPIDs(sipIDs map[string]string) {
	if p == nil || len(sipIDs) == 0 {
		return
	}
	for i := range p.Steps {
		for j := range p.Steps[i].Targets {
			t := &p.Steps[i].Targets[j]
			if sip, ok := sipIDs[t.Value]; ok && t.Kind == TargetDevice {
				t.Value = sip
			}
		}
	}
	p.Next.deviceSIPIDs(sipIDs)
	p.OnBusy.deviceSIPIDs(sipIDs)
}

func (t *txn) routeSubject(tn Tenant, u User) (RouteSubject, error) {
	zone := u.TimeZone
	if zone == "" {
		zone = tn.TimeZone
	}
	loc, err := loadLocation(zone)
	if err != nil {
		return RouteSubject{}, fmt.Errorf("user %s: time zone %q: %w", u.ID, zone, err)
	}
	devs, err := t.tx.ListDevices(t.ctx, tn.ID, u.ID)
	if err != nil {
		return RouteSubject{}, err
	}
	ids := make([]string, len(devs))
	for i, dv := range devs {
		ids[i] = dv.SIPID
	}
	return RouteSubject{
		UserID:           u.ID,
		Name:             u.Label(),
		Extension:        u.Extension,
		Location:         loc,
		Policy:           u.Routing,
		State:            PresenceAvailable,
		VoicemailEnabled: u.Features.Voicemail,
		Devices:          ids,
		AppsEnabled:      u.Features.MobileApp || u.Features.WebCalls || u.Features.OperatorConsole,
		Active:           u.Active(),
		BusyReject:       u.Features.BusyReject,
	}, nil
}
