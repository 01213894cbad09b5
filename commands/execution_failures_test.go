package commands_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/credentials"
	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/testservers"
	"github.com/apiq/apiq/commands"
	"github.com/apiq/apiq/domain/connection"
	"github.com/apiq/apiq/domain/execution"
	"github.com/apiq/apiq/domain/plan"
	"github.com/apiq/apiq/projections"
)

func oneCall(connectionID, op string, path map[string]any) plan.Plan {
	return plan.Plan{Steps: []plan.Step{{ID: "call", Kind: plan.KindCall,
		Call: &plan.Call{ConnectionID: connectionID, OperationID: op, Path: path}}}}
}

func TestEngineFailuresAgainstHTTPBin(t *testing.T) {
	t.Parallel()
	cfg := testExecutionConfig()
	cfg.MaxAttempts, cfg.StepTimeout = 2, time.Second
	e := newExecEnv(t, cfg)
	bin := testservers.StartHTTPBin(t, testservers.HTTPBinRetryAfterSeconds(1), testservers.HTTPBinAPIKey("canary-secret-4242"))
	acme := e.tenantWithAdmin(t, "acme")
	ctx := within(t, 2*time.Minute)
	conn, err := e.register.Handle(ctx, userOf(acme.TenantID, "reg-bin"), commands.RegisterConnection{Name: "bin",
		Document: commands.DocumentSource{Text: bin.OpenAPIDocument()},
		Auth:     &credentials.Input{Type: "api_key", Scheme: "apiKeyHeader", Key: "canary-secret-4242"}})
	require.NoError(t, err)
	e.runEngine(t)

	tests := []struct {
		name       string
		plan       plan.Plan
		wantStatus execution.Status
		wantReason string
		wantTypes  []string
		check      func(t *testing.T, s execution.State)
	}{
		{name: "429 honours Retry-After then fails naming the step",
			plan: oneCall(conn.ConnectionID, "getStatus", map[string]any{"codes": "429"}), wantStatus: execution.StatusFailed,
			wantReason: "the API answered 429 (after 2 attempts)",
			wantTypes:  []string{execution.TypeStepRetryScheduled, execution.TypeFailed}},
		{name: "503 is retried", plan: oneCall(conn.ConnectionID, "getStatus", map[string]any{"codes": "503"}),
			wantStatus: execution.StatusFailed, wantReason: "the API answered 503 (after 2 attempts)",
			wantTypes: []string{execution.TypeStepRetryScheduled, execution.TypeStepFailed}},
		{name: "400 fails at once", plan: oneCall(conn.ConnectionID, "getStatus", map[string]any{"codes": "400"}),
			wantStatus: execution.StatusFailed, wantReason: "the API answered 400"},
		{name: "delay beyond the step timeout", plan: oneCall(conn.ConnectionID, "getDelayed", map[string]any{"n": 3}),
			wantStatus: execution.StatusFailed, wantReason: "the API did not answer within the step timeout (after 2 attempts)"},
		{name: "a POST with an idempotency key is retried", plan: plan.Plan{Steps: []plan.Step{{ID: "call", Kind: plan.KindCall,
			Call: &plan.Call{ConnectionID: conn.ConnectionID, OperationID: "postStatus", Path: map[string]any{"codes": "500"}}}}},
			wantStatus: execution.StatusFailed, wantReason: "the API answered 500 (after 2 attempts)"},
		{name: "an echoed API key is scrubbed", plan: oneCall(conn.ConnectionID, "getHeaders", nil), wantStatus: execution.StatusCompleted,
			check: func(t *testing.T, s execution.State) {
				raw, err := json.Marshal(s.Steps["call"])
				require.NoError(t, err)
				assert.NotContains(t, string(raw), "canary-secret-4242")
				assert.Contains(t, s.Steps["call"].Response.Body, "X-Api-Key")
				// Which credentials the call used is auditable; the secret is not.
				var keyID string
				for _, rec := range e.stream(t, connection.Stream(conn.ConnectionID)) {
					if rec.Type == connection.TypeCredentialsSet {
						var set connection.CredentialsSet
						require.NoError(t, json.Unmarshal(rec.Data, &set))
						keyID = set.KeyID
					}
				}
				require.NotEmpty(t, keyID)
				var summaries []string
				for _, rec := range e.stream(t, execution.Stream(s.ExecutionID)) {
					if rec.Type == execution.TypeStepStarted {
						summaries = append(summaries, string(projections.AuditSummary(rec.Type, rec.Data)))
					}
				}
				require.Len(t, summaries, 1)
				assert.Contains(t, summaries[0], `"credential_key_id":"`+keyID+`"`)
				assert.Contains(t, summaries[0], `"credential_type":"api_key"`)
				assert.NotContains(t, summaries[0], "canary-secret-4242")
			}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := "plan-" + strings.ReplaceAll(tt.name, " ", "-")
			e.plans.mu.Lock()
			e.plans.plans[id] = tt.plan
			e.plans.mu.Unlock()
			res, err := e.start.Handle(ctx, userOf(acme.TenantID, "start-"+string(rune('a'+i))), commands.StartExecution{PlanID: id})
			require.NoError(t, err)
			s, types := e.waitFor(t, res.ExecutionID)
			assert.Equal(t, tt.wantStatus, s.Status)
			if tt.wantReason != "" {
				require.NotNil(t, s.Failure)
				assert.Equal(t, "call", s.Failure.Key)
				assert.Equal(t, tt.wantReason, s.Failure.Reason)
			}
			for _, typ := range tt.wantTypes {
				assert.Contains(t, types, typ)
			}
			if tt.check != nil {
				tt.check(t, s)
			}
		})
	}
}

func TestEngineHoldsAnUnknownOutcomeForAttention(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t, testExecutionConfig())
	bin := testservers.StartHTTPBin(t)
	acme := e.tenantWithAdmin(t, "acme")
	ctx := within(t, time.Minute)
	conn, err := e.register.Handle(ctx, userOf(acme.TenantID, "reg-bin"), commands.RegisterConnection{Name: "bin",
		Document: commands.DocumentSource{Text: bin.OpenAPIDocument()}})
	require.NoError(t, err)
	e.plans.plans["put"] = oneCall(conn.ConnectionID, "putAnything", map[string]any{"anything": "x"})
	res, err := e.start.Handle(ctx, userOf(acme.TenantID, "start-put"), commands.StartExecution{PlanID: "put"})
	require.NoError(t, err)
	// A process died after recording that it was sending the PUT.
	data, err := json.Marshal(execution.StepStarted{Key: "call", StepID: "call", Kind: plan.KindCall, Attempt: 1, Repeatable: false})
	require.NoError(t, err)
	_, err = e.store.Append(ctx, execution.Stream(res.ExecutionID), 0, []eventstore.EventData{{
		ID: eventstore.EventID(acme.TenantID, "x", "crash", 0), Type: execution.TypeStepStarted, Data: data,
		Metadata: eventstore.Metadata{TenantID: acme.TenantID, SchemaVersion: 1, OccurredAt: time.Now()}}})
	require.NoError(t, err)
	e.runEngine(t)
	s, _ := e.waitFor(t, res.ExecutionID)
	assert.Equal(t, execution.StatusNeedsAttention, s.Status)
	require.NotNil(t, s.Attention)
	assert.Equal(t, "call", s.Attention.Key)
	assert.Equal(t, execution.StepStatusUnknown, s.Steps["call"].Status)
	assert.Zero(t, bin.RequestCount("PUT", "/anything/x"), "the call is not sent again")
}
