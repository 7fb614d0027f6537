package main

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/pbxgate/pbxgate/internal/authguard"
	"github.com/pbxgate/pbxgate/internal/pbxfeed"
	"github.com/pbxgate/pbxgate/pbxusers"
)

// mountPBXFeed serves the PBX feed (/pbx/v1) to tokens of scope pbx (their
// tenant) and operator (every tenant), with failed authentications
// throttled by the guard the other endpoints share.
func mountPBXFeed(mux *http.ServeMux, dir *pbxusers.Directory, guard *authguard.Guard, log *slog.Logger) error {
	h, err := pbxfeed.New(pbxfeed.Config{
		Directory: dir,
		Logger:    log.With("component", "pbxfeed"),
		Authorize: pbxfeed.TokenAuthorize(dir,
			func(r *http.Request, bearer string) bool {
				blocked, _ := guard.Blocked(r, bearer, "pbx")
				return blocked
			},
			func(r *http.Request, bearer string) { guard.Failed(r.Context(), r, bearer, "pbx") }),
	})
	if err != nil {
		return fmt.Errorf("set up the PBX feed: %w", err)
	}
	mux.Handle(pbxfeed.Prefix, h)
	return nil
}
