package adminapi

import (
	"net/http"

	"github.com/pbxgate/pbxgate/pbxusers"
)

func (h *Handler) mountTeams() {
	base := Prefix + "/tenants/{tenant}/teams"
	h.handle("GET "+base, h.listTeams)
	h.handle("POST "+base, h.createTeam)
	h.handle("GET "+base+"/{team}", h.getTeam)
	h.handle("PATCH "+base+"/{team}", h.patchTeam)
	h.handle("DELETE "+base+"/{team}", h.deleteTeam)
	h.handle("GET "+base+"/{team}/members", h.listTeamMembers)
	h.handle("PUT "+base+"/{team}/members", h.putTeamMembers)
}

var readOnlyTeamFields = []string{"id", "tenantId", "members", "version", "created", "updated",
	"owner.source", "owner.directory", "owner.synced", "owner.hash"}

// teamOwnedFields are what SCIM or LDAP set on a team they own.
var teamOwnedFields = []string{"name", "owner.externalId"}

func (h *Handler) listTeams(c *call) error {
	var ps pbxusers.Problems
	offset, limit := paging(c.r, &ps)
	if err := ps.Err(); err != nil {
		return err
	}
	page, err := h.dir.ListTeams(c.ctx, c.tenant, pbxusers.TeamQuery{SortBy: pbxusers.AttrDisplayName, Offset: offset, Limit: limit})
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, list[pbxusers.Team]{Items: nonNil(page.Teams), Total: page.Total,
		NextCursor: nextCursor(offset, len(page.Teams), page.Total)})
}

// teamBody is a team with its members (user ids), for create.
type teamBody struct {
	pbxusers.Team
	MemberIDs []string `json:"memberIds,omitempty"`
}

func (h *Handler) createTeam(c *call) error {
	var b teamBody
	if err := h.decode(c, &b); err != nil {
		return err
	}
	tm := b.Team
	tm.ID, tm.Version, tm.Owner = "", 0, pbxusers.Owner{Source: pbxusers.SourceManual, ExternalID: tm.Owner.ExternalID}
	out, err := h.dir.CreateTeam(c.ctx, c.tenant, tm, b.MemberIDs)
	if err != nil {
		return err
	}
	c.w.Header().Set("Location", Prefix+"/tenants/"+c.tenant+"/teams/"+out.ID)
	return c.etag(out.Version).json(http.StatusCreated, out)
}

func (h *Handler) getTeam(c *call) error {
	tm, err := h.dir.GetTeam(c.ctx, c.tenant, c.r.PathValue("team"))
	if err != nil {
		return err
	}
	return c.etag(tm.Version).json(http.StatusOK, tm)
}

// patchTeam renames a team or changes its bound profiles; the name of a
// team SCIM or LDAP owns is read-only (409).
func (h *Handler) patchTeam(c *call) error {
	want, err := c.ifMatch()
	if err != nil {
		return err
	}
	patch, err := h.readPatch(c)
	if err != nil {
		return err
	}
	out, err := h.dir.ModifyTeam(c.ctx, c.tenant, c.r.PathValue("team"), func(tm *pbxusers.Team) error {
		if err := checkVersion(want, tm.Version); err != nil {
			return err
		}
		owner := tm.Owner
		if owner.Source == pbxusers.SourceManual {
			owner = pbxusers.Owner{}
		}
		var next pbxusers.Team
		if err := applyPatch(*tm, patch, &next, readOnlyTeamFields, pbxusers.Owner{}); err != nil {
			return err
		}
		if owner.Source != "" {
			if owned := changedPaths(toMap(*tm), toMap(next), teamOwnedFields); len(owned) > 0 {
				p := problemf(http.StatusConflict, typeOwned, "team %q is owned by source %s; its %v cannot be changed here", tm.Name, owner.Source, owned)
				p.Owner = owner.Source
				for _, f := range owned {
					p.Errors = append(p.Errors, FieldProblem{Path: f, Reason: "owned by source " + string(owner.Source)})
				}
				return p
			}
		}
		next.Owner.Synced, next.Owner.Hash = tm.Owner.Synced, tm.Owner.Hash
		*tm = next
		return nil
	})
	if err != nil {
		return err
	}
	return c.etag(out.Version).json(http.StatusOK, out)
}

func (h *Handler) deleteTeam(c *call) error {
	want, err := c.ifMatch()
	if err != nil {
		return err
	}
	err = h.dir.DeleteTeamIf(c.ctx, c.tenant, c.r.PathValue("team"), func(tm pbxusers.Team) error {
		if err := checkVersion(want, tm.Version); err != nil {
			return err
		}
		if s := tm.Owner.Source; s == pbxusers.SourceSCIM || s == pbxusers.SourceLDAP {
			p := problemf(http.StatusConflict, typeOwned, "team %q is owned by source %s; delete it there", tm.Name, s)
			p.Owner = s
			return p
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// memberList is a page of a team's member user ids.
type memberList struct {
	Items      []string `json:"items"`
	Total      int      `json:"total"`
	NextCursor string   `json:"nextCursor,omitempty"`
}

func (h *Handler) listTeamMembers(c *call) error {
	var ps pbxusers.Problems
	offset, limit := paging(c.r, &ps)
	if err := ps.Err(); err != nil {
		return err
	}
	ids, total, err := h.dir.ListTeamMembers(c.ctx, c.tenant, c.r.PathValue("team"), offset, limit)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, memberList{Items: nonNil(ids), Total: total, NextCursor: nextCursor(offset, len(ids), total)})
}

// membersBody is the body of PUT .../members: the complete member list.
type membersBody struct {
	Items []string `json:"items"`
}

// putTeamMembers makes the given users exactly the team's members; 409
// for a team SCIM or LDAP owns.
func (h *Handler) putTeamMembers(c *call) error {
	var b membersBody
	if err := h.decode(c, &b); err != nil {
		return err
	}
	id := c.r.PathValue("team")
	want, err := c.ifMatch()
	if err != nil {
		return err
	}
	_, err = h.dir.ChangeTeamMembersIf(c.ctx, c.tenant, id, pbxusers.MemberChange{Add: nonNil(b.Items), Replace: true}, func(tm pbxusers.Team) error {
		if err := checkVersion(want, tm.Version); err != nil {
			return err
		}
		if s := tm.Owner.Source; s == pbxusers.SourceSCIM || s == pbxusers.SourceLDAP {
			p := problemf(http.StatusConflict, typeOwned, "team %q is owned by source %s; change its members there", tm.Name, s)
			p.Owner = s
			return p
		}
		return nil
	})
	if err != nil {
		return err
	}
	return h.listTeamMembers(c)
}
