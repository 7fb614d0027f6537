package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCLIWebhooks(t *testing.T) {
	e := newCLIEnv(t)
	e.ok("tenant", "create", "acme", "--region", "DE")
	secret := e.ok("webhooks", "create", "--tenant", "acme", "--url", "https://pbx.example.com/pbxgate")
	assert.Regexp(t, `^whsec_[A-Za-z0-9]{32}\n$`, secret, "create prints only the secret")
	list := e.ok("webhooks", "list", "--tenant", "acme")
	assert.Contains(t, list, "https://pbx.example.com/pbxgate")
	assert.NotContains(t, list, strings.TrimSpace(secret), "list never shows secrets")
	assert.NotContains(t, e.ok("webhooks", "list", "--tenant", "acme", "--output", "json"), strings.TrimSpace(secret))
	id := regexp.MustCompile(`wh_[a-z0-9]+`).FindString(list)
	require.NotEmpty(t, id, list)

	assert.Contains(t, e.fail(1, "webhooks", "create", "--tenant", "acme", "--url", "http://pbx.example.com/"), "url: ")
	assert.Contains(t, e.fail(1, "webhooks", "create", "--tenant", "acme"), "url: required")
	assert.Contains(t, e.fail(1, "webhooks", "create", "--tenant", "nope", "--url", "https://x.example.com"), `tenant "nope": not found`)
	assert.Contains(t, e.fail(1, "webhooks", "delete", "wh_nope", "--tenant", "acme", "--yes"), "not found")

	e.ok("webhooks", "delete", id, "--tenant", "acme", "--yes")
	assert.NotContains(t, e.ok("webhooks", "list", "--tenant", "acme"), id)
}

// TestIntegrationWebhookThroughServe: a webhook made with the CLI next to
// a running gateway gets a SCIM create, signed with the secret the CLI
// printed; the webhook metrics exist from the start.
func TestIntegrationWebhookThroughServe(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the gateway")
	}
	got := make(chan []byte, 10)
	var secret atomic.Value // the handler runs on another goroutine
	secret.Store("")
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mac := hmac.New(sha256.New, []byte(secret.Load().(string)))
		mac.Write([]byte(r.Header.Get("X-Pbxgate-Timestamp") + "."))
		mac.Write(body)
		if !hmac.Equal([]byte("sha256="+hex.EncodeToString(mac.Sum(nil))), []byte(r.Header.Get("X-Pbxgate-Signature"))) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		got <- body
	}))
	defer rcv.Close()

	g := startGateway(t, "", "")
	assert.Equal(t, `pbxgate_webhook_failures_total{reason="network"} 0`, metric(t, g.base, `pbxgate_webhook_failures_total{reason="network"}`))
	out, err := g.cli("webhooks", "create", "--tenant", "default", "--url", rcv.URL+"/pbxgate")
	require.NoError(t, err)
	secret.Store(strings.TrimSpace(out))
	status, _ := g.scim("POST", "/Users", g.token, scimUser("ada@example.org"))
	require.Equal(t, 201, status)
	select {
	case body := <-got:
		assert.Contains(t, string(body), `"entity":"user"`)
		assert.Contains(t, string(body), `"summary":"ada@example.org"`)
	case <-time.After(30 * time.Second):
		t.Fatal("no signed delivery within 30 s")
	}
	assert.Equal(t, "pbxgate_webhook_attempts_total 1", metric(t, g.base, "pbxgate_webhook_attempts_total"))
	require.NoError(t, g.stop())
}
