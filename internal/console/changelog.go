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
// source, newest last as the log is written; Next pages on.
type changesData struct {
	Entity, EntityID string
	After            int64
	Changes          []changeRow
	Next             string
}

// changeRow is an entry with its fields in words.
type changeRow struct {
	Change pbxusers.Change
	Fields []string
}

func (h *Handler) listChanges(w http.ResponseWriter, r *http.Request, ss *session) {
	q := r.URL.Query()
	d := &changesData{Entity: strings.TrimSpace(q.Get("entity")), EntityID: strings.TrimSpace(q.Get("entityId"))}
	d.After, _ = strconv.ParseInt(q.Get("after"), 10, 64)
	d.After = max(0, d.After)
	cs, err := h.dir.Changes(r.Context(), ss.Tenant, pbxusers.ChangeQuery{AfterSeq: d.After, Entity: d.Entity, EntityID: d.EntityID,
		Limit: changesShown})
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
	if len(cs) == changesShown {
		v := url.Values{"after": {strconv.FormatInt(cs[len(cs)-1].Seq, 10)}}
		if d.Entity != "" {
			v.Set("entity", d.Entity)
		}
		if d.EntityID != "" {
			v.Set("entityId", d.EntityID)
		}
		d.Next = TenantPrefix + "/changes?" + v.Encode()
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
