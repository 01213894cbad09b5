package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apiq/apiq/adapters/authtoken"
	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/session"
	"github.com/apiq/apiq/commands"
	"github.com/apiq/apiq/domain/user"
	"github.com/apiq/apiq/http/api"
	"github.com/apiq/apiq/http/auth"
	"github.com/apiq/apiq/projections"
)

// identity adapts the identity commands and queries to the interfaces the
// HTTP layer declares (api.Sessions, api.UserCommands, api.UserQueries,
// api.TokenCommands, auth.Authenticator, auth.Users, auth.DenialRecorder).
type identity struct {
	db     projections.QueryDB
	signer *authtoken.Signer
	cmds   handlers
	now    func() time.Time
	// sessions, when set, are the browser sessions that end at once when
	// their user is disabled, deleted or given a new password.
	sessions *session.Store
}

// Authenticate accepts an API token (apiq_…) found in the read model, or
// an access token signed by us.
func (i *identity) Authenticate(ctx context.Context, credential string) (auth.Principal, error) {
	if strings.HasPrefix(credential, authtoken.APITokenPrefix+"_") {
		tok, err := projections.AuthenticateAPIToken(ctx, i.db, credential, i.now())
		if errors.Is(err, projections.ErrAPITokenRejected) {
			return auth.Principal{}, auth.ErrInvalidCredentials
		}
		if err != nil {
			return auth.Principal{}, err
		}
		return auth.Principal{TenantID: tok.TenantID, UserID: tok.UserID, AuthMethod: auth.MethodAPIToken, TokenID: tok.ID}, nil
	}
	claims, err := i.signer.Verify(credential)
	if err != nil {
		return auth.Principal{}, fmt.Errorf("%w: %w", auth.ErrInvalidCredentials, err)
	}
	return auth.Principal{TenantID: claims.TenantID, UserID: claims.UserID, AuthMethod: claims.AuthMethod,
		TokenID: claims.TokenID, Scope: claims.Scope}, nil
}

// ActiveRole reads the user's current role; deleted and disabled users are inactive.
func (i *identity) ActiveRole(ctx context.Context, tenantID, userID string) (string, error) {
	u, err := projections.GetUser(ctx, i.db, tenantID, userID)
	if errors.Is(err, user.ErrNotFound) {
		return "", auth.ErrUserInactive
	}
	if err != nil {
		return "", err
	}
	if u.Disabled {
		return "", auth.ErrUserInactive
	}
	return string(u.Role), nil
}

// RecordAccessDenied records a refusal. Each refusal is its own event: the
// request id is fresh, the client's X-Request-ID only correlates.
func (i *identity) RecordAccessDenied(ctx context.Context, d auth.Denial) error {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	meta := commands.Meta{
		TenantID: d.Principal.TenantID, Actor: d.Principal.Actor(),
		RequestID: "denied-" + hex.EncodeToString(b[:]), CorrelationID: d.RequestID,
		ClientIP: d.ClientIP, UserAgent: d.UserAgent,
	}
	_, err := i.cmds.accessDenied.Handle(ctx, meta, commands.RecordAccessDenied{
		Method: d.Method, Route: d.Route,
		Reason: "role " + d.Principal.Role + " is not one of " + strings.Join(d.Required, ", "),
	})
	return err
}

// Login implements api.Sessions.
func (i *identity) Login(ctx context.Context, md eventstore.Metadata, in api.Login) (api.AccessToken, error) {
	res, err := passwordLogin(ctx, i.cmds.login, md, in)
	if err != nil {
		return api.AccessToken{}, err
	}
	return api.AccessToken{Token: res.AccessToken, ExpiresIn: res.ExpiresIn}, nil
}

// CreateUser implements api.UserCommands.
func (i *identity) CreateUser(ctx context.Context, md eventstore.Metadata, in api.NewUser) (string, eventstore.Position, error) {
	res, err := i.cmds.createUser.Handle(ctx, commands.MetaFromMetadata(md),
		commands.CreateUser{Email: in.Email, Name: in.Name, Password: in.Password, Role: user.Role(in.Role)})
	return res.UserID, res.Position, err
}

// UpdateUser implements api.UserCommands.
func (i *identity) UpdateUser(ctx context.Context, md eventstore.Metadata, id string, in api.UserChanges) (eventstore.Position, error) {
	cmd := commands.UpdateUser{UserID: id, Name: in.Name, Password: in.Password}
	if in.Role != nil {
		role := user.Role(*in.Role)
		cmd.Role = &role
	}
	if in.Enabled != nil {
		disabled := !*in.Enabled
		cmd.Disabled = &disabled
	}
	res, err := i.cmds.updateUser.Handle(ctx, commands.MetaFromMetadata(md), cmd)
	if err != nil {
		return res.Position, err
	}
	if (cmd.Disabled != nil && *cmd.Disabled) || cmd.Password != nil {
		return res.Position, i.endSessions(ctx, md.TenantID, id)
	}
	return res.Position, nil
}

// endSessions revokes every browser session of the user, so a change that
// locks them out takes effect before the read models catch up.
func (i *identity) endSessions(ctx context.Context, tenantID, userID string) error {
	if i.sessions == nil {
		return nil
	}
	if err := i.sessions.RevokeUser(ctx, tenantID, userID); err != nil {
		return fmt.Errorf("end the user's browser sessions: %w", err)
	}
	return nil
}

// DeleteUser implements api.UserCommands.
func (i *identity) DeleteUser(ctx context.Context, md eventstore.Metadata, id string) (eventstore.Position, error) {
	res, err := i.cmds.deleteUser.Handle(ctx, commands.MetaFromMetadata(md), commands.DeleteUser{UserID: id})
	if err != nil {
		return res.Position, err
	}
	return res.Position, i.endSessions(ctx, md.TenantID, id)
}

// GetUser implements api.UserQueries.
func (i *identity) GetUser(ctx context.Context, tenantID, id string) (api.User, error) {
	u, err := projections.GetUser(ctx, i.db, tenantID, id)
	if err != nil {
		return api.User{}, err
	}
	return apiUser(u), nil
}

// ListUsers implements api.UserQueries.
func (i *identity) ListUsers(ctx context.Context, tenantID string, page api.Page) ([]api.User, string, error) {
	res, err := projections.ListUsers(ctx, i.db, tenantID, projections.ListUsersOptions{Limit: page.Limit, After: page.After})
	if err != nil {
		return nil, "", err
	}
	users := make([]api.User, len(res.Users))
	for n, u := range res.Users {
		users[n] = apiUser(u)
	}
	return users, res.Next, nil
}

func apiUser(u projections.UserView) api.User {
	return api.User{ID: u.ID, Email: u.Email, Name: u.Name, Role: string(u.Role), Enabled: !u.Disabled,
		TOTPEnabled: u.TOTPEnabled, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

// IssueToken implements api.TokenCommands.
func (i *identity) IssueToken(ctx context.Context, md eventstore.Metadata, in api.NewToken) (api.IssuedToken, error) {
	cmd := commands.IssueAPIToken{UserID: in.UserID, Name: in.Name}
	if in.ExpiresIn > 0 {
		at := i.now().Add(time.Duration(in.ExpiresIn) * time.Second).UTC()
		cmd.ExpiresAt = &at
	}
	res, err := i.cmds.issueToken.Handle(ctx, commands.MetaFromMetadata(md), cmd)
	if err != nil {
		return api.IssuedToken{}, err
	}
	return api.IssuedToken{ID: res.TokenID, Secret: res.Token, ExpiresAt: res.ExpiresAt, Position: res.Position}, nil
}

// RevokeToken implements api.TokenCommands.
func (i *identity) RevokeToken(ctx context.Context, md eventstore.Metadata, id string) (eventstore.Position, error) {
	res, err := i.cmds.revokeToken.Handle(ctx, commands.MetaFromMetadata(md), commands.RevokeAPIToken{TokenID: id})
	return res.Position, err
}

// positions waits on every projector for read-your-writes.
type positions struct{ runner *projections.Runner }

// WaitForPosition implements api.PositionWaiter.
func (p positions) WaitForPosition(ctx context.Context, pos eventstore.Position) error {
	return p.runner.WaitForPosition(ctx, pos)
}
