package ldapsync

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// generalizedTimeLayout parses the GeneralizedTime forms directories send:
// "20261123003400Z" (OpenLDAP), "20261123003400.0Z" (AD), with an offset.
const generalizedTimeLayout = "20060102150405.999999999Z0700"

// cursorLayout is how time cursors are written: UTC, whole seconds.
const cursorLayout = "20060102150405Z"

// cursor tracks the incremental-read position for one read.
//
// An incremental read asks for entries whose Attributes.Changed is at or
// after the cursor (LDAP filters have only >=, and timestamps have
// one-second resolution, so ">" would miss changes made later in the same
// second). The cursor a read hands back is chosen so that no change made
// while it was running can be missed, at the cost of re-reading a few
// entries next time (the consumer compares Entry.Hash, so that is cheap):
//
//   - uSNChanged (AD): the server's highestCommittedUSN read before the read
//     started, plus one. This is Microsoft's documented algorithm; the
//     highest uSNChanged seen would be wrong, because an entry changed after
//     the paged search passed it gets a lower USN than one changed and seen
//     later.
//   - timestamps: the highest value seen minus the read's duration, rounded
//     down to the second. The highest value seen was stamped before the read
//     ended, so that is no later than the server's clock when the read
//     started, without trusting our clock to agree with the server's.
type cursor struct {
	attr   string
	usn    bool
	since  string    // the cursor the read started from, normalized; "" for a full read
	sinceT time.Time // since as a time (timestamp cursors)
	sinceN uint64    // since as a number (USN cursors)
	maxT   time.Time // highest timestamp seen
	hcu    uint64    // highestCommittedUSN before the read; 0 if unknown
}

func newCursor(attr, since string) (*cursor, error) {
	cur := &cursor{attr: attr, usn: strings.EqualFold(attr, "uSNChanged")}
	if since == "" {
		return cur, nil
	}
	if attr == "" {
		return nil, fmt.Errorf("incremental read: attributes.changed is not set")
	}
	if cur.usn {
		n, err := strconv.ParseUint(since, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("incremental read: cursor %q is not a uSNChanged value", since)
		}
		cur.sinceN = n
		cur.since = strconv.FormatUint(n, 10)
		return cur, nil
	}
	t, err := time.Parse(generalizedTimeLayout, since)
	if err != nil {
		return nil, fmt.Errorf("incremental read: cursor %q is not a GeneralizedTime (want e.g. 20261123003400Z)", since)
	}
	cur.sinceT = t.UTC()
	cur.since = cur.sinceT.Format(cursorLayout)
	return cur, nil
}

// clause returns the filter component selecting changed entries, "" for a
// full read.
func (cur *cursor) clause() string {
	if cur.since == "" {
		return ""
	}
	return "(" + cur.attr + ">=" + ldap.EscapeFilter(cur.since) + ")"
}

// see records one entry's Attributes.Changed value. Values that do not parse
// are ignored: they only make the next cursor earlier, never later.
func (cur *cursor) see(v string) {
	if cur.usn || v == "" {
		return
	}
	if t, err := time.Parse(generalizedTimeLayout, v); err == nil && t.After(cur.maxT) {
		cur.maxT = t
	}
}

// next returns the cursor for the next incremental read, after a complete
// read that took elapsed. "" means "no safe cursor: read everything next
// time".
func (cur *cursor) next(elapsed time.Duration) string {
	if cur.attr == "" {
		return ""
	}
	if cur.usn {
		if cur.hcu == 0 {
			return ""
		}
		return strconv.FormatUint(cur.hcu+1, 10)
	}
	if cur.maxT.IsZero() {
		return cur.since
	}
	t := cur.maxT.Add(-elapsed).UTC().Truncate(time.Second)
	if t.Before(cur.sinceT) {
		t = cur.sinceT
	}
	return t.Format(cursorLayout)
}

// start prepares a USN cursor: it reads highestCommittedUSN from the root
// DSE and refuses a cursor from the future (another DC, a restored DC).
func (c *Client) startCursor(ctx context.Context, cur *cursor) error {
	if !cur.usn {
		return nil
	}
	req := ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"highestCommittedUSN"}, nil)
	sr, err := c.conn.Search(req)
	if err != nil {
		return fmt.Errorf("read highestCommittedUSN: %w", ctxErr(ctx, err))
	}
	if len(sr.Entries) == 1 {
		if v := sr.Entries[0].GetEqualFoldAttributeValue("highestCommittedUSN"); v != "" {
			cur.hcu, _ = strconv.ParseUint(v, 10, 64)
		}
	}
	switch {
	case cur.hcu == 0:
		c.logger.Warn("the server has no highestCommittedUSN in its root DSE; reads will not return a cursor")
	case cur.since != "" && cur.sinceN > cur.hcu+1:
		return fmt.Errorf("incremental read: cursor %d is ahead of this server's highestCommittedUSN %d (another domain controller, or a restore?); run a full read", cur.sinceN, cur.hcu)
	}
	return nil
}
