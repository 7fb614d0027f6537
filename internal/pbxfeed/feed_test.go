package pbxfeed_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/internal/pbxfeed"
	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/sqlite"
)

// tokenAuthorize checks the bearer token against the Directory's API
// tokens, the way the SCIM endpoint does: the token's tenant is the only
// one the caller reads. The token is also accepted as a Basic password,
// which is all FreeSWITCH's mod_xml_curl can send.
func tokenAuthorize(d *pbxusers.Directory) pbxfeed.AuthorizeFunc {
	return func(r *http.Request) (string, bool, error) {
		scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if _, pw, basic := r.BasicAuth(); basic {
			scheme, tok, ok = "Bearer", pw, true
		}
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return "", false, errors.New("no bearer token")
		}
		t, err := d.Authenticate(r.Context(), strings.TrimSpace(tok))
		if err != nil {
			return "", false, err
		}
		return t.TenantID, false, nil
	}
}

type fixture struct {
	dir    *pbxusers.Directory
	srv    *httptest.Server
	token  string // tenant acme
	other  string // tenant globex
	ada    pbxusers.User
	desk   pbxusers.Device
	hours  string
	closed time.Time
	open   time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "pbx.db"))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	d := pbxusers.New(s, pbxusers.Options{PasswordCost: 4})
	_, err = d.CreateTenant(ctx, pbxusers.Tenant{ID: "acme", Region: "DE", TimeZone: "Europe/Berlin", SIPDomain: "acme.sip.test"})
	require.NoError(t, err)
	_, err = d.CreateTenant(ctx, pbxusers.Tenant{ID: "globex"})
	require.NoError(t, err)
	f := &fixture{dir: d}
	f.token, _, err = d.CreateToken(ctx, "acme", "pbx")
	require.NoError(t, err)
	f.other, _, err = d.CreateToken(ctx, "globex", "pbx")
	require.NoError(t, err)
	hours, err := d.CreateTimeFrame(ctx, "acme", pbxusers.TimeFrame{Name: "Business hours", Entries: []pbxusers.TimeFrameEntry{{
		Weekly: &pbxusers.Weekly{Days: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday},
			From: pbxusers.ClockAt(9, 0), To: pbxusers.ClockAt(17, 0)}}}})
	require.NoError(t, err)
	berlin, _ := time.LoadLocation("Europe/Berlin")
	f.hours, f.open, f.closed = hours.ID, time.Date(2026, 3, 4, 10, 0, 0, 0, berlin), time.Date(2026, 3, 4, 19, 0, 0, 0, berlin)

	u := pbxusers.User{UserName: "ada", Name: pbxusers.Name{Given: "Ada", Family: "Lovelace"}, Extension: "201"}
	u.Features.Voicemail = true
	u.Routing = pbxusers.BackupRouting("+4930555000", 20*time.Second, 30*time.Second)
	u.Routing.Rules = pbxusers.AfterHours(hours.ID, pbxusers.Destination{Kind: pbxusers.DestVoicemail}).Rules
	u.Routing.AllowCallers = []string{"+4930777*"}
	f.ada, err = d.CreateUser(ctx, "acme", u)
	require.NoError(t, err)
	f.desk, err = d.AddDevice(ctx, "acme", pbxusers.Device{UserID: f.ada.ID, SIPID: "ada-desk"})
	require.NoError(t, err)
	_, err = d.AssignNumber(ctx, "acme", "+4930555201", f.ada.ID, "")
	require.NoError(t, err)

	h, err := pbxfeed.New(pbxfeed.Config{Directory: d, Authorize: tokenAuthorize(d)})
	require.NoError(t, err)
	mux := http.NewServeMux()
	h.Mount(mux)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// get returns the status and body of an authorized GET.
func (f *fixture) get(t *testing.T, token, path string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, body
}

func TestNewNamesMissingFields(t *testing.T) {
	_, err := pbxfeed.New(pbxfeed.Config{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Directory is required")
	assert.Contains(t, err.Error(), "Authorize is required")
}

func TestCredentials(t *testing.T) {
	f := newFixture(t)
	want := pbxusers.NewSIPDigest("ada-desk", "acme.sip.test", f.desk.Secret)
	cases := []struct {
		name       string
		token      string
		path       string
		wantStatus int
	}{
		{"found", f.token, "/pbx/v1/credentials/acme.sip.test/ada-desk", 200},
		{"domain is case-insensitive", f.token, "/pbx/v1/credentials/ACME.sip.test/ada-desk", 200},
		{"no token", "", "/pbx/v1/credentials/acme.sip.test/ada-desk", 401},
		{"bad token", "pbxg_nope.nope", "/pbx/v1/credentials/acme.sip.test/ada-desk", 401},
		{"another tenant's token", f.other, "/pbx/v1/credentials/acme.sip.test/ada-desk", 404},
		{"unknown user", f.token, "/pbx/v1/credentials/acme.sip.test/nobody", 404},
		{"unknown domain", f.token, "/pbx/v1/credentials/other.test/ada-desk", 404},
		{"tenant id is not the domain once one is set", f.token, "/pbx/v1/credentials/acme/ada-desk", 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := f.get(t, c.token, c.path)
			require.Equal(t, c.wantStatus, status, string(body))
			if status != 200 {
				var e struct {
					Status int    `json:"status"`
					Error  string `json:"error"`
				}
				require.NoError(t, json.Unmarshal(body, &e), string(body))
				assert.Equal(t, c.wantStatus, e.Status)
				assert.NotContains(t, string(body), f.desk.Secret)
				return
			}
			var got pbxfeed.Credentials
			require.NoError(t, json.Unmarshal(body, &got))
			assert.Equal(t, pbxfeed.Credentials{Domain: "acme.sip.test", Realm: "acme.sip.test", SIPUser: "ada-desk",
				HA1: want.HA1, HA1B: want.HA1B, HA1SHA256: want.HA1SHA256, HA1BSHA256: want.HA1BSHA256,
				UserID: f.ada.ID, Extension: "201", DeviceID: f.desk.ID, Active: true}, got)
			assert.NotContains(t, string(body), f.desk.Secret, "never the secret")
		})
	}

	_, err := f.dir.DeactivateUser(context.Background(), "acme", f.ada.ID)
	require.NoError(t, err)
	status, body := f.get(t, f.token, "/pbx/v1/credentials/acme.sip.test/ada-desk")
	assert.Equal(t, 404, status, "a deactivated user's device stops authenticating: %s", body)
}

func TestRoute(t *testing.T) {
	f := newFixture(t)
	at := func(tm time.Time) string { return url.QueryEscape(tm.Format(time.RFC3339)) }
	cases := []struct {
		name  string
		query string
		check func(t *testing.T, r pbxfeed.Route)
	}{
		{"business hours: device, then backup number", "domain=acme.sip.test&to=201&from=%2B4930999&at=" + at(f.open), func(t *testing.T, r pbxfeed.Route) {
			assert.Equal(t, pbxusers.RingSequential, r.RingMode)
			require.Len(t, r.Steps, 2, r.Reason)
			assert.Equal(t, pbxusers.Seconds(20*time.Second), r.Steps[0].Timeout)
			assert.Contains(t, r.Steps[0].Targets, pbxfeed.Target{Kind: pbxusers.TargetDevice, URI: "sip:ada-desk@acme.sip.test",
				SIPUser: "ada-desk", UserID: f.ada.ID})
			assert.Equal(t, []pbxfeed.Target{{Kind: pbxusers.TargetExternal, Number: "+4930555000"}}, r.Steps[1].Targets)
			assert.Equal(t, pbxusers.DestVoicemail, r.Final.Kind)
			assert.Equal(t, "201", r.Final.Mailbox)
			assert.False(t, r.Internal)
		}},
		{"after hours: straight to voicemail", "domain=acme.sip.test&to=201&from=%2B4930999&at=" + at(f.closed), func(t *testing.T, r pbxfeed.Route) {
			assert.Empty(t, r.Steps, r.Reason)
			assert.Equal(t, pbxfeed.Destination{Kind: pbxusers.DestVoicemail, UserID: f.ada.ID, Mailbox: "201"}, r.Final)
			assert.Contains(t, r.Reason, "After hours")
		}},
		{"do not disturb: voicemail", "domain=acme.sip.test&to=201&from=%2B4930999&state=dnd&at=" + at(f.open), func(t *testing.T, r pbxfeed.Route) {
			assert.Empty(t, r.Steps, r.Reason)
			assert.Equal(t, pbxusers.DestVoicemail, r.Final.Kind)
		}},
		{"do not disturb, allow-listed caller: still rings", "domain=acme.sip.test&to=201&from=%2B4930777123&state=dnd&at=" + at(f.open), func(t *testing.T, r pbxfeed.Route) {
			require.NotEmpty(t, r.Steps, r.Reason)
			assert.Equal(t, "sip:ada-desk@acme.sip.test", r.Steps[0].Targets[len(r.Steps[0].Targets)-1].URI)
		}},
		{"by number", "domain=acme.sip.test&to=%2B4930555201&at=" + at(f.open), func(t *testing.T, r pbxfeed.Route) {
			assert.Equal(t, f.ada.ID, r.UserID)
			assert.Equal(t, "201", r.Extension)
		}},
		{"national number in the tenant's region", "domain=acme.sip.test&to=030555201&at=" + at(f.open), func(t *testing.T, r pbxfeed.Route) {
			assert.Equal(t, f.ada.ID, r.UserID)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := f.get(t, f.token, "/pbx/v1/route?"+c.query)
			require.Equal(t, 200, status, string(body))
			var r pbxfeed.Route
			require.NoError(t, json.Unmarshal(body, &r), string(body))
			assert.Equal(t, "acme.sip.test", r.Domain)
			require.NotNil(t, r.Plan)
			c.check(t, r)
		})
	}

	errs := []struct {
		name, query string
		status      int
		contains    []string
	}{
		{"unknown extension", "domain=acme.sip.test&to=999", 404, []string{"999", "not found"}},
		{"another tenant", "domain=globex&to=201", 404, nil},
		{"missing parameters", "", 400, []string{"domain: required", "to: required"}},
		{"bad time and state", "domain=acme.sip.test&to=201&at=tomorrow&state=sleepy", 400, []string{"at:", "state:"}},
	}
	for _, c := range errs {
		t.Run(c.name, func(t *testing.T) {
			status, body := f.get(t, f.token, "/pbx/v1/route?"+c.query)
			require.Equal(t, c.status, status, string(body))
			for _, s := range c.contains {
				assert.Contains(t, string(body), s)
			}
		})
	}
}

// TestRouteDeviceNamedInAPlan: a ring plan that names a device by its id
// (the admin API's and console's "device:ID") comes out as that device's
// SIP URI, as the user's own devices do.
func TestRouteDeviceNamedInAPlan(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	bob, err := f.dir.CreateUser(ctx, "acme", pbxusers.User{UserName: "bob", Extension: "202"})
	require.NoError(t, err)
	phone, err := f.dir.AddDevice(ctx, "acme", pbxusers.Device{UserID: bob.ID, SIPID: "bob-phone"})
	require.NoError(t, err)
	_, err = f.dir.ModifyUser(ctx, "acme", bob.ID, func(u *pbxusers.User) error {
		u.Routing.Default.Ring = pbxusers.RingPlan{Steps: []pbxusers.RingStep{{Timeout: pbxusers.Seconds(15 * time.Second),
			Targets: []pbxusers.RingTarget{{Kind: pbxusers.TargetDevice, Value: phone.ID}, {Kind: pbxusers.TargetDevice, Value: f.desk.ID}}}}}
		return nil
	})
	require.NoError(t, err)
	status, body := f.get(t, f.token, "/pbx/v1/route?domain=acme.sip.test&to=202")
	require.Equal(t, 200, status, string(body))
	var r pbxfeed.Route
	require.NoError(t, json.Unmarshal(body, &r), string(body))
	require.Len(t, r.Steps, 1, r.Reason)
	var uris []string
	for _, tg := range r.Steps[0].Targets {
		uris = append(uris, tg.URI)
	}
	assert.Equal(t, []string{"sip:bob-phone@acme.sip.test", "sip:ada-desk@acme.sip.test"}, uris,
		"by SIP id, another user's desk phone included")
}
