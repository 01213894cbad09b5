package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/commands"
	"github.com/apiq/apiq/domain/execution"
	"github.com/apiq/apiq/http/api"
	"github.com/apiq/apiq/projections"
)

// executionParts are the execution commands and the engine.
type executionParts struct {
	start  commands.StartExecutionHandler
	cancel commands.CancelExecutionHandler
	engine *commands.Engine
}

// openExecutions wires the engine (run by apiq serve as a background task:
// it claims work through PostgreSQL leases, so several processes share it)
// and the start/cancel commands, which signal the engine directly.
func (c *core) openExecutions(conns commands.ConnectionDeps) error {
	plans, err := commands.NewConfirmedPlanStore(c.store)
	if err != nil {
		return fmt.Errorf("confirmed plans: %w", err)
	}
	cfg := commands.DefaultExecutionConfig()
	if c.cfg.ExecutionLease > 0 {
		cfg.Lease = c.cfg.ExecutionLease
	}
	d := commands.ExecutionDeps{ConnectionDeps: conns, Pool: c.pool, Feed: c.store, Plans: plans, Config: cfg}
	engine, err := commands.NewEngine(d)
	if err != nil {
		return fmt.Errorf("execution engine: %w", err)
	}
	d.Signal = engine.Signal
	start, err := commands.NewStartExecutionHandler(d)
	if err != nil {
		return fmt.Errorf("execution handlers: %w", err)
	}
	cancel, err := commands.NewCancelExecutionHandler(d)
	if err != nil {
		return fmt.Errorf("execution handlers: %w", err)
	}
	c.executions = executionParts{start: start, cancel: cancel, engine: engine}
	c.background = append(c.background, engine.Run)
	return nil
}

// executionsAPI adapts the execution commands, the executions view and the
// execution streams to the HTTP layer (api.ExecutionCommands, api.ExecutionQueries).
type executionsAPI struct {
	db    projections.QueryDB
	store eventStore
	parts executionParts
}

var (
	_ api.ExecutionCommands = executionsAPI{}
	_ api.ExecutionQueries  = executionsAPI{}
)

// StartExecution implements api.ExecutionCommands.
func (a executionsAPI) StartExecution(ctx context.Context, md eventstore.Metadata, in api.NewExecution) (api.ExecutionAccepted, error) {
	res, err := a.parts.start.Handle(ctx, commands.MetaFromMetadata(md), commands.StartExecution{
		PlanID: in.PlanID, Version: in.Version, Inputs: in.Inputs})
	if err != nil {
		return api.ExecutionAccepted{}, err
	}
	return accepted(res), nil
}

// CancelExecution implements api.ExecutionCommands.
func (a executionsAPI) CancelExecution(ctx context.Context, md eventstore.Metadata, id, reason string) (api.ExecutionAccepted, error) {
	res, err := a.parts.cancel.Handle(ctx, commands.MetaFromMetadata(md), commands.CancelExecution{ExecutionID: id, Reason: reason})
	if err != nil {
		return api.ExecutionAccepted{}, err
	}
	return accepted(res), nil
}

func accepted(res commands.ExecutionResult) api.ExecutionAccepted {
	return api.ExecutionAccepted{ExecutionID: res.ExecutionID, Status: string(res.Status), Position: res.Position.String()}
}

// GetExecution implements api.ExecutionQueries.
func (a executionsAPI) GetExecution(ctx context.Context, tenantID, id string) (api.Execution, error) {
	v, err := projections.GetExecution(ctx, a.db, tenantID, id)
	if err != nil {
		return api.Execution{}, err
	}
	out := apiExecution(v)
	out.Steps = make([]api.ExecutionStep, 0, len(v.Steps))
	for _, s := range v.Steps {
		step := api.ExecutionStep{Key: s.Key, StepID: s.StepID, Kind: s.Kind, Status: string(s.Status), Attempts: s.Attempts,
			HTTPStatus: s.HTTPStatus, DurationMS: s.DurationMS, Error: s.Error, RetryAt: s.RetryAt}
		if s.Request != nil {
			if step.Request, err = json.Marshal(s.Request); err != nil {
				return api.Execution{}, fmt.Errorf("encode request of %s: %w", s.Key, err)
			}
		}
		if s.Response != nil {
			if step.Response, err = json.Marshal(s.Response); err != nil {
				return api.Execution{}, fmt.Errorf("encode response of %s: %w", s.Key, err)
			}
		}
		out.Steps = append(out.Steps, step)
	}
	return out, nil
}

// ListExecutions implements api.ExecutionQueries.
func (a executionsAPI) ListExecutions(ctx context.Context, tenantID string, f api.ExecutionFilter) ([]api.Execution, string, error) {
	page, err := projections.ListExecutions(ctx, a.db, tenantID, projections.ListExecutionsOptions{
		Status: execution.Status(f.Status), PlanID: f.PlanID, Since: f.Since, Until: f.Until, Limit: f.Limit, After: f.After})
	if err != nil {
		return nil, "", err
	}
	out := make([]api.Execution, 0, len(page.Executions))
	for _, v := range page.Executions {
		out = append(out, apiExecution(v))
	}
	return out, page.Next, nil
}

func apiExecution(v projections.ExecutionView) api.Execution {
	e := api.Execution{ID: v.ID, PlanID: v.PlanID, PlanVersion: v.PlanVersion, Status: string(v.Status), Inputs: v.Inputs,
		CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt, FinishedAt: v.FinishedAt, Version: v.Version}
	if e.Inputs == nil {
		e.Inputs = map[string]any{}
	}
	if o := v.Outcome; o != nil {
		e.Outcome = &api.ExecutionOutcome{Step: o.Step, Reason: o.Reason, Done: o.Done}
	}
	return e
}

// ExecutionEvents implements api.ExecutionQueries: it reads the stream from
// the last event the client has (to check the tenant on it and to know
// whether that one ended the execution) and returns the later ones.
func (a executionsAPI) ExecutionEvents(ctx context.Context, tenantID, id string, after int64) ([]api.ExecutionEvent, bool, error) {
	recorded, err := a.store.ReadStream(ctx, execution.Stream(id), max(after, 0), 0)
	if errors.Is(err, eventstore.ErrStreamNotFound) || (err == nil && (len(recorded) == 0 || recorded[0].Metadata.TenantID != tenantID)) {
		return nil, false, execution.ErrNotFound
	}
	if err != nil {
		return nil, false, fmt.Errorf("read execution %s: %w", id, err)
	}
	var out []api.ExecutionEvent
	for _, rec := range recorded {
		if rec.Version > after {
			out = append(out, api.ExecutionEvent{Version: rec.Version, Type: rec.Type, At: eventAt(rec), Data: rec.Data})
		}
	}
	return out, terminalType(recorded[len(recorded)-1].Type), nil
}

// WakeOnAppend implements api.ExecutionQueries.
func (a executionsAPI) WakeOnAppend(ctx context.Context) <-chan struct{} { return a.store.Wake(ctx) }

func terminalType(t string) bool {
	switch t {
	case execution.TypeCompleted, execution.TypeFailed, execution.TypeCancelled, execution.TypeNeedsAttention:
		return true
	}
	return false
}

func eventAt(rec eventstore.RecordedEvent) time.Time {
	if !rec.Metadata.OccurredAt.IsZero() {
		return rec.Metadata.OccurredAt
	}
	return rec.RecordedAt
}
