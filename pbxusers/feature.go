package pbxusers

import "strings"

// Features are the per-user toggles of the seed products.
type Features struct {
	MobileApp        bool `json:"mobileApp,omitempty"`
	WebCalls         bool `json:"webCalls,omitempty"`
	OperatorConsole  bool `json:"operatorConsole,omitempty"`
	Voicemail        bool `json:"voicemail,omitempty"`
	FixedMobileSIM   bool `json:"fixedMobileSim,omitempty"`
	HotDesking       bool `json:"hotDesking,omitempty"`
	MultipleCallerID bool `json:"multipleCallerId,omitempty"`
	// BusyReject rejects further calls while the user is on a call instead
	// of ringing their other devices (Qaller's busy/reject setting): Route
	// sends a call to a busy user to the rule's OnBusy, else rejects it.
	BusyReject bool `json:"busyReject,omitempty"`
}

// FeatureTextMessages is the name under which the CSV, SCIM and CLI
// feature vocabularies accept text-message handling (Aloware's "Text
// messages"). It is not a Features field: the texts.answer permission
// (PermAnswerTexts) is the one place that fact lives, so naming it among a
// user's features writes a per-user override of that permission.
const FeatureTextMessages = "textMessages"

var featureNames = []string{"mobileApp", "webCalls", "operatorConsole", "voicemail", "fixedMobileSim",
	"hotDesking", "multipleCallerId", "busyReject"}

func featureFlags(f *Features) []*bool {
	return []*bool{&f.MobileApp, &f.WebCalls, &f.OperatorConsole, &f.Voicemail, &f.FixedMobileSIM,
		&f.HotDesking, &f.MultipleCallerID, &f.BusyReject}
}

// FeatureNames returns every feature name the vocabularies accept, in the
// CSV and SCIM spelling, FeatureTextMessages last.
func FeatureNames() []string {
	return append(append([]string(nil), featureNames...), FeatureTextMessages)
}

// Names returns the names of the features that are on, in the CSV and SCIM
// spelling.
func (f Features) Names() []string {
	var out []string
	for i, b := range featureFlags(&f) {
		if *b {
			out = append(out, featureNames[i])
		}
	}
	return out
}

// Set turns on the feature called name (any case) and reports whether the
// name is a Features field. FeatureTextMessages is not; see
// User.SetFeatureNames.
func (f *Features) Set(name string, on bool) bool {
	for i, n := range featureNames {
		if strings.EqualFold(n, name) {
			*featureFlags(f)[i] = on
			return true
		}
	}
	return false
}

// SetFeatureNames replaces the user's features with the named ones and
// returns the names it does not know. FeatureTextMessages, when named, sets
// the texts.answer override to true; leaving it out does not touch the
// permission, which has its own column and attribute.
func (u *User) SetFeatureNames(names []string) (unknown []string) {
	u.Features = Features{}
	for _, n := range names {
		switch {
		case u.Features.Set(n, true):
		case strings.EqualFold(n, FeatureTextMessages):
			u.SetTextMessages(true)
		default:
			unknown = append(unknown, n)
		}
	}
	return unknown
}

// SetTextMessages records whether the user may be assigned text messages,
// as an override of the texts.answer permission.
func (u *User) SetTextMessages(on bool) {
	if u.Overrides == nil {
		u.Overrides = PermissionSet{}
	}
	u.Overrides[PermAnswerTexts] = Bool(on)
}

// TextMessages reports the user's own texts.answer override, and whether
// there is one; without one the user's profiles decide (see Effective).
func (u *User) TextMessages() (on, set bool) {
	v, ok := u.Overrides[PermAnswerTexts]
	if !ok {
		return false, false
	}
	return v.Bool(), true
}
