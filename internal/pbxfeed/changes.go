package pbxfeed

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// Limits of GET /pbx/v1/changes.
const (
	// MaxWait is the longest long-poll a request may ask for with wait=.
	MaxWait = 60 * time.Second
	// changesPoll is how often a waiting request re-reads the change log,
	// for changes committed by another process (the CLI, another gateway);
	// changes made through this process's Directory wake it at once.
	changesPoll = time.Second
)

// Changes is the answer of GET /pbx/v1/changes: change log entries after
// the requested sequence number, oldest first. A PBX applies them in order
// and asks again with after=Next; it never misses or repeats an entry, also
// across restarts of pbxgate or of the PBX, as long as it stores Next.
type Changes struct {
	// Changes are the entries, at most limit; empty when wait elapsed with
	// nothing new.
	Changes []pbxusers.Change `json:"changes"`
	// Next is the after= of the next request: the last entry's Seq, or the
	// request's after when there were none.
	Next int64 `json:"next"`
	// More is true when the page was full: ask again at once.
	More bool `json:"more"`
}

func (h *Handler) serveChanges(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var problems []string
	after, wait, limit := int64(0), time.Duration(0), pbxusers.DefaultPageSize
	if s := q.Get("after"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			problems = append(problems, "after: must be a sequence number (0 or more)")
		}
		after = n
	}
	if s := q.Get("wait"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 || d > MaxWait {
			problems = append(problems, "wait: must be a duration such as 30s, at most "+MaxWait.String())
		}
		wait = d
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > pbxusers.MaxPageSize {
			problems = append(problems, "limit: must be 1 to "+strconv.Itoa(pbxusers.MaxPageSize))
		}
		limit = n
	}
	ctx := r.Context()
	a, _ := ctx.Value(accessKey{}).(access)
	tenant := a.tenant
	if t := q.Get("tenant"); t != "" {
		tenant = t
	}
	if tenant == "" {
		problems = append(problems, "tenant: required with a token for all tenants")
	}
	if len(problems) > 0 {
		writeError(w, http.StatusBadRequest, "%s", strings.Join(problems, "; "))
		return
	}
	if !allows(ctx, tenant) {
		writeError(w, http.StatusNotFound, "tenant not found")
		return
	}
	list, err := h.waitChanges(ctx, tenant, after, limit, wait)
	if err != nil {
		if ctx.Err() != nil {
			return // the client went away
		}
		h.writeDirError(w, r, "tenant", err)
		return
	}
	out := Changes{Changes: list, Next: after, More: len(list) == limit}
	if out.Changes == nil {
		out.Changes = []pbxusers.Change{}
	}
	if n := len(list); n > 0 {
		out.Next = list[n-1].Seq
	}
	writeJSON(w, out)
}

// waitChanges reads the tenant's changes after after; while there are
// none it waits up to wait for a commit of this process (told through
// Directory.Subscribe) or the next poll.
func (h *Handler) waitChanges(ctx context.Context, tenant string, after int64, limit int, wait time.Duration) ([]pbxusers.Change, error) {
	deadline := time.Now().Add(wait)
	var wake chan struct{}
	if wait > 0 {
		wake = make(chan struct{}, 1)
		cancel := h.dir.Subscribe(func(_ context.Context, changes []pbxusers.Change) {
			for _, c := range changes {
				if c.TenantID == tenant {
					select {
					case wake <- struct{}{}:
					default:
					}
					return
				}
			}
		})
		defer cancel()
	}
	for {
		list, err := h.dir.Changes(ctx, tenant, pbxusers.ChangeQuery{AfterSeq: after, Limit: limit})
		if err != nil || len(list) > 0 {
			return list, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, nil
		}
		timer := time.NewTimer(min(left, changesPoll))
		select {
		case <-wake:
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		}
		timer.Stop()
	}
}
