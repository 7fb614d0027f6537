package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// startTestPeer serves the in-memory peer on a loopback port.
func startTestPeer(t *testing.T, token string) string {
	t.Helper()
	h, err := peerServer(token)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h) // binds 127.0.0.1
	t.Cleanup(srv.Close)
	return srv.URL + "/scim/v2"
}

func TestPeerServesTheLoad(t *testing.T) {
	ctx := context.Background()
	base := startTestPeer(t, "secret")
	l := newLoader(config{base: base, token: "secret", clients: 4, n: 20, prefix: "t"})
	for _, op := range []string{"create", "get", "patch", "active", "deactivate"} {
		r, err := l.runOp(ctx, op, &bytes.Buffer{})
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		if r.errors > 0 || len(r.latencies) != 20 {
			t.Fatalf("%s: %d ok, %d errors, first: %v", op, len(r.latencies), r.errors, r.firstErr)
		}
	}
	// A taken userName is a 409, a missing user a 404, a bad token a 401.
	u := map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "t-0000001@load.example"}
	if _, err := l.do(ctx, http.MethodPost, "/Users", u, http.StatusConflict); err != nil {
		t.Error(err)
	}
	if _, err := l.do(ctx, http.MethodGet, "/Users/nope", nil, http.StatusNotFound); err != nil {
		t.Error(err)
	}
	bad := newLoader(config{base: base, token: "wrong", clients: 1, n: 1})
	if _, err := bad.do(ctx, http.MethodGet, "/Users/nope", nil, http.StatusUnauthorized); err != nil {
		t.Error(err)
	}
}

func TestCompare(t *testing.T) {
	// Two peers stand in for the gateway and the peer.
	gw := startTestPeer(t, "gw")
	peer := startTestPeer(t, "p")
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"compare", "-url", gw, "-token", "gw", "-peer-url", peer, "-peer-token", "p",
		"-clients", "4", "-n", "30", "-ops", "create,get,active"}, &out, &errOut)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "ops/s ratio") {
		t.Fatalf("want a header and three rows, got:\n%s", out.String())
	}
	for i, op := range []string{"create", "get", "active"} {
		if f := strings.Fields(lines[i+1]); f[0] != op || !strings.HasSuffix(f[len(f)-2], "×") {
			t.Errorf("row %q: want operation %s and a ratio", lines[i+1], op)
		}
	}
}

func TestCommandErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"compare", "-token", "x", "-ops", "get"}, "the first operation must be create"},
		{[]string{"compare", "-token", "x", "-ops", "filter"}, `unknown operation "filter"`},
		{[]string{"compare", "-token", "x", "-url", "http://192.0.2.1/scim/v2"}, "loopback"},
		{[]string{"peer", "-listen", "192.0.2.1:0", "-token", "x"}, "loopback"},
		{[]string{"peer", "extra"}, "peer takes no arguments"},
	}
	for _, tt := range tests {
		err := run(context.Background(), tt.args, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: got %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
	for _, args := range [][]string{{"compare", "-h"}, {"peer", "-h"}, {"-h"}, {"help"}} {
		if err := run(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
			t.Errorf("%q: %v", args, err)
		}
	}
}
