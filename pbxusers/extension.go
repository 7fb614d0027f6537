package pbxusers

import (
	"strconv"
)

// DefaultReservedExtensions are numbers no user may take: emergency numbers
// dialled on an internal line must reach the emergency services.
var DefaultReservedExtensions = []string{"110", "112", "911", "999", "000", "118", "119"}

// Range is an inclusive range of extensions of the same length, e.g.
// {From: "200", To: "299"}.
type Range struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Empty reports whether the range is unset.
func (r Range) Empty() bool { return r.From == "" && r.To == "" }

// Contains reports whether ext lies in the range.
func (r Range) Contains(ext string) bool {
	return !r.Empty() && len(ext) == len(r.From) && ext >= r.From && ext <= r.To
}

// ExtensionPlan is a tenant's internal number plan. Its zero value accepts
// any 1–15 digit extension not in DefaultReservedExtensions and assigns none
// automatically.
type ExtensionPlan struct {
	// MinLength and MaxLength bound an extension's number of digits;
	// 0 means 1 and 15.
	MinLength int `json:"minLength,omitempty"`
	MaxLength int `json:"maxLength,omitempty"`
	// PrefixFree rejects an extension that is a prefix of another one, or
	// has one as a prefix ("10" and "100"), which would make the PBX wait
	// for more digits.
	PrefixFree bool `json:"prefixFree,omitempty"`
	// Users and System are the ranges new people and new system users get
	// an extension from when AutoAssign is on.
	Users  Range `json:"users"`
	System Range `json:"system"`
	// AutoAssign gives a user created without an extension the lowest free
	// number of its kind's range.
	AutoAssign bool `json:"autoAssign,omitempty"`
	// Reserved are numbers no user may take; nil means
	// DefaultReservedExtensions, an empty list reserves none.
	Reserved []string `json:"reserved,omitempty"`
}

// Validate reports every problem with the plan.
func (p ExtensionPlan) Validate() error {
	var pr Problems
	minL, maxL := p.lengths()
	if p.MinLength < 0 || p.MinLength > 15 {
		pr.Add("minLength", "must be between 0 and 15")
	}
	if p.MaxLength < 0 || p.MaxLength > 15 {
		pr.Add("maxLength", "must be between 0 and 15")
	}
	if minL > maxL {
		pr.Add("minLength", "must not exceed maxLength")
	}
	for name, r := range map[string]Range{"users": p.Users, "system": p.System} {
		if r.Empty() {
			if p.AutoAssign {
				pr.Add(name, "is required when autoAssign is on")
			}
			continue
		}
		switch {
		case !isDigits(r.From) || !isDigits(r.To):
			pr.Add(name, "from and to must be digits")
		case len(r.From) != len(r.To):
			pr.Add(name, "from and to must have the same number of digits")
		case r.From > r.To:
			pr.Add(name, "from must not be greater than to")
		case len(r.From) < minL || len(r.From) > maxL:
			pr.Add(name, "must have between %d and %d digits", minL, maxL)
		}
	}
	for i, r := range p.Reserved {
		if !isDigits(r) {
			pr.Add("reserved["+strconv.Itoa(i)+"]", "must be digits")
		}
	}
	return pr.Err()
}

func (p ExtensionPlan) lengths() (int, int) {
	minL, maxL := p.MinLength, p.MaxLength
	if minL == 0 {
		minL = 1
	}
	if maxL == 0 {
		maxL = 15
	}
	return minL, maxL
}

func (p ExtensionPlan) reserved() []string {
	if p.Reserved == nil {
		return DefaultReservedExtensions
	}
	return p.Reserved
}

// check validates one extension against the plan (not against other users).
func (p ExtensionPlan) check(ext string) string {
	minL, maxL := p.lengths()
	switch {
	case !isDigits(ext):
		return "must contain digits only"
	case len(ext) < minL || len(ext) > maxL:
		if minL == maxL {
			return "must have " + strconv.Itoa(minL) + " digits"
		}
		return "must have between " + strconv.Itoa(minL) + " and " + strconv.Itoa(maxL) + " digits"
	}
	for _, r := range p.reserved() {
		if ext == r {
			return "is reserved (emergency or service number)"
		}
	}
	return ""
}

// rangeFor returns the allocation range for a kind of user.
func (p ExtensionPlan) rangeFor(k UserKind) Range {
	if k.System() && !p.System.Empty() {
		return p.System
	}
	return p.Users
}

// nextInRange returns the extension after ext with the same width, or ""
// past the end of the range.
func nextInRange(ext string, r Range) string {
	n, err := strconv.ParseUint(ext, 10, 64)
	if err != nil {
		return ""
	}
	s := strconv.FormatUint(n+1, 10)
	for len(s) < len(ext) {
		s = "0" + s
	}
	if len(s) != len(ext) || s > r.To {
		return ""
	}
	return s
}
