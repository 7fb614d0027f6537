package pbxfeed_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/internal/pbxfeed"
	"github.com/pbxgate/pbxgate/pbxusers"
)

func (f *fixture) changes(t *testing.T, token, query string) pbxfeed.Changes {
	t.Helper()
	status, body := f.get(t, token, "/pbx/v1/changes?"+query)
	require.Equal(t, 200, status, string(body))
	var c pbxfeed.Changes
	require.NoError(t, json.Unmarshal(body, &c), string(body))
	return c
}

// userActions returns "action:summary" of the user entries, in order.
func userActions(cs []pbxusers.Change) []string {
	var out []string
	for _, c := range cs {
		if c.Entity == pbxusers.EntityUser {
			out = append(out, fmt.Sprintf("%s:%s", c.Action, c.Summary))
		}
	}
	return out
}

func TestChangesInOrderAndResumable(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()

	all := f.changes(t, f.token, "after=0&limit=1000")
	require.NotEmpty(t, all.Changes)
	for i := 1; i < len(all.Changes); i++ {
		assert.Less(t, all.Changes[i-1].Seq, all.Changes[i].Seq, "ordered by seq")
	}
	for _, c := range all.Changes {
		assert.Equal(t, "acme", c.TenantID, "only the token's tenant")
	}
	raw, err := json.Marshal(all)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), f.desk.Secret)
	assert.NotContains(t, string(raw), pbxusers.NewSIPDigest("ada-desk", "acme.sip.test", f.desk.Secret).HA1)
	mark := all.Next

	// Create, update, deactivate: delivered once each, in order, in pages.
	u, err := f.dir.CreateUser(ctx, "acme", pbxusers.User{UserName: "grace", Extension: "205"})
	require.NoError(t, err)
	_, err = f.dir.ModifyUser(ctx, "acme", u.ID, func(u *pbxusers.User) error { u.Title = "Admiral"; return nil })
	require.NoError(t, err)
	_, err = f.dir.DeactivateUser(ctx, "acme", u.ID)
	require.NoError(t, err)
	var got []pbxusers.Change
	next := mark
	for {
		page := f.changes(t, f.token, fmt.Sprintf("after=%d&limit=1", next))
		got = append(got, page.Changes...)
		next = page.Next
		if !page.More {
			break
		}
	}
	require.Len(t, userActions(got), 3)
	assert.Equal(t, pbxusers.ActionCreate, got[0].Action)
	assert.Equal(t, u.ID, got[2].EntityID)

	// Resumes after a restart: a new Directory and feed over the same store
	// continue from the stored position with nothing lost or repeated.
	restarted := pbxusers.New(f.dir.Store(), pbxusers.Options{})
	_, err = restarted.ActivateUser(ctx, "acme", u.ID)
	require.NoError(t, err)
	h, err := pbxfeed.New(pbxfeed.Config{Directory: restarted, Authorize: tokenAuthorize(restarted)})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	f2 := &fixture{srv: srv}
	page := f2.changes(t, f.token, fmt.Sprintf("after=%d", next))
	require.Len(t, page.Changes, 1)
	assert.Equal(t, u.ID, page.Changes[0].EntityID)
	assert.Greater(t, page.Changes[0].Seq, next)
	empty := f2.changes(t, f.token, fmt.Sprintf("after=%d", page.Next))
	assert.Empty(t, empty.Changes)
	assert.Equal(t, page.Next, empty.Next)
}

func TestChangesLongPoll(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	start := f.changes(t, f.token, "after=0&limit=1000")

	done := make(chan pbxfeed.Changes, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/pbx/v1/changes?after=%d&wait=30s", f.srv.URL, start.Next), nil)
		req.Header.Set("Authorization", "Bearer "+f.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- pbxfeed.Changes{}
			return
		}
		defer resp.Body.Close()
		var c pbxfeed.Changes
		_ = json.NewDecoder(resp.Body).Decode(&c)
		done <- c
	}()
	// Another tenant's change does not answer the poll; this tenant's does.
	_, err := f.dir.CreateUser(ctx, "globex", pbxusers.User{UserName: "someone"})
	require.NoError(t, err)
	_, err = f.dir.CreateUser(ctx, "acme", pbxusers.User{UserName: "linus", Extension: "206"})
	require.NoError(t, err)
	got := <-done
	require.NotEmpty(t, got.Changes)
	assert.Equal(t, []string{"create:linus"}, userActions(got.Changes))

	// Bad parameters are named.
	status, body := f.get(t, f.token, "/pbx/v1/changes?after=-1&wait=2h&limit=0")
	assert.Equal(t, 400, status)
	for _, s := range []string{"after:", "wait:", "limit:"} {
		assert.Contains(t, string(body), s)
	}
	status, _ = f.get(t, f.token, "/pbx/v1/changes?tenant=globex")
	assert.Equal(t, 404, status, "another tenant's log is not found")
}
