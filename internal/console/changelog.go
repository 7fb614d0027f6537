package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// changesShown is how many change log entries a page of it lists.
const changesShown = 100

// changesData is the change log page: who changed what, from which
// source, newest first; Older pages back, Newest returns to the start.
type changesData struct {
	Entity, EntityID string
	Before           int64
	Changes          []changeRow
	Older, Newest    string
}

// changeRow is an entry with its fields in words.
type changeRow struct {
	Change pbxusers.Change
	Fields []string
}

func (h *Handler) listChanges(w http.ResponseWriter, r *http.Request, ss *session) {
	q := r.URL.Query()
	d := &changesData{Entity: strings.TrimSpace(q.Get("entity")), EntityID: strings.TrimSpace(q.Get("entityId"))}
	d.Before, _ = strconv.ParseInt(q.Get("before"), 10, 64)
	d.Before = max(0, d.Before)
	cs, err := h.dir.Changes(r.Context(), ss.Tenant, pbxusers.ChangeQuery{BeforeSeq: d.Before, Newest: true, Entity: d.Entity,
		EntityID: d.EntityID, Limit: changesShown})
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	for _, c := range cs {
		row := changeRow{Change: c}
		for _, f := range c.Fields {
			row.Fields = append(row.Fields, fieldText(f))
		}
		d.Changes = append(d.Changes, row)
	}
	link := func(before int64) string {
		v := url.Values{}
		if before > 0 {
			v.Set("before", strconv.FormatInt(before, 10))
		}
		if d.Entity != "" {
			v.Set("entity", d.Entity)
		}
		if d.EntityID != "" {
			v.Set("entityId", d.EntityID)
		}
		return TenantPrefix + "/changes?" + v.Encode()
	}
	if len(cs) == changesShown {
		d.Older = link(cs[len(cs)-1].Seq)
	}
	if d.Before > 0 {
		d.Newest = link(0)
	}
	h.renderTenant(w, r, ss, http.StatusOK, "tenant_changes", "changes", nil, d)
}

// fieldText is a changed field as "path: old → new" (or its warning).
func fieldText(f pbxusers.FieldChange) string {
	if f.Warning != "" {
		return f.Field + ": " + f.Warning
	}
	return f.Field + ": " + jsonText(f.Old) + " → " + jsonText(f.New)
}

func jsonText(v any) string {
	if v == nil {
		return "∅"
	}
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "?"
	}
	const maxLen = 200
	if len(b) > maxLen {
		return string(b[:maxLen]) + "…"
	}
	return string(b)
}
