package scim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
)

// Bulk (RFC 7644 §3.7) is served by pbxgate itself: elimity has no /Bulk.
// Each operation runs as the request it describes would, through route
// (same validation, same transaction, same errors), so each is atomic on
// its own; the Bulk request as a whole is not. bulkId references
// ("bulkId:qwerty" as a whole string value in data or in the path) are
// resolved to the ids of resources created earlier in the request; an
// operation that refers to one created later waits for it, so a group may
// come before the members created in the same request. A reference to an
// operation that failed, or a cycle, is a 409 for that operation.
// Responses come back in request order. The request counts once against
// the token's rate limit.

const (
	bulkRequestMessage  = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	bulkResponseMessage = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
	bulkIDPrefix        = "bulkId:"
)

// bulkOp is one operation of a BulkRequest.
type bulkOp struct {
	method, bulkID, version, path string
	data                          any
	hasData                       bool
	refs                          []string // bulkIds it refers to
	problem                       string   // why the operation is malformed, if it is
}

func (s *server) bulk(w http.ResponseWriter, r *http.Request, st *request) *apiError {
	limit := s.opts.BulkMaxPayloadBytes
	tooLarge := errorf(http.StatusRequestEntityTooLarge, "", "the size of the bulk operation exceeds the maxPayloadSize (%d)", limit)
	if r.ContentLength > limit {
		return tooLarge
	}
	raw, err := readBody(r.Body, limit)
	if err != nil {
		if err.status == http.StatusRequestEntityTooLarge {
			return tooLarge
		}
		return err
	}
	ops, failOnErrors, err := s.parseBulk(raw)
	if err != nil {
		return err
	}

	results := make([]map[string]any, len(ops))
	ids := map[string]string{}   // bulkId → id of the created resource
	failed := map[string]bool{}  // bulkIds whose operation failed
	pending := map[string]bool{} // bulkIds whose operation has not run
	for _, op := range ops {
		if op.bulkID != "" {
			pending[op.bulkID] = true
		}
	}
	errs := 0
	waiting := make([]int, len(ops))
	for i := range ops {
		waiting[i] = i
	}
run:
	for len(waiting) > 0 {
		var next []int
		for _, i := range waiting {
			op := &ops[i]
			wait := false
			for _, ref := range op.refs {
				if pending[ref] && ref != op.bulkID {
					wait = true
				}
			}
			if wait {
				next = append(next, i)
				continue
			}
			res, id := s.runBulkOp(r, st, op, ids, failed)
			results[i] = res
			if op.bulkID != "" {
				delete(pending, op.bulkID)
				if id != "" {
					ids[op.bulkID] = id
				} else {
					failed[op.bulkID] = true
				}
			}
			if status, _ := strconv.Atoi(res["status"].(string)); status >= 400 {
				errs++
				if failOnErrors > 0 && errs >= failOnErrors {
					break run
				}
			}
		}
		if len(next) == len(waiting) {
			// Nothing could run: the rest refer to each other.
			for _, i := range next {
				results[i] = bulkError(&ops[i], errorf(http.StatusConflict, typeInvalidValue,
					"the bulkId references of this operation form a cycle"))
				if errs++; failOnErrors > 0 && errs >= failOnErrors {
					break run
				}
			}
			break
		}
		waiting = next
	}

	out := make([]any, 0, len(ops))
	for _, res := range results {
		if res != nil {
			out = append(out, res)
		}
	}
	body, _ := json.Marshal(map[string]any{"schemas": []string{bulkResponseMessage}, "Operations": out})
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return nil
}

// parseBulk reads a BulkRequest. A body that is not one, too many
// operations or a bulkId used twice fail the whole request; a malformed
// operation fails only itself.
func (s *server) parseBulk(raw []byte) ([]bulkOp, int, *apiError) {
	m, err := decodeObject(raw)
	if err != nil {
		return nil, 0, badRequest(typeInvalidSyntax, "the body is not a BulkRequest JSON object: %s", err)
	}
	var list []any
	found := false
	failOnErrors := 0
	for k, v := range m {
		switch strings.ToLower(k) {
		case "operations":
			l, ok := v.([]any)
			if !ok {
				return nil, 0, badRequest(typeInvalidSyntax, "Operations must be a list")
			}
			list, found = l, true
		case "failonerrors":
			n, ok := intValue(v)
			if !ok || n < 0 {
				return nil, 0, badRequest(typeInvalidValue, "failOnErrors must be a whole number of 1 or more")
			}
			failOnErrors = n
		case "schemas":
			if l, ok := v.([]any); ok && len(l) > 0 && !containsString(l, bulkRequestMessage) {
				return nil, 0, badRequest(typeInvalidSyntax, "schemas must name %s", bulkRequestMessage)
			}
		}
	}
	if !found || len(list) == 0 {
		return nil, 0, badRequest(typeInvalidSyntax, "a BulkRequest needs Operations")
	}
	if len(list) > s.opts.BulkMaxOperations {
		return nil, 0, errorf(http.StatusRequestEntityTooLarge, "", "the number of operations (%d) exceeds the maxOperations (%d)", len(list), s.opts.BulkMaxOperations)
	}
	ops := make([]bulkOp, len(list))
	seen := map[string]bool{}
	for i, e := range list {
		om, ok := e.(map[string]any)
		if !ok {
			ops[i].problem = "an operation must be an object"
			continue
		}
		op := &ops[i]
		for k, v := range om {
			switch strings.ToLower(k) {
			case "method":
				op.method, _ = v.(string)
				op.method = strings.ToUpper(op.method)
			case "bulkid":
				op.bulkID, _ = v.(string)
			case "version":
				op.version, _ = v.(string)
			case "path":
				op.path, _ = v.(string)
			case "data":
				op.data, op.hasData = v, true
			}
		}
		if op.bulkID != "" {
			if seen[op.bulkID] {
				return nil, 0, badRequest(typeInvalidValue, "bulkId %q is used by two operations", op.bulkID)
			}
			seen[op.bulkID] = true
		}
		switch op.method {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		default:
			op.problem = fmt.Sprintf("method must be POST, PUT, PATCH or DELETE, not %q", op.method)
		}
		if !strings.HasPrefix(op.path, "/Users") && !strings.HasPrefix(op.path, "/Groups") || strings.ContainsAny(op.path, "?#") {
			if op.problem == "" {
				op.problem = fmt.Sprintf("path must be /Users, /Groups or a resource below them, not %q", op.path)
			}
		}
		collectRefs(op.path, &op.refs)
		collectRefs(op.data, &op.refs)
	}
	return ops, failOnErrors, nil
}

func containsString(l []any, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

// collectRefs appends the bulkIds that v refers to.
func collectRefs(v any, refs *[]string) {
	switch x := v.(type) {
	case string:
		if i := strings.Index(x, bulkIDPrefix); i >= 0 && (i == 0 || x[i-1] == '/') {
			*refs = append(*refs, x[i+len(bulkIDPrefix):])
		}
	case []any:
		for _, e := range x {
			collectRefs(e, refs)
		}
	case map[string]any:
		for _, e := range x {
			collectRefs(e, refs)
		}
	}
}

// resolveRefs returns v with every bulkId reference replaced by its id; a
// reference that has no id is returned as missing.
func resolveRefs(v any, ids map[string]string) (any, string) {
	switch x := v.(type) {
	case string:
		i := strings.Index(x, bulkIDPrefix)
		if i < 0 || (i > 0 && x[i-1] != '/') {
			return x, ""
		}
		ref := x[i+len(bulkIDPrefix):]
		id, ok := ids[ref]
		if !ok {
			return x, ref
		}
		return x[:i] + id, ""
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, missing := resolveRefs(e, ids)
			if missing != "" {
				return nil, missing
			}
			out[i] = r
		}
		return out, ""
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, missing := resolveRefs(e, ids)
			if missing != "" {
				return nil, missing
			}
			out[k] = r
		}
		return out, ""
	}
	return v, ""
}

// runBulkOp runs one operation and returns its result and, for a
// successful POST, the id of the created resource.
func (s *server) runBulkOp(r *http.Request, st *request, op *bulkOp, ids map[string]string, failed map[string]bool) (res map[string]any, id string) {
	if op.problem != "" {
		return bulkError(op, badRequest(typeInvalidValue, "%s", op.problem)), ""
	}
	path, missing := resolveRefs(op.path, ids)
	var data any
	if missing == "" {
		data, missing = resolveRefs(op.data, ids)
	}
	if missing != "" {
		why := "names no operation of this request"
		if failed[missing] {
			why = "names an operation that failed"
		}
		return bulkError(op, errorf(http.StatusConflict, typeInvalidValue, "%s%s %s", bulkIDPrefix, missing, why)), ""
	}

	var body io.Reader = http.NoBody
	var length int64
	if op.hasData && op.method != http.MethodDelete {
		raw, err := json.Marshal(data)
		if err != nil {
			return bulkError(op, badRequest(typeInvalidValue, "data cannot be encoded: %v", err)), ""
		}
		body, length = bytes.NewReader(raw), int64(len(raw))
	}
	sub := path.(string)
	req, err := http.NewRequestWithContext(r.Context(), op.method, Prefix+sub, body)
	if err != nil {
		return bulkError(op, badRequest(typeInvalidValue, "path %q: %v", op.path, err)), ""
	}
	req.ContentLength = length
	req.Header.Set("Content-Type", contentType)
	if op.version != "" {
		req.Header.Set("If-Match", op.version)
	}
	rec := &bulkRecorder{header: http.Header{}}
	s.serveOne(rec, req, &request{tenant: st.tenant, token: st.token}, sub)

	res = map[string]any{"method": op.method, "status": strconv.Itoa(rec.status)}
	if op.bulkID != "" {
		res["bulkId"] = op.bulkID
	}
	if rec.status >= 400 {
		var e any
		if json.Unmarshal(rec.body.Bytes(), &e) == nil {
			res["response"] = e
		}
		return res, ""
	}
	if v := rec.header.Get("Etag"); v != "" {
		res["version"] = v
	}
	loc := rec.header.Get("Location")
	if op.method == http.MethodPost {
		var created struct {
			ID   string `json:"id"`
			Meta struct {
				Location string `json:"location"`
			} `json:"meta"`
		}
		_ = json.Unmarshal(rec.body.Bytes(), &created)
		id = created.ID
		if loc == "" {
			loc = created.Meta.Location
		}
	}
	if loc == "" {
		loc = strings.TrimPrefix(sub, "/")
		if s.opts.BaseURL != "" {
			loc = s.opts.BaseURL + sub
		}
	}
	res["location"] = loc
	return res, id
}

// serveOne serves one bulk operation as a request of its own; a panic
// fails the operation, not the Bulk request.
func (s *server) serveOne(w *bulkRecorder, r *http.Request, st *request, sub string) {
	defer func() {
		if p := recover(); p != nil {
			s.log.ErrorContext(r.Context(), "panic serving bulk operation", "method", r.Method, "path", sub,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			w.reset()
			writeError(w, errorf(http.StatusInternalServerError, "", "internal server error"))
		}
	}()
	if err := s.route(w, r, st, sub); err != nil {
		writeError(w, err)
	}
}

func bulkError(op *bulkOp, e *apiError) map[string]any {
	res := map[string]any{"method": op.method, "status": strconv.Itoa(e.status),
		"response": errorBody{Schemas: []string{errorMessage}, ScimType: e.scimType, Detail: e.detail, Status: strconv.Itoa(e.status)}}
	if op.bulkID != "" {
		res["bulkId"] = op.bulkID
	}
	return res
}

// bulkRecorder holds the response of one bulk operation.
type bulkRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bulkRecorder) Header() http.Header { return b.header }

func (b *bulkRecorder) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bulkRecorder) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

func (b *bulkRecorder) reset() {
	b.header, b.status = http.Header{}, 0
	b.body.Reset()
}
