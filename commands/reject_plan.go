package commands

import (
	"context"

	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/plan"
)

// RejectPlan rejects a plan with a reason; a rejected plan is never executed.
type RejectPlan struct {
	PlanID string
	Reason string
}

// RejectPlanHandler handles RejectPlan.
type RejectPlanHandler = Handler[RejectPlan, PlanResult]

type rejectPlanHandler struct{ d PlanDeps }

// NewRejectPlanHandler needs Store.
func NewRejectPlanHandler(d PlanDeps) (RejectPlanHandler, error) {
	if err := d.require("RejectPlan", false); err != nil {
		return nil, err
	}
	d = d.withDefaults()
	return decorate[RejectPlan, PlanResult]("RejectPlan", rejectPlanHandler{d}, d.Deps), nil
}

// Handle records plan.rejected by the caller; a confirmed plan is not rejected.
func (h rejectPlanHandler) Handle(ctx context.Context, meta Meta, cmd RejectPlan) (PlanResult, error) {
	return changePlan(ctx, h.d.Deps, meta, cmd.PlanID, func(s plan.State) ([]domain.Event, error) {
		return plan.Decide(s, plan.Reject{Reason: cmd.Reason, By: meta.Actor.Subject})
	})
}
