package pbxusers

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// This file is ImportCSV, over 700 lines on purpose: reading rows, checking
// every row against the tenant and the file itself, and applying them all or
// none in stages (whole values, partial cells, references to later rows,
// devices and numbers) is one transaction's algorithm. The column table and
// cell encodings are in csv.go, the export in csv_export.go.

// ImportOptions control a CSV import.
type ImportOptions struct {
	// DryRun checks every row against the tenant's data exactly like a real
	// import and reports what would happen, writing nothing.
	DryRun bool
	// Update changes existing users (matched by id when the file has one,
	// else by userName) instead of rejecting their rows as duplicates. Only
	// the columns present in the file are changed.
	Update bool
	// NoWelcomeMail creates the users without queueing welcome mail (for
	// example when they are invited later with a resend).
	NoWelcomeMail bool
	// Progress, when set, is called as rows are processed.
	Progress func(done, total int)
	// MaxRows bounds the file; 0 means DefaultMaxImportRows.
	MaxRows int
	// OnRow, when set, is told each row's outcome (what would happen, in a
	// dry run), in file order, once the import succeeded.
	OnRow func(ImportRow)
}

// DefaultMaxImportRows is how many rows an import file may have when
// ImportOptions.MaxRows is 0.
const DefaultMaxImportRows = 100000

// ImportResult says what an import did (or, for a dry run, would do).
type ImportResult struct {
	Created int
	Updated int
	// Unchanged counts rows of existing users whose values already match.
	Unchanged int
	// MailQueued counts the welcome mails queued (or, in a dry run, that
	// would be).
	MailQueued int
	DryRun     bool
}

// ImportRow is the outcome of one row of a CSV import.
type ImportRow struct {
	// Line is the row's line in the file; 1 is the header.
	Line     int    `json:"line"`
	UserName string `json:"userName"`
	// UserID is the user created or matched; in a dry run, the id the new
	// user would have had is not kept, so it is empty for created rows.
	UserID string `json:"userId,omitempty"`
	// Outcome is created, updated or unchanged.
	Outcome string `json:"outcome"`
}

var errDryRun = errors.New("dry run")

type csvRow struct {
	line  int
	cells map[string]string
	hash  []byte
	// dups are the columns whose value an earlier row of the file has; the
	// row's conflicts on them are that duplicate, reported once.
	dups []string
}

// csvOutcome is what importing one row did.
type csvOutcome int

const (
	outcomeFailed csvOutcome = iota
	outcomeCreated
	outcomeUpdated
	outcomeUnchanged
)

// csvApplied is a row written to the store, with what is left to do for it
// once every row is: references to users of later rows, and devices and
// numbers.
type csvApplied struct {
	row      *csvRow
	userID   string
	outcome  csvOutcome
	deferred []string // stageRef columns whose user was on a later row
}

// ImportCSV reads users from CSV (see CSVColumns and the comment at the top
// of csv.go for the format) and writes them in one transaction: either
// every row is applied or none is. Every problem of every row is reported
// together in an *ImportError with the line and column of each.
func (d *Directory) ImportCSV(ctx context.Context, tenant string, r io.Reader, opts ImportOptions) (ImportResult, error) {
	if opts.MaxRows <= 0 {
		opts.MaxRows = DefaultMaxImportRows
	}
	header, rows, dups, err := readCSV(r, opts.MaxRows)
	if err != nil {
		return ImportResult{}, err
	}
	// Hash passwords before the transaction: bcrypt is slow on purpose and
	// must not hold the database.
	ie := ImportError{Rows: dups}
	for i := range rows {
		if p := rows[i].cells["password"]; p != "" {
			if err := CheckPasswordPolicy(p, rows[i].cells["userName"]); err != nil {
				ie.Rows = append(ie.Rows, RowError{rows[i].line, "password", err.Error()})
				continue
			}
			h, err := bcrypt.GenerateFromPassword([]byte(p), d.cost)
			if err != nil {
				return ImportResult{}, fmt.Errorf("hash password: %w", err)
			}
			rows[i].hash = h
		}
	}
	res := ImportResult{DryRun: opts.DryRun}
	var outcomes []ImportRow
	attempt := func(bulk bool) error {
		return d.update(ctx, func(t *txn) error {
			tn, err := t.tenant(tenant)
			if err != nil {
				return err
			}
			t.noWelcome = opts.NoWelcomeMail
			imp := &csvImport{x: newCSVCodec(t, tn), header: header, opts: opts, rows: rows, bulk: bulk}
			if err := imp.run(&ie); err != nil {
				return err
			}
			if len(ie.Rows) > 0 {
				sort.SliceStable(ie.Rows, func(i, j int) bool { return ie.Rows[i].Line < ie.Rows[j].Line })
				return &ie
			}
			res.Created, res.Updated, res.Unchanged = imp.count(outcomeCreated), imp.count(outcomeUpdated), imp.count(outcomeUnchanged)
			res.MailQueued = t.mailQueued
			outcomes = imp.outcomes()
			if opts.DryRun {
				return errDryRun
			}
			return nil
		})
	}
	// A file without problems is imported with its new users created in
	// bulk (CreateUsers). At the first row problem that attempt is rolled
	// back and the file imported row by row, which reports every problem
	// of every row as it always did (Progress then counts again from 1).
	bulk := len(ie.Rows) == 0
	err = attempt(bulk)
	if bulk && errors.Is(err, errBulkRefused) {
		ie = ImportError{}
		err = attempt(false)
	}
	if errors.Is(err, errDryRun) {
		err = nil
	}
	if err != nil {
		return ImportResult{DryRun: opts.DryRun}, err
	}
	if opts.OnRow != nil {
		for _, o := range outcomes {
			opts.OnRow(o)
		}
	}
	return res, nil
}

// csvImport is one ImportCSV run inside its transaction.
type csvImport struct {
	x       *csvCodec
	header  []string
	opts    ImportOptions
	rows    []csvRow
	applied []*csvApplied
	// bulk creates new users with CreateUsers, pending until a row needs
	// to see them; a row problem then ends the attempt with
	// errBulkRefused.
	bulk    bool
	pending []pendingCreate
}

// pendingCreate is a new user of a bulk import not written yet.
type pendingCreate struct {
	a    *csvApplied
	u    User
	hash []byte
}

// errBulkRefused ends a bulk import attempt at its first row problem.
var errBulkRefused = errors.New("a row was refused; import row by row")

// maxPendingN bounds the users a bulk import holds before writing them.
const maxPendingN = 1000

// flush creates the pending users.
func (imp *csvImport) flush() error {
	p := imp.pending
	imp.pending = nil
	if len(p) == 0 {
		return nil
	}
	t, x := imp.x.t, imp.x
	rows := make([]bulkRow, len(p))
	for i := range p {
		rows[i] = bulkRow{in: p[i].u, hash: p[i].hash}
		rows[i].in.Password.New = "" // hashed before the transaction
	}
	out, errs, err := t.createRows(x.tn, rows, nil)
	if err != nil {
		return err
	}
	for i := range p {
		if errs[i] != nil {
			return errBulkRefused
		}
		p[i].a.userID = out[i].ID
		x.userNames[out[i].ID] = out[i].UserName
	}
	return nil
}

// refersToUsers reports whether a row names other users (stageRef cells).
func (imp *csvImport) refersToUsers(row *csvRow) bool {
	for _, name := range imp.header {
		if col, _ := lookupColumn(name); col.stage == stageRef && row.cells[name] != "" {
			return true
		}
	}
	return false
}

// outcomes lists each applied row's outcome in file order.
func (imp *csvImport) outcomes() []ImportRow {
	names := map[csvOutcome]string{outcomeCreated: "created", outcomeUpdated: "updated", outcomeUnchanged: "unchanged"}
	out := make([]ImportRow, 0, len(imp.applied))
	for _, a := range imp.applied {
		r := ImportRow{Line: a.row.line, UserName: a.row.cells["userName"], UserID: a.userID, Outcome: names[a.outcome]}
		if imp.opts.DryRun && a.outcome == outcomeCreated {
			r.UserID = ""
		}
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out
}

func (imp *csvImport) count(o csvOutcome) int {
	n := 0
	for _, a := range imp.applied {
		if a.outcome == o {
			n++
		}
	}
	return n
}

// run imports every row, then the references to later rows, then devices
// and numbers. Row problems go to ie; a returned error is a storage failure.
func (imp *csvImport) run(ie *ImportError) error {
	x := imp.x
	for _, row := range imp.rows {
		x.fileNames[UserNameKey(row.cells["userName"])] = row.line
	}
	for i := range imp.rows {
		row := &imp.rows[i]
		x.line = row.line
		if imp.bulk && (len(imp.pending) >= maxPendingN || imp.refersToUsers(row)) {
			if err := imp.flush(); err != nil {
				return err
			}
		}
		a, errs, err := imp.importRow(row)
		if err != nil {
			return fmt.Errorf("line %d: %w", row.line, err)
		}
		if imp.bulk && len(errs) > 0 {
			return errBulkRefused
		}
		// A clash with an earlier row of the file is reported as that.
		errs = slices.DeleteFunc(errs, func(err error) bool {
			var ce *ConflictError
			return errors.As(err, &ce) && slices.Contains(row.dups, imp.conflictColumn(ce))
		})
		ie.Rows = append(ie.Rows, imp.rowErrors(row.line, errs)...)
		if a != nil {
			imp.applied = append(imp.applied, a)
		}
		if imp.opts.Progress != nil {
			imp.opts.Progress(i+1, len(imp.rows))
		}
	}
	if err := imp.flush(); err != nil {
		return err
	}
	x.line = 0 // every row is written: a user not found now does not exist
	for _, a := range imp.applied {
		if len(a.deferred) == 0 {
			continue
		}
		errs, err := imp.applyDeferred(a)
		if err != nil {
			return fmt.Errorf("line %d: %w", a.row.line, err)
		}
		ie.Rows = append(ie.Rows, imp.rowErrors(a.row.line, errs)...)
	}
	if len(ie.Rows) > 0 {
		return nil // devices and numbers would only add noise to a rejected file
	}
	return imp.assignInventory(ie)
}

// importRow applies one row. It returns the row's problems, or a storage
// error; the applied row is nil when the row had problems.
func (imp *csvImport) importRow(row *csvRow) (*csvApplied, []error, error) {
	t, x := imp.x.t, imp.x
	var existing *User
	if imp.opts.Update {
		u, err := imp.findExisting(row.cells)
		if err != nil {
			return nil, nil, err
		}
		existing = u
	}
	var u User
	if existing != nil {
		u = existing.Clone()
	}
	a := &csvApplied{row: row}
	x.problems, x.err = Problems{}, nil
	for stage := stageWhole; stage <= stageRef; stage++ {
		for _, name := range imp.header {
			col, _ := lookupColumn(name)
			if col.stage != stage || col.set == nil {
				continue
			}
			x.deferred = false
			col.set(x, &u, row.cells[name])
			if x.deferred {
				a.deferred = append(a.deferred, name)
			}
		}
	}
	if x.err != nil {
		return nil, nil, x.err
	}
	if err := x.problems.Err(); err != nil {
		diag, derr := t.diagnoseUser(x.tn, u, existing)
		if derr != nil {
			return nil, nil, derr
		}
		return nil, append([]error{err}, diag...), nil
	}
	var out User
	var err error
	if existing != nil && imp.bulk {
		// The update must not see keys of later rows taken, nor free
		// keys for earlier rows.
		if err := imp.flush(); err != nil {
			return nil, nil, err
		}
	}
	if existing == nil && imp.bulk {
		a.outcome = outcomeCreated
		imp.pending = append(imp.pending, pendingCreate{a: a, u: u, hash: row.hash})
		return a, nil, nil
	}
	if existing == nil {
		out, err = t.createUser(x.tn.ID, u, row.hash)
		a.outcome = outcomeCreated
	} else {
		out, err = t.updateUser(*existing, u, row.hash)
		a.outcome = outcomeUpdated
		if err == nil && out.Version == existing.Version {
			a.outcome = outcomeUnchanged
		}
	}
	if err != nil {
		if !isRowProblem(err) {
			return nil, nil, err
		}
		diag, derr := t.diagnoseUser(x.tn, u, existing)
		if derr != nil {
			return nil, nil, derr
		}
		if len(diag) == 0 {
			diag = []error{err}
		}
		return nil, diag, nil
	}
	a.userID = out.ID
	x.userNames[out.ID] = out.UserName
	return a, nil, nil
}

// findExisting finds the user a row updates: by id when the row has one
// that a user of the tenant has, else by userName.
func (imp *csvImport) findExisting(c map[string]string) (*User, error) {
	t, tenant := imp.x.t, imp.x.tn.ID
	if id := c["id"]; id != "" {
		u, err := t.tx.GetUser(t.ctx, tenant, id)
		if err == nil {
			return &u, nil
		}
		if !isNotFound(err) {
			return nil, err
		}
	}
	u, err := t.tx.LookupUser(t.ctx, tenant, KeyUserName, c["userName"])
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// applyDeferred sets the references of a written row to users of later
// rows, now that those exist.
func (imp *csvImport) applyDeferred(a *csvApplied) ([]error, error) {
	t, x := imp.x.t, imp.x
	old, err := t.tx.GetUser(t.ctx, x.tn.ID, a.userID)
	if err != nil {
		return nil, err
	}
	u := old.Clone()
	x.problems, x.err = Problems{}, nil
	for _, name := range a.deferred {
		col, _ := lookupColumn(name)
		col.set(x, &u, a.row.cells[name])
	}
	if x.err != nil {
		return nil, x.err
	}
	if err := x.problems.Err(); err != nil {
		return []error{err}, nil
	}
	out, err := t.updateUser(old, u, nil)
	if err != nil {
		if isRowProblem(err) {
			return []error{err}, nil
		}
		return nil, err
	}
	if out.Version != old.Version && a.outcome == outcomeUnchanged {
		a.outcome = outcomeUpdated
	}
	return nil, nil
}

// isRowProblem reports whether err is about the row's values (reported with
// its line) rather than a failure of the store.
func isRowProblem(err error) bool {
	return errors.Is(err, ErrInvalid) || errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound)
}

// diagnoseUser returns every problem of u as a create (old nil) or an
// update of old would find them: validation, references and every unique
// key another user holds. Writes stop at the first problem; an import
// reports them all.
func (t *txn) diagnoseUser(tn Tenant, u User, old *User) ([]error, error) {
	var out []error
	c := u.Clone()
	if old != nil {
		c.ID = old.ID
	}
	if err := c.normalize(tn.Region, tn.Extensions); err != nil {
		out = append(out, err)
	}
	if err := t.checkUserRefs(tn.ID, &c, old); err != nil {
		if !errors.Is(err, ErrInvalid) {
			return nil, err
		}
		out = append(out, err)
	}
	conflicts, err := t.userConflicts(tn, &c, old, 0)
	if err != nil {
		return nil, err
	}
	for _, ce := range conflicts {
		out = append(out, ce)
	}
	if old != nil {
		if err := t.canWrite("user", old.UserName, old.Owner); err != nil {
			out = append(out, err)
		}
	}
	return out, nil
}

// assignInventory applies the devices and numbers cells once every row is
// written: first what each row no longer lists is unassigned, then what it
// lists is assigned, so a number may move between two rows of one file.
func (imp *csvImport) assignInventory(ie *ImportError) error {
	t, x := imp.x.t, imp.x
	hasDevices, hasNumbers := slices.Contains(imp.header, "devices"), slices.Contains(imp.header, "numbers")
	if !hasDevices && !hasNumbers {
		return nil
	}
	devs, err := t.tx.ListDevices(t.ctx, x.tn.ID, "")
	if err != nil {
		return err
	}
	nums, err := t.tx.ListNumbers(t.ctx, x.tn.ID, "")
	if err != nil {
		return err
	}
	bySIP := map[string]*Device{}
	for i := range devs {
		bySIP[strings.ToLower(devs[i].SIPID)] = &devs[i]
	}
	byNumber := map[string]*Number{}
	for i := range nums {
		byNumber[nums[i].E164] = &nums[i]
	}
	type want struct {
		a       *csvApplied
		devices []string
		numbers []string
	}
	var wants []want
	for _, a := range imp.applied {
		w := want{a: a}
		if hasDevices {
			w.devices = splitList(a.row.cells["devices"])
		}
		if hasNumbers {
			for _, n := range splitList(a.row.cells["numbers"]) {
				e164, _, err := NormalizeE164(n, x.tn.Region)
				if err != nil {
					ie.Rows = append(ie.Rows, RowError{a.row.line, "numbers", fmt.Sprintf("%q %s", n, err)})
					continue
				}
				w.numbers = append(w.numbers, e164)
			}
		}
		wants = append(wants, w)
	}
	changed := func(a *csvApplied) {
		if a.outcome == outcomeUnchanged {
			a.outcome = outcomeUpdated
		}
	}
	// Unassign what rows no longer list.
	for _, w := range wants {
		if hasDevices {
			for _, dv := range devs {
				if dv.UserID == w.a.userID && !slices.ContainsFunc(w.devices, func(s string) bool { return strings.EqualFold(s, dv.SIPID) }) {
					next := dv
					next.UserID = ""
					saved, err := t.saveDevice(dv, next)
					if err != nil {
						return err
					}
					*bySIP[strings.ToLower(dv.SIPID)] = saved
					changed(w.a)
				}
			}
		}
		if hasNumbers {
			for _, n := range nums {
				if n.UserID == w.a.userID && !slices.Contains(w.numbers, n.E164) {
					next := n
					next.UserID = ""
					saved, err := t.putNumber(&n, next)
					if err != nil {
						return err
					}
					*byNumber[n.E164] = saved
					changed(w.a)
				}
			}
		}
	}
	// Assign what rows list.
	for _, w := range wants {
		line := w.a.row.line
		for _, sip := range w.devices {
			dv, ok := bySIP[strings.ToLower(sip)]
			switch {
			case !ok:
				created, err := t.createDevice(x.tn.ID, Device{UserID: w.a.userID, Kind: DeviceDeskPhone, SIPID: sip})
				if isRowProblem(err) {
					ie.Rows = append(ie.Rows, imp.rowErrors(line, []error{err})...)
					continue
				}
				if err != nil {
					return err
				}
				bySIP[strings.ToLower(sip)] = &created
				changed(w.a)
			case dv.UserID == w.a.userID:
			case dv.UserID != "":
				ie.Rows = append(ie.Rows, RowError{line, "devices", fmt.Sprintf("device %q belongs to user %q; unassign it there first", sip, x.userName(dv.UserID))})
			default:
				next := *dv
				next.UserID = w.a.userID
				saved, err := t.saveDevice(*dv, next)
				if err != nil {
					return err
				}
				*dv = saved
				changed(w.a)
			}
		}
		for _, e164 := range w.numbers {
			n, ok := byNumber[e164]
			switch {
			case !ok:
				created, err := t.putNumber(nil, Number{TenantID: x.tn.ID, E164: e164, UserID: w.a.userID})
				if err != nil {
					return err
				}
				byNumber[e164] = &created
				changed(w.a)
			case n.UserID == w.a.userID:
			case n.UserID != "":
				ie.Rows = append(ie.Rows, RowError{line, "numbers", fmt.Sprintf("number %s is routed to user %q; release it there first", e164, x.userName(n.UserID))})
			default:
				next := *n
				next.UserID = w.a.userID
				saved, err := t.putNumber(n, next)
				if err != nil {
					return err
				}
				*n = saved
				changed(w.a)
			}
		}
	}
	return nil
}

// rowErrors turns a row's problems into row errors naming the CSV column
// that holds each value.
func (imp *csvImport) rowErrors(line int, errs []error) []RowError {
	var out []RowError
	for _, err := range errs {
		var ve *ValidationError
		var ce *ConflictError
		switch {
		case errors.As(err, &ve):
			for _, f := range ve.Fields {
				out = append(out, RowError{line, imp.columnOf(f.Field), f.Reason})
			}
		case errors.As(err, &ce):
			out = append(out, RowError{line, imp.conflictColumn(ce), ce.Error()})
		default:
			out = append(out, RowError{line, "", err.Error()})
		}
	}
	return out
}

// conflictColumn returns the column of the file holding the value a
// conflict is about.
func (imp *csvImport) conflictColumn(ce *ConflictError) string {
	switch ce.Field {
	case "email":
		return imp.columnOf("emails")
	case "externalId":
		return imp.columnOf("owner.externalId")
	}
	return imp.columnOf(ce.Field)
}

// columnOf returns the column of the file that sets a validation path:
// the one whose field is the longest prefix of the path, preferring columns
// the file has.
func (imp *csvImport) columnOf(path string) string {
	best, bestLen, bestPresent := "", -1, false
	for _, c := range csvColumns {
		present := slices.Contains(imp.header, c.name)
		for _, f := range c.fields {
			if path != f && !strings.HasPrefix(path, f+".") && !strings.HasPrefix(path, f+"[") {
				continue
			}
			if (present && !bestPresent) || (present == bestPresent && len(f) > bestLen) {
				best, bestLen, bestPresent = c.name, len(f), present
			}
		}
	}
	if best == "" {
		return path
	}
	return best
}

// csvUniqueColumns are the columns whose values must differ between the
// rows of one file, with how values compare.
var csvUniqueColumns = []struct {
	column string
	fold   bool
	list   bool
}{
	{column: "userName", fold: true},
	{column: "id"},
	{column: "email", fold: true},
	{column: "extension"},
	{column: "stationNumber"},
	{column: "externalId"},
	{column: "devices", fold: true, list: true},
	{column: "numbers", list: true},
}

// readCSV reads the header and the rows. Problems of the file's shape (the
// header, quoting, cell counts, too many rows) end it with an error; values
// that several rows share are returned as dups, to report along with the
// rows' other problems.
func readCSV(r io.Reader, maxRows int) (header []string, rows []csvRow, dups []RowError, err error) {
	br := bufio.NewReader(r)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte{0xEF, 0xBB, 0xBF}) {
		br.Discard(3) // Excel's byte order mark
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	parseErr := func(err error) RowError {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			// A quote left open runs to the end of the file: the line to
			// look at is where the record started.
			return RowError{pe.StartLine, "", pe.Err.Error()}
		}
		return RowError{0, "", err.Error()}
	}
	header, err = cr.Read()
	if err == io.EOF {
		return nil, nil, nil, &ImportError{Rows: []RowError{{1, "", "the file is empty; the first line must be the header"}}}
	}
	if err != nil {
		return nil, nil, nil, &ImportError{Rows: []RowError{parseErr(err)}}
	}
	var ie ImportError
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		header[i] = h
		switch {
		case !slices.Contains(CSVColumns, h):
			ie.Rows = append(ie.Rows, RowError{1, h, unknownColumn(h)})
		case seen[h]:
			ie.Rows = append(ie.Rows, RowError{1, h, "column appears twice"})
		}
		seen[h] = true
	}
	if !seen["userName"] {
		ie.Rows = append(ie.Rows, RowError{1, "userName", "required column is missing"})
	}
	if len(ie.Rows) > 0 {
		return nil, nil, nil, &ie
	}
	var dupErr ImportError
	firstSeen := map[string]int{} // column + value → line
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			ie.Rows = append(ie.Rows, parseErr(err))
			break
		}
		line, _ := cr.FieldPos(0)
		if len(rows) >= maxRows {
			ie.Rows = append(ie.Rows, RowError{line, "", fmt.Sprintf("too many rows (at most %d per file)", maxRows)})
			break
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		if len(rec) != len(header) {
			ie.Rows = append(ie.Rows, RowError{line, "", fmt.Sprintf("has %d cells, the header has %d", len(rec), len(header))})
			continue
		}
		row := csvRow{line: line, cells: make(map[string]string, len(rec))}
		for i, v := range rec {
			row.cells[header[i]] = strings.TrimSpace(v)
		}
		for _, uc := range csvUniqueColumns {
			v, ok := row.cells[uc.column]
			if !ok || v == "" {
				continue
			}
			values := []string{v}
			if uc.list {
				values = splitList(v)
			}
			for _, v := range values {
				key := v
				switch {
				case uc.column == "userName":
					key = UserNameKey(v)
				case uc.fold:
					key = strings.ToLower(v)
				}
				key = uc.column + "\x00" + key
				if first, dup := firstSeen[key]; dup && first != line {
					dupErr.Rows = append(dupErr.Rows, RowError{line, uc.column, fmt.Sprintf("%q is also on line %d", v, first)})
					row.dups = append(row.dups, uc.column)
				} else if !dup {
					firstSeen[key] = line
				}
			}
		}
		rows = append(rows, row)
	}
	if len(ie.Rows) > 0 {
		return nil, nil, nil, &ie
	}
	return header, rows, dupErr.Rows, nil
}

// unknownColumn explains an unknown header cell, with the closest column
// name when there is one.
func unknownColumn(h string) string {
	best, bestD := "", 4
	for _, c := range CSVColumns {
		if d := editDistance(strings.ToLower(h), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	if best != "" {
		return fmt.Sprintf("unknown column; did you mean %q?", best)
	}
	return "unknown column; the columns are " + strings.Join(CSVColumns, ", ")
}

// editDistance is the Levenshtein distance of a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// strictJSON decodes one JSON value into v, refusing unknown fields and
// anything after the value, and reports problems as a *ValidationError.
func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			return err
		}
		return Invalid("", "not valid JSON for this column: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); err != io.EOF {
		return Invalid("", "has something after the JSON value")
	}
	return nil
}
