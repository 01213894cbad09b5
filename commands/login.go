package commands

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/apiq/apiq/adapters/authtoken"
	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/security"
	"github.com/apiq/apiq/domain/tenant"
	"github.com/apiq/apiq/domain/user"
)

// MethodPassword is the auth method recorded for password logins.
const MethodPassword = "password"

// RestrictedTokenTTL is the lifetime of a token restricted to enrolling
// TOTP (at most the signer's own).
const RestrictedTokenTTL = 10 * time.Minute

// Login checks an email and password and issues an access token. TenantID
// is needed only when the email belongs to users of several tenants.
type Login struct {
	Email    string
	Password string
	TenantID string
	// OTP is the one-time code of a user with TOTP.
	OTP string
}

// LoginResult is the issued access token and who it is for.
type LoginResult struct {
	AccessToken string
	TokenType   string // "Bearer"
	ExpiresIn   time.Duration
	ExpiresAt   time.Time
	UserID      string
	TenantID    string
	Role        user.Role
	// Scope, when set, restricts the token (user.ScopeTOTPEnrollment: the
	// tenant requires TOTP and the user must enrol first).
	Scope    string
	Position eventstore.Position
}

// LoginHandler handles Login.
type LoginHandler = Handler[Login, LoginResult]

type loginHandler struct {
	d Deps
	// dummyHash is verified when no user has the email, so that an unknown
	// email costs as much time as a wrong password.
	dummyHash string
}

// NewLoginHandler needs Store, Vault, Passwords, Tokens and Directory.
func NewLoginHandler(d Deps) (LoginHandler, error) {
	if err := d.require("Login", true, true, true, true, true); err != nil {
		return nil, err
	}
	d = d.withDefaults()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	dummy, err := d.Passwords.Hash(hex.EncodeToString(b))
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	return decorate[Login, LoginResult]("Login", loginHandler{d: d, dummyHash: dummy}, d), nil
}

// Handle records every attempt: user.logged_in or user.login_failed on the
// user's stream, security.login_failed on the tenant's security stream for
// an email no user has. A wrong email or password returns
// user.ErrInvalidCredentials; a right password of a user with TOTP
// returns user.ErrOTPRequired without a code and user.ErrInvalidOTP with a
// wrong or used one. A user without TOTP in a tenant that requires it gets
// a token restricted to enrolling (Scope).
func (h loginHandler) Handle(ctx context.Context, meta Meta, cmd Login) (LoginResult, error) {
	email := user.NormalizeEmail(cmd.Email)
	candidates, err := h.candidates(ctx, email, cmd.TenantID)
	if err != nil {
		return LoginResult{}, err
	}
	type match struct {
		cand  user.LoginCandidate
		state user.State
	}
	var matches, misses []match
	for _, c := range candidates {
		ls, err := load(ctx, h.d.Store, user.Stream(c.UserID), userAggregate())
		if err != nil {
			return LoginResult{}, err
		}
		if !ls.state.Live() || ls.state.TenantID != c.TenantID {
			continue
		}
		ok, err := h.d.Passwords.Verify(cmd.Password, ls.state.PasswordHash)
		if err != nil {
			return LoginResult{}, fmt.Errorf("verify password: %w", err)
		}
		if ok {
			matches = append(matches, match{c, ls.state})
		} else {
			misses = append(misses, match{c, ls.state})
		}
	}

	switch {
	case len(matches) > 1:
		return LoginResult{}, ErrTenantRequired
	case len(matches) == 1:
		return h.succeed(ctx, meta, matches[0].cand, matches[0].state, cmd.OTP)
	case len(misses) == 0:
		if _, err := h.d.Passwords.Verify(cmd.Password, h.dummyHash); err != nil {
			return LoginResult{}, fmt.Errorf("verify password: %w", err)
		}
		ev := security.LoginFailed{EmailIndex: h.d.Vault.BlindIndex(cmd.TenantID, email), Reason: security.ReasonUnknownEmail}
		anon := meta.forTenant(cmd.TenantID).withActor(eventstore.Actor{AuthMethod: MethodPassword})
		if _, err := appendAny(ctx, h.d, anon, security.Stream(cmd.TenantID), ev); err != nil {
			return LoginResult{}, err
		}
		return LoginResult{}, user.ErrInvalidCredentials
	}
	for _, m := range misses {
		if _, err := h.record(ctx, meta, m.cand, m.state.Role, user.RecordLogin{Method: MethodPassword}); err != nil {
			return LoginResult{}, err
		}
	}
	return LoginResult{}, user.ErrInvalidCredentials
}

// candidates finds the users that may own the email: through the email's
// reservation stream when the tenant is named (always current), else
// through the users read model.
func (h loginHandler) candidates(ctx context.Context, email, tenantID string) ([]user.LoginCandidate, error) {
	if tenantID == "" {
		cands, err := h.d.Directory.FindLoginCandidates(ctx, email)
		if err != nil {
			return nil, fmt.Errorf("find login candidates: %w", err)
		}
		return cands, nil
	}
	ls, err := load(ctx, h.d.Store, user.EmailReservationStream(h.d.Vault.BlindIndex(tenantID, email)), reservationAggregate())
	if err != nil {
		return nil, err
	}
	if !ls.state.Held {
		return nil, nil
	}
	return []user.LoginCandidate{{TenantID: tenantID, UserID: ls.state.Owner}}, nil
}

// succeed checks the second factor, records the login and issues the
// token; a disabled user's login, or one whose code is missing or wrong,
// is recorded as failed instead.
func (h loginHandler) succeed(ctx context.Context, meta Meta, c user.LoginCandidate, s user.State, otp string) (LoginResult, error) {
	attempt := user.RecordLogin{PasswordOK: true, Method: MethodPassword, SecondFactor: true, OTPGiven: otp != ""}
	switch {
	case s.TOTPEnabled() && otp != "":
		secret, err := h.d.Vault.DecryptString(ctx, totpScope(c.TenantID, c.UserID), s.TOTP.Secret)
		if err != nil {
			return LoginResult{}, fmt.Errorf("open totp secret: %w", err)
		}
		attempt.OTPStep, attempt.OTPSealedSecret = user.MatchTOTP(secret, otp, h.d.Now()), s.TOTP.Secret
	case !s.TOTPEnabled():
		ten, err := load(ctx, h.d.Store, tenant.Stream(c.TenantID), tenantAggregate())
		if err != nil {
			return LoginResult{}, err
		}
		attempt.TenantRequiresTOTP = ten.state.TOTPRequired
	}
	res, err := h.record(ctx, meta, c, s.Role, attempt)
	if err != nil {
		return LoginResult{}, err
	}
	var scope string
	for _, ev := range res.Events {
		switch e := ev.(type) {
		case user.LoggedIn:
			scope = e.Scope
		case user.LoginFailed:
			return LoginResult{}, loginRefusal(e.Reason)
		default:
			return LoginResult{}, user.ErrInvalidCredentials
		}
	}
	claims := authtoken.Claims{
		UserID: c.UserID, TenantID: c.TenantID, Role: string(res.State.Role), AuthMethod: MethodPassword, Scope: scope,
	}
	if scope != "" {
		claims.TTL = RestrictedTokenTTL
	}
	tok, err := h.d.Tokens.Issue(claims)
	if err != nil {
		return LoginResult{}, fmt.Errorf("issue access token: %w", err)
	}
	return LoginResult{
		AccessToken: tok.Token, TokenType: "Bearer", ExpiresIn: tok.ExpiresIn, ExpiresAt: tok.ExpiresAt,
		UserID: c.UserID, TenantID: c.TenantID, Role: res.State.Role, Scope: scope, Position: res.Position,
	}, nil
}

// loginRefusal is the error of a recorded login failure.
func loginRefusal(reason string) error {
	switch reason {
	case user.ReasonOTPRequired:
		return user.ErrOTPRequired
	case user.ReasonInvalidOTP:
		return user.ErrInvalidOTP
	}
	return user.ErrInvalidCredentials
}

// record appends the attempt's outcome to the user's stream, acting as the
// user (authenticated or not).
func (h loginHandler) record(ctx context.Context, meta Meta, c user.LoginCandidate, role user.Role, attempt user.RecordLogin) (outcome[user.State], error) {
	actor := eventstore.Actor{AuthMethod: MethodPassword}
	if attempt.PasswordOK {
		actor.Subject, actor.Role = c.UserID, string(role)
	}
	m := meta.forTenant(c.TenantID).withActor(actor)
	res, err := change(ctx, h.d, m, user.Stream(c.UserID), userAggregate(), func(s user.State) ([]domain.Event, error) {
		return user.Decide(s, attempt)
	})
	if errors.Is(err, user.ErrNotFound) {
		// Deleted between the check and the record: the same refusal.
		return res, user.ErrInvalidCredentials
	}
	if err != nil {
		return res, fmt.Errorf("record login: %w", err)
	}
	if len(res.Events) == 0 {
		return res, user.ErrInvalidCredentials
	}
	return res, nil
}
