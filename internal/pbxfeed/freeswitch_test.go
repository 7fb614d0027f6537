package pbxfeed_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fsDoc reads the parts of a mod_xml_curl answer the test checks.
type fsDoc struct {
	Type    string `xml:"type,attr"`
	Section struct {
		Name   string `xml:"name,attr"`
		Result struct {
			Status string `xml:"status,attr"`
		} `xml:"result"`
		Domain struct {
			Name  string `xml:"name,attr"`
			Users []struct {
				ID     string `xml:"id,attr"`
				Params []struct {
					Name  string `xml:"name,attr"`
					Value string `xml:"value,attr"`
				} `xml:"params>param"`
				Variables []struct {
					Name  string `xml:"name,attr"`
					Value string `xml:"value,attr"`
				} `xml:"variables>variable"`
			} `xml:"groups>group>users>user"`
		} `xml:"domain"`
	} `xml:"section"`
}

func TestFreeSWITCHDirectory(t *testing.T) {
	f := newFixture(t)
	post := func(t *testing.T, form url.Values, token string) (int, fsDoc) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/pbx/v1/freeswitch/directory", strings.NewReader(form.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("pbx", token) // mod_xml_curl's gateway-credentials
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		var doc fsDoc
		if resp.StatusCode == 200 {
			require.NoError(t, xml.Unmarshal(body, &doc), string(body))
		}
		return resp.StatusCode, doc
	}
	sipAuth := url.Values{"section": {"directory"}, "tag_name": {"domain"}, "key_name": {"name"}, "key_value": {"acme.sip.test"},
		"user": {"ada-desk"}, "domain": {"acme.sip.test"}, "action": {"sip_auth"}}

	status, doc := post(t, sipAuth, f.token)
	require.Equal(t, 200, status)
	assert.Equal(t, "freeswitch/xml", doc.Type)
	assert.Equal(t, "directory", doc.Section.Name)
	assert.Equal(t, "acme.sip.test", doc.Section.Domain.Name)
	require.Len(t, doc.Section.Domain.Users, 1)
	u := doc.Section.Domain.Users[0]
	assert.Equal(t, "ada-desk", u.ID)
	// FreeSWITCH's a1-hash: MD5 of user:domain:password.
	sum := md5.Sum([]byte("ada-desk:acme.sip.test:" + f.desk.Secret))
	require.Len(t, u.Params, 1)
	assert.Equal(t, "a1-hash", u.Params[0].Name)
	assert.Equal(t, hex.EncodeToString(sum[:]), u.Params[0].Value)
	assert.Contains(t, u.Variables, struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	}{"effective_caller_id_number", "201"})

	notFound := func(t *testing.T, form url.Values, token string) {
		t.Helper()
		status, doc := post(t, form, token)
		require.Equal(t, 200, status)
		assert.Equal(t, "result", doc.Section.Name)
		assert.Equal(t, "not found", doc.Section.Result.Status)
	}
	t.Run("other sections", func(t *testing.T) {
		notFound(t, url.Values{"section": {"dialplan"}}, f.token)
	})
	t.Run("unknown user", func(t *testing.T) {
		form := url.Values{"section": {"directory"}, "user": {"nobody"}, "domain": {"acme.sip.test"}}
		notFound(t, form, f.token)
	})
	t.Run("another tenant's token", func(t *testing.T) { notFound(t, sipAuth, f.other) })
	t.Run("deactivated user", func(t *testing.T) {
		_, err := f.dir.DeactivateUser(context.Background(), "acme", f.ada.ID)
		require.NoError(t, err)
		notFound(t, sipAuth, f.token)
	})
	t.Run("bad token", func(t *testing.T) {
		status, _ := post(t, sipAuth, "pbxg_x.y")
		assert.Equal(t, 401, status)
	})
}
