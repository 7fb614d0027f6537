package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"
)

// DefaultIdleTimeout is how long a session lasts without a request.
const DefaultIdleTimeout = 30 * time.Minute

// maxSessions bounds the session store's memory; when full, the oldest
// idle sessions are dropped first.
const maxSessions = 10_000

// session is a signed-in user.
type session struct {
	ID       string
	CSRF     string
	Tenant   string
	UserID   string
	UserName string
	Lang     string
	seen     time.Time
}

// sessions is the in-memory session store.
type sessions struct {
	idle time.Duration
	now  func() time.Time

	mu   sync.Mutex
	byID map[string]*session
}

func newSessions(idle time.Duration, now func() time.Time) *sessions {
	return &sessions{idle: idle, now: now, byID: map[string]*session{}}
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error()) // never happens on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// create starts a session.
func (s *sessions) create(tenant, userID, userName, lang string) *session {
	ss := &session{ID: randomToken(), CSRF: randomToken(), Tenant: tenant, UserID: userID, UserName: userName,
		Lang: lang, seen: s.now()}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.byID) >= maxSessions {
		s.expire()
	}
	if len(s.byID) >= maxSessions {
		var oldest *session
		for _, o := range s.byID {
			if oldest == nil || o.seen.Before(oldest.seen) {
				oldest = o
			}
		}
		delete(s.byID, oldest.ID)
	}
	s.byID[ss.ID] = ss
	return ss
}

// get returns the live session with the id and marks it used.
func (s *sessions) get(id string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.byID[id]
	if ss == nil {
		return nil
	}
	now := s.now()
	if now.Sub(ss.seen) > s.idle {
		delete(s.byID, id)
		return nil
	}
	ss.seen = now
	c := *ss
	return &c
}

// end removes a session.
func (s *sessions) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, id)
}

// expire drops idle sessions; the caller holds mu.
func (s *sessions) expire() {
	now := s.now()
	for id, ss := range s.byID {
		if now.Sub(ss.seen) > s.idle {
			delete(s.byID, id)
		}
	}
}

// cookieName is the session cookie's name: __Host- prefixed when secure,
// which binds it to this host and path / (RFC 6265bis §4.1.3.2).
func cookieName(secure bool) string {
	if secure {
		return "__Host-pbxgate_console"
	}
	return "pbxgate_console"
}

func (h *Handler) setCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	secure := h.secure(r)
	http.SetCookie(w, &http.Cookie{Name: cookieName(secure), Value: value, Path: "/", MaxAge: maxAge,
		Secure: secure, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

// session returns the request's session, or nil.
func (h *Handler) session(r *http.Request) *session {
	c, err := r.Cookie(cookieName(h.secure(r)))
	if err != nil || c.Value == "" {
		return nil
	}
	return h.sessions.get(c.Value)
}

// checkCSRF reports whether the form's token is the session's.
func checkCSRF(ss *session, r *http.Request) bool {
	return subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(ss.CSRF)) == 1
}

// sameOrigin reports whether a POST comes from the console's own pages:
// its Origin (or, without one, Referer) names this host. SameSite=Strict
// cookies already keep other sites' forms from carrying the session; this
// also covers the sign-in form, which has no session yet.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		origin = r.Header.Get("Referer")
	}
	if origin == "" {
		return false
	}
	for _, scheme := range []string{"http://", "https://"} {
		if origin == scheme+r.Host || len(origin) > len(scheme+r.Host) && origin[:len(scheme+r.Host)+1] == scheme+r.Host+"/" {
			return true
		}
	}
	return false
}
