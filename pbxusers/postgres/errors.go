package postgres

import (
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pbxgate/pbxgate/pbxusers/internal/sqlstore"
)

// uniqueFields maps unique constraints (index names) to the kind of object
// and the field callers know.
var uniqueFields = map[string][2]string{
	"users_user_name":        {"user", "userName"},
	"users_extension":        {"user", "extension"},
	"users_station":          {"user", "stationNumber"},
	"users_external_id":      {"user", "externalId"},
	"user_emails_address":    {"user", "email"},
	"user_profiles_pkey":     {"user", "profiles"},
	"queue_members_pkey":     {"user", "queues"},
	"profiles_name":          {"profile", "name"},
	"teams_name":             {"team", "name"},
	"teams_external_id":      {"team", "externalId"},
	"team_members_pkey":      {"team", "members"},
	"team_profiles_pkey":     {"team", "profiles"},
	"devices_sip_id":         {"device", "sipId"},
	"devices_mac":            {"device", "mac"},
	"tenants_pkey":           {"tenant", "id"},
	"users_pkey":             {"user", "id"},
	"profiles_pkey":          {"profile", "id"},
	"teams_pkey":             {"team", "id"},
	"devices_pkey":           {"device", "id"},
	"api_tokens_pkey":        {"token", "id"},
	"timeframes_pkey":        {"time frame", "id"},
	"numbers_pkey":           {"number", "e164"},
	"setup_tokens_pkey":      {"set-password token", "id"},
	"routing_user_refs_pkey": {"user", "routing"},
}

// SQLSTATE codes the store acts on.
const (
	codeUniqueViolation          = "23505"
	codeForeignKeyViolation      = "23503"
	codeCharacterNotInRepertoire = "22021"
	codeUntranslatableCharacter  = "22P05"
)

// classify says what a driver error means: a unique violation names the
// field by its constraint, text PostgreSQL cannot store is bad text, and
// lost connections, serialization failures, deadlocks, lock timeouts and a
// server shutting down are unavailable (the operation was not applied and
// may be retried).
func classify(err error) (sqlstore.ErrorClass, string, string) {
	if errors.Is(err, pgx.ErrNoRows) {
		return sqlstore.ClassNoRows, "", ""
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case codeUniqueViolation:
			kf, ok := uniqueFields[pe.ConstraintName]
			if !ok {
				kf = [2]string{pe.TableName, pe.ConstraintName}
			}
			return sqlstore.ClassUnique, kf[0], kf[1]
		case codeForeignKeyViolation:
			return sqlstore.ClassForeignKey, "", ""
		case codeCharacterNotInRepertoire, codeUntranslatableCharacter:
			return sqlstore.ClassBadText, "", ""
		}
	}
	if unavailable(err) {
		return sqlstore.ClassUnavailable, "", ""
	}
	return sqlstore.ClassOther, "", ""
}

// unavailable reports whether err says the server cannot serve the request
// now, as opposed to a request that is wrong.
func unavailable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "40001", // serialization_failure
			"40P01", // deadlock_detected
			"55P03", // lock_not_available (lock_timeout)
			"57014", // query_canceled (statement_timeout)
			"57P01", // admin_shutdown
			"57P02", // crash_shutdown
			"57P03", // cannot_connect_now
			"25006": // read_only_sql_transaction: a standby, mid-failover
			return true
		}
		switch pe.Code[:2] {
		case "08", // connection exception
			"53", // insufficient resources (too many connections, disk full)
			"58": // system error (I/O)
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || pgconn.SafeToRetry(err) ||
		strings.Contains(err.Error(), "closed pool")
}

// isCode reports whether err is a server error with the SQLSTATE code.
func isCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}

// aborts reports whether err leaves the transaction unusable: every error
// the server reports aborts it, and so does a broken connection.
func aborts(err error) bool {
	if err == nil || errors.Is(err, pgx.ErrNoRows) {
		return false
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) || unavailable(err)
}
