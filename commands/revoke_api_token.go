package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/user"
)

// RevokeAPIToken revokes a machine token of the caller's tenant.
type RevokeAPIToken struct {
	TokenID string
	// UserID is the token's user; when empty it is looked up (Directory).
	UserID string
}

// RevokeAPITokenResult reports where the revocation landed.
type RevokeAPITokenResult struct {
	TokenID  string
	Position eventstore.Position
}

// RevokeAPITokenHandler handles RevokeAPIToken.
type RevokeAPITokenHandler = Handler[RevokeAPIToken, RevokeAPITokenResult]

type revokeAPITokenHandler struct{ d Deps }

// NewRevokeAPITokenHandler needs Store and Directory.
func NewRevokeAPITokenHandler(d Deps) (RevokeAPITokenHandler, error) {
	if err := d.require("RevokeAPIToken", true, false, false, false, true); err != nil {
		return nil, err
	}
	d = d.withDefaults()
	return decorate[RevokeAPIToken, RevokeAPITokenResult]("RevokeAPIToken", revokeAPITokenHandler{d}, d), nil
}

// Handle records the revocation on the token user's stream; revoking a
// revoked token changes nothing.
func (h revokeAPITokenHandler) Handle(ctx context.Context, meta Meta, cmd RevokeAPIToken) (RevokeAPITokenResult, error) {
	if cmd.TokenID == "" {
		return RevokeAPITokenResult{}, user.ErrTokenNotFound
	}
	userID := cmd.UserID
	if userID == "" {
		owner, err := h.d.Directory.APITokenOwner(ctx, meta.TenantID, cmd.TokenID)
		if errors.Is(err, domain.ErrNotFound) {
			return RevokeAPITokenResult{}, user.ErrTokenNotFound
		}
		if err != nil {
			return RevokeAPITokenResult{}, fmt.Errorf("find token owner: %w", err)
		}
		userID = owner
	}
	res, err := change(ctx, h.d, meta, user.Stream(userID), userAggregate(), func(s user.State) ([]domain.Event, error) {
		if s.TenantID != meta.TenantID {
			return nil, user.ErrTokenNotFound
		}
		return user.Decide(s, user.RevokeAPIToken{TokenID: cmd.TokenID})
	})
	if errors.Is(err, user.ErrNotFound) {
		return RevokeAPITokenResult{}, user.ErrTokenNotFound
	}
	if err != nil {
		return RevokeAPITokenResult{}, err
	}
	return RevokeAPITokenResult{TokenID: cmd.TokenID, Position: res.Position}, nil
}
