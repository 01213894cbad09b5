package auth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sessionFake knows one session, "good", whose CSRF token is "csrf".
type sessionFake struct{}

func (sessionFake) AuthenticateSession(_ context.Context, token, csrf string) (Principal, bool, error) {
	if token != "good" {
		return Principal{}, false, ErrInvalidCredentials
	}
	return Principal{TenantID: "t1", UserID: "u1", AuthMethod: MethodSSO, SSOIssuer: "https://idp", SSOSubject: "s1"}, csrf == "csrf", nil
}

type bearerFake struct{}

func (bearerFake) Authenticate(context.Context, string) (Principal, error) {
	return Principal{}, ErrInvalidCredentials
}

type usersFake struct{}

func (usersFake) ActiveRole(context.Context, string, string) (string, error) { return RoleUser, nil }

type denialsFake struct{}

func (denialsFake) RecordAccessDenied(context.Context, Denial) error {
	return errors.New("unexpected denial")
}

func TestSessionCookieWithCSRF(t *testing.T) {
	t.Parallel()
	gin.SetMode(gin.TestMode)
	g, err := NewGuard(bearerFake{}, usersFake{}, denialsFake{}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	g = g.WithSessions(sessionFake{}, []string{"https://apiq.example"})
	e := gin.New()
	var seen Principal
	handler := func(c *gin.Context) { seen, _ = PrincipalFrom(c); c.Status(http.StatusNoContent) }
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		e.Handle(m, "/x", g.Require(AnyRole(), func(*gin.Context) string { return "req" }), handler)
	}

	tests := []struct {
		name, method, cookie, csrf, origin, authorization string
		want                                              int
	}{
		{"safe request with the cookie", http.MethodGet, "good", "", "", "", http.StatusNoContent},
		{"unknown session", http.MethodGet, "bad", "", "", "", http.StatusUnauthorized},
		{"no cookie", http.MethodGet, "", "", "", "", http.StatusUnauthorized},
		{"post with the CSRF header", http.MethodPost, "good", "csrf", "", "", http.StatusNoContent},
		{"post without CSRF header or origin", http.MethodPost, "good", "", "", "", http.StatusForbidden},
		{"post with a wrong CSRF header", http.MethodPost, "good", "forged", "", "", http.StatusForbidden},
		{"post from a foreign origin", http.MethodPost, "good", "", "https://evil.example", "", http.StatusForbidden},
		{"post from the public origin", http.MethodPost, "good", "", "https://apiq.example", "", http.StatusNoContent},
		{"post from the request's own host", http.MethodPost, "good", "", "http://example.com", "", http.StatusNoContent},
		{"a bearer header wins over the cookie", http.MethodGet, "good", "", "", "Bearer forged", http.StatusUnauthorized},
		{"a malformed Authorization header is not ignored", http.MethodGet, "good", "", "", "Basic x", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(tt.method, "http://example.com/x", nil)
		if tt.cookie != "" {
			req.AddCookie(&http.Cookie{Name: SessionCookie, Value: tt.cookie})
		}
		if tt.csrf != "" {
			req.Header.Set(CSRFHeader, tt.csrf)
		}
		if tt.origin != "" {
			req.Header.Set("Origin", tt.origin)
		}
		if tt.authorization != "" {
			req.Header.Set("Authorization", tt.authorization)
		}
		rec := httptest.NewRecorder()
		seen = Principal{}
		e.ServeHTTP(rec, req)
		assert.Equal(t, tt.want, rec.Code, tt.name)
		if tt.want == http.StatusNoContent {
			assert.Equal(t, "s1", seen.SSOSubject, tt.name)
			assert.Equal(t, RoleUser, seen.Role, tt.name)
		}
		if tt.want == http.StatusForbidden {
			assert.Contains(t, rec.Body.String(), "csrf_failed", tt.name)
		}
	}
}
