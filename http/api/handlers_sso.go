package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/oidc"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/http/apierror"
	"github.com/apiq/apiq/http/auth"
)

// SSO manages a tenant's OpenID providers and signs users in through them.
type SSO interface {
	CreateProvider(ctx context.Context, meta eventstore.Metadata, in oidc.NewProvider) (oidc.Provider, error)
	ListProviders(ctx context.Context, tenantID string) ([]oidc.Provider, error)
	DeleteProvider(ctx context.Context, meta eventstore.Metadata, id string) error
	// StartLogin returns the provider's authorization URL for a new login.
	StartLogin(ctx context.Context, providerID, redirectURI string) (string, error)
	// CompleteLogin verifies the callback, signs the user in (creating or
	// linking them) and starts a browser session.
	CompleteLogin(ctx context.Context, meta eventstore.Metadata, providerID, code, state string) (BrowserSession, error)
	// RecordProviderError records in the audit trail that the provider
	// sent the browser back with an error code instead of a code.
	RecordProviderError(ctx context.Context, meta eventstore.Metadata, providerID, errorCode string)
}

// BrowserSession is a new server-side session's secrets, for its cookies.
type BrowserSession struct {
	Token     string
	CSRFToken string
	ExpiresAt time.Time
}

// ssoUnavailable answers when the server runs without single sign-on.
var ssoUnavailable = apierror.New(http.StatusNotFound, apierror.CodeNotFound, "single sign-on is not configured")

func (s *server) createSSOProvider(c *gin.Context) {
	if s.deps.SSO == nil {
		apierror.Abort(c, ssoUnavailable)
		return
	}
	var in oidc.NewProvider
	if !decode(c, &in) {
		return
	}
	p, err := s.deps.SSO.CreateProvider(c.Request.Context(), s.metadata(c), in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"id": p.ID, "provider": p, "redirect_uri": s.ssoCallbackURL(c, p.ID)})
}

func (s *server) listSSOProviders(c *gin.Context) {
	if s.deps.SSO == nil {
		apierror.Abort(c, ssoUnavailable)
		return
	}
	p, _ := auth.PrincipalFrom(c)
	providers, err := s.deps.SSO.ListProviders(c.Request.Context(), p.TenantID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"providers": providers})
}

func (s *server) deleteSSOProvider(c *gin.Context) {
	if s.deps.SSO == nil {
		apierror.Abort(c, ssoUnavailable)
		return
	}
	if err := s.deps.SSO.DeleteProvider(c.Request.Context(), s.metadata(c), c.Param("id")); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// LoginProvider is what a login page shows of a provider: a button.
type LoginProvider struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// listLoginProviders lists a tenant's providers, id and name only, for the
// web interface's login page (public: the page has no session yet).
func (s *server) listLoginProviders(c *gin.Context) {
	out := []LoginProvider{}
	if s.deps.SSO != nil {
		providers, err := s.deps.SSO.ListProviders(c.Request.Context(), c.Query("tenant"))
		if err != nil {
			s.fail(c, err)
			return
		}
		for _, p := range providers {
			out = append(out, LoginProvider{ID: p.ID, Name: p.Name})
		}
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"providers": out})
}

// startSSO sends the browser to the provider.
func (s *server) startSSO(c *gin.Context) {
	if s.deps.SSO == nil {
		s.ssoFailed(c, ssoUnavailable)
		return
	}
	provider := c.Param("provider")
	u, err := s.deps.SSO.StartLogin(c.Request.Context(), provider, s.ssoCallbackURL(c, provider))
	if err != nil {
		s.ssoFailed(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Redirect(http.StatusFound, u)
}

// completeSSO is where the provider sends the browser back: a verified
// login sets the session cookies and redirects to the web interface.
func (s *server) completeSSO(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	if s.deps.SSO == nil {
		s.ssoFailed(c, ssoUnavailable)
		return
	}
	if providerError := c.Query("error"); providerError != "" {
		s.deps.SSO.RecordProviderError(c.Request.Context(), s.metadata(c), c.Param("provider"), providerError)
		s.ssoFailed(c, oidc.ErrLoginRefused)
		return
	}
	sess, err := s.deps.SSO.CompleteLogin(c.Request.Context(), s.metadata(c), c.Param("provider"), c.Query("code"), c.Query("state"))
	if err != nil {
		s.ssoFailed(c, err)
		return
	}
	s.setSessionCookies(c, sess)
	c.Redirect(http.StatusSeeOther, "/")
}

// ssoFailed sends the browser back to the web interface with the error's
// code (the user navigated here; a JSON body would strand them), after
// logging the cause.
func (s *server) ssoFailed(c *gin.Context, err error) {
	code := "sso_failed"
	var de *domain.Error
	var ae *apierror.Error
	switch {
	case errors.As(err, &de):
		code = de.Code
	case errors.As(err, &ae):
		code = string(ae.Code)
	default:
		s.deps.Logger.ErrorContext(c.Request.Context(), "sso login failed", "error", err.Error())
	}
	c.Redirect(http.StatusSeeOther, "/?sso_error="+url.QueryEscape(code))
}

// ssoCallbackURL is the redirect URI to register at the provider: under
// PublicURL when configured, else on the host the request came to.
func (s *server) ssoCallbackURL(c *gin.Context, providerID string) string {
	path := "/v1/auth/sso/" + url.PathEscape(providerID) + "/callback"
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL + path
	}
	scheme := "http"
	if c.Request.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + c.Request.Host + path
}

// secureCookies reports whether cookies must be Secure: behind TLS or when
// APIQ_PUBLIC_URL is https.
func (s *server) secureCookies(c *gin.Context) bool {
	return c.Request.TLS != nil || strings.HasPrefix(s.cfg.PublicURL, "https://")
}

// setSessionCookies sets the HttpOnly session cookie and the CSRF cookie
// the web interface reads and echoes in X-CSRF-Token.
func (s *server) setSessionCookies(c *gin.Context, sess BrowserSession) {
	maxAge := int(time.Until(sess.ExpiresAt) / time.Second)
	secure := s.secureCookies(c)
	http.SetCookie(c.Writer, &http.Cookie{Name: auth.SessionCookie, Value: sess.Token, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
	http.SetCookie(c.Writer, &http.Cookie{Name: auth.CSRFCookie, Value: sess.CSRFToken, Path: "/", MaxAge: maxAge,
		Secure: secure, SameSite: http.SameSiteLaxMode})
}

// clearSessionCookies removes both cookies.
func (s *server) clearSessionCookies(c *gin.Context) {
	secure := s.secureCookies(c)
	for _, name := range []string{auth.SessionCookie, auth.CSRFCookie} {
		http.SetCookie(c.Writer, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1,
			HttpOnly: name == auth.SessionCookie, Secure: secure, SameSite: http.SameSiteLaxMode})
	}
}
