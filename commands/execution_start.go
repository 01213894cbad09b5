package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/execution"
	"github.com/apiq/apiq/domain/plan"
)

// StartExecution starts a run of a confirmed plan.
type StartExecution struct {
	PlanID string
	// Version is the confirmed version to run (0: the latest).
	Version int64
	Inputs  map[string]any
}

// ExecutionResult names the execution a command changed and where.
type ExecutionResult struct {
	ExecutionID string
	Status      execution.Status
	Position    eventstore.Position
}

// StartExecutionHandler handles StartExecution.
type StartExecutionHandler = Handler[StartExecution, ExecutionResult]

type startExecutionHandler struct{ d ExecutionDeps }

// NewStartExecutionHandler needs Store, Pool and Plans.
func NewStartExecutionHandler(d ExecutionDeps) (StartExecutionHandler, error) {
	if err := d.require("StartExecution", true); err != nil {
		return nil, err
	}
	d.ConnectionDeps = d.ConnectionDeps.withDefaults()
	return decorate[StartExecution, ExecutionResult]("StartExecution", startExecutionHandler{d}, d.Deps), nil
}

// Handle loads the confirmed plan, checks the inputs, queues the work row
// and appends execution.started. The row comes first: a crash between the
// two leaves a row without a stream, which the engine drops; never a
// stream nobody runs. A retried request starts nothing new.
func (h startExecutionHandler) Handle(ctx context.Context, meta Meta, cmd StartExecution) (ExecutionResult, error) {
	p, version, err := h.d.Plans.Load(ctx, meta.TenantID, cmd.PlanID, cmd.Version)
	if errors.Is(err, domain.ErrNotFound) {
		return ExecutionResult{}, ErrPlanNotConfirmed
	}
	if err != nil {
		return ExecutionResult{}, fmt.Errorf("load plan %s: %w", cmd.PlanID, err)
	}
	inputs, err := checkInputs(p, cmd.Inputs)
	if err != nil {
		return ExecutionResult{}, err
	}
	id := meta.derivedID("execution")
	if err := queueExecution(ctx, h.d.Pool, id, meta.TenantID); err != nil {
		return ExecutionResult{}, err
	}
	cfg := h.d.Config
	started := execution.Started{ExecutionID: id, PlanID: cmd.PlanID, PlanVersion: version, Plan: p, Inputs: inputs,
		StepTimeoutMS: cfg.StepTimeout.Milliseconds(), TimeoutMS: cfg.Timeout.Milliseconds(), MaxAttempts: cfg.MaxAttempts}
	status, pos, err := h.appendStart(ctx, meta, execution.Stream(id), started)
	if err != nil {
		return ExecutionResult{}, err
	}
	if h.d.Signal != nil {
		h.d.Signal()
	}
	return ExecutionResult{ExecutionID: id, Status: status, Position: pos}, nil
}

// appendStart appends execution.started to the new stream in one round
// trip, without reading it first. A retried request appends the same
// event ids, which the store acknowledges without writing (the status
// then says pending although the engine may have moved on); a stream
// holding other events goes the usual way, read then decided.
func (h startExecutionHandler) appendStart(ctx context.Context, meta Meta, stream string, started execution.Started) (execution.Status, eventstore.Position, error) {
	var s execution.State
	events, err := execution.Decide(s, execution.Start{Started: started})
	if err != nil {
		return "", eventstore.Position{}, err
	}
	data, err := encode(meta, stream, events, h.d.Now())
	if err != nil {
		return "", eventstore.Position{}, err
	}
	res, err := h.d.Store.Append(ctx, stream, eventstore.NoStream, data)
	if err == nil {
		for _, ev := range events {
			s = execution.Evolve(s, ev)
		}
		return s.Status, res.Position, nil
	}
	if !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
		return "", eventstore.Position{}, fmt.Errorf("append to %s: %w", stream, err)
	}
	out, err := change(ctx, h.d.Deps, meta, stream, executionAggregate(), func(s execution.State) ([]domain.Event, error) {
		return execution.Decide(s, execution.Start{Started: started})
	})
	if err != nil {
		return "", eventstore.Position{}, err
	}
	return out.State.Status, out.Position, nil
}

// checkInputs fills defaults and refuses missing required inputs and
// undeclared ones.
func checkInputs(p plan.Plan, given map[string]any) (map[string]any, error) {
	out := map[string]any{}
	declared := map[string]bool{}
	for _, in := range p.Inputs {
		declared[in.Name] = true
		v, ok := given[in.Name]
		switch {
		case ok:
			out[in.Name] = v
		case in.Default != nil:
			out[in.Name] = in.Default
		case in.Required:
			return nil, domain.Invalid("inputs."+in.Name, "input_required", "the plan needs the input "+in.Name)
		}
	}
	for name, v := range given {
		if !declared[name] {
			return nil, domain.Invalid("inputs."+name, "unknown_input", "the plan declares no input "+name)
		}
		out[name] = v
	}
	return out, nil
}

// CancelExecution stops an unfinished execution.
type CancelExecution struct {
	ExecutionID string
	Reason      string
}

// CancelExecutionHandler handles CancelExecution.
type CancelExecutionHandler = Handler[CancelExecution, ExecutionResult]

type cancelExecutionHandler struct{ d ExecutionDeps }

// NewCancelExecutionHandler needs Store and Pool.
func NewCancelExecutionHandler(d ExecutionDeps) (CancelExecutionHandler, error) {
	if d.Store == nil {
		return nil, errors.New("CancelExecution: Store is required")
	}
	d.ConnectionDeps = d.ConnectionDeps.withDefaults()
	return decorate[CancelExecution, ExecutionResult]("CancelExecution", cancelExecutionHandler{d}, d.Deps), nil
}

// Handle appends execution.cancelled with the expected version: an engine
// in the middle of a step finds the stream changed, stops, and records
// nothing more; the step's call, if one was in flight, is not undone.
func (h cancelExecutionHandler) Handle(ctx context.Context, meta Meta, cmd CancelExecution) (ExecutionResult, error) {
	if _, err := loadExecution(ctx, h.d.Store, meta.TenantID, cmd.ExecutionID); err != nil {
		return ExecutionResult{}, err
	}
	out, err := change(ctx, h.d.Deps, meta, execution.Stream(cmd.ExecutionID), executionAggregate(), func(s execution.State) ([]domain.Event, error) {
		return execution.Decide(s, execution.Cancel{Reason: cmd.Reason})
	})
	if err != nil {
		return ExecutionResult{}, err
	}
	if h.d.Pool != nil {
		_ = workExec(ctx, h.d.Pool, `UPDATE execution_work SET due_at = now() WHERE execution_id = $1`, cmd.ExecutionID)
	}
	if h.d.Signal != nil {
		h.d.Signal()
	}
	return ExecutionResult{ExecutionID: cmd.ExecutionID, Status: out.State.Status, Position: out.Position}, nil
}
