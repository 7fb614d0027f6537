package pbxfeed

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// Route is the answer of GET /pbx/v1/route: the plan for one call, flattened
// so a proxy runs it top to bottom. It rings Steps one after the other, each
// step's targets together (each after its Delay) for the step's Timeout; when
// the last step times out, or at once without steps, the call goes to
// Final. When the ringing endpoints answer busy and OnBusy is set, the
// proxy runs OnBusy instead of what is left.
type Route struct {
	// Domain is the tenant's SIP domain; device URIs are in it.
	Domain string `json:"domain"`
	// To is the dialled extension or number as given; UserID and Extension
	// are the user it reached.
	To        string `json:"to"`
	UserID    string `json:"userId"`
	Extension string `json:"extension,omitempty"`
	// Internal is true when the caller is an extension of the same tenant.
	Internal bool `json:"internal"`
	// RingMode is "simultaneous" for one step (all targets ring together)
	// and "sequential" for several (steps ring one after the other).
	RingMode pbxusers.RingMode `json:"ringMode"`
	// Steps ring in order.
	Steps []Step `json:"steps"`
	// Final is where the call goes after the steps.
	Final Destination `json:"final"`
	// OnBusy replaces the rest of the route when the endpoints answer busy.
	OnBusy *Route `json:"onBusy,omitempty"`
	// Reason explains the decisions in words, in order.
	Reason string `json:"reason"`
	// Plan is pbxgate's own plan the route was made from, for people and
	// for proxies that want the chain of forwards.
	Plan *pbxusers.RoutePlan `json:"plan,omitempty"`
}

// Step is a set of targets that ring together.
type Step struct {
	// UserID is the user whose rule made the step.
	UserID string `json:"userId"`
	// Timeout is how long the step rings, in seconds.
	Timeout pbxusers.Seconds `json:"timeout"`
	// Targets ring together, each after its Delay.
	Targets []Target `json:"targets"`
}

// Target is one endpoint of a step.
type Target struct {
	// Kind is "device" (a SIP device, by AoR), "apps" (the user's
	// softphone apps, which the proxy reaches its own way) or "external"
	// (an E.164 number, through the proxy's carrier gateway).
	Kind pbxusers.TargetKind `json:"kind"`
	// URI is the device's address of record, sip:SIPID@DOMAIN, for kind
	// device.
	URI string `json:"uri,omitempty"`
	// SIPUser is the device's SIP id, for kind device.
	SIPUser string `json:"sipUser,omitempty"`
	// Number is the E.164 number, for kind external.
	Number string `json:"number,omitempty"`
	// UserID is the user the endpoint belongs to.
	UserID string `json:"userId,omitempty"`
	// Delay is how long after the step starts the target rings, in seconds.
	Delay pbxusers.Seconds `json:"delay"`
	// ConfirmAnswer asks the answering party to press a key first.
	ConfirmAnswer bool `json:"confirmAnswer,omitempty"`
}

// Destination is where a call ends up.
type Destination struct {
	// Kind is voicemail, external, queue, auto_attendant, conference,
	// hangup, busy or reject (pbxusers.DestinationKind).
	Kind pbxusers.DestinationKind `json:"kind"`
	// UserID is the mailbox owner (voicemail) or the user a forward came
	// from.
	UserID string `json:"userId,omitempty"`
	// Mailbox is the voicemail box: the owner's extension, else user id.
	Mailbox string `json:"mailbox,omitempty"`
	// Number is the E.164 number, for kind external.
	Number string `json:"number,omitempty"`
	// Target is the queue, auto attendant or conference id.
	Target string `json:"target,omitempty"`
	// Timeout is how long an external number rings, in seconds; 0 hands
	// the call over for good.
	Timeout pbxusers.Seconds `json:"timeout,omitempty"`
}

func (h *Handler) serveRoute(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	domain, to, from := strings.TrimSpace(q.Get("domain")), strings.TrimSpace(q.Get("to")), strings.TrimSpace(q.Get("from"))
	var problems []string
	if domain == "" {
		problems = append(problems, "domain: required")
	}
	if to == "" {
		problems = append(problems, "to: required")
	}
	at := time.Now()
	if s := q.Get("at"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			problems = append(problems, "at: must be an RFC 3339 time such as 2026-03-30T19:05:00+02:00")
		}
		at = t
	}
	state := pbxusers.PresenceState(q.Get("state"))
	switch state {
	case "", pbxusers.PresenceAvailable, pbxusers.PresenceBusy, pbxusers.PresenceOffline, pbxusers.PresenceDND, pbxusers.PresenceAway:
	default:
		problems = append(problems, "state: must be available, busy, offline, dnd or away")
	}
	if len(problems) > 0 {
		writeError(w, http.StatusBadRequest, "%s", strings.Join(problems, "; "))
		return
	}
	ctx := r.Context()
	tn, err := h.dir.LookupSIPDomain(ctx, domain)
	if err == nil && !allows(ctx, tn.ID) {
		err = pbxusers.ErrNotFound
	}
	if err != nil {
		h.writeDirError(w, r, "SIP domain", err)
		return
	}
	u, err := h.callee(ctx, tn, to)
	if err != nil {
		h.writeDirError(w, r, "extension or number "+quote(to), err)
		return
	}
	call := pbxusers.Call{From: from, At: at}
	if from != "" {
		if _, err := h.dir.LookupUser(ctx, tn.ID, pbxusers.KeyExtension, from); err == nil {
			call.Internal = true
		} else if e164, _, err := pbxusers.NormalizeE164(from, tn.Region); err == nil {
			call.From = e164
		}
	}
	plan, err := h.dir.Route(ctx, tn.ID, u.ID, call, state)
	if err != nil {
		h.writeDirError(w, r, "route", err)
		return
	}
	b := routeBuilder{h: h, ctx: ctx, tenant: tn.ID, domain: tn.SIPRealm()}
	route, err := b.build(&plan)
	if err != nil {
		h.writeDirError(w, r, "route", err)
		return
	}
	route.To, route.Extension, route.Internal, route.Plan = to, u.Extension, call.Internal, &plan
	writeJSON(w, route)
}

// callee finds the user an extension or number reaches.
func (h *Handler) callee(ctx context.Context, tn pbxusers.Tenant, to string) (pbxusers.User, error) {
	u, err := h.dir.LookupUser(ctx, tn.ID, pbxusers.KeyExtension, to)
	if !errors.Is(err, pbxusers.ErrNotFound) {
		return u, err
	}
	e164, _, perr := pbxusers.NormalizeE164(to, tn.Region)
	if perr != nil {
		return pbxusers.User{}, err
	}
	n, nerr := h.dir.GetNumber(ctx, tn.ID, e164)
	if errors.Is(nerr, pbxusers.ErrNotFound) || (nerr == nil && n.UserID == "") {
		return pbxusers.User{}, err
	}
	if nerr != nil {
		return pbxusers.User{}, nerr
	}
	return h.dir.GetUser(ctx, tn.ID, n.UserID)
}

func quote(s string) string { return `"` + s + `"` }

// routeBuilder flattens a RoutePlan into a Route.
type routeBuilder struct {
	h      *Handler
	ctx    context.Context
	tenant string
	domain string
}

func (b *routeBuilder) build(plan *pbxusers.RoutePlan) (*Route, error) {
	rt := &Route{Domain: b.domain, UserID: plan.UserID, Steps: []Step{}}
	var why []string
	last := plan
	for p := plan; p != nil; p = p.Next {
		last = p
		for _, tr := range p.Trace {
			why = append(why, tr.Why)
		}
		for _, s := range p.Steps {
			st := Step{UserID: p.UserID, Timeout: s.Timeout, Targets: make([]Target, 0, len(s.Targets))}
			for _, t := range s.Targets {
				st.Targets = append(st.Targets, b.target(t))
			}
			rt.Steps = append(rt.Steps, st)
		}
		if p.OnBusy != nil && rt.OnBusy == nil {
			ob, err := b.build(p.OnBusy)
			if err != nil {
				return nil, err
			}
			ob.Plan = nil
			rt.OnBusy = ob
		}
	}
	rt.RingMode = pbxusers.RingSimultaneous
	if len(rt.Steps) > 1 {
		rt.RingMode = pbxusers.RingSequential
	}
	final, err := b.destination(last)
	if err != nil {
		return nil, err
	}
	rt.Final, rt.Reason = final, strings.Join(why, "; ")
	return rt, nil
}

func (b *routeBuilder) target(t pbxusers.RouteTarget) Target {
	out := Target{Kind: t.Kind, UserID: t.UserID, Delay: t.Delay, ConfirmAnswer: t.ConfirmAnswer}
	switch t.Kind {
	case pbxusers.TargetDevice:
		// Directory.Route names every device by its SIP id.
		out.SIPUser, out.URI = t.Value, "sip:"+t.Value+"@"+b.domain
	case pbxusers.TargetExternal:
		out.Number = t.Value
	}
	return out
}

func (b *routeBuilder) destination(p *pbxusers.RoutePlan) (Destination, error) {
	d := p.Then
	out := Destination{Kind: d.Kind, Timeout: d.Timeout}
	switch d.Kind {
	case pbxusers.DestVoicemail:
		owner := d.Target
		if owner == "" {
			owner = p.UserID
		}
		out.UserID, out.Mailbox = owner, owner
		u, err := b.h.dir.GetUser(b.ctx, b.tenant, owner)
		switch {
		case err == nil && u.Extension != "":
			out.Mailbox = u.Extension
		case err != nil && !errors.Is(err, pbxusers.ErrNotFound):
			return Destination{}, err
		}
	case pbxusers.DestExternal:
		out.Number = d.Target
	case pbxusers.DestUser:
		out.UserID = d.Target
	default:
		out.Target = d.Target
	}
	return out, nil
}
