package scim_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/scim"
	"github.com/pbxgate/pbxgate/scim/scimtest"
)

// rfcCase is one requirement of RFC 7644 §3 (and §4) the endpoint
// implements. setup creates what the case needs and returns the request.
type rfcCase struct {
	name  string
	setup func(t *testing.T, s *scimtest.Server) scimtest.Request
	check func(t *testing.T, s *scimtest.Server, r *scimtest.Response)
}

func userBody(userName string, extra map[string]any) map[string]any {
	b := map[string]any{"schemas": []string{userSchemaURN}, "userName": userName}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

func mustUser(t *testing.T, s *scimtest.Server, body map[string]any) map[string]any {
	t.Helper()
	r := s.Do(scimtest.Request{Method: "POST", Path: "/Users", Body: body})
	requireStatus(t, 201, r)
	return r.JSON(t)
}

func emailsOf(u map[string]any) []any { return asSlice(u["emails"]) }

func TestRFC7644(t *testing.T) {
	s := scimtest.MustStart(t, scim.Options{BaseURL: "https://pbx.example.com/scim/v2"})
	n := 0
	uniq := func(prefix string) string { n++; return fmt.Sprintf("%s%d@example.com", prefix, n) }
	newUser := func(t *testing.T, extra map[string]any) map[string]any {
		return mustUser(t, s, userBody(uniq("u"), extra))
	}
	patch := func(id string, ops ...map[string]any) scimtest.Request {
		return scimtest.Request{Method: "PATCH", Path: "/Users/" + id, Body: patchBody(ops...)}
	}
	var lastHome, last string
	twoEmails := func() map[string]any {
		n++
		lastHome = fmt.Sprintf("a%d@home.example", n)
		return map[string]any{"emails": []any{
			map[string]any{"value": fmt.Sprintf("a%d@work.example", n), "type": "work", "primary": true},
			map[string]any{"value": lastHome, "type": "home"},
		}}
	}

	cases := []rfcCase{
		{
			name: "§3.1 resources carry schemas, id and meta",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				return scimtest.Request{Method: "GET", Path: "/Users/" + newUser(t, nil)["id"].(string)}
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) {
				requireStatus(t, 200, r)
				m := r.JSON(t)
				assert.Contains(t, m["schemas"], userSchemaURN)
				assert.NotEmpty(t, m["id"])
				assert.Equal(t, "User", get(m, "meta", "resourceType"))
				assert.NotEmpty(t, get(m, "meta", "created"))
				assert.NotEmpty(t, get(m, "meta", "lastModified"))
				assert.Equal(t, "https://pbx.example.com/scim/v2/Users/"+m["id"].(string), get(m, "meta", "location"))
			},
		},
		{
			name: "§3.3 POST creates and answers 201 with the resource and Location",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				return scimtest.Request{Method: "POST", Path: "/Users", Body: userBody(uniq("c"), map[string]any{"displayName": "Created"})}
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) {
				requireStatus(t, 201, r)
				m := r.JSON(t)
				assert.Equal(t, "Created", m["displayName"])
				assert.Equal(t, get(m, "meta", "location"), r.Header.Get("Location"))
			},
		},
		{
			name: "§3.3 readOnly attributes in a POST are ignored (id, meta, groups)",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				return scimtest.Request{Method: "POST", Path: "/Users", Body: userBody(uniq("ro"), map[string]any{
					"id": "chosen-by-client", "meta": map[string]any{"version": "W/\"99\""}, "groups": []any{map[string]any{"value": "g1"}},
				})}
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) {
				requireStatus(t, 201, r)
				m := r.JSON(t)
				assert.NotEqual(t, "chosen-by-client", m["id"])
				assert.Equal(t, `W/"1"`, get(m, "meta", "version"))
				assert.Nil(t, m["groups"])
			},
		},
		{
			name: "§3.3 a duplicate is 409 with scimType uniqueness",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				u := newUser(t, nil)
				return scimtest.Request{Method: "POST", Path: "/Users", Body: userBody(strings.ToUpper(u["userName"].(string)), nil)}
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) {
				e := requireError(t, r, 409, "uniqueness")
				assert.Contains(t, e["detail"], "userName")
			},
		},
		{
			name: "§3.3 a body without the core schema is 400 invalidSyntax",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				return scimtest.Request{Method: "POST", Path: "/Users", Body: map[string]any{"userName": uniq("ns")}}
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) { requireError(t, r, 400, "invalidSyntax") },
		},
		{
			name: "§3.3 a missing required attribute is 400",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				return scimtest.Request{Method: "POST", Path: "/Users", Body: map[string]any{"schemas": []string{userSchemaURN}}}
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) { requireError(t, r, 400, "invalidValue") },
		},
		{
			name: "§3.4.1 GET of an unknown id is 404",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				return scimtest.Request{Method: "GET", Path: "/Users/01234567-0000-7000-8000-000000000000"}
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) { requireError(t, r, 404, "") },
		},
		{
			name: "§3.4.2 a query answers a ListResponse with integer totalResults, startIndex and itemsPerPage",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				newUser(t, nil)
				newUser(t, nil)
				return scimtest.Request{Method: "GET", Path: "/Users?count=1"}
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) {
				requireStatus(t, 200, r)
				m := r.JSON(t)
				assert.Equal(t, []any{listSchema}, m["schemas"])
				assert.GreaterOrEqual(t, m["totalResults"].(float64), float64(2))
				assert.Equal(t, float64(1), m["startIndex"])
				assert.Equal(t, float64(1), m["itemsPerPage"])
				assert.Len(t, m["Resources"], 1)
			},
		},
		{
			name: "§3.4.2.2 eq on userName is case-insensitive (caseExact false)",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				u := newUser(t, nil)
				return scimtest.Request{Method: "GET", Path: withFilter("/Users", `USERNAME EQ "`+strings.ToUpper(u["userName"].(string))+`"`)}
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) {
				requireStatus(t, 200, r)
				assert.Equal(t, float64(1), r.JSON(t)["totalResults"])
			},
		},
		{
			name: "§3.4.2.2 eq on externalId is case-exact",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				newUser(t, map[string]any{"externalId": "CaseExact-1"})
				return scimtest.Request{Method: "GET", Path: withFilter("/Users", `externalId eq "caseexact-1"`)}
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) {
				requireStatus(t, 200, r)
				assert.Equal(t, float64(0), r.JSON(t)["totalResults"])
			},
		},
		{
			name: "§3.4.2.2 operators co sw ew pr ne gt ge lt le, and/or/not and grouping",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				newUser(t, map[string]any{"displayName": "Grace Hopper", "name": map[string]any{"givenName": "Grace", "familyName": "Hopper"}, "title": "RADM"})
				newUser(t, map[string]any{"displayName": "Alan Turing", "name": map[string]any{"givenName": "Alan", "familyName": "Turing"}})
				return scimtest.Request{}
			},
			check: func(t *testing.T, s *scimtest.Server, _ *scimtest.Response) {
				count := func(f string) float64 {
					r := s.Do(scimtest.Request{Method: "GET", Path: withFilter("/Users", f, "count=0")})
					requireStatus(t, 200, r)
					return r.JSON(t)["totalResults"].(float64)
				}
				assert.Equal(t, 1.0, count(`displayName co "ace hop"`))
				assert.Equal(t, 1.0, count(`name.givenName sw "gr"`))
				assert.Equal(t, 1.0, count(`name.familyName ew "RING"`))
				assert.Equal(t, 1.0, count(`displayName eq "Grace Hopper" and name.familyName pr`))
				assert.Equal(t, 2.0, count(`displayName eq "Grace Hopper" or displayName eq "Alan Turing"`))
				assert.Equal(t, 1.0, count(`(displayName eq "Grace Hopper" or displayName eq "Alan Turing") and not (name.givenName eq "Alan")`))
				assert.Equal(t, 1.0, count(`name.givenName gt "Alan" and name.givenName le "Grace"`))
				assert.Equal(t, 1.0, count(`name.givenName ge "Alan" and name.givenName lt "Grace"`))
				assert.Equal(t, count(`userName pr`)-1, count(`displayName ne "Grace Hopper"`))
				assert.Equal(t, 1.0, count(`meta.created gt "2000-01-01T00:00:00Z" and displayName eq "Grace Hopper"`))
			},
		},
		{
			name: "§3.4.2.2 value filters: emails[type eq \"work\" and value co \"@\"] and emails[...].value",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				newUser(t, twoEmails())
				return scimtest.Request{}
			},
			check: func(t *testing.T, s *scimtest.Server, _ *scimtest.Response) {
				addr := lastHome
				for f, want := range map[string]float64{
					`emails[type eq "home" and value eq "` + addr + `"]`: 1,
					`emails[type eq "work" and value eq "` + addr + `"]`: 0,
					`emails[type eq "home"].value eq "` + addr + `"`:     1,
					`emails eq "` + strings.ToUpper(addr) + `"`:          1,
					`emails.value eq "` + addr + `"`:                     1,
				} {
					r := s.Do(scimtest.Request{Method: "GET", Path: withFilter("/Users", f)})
					requireStatus(t, 200, r)
					assert.Equal(t, want, r.JSON(t)["totalResults"], f)
				}
			},
		},
		{
			name: "§3.4.2.2 an invalid filter is 400 invalidFilter",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				return scimtest.Request{Method: "GET", Path: withFilter("/Users", `userName eq`)}
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) { requireError(t, r, 400, "invalidFilter") },
		},
		{
			name: "§3.4.2.2 a filter on an unsupported attribute is 400 invalidFilter",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				return scimtest.Request{Method: "GET", Path: withFilter("/Users", `title eq "x"`)}
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) {
				e := requireError(t, r, 400, "invalidFilter")
				assert.Contains(t, e["detail"], "title")
			},
		},
		{
			name: "§3.4.2.3 sortBy and sortOrder",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				newUser(t, map[string]any{"displayName": "zz-sort"})
				newUser(t, map[string]any{"displayName": "aa-sort"})
				return scimtest.Request{Method: "GET", Path: withFilter("/Users", `displayName ew "-sort"`, "sortBy=displayName", "sortOrder=descending")}
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) {
				requireStatus(t, 200, r)
				assert.Equal(t, "zz-sort", get(r.JSON(t), "Resources", 0, "displayName"))
				assert.Equal(t, "aa-sort", get(r.JSON(t), "Resources", 1, "displayName"))
			},
		},
		{
			name: "§3.4.2.4 startIndex below 1 is 1, count 0 returns only totalResults",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				newUser(t, nil)
				return scimtest.Request{Method: "GET", Path: "/Users?startIndex=-5&count=0"}
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) {
				requireStatus(t, 200, r)
				m := r.JSON(t)
				assert.Equal(t, float64(1), m["startIndex"])
				assert.Empty(t, m["Resources"])
				assert.Positive(t, m["totalResults"].(float64))
			},
		},
		{
			name:  "§3.4.2.4 pages are stable and disjoint",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request { return scimtest.Request{} },
			check: func(t *testing.T, s *scimtest.Server, _ *scimtest.Response) {
				seen := map[string]bool{}
				total := -1
				for start := 1; total < 0 || start <= total; start += 3 {
					r := s.Do(scimtest.Request{Method: "GET", Path: fmt.Sprintf("/Users?startIndex=%d&count=3", start)})
					requireStatus(t, 200, r)
					total = int(r.JSON(t)["totalResults"].(float64))
					for _, u := range asSlice(r.JSON(t)["Resources"]) {
						id := get(u, "id").(string)
						assert.False(t, seen[id], "user %s on two pages", id)
						seen[id] = true
					}
				}
				assert.Len(t, seen, total)
			},
		},
		{
			name: "§3.4.2.5 attributes and excludedAttributes",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				u := newUser(t, map[string]any{"displayName": "Proj", "name": map[string]any{"givenName": "G", "familyName": "F"}, "externalId": "proj-1"})
				return scimtest.Request{Method: "GET", Path: "/Users/" + u["id"].(string) + "?attributes=name.givenName,userName"}
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) {
				requireStatus(t, 200, r)
				m := r.JSON(t)
				assert.Equal(t, map[string]any{"givenName": "G"}, m["name"])
				assert.NotEmpty(t, m["userName"])
				assert.NotContains(t, m, "displayName")
				assert.NotContains(t, m, "externalId")
				assert.NotEmpty(t, m["id"], "id is always returned")
				r = s.Do(scimtest.Request{Method: "GET", Path: "/Users/" + m["id"].(string) + "?excludedAttributes=displayName,name.familyName," + pbxSchemaURN})
				m = r.JSON(t)
				assert.NotContains(t, m, "displayName")
				assert.NotContains(t, m, pbxSchemaURN)
				assert.Equal(t, map[string]any{"givenName": "G"}, m["name"])
				assert.Equal(t, "proj-1", m["externalId"])
			},
		},
		{
			name: "§3.4.3 POST .search takes the query in the body, filters on common attributes too",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				newUser(t, map[string]any{"externalId": "search-1", "displayName": "Searched"})
				return scimtest.Request{Method: "POST", Path: "/Users/.search", Body: map[string]any{
					"schemas": []string{searchSchema}, "filter": `externalId eq "search-1"`,
					"attributes": []string{"displayName"}, "startIndex": 1, "count": 10,
				}}
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) {
				requireStatus(t, 200, r)
				m := r.JSON(t)
				assert.Equal(t, float64(1), m["totalResults"])
				assert.Equal(t, "Searched", get(m, "Resources", 0, "displayName"))
				assert.Nil(t, get(m, "Resources", 0, "userName"))
			},
		},
		{
			name: "§3.4.3 .search needs the SearchRequest schema",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				return scimtest.Request{Method: "POST", Path: "/Groups/.search", Body: map[string]any{"filter": `displayName eq "x"`}}
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) { requireError(t, r, 400, "") },
		},
		{
			name: "§3.5.1 PUT replaces: attributes left out are cleared, readOnly ones ignored",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				u := newUser(t, map[string]any{"title": "Boss", "nickName": "B"})
				return scimtest.Request{Method: "PUT", Path: "/Users/" + u["id"].(string), Body: userBody(u["userName"].(string), map[string]any{"id": "other", "title": "Clerk"})}
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) {
				requireStatus(t, 200, r)
				m := r.JSON(t)
				assert.Equal(t, "Clerk", m["title"])
				assert.NotContains(t, m, "nickName")
				assert.NotEqual(t, "other", m["id"])
			},
		},
		{
			name: "§3.5.1 PUT changing an immutable attribute is 400 mutability",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				u := newUser(t, nil)
				return scimtest.Request{Method: "PUT", Path: "/Users/" + u["id"].(string), Body: userBody(u["userName"].(string), map[string]any{pbxSchemaURN: map[string]any{"kind": "call_queue"}})}
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) { requireError(t, r, 400, "") },
		},
		{
			name: "§3.5.2 PATCH needs the PatchOp schema",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				u := newUser(t, nil)
				return scimtest.Request{Method: "PATCH", Path: "/Users/" + u["id"].(string), Body: map[string]any{"Operations": []any{op("add", "title", "x")}}}
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) { requireError(t, r, 400, "invalidValue") },
		},
		{
			name: "§3.5.2 an unknown path is 400 invalidPath",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				return patch(newUser(t, nil)["id"].(string), op("replace", "nosuchattr", "x"))
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) { requireError(t, r, 400, "invalidPath") },
		},
		{
			name: "§3.5.2 a readOnly target is 400 mutability",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				return patch(newUser(t, nil)["id"].(string), op("add", "groups", []any{map[string]any{"value": "x"}}))
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) { requireError(t, r, 400, "mutability") },
		},
		{
			name: "§3.5.2.1 add without path merges attributes; add to a multi-valued attribute appends",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				u := newUser(t, map[string]any{"name": map[string]any{"familyName": "F"}})
				return patch(u["id"].(string),
					op("add", "", map[string]any{"name": map[string]any{"givenName": "G"}, "title": "T"}),
					op("add", "emails", []any{map[string]any{"value": "added-" + u["userName"].(string), "type": "other"}}))
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) {
				requireStatus(t, 200, r)
				m := r.JSON(t)
				assert.Equal(t, map[string]any{"givenName": "G", "familyName": "F"}, m["name"])
				assert.Equal(t, "T", m["title"])
				assert.Len(t, emailsOf(m), 1)
			},
		},
		{
			name: "§3.5.2.1 add of a value already present changes nothing",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				u := newUser(t, twoEmails())
				return patch(u["id"].(string), op("add", "emails", []any{get(u, "emails", 1)}))
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) {
				requireStatus(t, 200, r)
				assert.Len(t, emailsOf(r.JSON(t)), 2)
				assert.Equal(t, `W/"1"`, r.Header.Get("ETag"))
			},
		},
		{
			name: "§3.5.2.2 remove without a path is 400 noTarget",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				return patch(newUser(t, nil)["id"].(string), op("remove", "", nil))
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) { requireError(t, r, 400, "noTarget") },
		},
		{
			name: "§3.5.2.2 remove of a value selected by a filter",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				return patch(newUser(t, twoEmails())["id"].(string), op("remove", `emails[type eq "home"]`, nil), op("remove", "title", nil))
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) {
				requireStatus(t, 200, r)
				assert.Len(t, emailsOf(r.JSON(t)), 1)
				assert.Equal(t, "work", get(r.JSON(t), "emails", 0, "type"))
			},
		},
		{
			name: "§3.5.2.3 replace with a value filter and sub-attribute replaces that sub-attribute",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				return patch(newUser(t, twoEmails())["id"].(string), op("replace", `emails[type eq "home"].value`, "new-home@example.com"))
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) {
				requireStatus(t, 200, r)
				assert.Equal(t, "new-home@example.com", get(r.JSON(t), "emails", 1, "value"))
				assert.Equal(t, "home", get(r.JSON(t), "emails", 1, "type"))
			},
		},
		{
			name: "§3.5.2.3 replace with a value filter that matches nothing is 400 noTarget",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				return patch(newUser(t, twoEmails())["id"].(string), op("replace", `emails[value co "nowhere"].type`, "other"))
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) { requireError(t, r, 400, "noTarget") },
		},
		{
			name: "§3.5.2.3 replace of a multi-valued attribute replaces all values; primary stays unique",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				u := newUser(t, twoEmails())
				return patch(u["id"].(string), op("replace", `emails[type eq "home"].primary`, true))
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) {
				requireStatus(t, 200, r)
				m := r.JSON(t)
				assert.Equal(t, false, get(m, "emails", 0, "primary"))
				assert.Equal(t, true, get(m, "emails", 1, "primary"))
			},
		},
		{
			name: "§3.5.2 operations apply in order and atomically: a failing one changes nothing",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				last = newUser(t, nil)["id"].(string)
				return patch(last, op("replace", "title", "Changed"), op("replace", "emails[value co \"nowhere\"].type", "home"))
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) {
				requireError(t, r, 400, "noTarget")
				g := s.Do(scimtest.Request{Method: "GET", Path: "/Users/" + last})
				assert.NotContains(t, g.JSON(t), "title")
				assert.Equal(t, `W/"1"`, g.Header.Get("ETag"))
			},
		},
		{
			name: "§3.5.2 group members: replace with [] empties the group",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				last = s.MustCreateGroup(uniq("g"), newUser(t, nil)["id"].(string), newUser(t, nil)["id"].(string))
				return scimtest.Request{Method: "PATCH", Path: "/Groups/" + last, Body: patchBody(op("replace", "members", []any{}))}
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) {
				requireStatus(t, 204, r)
				assert.Equal(t, `W/"2"`, r.Header.Get("ETag"))
				g := s.Do(scimtest.Request{Method: "GET", Path: "/Groups/" + last})
				assert.Equal(t, []any{}, g.JSON(t)["members"])
			},
		},
		{
			name: "§3.6 DELETE answers 204, then the resource is gone",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				return scimtest.Request{Method: "DELETE", Path: "/Users/" + newUser(t, nil)["id"].(string)}
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) {
				requireStatus(t, 204, r)
				assert.Empty(t, r.Body)
			},
		},
		{
			name: "§3.7 a BulkRequest without operations is 400 (Bulk itself: bulk_test.go)",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				return scimtest.Request{Method: "POST", Path: "/Bulk", Body: "{}"}
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) { requireError(t, r, 400, "invalidSyntax") },
		},
		{
			name: "§3.9 attributes applies to the response of a POST",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				return scimtest.Request{Method: "POST", Path: "/Users?attributes=userName", Body: userBody(uniq("p"), map[string]any{"title": "x"})}
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) {
				requireStatus(t, 201, r)
				assert.NotContains(t, r.JSON(t), "title")
				assert.NotEmpty(t, r.JSON(t)["userName"])
			},
		},
		{
			name: "§3.10 URN-qualified attribute names work in paths and filters",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				return patch(newUser(t, nil)["id"].(string), op("replace", userSchemaURN+":title", "Urn"), op("add", pbxSchemaURN+":location", "Berlin"))
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) {
				requireStatus(t, 200, r)
				assert.Equal(t, "Urn", r.JSON(t)["title"])
				f := s.Do(scimtest.Request{Method: "GET", Path: withFilter("/Users", pbxSchemaURN+`:location eq "berlin" and urn:ietf:params:scim:schemas:core:2.0:User:userName pr`)})
				assert.Equal(t, float64(1), f.JSON(t)["totalResults"])
			},
		},
		{
			name: "§3.12 errors carry the Error schema, status as a string and a detail",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				return scimtest.Request{Method: "GET", Path: "/Groups/nope"}
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) {
				requireError(t, r, 404, "")
				assert.Equal(t, "application/scim+json", r.Header.Get("Content-Type"))
			},
		},
		{
			name: "§3.12 an unknown endpoint is 404, a wrong method 405",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				return scimtest.Request{Method: "DELETE", Path: "/Users"}
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) {
				requireError(t, r, 405, "")
				assert.Equal(t, "GET, POST", r.Header.Get("Allow"))
				requireError(t, s.Do(scimtest.Request{Method: "GET", Path: "/Widgets"}), 404, "")
			},
		},
		{
			name: "§3.14 ETag and meta.version agree; If-None-Match answers 304",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				return scimtest.Request{Method: "GET", Path: "/Users/" + newUser(t, nil)["id"].(string)}
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) {
				requireStatus(t, 200, r)
				m := r.JSON(t)
				assert.Equal(t, `W/"1"`, r.Header.Get("ETag"))
				assert.Equal(t, r.Header.Get("ETag"), get(m, "meta", "version"))
				nm := s.Do(scimtest.Request{Method: "GET", Path: "/Users/" + m["id"].(string), Header: http.Header{"If-None-Match": {`W/"1"`}}})
				requireStatus(t, 304, nm)
				assert.Empty(t, nm.Body)
				assert.Equal(t, `W/"1"`, nm.Header.Get("ETag"))
				nm = s.Do(scimtest.Request{Method: "GET", Path: "/Users/" + m["id"].(string), Header: http.Header{"If-None-Match": {`W/"7"`}}})
				requireStatus(t, 200, nm)
			},
		},
		{
			name: "§3.14 If-Match with a stale version is 412 on PUT, PATCH and DELETE",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				return patch(newUser(t, nil)["id"].(string), op("replace", "title", "v2"))
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) {
				requireStatus(t, 200, r)
				id := r.JSON(t)["id"].(string)
				stale := http.Header{"If-Match": {`W/"1"`}}
				requireError(t, s.Do(scimtest.Request{Method: "PATCH", Path: "/Users/" + id, Header: stale, Body: patchBody(op("replace", "title", "v3"))}), 412, "")
				requireError(t, s.Do(scimtest.Request{Method: "PUT", Path: "/Users/" + id, Header: stale, Body: userBody(r.JSON(t)["userName"].(string), nil)}), 412, "")
				requireError(t, s.Do(scimtest.Request{Method: "DELETE", Path: "/Users/" + id, Header: stale}), 412, "")
				ok := s.Do(scimtest.Request{Method: "PATCH", Path: "/Users/" + id, Header: http.Header{"If-Match": {`W/"2"`}}, Body: patchBody(op("replace", "title", "v3"))})
				requireStatus(t, 200, ok)
				assert.Equal(t, `W/"3"`, ok.Header.Get("ETag"))
				// Groups: a member-only PATCH and DELETE check it in the write.
				gid := s.MustCreateGroup("Stale")
				gstale := http.Header{"If-Match": {`W/"99"`}}
				requireError(t, s.Do(scimtest.Request{Method: "PATCH", Path: "/Groups/" + gid, Header: gstale,
					Body: patchBody(op("add", "members", []any{map[string]any{"value": id}}))}), 412, "")
				requireError(t, s.Do(scimtest.Request{Method: "DELETE", Path: "/Groups/" + gid, Header: gstale}), 412, "")
				requireStatus(t, 200, s.Do(scimtest.Request{Method: "GET", Path: "/Groups/" + gid}))
			},
		},
		{
			name: "§4 the discovery endpoints refuse filters with 403",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				return scimtest.Request{Method: "GET", Path: withFilter("/Schemas", `id eq "x"`)}
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) { requireError(t, r, 403, "") },
		},
		{
			name: "§4 ServiceProviderConfig advertises what is supported",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				return scimtest.Request{Method: "GET", Path: "/ServiceProviderConfig"}
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) {
				requireStatus(t, 200, r)
				m := r.JSON(t)
				for _, f := range []string{"patch", "filter", "sort", "etag", "changePassword"} {
					assert.Equal(t, true, get(m, f, "supported"), f)
				}
				assert.Equal(t, true, get(m, "bulk", "supported"))
				assert.Equal(t, float64(scim.DefaultBulkMaxOperations), get(m, "bulk", "maxOperations"))
				assert.Equal(t, float64(1000), get(m, "filter", "maxResults"))
				assert.Equal(t, "oauthbearertoken", get(m, "authenticationSchemes", 0, "type"))
			},
		},
		{
			name: "§4 ResourceTypes lists Users and Groups with their extensions",
			setup: func(t *testing.T, s *scimtest.Server) scimtest.Request {
				return scimtest.Request{Method: "GET", Path: "/ResourceTypes"}
			},
			check: func(t *testing.T, s *scimtest.Server, r *scimtest.Response) {
				requireStatus(t, 200, r)
				m := r.JSON(t)
				assert.Equal(t, float64(2), m["totalResults"])
				assert.Contains(t, string(r.Body), pbxSchemaURN)
				assert.Contains(t, string(r.Body), pbxGroupURN)
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := c.setup(t, s)
			var r *scimtest.Response
			if req.Method != "" {
				r = s.Do(req)
			}
			c.check(t, s, r)
		})
	}
}

// TestSchemasListEveryMappedAttribute checks /Schemas against the
// attributes the handlers read and write.
func TestSchemasListEveryMappedAttribute(t *testing.T) {
	s := scimtest.MustStart(t, scim.Options{})
	r := s.Do(scimtest.Request{Method: "GET", Path: "/Schemas"})
	requireStatus(t, 200, r)
	attrs := map[string]map[string]bool{}
	for _, sc := range asSlice(r.JSON(t)["Resources"]) {
		names := map[string]bool{}
		for _, a := range asSlice(get(sc, "attributes")) {
			name := get(a, "name").(string)
			names[name] = true
			for _, sub := range asSlice(get(a, "subAttributes")) {
				names[name+"."+get(sub, "name").(string)] = true
			}
		}
		attrs[get(sc, "id").(string)] = names
	}
	want := map[string][]string{
		userSchemaURN: {"userName", "name.formatted", "name.givenName", "name.familyName", "name.middleName",
			"name.honorificPrefix", "name.honorificSuffix", "displayName", "nickName", "title", "preferredLanguage",
			"locale", "timezone", "active", "password", "emails.value", "emails.type", "emails.primary",
			"phoneNumbers.value", "phoneNumbers.type", "phoneNumbers.primary", "groups.value", "groups.display", "groups.$ref"},
		entSchemaURN: {"employeeNumber", "costCenter", "organization", "division", "department", "manager.value", "manager.$ref"},
		pbxSchemaURN: {"kind", "source", "extension", "stationNumber", "location", "customId", "role", "profiles", "recording",
			"callerId.number", "callerId.name", "callerId.anonymous", "features.mobileApp", "features.webCalls",
			"features.operatorConsole", "features.voicemail", "features.fixedMobileSim", "features.hotDesking",
			"features.multipleCallerId", "features.busyReject", "features.textMessages",
			"routing.answerMode", "routing.forwardNumber", "routing.backupNumber"},
		groupSchemaURN: {"displayName", "members.value", "members.$ref", "members.type"},
		pbxGroupURN:    {"profiles"},
	}
	for urn, names := range want {
		require.Contains(t, attrs, urn)
		for _, n := range names {
			assert.True(t, attrs[urn][n], "%s:%s missing from /Schemas", urn, n)
		}
	}
	assert.False(t, attrs[userSchemaURN]["ims"], "unsupported attributes are not advertised")
	// Each schema can be read on its own too.
	r = s.Do(scimtest.Request{Method: "GET", Path: "/Schemas/" + pbxSchemaURN})
	requireStatus(t, 200, r)
	assert.Equal(t, pbxSchemaURN, r.JSON(t)["id"])
}

// TestIfMatchIsAtomic: concurrent PATCHes that all name version 1 — the
// library checks the version in the write transaction, so exactly one
// succeeds and the others get 412 (RFC 7644 §3.14).
func TestIfMatchIsAtomic(t *testing.T) {
	s := scimtest.MustStart(t, scim.Options{})
	id := s.MustCreateUser("race@example.com")
	const n = 8
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := s.With(t).Do(scimtest.Request{Method: "PATCH", Path: "/Users/" + id, Header: http.Header{"If-Match": {`W/"1"`}},
				Body: patchBody(op("replace", "title", fmt.Sprint("writer ", i)))})
			statuses <- r.Status
		}(i)
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for st := range statuses {
		count[st]++
	}
	assert.Equal(t, map[int]int{200: 1, 412: n - 1}, count)
}
