package pbxusers_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// TestWarningsInTheChangeLog: warnings a caller collected while mapping a
// write are recorded in that write's change-log entry, once.
func TestWarningsInTheChangeLog(t *testing.T) {
	d := mustDir(t)
	ctx := pbxusers.WithWarnings(context.Background(), func() []pbxusers.Warning {
		return []pbxusers.Warning{{Field: "timeZone", Reason: "unknown IANA time zone; skipped"}}
	})
	u, err := d.CreateUser(ctx, "acme", validPerson())
	require.NoError(t, err)
	changes, err := d.Changes(context.Background(), "acme", pbxusers.ChangeQuery{EntityID: u.ID})
	require.NoError(t, err)
	require.Len(t, changes, 1)
	assert.Contains(t, changes[0].Fields, pbxusers.FieldChange{Field: "timeZone", Warning: "unknown IANA time zone; skipped"})
}
