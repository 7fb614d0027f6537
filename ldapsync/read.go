package ldapsync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// ErrSizeLimit is wrapped by the error of a read the server cut short with
// sizeLimitExceeded (LDAP result 4): the bind DN may not read the whole
// directory, even page by page.
var ErrSizeLimit = errors.New("size limit exceeded")

// maxPagesN bounds one paged search: a million pages of PageSize entries.
const maxPagesN = 1_000_000

// Mode says whether ReadUsers reads every user or only the changed ones.
type Mode struct {
	// Since is the cursor of an earlier complete read (ReadResult.Cursor).
	// Empty means a full read.
	Since string
}

// Full returns the Mode of a full read: every user the filter selects.
func Full() Mode { return Mode{} }

// Since returns the Mode of an incremental read: users whose
// Attributes.Changed is at or after cursor. Since("") is a full read.
func Since(cursor string) Mode { return Mode{Since: cursor} }

// IsFull reports whether m reads every user.
func (m Mode) IsFull() bool { return m.Since == "" }

// ReadResult reports how a read went. Only a Complete full read may be used
// to deactivate users that were not seen, and even a complete read can be
// empty or much smaller than the last one (a wrong base DN, a filter edited
// by mistake): the caller's guards judge that, this package does not.
type ReadResult struct {
	// Full is true for a full read, false for an incremental one.
	Full bool
	// Complete is true only when every page of every search was read to the
	// end, every entry was mapped and handed out, and fn never failed. It is
	// false exactly when ReadUsers returns an error.
	Complete bool
	// Entries is how many users were handed to fn (fn returned nil).
	Entries int
	// Disabled is how many of those were Disabled.
	Disabled int
	// Skipped is how many user entries had no usable ExternalID. Any skip
	// makes the read incomplete.
	Skipped int
	// Pages is how many pages all searches of the read fetched (groups,
	// disabled users, users).
	Pages int
	// Groups is how many groups the group search found.
	Groups int
	// Referrals is how many search references the server returned; they are
	// not followed. AD returns some for its DNS and configuration partitions
	// when the base DN is the domain root; user entries are not among them.
	Referrals int
	// Cursor is where the next incremental read should start (pass it to
	// Since); "" when the read was incomplete or the server gives no safe
	// cursor, meaning the next read must be full. See the cursor type for
	// why it is not simply the highest value seen.
	Cursor string
	// Duration is how long the read took.
	Duration time.Duration
	// Err is the error ReadUsers returned, kept so a result can be logged
	// or stored on its own.
	Err error
}

// ReadUsers streams the directory's users to fn, one page at a time: it
// fetches a page (PageSize entries) with the RFC 2696 paging control, maps
// and hands out its entries, then asks for the next page, so memory does not
// grow with the directory. Before the users it reads the groups (if
// GroupFilter is set) to resolve nested memberships, and the disabled users
// (if DisabledFilter is set) as a set of identities.
//
// fn is called once per user, in directory order; the Entry is its own to
// keep. An error from fn stops the read and is returned wrapped.
//
// Any failure (a search error, sizeLimitExceeded, a lost connection, a
// cancelled ctx, an entry without ExternalID, fn failing) returns an error
// and a result with Complete false. fn may already have been called for
// some users then; never treat the users it did not see as gone.
//
// Each page is a go-ldap Search call: the whole page arrives before fn sees
// its first entry. SearchAsync would hand out single entries, but it stalls
// the connection while fn is slow and go-ldap drops responses it cannot
// deliver within the request timeout; a page is the unit that bounds memory
// here.
func (c *Client) ReadUsers(ctx context.Context, mode Mode, fn func(Entry) error) (res ReadResult, err error) {
	start := time.Now()
	res.Full = mode.IsFull()
	defer func() {
		res.Duration = time.Since(start)
		res.Complete = err == nil
		res.Err = err
		attrs := []any{"full", res.Full, "entries", res.Entries, "disabled", res.Disabled,
			"groups", res.Groups, "pages", res.Pages, "duration", res.Duration}
		if err != nil {
			c.logger.Warn("read users incomplete", append(attrs, "err", err)...)
			return
		}
		c.logger.Info("read users", attrs...)
	}()
	stop := context.AfterFunc(ctx, func() { _ = c.conn.Close() }) // interrupts a running Search
	defer stop()

	cur, err := newCursor(c.cfg.Attributes.Changed, mode.Since)
	if err != nil {
		return res, err
	}
	if err := c.startCursor(ctx, cur); err != nil {
		return res, err
	}
	graph, err := c.readGroups(ctx, &res)
	if err != nil {
		return res, err
	}
	disabled, err := c.readDisabled(ctx, cur, &res)
	if err != nil {
		return res, err
	}

	a := &c.cfg.Attributes
	req := ldap.NewSearchRequest(c.cfg.userBase(), ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		andFilter(c.cfg.UserFilter, cur.clause()), c.m.searchAttributes(), nil)
	var firstSkip string
	err = c.pagedSearch(ctx, "read users", req, &res, func(page []*ldap.Entry) error {
		for _, le := range page {
			if err := context.Cause(ctx); err != nil {
				return err
			}
			if err := c.completeRanges(ctx, le); err != nil {
				return err
			}
			e, err := c.m.mapEntry(le)
			if err != nil {
				res.Skipped++
				if firstSkip == "" {
					firstSkip = fmt.Sprintf("%q: %v", le.DN, err)
				}
				c.logger.Warn("skip user entry", "dn", le.DN, "err", err)
				continue
			}
			if _, ok := disabled[e.ExternalID]; ok {
				e.Disabled = true
			}
			memberOf := all(le, a.MemberOf)
			if graph != nil {
				e.Groups = graph.groupsOf(le.DN, e.UserName, memberOf)
			} else if len(memberOf) > 0 {
				sortFold(memberOf)
				e.Groups = slices.CompactFunc(memberOf, strings.EqualFold)
			}
			cur.see(e.Changed)
			if err := fn(e); err != nil {
				return fmt.Errorf("read users: handle %q: %w", e.DN, err)
			}
			res.Entries++
			if e.Disabled {
				res.Disabled++
			}
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	if res.Skipped > 0 {
		return res, fmt.Errorf("read users: %d entries skipped for want of a usable %s (first %s); until they are fixed no read is complete",
			res.Skipped, a.ExternalID, firstSkip)
	}
	res.Cursor = cur.next(time.Since(start))
	return res, nil
}

// readGroups reads every group GroupFilter selects into a graph; nil without
// a GroupFilter. Groups are always read in full, also for incremental reads.
func (c *Client) readGroups(ctx context.Context, res *ReadResult) (*groupGraph, error) {
	if c.cfg.GroupFilter == "" {
		return nil, nil
	}
	a := &c.cfg.Attributes
	attrs := slices.Clone(a.GroupMembers)
	if a.GroupMemberUID != "" {
		attrs = append(attrs, a.GroupMemberUID)
	}
	if len(attrs) == 0 {
		attrs = []string{"1.1"} // RFC 4511: no attributes
	}
	req := ldap.NewSearchRequest(c.cfg.groupBase(), ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		c.cfg.GroupFilter, attrs, nil)
	g := newGroupGraph()
	err := c.pagedSearch(ctx, "read groups", req, res, func(page []*ldap.Entry) error {
		for _, e := range page {
			if err := c.completeRanges(ctx, e); err != nil {
				return err
			}
			var members []string
			for _, name := range a.GroupMembers {
				members = append(members, e.GetEqualFoldAttributeValues(name)...)
			}
			var uids []string
			if a.GroupMemberUID != "" {
				uids = e.GetEqualFoldAttributeValues(a.GroupMemberUID)
			}
			g.addGroup(e.DN, members, uids)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	g.finish()
	res.Groups = len(g.dns)
	return g, nil
}

// readDisabled returns the ExternalIDs of the users DisabledFilter selects
// (within the same cursor), nil without a DisabledFilter. Memory is one
// string per disabled user.
func (c *Client) readDisabled(ctx context.Context, cur *cursor, res *ReadResult) (map[string]struct{}, error) {
	if c.cfg.DisabledFilter == "" {
		return nil, nil
	}
	req := ldap.NewSearchRequest(c.cfg.userBase(), ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		andFilter(c.cfg.UserFilter, c.cfg.DisabledFilter, cur.clause()), []string{c.cfg.Attributes.ExternalID}, nil)
	set := map[string]struct{}{}
	err := c.pagedSearch(ctx, "read disabled users", req, res, func(page []*ldap.Entry) error {
		for _, e := range page {
			if id, err := c.m.externalID(e); err == nil { // the user pass reports entries without one
				set[id] = struct{}{}
			}
		}
		return nil
	})
	return set, err
}

// pagedSearch runs req with the paging control and hands each page to
// handle before asking for the next. On any error it stops; if it stops
// early while the server still holds results it abandons the search.
func (c *Client) pagedSearch(ctx context.Context, what string, req *ldap.SearchRequest, res *ReadResult, handle func([]*ldap.Entry) error) error {
	paging := ldap.NewControlPaging(uint32(c.cfg.PageSize))
	req.Controls = append(req.Controls, paging)
	seen := 0
	for page := 1; page <= maxPagesN; page++ {
		if err := context.Cause(ctx); err != nil {
			return fmt.Errorf("%s: page %d after %d entries: %w", what, page, seen, err)
		}
		sr, err := c.conn.Search(req)
		if err != nil {
			return c.searchError(ctx, what, page, seen, err)
		}
		res.Pages++
		res.Referrals += len(sr.Referrals)
		for _, ref := range sr.Referrals {
			c.logger.Debug("search reference not followed", "search", what, "referral", ref)
		}
		var cookie []byte
		if ctrl, ok := ldap.FindControl(sr.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging); ok {
			cookie = ctrl.Cookie
		}
		paging.SetCookie(cookie)
		if err := handle(sr.Entries); err != nil {
			if cause := context.Cause(ctx); cause != nil { // the connection is closed already
				return fmt.Errorf("%s: page %d after %d entries: %w", what, page, seen, cause)
			}
			c.abandon(req, paging)
			return err
		}
		seen += len(sr.Entries)
		if len(cookie) == 0 { // last page, or the server ignored paging and sent everything
			return nil
		}
	}
	c.abandon(req, paging)
	return fmt.Errorf("%s: gave up after %d pages", what, maxPagesN)
}

// abandon tells the server to drop a paged search that still has results
// (RFC 2696: a request with size 0 and the last cookie). Best effort.
func (c *Client) abandon(req *ldap.SearchRequest, paging *ldap.ControlPaging) {
	if len(paging.Cookie) == 0 || c.conn.IsClosing() {
		return
	}
	paging.PagingSize = 0
	if _, err := c.conn.Search(req); err != nil {
		c.logger.Debug("abandon paged search", "err", err)
	}
}

// searchError says what a failed page means for the read.
func (c *Client) searchError(ctx context.Context, what string, page, seen int, err error) error {
	if cause := context.Cause(ctx); cause != nil {
		return fmt.Errorf("%s: page %d after %d entries: %w", what, page, seen, cause)
	}
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded):
		return fmt.Errorf("%s: page %d: the server stopped after %d entries because %q hit its size limit; "+
			"allow it to page past the limit (OpenLDAP: limits dn.exact=%q size.prtotal=unlimited): %w: %w",
			what, page, seen, c.cfg.BindDN, c.cfg.BindDN, ErrSizeLimit, err)
	case ldap.IsErrorWithCode(err, ldap.LDAPResultTimeLimitExceeded):
		return fmt.Errorf("%s: page %d: the server's time limit ran out after %d entries: %w", what, page, seen, err)
	case ldap.IsErrorWithCode(err, ldap.ErrorNetwork) || c.conn.IsClosing():
		return fmt.Errorf("%s: page %d: connection failed after %d entries: %w", what, page, seen, err)
	}
	return fmt.Errorf("%s: page %d after %d entries: %w", what, page, seen, err)
}

// completeRanges replaces every "attr;range=..." attribute of e (AD range
// retrieval) by "attr" with all its values, fetching the rest of the ranges.
func (c *Client) completeRanges(ctx context.Context, e *ldap.Entry) error {
	for i, a := range e.Attributes {
		base, r, ok, err := parseRangeAttr(a.Name)
		if err != nil {
			return fmt.Errorf("entry %q: %w", e.DN, err)
		}
		if !ok {
			continue
		}
		values, err := collectRange(base, r, a.Values, func(desc string) (*ldap.EntryAttribute, error) {
			return c.readAttribute(ctx, e.DN, base, desc)
		})
		if err != nil {
			return fmt.Errorf("entry %q: range retrieval: %w", e.DN, err)
		}
		e.Attributes[i] = &ldap.EntryAttribute{Name: base, Values: values}
	}
	return nil
}

// readAttribute reads one ranged attribute description of the entry at dn.
func (c *Client) readAttribute(ctx context.Context, dn, base, desc string) (*ldap.EntryAttribute, error) {
	req := ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{desc}, nil)
	sr, err := c.conn.Search(req)
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	if len(sr.Entries) != 1 {
		return nil, fmt.Errorf("base search returned %d entries", len(sr.Entries))
	}
	for _, a := range sr.Entries[0].Attributes {
		if b, _, ok, _ := parseRangeAttr(a.Name); ok && strings.EqualFold(b, base) {
			return a, nil
		}
	}
	return nil, nil
}

// andFilter ANDs the non-empty filters.
func andFilter(filters ...string) string {
	var parts []string
	for _, f := range filters {
		if f != "" {
			parts = append(parts, f)
		}
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return "(&" + strings.Join(parts, "") + ")"
}

// lookupID returns the ExternalID of the user entry at dn, if the entry
// exists and UserFilter selects it. It resolves manager DNs the read did
// not return (incremental reads) or wrote differently (spacing, case).
func (c *Client) lookupID(ctx context.Context, dn string) (id string, found bool, err error) {
	if _, perr := ldap.ParseDN(dn); perr != nil {
		return "", false, nil // a manager value that is no DN names no user
	}
	stop := context.AfterFunc(ctx, func() { _ = c.conn.Close() })
	defer stop()
	req := ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		c.cfg.UserFilter, []string{c.cfg.Attributes.ExternalID}, nil)
	sr, err := c.conn.Search(req)
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return "", false, nil
	case err != nil:
		return "", false, ctxErr(ctx, err)
	case len(sr.Entries) != 1:
		return "", false, nil
	}
	id, err = c.m.externalID(sr.Entries[0])
	if err != nil {
		return "", false, nil
	}
	return id, true, nil
}
