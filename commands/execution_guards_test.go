package commands_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/credentials"
	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/outbound"
	"github.com/apiq/apiq/adapters/testservers"
	"github.com/apiq/apiq/commands"
	"github.com/apiq/apiq/domain/execution"
	"github.com/apiq/apiq/domain/plan"
)

// callStep is a call step of connectionID's operation.
func callStep(id, connectionID, op string, path, query map[string]any) plan.Step {
	return plan.Step{ID: id, Kind: plan.KindCall, Call: &plan.Call{ConnectionID: connectionID, OperationID: op, Path: path, Query: query}}
}

// startPlan registers p under a fresh id, starts it and waits for its end.
func (e *execEnv) startPlan(t *testing.T, ctx context.Context, tenantID, name string, p plan.Plan) execution.State {
	t.Helper()
	e.plans.mu.Lock()
	e.plans.plans[name] = p
	e.plans.mu.Unlock()
	res, err := e.start.Handle(ctx, userOf(tenantID, "start-"+name), commands.StartExecution{PlanID: name})
	require.NoError(t, err)
	s, _ := e.waitFor(t, res.ExecutionID)
	return s
}

func TestEngineCircuitBreakerIsPerConnection(t *testing.T) {
	t.Parallel()
	cfg := testExecutionConfig()
	cfg.MaxAttempts = 2
	e := newExecEnv(t, cfg, func(c *outbound.Config) {
		c.Breaker = outbound.BreakerConfig{ConsecutiveFailures: 2, OpenTimeout: time.Minute}
	})
	bin := testservers.StartHTTPBin(t)
	acme := e.tenantWithAdmin(t, "acme").TenantID
	ctx := within(t, time.Minute)
	register := func(name string) string {
		conn, err := e.register.Handle(ctx, userOf(acme, "reg-"+name), commands.RegisterConnection{Name: name,
			Document: commands.DocumentSource{Text: bin.OpenAPIDocument()}})
		require.NoError(t, err)
		return conn.ConnectionID
	}
	broken, healthy := register("broken"), register("healthy")
	e.runEngine(t)

	// Two 503s on one connection open its breaker.
	s := e.startPlan(t, ctx, acme, "fail", plan.Plan{Steps: []plan.Step{
		callStep("down", broken, "getStatus", map[string]any{"codes": "503"}, nil)}})
	require.Equal(t, execution.StatusFailed, s.Status)
	assert.Equal(t, "the API answered 503 (after 2 attempts)", s.Failure.Reason)
	assert.Equal(t, 2, bin.RequestCount("GET", "/status/503"))

	tests := []struct {
		name       string
		connection string
		path       string
		wantStatus execution.Status
		wantSent   int
		wantReason string
	}{
		{name: "the open breaker refuses the connection's calls unsent", connection: broken, path: "a",
			wantStatus: execution.StatusFailed, wantSent: 0,
			wantReason: "the connection's circuit breaker is open after repeated failures (after 2 attempts)"},
		{name: "another connection to the same server is not affected", connection: healthy, path: "b",
			wantStatus: execution.StatusCompleted, wantSent: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := e.startPlan(t, ctx, acme, "after-"+tt.path, plan.Plan{Steps: []plan.Step{
				callStep("first", tt.connection, "getAnything", map[string]any{"anything": tt.path}, nil)}})
			assert.Equal(t, tt.wantStatus, s.Status)
			assert.Equal(t, tt.wantSent, bin.RequestCount("GET", "/anything/"+tt.path))
			if tt.wantReason != "" {
				require.NotNil(t, s.Failure)
				assert.Equal(t, "first", s.Failure.Key)
				assert.Equal(t, tt.wantReason, s.Failure.Reason)
				assert.Equal(t, 2, s.Steps["first"].Attempts, "each refusal is an attempt the engine scheduled")
			}
		})
	}
}

func TestEngineRateLimitsCallsPerConnection(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t, testExecutionConfig(), func(c *outbound.Config) {
		c.RateLimit = outbound.RateLimitConfig{PerSecond: 10, Burst: 1}
	})
	bin := testservers.StartHTTPBin(t)
	acme, conn := e.binConnection(t, bin)
	ctx := within(t, time.Minute)
	e.runEngine(t)

	var p plan.Plan
	for i := range 6 {
		p.Steps = append(p.Steps, callStep(fmt.Sprintf("get%d", i), conn.ConnectionID, "getRequest", nil, map[string]any{"q": i}))
	}
	s := e.startPlan(t, ctx, acme, "six", p)
	require.Equal(t, execution.StatusCompleted, s.Status)
	evs := e.stream(t, execution.Stream(s.ExecutionID))
	first, last := evs[0].Metadata.OccurredAt, evs[len(evs)-1].Metadata.OccurredAt
	// 6 calls at 10 per second with a burst of 1: 5 waits of 100 ms.
	assert.GreaterOrEqual(t, last.Sub(first), 500*time.Millisecond, "the connection's calls are spaced by its rate limit")
	assert.Equal(t, 6, bin.RequestCount("GET", "/get"))
}

func TestEngineExecutionTimeoutCutsTheStepInFlight(t *testing.T) {
	t.Parallel()
	cfg := testExecutionConfig()
	cfg.StepTimeout, cfg.Timeout = 3*time.Second, 3*time.Second
	e := newExecEnv(t, cfg)
	bin := testservers.StartHTTPBin(t)
	acme, conn := e.binConnection(t, bin)
	ctx := within(t, time.Minute)
	e.runEngine(t)

	// While the engine waits for the API, no connection of the database
	// is inside a transaction: no outbound call happens in one.
	watch, stop := context.WithCancel(ctx)
	inTx := make(chan int, 1)
	go func() {
		most := 0
		for watch.Err() == nil {
			var n int
			if e.pool.QueryRow(watch, `SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'`).Scan(&n) == nil {
				most = max(most, n)
			}
			time.Sleep(20 * time.Millisecond)
		}
		inTx <- most
	}()
	s := e.startPlan(t, ctx, acme, "slow", plan.Plan{Steps: []plan.Step{
		callStep("one", conn.ConnectionID, "getDelayed", map[string]any{"n": 1}, nil),
		callStep("two", conn.ConnectionID, "getDelayed", map[string]any{"n": 4}, nil),
		callStep("three", conn.ConnectionID, "getRequest", nil, nil),
	}})
	stop()
	assert.Zero(t, <-inTx, "connections idle in a transaction while calls were in flight")

	require.Equal(t, execution.StatusFailed, s.Status)
	require.NotNil(t, s.Failure)
	require.Equal(t, "two", s.Failure.Key, "the failure names the step: %+v", s.Failure)
	require.Contains(t, s.Steps, "two")
	assert.Equal(t, "the execution's timeout of 3s passed while the API had not answered", s.Failure.Reason)
	assert.Equal(t, []string{"one"}, s.Failure.Done, "and what was already done")
	assert.Equal(t, execution.StepStatusFailed, s.Steps["two"].Status)
	assert.Equal(t, 1, s.Steps["two"].Attempts, "not retried past the execution's timeout")
	assert.NotContains(t, s.Steps, "three")
	assert.Zero(t, bin.RequestCount("GET", "/get"))
}

func TestEngineShowsPrismRequestValidationErrors(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t, testExecutionConfig())
	// The petstore as published declares an empty 422 for addPet (Prism
	// answers it with the violations in a header); a copy without it makes
	// Prism answer with a problem+json body listing them.
	published := testservers.ReadSpec(t, "petstore-3.0.yaml")
	declared := "        '400':\n          description: Invalid input\n        '422':\n          description: Validation exception\n        default:\n          description: Unexpected error\n"
	require.Contains(t, string(published), declared)
	undeclared := filepath.Join(t.TempDir(), "petstore-undeclared.yaml")
	require.NoError(t, os.WriteFile(undeclared, bytes.Replace(published, []byte(declared), nil, 1), 0o600))
	acme := e.tenantWithAdmin(t, "acme").TenantID
	ctx := within(t, 2*time.Minute)
	register := func(name, spec string) string {
		prism := testservers.StartPrism(t, spec)
		doc, err := os.ReadFile(spec)
		require.NoError(t, err)
		conn, err := e.register.Handle(ctx, userOf(acme, "reg-"+name), commands.RegisterConnection{Name: name, BaseURL: prism.URL,
			Document: commands.DocumentSource{Text: doc},
			Auth:     &credentials.Input{Type: credentials.TypeBearer, Scheme: "petstore_auth", Token: "pets-token-77"}})
		require.NoError(t, err)
		return conn.ConnectionID
	}
	published422 := register("declared", testservers.SpecPath(t, "petstore-3.0.yaml"))
	problem422 := register("undeclared", undeclared)
	e.runEngine(t)

	addPet := func(connectionID string, body map[string]any) plan.Plan {
		return plan.Plan{Steps: []plan.Step{
			{ID: "add", Kind: plan.KindCall, Call: &plan.Call{ConnectionID: connectionID, OperationID: "addPet", Body: body}},
			{ID: "name", Kind: plan.KindTransform, Transform: &plan.Transform{Expr: "steps.add.output.name"}},
		}}
	}
	invalid := map[string]any{"name": 5}
	failedAt422 := func(t *testing.T, s execution.State) *execution.Step {
		require.NotNil(t, s.Failure)
		assert.Equal(t, "add", s.Failure.Key, "the failure names the step")
		add := s.Steps["add"]
		assert.Equal(t, execution.StepStatusFailed, add.Status)
		assert.Equal(t, 1, add.Attempts, "a 422 is not retried")
		assert.JSONEq(t, `{"name":5}`, add.Request.Body, "the request as sent is shown")
		assert.NotContains(t, fmt.Sprint(add.Request.Header), "pets-token-77", "the token is masked")
		require.NotNil(t, add.Response)
		assert.Equal(t, 422, add.Response.Status)
		assert.NotContains(t, s.Steps, "name")
		return add
	}
	tests := []struct {
		name       string
		connection string
		body       map[string]any
		wantStatus execution.Status
		check      func(t *testing.T, s execution.State)
	}{
		{name: "an invalid body: Prism's problem body is shown in the failure", connection: problem422, body: invalid,
			wantStatus: execution.StatusFailed, check: func(t *testing.T, s execution.State) {
				add := failedAt422(t, s)
				assert.True(t, strings.HasPrefix(s.Failure.Reason, "the API answered 422: {"), s.Failure.Reason)
				assert.Contains(t, s.Failure.Reason, "photoUrls", "the validation error is in the reason")
				assert.Contains(t, add.Response.Body, "photoUrls", "and in the body kept with the step")
			}},
		{name: "an invalid body against the declared empty 422: the violations are kept with the step", connection: published422,
			body: invalid, wantStatus: execution.StatusFailed, check: func(t *testing.T, s execution.State) {
				add := failedAt422(t, s)
				assert.Equal(t, "the API answered 422", s.Failure.Reason)
				assert.Contains(t, fmt.Sprint(add.Response.Header["Sl-Violations"]), "photoUrls")
			}},
		{name: "a valid body succeeds", connection: problem422, body: map[string]any{"name": "rex", "photoUrls": []any{"https://example.com/rex.png"}},
			wantStatus: execution.StatusCompleted, check: func(t *testing.T, s execution.State) {
				assert.Equal(t, 200, s.Steps["add"].HTTPStatus)
				assert.Equal(t, "doggie", s.Steps["name"].Output, "Prism answers with the document's example")
			}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := e.startPlan(t, ctx, acme, fmt.Sprintf("pets-%d", i), addPet(tt.connection, tt.body))
			assert.Equal(t, tt.wantStatus, s.Status, "%+v", s.Failure)
			tt.check(t, s)
		})
	}
}

func TestEngineCapsLargeResponsesAndKeepsThemWhole(t *testing.T) {
	t.Parallel()
	cfg := testExecutionConfig()
	cfg.MaxStoredBody = 1024
	e := newExecEnv(t, cfg)
	bin := testservers.StartHTTPBin(t)
	acme, conn := e.binConnection(t, bin)
	ctx := within(t, time.Minute)
	e.runEngine(t)

	long := strings.Repeat("é", 2000) // multi-byte: the cap must not split a character
	s := e.startPlan(t, ctx, acme, "big", plan.Plan{Steps: []plan.Step{
		callStep("big", conn.ConnectionID, "getAnything", map[string]any{"anything": "x"}, map[string]any{"long": long}),
		{ID: "echo", Kind: plan.KindTransform, Transform: &plan.Transform{Expr: "steps.big.output.args.long[0]"}},
	}})
	require.Equal(t, execution.StatusCompleted, s.Status, "%+v", s.Failure)
	resp := s.Steps["big"].Response
	require.NotNil(t, resp)
	assert.True(t, resp.Capped)
	assert.LessOrEqual(t, len(resp.Body), cfg.MaxStoredBody, "the event holds the capped body")
	assert.Greater(t, resp.BodyBytes, int64(4000))
	require.NotEmpty(t, resp.BlobHash, "the whole body is kept by reference")
	whole, err := e.blobs.Get(ctx, resp.BlobHash)
	require.NoError(t, err)
	assert.Len(t, whole, int(resp.BodyBytes))
	sum := sha256.Sum256(whole)
	assert.Equal(t, hex.EncodeToString(sum[:]), resp.BodySHA256, "the digest in the event is the whole body's")
	assert.Equal(t, long, s.Steps["echo"].Output, "later steps see the whole output")
}

func TestEngineTimeoutsNameTheStep(t *testing.T) {
	t.Parallel()
	cfg := testExecutionConfig()
	cfg.StepTimeout, cfg.Timeout = time.Second, 4*time.Second
	e := newExecEnv(t, cfg)
	bin := testservers.StartHTTPBin(t, testservers.HTTPBinRetryAfterSeconds(5))
	acme, conn := e.binConnection(t, bin)
	ctx := within(t, time.Minute)
	twoSteps := func(second plan.Step) plan.Plan {
		return plan.Plan{Steps: []plan.Step{
			{ID: "first", Kind: plan.KindTransform, Transform: &plan.Transform{Expr: "1 + 1"}}, second}}
	}

	// Started while no engine runs, for longer than the timeout (a stop).
	e.plans.plans["late"] = twoSteps(callStep("second", conn.ConnectionID, "getRequest", nil, nil))
	late, err := e.start.Handle(ctx, userOf(acme, "start-late"), commands.StartExecution{PlanID: "late"})
	require.NoError(t, err)
	time.Sleep(cfg.Timeout + 100*time.Millisecond)
	e.runEngine(t)
	e.plans.plans["retry"] = twoSteps(callStep("second", conn.ConnectionID, "getStatus", map[string]any{"codes": "429"}, nil))
	retry, err := e.start.Handle(ctx, userOf(acme, "start-retry"), commands.StartExecution{PlanID: "retry"})
	require.NoError(t, err)

	tests := []struct {
		name        string
		executionID string
		wantKey     string
		wantReason  string
		wantDone    []string
	}{
		{name: "resumed after its timeout: fails at the step it had not started", executionID: late.ExecutionID,
			wantKey: "first", wantReason: "the execution ran longer than its timeout of 4s; step first had not started", wantDone: []string{}},
		{name: "a Retry-After beyond the timeout fails at once", executionID: retry.ExecutionID, wantKey: "second",
			wantReason: "the API answered 429; the retry (in 5s) would come after the execution's timeout of 4s",
			wantDone:   []string{"first"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := e.waitFor(t, tt.executionID)
			require.Equal(t, execution.StatusFailed, s.Status)
			require.NotNil(t, s.Failure)
			assert.Equal(t, tt.wantKey, s.Failure.Key)
			assert.Equal(t, tt.wantReason, s.Failure.Reason)
			assert.Equal(t, tt.wantDone, s.Failure.Done)
		})
	}
	assert.Zero(t, bin.RequestCount("GET", "/get"), "nothing is called after the timeout")
	assert.Equal(t, 1, bin.RequestCount("GET", "/status/429"), "no retry past the timeout")
}

func TestEngineSeesADisabledConnectionWithinItsTTL(t *testing.T) {
	t.Parallel()
	cfg := testExecutionConfig()
	cfg.ConnectionTTL = 300 * time.Millisecond
	e := newExecEnv(t, cfg)
	bin := testservers.StartHTTPBin(t)
	acme, conn := e.binConnection(t, bin)
	ctx := within(t, time.Minute)
	e.runEngine(t)
	get := func(path string) plan.Plan {
		return plan.Plan{Steps: []plan.Step{callStep("get", conn.ConnectionID, "getAnything", map[string]any{"anything": path}, nil)}}
	}

	s := e.startPlan(t, ctx, acme, "before", get("before"))
	require.Equal(t, execution.StatusCompleted, s.Status, "%+v", s.Failure)
	_, err := e.disable.Handle(ctx, userOf(acme, "disable"), commands.DisableConnection{ConnectionID: conn.ConnectionID, Reason: "maintenance"})
	require.NoError(t, err)
	time.Sleep(cfg.ConnectionTTL)

	s = e.startPlan(t, ctx, acme, "after", get("after"))
	require.Equal(t, execution.StatusFailed, s.Status)
	require.NotNil(t, s.Failure)
	assert.Equal(t, "get", s.Failure.Key)
	assert.Equal(t, "the connection "+conn.ConnectionID+" is disabled", s.Failure.Reason)
	assert.Equal(t, 1, bin.RequestCount("GET", "/anything/before"))
	assert.Zero(t, bin.RequestCount("GET", "/anything/after"), "a disabled connection is not called")
}

// countingFeed counts the engine's registrations for wake-ups.
type countingFeed struct {
	eventstore.Feed
	wakes atomic.Int64
}

func (f *countingFeed) Wake(ctx context.Context) <-chan struct{} {
	f.wakes.Add(1)
	return f.Feed.Wake(ctx)
}

func TestEngineRegistersForWakeUpsOnce(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t, testExecutionConfig())
	feed := &countingFeed{Feed: e.store}
	engine, err := commands.NewEngine(commands.ExecutionDeps{ConnectionDeps: e.cdeps, Pool: e.pool, Feed: feed,
		Plans: e.plans, Config: testExecutionConfig()})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(within(t, time.Minute))
	done := make(chan struct{})
	go func() { defer close(done); assert.NoError(t, engine.Run(ctx)) }()
	t.Cleanup(func() { cancel(); <-done })

	acme := e.tenantWithAdmin(t, "acme").TenantID
	e.plans.plans["one"] = plan.Plan{Steps: []plan.Step{{ID: "t", Kind: plan.KindTransform, Transform: &plan.Transform{Expr: "1"}}}}
	for i := range 20 {
		res, err := e.start.Handle(ctx, userOf(acme, fmt.Sprintf("s-%d", i)), commands.StartExecution{PlanID: "one"})
		require.NoError(t, err)
		engine.Signal()
		s, _ := e.waitFor(t, res.ExecutionID)
		require.Equal(t, execution.StatusCompleted, s.Status)
	}
	assert.Equal(t, int64(1), feed.wakes.Load(), "40 appends woke the engine through one registration")
}

// binConnection registers bin as the connection "bin" of a new tenant and
// returns the tenant and the connection.
func (e *execEnv) binConnection(t *testing.T, bin *testservers.HTTPBin) (string, commands.ConnectionResult) {
	t.Helper()
	acme := e.tenantWithAdmin(t, "acme").TenantID
	conn, err := e.register.Handle(within(t, time.Minute), userOf(acme, "reg-bin"), commands.RegisterConnection{Name: "bin",
		Document: commands.DocumentSource{Text: bin.OpenAPIDocument()}})
	require.NoError(t, err)
	return acme, conn
}
