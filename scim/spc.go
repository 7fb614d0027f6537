package scim

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// serviceProviderConfig serves /ServiceProviderConfig itself: elimity's
// version hard-codes sort, etag and bulk as unsupported.
type serviceProviderConfig struct {
	s *server
}

var _ mounter = (*serviceProviderConfig)(nil)

// Mount registers the /ServiceProviderConfig route.
func (h *serviceProviderConfig) Mount(rt *router) {
	rt.routes["/ServiceProviderConfig"] = h.serveHTTP
}

func (h *serviceProviderConfig) document() map[string]any {
	location := "ServiceProviderConfig"
	if h.s.opts.BaseURL != "" {
		location = h.s.opts.BaseURL + "/ServiceProviderConfig"
	}
	supported := func(b bool) map[string]any { return map[string]any{"supported": b} }
	return map[string]any{
		"schemas":          []string{spcSchema},
		"documentationUri": "https://github.com/pbxgate/pbxgate",
		"patch":            supported(true),
		"bulk":             map[string]any{"supported": true, "maxOperations": h.s.opts.BulkMaxOperations, "maxPayloadSize": h.s.opts.BulkMaxPayloadBytes},
		"filter":           map[string]any{"supported": true, "maxResults": pbxusers.MaxPageSize},
		"changePassword":   supported(true),
		"sort":             supported(true),
		"etag":             supported(true),
		"authenticationSchemes": []any{map[string]any{
			"type":        "oauthbearertoken",
			"name":        "Bearer token",
			"description": "An API token of the tenant, made by an admin of pbxgate, sent as Authorization: Bearer <token>.",
			"specUri":     "https://www.rfc-editor.org/rfc/rfc6750",
			"primary":     true,
		}},
		"meta": map[string]any{"resourceType": "ServiceProviderConfig", "location": location},
	}
}

func (h *serviceProviderConfig) serveHTTP(w http.ResponseWriter, _ *http.Request) {
	raw, _ := json.Marshal(h.document())
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(raw)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(raw)
}
