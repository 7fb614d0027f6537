package adminapi

import (
	"context"
	"net/http"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// LDAPRunner starts a sync run of a tenant's LDAP directory and returns its
// history record when it ends. It returns an error wrapping
// pbxusers.ErrNotFound for a directory the tenant does not have.
type LDAPRunner func(ctx context.Context, tenant, directory string, dryRun bool) (pbxusers.SyncRun, error)

func (h *Handler) mountLDAP() {
	base := Prefix + "/tenants/{tenant}/ldap/directories/{name}/runs"
	h.handle("GET "+base, h.listRuns)
	h.handle("POST "+base, h.startRun)
}

// listRuns is a directory's run history, newest first (?limit=).
func (h *Handler) listRuns(c *call) error {
	var ps pbxusers.Problems
	limit := queryInt(c.r, "limit", 20, &ps)
	if limit < 1 || limit > pbxusers.MaxPageSize {
		ps.Add("limit", "must be between 1 and %d", pbxusers.MaxPageSize)
	}
	if err := ps.Err(); err != nil {
		return err
	}
	runs, err := h.dir.SyncRuns(c.ctx, c.tenant, c.r.PathValue("name"), limit)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, list[pbxusers.SyncRun]{Items: nonNil(runs), Total: len(runs)})
}

// runBody is the body of POST .../runs.
type runBody struct {
	// DryRun reads the directory and reports what would change, writing
	// nothing but the history record.
	DryRun bool `json:"dryRun,omitempty"`
}

// startRun runs a sync now and answers with its record when it ends. A
// run already going on (here, in another process or on schedule) is 409.
func (h *Handler) startRun(c *call) error {
	var b runBody
	if data, err := h.body(c); err != nil {
		return err
	} else if len(data) > 0 {
		if err := decodeStrict(data, &b); err != nil {
			return err
		}
	}
	if h.ldap == nil {
		return problemf(http.StatusNotFound, typeNotFound, "no LDAP directory %q is configured for tenant %q", c.r.PathValue("name"), c.tenant)
	}
	run, err := h.ldap(c.ctx, c.tenant, c.r.PathValue("name"), b.DryRun)
	if err != nil && run.ID == 0 {
		return err
	}
	return c.json(http.StatusOK, run)
}
