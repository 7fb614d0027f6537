package postgres

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/internal/sqlquery"
)

// TestCompileFilter pins the SQL filters compile to, without a database:
// NULL handling under NOT and ne, sw as an index range, ew and co without
// LIKE, lowercased values for case-insensitive attributes, numbered
// placeholders.
func TestCompileFilter(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name     string
		filter   pbxusers.Filter
		wantSQL  string
		wantArgs []any
	}{
		{"eq lowercases userName", pbxusers.Eq(pbxusers.AttrUserName, "ÄDA"),
			"u.user_name_lc = $2", []any{"äda"}},
		{"eq keeps externalId", pbxusers.Eq(pbxusers.AttrExternalID, "X-1"),
			"u.external_id = $2", []any{"X-1"}},
		{"ne counts missing as not equal", &pbxusers.Compare{Attr: pbxusers.AttrExtension, Op: pbxusers.OpNe, Value: "201"},
			"coalesce(u.extension <> $2, TRUE)", []any{"201"}},
		{"sw is a range", &pbxusers.Compare{Attr: pbxusers.AttrDisplayName, Op: pbxusers.OpSw, Value: "User D"},
			"(u.display_lc >= $2 AND u.display_lc < $3)", []any{"user d", "user d\U0010FFFF"}},
		{"ew", &pbxusers.Compare{Attr: pbxusers.AttrUserName, Op: pbxusers.OpEw, Value: "CE"},
			"(length($2::text) = 0 OR right(u.user_name_lc, length($2::text)) = $2::text)", []any{"ce"}},
		{"co", &pbxusers.Compare{Attr: pbxusers.AttrUserName, Op: pbxusers.OpCo, Value: "%_"},
			"strpos(u.user_name_lc, $2) > 0", []any{"%_"}},
		{"pr on text excludes empty", &pbxusers.Compare{Attr: pbxusers.AttrExternalID, Op: pbxusers.OpPresent},
			"(u.external_id IS NOT NULL AND u.external_id <> '')", nil},
		{"time", &pbxusers.Compare{Attr: pbxusers.AttrLastModified, Op: pbxusers.OpGt, Value: at},
			"u.updated > $2", []any{at}},
		{"bool", pbxusers.Eq(pbxusers.AttrActive, false), "u.active = $2", []any{false}},
		{"not is never null", pbxusers.Not{Filter: pbxusers.Eq(pbxusers.AttrExtension, "1")},
			"NOT coalesce((u.extension = $2), FALSE)", []any{"1"}},
		{"email in exists", pbxusers.Eq(pbxusers.AttrEmail, "A@B"),
			"EXISTS (SELECT 1 FROM user_emails e WHERE e.user_id = u.id AND e.tenant_id = u.tenant_id AND e.address_lc = $2)", []any{"a@b"}},
		{"email value path is one row", &pbxusers.EmailMatch{Filter: pbxusers.And{pbxusers.Eq(pbxusers.AttrEmailType, "Work"), pbxusers.Eq(pbxusers.AttrEmail, "x")}},
			"EXISTS (SELECT 1 FROM user_emails e WHERE e.user_id = u.id AND e.tenant_id = u.tenant_id AND ((e.type = $2) AND (e.address_lc = $3)))", []any{"work", "x"}},
		{"empty and/or", pbxusers.Or{pbxusers.And{}, pbxusers.Or{}}, "(TRUE) OR (FALSE)", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := sqlquery.NewBuilder(flavor.Query)
			b.Where("u.tenant_id = ?", "acme")
			require.NoError(t, b.Filter(tc.filter, sqlquery.UserAttrs))
			assert.Equal(t, "u.tenant_id = $1 AND "+tc.wantSQL, b.SQL())
			assert.Equal(t, append([]any{"acme"}, tc.wantArgs...), b.Args)
		})
	}

	b := sqlquery.NewBuilder(flavor.Query)
	err := b.Filter(pbxusers.Eq("password", "x"), sqlquery.UserAttrs)
	require.ErrorIs(t, err, pbxusers.ErrInvalid)
	err = b.Filter(pbxusers.Eq(pbxusers.AttrUserName, "x"), sqlquery.TeamAttrs)
	require.ErrorIs(t, err, pbxusers.ErrInvalid)
}

func TestMigrationsAreNumbered(t *testing.T) {
	ms, err := migrations()
	require.NoError(t, err)
	require.NotEmpty(t, ms)
	// Numbers only grow and never repeat; gaps are allowed, so branches
	// developed in parallel can pick numbers that do not clash.
	prev := 0
	for _, m := range ms {
		assert.Greater(t, m.version, prev, m.name)
		assert.NotEmpty(t, m.body)
		prev = m.version
	}
}
