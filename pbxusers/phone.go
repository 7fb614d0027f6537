package pbxusers

import (
	"strings"
	"sync"
	"time"

	"github.com/nyaruka/phonenumbers"

	_ "time/tzdata" // time zones work on machines without zoneinfo
)

// NormalizeE164 parses a phone number given in E.164, in national form for
// region (ISO 3166-1 alpha-2, may be empty), or as an RFC 3966 tel: URI
// ("tel:+1-201-555-0123;ext=1234"), checks that it is a valid number, and
// returns its E.164 form and any extension suffix.
func NormalizeE164(s, region string) (e164, ext string, err error) {
	in := strings.TrimSpace(s)
	if strings.HasPrefix(strings.ToLower(in), "tel:") {
		in = in[4:]
	}
	if i := strings.Index(strings.ToLower(in), ";ext="); i >= 0 {
		ext = in[i+5:]
		in = in[:i]
		if j := strings.IndexByte(ext, ';'); j >= 0 {
			ext = ext[:j]
		}
		if !isDigits(ext) {
			return "", "", errorString("extension after ;ext= must be digits")
		}
	} else if i := strings.IndexByte(in, ';'); i >= 0 {
		in = in[:i] // other tel: URI parameters
	}
	if in == "" {
		return "", "", errorString("is empty")
	}
	if !strings.HasPrefix(in, "+") && region == "" {
		return "", "", errorString("must be in international form starting with + (no default region)")
	}
	if region == "" {
		region = "ZZ"
	}
	num, perr := phonenumbers.Parse(in, strings.ToUpper(region))
	if perr != nil || !phonenumbers.IsValidNumber(num) {
		return "", "", errorString("is not a valid phone number")
	}
	return phonenumbers.Format(num, phonenumbers.E164), ext, nil
}

func validRegion(r string) bool {
	return phonenumbers.GetSupportedRegions()[strings.ToUpper(r)]
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// zoneAliases maps legacy zone names, still sent by some systems (NetSapiens
// lists "US/Eastern"), to their canonical IANA names.
var zoneAliases = map[string]string{
	"US/Eastern":     "America/New_York",
	"US/Central":     "America/Chicago",
	"US/Mountain":    "America/Denver",
	"US/Pacific":     "America/Los_Angeles",
	"US/Alaska":      "America/Anchorage",
	"US/Hawaii":      "Pacific/Honolulu",
	"US/Arizona":     "America/Phoenix",
	"Canada/Eastern": "America/Toronto",
	"Europe/Kiev":    "Europe/Kyiv",
	"Asia/Calcutta":  "Asia/Kolkata",
	"Asia/Saigon":    "Asia/Ho_Chi_Minh",
	"GB":             "Europe/London",
	"UTC":            "UTC",
	"Etc/UTC":        "UTC",
	"GMT":            "UTC",
}

var locations sync.Map // name → *time.Location

// loadLocation loads an IANA zone, caching it. Aliases load their canonical
// zone.
func loadLocation(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	canon := CanonicalTimeZone(name)
	if strings.EqualFold(canon, "local") {
		return nil, errorString("local is not a zone")
	}
	l, err := time.LoadLocation(canon)
	if err != nil {
		return nil, err
	}
	locations.Store(name, l)
	return l, nil
}

// CanonicalTimeZone returns the canonical IANA name for a known legacy alias,
// else name unchanged.
func CanonicalTimeZone(name string) string {
	if c, ok := zoneAliases[name]; ok {
		return c
	}
	return name
}
