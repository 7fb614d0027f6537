package ldapsync

import (
	"testing"
	"time"
)

func TestTimestampCursor(t *testing.T) {
	cur, err := newCursor("modifyTimestamp", "")
	if err != nil || cur.clause() != "" {
		t.Fatalf("full read: %v, clause %q", err, cur.clause())
	}
	if got := cur.next(time.Second); got != "" {
		t.Errorf("nothing seen: next = %q, want empty", got)
	}
	cur.see("20261123101500Z")
	cur.see("20261123101509.5Z") // AD style, fraction
	cur.see("garbage")
	cur.see("20261123101502Z")
	// Highest seen 10:15:09.5 minus a 3.2 s read, rounded down.
	if got := cur.next(3200 * time.Millisecond); got != "20261123101506Z" {
		t.Errorf("next = %q", got)
	}

	inc, err := newCursor("modifyTimestamp", "20261123111500+0100")
	if err != nil {
		t.Fatal(err)
	}
	if got := inc.clause(); got != "(modifyTimestamp>=20261123101500Z)" {
		t.Errorf("clause = %q", got)
	}
	if got := inc.next(time.Second); got != "20261123101500Z" {
		t.Errorf("nothing seen: next = %q, want the old cursor", got)
	}
	inc.see("20261123101501Z")
	if got := inc.next(time.Minute); got != "20261123101500Z" {
		t.Errorf("next = %q, never before the old cursor", got)
	}
}

func TestUSNCursor(t *testing.T) {
	cur, err := newCursor("uSNChanged", "1001")
	if err != nil || cur.clause() != "(uSNChanged>=1001)" {
		t.Fatalf("%v, clause %q", err, cur.clause())
	}
	if got := cur.next(time.Second); got != "" {
		t.Errorf("without highestCommittedUSN next = %q, want empty", got)
	}
	cur.hcu = 2000
	if got := cur.next(time.Second); got != "2001" {
		t.Errorf("next = %q, want highestCommittedUSN+1", got)
	}
}

func TestCursorErrors(t *testing.T) {
	tests := []struct{ attr, since, want string }{
		{"", "20261123101500Z", "incremental read: attributes.changed is not set"},
		{"modifyTimestamp", "yesterday", `incremental read: cursor "yesterday" is not a GeneralizedTime (want e.g. 20261123003400Z)`},
		{"uSNChanged", "20261123101500Z)(x=*", `incremental read: cursor "20261123101500Z)(x=*" is not a uSNChanged value`},
	}
	for _, tt := range tests {
		if _, err := newCursor(tt.attr, tt.since); err == nil || err.Error() != tt.want {
			t.Errorf("newCursor(%q, %q) = %v, want %q", tt.attr, tt.since, err, tt.want)
		}
	}
}
