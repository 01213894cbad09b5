package api

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/http/apierror"
	"github.com/apiq/apiq/http/auth"
)

// BrowserSessions signs the web interface in with a password and out.
type BrowserSessions interface {
	// PasswordSession checks the password like Sessions.Login and starts a
	// browser session; auth.ErrInvalidCredentials for a refusal.
	PasswordSession(ctx context.Context, meta eventstore.Metadata, in Login) (BrowserSession, error)
	// Logout revokes the session of the cookie token.
	Logout(ctx context.Context, token string) error
}

// createSession is the web interface's password login: it sets the
// session cookies and redirects to the interface.
func (s *server) createSession(c *gin.Context) {
	if s.deps.BrowserSessions == nil {
		apierror.Abort(c, ssoUnavailable)
		return
	}
	var in Login
	if !decode(c, &in) {
		return
	}
	sess, err := s.deps.BrowserSessions.PasswordSession(c.Request.Context(), s.metadata(c), in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	s.setSessionCookies(c, sess)
	c.Redirect(http.StatusSeeOther, "/")
}

// logout revokes the caller's browser session (a bearer caller has none)
// and clears the cookies.
func (s *server) logout(c *gin.Context) {
	if token, err := c.Cookie(auth.SessionCookie); err == nil && token != "" && s.deps.BrowserSessions != nil &&
		c.GetHeader("Authorization") == "" {
		if err := s.deps.BrowserSessions.Logout(c.Request.Context(), token); err != nil {
			s.fail(c, err)
			return
		}
	}
	s.clearSessionCookies(c)
	c.Status(http.StatusNoContent)
}
