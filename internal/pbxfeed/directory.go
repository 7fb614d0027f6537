package pbxfeed

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// Directory is the answer of GET /pbx/v1/directory: one page of the
// domain's SIP accounts (devices), ordered by SIP user, for a PBX that
// caches the whole directory. Accounts of inactive users are listed with
// active false and no HA1s, so the PBX drops them.
type Directory struct {
	// Domain is the tenant's SIP domain.
	Domain string `json:"domain"`
	// Accounts are the page's entries, each as the credentials endpoint
	// answers it.
	Accounts []Credentials `json:"accounts"`
	// Next is the after= of the next page; empty on the last page.
	Next string `json:"next,omitempty"`
}

func (h *Handler) serveDirectory(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var problems []string
	domain := strings.TrimSpace(q.Get("domain"))
	if domain == "" {
		problems = append(problems, "domain: required")
	}
	limit := pbxusers.DefaultPageSize
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > pbxusers.MaxPageSize {
			problems = append(problems, "limit: must be 1 to "+strconv.Itoa(pbxusers.MaxPageSize))
		}
		limit = n
	}
	if len(problems) > 0 {
		writeError(w, http.StatusBadRequest, "%s", strings.Join(problems, "; "))
		return
	}
	ctx := r.Context()
	tn, err := h.dir.LookupSIPDomain(ctx, domain)
	if err == nil && !allows(ctx, tn.ID) {
		err = pbxusers.ErrNotFound
	}
	if err != nil {
		h.writeDirError(w, r, "SIP domain", err)
		return
	}
	page, next, err := h.dir.ListSIPCredentials(ctx, tn.ID, q.Get("after"), limit)
	if err != nil {
		h.writeDirError(w, r, "SIP domain", err)
		return
	}
	out := Directory{Domain: tn.SIPRealm(), Accounts: make([]Credentials, len(page)), Next: next}
	for i, c := range page {
		out.Accounts[i] = credentials(c)
	}
	writeJSON(w, out)
}
