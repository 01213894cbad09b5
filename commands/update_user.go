package commands

import (
	"context"
	"fmt"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/vault"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/tenant"
	"github.com/apiq/apiq/domain/user"
)

// UpdateUser changes a user of the caller's tenant (PATCH: nil fields stay).
type UpdateUser struct {
	UserID   string
	Name     *string
	Role     *user.Role
	Disabled *bool
	Password *string
}

// UpdateUserResult reports where the change landed.
type UpdateUserResult struct {
	UserID   string
	Position eventstore.Position
}

// UpdateUserHandler handles UpdateUser.
type UpdateUserHandler = Handler[UpdateUser, UpdateUserResult]

type updateUserHandler struct{ d Deps }

// NewUpdateUserHandler needs Store, Vault and Passwords.
func NewUpdateUserHandler(d Deps) (UpdateUserHandler, error) {
	if err := d.require("UpdateUser", true, true, true, false, false); err != nil {
		return nil, err
	}
	d = d.withDefaults()
	return decorate[UpdateUser, UpdateUserResult]("UpdateUser", updateUserHandler{d}, d), nil
}

// Handle refuses to leave the tenant without an active ADMIN: a change that
// takes a user off the admin roster (demote, disable) is first recorded on
// the tenant's stream, which refuses the last admin; a change that puts a
// user on it is recorded there after the user's change.
func (h updateUserHandler) Handle(ctx context.Context, meta Meta, cmd UpdateUser) (UpdateUserResult, error) {
	upd, err := h.prepare(ctx, meta, cmd)
	if err != nil {
		return UpdateUserResult{}, err
	}
	current, err := load(ctx, h.d.Store, user.Stream(cmd.UserID), userAggregate())
	if err != nil {
		return UpdateUserResult{}, err
	}
	if !current.state.Live() || current.state.TenantID != meta.TenantID {
		return UpdateUserResult{}, user.ErrNotFound
	}
	var pos eventstore.Position
	if current.state.ActiveAdmin() && !current.state.WouldBeActiveAdmin(upd) {
		revoked, err := changeRoster(ctx, h.d, meta, tenant.RevokeAdmin{UserID: cmd.UserID})
		if err != nil {
			return UpdateUserResult{}, err
		}
		pos = revoked
	}
	changed, err := change(ctx, h.d, meta, user.Stream(cmd.UserID), userAggregate(), func(s user.State) ([]domain.Event, error) {
		return user.Decide(s, upd)
	})
	if err != nil {
		return UpdateUserResult{}, err
	}
	pos = later(pos, changed.Position)
	if !current.state.ActiveAdmin() && changed.State.ActiveAdmin() {
		granted, err := changeRoster(ctx, h.d, meta, tenant.GrantAdmin{UserID: cmd.UserID})
		if err != nil {
			return UpdateUserResult{}, err
		}
		pos = later(pos, granted)
	}
	return UpdateUserResult{UserID: cmd.UserID, Position: pos}, nil
}

// prepare validates the change and turns plaintext into what events hold.
func (h updateUserHandler) prepare(ctx context.Context, meta Meta, cmd UpdateUser) (user.Update, error) {
	upd := user.Update{Role: cmd.Role, Disabled: cmd.Disabled}
	if cmd.UserID == "" {
		return upd, user.ErrNotFound
	}
	if cmd.Role != nil {
		if _, err := user.ParseRole(string(*cmd.Role)); err != nil {
			return upd, err
		}
	}
	if cmd.Name != nil {
		name, err := user.ValidateName(*cmd.Name)
		if err != nil {
			return upd, err
		}
		enc, err := h.d.Vault.EncryptString(ctx,
			vault.Scope{Tenant: meta.TenantID, Owner: user.KeyOwner(cmd.UserID), Field: "name"}, name)
		if err != nil {
			return upd, err
		}
		upd.EncryptedName = &enc
	}
	if cmd.Password != nil {
		if err := user.ValidatePassword(*cmd.Password); err != nil {
			return upd, err
		}
		hash, err := h.d.Passwords.Hash(*cmd.Password)
		if err != nil {
			return upd, fmt.Errorf("hash password: %w", err)
		}
		upd.PasswordHash = &hash
	}
	return upd, nil
}

// changeRoster records an admin roster change on the tenant's stream.
func changeRoster(ctx context.Context, d Deps, meta Meta, cmd tenant.Command) (eventstore.Position, error) {
	res, err := change(ctx, d, meta, tenant.Stream(meta.TenantID), tenantAggregate(), func(s tenant.State) ([]domain.Event, error) {
		return tenant.Decide(s, cmd)
	})
	return res.Position, err
}
