package pbxusers

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// The user CSV format: one row per user, a header naming the columns. An
// import file may use any subset of CSVColumns in any order; only userName
// is required. An export writes every column, and importing an unchanged
// export with ImportOptions.Update changes nothing ("0 updated").
//
// Cell encodings:
//   - Text, numbers and enumerations are written as they are stored; an
//     empty cell clears the value.
//   - Booleans are true/false (yes/no, 1/0 and y/n are read too).
//   - Lists of simple values (profiles, teams, features, notifications,
//     callerIdAllowed, allowedIps, devices, numbers) are separated by
//     semicolons. Profiles and teams are given by name.
//   - Values that do not fit one cell are JSON, as the library's JSON
//     encoding of the field: emails, phoneNumbers, routing (the whole
//     routing policy), customFields, overrides, queueSettings, addresses,
//     photos, roles, entitlements, and queues (call queues by userName:
//     [{"queue":"support","priority":1,"defaultOutbound":true}]).
//   - manager is the manager's userName; it may name a user of a later row.
//   - devices are SIP ids: listed devices are assigned to the user (a SIP id
//     the tenant does not have yet creates a desk phone), the user's devices
//     not listed are unassigned. numbers are E.164 numbers (DIDs) routed to
//     the user the same way: listed ones are assigned (added to the
//     inventory when new), others of the user are unassigned.
//   - id is written by an export and read back to find the user to update,
//     so an import can change a userName; an id no user has is ignored.
//   - password is write-only: never exported.
//
// A file may hold a whole value and a cell that edits part of it: emails
// and email (the primary address), phoneNumbers and workPhone/mobilePhone
// (the first number of that type), routing and answerMode, forwardNumber,
// backupNumber. The whole value is applied first, then the partial cells,
// so editing the email cell of an export changes the primary address and
// keeps the others.

// csvStage orders how a row's cells are applied.
type csvStage int

const (
	// stageWhole cells set a value of their own, or a whole value that
	// partial cells may then edit.
	stageWhole csvStage = iota
	// stagePart cells edit part of a value a stageWhole cell may have set.
	stagePart
	// stageRef cells name other users by userName; the user named may be on
	// a later row of the file.
	stageRef
	// stageInventory cells assign devices and numbers once every row is
	// written.
	stageInventory
)

// csvColumn is one column of the user CSV format: how a user's value is
// written to its cell, and how a cell is read into a user.
type csvColumn struct {
	name  string
	stage csvStage
	// fields are the validation paths the column sets (a path also
	// covers its sub-paths), so problems point at the cell.
	fields []string
	get    func(x *csvCodec, u *User) string
	// set reads the cell into u; problems go to x.problems, storage errors
	// to x.err. nil for columns applied elsewhere (devices, numbers).
	set func(x *csvCodec, u *User, v string)
}

// csvColumns defines the format. The order is the export order: the columns
// of earlier versions first, so their position never changes.
var csvColumns = []csvColumn{
	textColumn("userName", "userName", func(u *User) *string { return &u.UserName }),
	textColumn("givenName", "name.given", func(u *User) *string { return &u.Name.Given }),
	textColumn("familyName", "name.family", func(u *User) *string { return &u.Name.Family }),
	textColumn("displayName", "displayName", func(u *User) *string { return &u.DisplayName }),
	textColumn("nickname", "nickname", func(u *User) *string { return &u.Nickname }),
	{name: "email", stage: stagePart, fields: []string{"emails"}, get: getPrimaryEmail, set: setPrimaryEmail},
	textColumn("extension", "extension", func(u *User) *string { return &u.Extension }),
	textColumn("stationNumber", "stationNumber", func(u *User) *string { return &u.StationNumber }),
	enumColumn("kind", "kind", func(u *User) *UserKind { return &u.Kind }),
	enumColumn("role", "role", func(u *User) *Role { return &u.Role }),
	enumColumn("status", "status", func(u *User) *Status { return &u.Status }),
	textColumn("title", "title", func(u *User) *string { return &u.Title }),
	textColumn("department", "enterprise.department", func(u *User) *string { return &u.Enterprise.Department }),
	textColumn("location", "location", func(u *User) *string { return &u.Location }),
	textColumn("language", "language", func(u *User) *string { return &u.Language }),
	textColumn("timeZone", "timeZone", func(u *User) *string { return &u.TimeZone }),
	phoneColumn("workPhone", PhoneWork),
	phoneColumn("mobilePhone", PhoneMobile),
	textColumn("customId", "customId", func(u *User) *string { return &u.CustomID }),
	textColumn("externalId", "owner.externalId", func(u *User) *string { return &u.Owner.ExternalID }),
	{name: "profiles", fields: []string{"profiles"}, get: getProfiles, set: setProfiles},
	{name: "teams", fields: []string{"teams"}, get: getTeams, set: setTeams},
	enumColumn("recording", "recording", func(u *User) *RecordingMode { return &u.Recording }),
	{name: "features", fields: []string{"features"}, get: getFeatures, set: setFeatures},
	listColumn("notifications", "notifications", func(u *User) *[]Notification { return &u.Notifications }),
	textColumn("callerId", "callerId.number", func(u *User) *string { return &u.CallerID.Number }),
	boolColumn("anonymous", "callerId.anonymous", func(u *User) *bool { return &u.CallerID.Anonymous }),
	{name: "answerMode", stage: stagePart, fields: []string{"routing.answerMode"},
		get: func(_ *csvCodec, u *User) string { return string(u.Routing.AnswerMode) },
		set: func(_ *csvCodec, u *User, v string) { u.Routing.AnswerMode = AnswerMode(v) }},
	{name: "backupNumber", stage: stagePart, get: getBackupNumber, set: setBackupNumber},
	{name: "password", fields: []string{"password"},
		get: func(*csvCodec, *User) string { return "" },
		set: func(_ *csvCodec, u *User, v string) {
			if v != "" {
				u.Password.Mode = PasswordManual
			}
		}},
	boolColumn("mustChangePassword", "password.mustChange", func(u *User) *bool { return &u.Password.MustChange }),

	// Added for lossless round trips.
	{name: "id", get: func(_ *csvCodec, u *User) string { return u.ID }, set: func(*csvCodec, *User, string) {}},
	textColumn("middleName", "name.middle", func(u *User) *string { return &u.Name.Middle }),
	textColumn("namePrefix", "name.prefix", func(u *User) *string { return &u.Name.Prefix }),
	textColumn("nameSuffix", "name.suffix", func(u *User) *string { return &u.Name.Suffix }),
	textColumn("formattedName", "name.formatted", func(u *User) *string { return &u.Name.Formatted }),
	jsonColumn("emails", "emails", func(u *User) *[]Email { return &u.Emails }),
	jsonColumn("phoneNumbers", "phoneNumbers", func(u *User) *[]PhoneNumber { return &u.PhoneNumbers }),
	textColumn("callerIdName", "callerId.name", func(u *User) *string { return &u.CallerID.Name }),
	listColumn("callerIdAllowed", "callerId.allowed", func(u *User) *[]string { return &u.CallerID.Allowed }),
	textColumn("emergencyCallerId", "callerId.emergency", func(u *User) *string { return &u.CallerID.Emergency }),
	textColumn("employeeNumber", "enterprise.employeeNumber", func(u *User) *string { return &u.Enterprise.EmployeeNumber }),
	textColumn("costCenter", "enterprise.costCenter", func(u *User) *string { return &u.Enterprise.CostCenter }),
	textColumn("organization", "enterprise.organization", func(u *User) *string { return &u.Enterprise.Organization }),
	textColumn("division", "enterprise.division", func(u *User) *string { return &u.Enterprise.Division }),
	{name: "manager", stage: stageRef, fields: []string{"managerId"}, get: getManager, set: setManager},
	jsonColumn("customFields", "customFields", func(u *User) *map[string]string { return &u.CustomFields }),
	jsonColumn("overrides", "overrides", func(u *User) *PermissionSet { return &u.Overrides }),
	{name: "queues", stage: stageRef, fields: []string{"queues"}, get: getQueues, set: setQueues},
	jsonColumn("queueSettings", "queue", func(u *User) **QueueSettings { return &u.Queue }),
	boolColumn("ipRestriction", "ipRestriction.enabled", func(u *User) *bool { return &u.IPRestriction.Enabled }),
	listColumn("allowedIps", "ipRestriction.allowed", func(u *User) *[]string { return &u.IPRestriction.Allowed }),
	enumColumn("passwordMode", "password.mode", func(u *User) *PasswordMode { return &u.Password.Mode }),
	{name: "forwardNumber", stage: stagePart, fields: []string{"routing.forwardNumber"},
		get: func(_ *csvCodec, u *User) string { return u.Routing.ForwardNumber },
		set: func(_ *csvCodec, u *User, v string) { u.Routing.ForwardNumber = v }},
	jsonColumn("routing", "routing", func(u *User) *RoutingPolicy { return &u.Routing }),
	{name: "devices", stage: stageInventory, get: getDevices},
	{name: "numbers", stage: stageInventory, get: getNumbers},
	jsonColumn("addresses", "addresses", func(u *User) *[]Address { return &u.Addresses }),
	jsonColumn("photos", "photos", func(u *User) *[]Attribute { return &u.Photos }),
	jsonColumn("roles", "roles", func(u *User) *[]Attribute { return &u.Roles }),
	jsonColumn("entitlements", "entitlements", func(u *User) *[]Attribute { return &u.Entitlements }),
}

// CSVColumns is the header of the user CSV format, in export order. See the
// comment at the top of csv.go (and the README) for each column's encoding.
var CSVColumns = func() []string {
	out := make([]string, len(csvColumns))
	for i, c := range csvColumns {
		out[i] = c.name
	}
	return out
}()

// lookupColumn returns the column named name.
func lookupColumn(name string) (*csvColumn, bool) {
	for i := range csvColumns {
		if csvColumns[i].name == name {
			return &csvColumns[i], true
		}
	}
	return nil, false
}

func textColumn(name, field string, ptr func(*User) *string) csvColumn {
	return csvColumn{name: name, fields: []string{field},
		get: func(_ *csvCodec, u *User) string { return *ptr(u) },
		set: func(_ *csvCodec, u *User, v string) { *ptr(u) = v }}
}

func enumColumn[T ~string](name, field string, ptr func(*User) *T) csvColumn {
	return csvColumn{name: name, fields: []string{field},
		get: func(_ *csvCodec, u *User) string { return string(*ptr(u)) },
		set: func(_ *csvCodec, u *User, v string) { *ptr(u) = T(v) }}
}

func boolColumn(name, field string, ptr func(*User) *bool) csvColumn {
	return csvColumn{name: name, fields: []string{field},
		get: func(_ *csvCodec, u *User) string { return strconv.FormatBool(*ptr(u)) },
		set: func(x *csvCodec, u *User, v string) { *ptr(u) = x.parseBool(name, v) }}
}

func listColumn[T ~string](name, field string, ptr func(*User) *[]T) csvColumn {
	return csvColumn{name: name, fields: []string{field},
		get: func(_ *csvCodec, u *User) string {
			parts := make([]string, len(*ptr(u)))
			for i, v := range *ptr(u) {
				parts[i] = string(v)
			}
			return strings.Join(parts, ";")
		},
		set: func(_ *csvCodec, u *User, v string) {
			var out []T
			for _, s := range splitList(v) {
				out = append(out, T(s))
			}
			*ptr(u) = out
		}}
}

// jsonColumn is a column whose cell is the field's JSON encoding; an empty
// cell is the zero value, and a zero value is written as an empty cell.
func jsonColumn[T any](name, field string, ptr func(*User) *T) csvColumn {
	return csvColumn{name: name, fields: []string{field},
		get: func(_ *csvCodec, u *User) string {
			v := *ptr(u)
			if emptyValue(reflect.ValueOf(v)) {
				return ""
			}
			b, err := json.Marshal(v)
			if err != nil {
				return "" // the library's own types always marshal
			}
			return string(b)
		},
		set: func(x *csvCodec, u *User, v string) {
			var zero T
			if v == "" {
				*ptr(u) = zero
				return
			}
			if err := strictJSON([]byte(v), &zero); err != nil {
				x.problems.Merge(name, err)
				return
			}
			*ptr(u) = zero
		}}
}

// phoneColumn edits the first phone number of a type: an empty cell removes
// it, a new number replaces it (or adds one, primary when none is).
func phoneColumn(name string, typ PhoneType) csvColumn {
	find := func(u *User) int {
		return slices.IndexFunc(u.PhoneNumbers, func(p PhoneNumber) bool { return p.Type == typ })
	}
	return csvColumn{name: name, stage: stagePart, fields: []string{"phoneNumbers"},
		get: func(_ *csvCodec, u *User) string {
			if i := find(u); i >= 0 {
				return u.PhoneNumbers[i].Number
			}
			return ""
		},
		set: func(_ *csvCodec, u *User, v string) {
			i := find(u)
			switch {
			case i >= 0 && v == "":
				u.PhoneNumbers = slices.Delete(slices.Clone(u.PhoneNumbers), i, i+1)
			case i >= 0 && u.PhoneNumbers[i].Number != v:
				u.PhoneNumbers = slices.Clone(u.PhoneNumbers)
				u.PhoneNumbers[i].Number, u.PhoneNumbers[i].Ext = v, ""
			case i < 0 && v != "":
				primary := !slices.ContainsFunc(u.PhoneNumbers, func(p PhoneNumber) bool { return p.Primary })
				u.PhoneNumbers = append(slices.Clone(u.PhoneNumbers), PhoneNumber{Number: v, Type: typ, Primary: primary})
			}
		}}
}

// primaryEmailIndex returns the index of the address PrimaryEmail returns,
// or -1.
func primaryEmailIndex(u *User) int {
	if i := slices.IndexFunc(u.Emails, func(e Email) bool { return e.Primary }); i >= 0 {
		return i
	}
	if len(u.Emails) > 0 {
		return 0
	}
	return -1
}

func getPrimaryEmail(_ *csvCodec, u *User) string { return u.PrimaryEmail() }

// setPrimaryEmail edits the primary address and keeps the others.
func setPrimaryEmail(_ *csvCodec, u *User, v string) {
	i := primaryEmailIndex(u)
	switch {
	case i >= 0 && v == "":
		u.Emails = slices.Delete(slices.Clone(u.Emails), i, i+1)
	case i >= 0 && u.Emails[i].Value != v:
		u.Emails = slices.Clone(u.Emails)
		u.Emails[i].Value = v
	case i < 0 && v != "":
		u.Emails = []Email{{Value: v, Type: "work", Primary: true}}
	}
}

func getBackupNumber(_ *csvCodec, u *User) string { return u.Routing.BackupNumber() }

func setBackupNumber(x *csvCodec, u *User, v string) {
	if v == "" {
		u.Routing = u.Routing.WithBackupNumber("")
		return
	}
	e164, _, err := NormalizeE164(v, x.tn.Region)
	if err != nil {
		x.problems.Add("backupNumber", "%q %s", v, err.Error())
		return
	}
	u.Routing = u.Routing.WithBackupNumber(e164)
}

func getFeatures(_ *csvCodec, u *User) string { return strings.Join(u.Features.Names(), ";") }

func setFeatures(x *csvCodec, u *User, v string) {
	for _, f := range u.SetFeatureNames(splitList(v)) {
		x.problems.Add("features", "unknown feature %q (known: %s)", f, strings.Join(FeatureNames(), ", "))
	}
}

func getProfiles(x *csvCodec, u *User) string {
	names := make([]string, len(u.Profiles))
	for i, id := range u.Profiles {
		names[i] = x.profileName(id)
	}
	return strings.Join(names, ";")
}

func setProfiles(x *csvCodec, u *User, v string) {
	u.Profiles = nil
	for _, name := range splitList(v) {
		pr, err := x.t.tx.LookupProfile(x.t.ctx, x.tn.ID, name)
		switch {
		case isNotFound(err):
			x.problems.Add("profiles", "no profile named %q", name)
		case err != nil:
			x.fail(err)
		default:
			u.Profiles = append(u.Profiles, pr.ID)
		}
	}
}

func getTeams(x *csvCodec, u *User) string {
	names := make([]string, len(u.Teams))
	for i, id := range u.Teams {
		names[i] = x.teamName(id)
	}
	return strings.Join(names, ";")
}

func setTeams(x *csvCodec, u *User, v string) {
	u.Teams = nil
	for _, name := range splitList(v) {
		tm, err := x.t.tx.LookupTeam(x.t.ctx, x.tn.ID, TeamKeyName, name)
		switch {
		case isNotFound(err):
			x.problems.Add("teams", "no team named %q", name)
		case err != nil:
			x.fail(err)
		default:
			u.Teams = append(u.Teams, tm.ID)
		}
	}
}

func getManager(x *csvCodec, u *User) string {
	if u.ManagerID == "" {
		return ""
	}
	return x.userName(u.ManagerID)
}

func setManager(x *csvCodec, u *User, v string) {
	if v == "" {
		u.ManagerID = ""
		return
	}
	if id, ok := x.userID("manager", v); ok {
		u.ManagerID = id
	}
}

// csvQueue is a queue membership in the queues cell: the queue by userName.
type csvQueue struct {
	Queue           string `json:"queue"`
	Priority        int    `json:"priority,omitempty"`
	DefaultOutbound bool   `json:"defaultOutbound,omitempty"`
}

func getQueues(x *csvCodec, u *User) string {
	if len(u.Queues) == 0 {
		return ""
	}
	qs := make([]csvQueue, len(u.Queues))
	for i, q := range u.Queues {
		qs[i] = csvQueue{Queue: x.userName(q.QueueID), Priority: q.Priority, DefaultOutbound: q.DefaultOutbound}
	}
	b, _ := json.Marshal(qs)
	return string(b)
}

func setQueues(x *csvCodec, u *User, v string) {
	var qs []csvQueue
	if v != "" {
		if err := strictJSON([]byte(v), &qs); err != nil {
			x.problems.Merge("queues", err)
			return
		}
	}
	out := make([]QueueMembership, 0, len(qs))
	for _, q := range qs {
		id, ok := x.userID("queues", q.Queue)
		if !ok {
			return
		}
		out = append(out, QueueMembership{QueueID: id, Priority: q.Priority, DefaultOutbound: q.DefaultOutbound})
	}
	if len(out) == 0 {
		out = nil
	}
	u.Queues = out
}

func getDevices(x *csvCodec, u *User) string { return strings.Join(x.devices[u.ID], ";") }

func getNumbers(x *csvCodec, u *User) string { return strings.Join(x.numbers[u.ID], ";") }

// RowError is one problem of a CSV import: the line (1 is the header), the
// column and why.
type RowError struct {
	Line   int
	Column string
	Reason string
}

// Error names the line (and column) and the problem.
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

// Error lists the rows that have problems.
func (e *ImportError) Error() string {
	var b strings.Builder
	n := len(e.Rows)
	fmt.Fprintf(&b, "import rejected, nothing applied: %d %s", n, plural(n, "problem", "problems"))
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

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
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
