package commands

import (
	"context"

	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/plan"
)

// ConfirmPlan confirms a version of a plan (0: the latest); only a
// confirmed version can be executed.
type ConfirmPlan struct {
	PlanID  string
	Version int
}

// ConfirmPlanHandler handles ConfirmPlan.
type ConfirmPlanHandler = Handler[ConfirmPlan, PlanResult]

type confirmPlanHandler struct{ d PlanDeps }

// NewConfirmPlanHandler needs Store.
func NewConfirmPlanHandler(d PlanDeps) (ConfirmPlanHandler, error) {
	if err := d.require("ConfirmPlan", false); err != nil {
		return nil, err
	}
	d = d.withDefaults()
	return decorate[ConfirmPlan, PlanResult]("ConfirmPlan", confirmPlanHandler{d}, d.Deps), nil
}

// Handle records plan.confirmed by the caller, applying the tenant's
// setting: a version with destructive calls may then be confirmed only by
// an ADMIN who asked for none of its versions.
func (h confirmPlanHandler) Handle(ctx context.Context, meta Meta, cmd ConfirmPlan) (PlanResult, error) {
	settings, err := loadPlanSettings(ctx, h.d.Store, meta.TenantID)
	if err != nil {
		return PlanResult{}, err
	}
	return changePlan(ctx, h.d.Deps, meta, cmd.PlanID, func(s plan.State) ([]domain.Event, error) {
		return plan.Decide(s, plan.Confirm{Version: cmd.Version, By: meta.Actor.Subject, Role: meta.Actor.Role,
			SecondPersonRule: settings.DestructiveRequiresSecondAdmin})
	})
}
