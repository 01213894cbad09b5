package projections_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/execution"
	"github.com/apiq/apiq/domain/plan"
	"github.com/apiq/apiq/projections"
)

func executionEvents(t *testing.T, f *idnFixture, tenantID, id string, from int64, events ...domain.Event) []eventstore.RecordedEvent {
	t.Helper()
	out := make([]eventstore.RecordedEvent, len(events))
	for i, ev := range events {
		out[i] = f.event(t, tenantID, execution.Stream(id), from+int64(i), ev)
	}
	return out
}

func started(id, planID string) execution.Started {
	return execution.Started{ExecutionID: id, PlanID: planID, PlanVersion: 2, Inputs: map[string]any{"name": "Ann"},
		Plan: plan.Plan{Steps: []plan.Step{{ID: "s", Kind: plan.KindTransform, Transform: &plan.Transform{Expr: "1"}}}}}
}

func TestExecutionsProjectorFoldsStepsAndOutcomes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newIdnFixture(t)
	p := projections.NewExecutionsProjector()
	req := &execution.Request{Method: "POST", URL: "https://api.example/users", Header: map[string][]string{"Authorization": {"••••"}},
		Body: `{"name":"Ann"}`, IdempotencyKey: "k1", IdempotencyHeader: "Idempotency-Key"}
	retryAt := f.base.Add(time.Hour)
	events := executionEvents(t, f, "t1", "e1", 0,
		started("e1", "p1"),
		execution.StepStarted{Key: "make", StepID: "make", Kind: plan.KindCall, Attempt: 1, Request: req, Repeatable: true},
		execution.StepRetryScheduled{Key: "make", Attempt: 1, Status: 503, DurationMS: 7, Reason: "HTTP 503", WaitMS: 10, RetryAt: retryAt},
		execution.StepStarted{Key: "make", StepID: "make", Kind: plan.KindCall, Attempt: 2, Request: req, Repeatable: true},
		execution.StepSucceeded{Key: "make", Attempt: 2, Status: 201, DurationMS: 12,
			Response: &execution.Response{Status: 201, Body: `{"id":7}`, BodyBytes: 8, BodySHA256: "abc"}},
		execution.StepSkipped{Key: "maybe", StepID: "maybe", Reason: "the condition is false"},
		execution.StepStarted{Key: "each[0].todo", StepID: "todo", Kind: plan.KindCall, Attempt: 1, Request: req},
		execution.NeedsAttention{Key: "each[0].todo", Reason: "outcome unknown", Done: []string{"make"}},
	)
	f.apply(t, p, events...)
	f.apply(t, p, events...) // replays change nothing

	got, err := projections.GetExecution(ctx, f.pool, "t1", "e1")
	require.NoError(t, err)
	assert.Equal(t, execution.StatusNeedsAttention, got.Status)
	assert.Equal(t, "p1", got.PlanID)
	assert.Equal(t, int64(2), got.PlanVersion)
	assert.Equal(t, map[string]any{"name": "Ann"}, got.Inputs)
	assert.Equal(t, &projections.ExecutionOutcome{Step: "each[0].todo", Reason: "outcome unknown", Done: []string{"make"}}, got.Outcome)
	assert.Equal(t, int64(7), got.Version)
	require.NotNil(t, got.FinishedAt)
	require.Len(t, got.Steps, 3)
	make1, skipped, todo := got.Steps[0], got.Steps[1], got.Steps[2]
	assert.Equal(t, "make", make1.Key)
	assert.Equal(t, execution.StepStatusSucceeded, make1.Status)
	assert.Equal(t, 2, make1.Attempts)
	assert.Equal(t, 201, make1.HTTPStatus)
	assert.Equal(t, int64(12), make1.DurationMS)
	assert.Empty(t, make1.Error, "the retry's reason is gone once the step succeeded")
	assert.Nil(t, make1.RetryAt)
	assert.Equal(t, req, make1.Request)
	assert.Equal(t, `{"id":7}`, make1.Response.Body)
	assert.Equal(t, "maybe", skipped.Key)
	assert.Equal(t, execution.StepStatusSkipped, skipped.Status)
	assert.Equal(t, "the condition is false", skipped.Error)
	assert.Equal(t, execution.StepStatusUnknown, todo.Status)
	assert.Equal(t, "todo", todo.StepID)
	assert.Equal(t, "outcome unknown", todo.Error)

	_, err = projections.GetExecution(ctx, f.pool, "t2", "e1")
	assert.ErrorIs(t, err, execution.ErrNotFound, "another tenant's execution is not found")
}

func TestListExecutionsFiltersAndPages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newIdnFixture(t)
	p := projections.NewExecutionsProjector()
	// e1..e4 start a minute apart (the fixture dates events by version, so
	// each stream's first event is shifted by its index).
	ids := []string{"e1", "e2", "e3", "e4"}
	for i, id := range ids {
		planID := "pa"
		if i%2 == 1 {
			planID = "pb"
		}
		ev := f.event(t, "t1", execution.Stream(id), 0, started(id, planID))
		ev.Metadata.OccurredAt = f.base.Add(time.Duration(i) * time.Minute)
		f.apply(t, p, ev)
	}
	f.apply(t, p, executionEvents(t, f, "t1", "e2", 1, execution.Failed{Key: "s", Reason: "boom", Done: []string{}})...)
	f.apply(t, p, executionEvents(t, f, "t1", "e3", 1, execution.Cancelled{Reason: "stop"})...)
	f.apply(t, p, f.event(t, "t2", execution.Stream("x1"), 0, started("x1", "pa")))

	list := func(opts projections.ListExecutionsOptions) []string {
		t.Helper()
		page, err := projections.ListExecutions(ctx, f.pool, "t1", opts)
		require.NoError(t, err)
		var out []string
		for _, e := range page.Executions {
			out = append(out, e.ID)
		}
		return out
	}
	assert.Equal(t, []string{"e4", "e3", "e2", "e1"}, list(projections.ListExecutionsOptions{}), "newest first, own tenant only")
	assert.Equal(t, []string{"e2"}, list(projections.ListExecutionsOptions{Status: execution.StatusFailed}))
	assert.Equal(t, []string{"e3", "e1"}, list(projections.ListExecutionsOptions{PlanID: "pa"}))
	assert.Equal(t, []string{"e3", "e2"}, list(projections.ListExecutionsOptions{Since: f.base.Add(time.Minute), Until: f.base.Add(3 * time.Minute)}))

	var walked []string
	opts := projections.ListExecutionsOptions{Limit: 3}
	for range 3 {
		page, err := projections.ListExecutions(ctx, f.pool, "t1", opts)
		require.NoError(t, err)
		for _, e := range page.Executions {
			walked = append(walked, e.ID)
		}
		if page.Next == "" {
			break
		}
		opts.After = page.Next
	}
	assert.Equal(t, []string{"e4", "e3", "e2", "e1"}, walked, "keyset pages cover every execution once")
	_, err := projections.ListExecutions(ctx, f.pool, "t1", projections.ListExecutionsOptions{After: "not-a-cursor"})
	assert.ErrorIs(t, err, domain.ErrInvalid)
}
