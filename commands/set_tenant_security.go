package commands

import (
	"context"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/tenant"
	"github.com/apiq/apiq/domain/user"
)

// ErrSecurityNeedsAdmin refuses security settings changed by anyone but an ADMIN.
var ErrSecurityNeedsAdmin = domain.NewError(domain.ErrForbidden, "security_settings_require_admin",
	"only an ADMIN changes the tenant's security settings")

// SetTenantSecurity sets the caller's tenant's security settings.
type SetTenantSecurity struct {
	TOTPRequired bool
}

// TenantSecurityResult is the tenant's security settings after a change.
type TenantSecurityResult struct {
	TOTPRequired bool
	Position     eventstore.Position
}

// SetTenantSecurityHandler handles SetTenantSecurity.
type SetTenantSecurityHandler = Handler[SetTenantSecurity, TenantSecurityResult]

type setTenantSecurityHandler struct{ d Deps }

// NewSetTenantSecurityHandler needs Store.
func NewSetTenantSecurityHandler(d Deps) (SetTenantSecurityHandler, error) {
	if err := d.require("SetTenantSecurity", true, false, false, false, false); err != nil {
		return nil, err
	}
	d = d.withDefaults()
	return decorate[SetTenantSecurity, TenantSecurityResult]("SetTenantSecurity", setTenantSecurityHandler{d}, d), nil
}

// Handle records tenant.security_changed (nothing when the settings are
// already these). Requiring TOTP takes effect at each user's next password
// login; tokens already issued run out on their own.
func (h setTenantSecurityHandler) Handle(ctx context.Context, meta Meta, cmd SetTenantSecurity) (TenantSecurityResult, error) {
	if meta.TenantID == "" || meta.Actor.Role != string(user.RoleAdmin) {
		return TenantSecurityResult{}, ErrSecurityNeedsAdmin
	}
	out, err := change(ctx, h.d, meta, tenant.Stream(meta.TenantID), tenantAggregate(), func(s tenant.State) ([]domain.Event, error) {
		return tenant.Decide(s, tenant.SetSecurity{TOTPRequired: cmd.TOTPRequired})
	})
	if err != nil {
		return TenantSecurityResult{}, err
	}
	return TenantSecurityResult{TOTPRequired: out.State.TOTPRequired, Position: out.Position}, nil
}
