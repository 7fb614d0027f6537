package ldapsync

import (
	"fmt"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

func TestParseRangeAttr(t *testing.T) {
	tests := []struct {
		desc     string
		wantBase string
		wantR    valueRange
		wantOK   bool
		wantErr  bool
	}{
		{desc: "member", wantBase: "member"},
		{desc: "member;range=0-1499", wantBase: "member", wantR: valueRange{low: 0, high: 1499}, wantOK: true},
		{desc: "member;range=1500-*", wantBase: "member", wantR: valueRange{low: 1500, last: true}, wantOK: true},
		{desc: "Member;Range=3000-4499", wantBase: "Member", wantR: valueRange{low: 3000, high: 4499}, wantOK: true},
		{desc: "member;binary;range=0-9", wantBase: "member;binary", wantR: valueRange{low: 0, high: 9}, wantOK: true},
		{desc: "member;range=10-5", wantErr: true},
		{desc: "member;range=a-5", wantErr: true},
		{desc: "member;range=5", wantErr: true},
		{desc: "member;range=-1-5", wantErr: true},
		{desc: "member;range=0-1;range=2-3", wantErr: true},
	}
	for _, tt := range tests {
		base, r, ok, err := parseRangeAttr(tt.desc)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseRangeAttr(%q) error = %v, want error %v", tt.desc, err, tt.wantErr)
			continue
		}
		if tt.wantErr {
			continue
		}
		if base != tt.wantBase || r != tt.wantR || ok != tt.wantOK {
			t.Errorf("parseRangeAttr(%q) = %q, %+v, %v; want %q, %+v, %v", tt.desc, base, r, ok, tt.wantBase, tt.wantR, tt.wantOK)
		}
	}
}

// fakeADRanges serves range retrieval of one attribute the way AD does with
// MaxValRange = step: "member;range=low-high" for a full window and
// "member;range=low-*" for the last one.
func fakeADRanges(values []string, step int) (first *ldap.EntryAttribute, fetch rangeFetcher, calls *int) {
	calls = new(int)
	window := func(low int) *ldap.EntryAttribute {
		high := low + step - 1
		if high >= len(values)-1 {
			return &ldap.EntryAttribute{Name: fmt.Sprintf("member;range=%d-*", low), Values: values[low:]}
		}
		return &ldap.EntryAttribute{Name: fmt.Sprintf("member;range=%d-%d", low, high), Values: values[low : high+1]}
	}
	fetch = func(desc string) (*ldap.EntryAttribute, error) {
		*calls++
		var low int
		if _, err := fmt.Sscanf(desc, "member;range=%d-*", &low); err != nil {
			return nil, fmt.Errorf("fake AD: unexpected request %q", desc)
		}
		return window(low), nil
	}
	return window(0), fetch, calls
}

func TestCollectRangeLikeAD(t *testing.T) {
	members := make([]string, 4000)
	for i := range members {
		members[i] = fmt.Sprintf("CN=User %04d,OU=People,DC=corp,DC=example", i)
	}
	first, fetch, calls := fakeADRanges(members, 1500)
	if first.Name != "member;range=0-1499" {
		t.Fatalf("fake first window %q", first.Name)
	}
	base, r, ok, err := parseRangeAttr(first.Name)
	if err != nil || !ok {
		t.Fatal(err)
	}
	got, err := collectRange(base, r, first.Values, fetch)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(members) || got[0] != members[0] || got[3999] != members[3999] || got[1500] != members[1500] {
		t.Fatalf("got %d values (first %q, last %q), want %d", len(got), got[0], got[len(got)-1], len(members))
	}
	if *calls != 2 { // 1500-2999, then 3000-*
		t.Errorf("fetched %d times, want 2", *calls)
	}
}

func TestCollectRangeExactMultiple(t *testing.T) {
	members := make([]string, 3000)
	for i := range members {
		members[i] = fmt.Sprint(i)
	}
	first, fetch, _ := fakeADRanges(members, 1500)
	_, r, _, _ := parseRangeAttr(first.Name)
	got, err := collectRange("member", r, first.Values, fetch)
	if err != nil || len(got) != 3000 {
		t.Fatalf("got %d values, %v", len(got), err)
	}
}

func TestCollectRangeErrors(t *testing.T) {
	first := valueRange{low: 0, high: 1499}
	tests := []struct {
		name    string
		fetch   rangeFetcher
		wantErr string
	}{
		{
			name:    "no values",
			fetch:   func(string) (*ldap.EntryAttribute, error) { return nil, nil },
			wantErr: "read member;range=1500-*: server returned no values",
		},
		{
			name: "window does not continue",
			fetch: func(string) (*ldap.EntryAttribute, error) {
				return &ldap.EntryAttribute{Name: "member;range=0-1499", Values: []string{"x"}}, nil
			},
			wantErr: `read member;range=1500-*: server returned "member;range=0-1499", which does not start at 1500`,
		},
		{
			name: "empty window that is not the last",
			fetch: func(string) (*ldap.EntryAttribute, error) {
				return &ldap.EntryAttribute{Name: "member;range=1500-2999"}, nil
			},
			wantErr: `read member;range=1500-*: server returned "member;range=1500-2999" without values`,
		},
		{
			name: "another attribute",
			fetch: func(string) (*ldap.EntryAttribute, error) {
				return &ldap.EntryAttribute{Name: "memberOf;range=1500-*"}, nil
			},
			wantErr: `read member;range=1500-*: server returned "memberOf;range=1500-*"`,
		},
		{
			name:    "fetch fails",
			fetch:   func(string) (*ldap.EntryAttribute, error) { return nil, fmt.Errorf("boom") },
			wantErr: "read member;range=1500-*: boom",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := collectRange("member", first, nil, tt.fetch)
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestCollectRangeIsBounded(t *testing.T) {
	// A server that always sends one more value and never the last window.
	fetch := func(desc string) (*ldap.EntryAttribute, error) {
		var low int
		fmt.Sscanf(desc, "member;range=%d-*", &low)
		return &ldap.EntryAttribute{Name: fmt.Sprintf("member;range=%d-%d", low, low), Values: []string{"x"}}, nil
	}
	_, err := collectRange("member", valueRange{low: 0, high: 0}, nil, fetch)
	if err == nil || !strings.Contains(err.Error(), "more than 10000 ranges") {
		t.Errorf("error = %v", err)
	}
}
