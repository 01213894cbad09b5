package auth

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBearer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		header, want string
		ok           bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer   abc  ", "abc", true},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Basic abc", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := bearer(tt.header)
		assert.Equal(t, tt.ok, ok, tt.header)
		assert.Equal(t, tt.want, got, tt.header)
	}
}

func TestNewGuardRequiresEveryDependency(t *testing.T) {
	t.Parallel()
	_, err := NewGuard(nil, nil, nil, nil)
	require.Error(t, err)
	for _, name := range []string{"Authenticator", "Users", "DenialRecorder", "logger"} {
		assert.ErrorContains(t, err, name)
	}
	_, err = NewGuard(nil, nil, nil, slog.New(slog.DiscardHandler))
	assert.NotContains(t, err.Error(), "logger")
}

func TestPrincipalActor(t *testing.T) {
	t.Parallel()
	p := Principal{TenantID: "t", UserID: "u", Role: RoleAdmin, AuthMethod: MethodAPIToken, TokenID: "tok"}
	a := p.Actor()
	assert.Equal(t, "u", a.Subject)
	assert.Equal(t, RoleAdmin, a.Role)
	assert.Equal(t, MethodAPIToken, a.AuthMethod)
	assert.Equal(t, "tok", a.TokenID)
}

// scopedFake authenticates "restricted" as a token restricted to enrolling
// TOTP, "odd" with an unknown scope, anything else as a full token.
type scopedFake struct{}

func (scopedFake) Authenticate(_ context.Context, credential string) (Principal, error) {
	p := Principal{TenantID: "t1", UserID: "u1", AuthMethod: MethodPassword}
	switch credential {
	case "restricted":
		p.Scope = ScopeTOTPEnrollment
	case "odd":
		p.Scope = "something_else"
	}
	return p, nil
}

func TestRestrictedTokensPassOnlyEnrollmentRoutes(t *testing.T) {
	t.Parallel()
	gin.SetMode(gin.TestMode)
	g, err := NewGuard(scopedFake{}, usersFake{}, denialsFake{}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	e := gin.New()
	ok := func(c *gin.Context) { c.Status(http.StatusNoContent) }
	reqID := func(*gin.Context) string { return "req" }
	e.POST("/enrol", g.Require(AnyRole().DuringEnrollment(), reqID), ok)
	e.POST("/other", g.Require(AnyRole(), reqID), ok)
	tests := []struct {
		name, path, token string
		want              int
	}{
		{"restricted on an enrolment route", "/enrol", "restricted", http.StatusNoContent},
		{"restricted elsewhere", "/other", "restricted", http.StatusForbidden},
		{"unknown scope on an enrolment route", "/enrol", "odd", http.StatusForbidden},
		{"full token on an enrolment route", "/enrol", "full", http.StatusNoContent},
		{"full token elsewhere", "/other", "full", http.StatusNoContent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, tt.path, nil)
			req.Header.Set("Authorization", "Bearer "+tt.token)
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			assert.Equal(t, tt.want, rec.Code)
			if tt.want == http.StatusForbidden {
				assert.Contains(t, rec.Body.String(), "totp_enrollment_required")
			}
		})
	}
}
