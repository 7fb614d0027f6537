package sqlquery

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// TestDialects compiles the same filters in both dialects.
func TestDialects(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	tests := []struct {
		name     string
		filter   pbxusers.Filter
		sqlite   string
		postgres string
		sqlArgs  []any
		pgArgs   []any
	}{
		{"eq lowercases case-insensitive attributes", pbxusers.Eq(pbxusers.AttrUserName, "ADA"),
			"u.user_name_lc = ?", "u.user_name_lc = $1", []any{"ada"}, []any{"ada"}},
		{"id is exact", pbxusers.Eq(pbxusers.AttrID, "AbC"), "u.id = ?", "u.id = $1", []any{"AbC"}, []any{"AbC"}},
		{"bool", pbxusers.Eq(pbxusers.AttrActive, true), "u.active = ?", "u.active = $1", []any{1}, []any{true}},
		{"time", &pbxusers.Compare{Attr: pbxusers.AttrCreated, Op: pbxusers.OpGe, Value: at},
			"u.created >= ?", "u.created >= $1", []any{at.UnixMicro()}, []any{at}},
		{"sw is a range", &pbxusers.Compare{Attr: pbxusers.AttrUserName, Op: pbxusers.OpSw, Value: "a"},
			"(u.user_name_lc >= ? AND u.user_name_lc < ?)", "(u.user_name_lc >= $1 AND u.user_name_lc < $2)",
			[]any{"a", "a\U0010FFFF"}, []any{"a", "a\U0010FFFF"}},
		{"ew", &pbxusers.Compare{Attr: pbxusers.AttrExtension, Op: pbxusers.OpEw, Value: "9"},
			"(length(?) = 0 OR substr(u.extension, -length(?)) = ?)",
			"(length($1::text) = 0 OR right(u.extension, length($1::text)) = $1::text)",
			[]any{"9", "9", "9"}, []any{"9"}},
		{"co", &pbxusers.Compare{Attr: pbxusers.AttrDisplayName, Op: pbxusers.OpCo, Value: "X"},
			"instr(u.display_lc, ?) > 0", "strpos(u.display_lc, $1) > 0", []any{"x"}, []any{"x"}},
		{"ne keeps users without the attribute", &pbxusers.Compare{Attr: pbxusers.AttrExtension, Op: pbxusers.OpNe, Value: "1"},
			"coalesce(u.extension <> ?, 1)", "coalesce(u.extension <> $1, TRUE)", []any{"1"}, []any{"1"}},
		{"not", pbxusers.Not{Filter: pbxusers.Eq(pbxusers.AttrExtension, "1")},
			"NOT coalesce((u.extension = ?), 0)", "NOT coalesce((u.extension = $1), FALSE)", []any{"1"}, []any{"1"}},
		{"pr", &pbxusers.Compare{Attr: pbxusers.AttrExternalID, Op: pbxusers.OpPresent},
			"(u.external_id IS NOT NULL AND u.external_id <> '')", "(u.external_id IS NOT NULL AND u.external_id <> '')", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, d := range []struct {
				dialect *Dialect
				sql     string
				args    []any
			}{{&SQLite, tc.sqlite, tc.sqlArgs}, {&PostgreSQL, tc.postgres, tc.pgArgs}} {
				b := NewBuilder(d.dialect)
				require.NoError(t, b.Filter(tc.filter, UserAttrs))
				assert.Equal(t, d.sql, b.SQL())
				assert.Equal(t, d.args, b.Args)
			}
		})
	}
	_, err := SortColumn("password", UserSorts)
	require.ErrorIs(t, err, pbxusers.ErrInvalid)
	b := NewBuilder(&SQLite)
	assert.Equal(t, "1", b.SQL(), "no conditions")
	require.ErrorIs(t, b.Filter(&pbxusers.Compare{Attr: pbxusers.AttrUserName, Op: pbxusers.OpCo, Value: 3}, UserAttrs), pbxusers.ErrInvalid)
}
