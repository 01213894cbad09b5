package api

import (
	"context"
	"sync"
	"time"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/domain/plan"
)

// fakePlans is an in-memory plan side for router tests: it keeps the plans
// the handlers create and records what they passed.
type fakePlans struct {
	mu       sync.Mutex
	plans    map[string]Plan
	metas    []eventstore.Metadata
	created  []NewPlan
	filters  []PlanFilter
	settings PlanSettings
}

func newFakePlans() *fakePlans { return &fakePlans{plans: map[string]Plan{}} }

func (f *fakePlans) record(meta eventstore.Metadata) {
	f.metas = append(f.metas, meta)
}

func (f *fakePlans) CreatePlan(_ context.Context, meta eventstore.Metadata, in NewPlan) (Plan, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(meta)
	f.created = append(f.created, in)
	id := "plan-" + meta.RequestID
	p := Plan{ID: id, Status: string(plan.StatusProposed), Version: 1, Prompt: in.Prompt, RequestedBy: meta.Actor.Subject,
		ConnectionIDs: in.ConnectionIDs, Connections: []string{}, Errors: []plan.Problem{},
		Versions:  []PlanVersion{{Version: 1, Status: string(plan.StatusProposed), Prompt: in.Prompt, Errors: []plan.Problem{}}},
		CreatedAt: time.Unix(0, 0).UTC(), UpdatedAt: time.Unix(0, 0).UTC(), Position: "00000000000000010000000000000002"}
	f.plans[id] = p
	return p, nil
}

func (f *fakePlans) find(meta eventstore.Metadata, id string) (Plan, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(meta)
	p, ok := f.plans[id]
	if !ok {
		return Plan{}, plan.ErrNotFound
	}
	return p, nil
}

func (f *fakePlans) RevisePlan(_ context.Context, meta eventstore.Metadata, id, prompt string) (Plan, error) {
	p, err := f.find(meta, id)
	if err != nil {
		return Plan{}, err
	}
	p.Version++
	p.Versions = append([]PlanVersion{{Version: p.Version, Status: p.Status, Prompt: prompt, Errors: []plan.Problem{}}}, p.Versions...)
	f.mu.Lock()
	f.plans[id] = p
	f.mu.Unlock()
	return p, nil
}

func (f *fakePlans) ConfirmPlan(_ context.Context, meta eventstore.Metadata, id string, version int) (Plan, error) {
	p, err := f.find(meta, id)
	if err != nil {
		return Plan{}, err
	}
	if version != 0 && version != p.Version {
		return Plan{}, plan.ErrVersionSuperseded
	}
	p.Status = string(plan.StatusConfirmed)
	p.Confirmation = &PlanConfirmation{Version: p.Version, By: meta.Actor.Subject, At: time.Unix(1, 0).UTC()}
	return p, nil
}

func (f *fakePlans) RejectPlan(_ context.Context, meta eventstore.Metadata, id, reason string) (Plan, error) {
	p, err := f.find(meta, id)
	if err != nil {
		return Plan{}, err
	}
	p.Status = string(plan.StatusRejected)
	p.Rejection = &PlanRejection{By: meta.Actor.Subject, Reason: reason, At: time.Unix(1, 0).UTC()}
	return p, nil
}

func (f *fakePlans) GetPlan(_ context.Context, _ string, id string, _ bool) (Plan, error) {
	return f.find(eventstore.Metadata{}, id)
}

func (f *fakePlans) ListPlans(_ context.Context, _ string, filter PlanFilter) ([]PlanSummary, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.filters = append(f.filters, filter)
	return nil, "", nil
}

func (f *fakePlans) PlanUsage(context.Context, string) (PlanUsage, error) {
	return PlanUsage{PromptTokens: 10, CompletionTokens: 2, TotalTokens: 12, ModelRequests: 1, PlannedVersions: 1}, nil
}

func (f *fakePlans) PlanSettings(context.Context, string) (PlanSettings, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.settings, nil
}

func (f *fakePlans) SetPlanSettings(_ context.Context, meta eventstore.Metadata, in PlanSettings) (PlanSettings, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(meta)
	f.settings = PlanSettings{DestructiveRequiresSecondAdmin: in.DestructiveRequiresSecondAdmin}
	out := f.settings
	out.Position = "00000000000000010000000000000003"
	return out, nil
}
