package projections

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/domain/execution"
)

// ExecutionsProjector builds the executions view: one row per execution
// (status, plan, times, why it ended) and one row per step key (status,
// attempts, HTTP status, duration, the request as sent with its secrets
// already masked by the engine, and the stored, capped response).
type ExecutionsProjector struct{}

var _ Projector = (*ExecutionsProjector)(nil)

// NewExecutionsProjector returns the executions projector.
func NewExecutionsProjector() *ExecutionsProjector { return &ExecutionsProjector{} }

// Name implements Projector.
func (*ExecutionsProjector) Name() string { return "executions" }

// Version implements Projector.
func (*ExecutionsProjector) Version() int { return 1 }

// Schema implements Projector.
func (*ExecutionsProjector) Schema() string {
	return `
CREATE TABLE IF NOT EXISTS executions (
    id            text        PRIMARY KEY,
    tenant_id     text        NOT NULL,
    plan_id       text        NOT NULL,
    plan_version  bigint      NOT NULL,
    status        text        NOT NULL,
    inputs        jsonb       NOT NULL DEFAULT '{}',
    outcome       jsonb,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    finished_at   timestamptz,
    last_version  bigint      NOT NULL
);
CREATE INDEX IF NOT EXISTS executions_tenant_created ON executions (tenant_id, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS executions_tenant_plan ON executions (tenant_id, plan_id, created_at DESC, id DESC);
CREATE TABLE IF NOT EXISTS execution_steps (
    execution_id  text        NOT NULL,
    key           text        NOT NULL,
    ord           bigint      NOT NULL,
    step_id       text        NOT NULL DEFAULT '',
    kind          text        NOT NULL DEFAULT '',
    status        text        NOT NULL,
    attempts      integer     NOT NULL DEFAULT 0,
    http_status   integer     NOT NULL DEFAULT 0,
    duration_ms   bigint      NOT NULL DEFAULT 0,
    request       jsonb,
    response      jsonb,
    error         text        NOT NULL DEFAULT '',
    retry_at      timestamptz,
    last_version  bigint      NOT NULL,
    PRIMARY KEY (execution_id, key)
);`
}

// stepUpsert writes a step's row for the event at version v: the first
// event of a key creates it (ord = v keeps the order steps appeared in);
// later ones change only the columns given, once.
const stepUpsert = `
INSERT INTO execution_steps (execution_id, key, ord, step_id, kind, status, attempts, http_status, duration_ms,
    request, response, error, retry_at, last_version)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $3)
ON CONFLICT (execution_id, key) DO UPDATE SET
    step_id = CASE WHEN excluded.step_id <> '' THEN excluded.step_id ELSE execution_steps.step_id END,
    kind = CASE WHEN excluded.kind <> '' THEN excluded.kind ELSE execution_steps.kind END,
    status = excluded.status,
    attempts = CASE WHEN excluded.attempts > 0 THEN excluded.attempts ELSE execution_steps.attempts END,
    http_status = excluded.http_status,
    duration_ms = excluded.duration_ms,
    request = coalesce(excluded.request, execution_steps.request),
    response = excluded.response,
    error = excluded.error,
    retry_at = excluded.retry_at,
    last_version = excluded.last_version
WHERE execution_steps.last_version < excluded.last_version`

// stepRow is one step event's columns.
type stepRow struct {
	key, stepID, kind, status string
	attempts, httpStatus      int
	durationMS                int64
	request, response         any
	errText                   string
	retryAt                   any
}

// Apply implements Projector.
func (*ExecutionsProjector) Apply(ctx context.Context, db DB, ev eventstore.RecordedEvent) error {
	decoded, ok, err := execution.Decode(ev.Type, ev.Metadata.SchemaVersion, ev.Data)
	if err != nil || !ok {
		return err
	}
	id := execution.IDFromStream(ev.StreamID)
	at := eventTime(ev)
	// status moves the execution's row to status; ended also records the
	// outcome and the end time.
	status := func(s execution.Status, outcome any) error {
		var doc []byte
		if outcome != nil {
			if doc, err = json.Marshal(outcome); err != nil {
				return fmt.Errorf("encode outcome: %w", err)
			}
		}
		return db.Exec(ctx, `UPDATE executions SET status = $4, updated_at = $3, last_version = $2,
			outcome = coalesce($5, outcome), finished_at = CASE WHEN $6 THEN $3 ELSE finished_at END
			WHERE id = $1 AND last_version < $2`, id, ev.Version, at, string(s), doc, s.Terminal())
	}
	step := func(r stepRow) error {
		request, err := jsonOrNil(r.request)
		if err != nil {
			return err
		}
		response, err := jsonOrNil(r.response)
		if err != nil {
			return err
		}
		return db.Exec(ctx, stepUpsert, id, r.key, ev.Version, r.stepID, r.kind, r.status, r.attempts, r.httpStatus,
			r.durationMS, request, response, r.errText, r.retryAt)
	}
	switch e := decoded.(type) {
	case execution.Started:
		inputs, merr := json.Marshal(nonNilMap(e.Inputs))
		if merr != nil {
			return fmt.Errorf("executions: encode inputs: %w", merr)
		}
		err = db.Exec(ctx, `
			INSERT INTO executions (id, tenant_id, plan_id, plan_version, status, inputs, created_at, updated_at, last_version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)
			ON CONFLICT (id) DO NOTHING`,
			id, ev.Metadata.TenantID, e.PlanID, e.PlanVersion, string(execution.StatusPending), inputs, at, ev.Version)
	case execution.StepStarted:
		err = step(stepRow{key: e.Key, stepID: e.StepID, kind: string(e.Kind), status: string(execution.StepStatusRunning),
			attempts: e.Attempt, request: e.Request})
		if err == nil {
			err = db.Exec(ctx, `UPDATE executions SET status = $3, updated_at = $4
				WHERE id = $1 AND last_version < $2 AND status = 'pending'`, id, ev.Version, string(execution.StatusRunning), at)
		}
	case execution.StepSucceeded:
		err = step(stepRow{key: e.Key, status: string(execution.StepStatusSucceeded), attempts: e.Attempt,
			httpStatus: e.Status, durationMS: e.DurationMS, response: e.Response})
	case execution.StepFailed:
		err = step(stepRow{key: e.Key, status: string(execution.StepStatusFailed), attempts: e.Attempt,
			httpStatus: e.Status, durationMS: e.DurationMS, response: e.Response, errText: e.Reason})
	case execution.StepRetryScheduled:
		err = step(stepRow{key: e.Key, status: string(execution.StepStatusRetryScheduled), attempts: e.Attempt,
			httpStatus: e.Status, durationMS: e.DurationMS, response: e.Response, errText: e.Reason, retryAt: e.RetryAt})
	case execution.StepSkipped:
		err = step(stepRow{key: e.Key, stepID: e.StepID, status: string(execution.StepStatusSkipped), errText: e.Reason})
	case execution.Completed:
		err = status(execution.StatusCompleted, nil)
	case execution.Failed:
		err = status(execution.StatusFailed, ExecutionOutcome{Step: e.Key, Reason: e.Reason, Done: e.Done})
	case execution.Cancelled:
		err = status(execution.StatusCancelled, ExecutionOutcome{Reason: e.Reason})
	case execution.NeedsAttention:
		err = db.Exec(ctx, `UPDATE execution_steps SET status = $3, error = $4, last_version = $5
			WHERE execution_id = $1 AND key = $2 AND last_version < $5`,
			id, e.Key, string(execution.StepStatusUnknown), e.Reason, ev.Version)
		if err == nil {
			err = status(execution.StatusNeedsAttention, ExecutionOutcome{Step: e.Key, Reason: e.Reason, Done: e.Done})
		}
	}
	if err != nil {
		return fmt.Errorf("executions: apply %s of %s: %w", ev.Type, id, err)
	}
	if _, isStatus := decoded.(execution.Started); !isStatus {
		// Step events move the row's version too, so a replay is recognised.
		if err := db.Exec(ctx, `UPDATE executions SET last_version = $2, updated_at = $3
			WHERE id = $1 AND last_version < $2`, id, ev.Version, at); err != nil {
			return fmt.Errorf("executions: apply %s of %s: %w", ev.Type, id, err)
		}
	}
	return nil
}

// ExecutionOutcome explains how an execution ended: the step at fault
// (failed or held for attention), why, and the steps that had succeeded.
type ExecutionOutcome struct {
	Step   string   `json:"step,omitempty"`
	Reason string   `json:"reason,omitempty"`
	Done   []string `json:"done,omitempty"`
}

func jsonOrNil(v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case *execution.Request:
		if x == nil {
			return nil, nil
		}
	case *execution.Response:
		if x == nil {
			return nil, nil
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("executions: encode step: %w", err)
	}
	return b, nil
}

func nonNilMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
