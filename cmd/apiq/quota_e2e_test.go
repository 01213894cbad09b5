package main

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/quota"
)

// TestExecutionAndLLMQuotas runs the service with one execution per hour
// and 1000 LLM tokens a day per tenant: the second execution and a plan
// request after the day's tokens were spent answer 429 with the quota's
// headers, while another tenant keeps its own allowance.
func TestExecutionAndLLMQuotas(t *testing.T) {
	s := startService(t, map[string]string{
		"APIQ_QUOTA_EXECUTIONS_PER_HOUR": "1", "APIQ_QUOTA_LLM_TOKENS_PER_DAY": "1000",
	})
	otherAdmin := s.otherTenantAdmin()

	planID := s.confirmPlan(s.admin, transformPlan())
	s.startExecution(s.admin, planID, "")
	status, headers, raw := s.send("POST", "/v1/executions", s.admin, bodyReader(`{"plan_id":"`+planID+`"}`), "application/json")
	require.Equal(t, http.StatusTooManyRequests, status, string(raw))
	body := decodeObject(t, raw)
	assert.Equal(t, "rate_limited", errorCode(body))
	assert.Equal(t, "executions", errorDetails(body)["limit"])
	assert.Equal(t, "1", headers.Get("RateLimit-Limit"))
	assert.Equal(t, "0", headers.Get("RateLimit-Remaining"))
	assert.NotEmpty(t, headers.Get("Retry-After"))
	s.startExecution(otherAdmin, s.confirmPlan(otherAdmin, transformPlan()), "")

	// Planning without a model spends no tokens; the gate takes one.
	status, body = s.json("POST", "/v1/plans", s.admin, `{"prompt":"list the pets"}`)
	require.Equal(t, http.StatusCreated, status, body)
	// The model's tokens, as the plans side charges them, spend the day.
	store, err := quota.NewStore(s.core.pool, s.core.cfg.Security.Quotas, nil)
	require.NoError(t, err)
	u, err := store.Charge(context.Background(), s.tenantID, quota.LLMTokens, 1500)
	require.NoError(t, err)
	assert.Equal(t, int64(1501), u.Used)
	status, headers, raw = s.send("POST", "/v1/plans", s.admin, bodyReader(`{"prompt":"list the pets again"}`), "application/json")
	require.Equal(t, http.StatusTooManyRequests, status, string(raw))
	assert.Equal(t, "llm_tokens", errorDetails(decodeObject(t, raw))["limit"])
	assert.Equal(t, "1000", headers.Get("RateLimit-Limit"))
	status, body = s.json("POST", "/v1/plans", otherAdmin, `{"prompt":"list the pets"}`)
	assert.Equal(t, http.StatusCreated, status, "another tenant's day is its own: %v", body)
}
