package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// TestErrorMapping pins how driver errors become the library's sentinels,
// without a database.
func TestErrorMapping(t *testing.T) {
	pg := func(code, constraint string) error {
		return fmt.Errorf("exec: %w", &pgconn.PgError{Code: code, ConstraintName: constraint, TableName: "users"})
	}

	var c *pbxusers.ConflictError
	err := flavor.Err("create user", pg("23505", "users_user_name"), "Ada")
	require.ErrorAs(t, err, &c)
	assert.Equal(t, "userName", c.Field)
	assert.Equal(t, "Ada", c.Value)
	require.ErrorIs(t, err, pbxusers.ErrConflict)

	err = flavor.Err("create user", pg("23505", "user_emails_address"), "a@b")
	require.ErrorAs(t, err, &c)
	assert.Equal(t, "email", c.Field)

	err = flavor.Err("create user", pg("23505", "some_new_index"), "x")
	require.ErrorAs(t, err, &c)
	assert.Equal(t, "some_new_index", c.Field, "an unknown constraint is named as it is")

	require.ErrorIs(t, flavor.Err("delete", pg("23503", "x_fkey"), ""), pbxusers.ErrInUse)
	require.ErrorIs(t, flavor.Err("create user", pg("22021", ""), ""), pbxusers.ErrInvalid)
	require.ErrorIs(t, flavor.Err("create user", pg("22P05", ""), ""), pbxusers.ErrInvalid)

	for _, code := range []string{"40001", "40P01", "55P03", "57P01", "08006", "53300"} {
		err := flavor.Err("update user", pg(code, ""), "")
		require.ErrorIs(t, err, pbxusers.ErrUnavailable, code)
		var pe *pgconn.PgError
		require.ErrorAs(t, err, &pe, "the driver error stays reachable")
	}
	require.ErrorIs(t, flavor.Err("read", io.ErrUnexpectedEOF, ""), pbxusers.ErrUnavailable)
	require.ErrorIs(t, flavor.Err("read", fmt.Errorf("x: %w", pgconn.ErrConnClosed), ""), pbxusers.ErrUnavailable)

	err = flavor.Err("get user", pgx.ErrNoRows, "")
	require.ErrorIs(t, err, pbxusers.ErrNotFound)
	assert.Contains(t, err.Error(), "get user: ")

	err = flavor.Err("get user", context.Canceled, "")
	require.ErrorIs(t, err, context.Canceled)
	assert.False(t, errors.Is(err, pbxusers.ErrUnavailable))

	err = flavor.Err("get user", pg("42703", ""), "") // undefined_column: a bug, not an outage
	assert.False(t, errors.Is(err, pbxusers.ErrUnavailable))
	assert.Nil(t, flavor.Err("x", nil, ""))
	assert.Nil(t, flavor.Err("x", nil, ""))
}
