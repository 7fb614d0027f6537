package pbxusers

import (
	"context"
	"encoding/csv"
	"io"

	"strings"
)

// csvCodec turns users into CSV cells and cells into users inside one
// transaction: it resolves names (profiles, teams, users) and caches them,
// and collects the problems of the row being read.
type csvCodec struct {
	t  *txn
	tn Tenant

	// problems and err are the current row's: cell problems, and a storage
	// failure that ends the import.
	problems Problems
	err      error
	// line is the line of the row being read; 0 once every row is written.
	line int
	// fileNames maps the lowercased userNames of the file to their lines,
	// so a reference to a later row can wait for it.
	fileNames map[string]int
	// deferred is set by a cell naming a user of a later row.
	deferred bool

	profileNames, teamNames, userNames map[string]string // id → name
	// devices and numbers map user ids to SIP ids and E.164 numbers, for
	// an export.
	devices, numbers map[string][]string
}

func newCSVCodec(t *txn, tn Tenant) *csvCodec {
	return &csvCodec{t: t, tn: tn, fileNames: map[string]int{},
		profileNames: map[string]string{}, teamNames: map[string]string{}, userNames: map[string]string{}}
}

// fail records a storage error; the import stops with it.
func (x *csvCodec) fail(err error) {
	if x.err == nil {
		x.err = err
	}
}

func (x *csvCodec) parseBool(col, v string) bool {
	switch strings.ToLower(v) {
	case "", "false", "no", "0", "n":
		return false
	case "true", "yes", "1", "y":
		return true
	}
	x.problems.Add(col, "%q is not true or false", v)
	return false
}

func (x *csvCodec) profileName(id string) string {
	if n, ok := x.profileNames[id]; ok {
		return n
	}
	p, err := x.t.tx.GetProfile(x.t.ctx, x.tn.ID, id)
	if err != nil {
		x.fail(err)
	}
	x.profileNames[id] = p.Name
	return p.Name
}

func (x *csvCodec) teamName(id string) string {
	if n, ok := x.teamNames[id]; ok {
		return n
	}
	tm, err := x.t.tx.GetTeam(x.t.ctx, x.tn.ID, id)
	if err != nil {
		x.fail(err)
	}
	x.teamNames[id] = tm.Name
	return tm.Name
}

// userName returns the userName of a user id.
func (x *csvCodec) userName(id string) string {
	if n, ok := x.userNames[id]; ok {
		return n
	}
	u, err := x.t.tx.GetUser(x.t.ctx, x.tn.ID, id)
	if err != nil && !isNotFound(err) {
		x.fail(err)
	}
	x.userNames[id] = u.UserName
	return u.UserName
}

// userID finds a user by userName for the cell col. When the user is on a
// row of the file not yet written it sets deferred; when there is no such
// user it records a problem.
func (x *csvCodec) userID(col, name string) (string, bool) {
	u, err := x.t.tx.LookupUser(x.t.ctx, x.tn.ID, KeyUserName, name)
	switch {
	case err == nil:
		return u.ID, true
	case !isNotFound(err):
		x.fail(err)
		return "", false
	}
	if line, ok := x.fileNames[UserNameKey(name)]; ok && x.line != 0 && line > x.line {
		x.deferred = true
		return "", false
	}
	x.problems.Add(col, "no user with userName %q", name)
	return "", false
}

// ExportCSV writes the tenant's users selected by q (Offset and Limit are
// ignored: every matching user is written) as CSV with the CSVColumns
// header, from one consistent snapshot, in the form ImportCSV reads back:
// importing the file unchanged with ImportOptions.Update changes nothing.
// Passwords are never exported. progress, when set, is called after each
// page of users.
func (d *Directory) ExportCSV(ctx context.Context, tenant string, w io.Writer, q UserQuery, progress func(done, total int)) (int, error) {
	if err := ValidateUserFilter(q.Filter); err != nil {
		return 0, err
	}
	n := 0
	err := d.view(ctx, func(t *txn) error {
		tn, err := t.tenant(tenant)
		if err != nil {
			return err
		}
		x := newCSVCodec(t, tn)
		devs, err := t.tx.ListDevices(t.ctx, tenant, "")
		if err != nil {
			return err
		}
		x.devices = byUser(devs, func(d Device) (string, string) { return d.UserID, d.SIPID })
		nums, err := t.tx.ListNumbers(t.ctx, tenant, "")
		if err != nil {
			return err
		}
		x.numbers = byUser(nums, func(n Number) (string, string) { return n.UserID, n.E164 })
		cw := csv.NewWriter(w)
		if err := cw.Write(CSVColumns); err != nil {
			return err
		}
		q.Limit, q.Offset = MaxPageSize, 0
		if q.SortBy == "" {
			q.SortBy = AttrID
		}
		rec := make([]string, len(csvColumns))
		for {
			page, err := t.tx.ListUsers(t.ctx, tenant, q)
			if err != nil {
				return err
			}
			for i := range page.Users {
				for c := range csvColumns {
					rec[c] = csvColumns[c].get(x, &page.Users[i])
				}
				if x.err != nil {
					return x.err
				}
				if err := cw.Write(rec); err != nil {
					return err
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
		return cw.Error()
	})
	return n, err
}

// byUser groups devices or numbers by the user they belong to.
func byUser[T any](list []T, key func(T) (user, value string)) map[string][]string {
	out := map[string][]string{}
	for _, v := range list {
		if user, value := key(v); user != "" {
			out[user] = append(out[user], value)
		}
	}
	return out
}
