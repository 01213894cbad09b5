package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/oidc"
	"github.com/apiq/apiq/adapters/session"
	"github.com/apiq/apiq/commands"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/security"
	"github.com/apiq/apiq/domain/user"
	"github.com/apiq/apiq/http/api"
	"github.com/apiq/apiq/http/auth"
	"github.com/apiq/apiq/projections"
)

// browserSessionTTL is how long a browser session lasts.
const browserSessionTTL = 12 * time.Hour

// ssoAPI adapts single sign-on (adapters/oidc, the SSOLogin command) and
// browser sessions (adapters/session) to the HTTP layer's interfaces
// (api.SSO, api.BrowserSessions, auth.SessionAuthenticator).
type ssoAPI struct {
	oidc     *oidc.Service
	sessions *session.Store
	ssoLogin commands.SSOLoginHandler
	// failed records a failed single sign-on in the provider's tenant's
	// security stream (the audit trail).
	failed commands.RecordSSOLoginFailureHandler
	login  commands.LoginHandler
	logger *slog.Logger
	// usersAt waits until the users read model includes a position, so a
	// user made just in time is known to the first request of its session.
	usersAt func(ctx context.Context, pos eventstore.Position) error
}

// usersWait bounds how long a single sign-on waits for the users read model.
const usersWait = 10 * time.Second

// openSSO wires single sign-on and browser sessions on the core's database,
// vault, outbound client and command side.
func (c *core) openSSO() (*ssoAPI, error) {
	svc, err := oidc.New(oidc.Config{DB: c.pool, Vault: c.vault, Outbound: c.outbound, Logger: c.logger})
	if err != nil {
		return nil, fmt.Errorf("sso: %w", err)
	}
	sessions, err := session.New(c.pool, browserSessionTTL, nil)
	if err != nil {
		return nil, err
	}
	ssoLogin, err := commands.NewSSOLoginHandler(commands.Deps{
		Store: c.store, Vault: c.vault, Passwords: commands.NewArgon2idHasher(nil), Tokens: c.signer, Logger: c.logger,
	})
	if err != nil {
		return nil, err
	}
	failed, err := commands.NewRecordSSOLoginFailureHandler(commands.Deps{Store: c.store, Logger: c.logger})
	if err != nil {
		return nil, err
	}
	usersAt := func(ctx context.Context, pos eventstore.Position) error {
		return c.runner.WaitForPosition(ctx, pos, (&projections.UsersProjector{}).Name())
	}
	return &ssoAPI{oidc: svc, sessions: sessions, ssoLogin: ssoLogin, failed: failed, login: c.cmds.login,
		logger: c.logger, usersAt: usersAt}, nil
}

// CreateProvider implements api.SSO.
func (a *ssoAPI) CreateProvider(ctx context.Context, md eventstore.Metadata, in oidc.NewProvider) (oidc.Provider, error) {
	return a.oidc.CreateProvider(ctx, md.TenantID, md.Actor.Subject, in)
}

// ListProviders implements api.SSO.
func (a *ssoAPI) ListProviders(ctx context.Context, tenantID string) ([]oidc.Provider, error) {
	return a.oidc.ListProviders(ctx, tenantID)
}

// DeleteProvider implements api.SSO.
func (a *ssoAPI) DeleteProvider(ctx context.Context, md eventstore.Metadata, id string) error {
	return a.oidc.DeleteProvider(ctx, md.TenantID, id)
}

// StartLogin implements api.SSO.
func (a *ssoAPI) StartLogin(ctx context.Context, providerID, redirectURI string) (string, error) {
	return a.oidc.Start(ctx, providerID, redirectURI)
}

// CompleteLogin implements api.SSO: the verified identity signs in through
// the SSOLogin command, then a browser session starts. A callback the
// provider or the command refuses is recorded in the audit trail.
func (a *ssoAPI) CompleteLogin(ctx context.Context, md eventstore.Metadata, providerID, code, state string) (api.BrowserSession, error) {
	id, err := a.oidc.Complete(ctx, providerID, code, state)
	if err != nil {
		a.recordFailure(ctx, md, providerID, "", err, "")
		return api.BrowserSession{}, err
	}
	res, err := a.ssoLogin.Handle(ctx, commands.MetaFromMetadata(md), commands.SSOLogin{
		TenantID: id.TenantID, Issuer: id.Issuer, Subject: id.Subject, Email: id.Email,
		EmailVerified: id.EmailVerified, Name: id.Name, Role: user.Role(id.Role),
	})
	if err != nil {
		a.recordFailure(ctx, md, providerID, id.Subject, err, "")
		return api.BrowserSession{}, err
	}
	if a.usersAt != nil {
		wctx, cancel := context.WithTimeout(ctx, usersWait)
		err := a.usersAt(wctx, res.Position)
		cancel()
		if err != nil {
			return api.BrowserSession{}, fmt.Errorf("wait for the signed-in user in the read model: %w", err)
		}
	}
	return a.start(ctx, session.Session{TenantID: res.TenantID, UserID: res.UserID, AuthMethod: auth.MethodSSO,
		SSOIssuer: id.Issuer, SSOSubject: id.Subject})
}

// RecordProviderError implements api.SSO: the provider sent the browser
// back with an error instead of a code.
func (a *ssoAPI) RecordProviderError(ctx context.Context, md eventstore.Metadata, providerID, errorCode string) {
	a.recordFailure(ctx, md, providerID, "", nil, errorCode)
}

// recordTimeout bounds recording a failed login, which outlives the request.
const recordTimeout = 5 * time.Second

// recordFailure records a failed single sign-on as security.sso_login_failed
// of the provider's tenant. An unknown provider has no tenant: nothing is
// recorded. A disabled user's refusal is already on the user's stream
// (user.login_failed). A failure to record is logged, and the browser gets
// the login's own error either way.
func (a *ssoAPI) recordFailure(ctx context.Context, md eventstore.Metadata, providerID, subject string, cause error, providerError string) {
	reason, ok := security.ReasonSSOProviderError, true
	if providerError == "" {
		reason, ok = ssoFailureReason(cause)
	}
	if !ok {
		return
	}
	// A browser that gave up does not erase its attempt from the trail.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	p, err := a.oidc.FindProvider(ctx, providerID)
	if errors.Is(err, oidc.ErrProviderNotFound) {
		return
	}
	if err == nil {
		_, err = a.failed.Handle(ctx, commands.MetaFromMetadata(md), commands.RecordSSOLoginFailure{
			TenantID: p.TenantID, ProviderID: p.ID, Issuer: p.IssuerURL, Subject: subject,
			Reason: reason, ProviderError: providerError,
		})
	}
	if err != nil && a.logger != nil {
		a.logger.ErrorContext(ctx, "record failed sso login", "provider_id", providerID, "reason", reason,
			"error", err.Error())
	}
}

// ssoFailureReason is the stable reason code of a failed single sign-on;
// ok is false for a failure recorded already or one with no tenant.
func ssoFailureReason(err error) (reason string, ok bool) {
	var refusal *oidc.Refusal
	var de *domain.Error
	switch {
	case errors.As(err, &refusal):
		return refusal.Reason, true
	case errors.Is(err, oidc.ErrProviderNotFound):
		return "", false
	case errors.Is(err, user.ErrInvalidCredentials):
		// The disabled user's login failed on their stream.
		return "", false
	case errors.Is(err, oidc.ErrEmailDomain):
		return security.ReasonSSOEmailDomain, true
	case errors.Is(err, commands.ErrSSOEmailUnverified):
		return security.ReasonSSOEmailUnverified, true
	case errors.As(err, &de) && security.IsReasonCode(de.Code):
		return de.Code, true
	case errors.As(err, &de):
		return security.ReasonSSOInvalidIdentity, true
	}
	return security.ReasonSSOError, true
}

// PasswordSession implements api.BrowserSessions.
func (a *ssoAPI) PasswordSession(ctx context.Context, md eventstore.Metadata, in api.Login) (api.BrowserSession, error) {
	res, err := passwordLogin(ctx, a.login, md, in)
	if err != nil {
		// A login restricted to enrolling TOTP starts no session.
		return api.BrowserSession{}, err
	}
	return a.start(ctx, session.Session{TenantID: res.TenantID, UserID: res.UserID, AuthMethod: auth.MethodPassword})
}

func (a *ssoAPI) start(ctx context.Context, s session.Session) (api.BrowserSession, error) {
	issued, err := a.sessions.Create(ctx, s)
	if err != nil {
		return api.BrowserSession{}, err
	}
	return api.BrowserSession{Token: issued.Token, CSRFToken: issued.CSRFToken, ExpiresAt: issued.ExpiresAt}, nil
}

// Logout implements api.BrowserSessions.
func (a *ssoAPI) Logout(ctx context.Context, token string) error {
	return a.sessions.Revoke(ctx, token)
}

// AuthenticateSession implements auth.SessionAuthenticator.
func (a *ssoAPI) AuthenticateSession(ctx context.Context, token, csrf string) (auth.Principal, bool, error) {
	s, csrfOK, err := a.sessions.Lookup(ctx, token, csrf)
	if errors.Is(err, session.ErrNotFound) {
		return auth.Principal{}, false, auth.ErrInvalidCredentials
	}
	if err != nil {
		return auth.Principal{}, false, err
	}
	return auth.Principal{TenantID: s.TenantID, UserID: s.UserID, AuthMethod: s.AuthMethod,
		SSOIssuer: s.SSOIssuer, SSOSubject: s.SSOSubject}, csrfOK, nil
}
