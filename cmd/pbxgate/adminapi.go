package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/pbxgate/pbxgate/internal/adminapi"
	"github.com/pbxgate/pbxgate/internal/authguard"
	"github.com/pbxgate/pbxgate/ldapsync"
	"github.com/pbxgate/pbxgate/pbxusers"
)

// mountAdminAPI serves the admin API (/api/v1, tokens of scope admin or
// operator) on mux. POST .../ldap/directories/{name}/runs runs the
// configured directory's sync in the request, like "pbxgate ldap sync".
func mountAdminAPI(mux *http.ServeMux, dir *pbxusers.Directory, cfg *Config, guard *authguard.Guard, log *slog.Logger) *adminapi.Handler {
	log = log.With("component", "adminapi")
	run := func(ctx context.Context, tenant, name string, dryRun bool) (pbxusers.SyncRun, error) {
		for _, dc := range cfg.LDAP.Directories {
			if dc.Name != name || dc.Tenant != tenant {
				continue
			}
			res, err := ldapsync.New(dir, dc, ldapsync.Options{Logger: log}).Run(ctx, ldapsync.RunOptions{DryRun: dryRun})
			if errors.Is(err, ldapsync.ErrBusy) {
				return pbxusers.SyncRun{}, &pbxusers.ConflictError{Kind: "ldap directory", Reason: "another run of " + name + " is going on; try again when it ends"}
			}
			return res.Run, err
		}
		return pbxusers.SyncRun{}, fmt.Errorf("ldap directory %q of tenant %q: %w", name, tenant, pbxusers.ErrNotFound)
	}
	api := adminapi.New(dir, adminapi.Options{Logger: log, LDAPRun: run, AuthThrottle: guard})
	api.Mount(mux)
	return api
}
