package auth

import (
	"context"
	"net/http"
	"net/url"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/apiq/apiq/http/apierror"
)

// The browser session's cookies and the header the web interface echoes
// the CSRF token in.
const (
	SessionCookie = "apiq_session"
	CSRFCookie    = "apiq_csrf"
	CSRFHeader    = "X-CSRF-Token"
)

// ErrCSRF refuses a cookie-authenticated state-changing request without
// the session's CSRF token or a same-origin Origin header.
var ErrCSRF = apierror.New(http.StatusForbidden, "csrf_failed",
	"a request authenticated by the session cookie must carry the X-CSRF-Token header or come from APIQ's origin")

// SessionAuthenticator resolves a browser session cookie.
type SessionAuthenticator interface {
	// AuthenticateSession returns the session's principal and whether csrf
	// is the session's CSRF token; ErrInvalidCredentials when the token
	// names no live session.
	AuthenticateSession(ctx context.Context, token, csrf string) (p Principal, csrfOK bool, err error)
}

// WithSessions returns a copy of g that also accepts the browser session
// cookie when a request has no Authorization header. Such a request that
// changes state needs the session's CSRF token in X-CSRF-Token or an
// Origin among origins (or the request's own host).
func (g *Guard) WithSessions(sessions SessionAuthenticator, origins []string) *Guard {
	out := *g
	out.sessions = sessions
	out.origins = origins
	return &out
}

// fromSession authenticates the request by its session cookie; ok is false
// when it has none (or g accepts none).
func (g *Guard) fromSession(c *gin.Context) (p Principal, ok bool, err error) {
	if g.sessions == nil {
		return Principal{}, false, nil
	}
	token, cerr := c.Cookie(SessionCookie)
	if cerr != nil || token == "" {
		return Principal{}, false, nil
	}
	p, csrfOK, err := g.sessions.AuthenticateSession(c.Request.Context(), token, c.GetHeader(CSRFHeader))
	if err != nil {
		return Principal{}, true, err
	}
	if !safeMethod(c.Request.Method) && !csrfOK && !g.sameOrigin(c.Request) {
		return Principal{}, true, ErrCSRF
	}
	return p, true, nil
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// sameOrigin reports whether the request's Origin is one of the allowed
// origins or that of the host it was sent to.
func (g *Guard) sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		return false
	}
	if slices.Contains(g.origins, origin) {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && u.Host == r.Host
}
