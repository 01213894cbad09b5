package commands

import (
	"context"
	"fmt"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/domain/connection"
)

// StartConnectionAuthorization begins the OAuth2 authorization-code flow
// of a connection of the caller's tenant for the calling user.
type StartConnectionAuthorization struct {
	ConnectionID string
	// RedirectURI is APIQ's callback (…/v1/oauth/callback).
	RedirectURI string
}

// StartConnectionAuthorizationResult is the provider URL to send the user to.
type StartConnectionAuthorizationResult struct {
	AuthorizeURL string
}

// CompleteConnectionAuthorization finishes the flow from the provider's
// redirect: the state names the pending authorisation (and so the tenant,
// connection and user), the code is exchanged for tokens.
type CompleteConnectionAuthorization struct {
	State string
	Code  string
}

// StartConnectionAuthorizationHandler handles StartConnectionAuthorization.
type StartConnectionAuthorizationHandler = Handler[StartConnectionAuthorization, StartConnectionAuthorizationResult]

// CompleteConnectionAuthorizationHandler handles CompleteConnectionAuthorization.
type CompleteConnectionAuthorizationHandler = Handler[CompleteConnectionAuthorization, ConnectionResult]

type startConnectionAuthorizationHandler struct{ d ConnectionDeps }

type completeConnectionAuthorizationHandler struct{ d ConnectionDeps }

// NewStartConnectionAuthorizationHandler needs Store, Vault and Credentials.
func NewStartConnectionAuthorizationHandler(d ConnectionDeps) (StartConnectionAuthorizationHandler, error) {
	if err := d.require("StartConnectionAuthorization", false, false, true); err != nil {
		return nil, err
	}
	d = d.withDefaults()
	return decorate[StartConnectionAuthorization, StartConnectionAuthorizationResult]("StartConnectionAuthorization",
		startConnectionAuthorizationHandler{d}, d.Deps), nil
}

// NewCompleteConnectionAuthorizationHandler needs Store, Vault and Credentials.
func NewCompleteConnectionAuthorizationHandler(d ConnectionDeps) (CompleteConnectionAuthorizationHandler, error) {
	if err := d.require("CompleteConnectionAuthorization", false, false, true); err != nil {
		return nil, err
	}
	d = d.withDefaults()
	return decorate[CompleteConnectionAuthorization, ConnectionResult]("CompleteConnectionAuthorization",
		completeConnectionAuthorizationHandler{d}, d.Deps), nil
}

// Handle records a pending authorisation (state, PKCE verifier) and returns
// the provider's authorisation URL. Nothing is appended until it completes.
func (h startConnectionAuthorizationHandler) Handle(ctx context.Context, meta Meta, cmd StartConnectionAuthorization) (StartConnectionAuthorizationResult, error) {
	current, err := loadConnection(ctx, h.d.Store, meta.TenantID, cmd.ConnectionID, false)
	if err != nil {
		return StartConnectionAuthorizationResult{}, err
	}
	if current.state.Disabled {
		return StartConnectionAuthorizationResult{}, connection.ErrDisabled
	}
	if current.state.Credentials.Type != connection.CredentialTypeOAuth2AuthorizationCode {
		return StartConnectionAuthorizationResult{}, connection.ErrNotAuthorizationCode
	}
	u, err := h.d.Credentials.Start(ctx, meta.TenantID, cmd.ConnectionID, meta.Actor.Subject, cmd.RedirectURI, current.state.Credentials)
	if err != nil {
		return StartConnectionAuthorizationResult{}, fmt.Errorf("start authorisation: %w", err)
	}
	return StartConnectionAuthorizationResult{AuthorizeURL: u}, nil
}

// Handle exchanges the code (the state is single use) and records the
// sealed tokens as connection.oauth_tokens_refreshed on the connection's
// stream, acting as the user who started the flow.
func (h completeConnectionAuthorizationHandler) Handle(ctx context.Context, meta Meta, cmd CompleteConnectionAuthorization) (ConnectionResult, error) {
	a, err := h.d.Credentials.Complete(ctx, cmd.State, cmd.Code)
	if err != nil {
		return ConnectionResult{}, err
	}
	meta = meta.forTenant(a.Tenant).withActor(eventstore.Actor{Subject: a.UserID, AuthMethod: "oauth_callback"})
	if _, err := loadConnection(ctx, h.d.Store, a.Tenant, a.ConnectionID, false); err != nil {
		return ConnectionResult{}, err
	}
	out, err := changeConnection(ctx, h.d.Deps, meta, a.ConnectionID, connection.RecordTokens{Tokens: a.Tokens})
	if err != nil {
		return ConnectionResult{}, err
	}
	h.d.Credentials.Forget(a.Tenant, a.ConnectionID)
	return connectionResult(a.ConnectionID, out), nil
}
