package pbxusers

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// CSVColumns is the documented header of the user CSV format, in export
// order. An import file may use any subset in any order; only userName is
// required. List columns (profiles, teams, features, notifications) are
// separated by semicolons; profiles and teams are given by name.
var CSVColumns = []string{
	"userName", "givenName", "familyName", "displayName", "nickname", "email", "extension",
	"stationNumber", "kind", "role", "status", "title", "department", "location", "language",
	"timeZone", "workPhone", "mobilePhone", "customId", "externalId", "profiles", "teams",
	"recording", "features", "notifications", "callerId", "anonymous", "answerMode", "backupNumber",
	"password", "mustChangePassword",
}

// csvFields maps a validation error's field path to the CSV column that set
// it, so errors point at the cell.
var csvFields = map[string]string{
	"userName": "userName", "name.given": "givenName", "name.family": "familyName",
	"displayName": "displayName", "nickname": "nickname", "emails[0].value": "email", "emails[0]": "email",
	"extension": "extension", "stationNumber": "stationNumber", "kind": "kind", "role": "role",
	"status": "status", "title": "title", "enterprise.department": "department", "location": "location",
	"language": "language", "timeZone": "timeZone", "phoneNumbers[0].number": "workPhone",
	"phoneNumbers[1].number": "mobilePhone", "customId": "customId", "owner.externalId": "externalId",
	"recording": "recording", "callerId.number": "callerId", "routing.answerMode": "answerMode",
	"routing.forwardNumber": "backupNumber", "password": "password",
}

// RowError is one problem of a CSV import: the line (1 is the header), the
// column and why.
type RowError struct {
	Line   int
	Column string
	Reason string
}

func (e RowError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return fmt.Sprintf("line %d, column %s: %s", e.Line, e.Column, e.Reason)
}

// ImportError lists every problem of a CSV import that was not applied.
// It wraps ErrInvalid.
type ImportError struct {
	Rows []RowError
}

func (e *ImportError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "import rejected, nothing applied: %d problem(s)", len(e.Rows))
	for i, r := range e.Rows {
		if i == 20 {
			fmt.Fprintf(&b, "\n  … and %d more", len(e.Rows)-20)
			break
		}
		b.WriteString("\n  ")
		b.WriteString(r.Error())
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *ImportError) Unwrap() error { return ErrInvalid }

// ImportOptions control a CSV import.
type ImportOptions struct {
	// DryRun checks every row against the tenant's data exactly like a real
	// import and reports what would happen, writing nothing.
	DryRun bool
	// Update changes existing users (matched by userName) instead of
	// rejecting their rows as duplicates. Only the columns present in the
	// file are changed.
	Update bool
	// Progress, when set, is called as rows are processed.
	Progress func(done, total int)
	// MaxRows bounds the file; 0 means 100000.
	MaxRows int
}

// ImportResult says what an import did (or, for a dry run, would do).
type ImportResult struct {
	Created int
	Updated int
	// Unchanged counts rows of existing users whose values already match.
	Unchanged int
	DryRun    bool
}

var errDryRun = errors.New("dry run")

type csvRow struct {
	line  int
	cells map[string]string
	hash  []byte
}

// ImportCSV reads users from CSV (header CSVColumns, any subset, userName
// required) and creates them in one transaction: either every row is
// applied or none is. Problems are reported together in an *ImportError
// with the line and column of each.
func (d *Directory) ImportCSV(ctx context.Context, tenant string, r io.Reader, opts ImportOptions) (ImportResult, error) {
	if opts.MaxRows <= 0 {
		opts.MaxRows = 100000
	}
	rows, err := readCSV(r, opts.MaxRows)
	if err != nil {
		return ImportResult{}, err
	}
	// Hash passwords before the transaction: bcrypt is slow on purpose and
	// must not hold the database.
	var ie ImportError
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
	err = d.update(ctx, func(t *txn) error {
		tn, err := t.tenant(tenant)
		if err != nil {
			return err
		}
		for i, row := range rows {
			if err := t.importRow(tn, row, opts, &res); err != nil {
				if errors.Is(err, ErrInvalid) || errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) {
					ie.Rows = append(ie.Rows, rowErrors(row.line, err)...)
				} else {
					return fmt.Errorf("line %d: %w", row.line, err)
				}
			}
			if opts.Progress != nil {
				opts.Progress(i+1, len(rows))
			}
		}
		if len(ie.Rows) > 0 {
			return &ie
		}
		if opts.DryRun {
			return errDryRun
		}
		return nil
	})
	if errors.Is(err, errDryRun) {
		return res, nil
	}
	if err != nil {
		return ImportResult{DryRun: opts.DryRun}, err
	}
	return res, nil
}

func readCSV(r io.Reader, maxRows int) ([]csvRow, error) {
	br := bufio.NewReader(r)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte{0xEF, 0xBB, 0xBF}) {
		br.Discard(3) // Excel's byte order mark
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err == io.EOF {
		return nil, &ImportError{Rows: []RowError{{1, "", "the file is empty; the first line must be the header"}}}
	}
	if err != nil {
		return nil, &ImportError{Rows: []RowError{{1, "", err.Error()}}}
	}
	var ie ImportError
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		header[i] = h
		switch {
		case !slices.Contains(CSVColumns, h):
			ie.Rows = append(ie.Rows, RowError{1, h, "unknown column; the columns are " + strings.Join(CSVColumns, ", ")})
		case seen[h]:
			ie.Rows = append(ie.Rows, RowError{1, h, "column appears twice"})
		}
		seen[h] = true
	}
	if !seen["userName"] {
		ie.Rows = append(ie.Rows, RowError{1, "userName", "required column is missing"})
	}
	if len(ie.Rows) > 0 {
		return nil, &ie
	}
	var rows []csvRow
	names := map[string]int{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			// FieldPos is only valid after a successful read; a parse error
			// carries its own line.
			line := 0
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
				err = pe.Err
			}
			ie.Rows = append(ie.Rows, RowError{line, "", err.Error()})
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
		key := strings.ToLower(row.cells["userName"])
		if first, dup := names[key]; dup && key != "" {
			ie.Rows = append(ie.Rows, RowError{line, "userName", fmt.Sprintf("%q is also on line %d", row.cells["userName"], first)})
		}
		names[key] = line
		rows = append(rows, row)
	}
	if len(ie.Rows) > 0 {
		return nil, &ie
	}
	return rows, nil
}

// rowErrors turns a library error into row errors with CSV column names.
func rowErrors(line int, err error) []RowError {
	var ve *ValidationError
	if errors.As(err, &ve) {
		out := make([]RowError, 0, len(ve.Fields))
		for _, f := range ve.Fields {
			col, ok := csvFields[f.Field]
			if !ok {
				col = f.Field
				for prefix, c := range map[string]string{"profiles": "profiles", "teams": "teams", "notifications": "notifications", "routing": "answerMode"} {
					if strings.HasPrefix(f.Field, prefix) {
						col = c
					}
				}
			}
			out = append(out, RowError{line, col, f.Reason})
		}
		return out
	}
	var ce *ConflictError
	if errors.As(err, &ce) {
		return []RowError{{line, ce.Field, ce.Error()}}
	}
	return []RowError{{line, "", err.Error()}}
}

func (t *txn) importRow(tn Tenant, row csvRow, opts ImportOptions, res *ImportResult) error {
	c := row.cells
	var existing *User
	if opts.Update {
		u, err := t.tx.LookupUser(t.ctx, tn.ID, KeyUserName, c["userName"])
		if err == nil {
			existing = &u
		} else if !isNotFound(err) {
			return err
		}
	}
	var u User
	if existing != nil {
		u = existing.Clone()
	}
	if err := t.applyCSV(tn, &u, c); err != nil {
		if !errors.Is(err, ErrInvalid) {
			return err
		}
		// Report the cell problems of the rest of the row too.
		var p Problems
		p.Merge("", err)
		check := u.Clone()
		if verr := check.normalize(tn.Region, tn.Extensions); verr != nil {
			p.Merge("", verr)
		}
		return p.Err()
	}
	if existing == nil {
		if _, err := t.createUser(tn.ID, u, row.hash); err != nil {
			return err
		}
		res.Created++
		return nil
	}
	out, err := t.updateUser(*existing, u, row.hash)
	if err != nil {
		return err
	}
	if out.Version == existing.Version {
		res.Unchanged++
	} else {
		res.Updated++
	}
	return nil
}

// applyCSV sets the fields of u that the row's cells name.
func (t *txn) applyCSV(tn Tenant, u *User, c map[string]string) error {
	var p Problems
	set := func(col string, dst *string) {
		if v, ok := c[col]; ok {
			*dst = v
		}
	}
	set("userName", &u.UserName)
	set("givenName", &u.Name.Given)
	set("familyName", &u.Name.Family)
	set("displayName", &u.DisplayName)
	set("nickname", &u.Nickname)
	set("extension", &u.Extension)
	set("stationNumber", &u.StationNumber)
	set("title", &u.Title)
	set("department", &u.Enterprise.Department)
	set("location", &u.Location)
	set("language", &u.Language)
	set("timeZone", &u.TimeZone)
	set("customId", &u.CustomID)
	set("externalId", &u.Owner.ExternalID)
	set("callerId", &u.CallerID.Number)
	if v, ok := c["kind"]; ok {
		u.Kind = UserKind(v)
	}
	if v, ok := c["role"]; ok {
		u.Role = Role(v)
	}
	if v, ok := c["status"]; ok {
		u.Status = Status(v)
	}
	if v, ok := c["recording"]; ok {
		u.Recording = RecordingMode(v)
	}
	if v, ok := c["email"]; ok {
		if v == "" {
			u.Emails = nil
		} else {
			u.Emails = []Email{{Value: v, Type: "work", Primary: true}}
		}
	}
	phones := u.PhoneNumbers[:0:0]
	for _, pn := range u.PhoneNumbers {
		if (pn.Type != PhoneWork || !hasCol(c, "workPhone")) && (pn.Type != PhoneMobile || !hasCol(c, "mobilePhone")) {
			phones = append(phones, pn)
		}
	}
	if v := c["workPhone"]; v != "" {
		phones = append([]PhoneNumber{{Number: v, Type: PhoneWork, Primary: true}}, phones...)
	}
	if v := c["mobilePhone"]; v != "" {
		phones = append(phones, PhoneNumber{Number: v, Type: PhoneMobile})
	}
	u.PhoneNumbers = phones
	if v, ok := c["anonymous"]; ok {
		u.CallerID.Anonymous = parseCSVBool(&p, "anonymous", v)
	}
	if v, ok := c["mustChangePassword"]; ok {
		u.Password.MustChange = parseCSVBool(&p, "mustChangePassword", v)
	}
	if c["password"] != "" {
		u.Password.Mode = PasswordManual
	}
	if v, ok := c["answerMode"]; ok {
		u.Routing.AnswerMode = AnswerMode(v)
	}
	if v, ok := c["backupNumber"]; ok {
		if v == "" {
			u.Routing = u.Routing.WithBackupNumber("")
		} else if e164, _, err := NormalizeE164(v, tn.Region); err != nil {
			p.Add("backupNumber", "%q %s", v, err.Error())
		} else {
			u.Routing = u.Routing.WithBackupNumber(e164)
		}
	}
	if v, ok := c["features"]; ok {
		u.Features = Features{}
		for _, f := range splitList(v) {
			if !setFeature(&u.Features, f) {
				p.Add("features", "unknown feature %q (known: %s)", f, strings.Join(featureNames, ", "))
			}
		}
	}
	if v, ok := c["notifications"]; ok {
		u.Notifications = nil
		for _, n := range splitList(v) {
			u.Notifications = append(u.Notifications, Notification(n))
		}
	}
	if v, ok := c["profiles"]; ok {
		u.Profiles = nil
		for _, name := range splitList(v) {
			pr, err := t.tx.LookupProfile(t.ctx, tn.ID, name)
			if isNotFound(err) {
				p.Add("profiles", "no profile named %q", name)
				continue
			}
			if err != nil {
				return err
			}
			u.Profiles = append(u.Profiles, pr.ID)
		}
	}
	if v, ok := c["teams"]; ok {
		u.Teams = nil
		for _, name := range splitList(v) {
			tm, err := t.tx.LookupTeam(t.ctx, tn.ID, TeamKeyName, name)
			if isNotFound(err) {
				p.Add("teams", "no team named %q", name)
				continue
			}
			if err != nil {
				return err
			}
			u.Teams = append(u.Teams, tm.ID)
		}
	}
	return p.Err()
}

func hasCol(c map[string]string, col string) bool { _, ok := c[col]; return ok }

func parseCSVBool(p *Problems, col, v string) bool {
	switch strings.ToLower(v) {
	case "", "false", "no", "0", "n":
		return false
	case "true", "yes", "1", "y":
		return true
	}
	p.Add(col, "%q is not true or false", v)
	return false
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ";") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

var featureNames = []string{"mobileApp", "webCalls", "operatorConsole", "voicemail", "fixedMobileSim",
	"hotDesking", "multipleCallerId", "busyReject", "textMessages"}

func featureFlags(f *Features) []*bool {
	return []*bool{&f.MobileApp, &f.WebCalls, &f.OperatorConsole, &f.Voicemail, &f.FixedMobileSIM,
		&f.HotDesking, &f.MultipleCallerID, &f.BusyReject, &f.TextMessages}
}

func setFeature(f *Features, name string) bool {
	for i, n := range featureNames {
		if strings.EqualFold(n, name) {
			*featureFlags(f)[i] = true
			return true
		}
	}
	return false
}

// FeatureNames returns the names of the features a user has on, in the CSV
// and SCIM spelling.
func (f Features) Names() []string {
	var out []string
	for i, b := range featureFlags(&f) {
		if *b {
			out = append(out, featureNames[i])
		}
	}
	return out
}

// ExportCSV writes the tenant's users selected by q (Offset and Limit are
// ignored: every matching user is written, page by page) as CSV with the
// CSVColumns header, in a form ImportCSV reads back. Passwords are never
// exported. progress, when set, is called after each page.
func (d *Directory) ExportCSV(ctx context.Context, tenant string, w io.Writer, q UserQuery, progress func(done, total int)) (int, error) {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVColumns); err != nil {
		return 0, err
	}
	names := map[string]string{} // profile and team ids → names
	name := func(kind, id string) string {
		if n, ok := names[kind+id]; ok {
			return n
		}
		var n string
		_ = d.view(ctx, func(t *txn) error {
			if kind == "p" {
				if p, err := t.tx.GetProfile(t.ctx, tenant, id); err == nil {
					n = p.Name
				}
			} else if tm, err := t.tx.GetTeam(t.ctx, tenant, id); err == nil {
				n = tm.Name
			}
			return nil
		})
		names[kind+id] = n
		return n
	}
	q.Limit, q.Offset = MaxPageSize, 0
	if q.SortBy == "" {
		q.SortBy = AttrID
	}
	n := 0
	for {
		page, err := d.ListUsers(ctx, tenant, q)
		if err != nil {
			return n, err
		}
		for _, u := range page.Users {
			if err := cw.Write(csvRecord(&u, name)); err != nil {
				return n, err
			}
			n++
		}
		if progress != nil {
			progress(n, page.Total)
		}
		if len(page.Users) < q.Limit {
			break
		}
		q.Offset += len(page.Users)
	}
	cw.Flush()
	return n, cw.Error()
}

func csvRecord(u *User, name func(kind, id string) string) []string {
	var work, mobile string
	for _, p := range u.PhoneNumbers {
		if p.Type == PhoneWork && work == "" {
			work = p.Number
		}
		if p.Type == PhoneMobile && mobile == "" {
			mobile = p.Number
		}
	}
	var profiles, teams, notes []string
	for _, id := range u.Profiles {
		profiles = append(profiles, name("p", id))
	}
	for _, id := range u.Teams {
		teams = append(teams, name("t", id))
	}
	for _, n := range u.Notifications {
		notes = append(notes, string(n))
	}
	backup := u.Routing.BackupNumber()
	return []string{
		u.UserName, u.Name.Given, u.Name.Family, u.DisplayName, u.Nickname, u.PrimaryEmail(), u.Extension,
		u.StationNumber, string(u.Kind), string(u.Role), string(u.Status), u.Title, u.Enterprise.Department,
		u.Location, u.Language, u.TimeZone, work, mobile, u.CustomID, u.Owner.ExternalID,
		strings.Join(profiles, ";"), strings.Join(teams, ";"), string(u.Recording), strings.Join(u.Features.Names(), ";"),
		strings.Join(notes, ";"), u.CallerID.Number, strconv.FormatBool(u.CallerID.Anonymous),
		string(u.Routing.AnswerMode), backup, "", strconv.FormatBool(u.Password.MustChange),
	}
}
