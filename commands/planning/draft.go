package planning

import (
	"context"

	"github.com/apiq/apiq/domain/plan"
)

// draft plans without a model: one step calling the best-matching
// operation of the catalogue search, with the parameters the request
// states. It is proposed (with low confidence) when it validates, and
// failed with the problems (say, a required parameter the request does
// not state) otherwise; either way people see the draft.
func (p *Planner) draft(ctx context.Context, req Request, s scope) (Result, error) {
	best, err := p.rank(ctx, req.TenantID, searchQuery(req), s, nil, 1, false)
	if err != nil {
		return Result{}, err
	}
	if len(best) == 0 {
		return noSuitable("no operation of the connections matches the request", plan.ModeCatalogueSearch), nil
	}
	e, _ := s.cat.set.Endpoint(best[0])
	call := fillCall(e.ConnectionID, e.Operation, parseValues(searchQuery(req)))
	pl := plan.Plan{Steps: []plan.Step{{ID: draftStepID(e.Operation.OperationID), Kind: plan.KindCall, Call: call}}}
	record := plan.Planning{Mode: plan.ModeCatalogueSearch, Candidates: 1}
	outcome := plan.Outcome{Plan: &pl, Confidence: plan.ConfidenceLow, Planning: record}
	if problems := plan.Validate(pl, s.cat.set); len(problems) > 0 {
		outcome.Problems = problems
		return Result{Result: plan.Result{Status: plan.StatusFailed, Outcome: outcome}}, nil
	}
	outcome.Confirmation = confirmation(pl, s.cat, plan.Usage{})
	return Result{Result: plan.Result{Status: plan.StatusProposed, Outcome: outcome}}, nil
}
