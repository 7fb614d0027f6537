package main

import (
	"log/slog"
	"net/http"

	"github.com/pbxgate/pbxgate/internal/adminapi"
	"github.com/pbxgate/pbxgate/pbxusers"
)

// mountAdminAPI serves the admin API (/api/v1, tokens of scope admin or
// operator) on mux.
func mountAdminAPI(mux *http.ServeMux, dir *pbxusers.Directory, log *slog.Logger) {
	adminapi.New(dir, adminapi.Options{Logger: log.With("component", "adminapi")}).Mount(mux)
}
