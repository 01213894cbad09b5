package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apiq/apiq/domain/execution"
)

// ExecutionView is an execution as the executions view holds it.
type ExecutionView struct {
	ID          string
	TenantID    string
	PlanID      string
	PlanVersion int64
	Status      execution.Status
	Inputs      map[string]any
	// Outcome says how a failed, cancelled or held execution ended.
	Outcome    *ExecutionOutcome
	CreatedAt  time.Time
	UpdatedAt  time.Time
	FinishedAt *time.Time
	// Version is the execution stream's version the row reflects.
	Version int64
	// Steps are filled by GetExecution only, in the order they began.
	Steps []ExecutionStepView
}

// ExecutionStepView is one step key of an execution (a step, or one
// iteration of a step inside a foreach).
type ExecutionStepView struct {
	Key        string
	StepID     string
	Kind       string
	Status     execution.StepStatus
	Attempts   int
	HTTPStatus int
	DurationMS int64
	// Request is the call as sent, secrets masked; Response the stored
	// answer with its body capped.
	Request  *execution.Request
	Response *execution.Response
	Error    string
	RetryAt  *time.Time
}

// Executions page sizes.
const (
	DefaultExecutionsPageSize = 50
	MaxExecutionsPageSize     = 200
)

// ListExecutionsOptions filters and pages executions: by status, by plan,
// started at or after Since and before Until; up to Limit after the cursor
// After (a previous page's Next).
type ListExecutionsOptions struct {
	Status execution.Status
	PlanID string
	Since  time.Time
	Until  time.Time
	Limit  int
	After  string
}

// ExecutionsPage is one page of executions, newest first; Next is the
// cursor of the following page, empty on the last one.
type ExecutionsPage struct {
	Executions []ExecutionView
	Next       string
}

func executionsTable() string { return SchemaName(&ExecutionsProjector{}) + ".executions" }

func executionStepsTable() string { return SchemaName(&ExecutionsProjector{}) + ".execution_steps" }

const executionColumns = `id, tenant_id, plan_id, plan_version, status, inputs, outcome, created_at, updated_at,
	finished_at, last_version`

func scanExecution(row pgx.Row) (ExecutionView, error) {
	var v ExecutionView
	var status string
	var inputs, outcome []byte
	if err := row.Scan(&v.ID, &v.TenantID, &v.PlanID, &v.PlanVersion, &status, &inputs, &outcome, &v.CreatedAt,
		&v.UpdatedAt, &v.FinishedAt, &v.Version); err != nil {
		return ExecutionView{}, err
	}
	v.Status = execution.Status(status)
	if err := json.Unmarshal(inputs, &v.Inputs); err != nil {
		return ExecutionView{}, fmt.Errorf("decode inputs: %w", err)
	}
	if outcome != nil {
		v.Outcome = &ExecutionOutcome{}
		if err := json.Unmarshal(outcome, v.Outcome); err != nil {
			return ExecutionView{}, fmt.Errorf("decode outcome: %w", err)
		}
	}
	return v, nil
}

// GetExecution returns a tenant's execution with its steps; another
// tenant's is execution.ErrNotFound.
func GetExecution(ctx context.Context, db QueryDB, tenantID, executionID string) (ExecutionView, error) {
	v, err := scanExecution(db.QueryRow(ctx, `SELECT `+executionColumns+` FROM `+executionsTable()+`
		WHERE tenant_id = $1 AND id = $2`, tenantID, executionID))
	if errors.Is(err, pgx.ErrNoRows) {
		return ExecutionView{}, execution.ErrNotFound
	}
	if err != nil {
		return ExecutionView{}, fmt.Errorf("get execution %s: %w", executionID, err)
	}
	rows, err := db.Query(ctx, `SELECT key, step_id, kind, status, attempts, http_status, duration_ms, request,
		response, error, retry_at FROM `+executionStepsTable()+` WHERE execution_id = $1 ORDER BY ord`, executionID)
	if err != nil {
		return ExecutionView{}, fmt.Errorf("get execution %s steps: %w", executionID, err)
	}
	v.Steps, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ExecutionStepView, error) {
		var s ExecutionStepView
		var status string
		var request, response []byte
		if err := r.Scan(&s.Key, &s.StepID, &s.Kind, &status, &s.Attempts, &s.HTTPStatus, &s.DurationMS, &request,
			&response, &s.Error, &s.RetryAt); err != nil {
			return s, err
		}
		s.Status = execution.StepStatus(status)
		if request != nil {
			s.Request = &execution.Request{}
			if err := json.Unmarshal(request, s.Request); err != nil {
				return s, fmt.Errorf("decode request of %s: %w", s.Key, err)
			}
		}
		if response != nil {
			s.Response = &execution.Response{}
			if err := json.Unmarshal(response, s.Response); err != nil {
				return s, fmt.Errorf("decode response of %s: %w", s.Key, err)
			}
		}
		return s, nil
	})
	if err != nil {
		return ExecutionView{}, fmt.Errorf("get execution %s steps: %w", executionID, err)
	}
	return v, nil
}

// ListExecutions returns a page of the tenant's executions, newest first
// (keyset pagination on the start time and id: stable while executions
// are added).
func ListExecutions(ctx context.Context, db QueryDB, tenantID string, opts ListExecutionsOptions) (ExecutionsPage, error) {
	limit := opts.Limit
	if limit <= 0 {
		limit = DefaultExecutionsPageSize
	}
	limit = min(limit, MaxExecutionsPageSize)
	afterTime, afterID, err := decodeCursor(opts.After)
	if err != nil {
		return ExecutionsPage{}, err
	}
	var since, until, after *time.Time
	if !opts.Since.IsZero() {
		since = &opts.Since
	}
	if !opts.Until.IsZero() {
		until = &opts.Until
	}
	if opts.After != "" {
		after = &afterTime
	}
	rows, err := db.Query(ctx, `SELECT `+executionColumns+` FROM `+executionsTable()+`
		WHERE tenant_id = $1
		  AND ($2 = '' OR status = $2) AND ($3 = '' OR plan_id = $3)
		  AND ($4::timestamptz IS NULL OR created_at >= $4) AND ($5::timestamptz IS NULL OR created_at < $5)
		  AND ($6::timestamptz IS NULL OR (created_at, id) < ($6, $7))
		ORDER BY created_at DESC, id DESC LIMIT $8`,
		tenantID, string(opts.Status), opts.PlanID, since, until, after, afterID, limit+1)
	if err != nil {
		return ExecutionsPage{}, fmt.Errorf("list executions: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ExecutionView, error) { return scanExecution(r) })
	if err != nil {
		return ExecutionsPage{}, fmt.Errorf("list executions: %w", err)
	}
	page := ExecutionsPage{Executions: list}
	if len(list) > limit {
		page.Executions = list[:limit]
		last := page.Executions[limit-1]
		page.Next = encodeCursor(last.CreatedAt, last.ID)
	}
	return page, nil
}
