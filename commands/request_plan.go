package commands

import (
	"context"

	"github.com/apiq/apiq/commands/planning"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/plan"
)

// RequestPlan asks for a plan: a request in natural language, optionally
// restricted to some of the tenant's connections.
type RequestPlan struct {
	Prompt        string
	ConnectionIDs []string
}

// RequestPlanHandler handles RequestPlan.
type RequestPlanHandler = Handler[RequestPlan, PlanResult]

type requestPlanHandler struct{ d PlanDeps }

// NewRequestPlanHandler needs Store, Planner and Blobs.
func NewRequestPlanHandler(d PlanDeps) (RequestPlanHandler, error) {
	if err := d.require("RequestPlan", true); err != nil {
		return nil, err
	}
	d = d.withDefaults()
	return decorate[RequestPlan, PlanResult]("RequestPlan", requestPlanHandler{d}, d.Deps), nil
}

// Handle plans the first version (the model is asked within the request)
// and records plan.requested with its outcome in one append to the new
// stream. The plan id derives from the request id, so a retried request
// finds the plan it made and asks the model nothing.
func (h requestPlanHandler) Handle(ctx context.Context, meta Meta, cmd RequestPlan) (PlanResult, error) {
	if meta.TenantID == "" {
		return PlanResult{}, plan.ErrNotFound
	}
	id := meta.derivedID("plan")
	ls, err := load(ctx, h.d.Store, plan.Stream(id), planAggregate())
	if err != nil {
		return PlanResult{}, err
	}
	if prior, ok, err := replayedPlan(ls, meta, id); err != nil || ok {
		return prior, err
	}
	prompt, err := plan.ValidatePrompt(cmd.Prompt)
	if err != nil {
		return PlanResult{}, err
	}
	filter, err := plan.ValidateConnectionFilter(cmd.ConnectionIDs)
	if err != nil {
		return PlanResult{}, err
	}
	res, err := h.d.Planner.Plan(ctx, planning.Request{TenantID: meta.TenantID, Prompt: prompt, ConnectionIDs: filter})
	if err != nil {
		return PlanResult{}, err
	}
	return h.d.record(ctx, meta, id, res, func(s plan.State, r plan.Result) ([]domain.Event, error) {
		return plan.Decide(s, plan.Request{PlanID: id, Prompt: prompt, ConnectionIDs: filter, By: meta.Actor.Subject, Result: r})
	})
}
