// Package auth authenticates API callers from their bearer credential and
// enforces the route→roles policy, recording refused access.
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/http/apierror"
)

// The roles of APIQ's users.
const (
	RoleUser    = "USER"
	RoleAdmin   = "ADMIN"
	RoleAuditor = "AUDITOR"
)

// The ways a caller can authenticate (eventstore.Actor.AuthMethod).
const (
	MethodPassword = "password"
	MethodAPIToken = "api_token"
	MethodSSO      = "sso"
)

// ScopeTOTPEnrollment is the scope of a token restricted to enrolling TOTP
// (user.ScopeTOTPEnrollment): it passes only routes marked DuringEnrollment.
const ScopeTOTPEnrollment = "totp_enrollment"

// ErrEnrollmentRequired refuses a restricted token on any other route.
var ErrEnrollmentRequired = apierror.New(http.StatusForbidden, "totp_enrollment_required",
	"the tenant requires TOTP: this token only enrols it (POST /v1/me/totp, then POST /v1/me/totp/confirm); log in again with a code afterwards")

// ErrInvalidCredentials is returned by an Authenticator for a credential
// that is malformed, forged, expired or revoked.
var ErrInvalidCredentials = errors.New("invalid credentials")

// ErrUserInactive is returned by Users for a user that no longer exists or
// is disabled.
var ErrUserInactive = errors.New("user does not exist or is disabled")

// Principal is an authenticated caller.
type Principal struct {
	TenantID   string
	UserID     string
	Role       string // the user's current role, from the read model
	AuthMethod string
	TokenID    string // the API token, for MethodAPIToken
	SSOIssuer  string
	SSOSubject string
	// Scope, when set, restricts the credential (ScopeTOTPEnrollment).
	Scope string
}

// Actor is the principal as recorded in event metadata.
func (p Principal) Actor() eventstore.Actor {
	return eventstore.Actor{Subject: p.UserID, Role: p.Role, AuthMethod: p.AuthMethod,
		TokenID: p.TokenID, SSOIssuer: p.SSOIssuer, SSOSubject: p.SSOSubject}
}

// Authenticator verifies a bearer credential: a JWT access token or an API
// token (apiq_…). It returns ErrInvalidCredentials for one it refuses.
type Authenticator interface {
	Authenticate(ctx context.Context, credential string) (Principal, error)
}

// Users reads a user's current state from the read model.
type Users interface {
	// ActiveRole returns the role of an existing, enabled user of the
	// tenant, or ErrUserInactive.
	ActiveRole(ctx context.Context, tenantID, userID string) (string, error)
}

// Denial describes a refused request, to be recorded in the audit trail.
type Denial struct {
	Principal Principal
	Method    string
	Route     string
	Required  []string
	RequestID string
	ClientIP  string
	UserAgent string
}

// DenialRecorder records refused access (the RecordAccessDenied command).
type DenialRecorder interface {
	RecordAccessDenied(ctx context.Context, d Denial) error
}

// Access is a route's entry in the policy table: public, or the roles allowed.
type Access struct {
	Public bool
	Roles  []string
	// Enrollment lets a token restricted to enrolling TOTP call the route.
	Enrollment bool
}

// DuringEnrollment returns a copy of a that a token restricted to
// enrolling TOTP may also call (the roles still apply).
func (a Access) DuringEnrollment() Access {
	a.Enrollment = true
	return a
}

// Public lets anyone call a route.
func Public() Access { return Access{Public: true} }

// Roles lets authenticated callers with one of roles call a route.
func Roles(roles ...string) Access { return Access{Roles: roles} }

// AnyRole lets every authenticated, active user call a route.
func AnyRole() Access { return Roles(RoleUser, RoleAdmin, RoleAuditor) }

// Guard builds the per-route authentication and authorisation middleware.
type Guard struct {
	authn    Authenticator
	users    Users
	recorder DenialRecorder
	logger   *slog.Logger
	// sessions and origins, when set by WithSessions, accept the browser
	// session cookie.
	sessions SessionAuthenticator
	origins  []string
}

// NewGuard returns a Guard; every dependency is required.
func NewGuard(authn Authenticator, users Users, recorder DenialRecorder, logger *slog.Logger) (*Guard, error) {
	var errs []error
	if authn == nil {
		errs = append(errs, errors.New("auth: Authenticator is required"))
	}
	if users == nil {
		errs = append(errs, errors.New("auth: Users is required"))
	}
	if recorder == nil {
		errs = append(errs, errors.New("auth: DenialRecorder is required"))
	}
	if logger == nil {
		errs = append(errs, errors.New("auth: logger is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Guard{authn: authn, users: users, recorder: recorder, logger: logger}, nil
}

const principalKey = "apiq.principal"

// PrincipalFrom returns the caller Require authenticated.
func PrincipalFrom(c *gin.Context) (Principal, bool) {
	p, ok := c.Get(principalKey)
	if !ok {
		return Principal{}, false
	}
	principal, ok := p.(Principal)
	return principal, ok
}

// Require enforces access: 401 unauthorized without a valid credential of
// an active user, 403 forbidden (recorded) when the role is not allowed.
func (g *Guard) Require(access Access, requestID func(*gin.Context) string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if access.Public {
			c.Next()
			return
		}
		ctx := c.Request.Context()
		var p Principal
		credential, ok := bearer(c.GetHeader("Authorization"))
		if ok {
			var err error
			if p, err = g.authn.Authenticate(ctx, credential); err != nil {
				g.unauthorized(c, err)
				return
			}
		} else if c.GetHeader("Authorization") != "" {
			g.unauthorized(c, nil)
			return
		} else {
			sp, found, err := g.fromSession(c)
			switch {
			case !found:
				g.unauthorized(c, nil)
				return
			case errors.Is(err, ErrCSRF):
				apierror.Abort(c, ErrCSRF)
				return
			case err != nil:
				g.unauthorized(c, err)
				return
			}
			p = sp
		}
		role, err := g.users.ActiveRole(ctx, p.TenantID, p.UserID)
		if err != nil {
			g.unauthorized(c, err)
			return
		}
		p.Role = role
		c.Set(principalKey, p)
		if p.Scope != "" && (p.Scope != ScopeTOTPEnrollment || !access.Enrollment) {
			apierror.Abort(c, ErrEnrollmentRequired)
			return
		}
		if !slices.Contains(access.Roles, role) {
			d := Denial{Principal: p, Method: c.Request.Method, Route: c.FullPath(), Required: access.Roles,
				RequestID: requestID(c), ClientIP: c.ClientIP(), UserAgent: c.Request.UserAgent()}
			if err := g.recorder.RecordAccessDenied(context.WithoutCancel(ctx), d); err != nil {
				// The refusal stands either way; the log keeps the evidence.
				g.logger.ErrorContext(ctx, "record access denied", slog.String("error", err.Error()),
					slog.String("tenant_id", p.TenantID), slog.String("user_id", p.UserID), slog.String("route", d.Route))
			}
			apierror.Abort(c, apierror.ErrForbidden)
			return
		}
		c.Next()
	}
}

func (g *Guard) unauthorized(c *gin.Context, err error) {
	c.Header("WWW-Authenticate", `Bearer realm="apiq"`)
	if err != nil && !errors.Is(err, ErrInvalidCredentials) && !errors.Is(err, ErrUserInactive) {
		apierror.Abort(c, apierror.New(http.StatusInternalServerError, apierror.CodeInternal, "internal error").
			Wrap(fmt.Errorf("authenticate: %w", err)))
		return
	}
	apierror.Abort(c, apierror.ErrUnauthorized)
}

// bearer extracts the credential of an "Authorization: Bearer …" header.
func bearer(header string) (string, bool) {
	scheme, credential, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	credential = strings.TrimSpace(credential)
	return credential, credential != ""
}
