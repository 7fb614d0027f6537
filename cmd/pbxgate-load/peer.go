package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
)

// peerHandler is the in-memory SCIM peer the gateway is measured against:
// the naive server one writes first with elimity-com/scim — users in a map
// behind one lock, nothing on disk, no validation beyond elimity's schema
// check and a unique userName. It answers only what the load sends (create,
// get by id, list, PUT, PATCH of simple attributes, delete), each correctly,
// so that the comparison is of the same requests and responses.
type peerHandler struct {
	mu     sync.RWMutex
	users  map[string]*peerUser
	byName map[string]string // userName → id
}

type peerUser struct {
	attrs            scim.ResourceAttributes
	externalID       string
	version          int
	created, updated time.Time
}

var _ scim.ResourceHandler = (*peerHandler)(nil)

func newPeerHandler() *peerHandler {
	return &peerHandler{users: map[string]*peerUser{}, byName: map[string]string{}}
}

func (p *peerHandler) resource(id string, u *peerUser) scim.Resource {
	created, updated := u.created, u.updated
	r := scim.Resource{ID: id, Attributes: u.attrs,
		Meta: scim.Meta{Created: &created, LastModified: &updated, Version: `W/"` + strconv.Itoa(u.version) + `"`}}
	if u.externalID != "" {
		r.ExternalID = optional.NewString(u.externalID)
	}
	return r
}

func newPeerID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Create stores a user; a userName that is taken is a 409.
func (p *peerHandler) Create(_ *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	name, _ := attrs["userName"].(string)
	ext, _ := attrs["externalId"].(string)
	delete(attrs, "externalId")
	now := time.Now().UTC()
	u := &peerUser{attrs: attrs, externalID: ext, version: 1, created: now, updated: now}
	id := newPeerID()
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, taken := p.byName[strings.ToLower(name)]; taken {
		return scim.Resource{}, scimerrors.ScimErrorUniqueness
	}
	p.users[id] = u
	p.byName[strings.ToLower(name)] = id
	return p.resource(id, u), nil
}

// Get returns a user by id.
func (p *peerHandler) Get(_ *http.Request, id string) (scim.Resource, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	u, ok := p.users[id]
	if !ok {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	return p.resource(id, u), nil
}

// GetAll returns a page of users in no particular order; filters are not
// supported.
func (p *peerHandler) GetAll(_ *http.Request, params scim.ListRequestParams) (scim.Page, error) {
	if params.FilterValidator != nil {
		return scim.Page{}, scimerrors.ScimErrorBadRequest("the peer does not filter")
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	page := scim.Page{TotalResults: len(p.users), Resources: []scim.Resource{}}
	i := 0
	for id, u := range p.users {
		i++
		if i < params.StartIndex {
			continue
		}
		if len(page.Resources) >= params.Count {
			break
		}
		page.Resources = append(page.Resources, p.resource(id, u))
	}
	return page, nil
}

// Replace replaces a user's attributes.
func (p *peerHandler) Replace(_ *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	name, _ := attrs["userName"].(string)
	ext, _ := attrs["externalId"].(string)
	delete(attrs, "externalId")
	p.mu.Lock()
	defer p.mu.Unlock()
	u, ok := p.users[id]
	if !ok {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	key := strings.ToLower(name)
	if other, taken := p.byName[key]; taken && other != id {
		return scim.Resource{}, scimerrors.ScimErrorUniqueness
	}
	old, _ := u.attrs["userName"].(string)
	delete(p.byName, strings.ToLower(old))
	p.byName[key] = id
	u.attrs, u.externalID = attrs, ext
	u.version++
	u.updated = time.Now().UTC()
	return p.resource(id, u), nil
}

// Delete removes a user.
func (p *peerHandler) Delete(_ *http.Request, id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	u, ok := p.users[id]
	if !ok {
		return scimerrors.ScimErrorResourceNotFound(id)
	}
	name, _ := u.attrs["userName"].(string)
	delete(p.byName, strings.ToLower(name))
	delete(p.users, id)
	return nil
}

// Patch applies add, replace and remove of top-level attributes (with or
// without a path, and a sub-attribute of a complex one such as
// name.givenName). Filtered paths are not supported.
func (p *peerHandler) Patch(_ *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	u, ok := p.users[id]
	if !ok {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	attrs := make(scim.ResourceAttributes, len(u.attrs))
	for k, v := range u.attrs {
		attrs[k] = v
	}
	for _, op := range ops {
		if op.Path == nil {
			m, ok := op.Value.(map[string]any)
			if !ok || op.Op == scim.PatchOperationRemove {
				return scim.Resource{}, scimerrors.ScimErrorInvalidValue
			}
			for k, v := range m {
				attrs[k] = v
			}
			continue
		}
		if op.Path.ValueExpression != nil {
			return scim.Resource{}, scimerrors.ScimErrorBadRequest("the peer does not patch filtered paths")
		}
		name := op.Path.AttributePath.AttributeName
		if sub := op.Path.AttributePath.SubAttribute; sub != nil {
			parent, _ := attrs[name].(map[string]any)
			next := make(map[string]any, len(parent)+1)
			for k, v := range parent {
				next[k] = v
			}
			if op.Op == scim.PatchOperationRemove {
				delete(next, *sub)
			} else {
				next[*sub] = op.Value
			}
			attrs[name] = next
			continue
		}
		if op.Op == scim.PatchOperationRemove {
			delete(attrs, name)
		} else {
			attrs[name] = op.Value
		}
	}
	if name, _ := attrs["userName"].(string); name != "" {
		if other, taken := p.byName[strings.ToLower(name)]; taken && other != id {
			return scim.Resource{}, scimerrors.ScimErrorUniqueness
		}
		old, _ := u.attrs["userName"].(string)
		delete(p.byName, strings.ToLower(old))
		p.byName[strings.ToLower(name)] = id
	}
	u.attrs = attrs
	u.version++
	u.updated = time.Now().UTC()
	return p.resource(id, u), nil
}

// peerServer is the peer's HTTP handler: a bearer token compared in
// constant time, then elimity's server under /scim/v2.
func peerServer(token string) (http.Handler, error) {
	s, err := scim.NewServer(&scim.ServerArgs{
		ServiceProviderConfig: &scim.ServiceProviderConfig{SupportPatch: true, MaxResults: 1000},
		ResourceTypes: []scim.ResourceType{{
			ID:          optional.NewString("User"),
			Name:        "User",
			Description: optional.NewString("User Account"),
			Endpoint:    "/Users",
			Schema:      schema.CoreUserSchema(),
			Handler:     newPeerHandler(),
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("peer: %w", err)
	}
	inner := http.StripPrefix("/scim", s)
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("Content-Type", "application/scim+json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"401","detail":"bad token"}`))
			return
		}
		inner.ServeHTTP(w, r)
	}), nil
}

// servePeer serves the peer on addr (a loopback address) until ctx ends.
// ready is called with the base URL once it listens.
func servePeer(ctx context.Context, addr, token string, ready func(base string)) error {
	if err := loopbackOnly("http://" + addr); err != nil {
		return fmt.Errorf("-listen %q: the peer only listens on loopback addresses", addr)
	}
	h, err := peerServer(token)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("peer: listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	ready("http://" + ln.Addr().String() + "/scim/v2")
	select {
	case err := <-errc:
		return fmt.Errorf("peer: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("peer: shut down: %w", err)
	}
	return nil
}
