package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/http/apierror"
	"github.com/apiq/apiq/http/auth"
	"github.com/apiq/apiq/http/security"
)

// TOTP serves the caller's second factor and the tenant's security
// settings (the TOTP commands and the tenants read model).
type TOTP interface {
	// StartTOTP starts the caller's enrolment: a new secret, shown once.
	StartTOTP(ctx context.Context, meta eventstore.Metadata) (TOTPEnrollment, error)
	// ConfirmTOTP enables TOTP with the first code of the pending secret.
	ConfirmTOTP(ctx context.Context, meta eventstore.Metadata, code string) (eventstore.Position, error)
	// DisableTOTP turns the caller's TOTP off with a current code.
	DisableTOTP(ctx context.Context, meta eventstore.Metadata, code string) (eventstore.Position, error)
	// ResetTOTP turns a user's TOTP off (ADMIN, lost device).
	ResetTOTP(ctx context.Context, meta eventstore.Metadata, userID string) (eventstore.Position, error)
	// TenantSecurity reads the tenant's security settings.
	TenantSecurity(ctx context.Context, tenantID string) (TenantSecurity, error)
	// SetTenantSecurity changes them (ADMIN).
	SetTenantSecurity(ctx context.Context, meta eventstore.Metadata, in TenantSecurity) (eventstore.Position, error)
}

// TOTPEnrollment is a new TOTP secret and its otpauth:// URL.
type TOTPEnrollment struct {
	Secret   string
	URL      string
	Position eventstore.Position
}

// TOTPCode is the body of POST /v1/me/totp/confirm and DELETE /v1/me/totp.
type TOTPCode struct {
	Code string `json:"code"`
}

// TenantSecurity is the body of PUT /v1/tenant/security and the answer of GET.
type TenantSecurity struct {
	TOTPRequired bool `json:"totp_required"`
}

// Stable error codes of the second factor.
const (
	CodeOTPRequired apierror.Code = "otp_required"
	CodeInvalidOTP  apierror.Code = "invalid_otp"
)

// Refusals of a password login by its second factor.
var (
	ErrOTPRequired = apierror.New(http.StatusUnauthorized, CodeOTPRequired,
		"this user has TOTP: send the current code from the authenticator app in \"otp\"")
	ErrInvalidOTP = apierror.New(http.StatusUnauthorized, CodeInvalidOTP,
		"the one-time code is wrong, expired or already used")
)

// EnrollmentRequired is the refusal of a password login in a tenant that
// requires TOTP by a user who has none: 403 totp_enrollment_required,
// with a short-lived token that passes only the enrolment routes.
func EnrollmentRequired(token AccessToken) *apierror.Error {
	return auth.ErrEnrollmentRequired.WithDetails(gin.H{
		"access_token": token.Token, "token_type": "Bearer", "scope": auth.ScopeTOTPEnrollment,
		"expires_in": int64(token.ExpiresIn / time.Second),
	})
}

// totpCodeRoutes check a TOTP code of a signed-in user: wrong codes are
// throttled per user like failed logins, so a stolen token cannot guess
// its way to turning TOTP off.
var totpCodeRoutes = map[string]bool{
	http.MethodPost + " /v1/me/totp/confirm": true,
	http.MethodDelete + " /v1/me/totp":       true,
}

// throttleCodes refuses (429) a user with too many wrong codes lately,
// counts a 400 answer (a wrong code) as a failure and clears the user's
// count on success.
func (p *protections) throttleCodes(c *gin.Context) {
	pr, _ := auth.PrincipalFrom(c)
	user, address := pr.TenantID+"/"+pr.UserID, c.ClientIP()
	if _, wait := p.codes.Check(user, address); wait > 0 {
		security.AbortTooManyRequests(c, "totp_code", wait, "too many wrong codes; try again later")
		return
	}
	c.Next()
	switch status := c.Writer.Status(); {
	case status == http.StatusBadRequest:
		p.codes.Failed(user, address)
	case status >= 200 && status < 300:
		p.codes.Succeeded(user)
	}
}

// totpUnavailable answers when the server runs without the TOTP side.
var totpUnavailable = apierror.New(http.StatusNotFound, apierror.CodeNotFound, "TOTP is not configured")

func (s *server) totpReady(c *gin.Context) bool {
	if s.deps.TOTP == nil {
		apierror.Abort(c, totpUnavailable)
		return false
	}
	return true
}

func (s *server) startTOTP(c *gin.Context) {
	if !s.totpReady(c) {
		return
	}
	enrol, err := s.deps.TOTP.StartTOTP(c.Request.Context(), s.metadata(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	// The secret must not linger in caches.
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, gin.H{"secret": enrol.Secret, "otpauth_url": enrol.URL, "position": enrol.Position.String()})
}

func (s *server) confirmTOTP(c *gin.Context) {
	var in TOTPCode
	if !s.totpReady(c) || !decode(c, &in) {
		return
	}
	pos, err := s.deps.TOTP.ConfirmTOTP(c.Request.Context(), s.metadata(c), in.Code)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, commandResult{Position: pos.String()})
}

func (s *server) disableTOTP(c *gin.Context) {
	var in TOTPCode
	if !s.totpReady(c) || !decode(c, &in) {
		return
	}
	pos, err := s.deps.TOTP.DisableTOTP(c.Request.Context(), s.metadata(c), in.Code)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, commandResult{Position: pos.String()})
}

func (s *server) resetTOTP(c *gin.Context) {
	if !s.totpReady(c) {
		return
	}
	pos, err := s.deps.TOTP.ResetTOTP(c.Request.Context(), s.metadata(c), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, commandResult{Position: pos.String()})
}

func (s *server) tenantSecurity(c *gin.Context) {
	if !s.totpReady(c) {
		return
	}
	p, _ := auth.PrincipalFrom(c)
	settings, err := s.deps.TOTP.TenantSecurity(c.Request.Context(), p.TenantID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, settings)
}

func (s *server) setTenantSecurity(c *gin.Context) {
	var in TenantSecurity
	if !s.totpReady(c) || !decode(c, &in) {
		return
	}
	pos, err := s.deps.TOTP.SetTenantSecurity(c.Request.Context(), s.metadata(c), in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"totp_required": in.TOTPRequired, "position": pos.String()})
}
