package commands

import (
	"context"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/plan"
)

// ErrPlanSettingsNeedAdmin refuses plan settings changed by anyone but an ADMIN.
var ErrPlanSettingsNeedAdmin = domain.NewError(domain.ErrForbidden, "plan_settings_require_admin",
	"only an ADMIN changes the tenant's plan settings")

// ChangePlanSettings sets the tenant's plan settings.
type ChangePlanSettings struct {
	Settings plan.Settings
}

// PlanSettingsResult is the tenant's plan settings after a change.
type PlanSettingsResult struct {
	Settings plan.Settings
	Position eventstore.Position
}

// ChangePlanSettingsHandler handles ChangePlanSettings.
type ChangePlanSettingsHandler = Handler[ChangePlanSettings, PlanSettingsResult]

type changePlanSettingsHandler struct{ d PlanDeps }

// NewChangePlanSettingsHandler needs Store.
func NewChangePlanSettingsHandler(d PlanDeps) (ChangePlanSettingsHandler, error) {
	if err := d.require("ChangePlanSettings", false); err != nil {
		return nil, err
	}
	d = d.withDefaults()
	return decorate[ChangePlanSettings, PlanSettingsResult]("ChangePlanSettings", changePlanSettingsHandler{d}, d.Deps), nil
}

// Handle records plan.settings_changed on the tenant's settings stream
// (nothing when the settings are already these).
func (h changePlanSettingsHandler) Handle(ctx context.Context, meta Meta, cmd ChangePlanSettings) (PlanSettingsResult, error) {
	if meta.TenantID == "" || meta.Actor.Role != plan.RoleAdmin {
		return PlanSettingsResult{}, ErrPlanSettingsNeedAdmin
	}
	out, err := change(ctx, h.d.Deps, meta, plan.SettingsStream(meta.TenantID), planSettingsAggregate(),
		func(s plan.SettingsState) ([]domain.Event, error) {
			return plan.DecideSettings(s, plan.ChangeSettings{Settings: cmd.Settings})
		})
	if err != nil {
		return PlanSettingsResult{}, err
	}
	return PlanSettingsResult{Settings: out.State.Settings, Position: out.Position}, nil
}
