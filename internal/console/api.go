package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/pbxgate/pbxgate/internal/adminapi"
)

// recorder is the response of an in-process admin API call.
type recorder struct {
	status int
	header http.Header
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

// apiProblem is the part of an admin API problem document the console
// shows.
type apiProblem struct {
	Status int    `json:"status"`
	Detail string `json:"detail"`
	// Field names the field of a uniqueness conflict (409).
	Field  string `json:"field"`
	Errors []struct {
		Path   string `json:"path"`
		Reason string `json:"reason"`
	} `json:"errors"`
}

// callAPI sends one request to the admin API as the session's user and
// decodes a success into out (when not nil). A failure comes back as the
// API's problem.
func (h *Handler) callAPI(ctx context.Context, ss *session, method, path string, body, out any) (*apiProblem, error) {
	return h.callAPIHeader(ctx, ss, method, path, nil, body, out)
}

// callAPIWith is callAPI for a console request, with extra request
// headers (If-Match).
func (h *Handler) callAPIWith(r *http.Request, ss *session, method, path string, header map[string]string, body, out any) (*apiProblem, error) {
	return h.callAPIHeader(r.Context(), ss, method, path, header, body, out)
}

func (h *Handler) callAPIHeader(ctx context.Context, ss *session, method, path string, header map[string]string, body, out any) (*apiProblem, error) {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	return h.send(ctx, ss, method, path, "application/json", header, b, out)
}

// callAPIRaw is callAPI with a body that is not JSON (a CSV file).
func (h *Handler) callAPIRaw(ctx context.Context, ss *session, method, path, contentType string, body []byte, out any) (*apiProblem, error) {
	return h.send(ctx, ss, method, path, contentType, nil, body, out)
}

// send is the one request to the admin API every call above makes.
func (h *Handler) send(ctx context.Context, ss *session, method, path, contentType string, header map[string]string, body []byte, out any) (*apiProblem, error) {
	ctx = adminapi.WithPrincipal(ctx, adminapi.Principal{Tenant: ss.Tenant, Actor: "console " + ss.UserName})
	req, err := http.NewRequestWithContext(ctx, method, adminapi.Prefix+"/tenants/"+url.PathEscape(ss.Tenant)+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := &recorder{header: http.Header{}}
	h.api.ServeHTTP(rec, req)
	if rec.status >= 400 {
		var p apiProblem
		if err := json.Unmarshal(rec.body.Bytes(), &p); err != nil {
			return nil, fmt.Errorf("admin API %s %s: %d %s", method, path, rec.status, rec.body.String())
		}
		p.Status = rec.status
		return &p, nil
	}
	if out != nil && rec.body.Len() > 0 {
		if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
			return nil, fmt.Errorf("admin API %s %s: decode: %w", method, path, err)
		}
	}
	return nil, nil
}
