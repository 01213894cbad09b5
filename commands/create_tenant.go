package commands

import (
	"context"
	"errors"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/reservation"
	"github.com/apiq/apiq/domain/tenant"
	"github.com/apiq/apiq/domain/user"
)

// CreateTenant creates a tenant and its first ADMIN.
type CreateTenant struct {
	// TenantID is optional; by default it derives from the request id.
	TenantID      string
	Name          string
	Slug          string
	AdminEmail    string
	AdminName     string
	AdminPassword string
}

// CreateTenantResult names the new tenant and its admin.
type CreateTenantResult struct {
	TenantID    string
	AdminUserID string
	// Created is false when an earlier attempt of the same request had
	// already created the admin: its password is the one given then.
	Created  bool
	Position eventstore.Position
}

// CreateTenantHandler handles CreateTenant.
type CreateTenantHandler = Handler[CreateTenant, CreateTenantResult]

type createTenantHandler struct{ d Deps }

// NewCreateTenantHandler needs Store, Vault and Passwords.
func NewCreateTenantHandler(d Deps) (CreateTenantHandler, error) {
	if err := d.require("CreateTenant", true, true, true, false, false); err != nil {
		return nil, err
	}
	d = d.withDefaults()
	return decorate[CreateTenant, CreateTenantResult]("CreateTenant", createTenantHandler{d}, d), nil
}

// Handle reserves the slug, records the tenant, then creates the admin
// (email reservation, user stream, roster bootstrap). It spans several
// streams; every step is idempotent for the request, so retrying the same
// request id completes an interrupted creation.
func (h createTenantHandler) Handle(ctx context.Context, meta Meta, cmd CreateTenant) (CreateTenantResult, error) {
	name, err := tenant.ValidateName(cmd.Name)
	if err != nil {
		return CreateTenantResult{}, err
	}
	if err := tenant.ValidateSlug(cmd.Slug); err != nil {
		return CreateTenantResult{}, err
	}
	spec, err := newUserSpec(cmd.AdminEmail, cmd.AdminName, cmd.AdminPassword, user.RoleAdmin)
	if err != nil {
		return CreateTenantResult{}, err
	}
	tenantID := cmd.TenantID
	if tenantID == "" {
		tenantID = meta.forTenant("").derivedID("tenant")
	}
	meta = meta.forTenant(tenantID)

	slug, err := change(ctx, h.d, meta, tenant.SlugReservationStream(cmd.Slug), reservationAggregate(),
		func(s reservation.State) ([]domain.Event, error) {
			return reservation.Decide(s, reservation.Reserve{Owner: tenantID})
		})
	if errors.Is(err, reservation.ErrTaken) {
		return CreateTenantResult{}, tenant.ErrSlugTaken
	}
	if err != nil {
		return CreateTenantResult{}, err
	}
	created, err := change(ctx, h.d, meta, tenant.Stream(tenantID), tenantAggregate(), func(s tenant.State) ([]domain.Event, error) {
		return tenant.Decide(s, tenant.Create{TenantID: tenantID, Name: name, Slug: cmd.Slug})
	})
	if err != nil {
		return CreateTenantResult{}, err
	}
	adminID := meta.derivedID("user")
	pos, replayed, err := createUser(ctx, h.d, meta.atStep("admin"), adminID, spec, true)
	if err != nil {
		return CreateTenantResult{}, err
	}
	return CreateTenantResult{
		TenantID: tenantID, AdminUserID: adminID, Created: !replayed,
		Position: later(later(slug.Position, created.Position), pos),
	}, nil
}
