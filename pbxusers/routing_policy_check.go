package pbxusers

import (
	"slices"
	"strconv"
	"time"
)

// Validate reports every problem of the policy at once as a
// *ValidationError, with field paths relative to the policy
// ("rules[0].ring.steps[1].timeout"). It checks the policy on its own:
// whether the users and time frames it names exist is for the caller to
// check (UserRefs, TimeFrameRefs); external numbers are checked for E.164
// syntax only.
func (p RoutingPolicy) Validate() error {
	var pr Problems
	switch p.AnswerMode {
	case "", AnswerApps, AnswerIPPhone, AnswerWillNotAnswer:
	case AnswerPhoneNumber:
		if p.ForwardNumber == "" {
			pr.Add("forwardNumber", "required when answerMode is %s", AnswerPhoneNumber)
		}
	default:
		pr.Add("answerMode", "unknown answer mode %q", p.AnswerMode)
	}
	if p.ForwardNumber != "" && !isE164Syntax(p.ForwardNumber) {
		pr.Add("forwardNumber", "%q is not an E.164 number", p.ForwardNumber)
	}
	checkTimeout(&pr, "ringTimeout", p.RingTimeout)
	switch p.BusyPolicy {
	case "", BusyOnActiveCall, BusyDeviceReportsBusy:
	default:
		pr.Add("busyPolicy", "unknown busy policy %q", p.BusyPolicy)
	}
	checkPatterns(&pr, "allowCallers", p.AllowCallers)
	checkPatterns(&pr, "rejectCallers", p.RejectCallers)
	if p.MaxForwardHops < 0 || p.MaxForwardHops > MaxForwardHopsN {
		pr.Add("maxForwardHops", "must be between 0 and %d", MaxForwardHopsN)
	}

	ringTimeout := p.ringTimeout()
	ids := make(map[string]int, len(p.Rules))
	for i := range p.Rules {
		r := &p.Rules[i]
		path := "rules[" + strconv.Itoa(i) + "]"
		switch j, dup := ids[r.ID]; {
		case r.ID == "":
			pr.Add(path+".id", "required")
		case r.ID == DefaultRuleID:
			pr.Add(path+".id", "%q is reserved for the default rule", DefaultRuleID)
		case dup:
			pr.Add(path+".id", "duplicate rule id %q (also rules[%d])", r.ID, j)
		default:
			ids[r.ID] = i
		}
		checkCondition(&pr, path+".when", &r.When)
		checkRule(&pr, path, r, ringTimeout)
	}
	if p.Default.ID != "" && p.Default.ID != DefaultRuleID {
		pr.Add("default.id", "must be empty or %q", DefaultRuleID)
	}
	if !p.Default.When.isZero() {
		pr.Add("default.when", "the default rule has no condition")
	}
	checkRule(&pr, "default", &p.Default, ringTimeout)

	if o := p.Override; o != nil {
		switch {
		case o.Rule == "" && o.Destination == nil:
			pr.Add("override", "needs a rule or a destination")
		case o.Rule != "" && o.Destination != nil:
			pr.Add("override", "has both a rule and a destination")
		case o.Rule != "":
			if _, ok := ids[o.Rule]; !ok && o.Rule != DefaultRuleID {
				pr.Add("override.rule", "unknown rule %q", o.Rule)
			}
		default:
			checkDestination(&pr, "override.destination", o.Destination)
		}
	}
	return pr.Err()
}

// checkRule validates the actions of a rule under path.
func checkRule(pr *Problems, path string, r *AnsweringRule, ringTimeout time.Duration) {
	checkDestination(pr, path+".always", r.Always)
	checkDestination(pr, path+".onBusy", r.OnBusy)
	checkDestination(pr, path+".onNoAnswer", r.OnNoAnswer)
	checkDestination(pr, path+".onUnavailable", r.OnUnavailable)
	checkDestination(pr, path+".onDnd", r.OnDND)
	checkDestination(pr, path+".final", r.Final)

	rp := &r.Ring
	switch rp.Mode {
	case "", RingSimultaneous:
		if len(rp.Steps) > 1 {
			pr.Add(path+".ring.steps", "a simultaneous plan has at most one step, got %d", len(rp.Steps))
		}
	case RingSequential:
		if len(rp.Steps) == 0 {
			pr.Add(path+".ring.steps", "a sequential plan needs at least one step")
		}
	default:
		pr.Add(path+".ring.mode", "unknown ring mode %q", rp.Mode)
	}
	for i := range rp.Steps {
		st := &rp.Steps[i]
		sp := path + ".ring.steps[" + strconv.Itoa(i) + "]"
		checkTimeout(pr, sp+".timeout", st.Timeout)
		timeout := ringTimeout
		if st.Timeout > 0 {
			timeout = time.Duration(st.Timeout)
		}
		if len(st.Targets) == 0 {
			pr.Add(sp+".targets", "at least one target required")
		}
		for j := range st.Targets {
			t := &st.Targets[j]
			tp := sp + ".targets[" + strconv.Itoa(j) + "]"
			switch t.Kind {
			case TargetOwnDevices, TargetApps:
				if t.Value != "" {
					pr.Add(tp+".value", "must be empty for %s", t.Kind)
				}
			case TargetDevice, TargetUser:
				if t.Value == "" {
					pr.Add(tp+".value", "required for %s", t.Kind)
				}
			case TargetExternal:
				if !isE164Syntax(t.Value) {
					pr.Add(tp+".value", "%q is not an E.164 number", t.Value)
				}
			case "":
				pr.Add(tp+".kind", "required")
			default:
				pr.Add(tp+".kind", "unknown target kind %q", t.Kind)
			}
			if t.ConfirmAnswer && t.Kind != TargetExternal {
				pr.Add(tp+".confirmAnswer", "only for external targets")
			}
			checkTimeout(pr, tp+".delay", t.Delay)
			if t.Delay > 0 && time.Duration(t.Delay) >= timeout {
				pr.Add(tp+".delay", "%s is not less than the step timeout %s", t.Delay, Seconds(timeout))
			}
		}
	}
}

// checkCondition validates a rule condition under path.
func checkCondition(pr *Problems, path string, c *Condition) {
	for i, id := range c.TimeFrames {
		if id == "" {
			pr.Add(path+".timeFrames["+strconv.Itoa(i)+"]", "empty time frame id")
		} else if slices.Index(c.TimeFrames, id) < i {
			pr.Add(path+".timeFrames["+strconv.Itoa(i)+"]", "duplicate time frame id %q", id)
		}
	}
	if c.NotInTimeFrames && len(c.TimeFrames) == 0 {
		pr.Add(path+".notInTimeFrames", "needs timeFrames")
	}
	switch c.CallType {
	case "", CallTypeAll, CallTypeInternal, CallTypeExternal:
	default:
		pr.Add(path+".callType", "unknown call type %q", c.CallType)
	}
	checkPatterns(pr, path+".callers", c.Callers)
	for i, s := range c.States {
		switch s {
		case PresenceAvailable, PresenceBusy, PresenceOffline, PresenceDND, PresenceAway:
		default:
			pr.Add(path+".states["+strconv.Itoa(i)+"]", "unknown presence state %q", s)
		}
	}
}

// checkDestination validates an optional destination under path.
func checkDestination(pr *Problems, path string, d *Destination) {
	if d == nil {
		return
	}
	switch d.Kind {
	case DestUser, DestQueue, DestAutoAttendant, DestConference:
		if d.Target == "" {
			pr.Add(path+".target", "required for %s", d.Kind)
		}
	case DestExternal:
		if !isE164Syntax(d.Target) {
			pr.Add(path+".target", "%q is not an E.164 number", d.Target)
		}
	case DestVoicemail:
	case DestHangup, DestBusy, DestReject:
		if d.Target != "" {
			pr.Add(path+".target", "must be empty for %s", d.Kind)
		}
	case "":
		pr.Add(path+".kind", "required")
	default:
		pr.Add(path+".kind", "unknown destination kind %q", d.Kind)
	}
	if d.Timeout != 0 {
		if d.Kind != DestExternal {
			pr.Add(path+".timeout", "only for external destinations")
		} else {
			checkTimeout(pr, path+".timeout", d.Timeout)
		}
	}
}

// checkTimeout checks that a duration lies in [0, MaxTimeout].
func checkTimeout(pr *Problems, path string, d Seconds) {
	if d < 0 {
		pr.Add(path, "must not be negative")
	} else if time.Duration(d) > MaxTimeout {
		pr.Add(path, "%s exceeds the maximum of %s", d, Seconds(MaxTimeout))
	}
}

// checkPatterns validates a list of caller number patterns under path.
func checkPatterns(pr *Problems, path string, patterns []string) {
	for i, s := range patterns {
		if !isPattern(s) {
			pr.Add(path+"["+strconv.Itoa(i)+"]", "%q is not an E.164 number, extension or prefix ending in *", s)
		}
	}
}

// isE164Syntax reports whether s has E.164 syntax: ^\+[1-9][0-9]{1,14}$.
func isE164Syntax(s string) bool {
	if len(s) < 3 || len(s) > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9' {
		return false
	}
	return digitsOnly(s[2:])
}

// isPattern reports whether s is a caller pattern: an E.164 number, an
// extension of 1–15 digits, or a prefix of either followed by "*".
func isPattern(s string) bool {
	if s == "" {
		return false
	}
	if s[len(s)-1] != '*' {
		return isE164Syntax(s) || (len(s) <= 15 && digitsOnly(s))
	}
	p := s[:len(s)-1]
	if p != "" && p[0] == '+' {
		p = p[1:]
		if p != "" && p[0] == '0' {
			return false
		}
	}
	return len(p) <= 15 && digitsOnly(p)
}

// digitsOnly reports whether s consists of ASCII digits only.
func digitsOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// matchPattern reports whether the caller number matches the pattern.
// Anonymous callers ("") match nothing.
func matchPattern(pattern, from string) bool {
	if from == "" || pattern == "" {
		return false
	}
	if n := len(pattern) - 1; pattern[n] == '*' {
		return len(from) >= n && from[:n] == pattern[:n]
	}
	return from == pattern
}

// matchAnyPattern reports whether the caller matches any of the patterns.
func matchAnyPattern(patterns []string, from string) bool {
	for _, p := range patterns {
		if matchPattern(p, from) {
			return true
		}
	}
	return false
}

// deviceRefs returns the ids of the devices the policy's ring plans name,
// each once.
func (p RoutingPolicy) deviceRefs() []string {
	var ids []string
	rule := func(r *AnsweringRule) {
		for _, st := range r.Ring.Steps {
			for _, t := range st.Targets {
				if t.Kind == TargetDevice && t.Value != "" && !slices.Contains(ids, t.Value) {
					ids = append(ids, t.Value)
				}
			}
		}
	}
	for i := range p.Rules {
		rule(&p.Rules[i])
	}
	rule(&p.Default)
	return ids
}

// UserRefs returns the ids of the users the policy forwards or rings to
// (including call queues, auto attendants and conference bridges),
// or whose voicemail it uses, each once, in order of appearance.
func (p RoutingPolicy) UserRefs() []string {
	var ids []string
	add := func(id string) {
		if id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	dest := func(d *Destination) {
		if d != nil && d.refersToUser() {
			add(d.Target)
		}
	}
	rule := func(r *AnsweringRule) {
		for _, d := range r.destinations() {
			dest(*d)
		}
		for _, st := range r.Ring.Steps {
			for _, t := range st.Targets {
				if t.Kind == TargetUser {
					add(t.Value)
				}
			}
		}
	}
	if p.Override != nil {
		dest(p.Override.Destination)
	}
	for i := range p.Rules {
		rule(&p.Rules[i])
	}
	rule(&p.Default)
	return ids
}

// systemRefs returns, for each system user the policy hands calls to, the
// kind that user must be (a DestQueue target must be a call queue).
func (p RoutingPolicy) systemRefs() map[string]UserKind {
	out := map[string]UserKind{}
	dest := func(d *Destination) {
		if d != nil && d.systemKind() != "" && d.Target != "" {
			out[d.Target] = d.systemKind()
		}
	}
	if p.Override != nil {
		dest(p.Override.Destination)
	}
	for _, r := range append(slices.Clone(p.Rules), p.Default) {
		for _, d := range r.destinations() {
			dest(*d)
		}
	}
	return out
}

// destinations returns pointers to the rule's destination fields.
func (r *AnsweringRule) destinations() [6]**Destination {
	return [6]**Destination{&r.Always, &r.OnBusy, &r.OnNoAnswer, &r.OnUnavailable, &r.OnDND, &r.Final}
}

// TimeFrameRefs returns the ids of the time frames the policy's rules use,
// each once, in order of appearance. A time frame in use must not be
// deleted.
func (p RoutingPolicy) TimeFrameRefs() []string {
	var ids []string
	for _, r := range p.Rules {
		for _, id := range r.When.TimeFrames {
			if id != "" && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	for _, id := range p.Default.When.TimeFrames {
		if id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// WithoutUser returns the policy with every reference to the user removed,
// for when that user is deleted, and whether anything changed. A
// destination to the user (or to their voicemail) becomes nil, so the rule
// falls through to its next fallback; an override to the user is dropped;
// ring targets naming the user are dropped, then empty steps, and a ring
// plan left without steps rings the own devices again. p is not modified.
func (p RoutingPolicy) WithoutUser(id string) (RoutingPolicy, bool) {
	if id == "" {
		return p, false
	}
	changed := false
	if o := p.Override; o != nil && refersTo(o.Destination, id) {
		p.Override = nil
		changed = true
	}
	var rules []AnsweringRule
	for i := range p.Rules {
		if r, ok := p.Rules[i].withoutUser(id); ok {
			if rules == nil {
				rules = slices.Clone(p.Rules)
			}
			rules[i] = r
		}
	}
	if rules != nil {
		p.Rules = rules
		changed = true
	}
	if r, ok := p.Default.withoutUser(id); ok {
		p.Default = r
		changed = true
	}
	return p, changed
}

// refersToUser reports whether the destination names a user of the tenant
// by id: another user, a voicemail box, or a call queue, auto attendant or
// conference bridge (system users).
func (d *Destination) refersToUser() bool {
	switch d.Kind {
	case DestUser, DestVoicemail, DestQueue, DestAutoAttendant, DestConference:
		return d.Target != ""
	}
	return false
}

// systemKind returns the kind of system user the destination must name, or
// "" when any user will do.
func (d *Destination) systemKind() UserKind {
	switch d.Kind {
	case DestQueue:
		return KindCallQueue
	case DestAutoAttendant:
		return KindAutoAttendant
	case DestConference:
		return KindConferenceBridge
	}
	return ""
}

// refersTo reports whether d sends calls to the user id.
func refersTo(d *Destination, id string) bool {
	return d != nil && d.refersToUser() && d.Target == id
}

// withoutUser returns a copy of r without references to the user, and
// whether there were any.
func (r AnsweringRule) withoutUser(id string) (AnsweringRule, bool) {
	changed := false
	for _, d := range r.destinations() {
		if refersTo(*d, id) {
			*d = nil
			changed = true
		}
	}
	uses := false
	for _, st := range r.Ring.Steps {
		for _, t := range st.Targets {
			uses = uses || (t.Kind == TargetUser && t.Value == id)
		}
	}
	if !uses {
		return r, changed
	}
	var steps []RingStep
	for _, st := range r.Ring.Steps {
		var targets []RingTarget
		for _, t := range st.Targets {
			if t.Kind != TargetUser || t.Value != id {
				targets = append(targets, t)
			}
		}
		if len(targets) > 0 {
			st.Targets = targets
			steps = append(steps, st)
		}
	}
	r.Ring.Steps = steps
	if len(steps) == 0 {
		r.Ring.Mode = ""
	}
	return r, true
}

// WithoutTimeFrame returns the policy with the time frame id removed from
// every rule's condition, for when that time frame is deleted. A rule whose
// condition named only that time frame is removed rather than left to match
// every call; the default rule just loses the condition. p is not modified.
func (p RoutingPolicy) WithoutTimeFrame(id string) RoutingPolicy {
	var rules []AnsweringRule
	for _, r := range p.Rules {
		if !slices.Contains(r.When.TimeFrames, id) {
			rules = append(rules, r)
			continue
		}
		r.When.TimeFrames = removeString(r.When.TimeFrames, id)
		if len(r.When.TimeFrames) > 0 {
			rules = append(rules, r)
		}
	}
	p.Rules = rules
	if slices.Contains(p.Default.When.TimeFrames, id) {
		p.Default.When.TimeFrames = removeString(p.Default.When.TimeFrames, id)
		if len(p.Default.When.TimeFrames) == 0 {
			p.Default.When.TimeFrames, p.Default.When.NotInTimeFrames = nil, false
		}
	}
	return p
}
