package commands_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/outbound"
	"github.com/apiq/apiq/adapters/testservers"
	"github.com/apiq/apiq/commands"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/execution"
	"github.com/apiq/apiq/domain/plan"
)

// plansByID serves confirmed plans from memory (the plans' own loader
// stands in for it once wired).
type plansByID struct {
	mu    sync.Mutex
	plans map[string]plan.Plan
}

func (p *plansByID) Load(_ context.Context, _, planID string, _ int64) (plan.Plan, int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pl, ok := p.plans[planID]
	if !ok {
		return plan.Plan{}, 0, domain.ErrNotFound
	}
	return pl, 1, nil
}

type execEnv struct {
	*connEnv
	plans  *plansByID
	start  commands.StartExecutionHandler
	cancel commands.CancelExecutionHandler
	engine *commands.Engine
}

func newExecEnv(t testing.TB, cfg commands.ExecutionConfig, tune ...func(*outbound.Config)) *execEnv {
	t.Helper()
	e := &execEnv{connEnv: newConnEnv(t, loopback, tune...), plans: &plansByID{plans: map[string]plan.Plan{}}}
	d := commands.ExecutionDeps{ConnectionDeps: e.cdeps, Pool: e.pool, Feed: e.store, Plans: e.plans, Config: cfg}
	var err error
	e.engine, err = commands.NewEngine(d)
	require.NoError(t, err)
	d.Signal = e.engine.Signal
	e.start, err = commands.NewStartExecutionHandler(d)
	require.NoError(t, err)
	e.cancel, err = commands.NewCancelExecutionHandler(d)
	require.NoError(t, err)
	return e
}

func (e *execEnv) runEngine(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		assert.NoError(t, e.engine.Run(ctx))
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// waitFor waits until the execution reaches a terminal status.
func (e *execEnv) waitFor(t *testing.T, executionID string) (execution.State, []string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		evs := e.stream(t, execution.Stream(executionID))
		var s execution.State
		var types []string
		for _, rec := range evs {
			ev, ok, err := execution.Decode(rec.Type, rec.Metadata.SchemaVersion, rec.Data)
			require.NoError(t, err)
			require.True(t, ok)
			s = execution.Evolve(s, ev)
			types = append(types, rec.Type)
		}
		if s.Status.Terminal() {
			return s, types
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("execution %s did not finish", executionID)
	return execution.State{}, nil
}

func testExecutionConfig() commands.ExecutionConfig {
	cfg := commands.DefaultExecutionConfig()
	cfg.Poll, cfg.Lease = 50*time.Millisecond, 2*time.Second
	cfg.StepTimeout, cfg.Timeout = 2*time.Second, 20*time.Second
	cfg.RetryBase, cfg.RetryMax = 20*time.Millisecond, 2*time.Second
	return cfg
}

func userTodosPlan(connectionID string) plan.Plan {
	call := func(op string) *plan.Call { return &plan.Call{ConnectionID: connectionID, OperationID: op} }
	mk := call("createUser")
	mk.Body = map[string]any{"name": "${ inputs.name }", "username": "ann", "email": "ann@example.com"}
	todo := call("createTodo")
	todo.Body = map[string]any{"userId": "${ steps.make_user.output.id }", "title": "${ item }", "completed": false}
	list := call("listUserTodos")
	list.Path = map[string]any{"userId": "${ steps.make_user.output.id }"}
	return plan.Plan{
		Inputs: []plan.Input{{Name: "name", Required: true}, {Name: "todos", Required: true}},
		Steps: []plan.Step{
			{ID: "make_user", Kind: plan.KindCall, Call: mk},
			{ID: "each", Kind: plan.KindForeach, Foreach: &plan.Foreach{Items: "inputs.todos", MaxIterations: 5,
				Steps: []plan.Step{{ID: "todo", Kind: plan.KindCall, Call: todo}}}},
			{ID: "todos", Kind: plan.KindCall, Call: list},
			{ID: "count", Kind: plan.KindTransform, Transform: &plan.Transform{Expr: "len(steps.todos.output)"}},
		},
	}
}

func TestEngineRunsAJSONServerFlowPassingDataBetweenSteps(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t, testExecutionConfig())
	js := testservers.StartJSONServer(t, testservers.JSONServerFixture(t))
	acme := e.tenantWithAdmin(t, "acme")
	ctx := within(t, time.Minute)
	conn, err := e.register.Handle(ctx, userOf(acme.TenantID, "reg-js"), commands.RegisterConnection{Name: "todos",
		BaseURL: js.URL, Document: commands.DocumentSource{Text: js.OpenAPIDocument()}})
	require.NoError(t, err)
	e.plans.plans["p1"] = userTodosPlan(conn.ConnectionID)
	e.runEngine(t)

	res, err := e.start.Handle(ctx, userOf(acme.TenantID, "start-1"), commands.StartExecution{PlanID: "p1",
		Inputs: map[string]any{"name": "Ann", "todos": []any{"milk", "eggs", "bread"}}})
	require.NoError(t, err)
	again, err := e.start.Handle(ctx, userOf(acme.TenantID, "start-1"), commands.StartExecution{PlanID: "p1",
		Inputs: map[string]any{"name": "Ann", "todos": []any{"milk", "eggs", "bread"}}})
	require.NoError(t, err)
	assert.Equal(t, res.ExecutionID, again.ExecutionID, "a retried request starts nothing new")

	s, types := e.waitFor(t, res.ExecutionID)
	require.Equal(t, execution.StatusCompleted, s.Status, "%v %+v", types, s.Failure)
	assert.Equal(t, float64(3), s.Steps["count"].Output)
	assert.Equal(t, []string{"make_user", "each[0].todo", "each[1].todo", "each[2].todo", "todos", "count"}, s.Done())
	user := s.Steps["make_user"]
	assert.Equal(t, 201, user.HTTPStatus)
	assert.NotEmpty(t, user.Request.IdempotencyKey, "json-server's document declares Idempotency-Key")
	assert.Contains(t, s.Steps["todos"].Request.URL, fmt.Sprintf("/users/%v/todos", user.Output.(map[string]any)["id"]))
	assert.Len(t, s.Steps["todos"].Output, 3)
}

func TestEngineStartRefusesUnknownPlansAndMissingInputs(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t, testExecutionConfig())
	e.plans.plans["p1"] = userTodosPlan("c1")
	ctx := within(t, time.Minute)
	_, err := e.start.Handle(ctx, userOf("t1", "s1"), commands.StartExecution{PlanID: "nope"})
	assert.ErrorIs(t, err, domain.ErrNotFound)
	_, err = e.start.Handle(ctx, userOf("t1", "s2"), commands.StartExecution{PlanID: "p1", Inputs: map[string]any{"name": "x"}})
	assert.ErrorIs(t, err, domain.ErrInvalid)
}
