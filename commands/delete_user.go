package commands

import (
	"context"
	"fmt"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/reservation"
	"github.com/apiq/apiq/domain/tenant"
	"github.com/apiq/apiq/domain/user"
)

// DeleteUser deletes a user of the caller's tenant.
type DeleteUser struct {
	UserID string
}

// DeleteUserResult reports where the deletion landed.
type DeleteUserResult struct {
	UserID   string
	Position eventstore.Position
}

// DeleteUserHandler handles DeleteUser.
type DeleteUserHandler = Handler[DeleteUser, DeleteUserResult]

type deleteUserHandler struct{ d Deps }

// NewDeleteUserHandler needs Store and Vault.
func NewDeleteUserHandler(d Deps) (DeleteUserHandler, error) {
	if err := d.require("DeleteUser", true, true, false, false, false); err != nil {
		return nil, err
	}
	d = d.withDefaults()
	return decorate[DeleteUser, DeleteUserResult]("DeleteUser", deleteUserHandler{d}, d), nil
}

// Handle takes an ADMIN off the roster first (refusing the last one),
// records the deletion (revoking the user's API tokens), releases the email
// for reuse and destroys the user's data key: the email and name in the
// user's events become unreadable while the history stays. A retry of the
// same request completes every step.
func (h deleteUserHandler) Handle(ctx context.Context, meta Meta, cmd DeleteUser) (DeleteUserResult, error) {
	current, err := load(ctx, h.d.Store, user.Stream(cmd.UserID), userAggregate())
	if err != nil {
		return DeleteUserResult{}, err
	}
	if !current.state.Exists || current.state.TenantID != meta.TenantID || cmd.UserID == "" {
		return DeleteUserResult{}, user.ErrNotFound
	}
	var pos eventstore.Position
	if current.state.ActiveAdmin() {
		if pos, err = changeRoster(ctx, h.d, meta, tenant.RevokeAdmin{UserID: cmd.UserID}); err != nil {
			return DeleteUserResult{}, err
		}
	}
	deleted, err := change(ctx, h.d, meta, user.Stream(cmd.UserID), userAggregate(), func(s user.State) ([]domain.Event, error) {
		return user.Decide(s, user.Delete{})
	})
	if err != nil {
		return DeleteUserResult{}, err
	}
	pos = later(pos, deleted.Position)
	released, err := change(ctx, h.d, meta, user.EmailReservationStream(deleted.State.EmailIndex), reservationAggregate(),
		func(s reservation.State) ([]domain.Event, error) {
			return reservation.Decide(s, reservation.Release{Owner: cmd.UserID})
		})
	if err != nil {
		return DeleteUserResult{}, fmt.Errorf("release email: %w", err)
	}
	if err := h.d.Vault.DestroyOwnerKeys(ctx, meta.TenantID, user.KeyOwner(cmd.UserID)); err != nil {
		return DeleteUserResult{}, fmt.Errorf("forget personal data: %w", err)
	}
	return DeleteUserResult{UserID: cmd.UserID, Position: later(pos, released.Position)}, nil
}
