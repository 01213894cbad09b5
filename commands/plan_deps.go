package commands

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/commands/planning"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/plan"
)

// Planner plans plan versions (planning.Planner implements it).
type Planner interface {
	Plan(ctx context.Context, req planning.Request) (planning.Result, error)
}

// DefaultMaxInlineTranscript is the largest transcript kept inside its
// plan event; larger ones go to the blob store and the event names them.
const DefaultMaxInlineTranscript = 16 << 10

// recordTimeout bounds recording a planned version once planning is done,
// even when the caller has gone: the model's answer and its cost are
// recorded all the same.
const recordTimeout = 10 * time.Second

// PlanDeps are the collaborators of the plan commands: the common Deps
// (Store, logging, clock), the planner and the blob store for large
// transcripts.
type PlanDeps struct {
	Deps
	Planner Planner
	Blobs   BlobStore
	// MaxInlineTranscript is the largest transcript kept in the event
	// (default DefaultMaxInlineTranscript).
	MaxInlineTranscript int
}

func (d PlanDeps) withDefaults() PlanDeps {
	d.Deps = d.Deps.withDefaults()
	if d.MaxInlineTranscript <= 0 {
		d.MaxInlineTranscript = DefaultMaxInlineTranscript
	}
	return d
}

// require reports every dependency a plan handler needs that is missing.
func (d PlanDeps) require(handler string, planner bool) error {
	var errs []error
	if d.Store == nil {
		errs = append(errs, errors.New(handler+": Store is required"))
	}
	if planner && d.Planner == nil {
		errs = append(errs, errors.New(handler+": Planner is required"))
	}
	if planner && d.Blobs == nil {
		errs = append(errs, errors.New(handler+": Blobs is required"))
	}
	return errors.Join(errs...)
}

func planAggregate() aggregate[plan.State] {
	return aggregate[plan.State]{decode: plan.Decode, evolve: plan.Evolve}
}

func planSettingsAggregate() aggregate[plan.SettingsState] {
	return aggregate[plan.SettingsState]{decode: plan.Decode, evolve: plan.EvolveSettings}
}

// loadPlan folds a plan of the caller's tenant; one of another tenant, or
// none, is plan.ErrNotFound.
func loadPlan(ctx context.Context, store EventStore, tenantID, planID string) (loaded[plan.State], error) {
	if planID == "" || tenantID == "" {
		return loaded[plan.State]{}, plan.ErrNotFound
	}
	ls, err := load(ctx, store, plan.Stream(planID), planAggregate())
	if err != nil {
		return ls, err
	}
	if ls.version == eventstore.NoStream || len(ls.recorded) == 0 || ls.recorded[0].Metadata.TenantID != tenantID || !ls.state.Exists {
		return loaded[plan.State]{}, plan.ErrNotFound
	}
	return ls, nil
}

// loadPlanSettings folds the tenant's plan settings.
func loadPlanSettings(ctx context.Context, store EventStore, tenantID string) (plan.Settings, error) {
	ls, err := load(ctx, store, plan.SettingsStream(tenantID), planSettingsAggregate())
	if err != nil {
		return plan.Settings{}, err
	}
	return ls.state.Settings, nil
}

// PlanResult names the plan a command changed, its latest version and
// status, and where the change landed in the event log.
type PlanResult struct {
	PlanID   string
	Version  int
	Status   plan.Status
	Position eventstore.Position
}

// planResult describes a change: the version it recorded when it
// recorded one (a replayed revision may have newer versions after it),
// the latest version otherwise.
func planResult(id string, o outcome[plan.State]) PlanResult {
	latest, _ := o.State.Latest()
	res := PlanResult{PlanID: id, Version: latest.Number, Status: o.State.Status(), Position: o.Position}
	for _, ev := range o.Events {
		switch e := ev.(type) {
		case plan.Requested:
			res.Version = 1
		case plan.Revised:
			res.Version = e.Version
		}
	}
	return res
}

// changePlan decides and appends on a plan's stream of the caller's tenant.
func changePlan(ctx context.Context, d Deps, meta Meta, planID string, decide func(plan.State) ([]domain.Event, error)) (PlanResult, error) {
	if _, err := loadPlan(ctx, d.Store, meta.TenantID, planID); err != nil {
		return PlanResult{}, err
	}
	out, err := change(ctx, d, meta, plan.Stream(planID), planAggregate(), decide)
	if err != nil {
		return PlanResult{}, err
	}
	return planResult(planID, out), nil
}

// record appends a planned version: its transcript kept inline when small
// and in the blob store otherwise, within recordTimeout even when ctx ends.
func (d PlanDeps) record(ctx context.Context, meta Meta, planID string, res planning.Result,
	decide func(plan.State, plan.Result) ([]domain.Event, error)) (PlanResult, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if n := len(res.Transcript); n > 0 {
		res.Outcome.Planning.TranscriptBytes = n
		if n <= d.MaxInlineTranscript {
			res.Outcome.Planning.Transcript = res.Transcript
		} else {
			hash, err := d.Blobs.Put(ctx, "application/json", res.Transcript)
			if err != nil {
				return PlanResult{}, fmt.Errorf("store transcript: %w", err)
			}
			res.Outcome.Planning.TranscriptHash = hash
		}
	}
	out, err := change(ctx, d.Deps, meta, plan.Stream(planID), planAggregate(), func(s plan.State) ([]domain.Event, error) {
		return decide(s, res.Result)
	})
	if err != nil {
		return PlanResult{}, err
	}
	return planResult(planID, out), nil
}

// replayedPlan finds the version an earlier attempt of this request recorded.
func replayedPlan(ls loaded[plan.State], meta Meta, planID string) (PlanResult, bool, error) {
	prior, ok, err := replayed(ls, meta, plan.Stream(planID), planAggregate())
	if err != nil || !ok {
		return PlanResult{}, false, err
	}
	return planResult(planID, prior), true, nil
}
