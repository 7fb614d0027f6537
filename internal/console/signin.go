package console

import (
	"errors"
	"net/http"
	"strings"

	"github.com/pbxgate/pbxgate/internal/ratelimit"
	"github.com/pbxgate/pbxgate/pbxusers"
)

// signInData fills the sign-in form again after a failure (never the
// password).
type signInData struct {
	Tenant, Login string
}

func (h *Handler) signInForm(w http.ResponseWriter, r *http.Request) {
	t := textsFor(nil, r)
	h.write(w, r, http.StatusOK, "signin", page{T: t, Title: t.get("signInTitle"), Data: signInData{Tenant: r.URL.Query().Get("tenant")}})
}

// mayUseConsole reports whether a user may sign in to the console.
func mayUseConsole(u pbxusers.User) bool {
	return u.Active() && u.Kind == pbxusers.KindPerson && (u.Role == pbxusers.RoleAdmin || u.Role == pbxusers.RoleOwner)
}

// signIn checks a login and password. Failures are throttled per client
// address and per account, and all look alike.
func (h *Handler) signIn(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	t := textsFor(nil, r)
	if !sameOrigin(r) {
		h.fail(w, r, nil, http.StatusForbidden, "formExpired")
		return
	}
	tenant, login := strings.TrimSpace(r.PostFormValue("tenant")), strings.TrimSpace(r.PostFormValue("login"))
	client := h.opts.ClientIP(r)
	ipKey, userKey := ratelimit.ClientKey(client), tenant+"\x00"+strings.ToLower(login)
	for _, l := range []struct {
		lim *ratelimit.Limiter
		key string
	}{{h.byIP, ipKey}, {h.byUser, userKey}} {
		if blocked, wait := l.lim.Blocked(l.key); blocked {
			h.log.WarnContext(ctx, "console sign-in throttled", "client", client, "tenant", tenant, "login", login)
			w.Header().Set("Retry-After", ratelimit.RetryAfter(wait))
			h.write(w, r, http.StatusTooManyRequests, "signin", page{T: t, Title: t.get("signInTitle"),
				Error: t.get("tooMany"), Data: signInData{Tenant: tenant, Login: login}})
			return
		}
	}
	u, err := h.dir.Login(ctx, tenant, login, r.PostFormValue("password"))
	if err == nil && !mayUseConsole(u) {
		err = pbxusers.ErrUnauthenticated
	}
	if err != nil {
		if !errors.Is(err, pbxusers.ErrUnauthenticated) && !errors.Is(err, pbxusers.ErrNotFound) {
			h.log.ErrorContext(ctx, "console sign-in failed", "error", err)
		}
		h.byIP.Allow(ipKey)
		h.byUser.Allow(userKey)
		h.log.WarnContext(ctx, "console sign-in refused", "client", client, "tenant", tenant, "login", login)
		h.write(w, r, http.StatusUnauthorized, "signin", page{T: t, Title: t.get("signInTitle"),
			Error: t.get("badSignIn"), Data: signInData{Tenant: tenant, Login: login}})
		return
	}
	h.start(w, r, u)
}

// start opens a session for u and goes to the Users page.
func (h *Handler) start(w http.ResponseWriter, r *http.Request, u pbxusers.User) {
	ss := h.sessions.create(u.TenantID, u.ID, u.UserName, u.Language)
	h.setCookie(w, r, ss.ID, 0)
	h.log.InfoContext(r.Context(), "console sign-in", "tenant", u.TenantID, "user_id", u.ID, "client", h.opts.ClientIP(r))
	http.Redirect(w, r, Prefix+"/users", http.StatusSeeOther)
}

// linkForm shows a button that uses a one-time link: a GET (a mail
// scanner's, a preview's) never uses it up.
func (h *Handler) linkForm(w http.ResponseWriter, r *http.Request) {
	t := textsFor(nil, r)
	h.write(w, r, http.StatusOK, "link", page{T: t, Title: t.get("linkTitle"), Data: r.PathValue("token")})
}

func (h *Handler) useLink(w http.ResponseWriter, r *http.Request) {
	client := h.opts.ClientIP(r)
	if blocked, wait := h.byIP.Blocked(ratelimit.ClientKey(client)); blocked {
		w.Header().Set("Retry-After", ratelimit.RetryAfter(wait))
		h.fail(w, r, nil, http.StatusTooManyRequests, "tooMany")
		return
	}
	if !sameOrigin(r) {
		h.fail(w, r, nil, http.StatusForbidden, "formExpired")
		return
	}
	u, err := h.dir.UseSignInLink(r.Context(), r.PathValue("token"))
	if err != nil {
		h.byIP.Allow(ratelimit.ClientKey(client))
		h.log.WarnContext(r.Context(), "console sign-in link refused", "client", client)
		h.fail(w, r, nil, http.StatusNotFound, "badLink")
		return
	}
	h.start(w, r, u)
}

func (h *Handler) signOut(w http.ResponseWriter, r *http.Request, ss *session) {
	h.sessions.end(ss.ID)
	h.setCookie(w, r, "", -1)
	http.Redirect(w, r, Prefix+"/sign-in", http.StatusSeeOther)
}
