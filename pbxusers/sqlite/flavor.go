package sqlite

import (
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/pbxgate/pbxgate/pbxusers/internal/sqlquery"
	"github.com/pbxgate/pbxgate/pbxusers/internal/sqlstore"
)

// flavor is what SQLite does its own way: times are microseconds, there
// are no array arguments (a JSON array and json_each instead), and a busy
// database or a constraint is told by the error code.
var flavor = &sqlstore.Flavor{
	Name:      "sqlite",
	Query:     &sqlquery.SQLite,
	Time:      func(t time.Time) any { return t.UnixMicro() },
	Unclaimed: 0,
	NoLimit:   -1,
	// NULLs sort first ascending and last descending already.
	NullsFirst: "",
	NullsLast:  "",
	// A unary + makes a column an expression SQLite has no index for.
	Unindexed: func(col string) string { return "+" + col },
	IDs:       "(SELECT value AS id, key + 1 AS n FROM json_each(?))",
	IDList: func(ids []string) any {
		if len(ids) == 0 {
			return "[]"
		}
		b, _ := json.Marshal(ids)
		return string(b)
	},
	// Memberships aggregated in the user's statement (JSON aggregates over
	// ordered subqueries) added ~40 µs to every page statement: a userName
	// filter took 10-40% longer than with three more statements.
	SidesApart: true,
	// One INSERT's rows are numbered one after another: the file has one
	// writer.
	ConsecutiveIDs: true,
	DocText:        func(col, field string) string { return "json_extract(" + col + ", '$." + field + "')" },
	DocPathText: func(col string, path ...string) string {
		return "json_extract(" + col + ", '$." + strings.Join(path, ".") + "')"
	},
	DocArrayHas: func(col string, path ...string) string {
		return "EXISTS (SELECT 1 FROM json_each(" + col + ", '$." + strings.Join(path, ".") + "') WHERE value = ?)"
	},
	Digits: func(col string) string { return col + " NOT GLOB '*[^0-9]*'" },
	Successor: func(col string, width int) string {
		return "printf('%0" + strconv.Itoa(width) + "d', CAST(" + col + " AS INTEGER) + 1)"
	},
	InsertOrder: "rowid",
	// One statement, in the single writer: nobody can claim in between.
	ClaimMail: `UPDATE outbox SET claimed_by = ?1, claimed_until = ?2
		WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt <= ?3
			AND (claimed_by = '' OR claimed_by = ?1 OR claimed_until <= ?3) ORDER BY next_attempt, id LIMIT ?4)
		RETURNING ` + sqlstore.MailColumns,
	Classify: classify,
}

// uniqueFields maps unique index columns to the field names callers know.
var uniqueFields = map[string][2]string{
	"users.user_name_lc":       {"user", "userName"},
	"users.extension":          {"user", "extension"},
	"users.station":            {"user", "stationNumber"},
	"users.external_id":        {"user", "externalId"},
	"user_emails.address_lc":   {"user", "email"},
	"profiles.name_lc":         {"profile", "name"},
	"teams.name_lc":            {"team", "name"},
	"teams.external_id":        {"team", "externalId"},
	"devices.sip_id":           {"device", "sipId"},
	"devices.mac":              {"device", "mac"},
	"tenants.id":               {"tenant", "id"},
	"users.id":                 {"user", "id"},
	"api_tokens.id":            {"token", "id"},
	"timeframes.id":            {"time frame", "id"},
	"team_members.user_id":     {"team", "members"},
	"numbers.e164":             {"number", "e164"},
	"routing_user_refs.target": {"user", "routing"},
}

// classify says what a driver error means.
func classify(err error) (sqlstore.ErrorClass, string, string) {
	if errors.Is(err, sql.ErrNoRows) {
		return sqlstore.ClassNoRows, "", ""
	}
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return sqlstore.ClassOther, "", ""
	}
	switch se.Code {
	case sqlite3.ErrBusy, sqlite3.ErrLocked:
		return sqlstore.ClassUnavailable, "", ""
	case sqlite3.ErrConstraint:
		switch se.ExtendedCode {
		case sqlite3.ErrConstraintUnique, sqlite3.ErrConstraintPrimaryKey:
			// "UNIQUE constraint failed: users.tenant_id, users.user_name_lc"
			msg := se.Error()
			cols := strings.Split(msg[strings.LastIndex(msg, ":")+1:], ",")
			last := strings.TrimSpace(cols[len(cols)-1])
			kf, ok := uniqueFields[last]
			if !ok {
				kf = [2]string{strings.SplitN(last, ".", 2)[0], last}
			}
			return sqlstore.ClassUnique, kf[0], kf[1]
		case sqlite3.ErrConstraintForeignKey:
			return sqlstore.ClassForeignKey, "", ""
		}
	}
	return sqlstore.ClassOther, "", ""
}
