package scim

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elimity-com/scim"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/sqlite"
)

// panicky is a users handler whose Get panics.
type panicky struct{ *usersHandler }

func (panicky) Get(*http.Request, string) (scim.Resource, error) { panic("boom: secret internals") }

// TestPanicRecovery: a panic below the middleware is logged with its stack
// and answered with a generic SCIM 500.
func TestPanicRecovery(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "pbx.db"))
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	dir := pbxusers.New(store, pbxusers.Options{PasswordCost: 4})
	_, err = dir.CreateTenant(ctx, pbxusers.Tenant{ID: "acme"})
	require.NoError(t, err)
	token, _, err := dir.CreateToken(ctx, "acme", "idp")
	require.NoError(t, err)
	var logs strings.Builder
	h, err := New(dir, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	s := h.(*server)
	s.rt.resourceTypes[0].Handler = panicky{&usersHandler{s: s}} // pbxgate serves /Users itself

	req := httptest.NewRequest("GET", Prefix+"/Users/x", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Equal(t, 500, rec.Code)
	assert.JSONEq(t, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"detail":"internal server error","status":"500"}`, rec.Body.String())
	assert.Contains(t, logs.String(), "panic serving request")
	assert.Contains(t, logs.String(), "boom")
}
