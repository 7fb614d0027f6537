package sqlstore

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestOrderBy(t *testing.T) {
	pg := &Flavor{NullsFirst: " NULLS FIRST", NullsLast: " NULLS LAST"}
	assert.Equal(t, "u.id ASC", pg.orderBy("u.id", false))
	assert.Equal(t, "u.user_name_lc DESC, u.id DESC", pg.orderBy("u.user_name_lc", true))
	assert.Equal(t, "u.extension ASC NULLS FIRST, u.id ASC", pg.orderBy("u.extension", false))
	assert.Equal(t, "u.extension DESC NULLS LAST, u.id DESC", pg.orderBy("u.extension", true))

	lite := &Flavor{}
	assert.Equal(t, "u.extension ASC, u.id ASC", lite.orderBy("u.extension", false))
	assert.Equal(t, "u.extension DESC, u.id DESC", lite.orderBy("u.extension", true))
}

func TestSQLNumbersPlaceholders(t *testing.T) {
	pg := &Flavor{Numbered: true}
	assert.Equal(t, "a = $1 AND b IN ($2, $3)", pg.SQL("a = ? AND b IN (?, ?)"))
	assert.Equal(t, "a = $1 AND b IN ($2, $3)", pg.SQL("a = ? AND b IN (?, ?)"), "from the cache")
	assert.Equal(t, "a = $1", pg.SQL("a = $1"), "a text without ? is left alone")
	lite := &Flavor{}
	assert.Equal(t, "a = ?", lite.SQL("a = ?"))
}
