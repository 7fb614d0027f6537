package console

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// importData is the CSV import page: the form, and after a dry run or an
// apply, each row of the file with its outcome.
type importData struct {
	CSV                   string
	Update, NoWelcomeMail bool
	// Ran says a dry run or an apply was done; Applied that it was an
	// apply.
	Ran, Applied bool
	// OK says every row passed (a dry run that can be applied, or an
	// apply that wrote them).
	OK                                    bool
	Rows                                  []importRow
	Created, Updated, Unchanged, MailSent int
	// Problems counts the problems of the file; Problem is one that no row
	// has (a bad header, an unreadable file).
	Problems int
	Problem  string
}

// importRow is one row of the file and what it does (or would do).
type importRow struct {
	Line     int
	UserName string
	Outcome  string
	// Problems are the row's problems, each naming its column.
	Problems []string
}

// importAnswer is the admin API's answer to an import.
type importAnswer struct {
	DryRun     bool                 `json:"dryRun"`
	Created    int                  `json:"created"`
	Updated    int                  `json:"updated"`
	Unchanged  int                  `json:"unchanged"`
	MailQueued int                  `json:"mailQueued"`
	Rows       []pbxusers.ImportRow `json:"rows"`
}

// importTooLarge answers a signed-in upload larger than the console's
// form limit with the page saying so, rather than the CSRF check's "form
// expired" (the token would be cut off with the body).
func (h *Handler) importTooLarge(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if ss := h.session(r); ss != nil && r.ContentLength > maxImportBytes {
			h.renderTenant(w, r, ss, http.StatusRequestEntityTooLarge, "tenant_import", "import", nil,
				&importData{Problem: textsFor(ss, r).get("importTooLarge")})
			return
		}
		next(w, r)
	}
}

func (h *Handler) importForm(w http.ResponseWriter, r *http.Request, ss *session) {
	h.renderTenant(w, r, ss, http.StatusOK, "tenant_import", "import", nil, &importData{})
}

// maxImportBytes bounds a form posted to the import page, file and all
// (every console form is limited to 1 MiB); larger files go through the
// admin API or `pbxgate users import`.
const maxImportBytes = 1 << 20

// importCSV runs the file through the admin API's import: "dryrun" checks
// every row and writes nothing, "apply" imports them all or none. The
// page then lists every row with its outcome or its problems.
func (h *Handler) importCSV(w http.ResponseWriter, r *http.Request, ss *session) {
	t := textsFor(ss, r)
	d := &importData{CSV: r.PostFormValue("csv"), Update: r.PostFormValue("update") == "1",
		NoWelcomeMail: r.PostFormValue("noWelcomeMail") == "1"}
	if file, _, err := r.FormFile("file"); err == nil {
		b, err := io.ReadAll(io.LimitReader(file, maxImportBytes+1))
		file.Close()
		if err != nil || len(b) > maxImportBytes {
			d.Problem = t.get("importTooLarge")
			h.renderTenant(w, r, ss, http.StatusRequestEntityTooLarge, "tenant_import", "import", nil, d)
			return
		}
		if len(bytes.TrimSpace(b)) > 0 {
			d.CSV = string(b)
		}
	}
	if strings.TrimSpace(d.CSV) == "" {
		f := &form{Problems: map[string]string{"csv": t.get("importEmpty")}, Summary: t.get("fixErrors")}
		h.renderTenant(w, r, ss, http.StatusUnprocessableEntity, "tenant_import", "import", f, d)
		return
	}
	apply := r.PostFormValue("action") == "apply"
	q := url.Values{}
	if !apply {
		q.Set("dryRun", "true")
	}
	if d.Update {
		q.Set("update", "true")
	}
	if d.NoWelcomeMail {
		q.Set("noWelcomeMail", "true")
	}
	var ans importAnswer
	p, err := h.callAPIRaw(r.Context(), ss, http.MethodPost, "/imports?"+q.Encode(), "text/csv", []byte(d.CSV), &ans)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	d.Ran, d.Applied = true, apply
	d.Rows = fileRows(d.CSV)
	status := http.StatusOK
	if p != nil {
		status = http.StatusUnprocessableEntity
		d.Problems = len(p.Errors)
		if len(p.Errors) == 0 {
			d.Problem, d.Problems = p.Detail, 1
		}
		byLine := map[int]*importRow{}
		for i := range d.Rows {
			byLine[d.Rows[i].Line] = &d.Rows[i]
		}
		for _, e := range p.Errors {
			line, column := problemLine(e.Path)
			row := byLine[line]
			if row == nil {
				d.Problem = strings.TrimSpace(d.Problem + " " + e.Path + ": " + e.Reason)
				continue
			}
			msg := e.Reason
			if column != "" {
				msg = column + ": " + e.Reason
			}
			row.Problems = append(row.Problems, msg)
		}
		for i := range d.Rows {
			if len(d.Rows[i].Problems) == 0 {
				d.Rows[i].Outcome = "rowOK"
			} else {
				d.Rows[i].Outcome = "rowFailed"
			}
		}
		h.renderTenant(w, r, ss, status, "tenant_import", "import", nil, d)
		return
	}
	d.OK = true
	d.Created, d.Updated, d.Unchanged, d.MailSent = ans.Created, ans.Updated, ans.Unchanged, ans.MailQueued
	d.Rows = d.Rows[:0]
	prefix := "would_"
	if apply {
		prefix = "did_"
	}
	for _, row := range ans.Rows {
		d.Rows = append(d.Rows, importRow{Line: row.Line, UserName: row.UserName, Outcome: prefix + row.Outcome})
	}
	if apply {
		d.CSV = "" // applied: nothing is left to apply
	}
	h.renderTenant(w, r, ss, status, "tenant_import", "import", nil, d)
}

var problemLineRE = regexp.MustCompile(`^line (\d+)(?:, (.+))?$`)

// problemLine reads the admin API's "line N, column" problem path.
func problemLine(path string) (int, string) {
	m := problemLineRE.FindStringSubmatch(path)
	if m == nil {
		return 0, ""
	}
	n, _ := strconv.Atoi(m[1])
	return n, m[2]
}

// fileRows lists the rows of a CSV file with their line and userName, for
// the page: the library reports only the rows with problems when there
// are any, and the page still shows every row.
func fileRows(data string) []importRow {
	rd := csv.NewReader(strings.NewReader(data))
	rd.FieldsPerRecord = -1
	header, err := rd.Read()
	if err != nil {
		return nil
	}
	col := -1
	for i, name := range header {
		if strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(name, "\ufeff")), "userName") {
			col = i
		}
	}
	var rows []importRow
	for {
		rec, err := rd.Read()
		if errors.Is(err, io.EOF) {
			return rows
		}
		if err != nil {
			return rows
		}
		line, _ := rd.FieldPos(0)
		row := importRow{Line: line}
		if col >= 0 && col < len(rec) {
			row.UserName = rec[col]
		}
		rows = append(rows, row)
	}
}

// exportCSV downloads every user of the tenant, system users included,
// as the CSV the import reads back: edit it and import it with "update
// existing users" to change them in bulk. Passwords are never exported.
func (h *Handler) exportCSV(w http.ResponseWriter, r *http.Request, ss *session) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+ss.Tenant+`-users.csv"`)
	if _, err := h.dir.ExportCSV(r.Context(), ss.Tenant, w, pbxusers.UserQuery{IncludeSystem: true}, nil); err != nil {
		// The header is sent: the download ends short, and the log says why.
		h.log.ErrorContext(r.Context(), "console CSV export", "tenant", ss.Tenant, "error", err)
	}
}
