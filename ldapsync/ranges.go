package ldapsync

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// Active Directory returns at most MaxValRange (1500 by default) values of a
// multi-valued attribute per request. A group with more members comes back
// as "member;range=0-1499" with the first 1500 values and no "member"; the
// rest has to be asked for with "member;range=1500-*" and so on until the
// server answers with a range that ends in "*". See MS-ADTS 3.1.1.3.1.3.3
// ("Range Retrieval of Attribute Values").

// maxRangeRounds bounds range retrieval of one attribute: 10,000 rounds of
// 1500 values is 15 million members.
const maxRangeRounds = 10000

// valueRange is the ";range=low-high" option of an attribute in a response.
type valueRange struct {
	low, high int  // high is meaningless when last is set
	last      bool // "low-*": no more values after these
}

// parseRangeAttr splits an attribute description such as
// "member;range=1500-2999" or "member;range=3000-*". ok is false when the
// description has no range option; err is set when the option is malformed.
func parseRangeAttr(desc string) (base string, r valueRange, ok bool, err error) {
	parts := strings.Split(desc, ";")
	base = parts[0]
	var kept []string
	for _, opt := range parts[1:] {
		spec, isRange := cutPrefixFold(opt, "range=")
		if !isRange {
			kept = append(kept, opt)
			continue
		}
		if ok {
			return "", valueRange{}, false, fmt.Errorf("attribute %q has two range options", desc)
		}
		lo, hi, found := strings.Cut(spec, "-")
		if !found {
			return "", valueRange{}, false, fmt.Errorf("attribute %q: malformed range %q", desc, spec)
		}
		if r.low, err = strconv.Atoi(lo); err != nil || r.low < 0 {
			return "", valueRange{}, false, fmt.Errorf("attribute %q: malformed range %q", desc, spec)
		}
		if hi == "*" {
			r.last = true
		} else if r.high, err = strconv.Atoi(hi); err != nil || r.high < r.low {
			return "", valueRange{}, false, fmt.Errorf("attribute %q: malformed range %q", desc, spec)
		}
		ok = true
	}
	if len(kept) > 0 {
		base += ";" + strings.Join(kept, ";")
	}
	return base, r, ok, nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// rangeFetcher asks the server for one attribute description of the entry
// being completed ("member;range=1500-*") and returns the attribute the
// server sent back, or nil if it sent none.
type rangeFetcher func(desc string) (*ldap.EntryAttribute, error)

// collectRange fetches the values after first until the server sends the
// last range, appending them to values. It fails rather than loop when the
// server's ranges do not continue where the previous one ended.
func collectRange(base string, first valueRange, values []string, fetch rangeFetcher) ([]string, error) {
	r := first
	for round := 0; !r.last; round++ {
		if round == maxRangeRounds {
			return values, fmt.Errorf("%s: more than %d ranges", base, maxRangeRounds)
		}
		next := r.high + 1
		want := fmt.Sprintf("%s;range=%d-*", base, next)
		a, err := fetch(want)
		if err != nil {
			return values, fmt.Errorf("read %s: %w", want, err)
		}
		if a == nil {
			return values, fmt.Errorf("read %s: server returned no values", want)
		}
		gotBase, nr, ok, err := parseRangeAttr(a.Name)
		switch {
		case err != nil:
			return values, fmt.Errorf("read %s: %w", want, err)
		case !ok || !strings.EqualFold(gotBase, base):
			return values, fmt.Errorf("read %s: server returned %q", want, a.Name)
		case nr.low != next:
			return values, fmt.Errorf("read %s: server returned %q, which does not start at %d", want, a.Name, next)
		case !nr.last && len(a.Values) == 0:
			return values, fmt.Errorf("read %s: server returned %q without values", want, a.Name)
		}
		values = append(values, a.Values...)
		r = nr
	}
	return values, nil
}
