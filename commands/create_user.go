package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/vault"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/reservation"
	"github.com/apiq/apiq/domain/tenant"
	"github.com/apiq/apiq/domain/user"
)

// CreateUser creates a user in the caller's tenant (Meta.TenantID).
type CreateUser struct {
	Email    string
	Name     string
	Password string
	Role     user.Role
}

// CreateUserResult names the new user.
type CreateUserResult struct {
	UserID   string
	Position eventstore.Position
}

// CreateUserHandler handles CreateUser.
type CreateUserHandler = Handler[CreateUser, CreateUserResult]

type createUserHandler struct{ d Deps }

// NewCreateUserHandler needs Store, Vault and Passwords.
func NewCreateUserHandler(d Deps) (CreateUserHandler, error) {
	if err := d.require("CreateUser", true, true, true, false, false); err != nil {
		return nil, err
	}
	d = d.withDefaults()
	return decorate[CreateUser, CreateUserResult]("CreateUser", createUserHandler{d}, d), nil
}

// Handle reserves the email, records the user and, for an ADMIN, adds it
// to the tenant's admin roster. The user id derives from the request id,
// so a retried request completes the same user instead of making another.
func (h createUserHandler) Handle(ctx context.Context, meta Meta, cmd CreateUser) (CreateUserResult, error) {
	spec, err := newUserSpec(cmd.Email, cmd.Name, cmd.Password, cmd.Role)
	if err != nil {
		return CreateUserResult{}, err
	}
	if meta.TenantID == "" {
		return CreateUserResult{}, tenant.ErrNotFound
	}
	ten, err := load(ctx, h.d.Store, tenant.Stream(meta.TenantID), tenantAggregate())
	if err != nil {
		return CreateUserResult{}, err
	}
	if !ten.state.Exists {
		return CreateUserResult{}, tenant.ErrNotFound
	}
	userID := meta.derivedID("user")
	pos, _, err := createUser(ctx, h.d, meta, userID, spec, false)
	if err != nil {
		return CreateUserResult{}, err
	}
	return CreateUserResult{UserID: userID, Position: pos}, nil
}

// userSpec is a validated new user, still in plaintext.
type userSpec struct {
	email, name, password string
	role                  user.Role
}

func newUserSpec(email, name, password string, role user.Role) (userSpec, error) {
	var errs []error
	email, err := user.ValidateEmail(email)
	errs = append(errs, err)
	name, err = user.ValidateName(name)
	errs = append(errs, err)
	errs = append(errs, user.ValidatePassword(password))
	_, err = user.ParseRole(string(role))
	errs = append(errs, err)
	for _, err := range errs {
		if err != nil {
			return userSpec{}, err
		}
	}
	return userSpec{email: email, name: name, password: password, role: role}, nil
}

// createUser runs the multi-stream creation, each step idempotent so a
// retry of the same request completes it: reserve the email, record the
// user (personal data encrypted under the user's own key), then put an
// ADMIN on the tenant's roster (bootstrap marks the tenant's first admin).
// replayed reports that an earlier attempt of the request had recorded the
// user (with the password given then).
func createUser(ctx context.Context, d Deps, meta Meta, userID string, spec userSpec, bootstrap bool) (pos eventstore.Position, replayed bool, err error) {
	index := d.Vault.BlindIndex(meta.TenantID, user.NormalizeEmail(spec.email))
	res, err := change(ctx, d, meta, user.EmailReservationStream(index), reservationAggregate(),
		func(s reservation.State) ([]domain.Event, error) {
			return reservation.Decide(s, reservation.Reserve{Owner: userID})
		})
	if errors.Is(err, reservation.ErrTaken) {
		return eventstore.Position{}, false, user.ErrEmailTaken
	}
	if err != nil {
		return eventstore.Position{}, false, fmt.Errorf("reserve email: %w", err)
	}
	pos = res.Position

	hash, err := d.Passwords.Hash(spec.password)
	if err != nil {
		return eventstore.Position{}, false, fmt.Errorf("hash password: %w", err)
	}
	owner := user.KeyOwner(userID)
	encEmail, err := d.Vault.EncryptString(ctx, vault.Scope{Tenant: meta.TenantID, Owner: owner, Field: "email"}, spec.email)
	if err != nil {
		return eventstore.Position{}, false, err
	}
	encName, err := d.Vault.EncryptString(ctx, vault.Scope{Tenant: meta.TenantID, Owner: owner, Field: "name"}, spec.name)
	if err != nil {
		return eventstore.Position{}, false, err
	}
	created, err := change(ctx, d, meta, user.Stream(userID), userAggregate(), func(s user.State) ([]domain.Event, error) {
		return user.Decide(s, user.Create{
			UserID: userID, TenantID: meta.TenantID, EncryptedEmail: encEmail, EncryptedName: encName,
			EmailIndex: index, Role: spec.role, PasswordHash: hash,
		})
	})
	if err != nil {
		return eventstore.Position{}, false, err
	}
	pos = later(pos, created.Position)

	if !created.State.ActiveAdmin() {
		return pos, created.Replayed, nil
	}
	var cmd tenant.Command = tenant.GrantAdmin{UserID: userID}
	if bootstrap {
		cmd = tenant.BootstrapAdmin{UserID: userID}
	}
	roster, err := change(ctx, d, meta, tenant.Stream(meta.TenantID), tenantAggregate(), func(s tenant.State) ([]domain.Event, error) {
		return tenant.Decide(s, cmd)
	})
	if err != nil {
		return eventstore.Position{}, false, fmt.Errorf("add admin to roster: %w", err)
	}
	return later(pos, roster.Position), created.Replayed, nil
}
