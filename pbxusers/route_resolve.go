package pbxusers

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file is Resolve and its resolver, over 700 lines on purpose: it is one
// algorithm (select a rule, expand its ring plan, follow forwards, explain
// each step), and it reads best top to bottom in one place. The plan types
// it produces are in route_plan.go, the policy it reads in routing_policy.go,
// and Directory.Route, which loads what it needs, in route.go.

// maxPlans bounds the plans (hops and busy branches) one Resolve builds.
const maxPlans = 32

// Shared destinations; never modified.
var (
	voicemailDest = Destination{Kind: DestVoicemail}
	hangupDest    = Destination{Kind: DestHangup}
	rejectDest    = Destination{Kind: DestReject}
)

// Resolve works out where a call to the user with id to rings, and why.
// It is pure: the caller preloads every user the call may reach into
// subjects and the time frames into frames (with zones loaded, see
// TimeFrame.Loaded). It returns an error wrapping ErrNotFound when to is not
// in subjects, and one wrapping ErrInvalid when a time frame's zone is not
// loaded. It never panics; a policy that fails Validate is routed as well as
// it can be.
//
// The decision order is a contract. For each user, the first step that
// applies decides:
//
//  1. An inactive user never rings: the Default rule's OnUnavailable, else
//     its Final, else voicemail if enabled, else hang up.
//  2. A caller matching RejectCallers, or an anonymous caller under
//     RejectAnonymous, is rejected unless it matches AllowCallers.
//  3. An override whose Until is after the call forces its Destination
//     (with the Default's Final, voicemail, hang up as fallbacks) or its
//     Rule, whatever that rule's Enabled and When. An expired override is
//     ignored.
//  4. Otherwise the first enabled rule whose When matches is selected, else
//     the Default. Time frames are read in their own zone, else the user's;
//     a rule naming an unknown time frame never matches.
//
// Then, within the selected rule:
//
//  5. DND on the rule, or presence dnd, unless the caller matches
//     AllowCallers: OnDND, else voicemail if enabled, else Final, else hang
//     up.
//  6. Always: forward there.
//  7. Answer mode will_not_answer: OnUnavailable, else Final, else
//     voicemail if enabled, else hang up.
//  8. Answer mode phone_number: ring ForwardNumber for RingTimeout.
//  9. Presence offline, no own endpoint (no device, and apps off or answer
//     mode ip_phone), or no ring target reachable: OnUnavailable, else
//     Final, else voicemail if enabled, else hang up.
//  10. Presence busy with BusyReject on: OnBusy, else reject (whatever
//     BusyPolicy and CallWaiting say). Presence busy under BusyOnActiveCall
//     without CallWaiting: OnBusy, else Final, else voicemail if enabled,
//     else hang up.
//  11. Ring the ring plan, own_devices expanded by answer mode and another
//     user's endpoints only while that user is reachable.
//
// After ringing (8, 11), no answer leads to OnNoAnswer, else Final, else
// voicemail if enabled, else hang up; endpoints answering busy lead to
// OnBusy, else Final, else voicemail if enabled, else hang up (in
// RoutePlan.OnBusy, set only when that differs).
//
// A destination to a user is a forward: that user's policy is resolved the
// same way, at the same instant, into RoutePlan.Next. Forwards stop, with
// the reason traced, at a user already on the chain (a loop), after the
// called user's MaxForwardHops (default 5), or at an unknown user; the call
// then goes to the voicemail of the user who forwarded, if enabled, else
// hangs up. A voicemail destination whose box is disabled is skipped. An
// external destination with a Timeout rings as an extra step, then the
// fallbacks after it apply (Final, voicemail, hang up).
func Resolve(call Call, to string, subjects map[string]RouteSubject, frames map[string]TimeFrame) (RoutePlan, error) {
	if _, ok := subjects[to]; !ok {
		return RoutePlan{}, fmt.Errorf("resolve call to user %q: %w", to, ErrNotFound)
	}
	r := routeResolver{call: call, subjects: subjects, frames: frames}
	r.chain[0] = chainNode{user: to, parent: -1}
	r.n, r.plans = 1, 1
	// Forwards are resolved from a worklist rather than recursively, which
	// bounds the work and keeps the subjects off the heap.
	var root RoutePlan
	var u routeUser
	for i := 0; i < r.n; i++ {
		c := &r.chain[i]
		u = routeUser{RouteSubject: subjects[c.user], node: i}
		if u.UserID == "" {
			u.UserID = c.user
		}
		plan := c.plan
		if i == 0 {
			plan = &root
			switch r.limit = u.Policy.MaxForwardHops; {
			case r.limit <= 0:
				r.limit = DefaultMaxForwardHops
			case r.limit > MaxForwardHopsN:
				r.limit = MaxForwardHopsN
			}
		}
		err := r.resolve(plan, &u, c.hop)
		u.flush()
		if err != nil {
			return RoutePlan{}, fmt.Errorf("resolve call to user %q: %w", to, err)
		}
	}
	return root, nil
}

// routeResolver holds the state of one Resolve call.
type routeResolver struct {
	call     Call
	subjects map[string]RouteSubject
	frames   map[string]TimeFrame
	limit    int // forward hops allowed
	plans    int // plans built or reserved so far, at most maxPlans
	// chain holds every user reached, linked to the user who forwarded to
	// it (the loop guard walks these links); chain[:n] are to be resolved
	// in order, chain[0] being the called user.
	chain [maxPlans]chainNode
	n     int
}

// chainNode is a user reached by the call.
type chainNode struct {
	user   string
	parent int        // index in chain of the forwarding user; -1 for the called user
	hop    int        // forwards from the called user
	plan   *RoutePlan // to fill with the user's plan; nil for the called user
}

// planBlock is a plan allocated together with room for a short trace.
type planBlock struct {
	plan  RoutePlan
	trace [6]TraceEntry
}

// newPlan returns an empty plan whose Trace has room for a few entries,
// in one allocation.
func newPlan() *RoutePlan {
	b := &planBlock{}
	b.plan.Trace = b.trace[:0]
	return &b.plan
}

// routeUser is one user being resolved: the subject, its cached wall
// clock, and the text of the trace entries written for it.
type routeUser struct {
	RouteSubject
	node     int // index in routeResolver.chain
	loc      *time.Location
	wall     wallClock
	haveWall bool
	at       [64]byte // wall formatted for traces: at[:atN], once needed
	atN      int

	// The Why texts of trace entries are written one after the other into
	// text and cut into strings by flush, so that all of them cost one
	// allocation. marks[i] is the i-th entry not yet flushed and where its
	// text starts.
	text  strings.Builder
	marks [16]traceMark
	nm    int
}

// traceMark locates a trace entry whose Why is still in routeUser.text.
type traceMark struct {
	plan  *RoutePlan
	i     int
	start int
}

// begin appends a trace entry to p; its Why is what is written until the
// next begin or flush.
func (u *routeUser) begin(p *RoutePlan, rule, frame string) {
	if u.nm == len(u.marks) {
		u.flush()
	}
	p.Trace = append(p.Trace, TraceEntry{UserID: p.UserID, Rule: rule, TimeFrame: frame})
	u.marks[u.nm] = traceMark{plan: p, i: len(p.Trace) - 1, start: u.text.Len()}
	u.nm++
}

// note appends a trace entry for p's rule whose Why is the parts joined.
func (u *routeUser) note(p *RoutePlan, parts ...string) {
	u.begin(p, p.Rule, "")
	u.write(parts...)
}

// write adds parts to the Why of the current trace entry.
func (u *routeUser) write(parts ...string) {
	for _, s := range parts {
		u.text.WriteString(s)
	}
}

// writeSeconds adds a duration ("30s") to the current Why.
func (u *routeUser) writeSeconds(d Seconds) {
	var buf [24]byte
	u.text.Write(appendSeconds(buf[:0], d))
}

// writeInt adds a number to the current Why.
func (u *routeUser) writeInt(n int) {
	var buf [20]byte
	u.text.Write(strconv.AppendInt(buf[:0], int64(n), 10))
}

// writeAt adds the call's wall clock in loc ("Mon 2026-03-30 19:05
// Europe/Berlin") to the current Why.
func (u *routeUser) writeAt(at time.Time, loc *time.Location) {
	w := u.wallIn(at, loc)
	if loc != u.loc {
		var buf [64]byte
		u.text.Write(w.appendTo(buf[:0], loc))
		return
	}
	if u.atN == 0 {
		u.atN = len(w.appendTo(u.at[:0], loc))
	}
	u.text.Write(u.at[:u.atN])
}

// flush sets the Why of every marked entry. The builder only ever appends,
// so the strings cut from it stay valid as it grows.
func (u *routeUser) flush() {
	if u.nm == 0 {
		return
	}
	all := u.text.String()
	for i, m := range u.marks[:u.nm] {
		end := len(all)
		if i+1 < u.nm {
			end = u.marks[i+1].start
		}
		m.plan.Trace[m.i].Why = all[m.start:end]
	}
	u.nm = 0
}

// voicemail returns the voicemail fallback when the user has a box.
func (u *routeUser) voicemail() *Destination {
	if u.VoicemailEnabled {
		return &voicemailDest
	}
	return nil
}

// wallIn returns the call's wall clock in loc, cached for the user's zone.
func (u *routeUser) wallIn(at time.Time, loc *time.Location) wallClock {
	if loc != u.loc {
		return wallOf(at, loc)
	}
	if !u.haveWall {
		u.wall, u.haveWall = wallOf(at, loc), true
	}
	return u.wall
}

// resolve fills p with the plan of user u, reached after hop forwards.
func (r *routeResolver) resolve(p *RoutePlan, u *routeUser, hop int) error {
	p.UserID, p.Hop = u.UserID, hop
	pol := &u.Policy
	if cap(p.Trace) < len(pol.Rules)+4 {
		p.Trace = make([]TraceEntry, 0, len(pol.Rules)+4)
	}
	u.loc = u.Location
	if u.loc == nil {
		u.loc = time.UTC
	}
	u.text.Grow(80 * (len(pol.Rules) + 2))
	def := &pol.Default

	// 1. Inactive users never ring.
	if !u.Active {
		return r.outcome(p, u, "user inactive", def.OnUnavailable, def.Final, u.voicemail(), &hangupDest)
	}

	// 2. Reject list and anonymous callers.
	from := r.call.From
	if (matchAnyPattern(pol.RejectCallers, from) || (from == "" && pol.RejectAnonymous)) && !matchAnyPattern(pol.AllowCallers, from) {
		p.Then = Destination{Kind: DestReject}
		if from == "" {
			u.note(p, "anonymous caller rejected")
		} else {
			u.note(p, "caller ", from, " on the reject list → reject")
		}
		return nil
	}

	// 3. Manual override.
	var rule *AnsweringRule
	if o := pol.Override; o != nil {
		reason := ""
		if o.Reason != "" {
			reason = " (" + o.Reason + ")"
		}
		switch {
		case o.Until != nil && !r.call.At.Before(*o.Until):
			u.note(p, "override", reason, " expired at ", o.Until.In(u.loc).Format("2006-01-02 15:04 MST"), ", ignored")
		case o.Destination != nil:
			return r.outcome(p, u, "manual override"+reason, o.Destination, def.Final, u.voicemail(), &hangupDest)
		case o.Rule == DefaultRuleID:
			rule = def
		case o.Rule != "":
			for i := range pol.Rules {
				if pol.Rules[i].ID == o.Rule {
					rule = &pol.Rules[i]
					break
				}
			}
			if rule == nil {
				u.note(p, "override", reason, " names unknown rule '", o.Rule, "', ignored")
			}
		}
		if rule != nil {
			p.Rule = o.Rule
			u.note(p, "manual override", reason, " forces rule '", rule.label(), "'")
		}
	}

	// 4. Rule selection.
	if rule == nil {
		var err error
		if rule, err = r.selectRule(p, u); err != nil {
			return err
		}
	}
	return r.apply(p, u, rule)
}

// selectRule returns the first enabled rule whose condition matches, else
// the Default, tracing each rule tried.
func (r *routeResolver) selectRule(p *RoutePlan, u *routeUser) (*AnsweringRule, error) {
	rules := u.Policy.Rules
	for i := range rules {
		rule := &rules[i]
		if !rule.Enabled {
			u.begin(p, rule.ID, "")
			u.write("rule '", rule.label(), "' skipped: disabled")
			continue
		}
		v, err := r.match(u, &rule.When)
		if err != nil {
			return nil, fmt.Errorf("rule %q: %w", rule.ID, err)
		}
		u.begin(p, rule.ID, v.frame)
		switch {
		case !v.ok:
			u.write("rule '", rule.label(), "' skipped: ")
		case v.why[0] != "":
			u.write("rule '", rule.label(), "' applies: ")
		default:
			u.write("rule '", rule.label(), "' applies")
		}
		u.write(v.why[:]...)
		if v.at != nil {
			u.writeAt(r.call.At, v.at)
		}
		if v.ok {
			p.Rule = rule.ID
			return rule, nil
		}
	}
	p.Rule = DefaultRuleID
	u.note(p, "no rule applies: default rule")
	return &u.Policy.Default, nil
}

// verdict is the result of matching a condition: why in parts, followed by
// the call's wall clock in at when at is set.
type verdict struct {
	ok    bool
	frame string
	why   [3]string
	at    *time.Location
}

// match evaluates a rule condition for the call.
func (r *routeResolver) match(u *routeUser, c *Condition) (verdict, error) {
	switch c.CallType {
	case CallTypeInternal:
		if !r.call.Internal {
			return verdict{why: [3]string{"internal calls only"}}, nil
		}
	case CallTypeExternal:
		if r.call.Internal {
			return verdict{why: [3]string{"external calls only"}}, nil
		}
	}
	if len(c.Callers) > 0 && !matchAnyPattern(c.Callers, r.call.From) {
		if r.call.From == "" {
			return verdict{why: [3]string{"anonymous caller not listed"}}, nil
		}
		return verdict{why: [3]string{"caller ", r.call.From, " not listed"}}, nil
	}
	if len(c.States) > 0 {
		st := u.State
		if st == "" {
			st = PresenceAvailable
		}
		found := false
		for _, s := range c.States {
			found = found || s == st
		}
		if !found {
			return verdict{why: [3]string{"presence ", string(st), " not listed"}}, nil
		}
	}
	if len(c.TimeFrames) == 0 {
		return verdict{ok: true}, nil
	}

	var hitID, hitName, firstName string
	var hitLoc, firstLoc *time.Location
	for i, id := range c.TimeFrames {
		tf, ok := r.frames[id]
		if !ok {
			return verdict{frame: id, why: [3]string{"time frame '", id, "' unknown"}}, nil
		}
		loc := tf.Location
		if loc == nil {
			if tf.TimeZone != "" {
				return verdict{}, fmt.Errorf("time frame %q: time zone %q not loaded: %w", id, tf.TimeZone, ErrInvalid)
			}
			loc = u.loc
		}
		if i == 0 {
			firstName, firstLoc = tf.label(), loc
		}
		if w := u.wallIn(r.call.At, loc); hitID == "" && tf.containsWall(&w) {
			hitID, hitName, hitLoc = id, tf.label(), loc
		}
	}
	if hitID != "" {
		return verdict{ok: !c.NotInTimeFrames, frame: hitID, at: hitLoc,
			why: [3]string{"time frame '", hitName, "' active at "}}, nil
	}
	v := verdict{ok: c.NotInTimeFrames, frame: c.TimeFrames[0], at: firstLoc,
		why: [3]string{"time frame '", firstName, "' not active at "}}
	if len(c.TimeFrames) > 1 {
		v.why = [3]string{"none of ", strconv.Itoa(len(c.TimeFrames)), " time frames active at "}
	}
	return v, nil
}

// apply carries out steps 5 to 11 of the contract with the selected rule.
func (r *routeResolver) apply(p *RoutePlan, u *routeUser, rule *AnsweringRule) error {
	pol := &u.Policy
	vm := u.voicemail()
	from := r.call.From

	if rule.DND || u.State == PresenceDND {
		if !matchAnyPattern(pol.AllowCallers, from) {
			return r.outcome(p, u, "do not disturb", rule.OnDND, vm, rule.Final, &hangupDest)
		}
		u.note(p, "do not disturb bypassed: caller ", from, " allowed")
	}
	if rule.Always != nil {
		return r.outcome(p, u, "forward always", rule.Always, rule.Final, vm, &hangupDest)
	}
	switch pol.AnswerMode {
	case AnswerWillNotAnswer:
		return r.outcome(p, u, "answer mode will_not_answer", rule.OnUnavailable, rule.Final, vm, &hangupDest)
	case AnswerPhoneNumber:
		if pol.ForwardNumber == "" {
			return r.outcome(p, u, "answer mode phone_number without a number", rule.OnUnavailable, rule.Final, vm, &hangupDest)
		}
		timeout := Seconds(pol.ringTimeout())
		p.Steps = []RouteStep{{
			Targets: []RouteTarget{{Kind: TargetExternal, Value: pol.ForwardNumber, UserID: u.UserID}},
			Timeout: timeout,
		}}
		u.note(p, "answer mode phone_number → ring ", pol.ForwardNumber, " for ")
		u.writeSeconds(timeout)
		return r.afterRinging(p, u, rule)
	}
	if u.State == PresenceOffline {
		return r.outcome(p, u, "offline", rule.OnUnavailable, rule.Final, vm, &hangupDest)
	}
	if !hasOwnEndpoint(&u.RouteSubject) {
		return r.outcome(p, u, "no device or app to ring", rule.OnUnavailable, rule.Final, vm, &hangupDest)
	}
	steps := r.expand(p, u, rule)
	if len(steps) == 0 {
		return r.outcome(p, u, "nothing to ring", rule.OnUnavailable, rule.Final, vm, &hangupDest)
	}
	if u.State == PresenceBusy && u.BusyReject {
		return r.outcome(p, u, "on a call with busy/reject on", rule.OnBusy, &rejectDest)
	}
	if u.State == PresenceBusy && pol.BusyPolicy != BusyDeviceReportsBusy && !pol.CallWaiting {
		return r.outcome(p, u, "on a call without call waiting", rule.OnBusy, rule.Final, vm, &hangupDest)
	}
	p.Steps = steps
	u.note(p, "ring ")
	if len(steps) == 1 {
		u.writeInt(len(steps[0].Targets))
		u.write(" endpoint(s) for ")
		u.writeSeconds(steps[0].Timeout)
	} else {
		u.writeInt(len(steps))
		u.write(" steps (")
		for i, s := range steps {
			if i > 0 {
				u.write(", ")
			}
			u.writeSeconds(s.Timeout)
		}
		u.write(")")
	}
	return r.afterRinging(p, u, rule)
}

// afterRinging sets where the call goes when the ringing steps go
// unanswered, and, when it differs, when the endpoints answer busy.
func (r *routeResolver) afterRinging(p *RoutePlan, u *routeUser, rule *AnsweringRule) error {
	vm := u.voicemail()
	if err := r.outcome(p, u, "no answer", rule.OnNoAnswer, rule.Final, vm, &hangupDest); err != nil {
		return err
	}
	if sameDest(rule.OnBusy, rule.OnNoAnswer) {
		return nil
	}
	if r.plans >= maxPlans {
		u.note(p, "endpoints busy: plan limit reached, same as no answer")
		return nil
	}
	r.plans++
	b := newPlan()
	b.UserID, b.Hop, b.Rule = p.UserID, p.Hop, p.Rule
	p.OnBusy = b
	return r.outcome(b, u, "endpoints busy", rule.OnBusy, rule.Final, vm, &hangupDest)
}

// sameDest reports whether two optional destinations are the same.
func sameDest(a, b *Destination) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// outcome sends the call to the first usable destination of cands,
// tracing it with why. A disabled voicemail box is skipped; an external
// number with a Timeout rings as a step and the next candidate follows; a
// user is a forward.
func (r *routeResolver) outcome(p *RoutePlan, u *routeUser, why string, cands ...*Destination) error {
	for _, d := range cands {
		if d == nil {
			continue
		}
		switch d.Kind {
		case DestVoicemail:
			owner := d.Target
			if owner == "" {
				owner = u.UserID
			}
			if !r.hasVoicemail(u, owner) {
				u.note(p, why, " → voicemail of ", owner, " skipped: no voicemail box")
				continue
			}
			p.Then = Destination{Kind: DestVoicemail, Target: owner}
			u.note(p, why, " → voicemail of ", owner)
			return nil
		case DestExternal:
			if d.Target == "" {
				continue
			}
			if d.Timeout > 0 {
				p.Steps = append(p.Steps, RouteStep{
					Targets: []RouteTarget{{Kind: TargetExternal, Value: d.Target}},
					Timeout: d.Timeout,
				})
				u.note(p, why, " → ring ", d.Target, " for ")
				u.writeSeconds(d.Timeout)
				why = "no answer"
				continue
			}
		case DestUser:
			if d.Target == "" {
				continue
			}
			return r.forward(p, u, d.Target, why)
		case DestQueue, DestAutoAttendant, DestConference:
			if d.Target == "" {
				continue
			}
		case DestHangup, DestBusy, DestReject:
		default:
			continue
		}
		p.Then = Destination{Kind: d.Kind, Target: d.Target}
		prefix, target := destLabel(&p.Then)
		u.note(p, why, " → ", prefix, target)
		return nil
	}
	p.Then = hangupDest
	u.note(p, why, " → hang up")
	return nil
}

// hasVoicemail reports whether the owner has a voicemail box. Users not in
// subjects are assumed to have one.
func (r *routeResolver) hasVoicemail(u *routeUser, owner string) bool {
	if owner == u.UserID {
		return u.VoicemailEnabled
	}
	if s, ok := r.subjects[owner]; ok {
		return s.VoicemailEnabled
	}
	return true
}

// forward makes p forward to the user with id to, queueing that user's
// plan as p.Next, or stops the chain with an explained outcome.
func (r *routeResolver) forward(p *RoutePlan, u *routeUser, to, why string) error {
	hop := p.Hop + 1
	for n := u.node; n >= 0; n = r.chain[n].parent {
		if r.chain[n].user == to {
			u.note(p, why, " → forward to user ", to, " would loop (", r.path(u.node, n), " → ", to, ")")
			return r.stop(p, u)
		}
	}
	switch _, known := r.subjects[to]; {
	case hop > r.limit:
		u.note(p, why, " → forward to user ", to, " exceeds the hop limit of ")
		u.writeInt(r.limit)
		return r.stop(p, u)
	case r.plans >= maxPlans:
		u.note(p, why, " → forward to user ", to, " exceeds the plan limit")
		return r.stop(p, u)
	case !known:
		u.note(p, why, " → forward to unknown user ", to)
		return r.stop(p, u)
	}
	p.Then = Destination{Kind: DestUser, Target: to}
	u.note(p, why, " → forward to user ", to, " (hop ")
	u.writeInt(hop)
	u.write(")")
	p.Next = newPlan()
	r.chain[r.n] = chainNode{user: to, parent: u.node, hop: hop, plan: p.Next}
	r.n++
	r.plans++
	return nil
}

// path returns the users from node top down to node from, joined by
// arrows ("alice → bob").
func (r *routeResolver) path(from, top int) string {
	var ids []string
	for n := from; n >= 0; n = r.chain[n].parent {
		ids = append(ids, r.chain[n].user)
		if n == top {
			break
		}
	}
	slices.Reverse(ids)
	return strings.Join(ids, " → ")
}

// stop ends a forward chain at the forwarding user's voicemail, if
// enabled, else hangs up, completing the current trace entry.
func (r *routeResolver) stop(p *RoutePlan, u *routeUser) error {
	if u.VoicemailEnabled {
		p.Then = Destination{Kind: DestVoicemail, Target: u.UserID}
		u.write("; stopped → voicemail of ", u.UserID)
		return nil
	}
	p.Then = hangupDest
	u.write("; stopped → hang up")
	return nil
}

// expand turns the rule's ring plan into steps of reachable endpoints.
func (r *routeResolver) expand(p *RoutePlan, u *routeUser, rule *AnsweringRule) []RouteStep {
	rp := &rule.Ring
	def := Seconds(u.Policy.ringTimeout())
	if len(rp.Steps) == 0 {
		t := r.appendOwn(make([]RouteTarget, 0, len(u.Devices)+1), 0, &u.RouteSubject, 0)
		if len(t) == 0 {
			return nil
		}
		return []RouteStep{{Targets: t, Timeout: def}}
	}
	n := 0
	for _, st := range rp.Steps {
		for _, t := range st.Targets {
			n++
			if t.Kind == TargetOwnDevices {
				n += len(u.Devices)
			}
		}
	}
	all := make([]RouteTarget, 0, n)
	timeout := func(st *RingStep) Seconds {
		if st.Timeout > 0 && time.Duration(st.Timeout) <= MaxTimeout {
			return st.Timeout
		}
		return def
	}
	if rp.Mode != RingSequential {
		// Simultaneous: everything rings in one step, for the longest timeout.
		var longest Seconds
		for i := range rp.Steps {
			st := &rp.Steps[i]
			longest = max(longest, timeout(st))
			for j := range st.Targets {
				all = r.appendTarget(p, u, all, 0, &st.Targets[j])
			}
		}
		if len(all) == 0 {
			return nil
		}
		return []RouteStep{{Targets: all, Timeout: longest}}
	}
	steps := make([]RouteStep, 0, len(rp.Steps))
	for i := range rp.Steps {
		st := &rp.Steps[i]
		start := len(all)
		for j := range st.Targets {
			all = r.appendTarget(p, u, all, start, &st.Targets[j])
		}
		if len(all) == start {
			u.note(p, "ring step ")
			u.writeInt(i + 1)
			u.write(" skipped: nothing reachable")
			continue
		}
		steps = append(steps, RouteStep{Targets: all[start:len(all):len(all)], Timeout: timeout(st)})
	}
	return steps
}

// appendTarget appends the endpoints of one ring target to dst; dst[start:]
// is the current step, in which endpoints are not repeated.
func (r *routeResolver) appendTarget(p *RoutePlan, u *routeUser, dst []RouteTarget, start int, t *RingTarget) []RouteTarget {
	switch t.Kind {
	case TargetOwnDevices:
		return r.appendOwn(dst, start, &u.RouteSubject, t.Delay)
	case TargetApps:
		if u.AppsEnabled {
			return addTarget(dst, start, RouteTarget{Kind: TargetApps, Value: u.UserID, UserID: u.UserID, Delay: t.Delay})
		}
	case TargetDevice:
		if t.Value != "" {
			return addTarget(dst, start, RouteTarget{Kind: TargetDevice, Value: t.Value, UserID: u.UserID, Delay: t.Delay})
		}
	case TargetExternal:
		if t.Value != "" {
			return addTarget(dst, start, RouteTarget{Kind: TargetExternal, Value: t.Value, Delay: t.Delay, ConfirmAnswer: t.ConfirmAnswer})
		}
	case TargetUser:
		c, ok := r.subjects[t.Value]
		if !ok {
			u.note(p, "ring target user ", t.Value, " skipped: unknown")
			return dst
		}
		if c.UserID == "" {
			c.UserID = t.Value
		}
		if why := unreachable(&c); why != "" {
			u.note(p, "ring target user ", t.Value, " skipped: ", why)
			return dst
		}
		if c.Policy.AnswerMode == AnswerPhoneNumber {
			return addTarget(dst, start, RouteTarget{Kind: TargetExternal, Value: c.Policy.ForwardNumber, UserID: c.UserID, Delay: t.Delay, ConfirmAnswer: t.ConfirmAnswer})
		}
		return r.appendOwn(dst, start, &c, t.Delay)
	}
	return dst
}

// appendOwn appends the user's own endpoints as the answer mode selects
// them: apps (when enabled, except for ip_phone) and devices.
func (r *routeResolver) appendOwn(dst []RouteTarget, start int, s *RouteSubject, delay Seconds) []RouteTarget {
	if s.AppsEnabled && s.Policy.AnswerMode != AnswerIPPhone {
		dst = addTarget(dst, start, RouteTarget{Kind: TargetApps, Value: s.UserID, UserID: s.UserID, Delay: delay})
	}
	for _, d := range s.Devices {
		if d != "" {
			dst = addTarget(dst, start, RouteTarget{Kind: TargetDevice, Value: d, UserID: s.UserID, Delay: delay})
		}
	}
	return dst
}

// addTarget appends t unless dst[start:] already rings the same endpoint.
func addTarget(dst []RouteTarget, start int, t RouteTarget) []RouteTarget {
	for _, e := range dst[start:] {
		if e.Kind == t.Kind && e.Value == t.Value {
			return dst
		}
	}
	return append(dst, t)
}

// unreachable says why another user rung as a ring target cannot ring, or
// "" when they can.
func unreachable(c *RouteSubject) string {
	switch {
	case !c.Active:
		return "inactive"
	case c.State == PresenceOffline:
		return "offline"
	case c.State == PresenceDND:
		return "do not disturb"
	case c.Policy.AnswerMode == AnswerWillNotAnswer:
		return "never answers"
	case c.Policy.AnswerMode == AnswerPhoneNumber && c.Policy.ForwardNumber == "":
		return "no forward number"
	case c.State == PresenceBusy && c.Policy.BusyPolicy != BusyDeviceReportsBusy && !c.Policy.CallWaiting:
		return "on a call"
	case c.Policy.AnswerMode != AnswerPhoneNumber && !hasOwnEndpoint(c):
		return "no device or app to ring"
	}
	return ""
}

// hasOwnEndpoint reports whether the user has a device, or apps that the
// answer mode rings.
func hasOwnEndpoint(s *RouteSubject) bool {
	for _, d := range s.Devices {
		if d != "" {
			return true
		}
	}
	return s.AppsEnabled && s.Policy.AnswerMode != AnswerIPPhone
}
