package commands_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/testservers"
	"github.com/apiq/apiq/commands"
	"github.com/apiq/apiq/domain/execution"
	"github.com/apiq/apiq/domain/plan"
)

// TestEngineKeepsARunWhoseLeaseLapsedInTheSameProcess lets the lease of an
// execution lapse while its non-repeatable create is in flight (a process
// stalled past a renewal) and makes the engine claim again: the run under
// way keeps the execution and completes it, instead of a second run
// finding the create in flight and holding the execution for attention.
func TestEngineKeepsARunWhoseLeaseLapsedInTheSameProcess(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t, testExecutionConfig())
	js := testservers.StartJSONServer(t, testservers.JSONServerFixture(t),
		testservers.JSONServerWithoutIdempotencyKeyParameter(), testservers.JSONServerDelay(time.Second))
	acme, before := planOneCreate(t, e, js, "once")
	ctx := within(t, time.Minute)
	e.runEngine(t)

	res, err := e.start.Handle(ctx, userOf(acme.TenantID, "start-1"), commands.StartExecution{PlanID: "p1"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		for _, rec := range e.stream(t, execution.Stream(res.ExecutionID)) {
			if rec.Type == execution.TypeStepStarted {
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, "the create is in flight")
	tag, err := e.pool.Exec(ctx, `UPDATE execution_work SET lease_until = now() - interval '1 second' WHERE execution_id = $1`, res.ExecutionID)
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected())
	e.engine.Signal()

	s, types := e.waitFor(t, res.ExecutionID)
	require.Equal(t, execution.StatusCompleted, s.Status, "%v %+v", types, s.Failure)
	assert.Equal(t, 1, s.Steps["create"].Attempts)
	assert.Empty(t, s.Steps["create"].Request.IdempotencyKey, "the document declares no key")
	assert.Len(t, js.Records(t, "todos"), before+1, "created once")
}

// TestEngineRetriesAKeyStillInProgress sends a create with an
// Idempotency-Key to a json-server that honours it and takes longer than
// the step timeout: the retry with the same key meets 409 while the first
// request is still being handled, tries again later and gets the first
// result replayed. The execution completes with one create.
func TestEngineRetriesAKeyStillInProgress(t *testing.T) {
	t.Parallel()
	cfg := testExecutionConfig()
	cfg.StepTimeout, cfg.RetryBase, cfg.MaxAttempts = 300*time.Millisecond, 200*time.Millisecond, 8
	e := newExecEnv(t, cfg)
	js := testservers.StartJSONServer(t, testservers.JSONServerFixture(t),
		testservers.JSONServerIdempotency(), testservers.JSONServerDelay(time.Second))
	acme, before := planOneCreate(t, e, js, "slow")
	ctx := within(t, time.Minute)
	e.runEngine(t)

	res, err := e.start.Handle(ctx, userOf(acme.TenantID, "start-1"), commands.StartExecution{PlanID: "p1"})
	require.NoError(t, err)
	s, types := e.waitFor(t, res.ExecutionID)
	require.Equal(t, execution.StatusCompleted, s.Status, "%v %+v", types, s.Failure)
	st := s.Steps["create"]
	assert.NotEmpty(t, st.Request.IdempotencyKey)
	assert.Equal(t, 201, st.HTTPStatus)
	assert.GreaterOrEqual(t, st.Attempts, 3, "a timeout, at least one 409, then the replay")
	assert.Equal(t, "true", http.Header(st.Response.Header).Get("Idempotent-Replayed"), "the first request's result")
	assert.Len(t, js.Records(t, "todos"), before+1, "created once")
	assert.Contains(t, js.Output(), "POST /todos 409")
}

// planOneCreate registers js as a connection of a new tenant and makes plan
// p1 one create of a todo titled title; it returns the tenant and how many
// todos json-server held before.
func planOneCreate(t *testing.T, e *execEnv, js *testservers.JSONServer, title string) (commands.CreateTenantResult, int) {
	t.Helper()
	acme := e.tenantWithAdmin(t, "acme")
	conn, err := e.register.Handle(within(t, time.Minute), userOf(acme.TenantID, "reg-js"), commands.RegisterConnection{Name: "todos",
		BaseURL: js.URL, Document: commands.DocumentSource{Text: js.OpenAPIDocument()}})
	require.NoError(t, err)
	create := &plan.Call{ConnectionID: conn.ConnectionID, OperationID: "createTodo",
		Body: map[string]any{"userId": 1, "title": title, "completed": false}}
	e.plans.plans["p1"] = plan.Plan{Steps: []plan.Step{{ID: "create", Kind: plan.KindCall, Call: create}}}
	return acme, len(js.Records(t, "todos"))
}
