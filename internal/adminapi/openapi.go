package adminapi

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
)

// document is the OpenAPI 3.1 description of the API. Tests validate every
// response they get against it.
//
//go:embed openapi.json
var document []byte

// Document returns the OpenAPI 3.1 document of the API.
func Document() []byte { return append([]byte(nil), document...) }

func serveDocument(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(document)
}

// templates are the path templates of the document, split into segments.
var templates = func() [][]string {
	var doc struct {
		Paths map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(document, &doc); err != nil {
		panic("adminapi: embedded openapi.json: " + err.Error())
	}
	out := make([][]string, 0, len(doc.Paths))
	for p := range doc.Paths {
		out = append(out, strings.Split(strings.Trim(p, "/"), "/"))
	}
	sort.Slice(out, func(i, j int) bool { return strings.Join(out[i], "/") < strings.Join(out[j], "/") })
	return out
}()

// Endpoint returns the OpenAPI path template a request path matches
// ("/api/v1/tenants/{tenant}/users/{id}"), or Prefix for a path the API
// does not have: a label of bounded cardinality for metrics.
func Endpoint(path string) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	best := -1
	for i, t := range templates {
		if len(t) != len(segs) {
			continue
		}
		ok, literal := true, 0
		for k := range t {
			if strings.HasPrefix(t[k], "{") {
				continue
			}
			if t[k] != segs[k] {
				ok = false
				break
			}
			literal++
		}
		// A literal segment beats a parameter (/users/x/numbers over
		// /numbers/{number} shapes); ties keep the first in sorted order.
		if ok && (best < 0 || literal > literalCount(templates[best])) {
			best = i
		}
	}
	if best < 0 {
		return Prefix
	}
	return "/" + strings.Join(templates[best], "/")
}

func literalCount(t []string) int {
	n := 0
	for _, s := range t {
		if !strings.HasPrefix(s, "{") {
			n++
		}
	}
	return n
}
