package console

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// runsShown is how many runs a directory's page lists.
const runsShown = 20

// directoriesData is the LDAP directories page: each configured directory
// with its last run.
type directoriesData struct {
	Directories []directoryRow
}

// directoryRow is a directory and its newest run (nil before the first).
type directoryRow struct {
	Name string
	Last *pbxusers.SyncRun
}

// directories lists the tenant's configured directories.
func (h *Handler) directories(ss *session) []string {
	if h.opts.LDAPDirectories == nil {
		return nil
	}
	return h.opts.LDAPDirectories(ss.Tenant)
}

func (h *Handler) listDirectories(w http.ResponseWriter, r *http.Request, ss *session) {
	d := &directoriesData{}
	for _, name := range h.directories(ss) {
		runs, err := h.dir.SyncRuns(r.Context(), ss.Tenant, name, 1)
		if err != nil {
			h.internal(w, r, ss, err)
			return
		}
		row := directoryRow{Name: name}
		if len(runs) > 0 {
			row.Last = &runs[0]
		}
		d.Directories = append(d.Directories, row)
	}
	h.renderTenant(w, r, ss, http.StatusOK, "tenant_ldap", "ldap", nil, d)
}

// directoryData is a directory's page: its run history, newest first,
// with "sync now" and "dry run".
type directoryData struct {
	Name string
	Runs []pbxusers.SyncRun
}

func (h *Handler) renderDirectory(w http.ResponseWriter, r *http.Request, ss *session, status int, f *form) {
	name := r.PathValue("name")
	if !slices.Contains(h.directories(ss), name) {
		h.fail(w, r, ss, http.StatusNotFound, "tNotFound")
		return
	}
	runs, err := h.dir.SyncRuns(r.Context(), ss.Tenant, name, runsShown)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	h.renderTenant(w, r, ss, status, "tenant_directory", "ldap", f, &directoryData{Name: name, Runs: runs})
}

func (h *Handler) showDirectory(w http.ResponseWriter, r *http.Request, ss *session) {
	h.renderDirectory(w, r, ss, http.StatusOK, nil)
}

// runDirectory runs a sync (or a dry run) now through the admin API; the
// request returns when the run ends, and the page shows it on top of the
// history.
func (h *Handler) runDirectory(w http.ResponseWriter, r *http.Request, ss *session) {
	name := r.PathValue("name")
	if !slices.Contains(h.directories(ss), name) {
		h.fail(w, r, ss, http.StatusNotFound, "tNotFound")
		return
	}
	dry := r.PostFormValue("dryRun") == "1"
	var run pbxusers.SyncRun
	p, err := h.callAPI(r.Context(), ss, http.MethodPost, "/ldap/directories/"+url.PathEscape(name)+"/runs",
		map[string]any{"dryRun": dry}, &run)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	if p != nil {
		h.renderDirectory(w, r, ss, p.Status, &form{Summary: problemText(p)})
		return
	}
	key := "runDone"
	if dry {
		key = "dryRunDone"
	}
	back(w, r, "/ldap/"+url.PathEscape(name), key, string(run.Status))
}
