package adminapi

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"

	"github.com/pbxgate/pbxgate/pbxusers"
)

func (h *Handler) mountImports() {
	h.handle("POST "+Prefix+"/tenants/{tenant}/imports", h.importCSV)
}

// importAnswer says what an import did, or for a dry run would do.
type importAnswer struct {
	DryRun     bool `json:"dryRun"`
	Created    int  `json:"created"`
	Updated    int  `json:"updated"`
	Unchanged  int  `json:"unchanged"`
	MailQueued int  `json:"mailQueued"`
	// Rows is every row's outcome, in file order.
	Rows []pbxusers.ImportRow `json:"rows"`
}

// importCSV imports users from a CSV body (text/csv) in one transaction:
// every row is applied or none is. ?dryRun=true checks everything and
// writes nothing; ?update=true changes existing users; ?noWelcomeMail=true
// queues no welcome mail. Problems are a 400 problem whose rows member
// lists every problem of every row, with its line and column.
func (h *Handler) importCSV(c *call) error {
	q := c.r.URL.Query()
	var ps pbxusers.Problems
	flag := func(name string) bool {
		s := q.Get(name)
		if s == "" {
			return false
		}
		b, err := strconv.ParseBool(s)
		if err != nil {
			ps.Add(name, "must be true or false, not %q", s)
		}
		return b
	}
	rows := []pbxusers.ImportRow{}
	opts := pbxusers.ImportOptions{DryRun: flag("dryRun"), Update: flag("update"), NoWelcomeMail: flag("noWelcomeMail"),
		OnRow: func(r pbxusers.ImportRow) { rows = append(rows, r) }}
	if err := ps.Err(); err != nil {
		return err
	}
	data, err := h.body(c)
	if err != nil {
		return err
	}
	res, err := h.dir.ImportCSV(c.ctx, c.tenant, bytes.NewReader(data), opts)
	var ie *pbxusers.ImportError
	if errors.As(err, &ie) {
		p := &Problem{Type: typeInvalid, Status: http.StatusBadRequest, Detail: strconv.Itoa(len(ie.Rows)) + " problem(s); nothing was imported"}
		for _, r := range ie.Rows {
			path := "line " + strconv.Itoa(r.Line)
			if r.Column != "" {
				path += ", " + r.Column
			}
			p.Errors = append(p.Errors, FieldProblem{Path: path, Reason: r.Reason})
		}
		return p
	}
	if err != nil {
		return err
	}
	status := http.StatusOK
	if !res.DryRun && res.Created > 0 {
		status = http.StatusCreated
	}
	return c.json(status, importAnswer{DryRun: res.DryRun, Created: res.Created, Updated: res.Updated, Unchanged: res.Unchanged, MailQueued: res.MailQueued, Rows: rows})
}
