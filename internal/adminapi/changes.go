package adminapi

import (
	"net/http"
	"strconv"

	"github.com/pbxgate/pbxgate/pbxusers"
)

func (h *Handler) mountChanges() {
	h.handle("GET "+Prefix+"/tenants/{tenant}/changes", h.listChanges)
}

// changePage is a page of the change log, oldest first (newest first
// with ?order=newest).
type changePage struct {
	Items []pbxusers.Change `json:"items"`
	// NextAfter, when set, is the ?after= of the next page (oldest first).
	NextAfter int64 `json:"nextAfter,omitempty"`
	// NextBefore, when set, is the ?before= of the next page (newest
	// first).
	NextBefore int64 `json:"nextBefore,omitempty"`
}

// listChanges pages the change log: ?after=SEQ and ?before=SEQ
// (exclusive), ?order=oldest|newest, ?entity=, ?entityId= and ?limit=.
func (h *Handler) listChanges(c *call) error {
	q := c.r.URL.Query()
	var ps pbxusers.Problems
	cq := pbxusers.ChangeQuery{Entity: q.Get("entity"), EntityID: q.Get("entityId")}
	if s := q.Get("after"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			ps.Add("after", "must be a sequence number, not %q", s)
		}
		cq.AfterSeq = n
	}
	if s := q.Get("before"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			ps.Add("before", "must be a sequence number, not %q", s)
		}
		cq.BeforeSeq = n
	}
	switch q.Get("order") {
	case "", "oldest":
	case "newest":
		cq.Newest = true
	default:
		ps.Add("order", "must be oldest or newest, not %q", q.Get("order"))
	}
	cq.Limit = queryInt(c.r, "limit", pbxusers.DefaultPageSize, &ps)
	if cq.Limit < 1 || cq.Limit > pbxusers.MaxPageSize {
		ps.Add("limit", "must be between 1 and %d", pbxusers.MaxPageSize)
	}
	if err := ps.Err(); err != nil {
		return err
	}
	cs, err := h.dir.Changes(c.ctx, c.tenant, cq)
	if err != nil {
		return err
	}
	page := changePage{Items: nonNil(cs)}
	if len(cs) == cq.Limit {
		if cq.Newest {
			page.NextBefore = cs[len(cs)-1].Seq
		} else {
			page.NextAfter = cs[len(cs)-1].Seq
		}
	}
	return c.json(http.StatusOK, page)
}
