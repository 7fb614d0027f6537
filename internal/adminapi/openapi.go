package adminapi

import (
	_ "embed"
	"net/http"
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
