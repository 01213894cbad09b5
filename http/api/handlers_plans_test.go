package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/http/apierror"
	"github.com/apiq/apiq/http/auth"
)

func TestPlanRoutesPolicy(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.identity.mu.Lock()
	h.identity.users["audrey"] = User{ID: "audrey", Role: auth.RoleAuditor, Enabled: true}
	h.identity.mu.Unlock()
	asAuditor := []string{"Authorization", "Bearer token-audrey"}
	created := decodeJSON(t, h.do("POST", "/v1/plans", `{"prompt":"credits of Inception"}`, append(asUser, "Idempotency-Key", "k1")...))
	id := created["id"].(string)

	reads := []string{"/v1/plans", "/v1/plans/" + id, "/v1/plans/usage", "/v1/plans/settings", "/v1/plans/" + id + "?transcripts=true"}
	for _, path := range reads {
		assert.Equal(t, http.StatusOK, h.do("GET", path, "", asAuditor...).Code, "an AUDITOR reads %s", path)
		assert.Equal(t, http.StatusUnauthorized, h.do("GET", path, "").Code)
	}
	writes := []struct{ method, path, body string }{
		{"POST", "/v1/plans", `{"prompt":"x"}`},
		{"POST", "/v1/plans/" + id + "/revise", `{"prompt":"x"}`},
		{"POST", "/v1/plans/" + id + "/confirm", ""},
		{"POST", "/v1/plans/" + id + "/reject", `{"reason":"x"}`},
	}
	denied := h.identity.denialCount()
	for _, w := range writes {
		assert.Equal(t, http.StatusForbidden, h.do(w.method, w.path, w.body, asAuditor...).Code, "an AUDITOR may not %s %s", w.method, w.path)
		for _, as := range [][]string{asUser, asAdmin} {
			rec := h.do(w.method, w.path, w.body, as...)
			assert.Less(t, rec.Code, 300, "%s %s: %s", w.method, w.path, rec.Body.String())
		}
	}
	settings := `{"destructive_requires_second_admin":true}`
	assert.Equal(t, http.StatusForbidden, h.do("PUT", "/v1/plans/settings", settings, asAuditor...).Code)
	assert.Equal(t, http.StatusForbidden, h.do("PUT", "/v1/plans/settings", settings, asUser...).Code, "only an ADMIN sets them")
	assert.Equal(t, denied+len(writes)+2, h.identity.denialCount(), "every refusal is recorded")
	rec := h.do("PUT", "/v1/plans/settings", settings, asAdmin...)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, true, decodeJSON(t, rec)["destructive_requires_second_admin"])
	assert.Equal(t, true, decodeJSON(t, h.do("GET", "/v1/plans/settings", "", asAuditor...))["destructive_requires_second_admin"])
}

func TestCreatePlan(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	body := `{"prompt":"credits of Inception","connection_ids":["c1","c2"]}`
	rec := h.do("POST", "/v1/plans", body, append(asUser, "Idempotency-Key", "plan-1")...)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	plan := decodeJSON(t, rec)
	assert.Equal(t, "proposed", plan["status"])
	assert.Equal(t, "alice", plan["requested_by"])
	again := h.do("POST", "/v1/plans", body, append(asUser, "Idempotency-Key", "plan-1")...)
	assert.Equal(t, http.StatusCreated, again.Code)
	assert.Equal(t, rec.Body.String(), again.Body.String(), "the retried request gets the first answer")
	h.plans.mu.Lock()
	assert.Equal(t, []NewPlan{{Prompt: "credits of Inception", ConnectionIDs: []string{"c1", "c2"}}}, h.plans.created, "planned once")
	meta := h.plans.metas[0]
	h.plans.mu.Unlock()
	assert.Equal(t, "alice", meta.Actor.Subject)
	assert.NotEmpty(t, meta.TenantID)
	assert.NotEmpty(t, meta.RequestID)

	list := h.do("GET", "/v1/plans?status=confirmed&requested_by=alice&connection_id=c1&limit=5&after=abc", "", asUser...)
	require.Equal(t, http.StatusOK, list.Code, list.Body.String())
	assert.Equal(t, map[string]any{"plans": []any{}}, decodeJSON(t, list))
	h.plans.mu.Lock()
	assert.Equal(t, PlanFilter{Status: "confirmed", RequestedBy: "alice", ConnectionID: "c1", Page: Page{Limit: 5, After: "abc"}}, h.plans.filters[0])
	h.plans.mu.Unlock()
}

func TestPlanRequestsAreValidated(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	id := decodeJSON(t, h.do("POST", "/v1/plans", `{"prompt":"x"}`, asUser...))["id"].(string)
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/v1/plans", `{}`},
		{"POST", "/v1/plans", `{"prompt":""}`},
		{"POST", "/v1/plans", `{"prompt":"x","connection_ids":"c1"}`},
		{"POST", "/v1/plans", `{"prompt":"x","steps":[]}`},
		{"POST", "/v1/plans/" + id + "/confirm", `{"version":0}`},
		{"POST", "/v1/plans/" + id + "/confirm", `{"version":"latest"}`},
		{"POST", "/v1/plans/" + id + "/reject", `{}`},
		{"POST", "/v1/plans/" + id + "/reject", ``},
		{"POST", "/v1/plans/" + id + "/revise", `{"prompt":""}`},
		{"PUT", "/v1/plans/settings", `{}`},
		{"GET", "/v1/plans?status=done", ``},
		{"GET", "/v1/plans?limit=0", ``},
		{"GET", "/v1/plans/" + id + "?transcripts=maybe", ``},
	} {
		rec := h.do(tc.method, tc.path, tc.body, asAdmin...)
		assert.Equal(t, http.StatusBadRequest, rec.Code, "%s %s %s: %s", tc.method, tc.path, tc.body, rec.Body.String())
		if rec.Code == http.StatusBadRequest {
			assert.Equal(t, apierror.CodeValidationFailed, errorBody(t, rec).Code)
		}
	}
	h.plans.mu.Lock()
	assert.Len(t, h.plans.created, 1, "no invalid request reached the planner")
	h.plans.mu.Unlock()
}

func TestPlanErrorsMapToStatuses(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	id := decodeJSON(t, h.do("POST", "/v1/plans", `{"prompt":"x"}`, asUser...))["id"].(string)
	rec := h.do("GET", "/v1/plans/nope", "", asUser...)
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.Equal(t, apierror.DomainDetails{Reason: "plan_not_found"}, decodeDetails(t, rec))
	rec = h.do("POST", "/v1/plans/"+id+"/confirm", `{"version":7}`, asUser...)
	assert.Equal(t, http.StatusConflict, rec.Code)
	assert.Equal(t, apierror.DomainDetails{Reason: "plan_version_superseded"}, decodeDetails(t, rec))
	rec = h.do("POST", "/v1/plans/"+id+"/confirm", "", asUser...)
	require.Equal(t, http.StatusOK, rec.Code, "the body is optional")
	assert.Equal(t, "confirmed", decodeJSON(t, rec)["status"])
	rec = h.do("POST", "/v1/plans/nope/revise", `{"prompt":"x"}`, asUser...)
	assert.Equal(t, http.StatusNotFound, rec.Code)
	usage := decodeJSON(t, h.do("GET", "/v1/plans/usage", "", asUser...))
	assert.Equal(t, float64(12), usage["total_tokens"])
}

// decodeDetails reads the domain details of an error answer.
func decodeDetails(t *testing.T, rec *httptest.ResponseRecorder) apierror.DomainDetails {
	t.Helper()
	var body struct {
		Error struct {
			Details apierror.DomainDetails `json:"details"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
	return body.Error.Details
}
