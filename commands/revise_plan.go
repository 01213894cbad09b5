package commands

import (
	"context"

	"github.com/apiq/apiq/commands/planning"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/plan"
)

// RevisePlan asks for a new version of a plan, planned from its latest
// version and a revision in natural language.
type RevisePlan struct {
	PlanID string
	Prompt string
}

// RevisePlanHandler handles RevisePlan.
type RevisePlanHandler = Handler[RevisePlan, PlanResult]

type revisePlanHandler struct{ d PlanDeps }

// NewRevisePlanHandler needs Store, Planner and Blobs.
func NewRevisePlanHandler(d PlanDeps) (RevisePlanHandler, error) {
	if err := d.require("RevisePlan", true); err != nil {
		return nil, err
	}
	d = d.withDefaults()
	return decorate[RevisePlan, PlanResult]("RevisePlan", revisePlanHandler{d}, d.Deps), nil
}

// Handle plans the next version from the latest one (its prompts and
// steps go to the model with the revision) and records plan.revised with
// the new version's outcome. Earlier versions stay as they were. A
// confirmed or rejected plan is not revised; a retried request records
// nothing new.
func (h revisePlanHandler) Handle(ctx context.Context, meta Meta, cmd RevisePlan) (PlanResult, error) {
	ls, err := loadPlan(ctx, h.d.Store, meta.TenantID, cmd.PlanID)
	if err != nil {
		return PlanResult{}, err
	}
	if prior, ok, err := replayedPlan(ls, meta, cmd.PlanID); err != nil || ok {
		return prior, err
	}
	if err := plan.CanRevise(ls.state); err != nil {
		return PlanResult{}, err
	}
	prompt, err := plan.ValidatePrompt(cmd.Prompt)
	if err != nil {
		return PlanResult{}, err
	}
	latest, _ := ls.state.Latest()
	prompts := make([]string, len(ls.state.Versions))
	for i, v := range ls.state.Versions {
		prompts[i] = v.Prompt
	}
	res, err := h.d.Planner.Plan(ctx, planning.Request{TenantID: meta.TenantID, Prompt: prompt,
		ConnectionIDs: ls.state.ConnectionIDs, Previous: &planning.Previous{Prompts: prompts, Version: latest}})
	if err != nil {
		return PlanResult{}, err
	}
	return h.d.record(ctx, meta, cmd.PlanID, res, func(s plan.State, r plan.Result) ([]domain.Event, error) {
		return plan.Decide(s, plan.Revise{Prompt: prompt, By: meta.Actor.Subject, BasedOn: latest.Number, Result: r})
	})
}
