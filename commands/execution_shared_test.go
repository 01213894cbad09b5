package commands_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/testservers"
	"github.com/apiq/apiq/commands"
	"github.com/apiq/apiq/domain/execution"
	"github.com/apiq/apiq/domain/plan"
)

// errCrashed is what a crashed engine's store answers.
var errCrashed = errors.New("engine process crashed")

// engineStore is one engine's view of the shared event store: it records
// which execution streams this engine appended to, and once crashed it
// refuses every append (a dead process writes nothing more).
type engineStore struct {
	commands.EventStore
	mu      sync.Mutex
	streams map[string]time.Time // stream -> first successful append
	crashed atomic.Bool
}

func (s *engineStore) Append(ctx context.Context, stream string, expected int64, events []eventstore.EventData) (eventstore.AppendResult, error) {
	if s.crashed.Load() {
		return eventstore.AppendResult{}, errCrashed
	}
	res, err := s.EventStore.Append(ctx, stream, expected, events)
	if err == nil {
		s.mu.Lock()
		if _, ok := s.streams[stream]; !ok {
			s.streams[stream] = time.Now()
		}
		s.mu.Unlock()
	}
	return res, err
}

// appended returns the streams this engine appended to, with the time of its first append.
func (s *engineStore) appended() map[string]time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]time.Time, len(s.streams))
	for k, v := range s.streams {
		out[k] = v
	}
	return out
}

// sharedEngine is one apiq serve process's engine: its own pool on the
// shared database, its own owner name and its own view of the store.
type sharedEngine struct {
	engine *commands.Engine
	store  *engineStore
	pool   *pgxpool.Pool
	cancel context.CancelFunc
	done   chan struct{}
}

// newSharedEngine makes an engine named owner over e's database.
func (e *execEnv) newSharedEngine(t *testing.T, cfg commands.ExecutionConfig, owner string) *sharedEngine {
	t.Helper()
	pool, err := pgxpool.NewWithConfig(context.Background(), e.pool.Config())
	require.NoError(t, err)
	store := &engineStore{EventStore: e.cdeps.Store, streams: map[string]time.Time{}}
	cdeps := e.cdeps
	cdeps.Store = store
	cfg.Owner = owner
	engine, err := commands.NewEngine(commands.ExecutionDeps{ConnectionDeps: cdeps, Pool: pool, Feed: e.store,
		Plans: e.plans, Config: cfg})
	require.NoError(t, err)
	require.Equal(t, owner, engine.Owner())
	s := &sharedEngine{engine: engine, store: store, pool: pool, done: make(chan struct{})}
	t.Cleanup(func() {
		s.stop()
		pool.Close()
	})
	return s
}

// start runs the engine until stop or crash.
func (s *sharedEngine) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() {
		defer close(s.done)
		assert.NoError(t, s.engine.Run(ctx))
	}()
}

// stop ends the engine in order (its runs release their leases).
func (s *sharedEngine) stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	<-s.done
}

// crash ends the engine as a killed process would: it appends nothing
// more and its work-table connections are gone, so the leases it holds
// are neither renewed nor released and lapse after Lease.
func (s *sharedEngine) crash() {
	s.store.crashed.Store(true)
	s.pool.Close()
	s.stop()
}

// startHandler starts executions and signals every engine.
func (e *execEnv) startHandler(t *testing.T, cfg commands.ExecutionConfig, engines ...*sharedEngine) commands.StartExecutionHandler {
	t.Helper()
	h, err := commands.NewStartExecutionHandler(commands.ExecutionDeps{ConnectionDeps: e.cdeps, Pool: e.pool,
		Feed: e.store, Plans: e.plans, Config: cfg, Signal: func() {
			for _, s := range engines {
				s.engine.Signal()
			}
		}})
	require.NoError(t, err)
	return h
}

// stepCounts counts the step_started and step_succeeded events of each step key.
func (e *execEnv) stepCounts(t *testing.T, executionID string) (started, succeeded map[string]int) {
	t.Helper()
	started, succeeded = map[string]int{}, map[string]int{}
	for _, rec := range e.stream(t, execution.Stream(executionID)) {
		ev, ok, err := execution.Decode(rec.Type, rec.Metadata.SchemaVersion, rec.Data)
		require.NoError(t, err)
		require.True(t, ok)
		switch ev := ev.(type) {
		case execution.StepStarted:
			started[ev.Key]++
		case execution.StepSucceeded:
			succeeded[ev.Key]++
		}
	}
	return started, succeeded
}

// taggedTodoPlan creates a todo titled with the execution's tag, reads it
// back, checks the title and creates a second todo from it.
func taggedTodoPlan(connectionID string) plan.Plan {
	create := &plan.Call{ConnectionID: connectionID, OperationID: "createTodo",
		Body: map[string]any{"userId": 1, "title": "${ inputs.tag }", "completed": false}}
	fetch := &plan.Call{ConnectionID: connectionID, OperationID: "getTodo",
		Path: map[string]any{"id": "${ steps.create.output.id }"}}
	again := &plan.Call{ConnectionID: connectionID, OperationID: "createTodo",
		Body: map[string]any{"userId": 2, "title": "${ steps.title.output + '/again' }", "completed": true}}
	return plan.Plan{
		Inputs: []plan.Input{{Name: "tag", Required: true}},
		Steps: []plan.Step{
			{ID: "create", Kind: plan.KindCall, Call: create},
			{ID: "fetch", Kind: plan.KindCall, Call: fetch},
			{ID: "title", Kind: plan.KindTransform, Transform: &plan.Transform{Expr: "steps.fetch.output.title"}},
			{ID: "again", Kind: plan.KindCall, Call: again},
		},
	}
}

var taggedTodoSteps = []string{"create", "fetch", "title", "again"}

// titleCounts counts json-server's todos by title.
func titleCounts(t *testing.T, js *testservers.JSONServer) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, rec := range js.Records(t, "todos") {
		if title, ok := rec["title"].(string); ok {
			out[title]++
		}
	}
	return out
}

// TestEnginesShareExecutions runs three engines (three apiq serve
// processes, each with its own pool and owner) on one database over 32 executions
// whose creates may not be repeated: every execution completes, each step
// starts and succeeds once, json-server holds each create once, and both
// engines ran part of the executions.
func TestEnginesShareExecutions(t *testing.T) {
	t.Parallel()
	cfg := testExecutionConfig()
	cfg.Concurrency = 4
	e := newExecEnv(t, cfg)
	js := testservers.StartJSONServer(t, testservers.JSONServerFixture(t),
		testservers.JSONServerWithoutIdempotencyKeyParameter(), testservers.JSONServerDelay(20*time.Millisecond))
	acme := e.tenantWithAdmin(t, "acme")
	ctx := within(t, 2*time.Minute)
	conn, err := e.register.Handle(ctx, userOf(acme.TenantID, "reg-js"), commands.RegisterConnection{Name: "todos",
		BaseURL: js.URL, Document: commands.DocumentSource{Text: js.OpenAPIDocument()}})
	require.NoError(t, err)
	e.plans.plans["p1"] = taggedTodoPlan(conn.ConnectionID)
	engines := []*sharedEngine{
		e.newSharedEngine(t, cfg, "engine-a"), e.newSharedEngine(t, cfg, "engine-b"), e.newSharedEngine(t, cfg, "engine-c"),
	}
	start := e.startHandler(t, cfg, engines...)
	for _, s := range engines {
		s.start(t)
	}

	const n = 32
	ids := startTagged(t, ctx, start, acme.TenantID, "shared", n)

	for i, id := range ids {
		s, types := e.waitFor(t, id)
		require.Equal(t, execution.StatusCompleted, s.Status, "%d: %v %+v", i, types, s.Failure)
		assert.Equal(t, fmt.Sprintf("shared-%d", i), s.Steps["title"].Output)
		started, succeeded := e.stepCounts(t, id)
		for _, step := range taggedTodoSteps {
			assert.Equal(t, 1, started[step], "%d: %s started once: %v", i, step, types)
			assert.Equal(t, 1, succeeded[step], "%d: %s succeeded once: %v", i, step, types)
		}
		assert.False(t, s.Steps["create"].Request != nil && s.Steps["create"].Request.IdempotencyKey != "",
			"the document declares no key: the create may not be repeated")
	}
	titles := titleCounts(t, js)
	for i := range ids {
		tag := fmt.Sprintf("shared-%d", i)
		assert.Equal(t, 1, titles[tag], "%s created once", tag)
		assert.Equal(t, 1, titles[tag+"/again"], "%s/again created once", tag)
	}

	// Who ran what: each execution's events were appended by one engine
	// (no takeover here), and every engine took part.
	ran := make([]int, len(engines))
	for i, id := range ids {
		var by []int
		for k, s := range engines {
			if _, ok := s.store.appended()[execution.Stream(id)]; ok {
				by = append(by, k)
				ran[k]++
			}
		}
		assert.Len(t, by, 1, "%d: appended by exactly one engine", i)
	}
	t.Logf("executions run by engine-a, -b, -c: %v", ran)
	for k, c := range ran {
		assert.Positive(t, c, "engine %d did part of the work", k)
	}
	var left int
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM execution_work`).Scan(&left))
	assert.Zero(t, left, "every work row finished")
}

// TestEngineTakesOverACrashedEnginesExecutions crashes an engine while its
// executions run (no append, no renewal, no release after the crash) and
// leaves their leases to lapse: a second engine takes them over only once
// each lease has expired and completes them without repeating a step that
// had completed; json-server, honouring the Idempotency-Key, holds each
// create once.
func TestEngineTakesOverACrashedEnginesExecutions(t *testing.T) {
	t.Parallel()
	cfg := testExecutionConfig()
	cfg.Lease, cfg.Concurrency = time.Second, 16
	cfg.StepTimeout, cfg.MaxAttempts, cfg.RetryBase = 2*time.Second, 8, 100*time.Millisecond
	e := newExecEnv(t, cfg)
	js := testservers.StartJSONServer(t, testservers.JSONServerFixture(t),
		testservers.JSONServerIdempotency(), testservers.JSONServerDelay(300*time.Millisecond))
	acme := e.tenantWithAdmin(t, "acme")
	ctx := within(t, 2*time.Minute)
	conn, err := e.register.Handle(ctx, userOf(acme.TenantID, "reg-js"), commands.RegisterConnection{Name: "todos",
		BaseURL: js.URL, Document: commands.DocumentSource{Text: js.OpenAPIDocument()}})
	require.NoError(t, err)
	e.plans.plans["p1"] = taggedTodoPlan(conn.ConnectionID)
	a := e.newSharedEngine(t, cfg, "engine-a")
	b := e.newSharedEngine(t, cfg, "engine-b")
	start := e.startHandler(t, cfg, a, b)
	a.start(t)

	const n = 12
	ids := startTagged(t, ctx, start, acme.TenantID, "takeover", n)
	// Crash engine-a once half of its executions have a step durably done.
	require.Eventually(t, func() bool {
		var done int
		for _, id := range ids {
			if _, succeeded := e.stepCounts(t, id); succeeded["create"] > 0 {
				done++
			}
		}
		return done >= n/2
	}, 30*time.Second, 5*time.Millisecond, "engine-a completes steps")
	a.crash()

	type held struct{ leaseUntil time.Time }
	leases := map[string]held{}
	rows, err := e.pool.Query(ctx, `SELECT execution_id, lease_until FROM execution_work WHERE owner = 'engine-a'`)
	require.NoError(t, err)
	for rows.Next() {
		var id string
		var until time.Time
		require.NoError(t, rows.Scan(&id, &until))
		leases[id] = held{leaseUntil: until}
	}
	require.NoError(t, rows.Err())
	require.NotEmpty(t, leases, "engine-a held leases when it crashed")
	// What was durably done at the crash stays done: count it now.
	doneAtCrash := map[string]map[string]int{}
	for _, id := range ids {
		_, succeeded := e.stepCounts(t, id)
		doneAtCrash[id] = succeeded
	}
	var partial int
	for id := range leases {
		if len(doneAtCrash[id]) > 0 {
			partial++
		}
	}
	require.Positive(t, partial, "some executions engine-a held had completed steps")

	b.start(t)
	for i, id := range ids {
		s, types := e.waitFor(t, id)
		require.Equal(t, execution.StatusCompleted, s.Status, "%d: %v %+v", i, types, s.Failure)
		assert.Equal(t, fmt.Sprintf("takeover-%d", i), s.Steps["title"].Output)
		started, succeeded := e.stepCounts(t, id)
		for _, step := range taggedTodoSteps {
			assert.Equal(t, 1, succeeded[step], "%d: %s succeeded once: %v", i, step, types)
			assert.Equal(t, 1, started[step], "%d: %s started once (repeatable steps record their start with the outcome): %v", i, step, types)
		}
		for step, c := range doneAtCrash[id] {
			assert.Equal(t, c, succeeded[step], "%d: %s, done before the crash, was not run again", i, step)
		}
		assert.NotEmpty(t, s.Steps["create"].Request.IdempotencyKey, "the document declares Idempotency-Key")
	}
	titles := titleCounts(t, js)
	for i := range ids {
		tag := fmt.Sprintf("takeover-%d", i)
		assert.Equal(t, 1, titles[tag], "%s created once", tag)
		assert.Equal(t, 1, titles[tag+"/again"], "%s/again created once", tag)
	}

	// engine-b finished what engine-a held, each only after its lease lapsed.
	byB := b.store.appended()
	for id, h := range leases {
		first, ok := byB[execution.Stream(id)]
		require.True(t, ok, "%s: engine-b took over engine-a's execution", id)
		assert.False(t, first.Before(h.leaseUntil), "%s: taken over at %v, before engine-a's lease ran out at %v",
			id, first, h.leaseUntil)
	}
	t.Logf("engine-a held %d executions at the crash (%d with completed steps); engine-b appended to %d",
		len(leases), partial, len(byB))
	var left int
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM execution_work`).Scan(&left))
	assert.Zero(t, left, "every work row finished")
}

// startTagged starts n executions of plan p1 in the tenant, tagged
// prefix-0 … prefix-(n-1), and returns their ids in that order.
func startTagged(t *testing.T, ctx context.Context, start commands.StartExecutionHandler, tenantID, prefix string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		res, err := start.Handle(ctx, userOf(tenantID, fmt.Sprintf("start-%d", i)), commands.StartExecution{PlanID: "p1",
			Inputs: map[string]any{"tag": fmt.Sprintf("%s-%d", prefix, i)}})
		require.NoError(t, err)
		ids[i] = res.ExecutionID
	}
	return ids
}
