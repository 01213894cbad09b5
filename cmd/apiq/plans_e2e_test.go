package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/llm/llmtest"
	"github.com/apiq/apiq/adapters/testservers"
	"github.com/apiq/apiq/adapters/tools"
	"github.com/apiq/apiq/http/auth"
)

// todosModel answers planning requests for the json-server todos API like
// a model would, by the request's words: a new user and their todos
// (with a todo added when a revision asks for one), or no suitable
// endpoint for a flight. Each reply names the tools actually offered.
func todosModel(t *testing.T) *llmtest.Server {
	var mu sync.Mutex
	var missing []string
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		assert.Empty(t, missing, "operations the model needed were not offered")
	})
	return llmtest.New(t, llmtest.WithAPIKey("sk-e2e-key"), llmtest.WithHandler(func(r llmtest.Request) llmtest.Reply {
		tool := func(operationID string) string {
			for _, name := range r.ToolNames() {
				if strings.HasSuffix(name, "__"+operationID) {
					return name
				}
			}
			mu.Lock()
			missing = append(missing, operationID)
			mu.Unlock()
			return "missing__" + operationID
		}
		request := r.Body.Messages[1].Content
		if strings.Contains(request, "flight") {
			return llmtest.ToolCalls(llmtest.Usage(700, 15),
				llmtest.Call{Name: tools.ToolNoSuitableEndpoint, Arguments: map[string]any{"reason": "no connection books flights"}})
		}
		user := llmtest.Call{Name: tool("createUser"), Arguments: map[string]any{"step_id": "user",
			"body": map[string]any{"name": "Ann Lee", "username": "ann", "email": "ann@example.com"}}}
		list := llmtest.Call{Name: tool("listUserTodos"), Arguments: map[string]any{"step_id": "todos",
			"userId": "${ steps.user.output.id }"}}
		if !strings.Contains(request, "Revise the plan") {
			return llmtest.ToolCalls(llmtest.Usage(1000, 80), user, list)
		}
		todo := llmtest.Call{Name: tool("createTodo"), Arguments: map[string]any{"step_id": "milk",
			"body": map[string]any{"userId": "${ steps.user.output.id }", "title": "buy milk", "completed": false}}}
		return llmtest.ToolCalls(llmtest.Usage(1500, 120), user, todo, list)
	}))
}

// TestPlansThroughTheAPI plans with a model through the real service: the
// model is the OpenAI-protocol test server named by APIQ_LLM_*, asked by
// the go-openai client within POST /v1/plans. A proposed plan carries its
// steps, confirmation summary and token usage; a revision adds a version;
// the confirmed version runs against json-server with data passed between
// steps; a request no endpoint serves is answered as such.
func TestPlansThroughTheAPI(t *testing.T) {
	model := todosModel(t)
	s := startService(t, map[string]string{
		"APIQ_LLM_BASE_URL": model.BaseURL(),
		"APIQ_LLM_API_KEY":  "sk-e2e-key",
		"APIQ_LLM_MODEL":    "gpt-e2e",
	})
	js := testservers.StartJSONServer(t, testservers.JSONServerFixture(t))
	status, conn := s.register(s.admin, map[string]any{"name": "todos", "base_url": js.URL, "document": string(js.OpenAPIDocument())})
	require.Equal(t, http.StatusCreated, status, conn)
	connID := conn["id"].(string)
	user := s.user("planner@example.com", auth.RoleUser)

	// A new plan: proposed, with its steps, summary and tokens.
	prompt := "Create the user Ann Lee (username ann, email ann@example.com) and list her todos"
	status, created := s.json("POST", "/v1/plans?min_position="+conn["position"].(string), user, fmt.Sprintf(`{"prompt":%q,"connection_ids":[%q]}`, prompt, connID))
	require.Equal(t, http.StatusCreated, status, created)
	require.Equal(t, "proposed", created["status"], created)
	planID := created["id"].(string)
	assert.Equal(t, float64(1), created["version"])
	assert.Equal(t, "high", created["confidence"])
	assert.Empty(t, created["errors"])
	v1 := version(t, created, 0)
	steps := v1["plan"].(map[string]any)["steps"].([]any)
	require.Len(t, steps, 2)
	first := steps[0].(map[string]any)["call"].(map[string]any)
	assert.Equal(t, connID, first["connection_id"])
	assert.Equal(t, "createUser", first["operation_id"])
	assert.Equal(t, "write", first["side_effect"])
	second := steps[1].(map[string]any)["call"].(map[string]any)
	assert.Equal(t, "listUserTodos", second["operation_id"])
	assert.Equal(t, map[string]any{"userId": "${ steps.user.output.id }"}, second["path"])
	summary := v1["summary"].(map[string]any)
	assert.Len(t, summary["calls"], 2)
	assert.Equal(t, float64(1), summary["mutating_calls"])
	assert.Equal(t, []any{connID}, summary["connections"])
	assert.Equal(t, map[string]any{"prompt_tokens": float64(1000), "completion_tokens": float64(80), "total_tokens": float64(1080)}, summary["tokens"])
	planning := v1["planning"].(map[string]any)
	assert.Equal(t, "llm", planning["mode"])
	assert.Equal(t, "gpt-e2e", planning["model"])
	assert.Equal(t, float64(1080), planning["usage"].(map[string]any)["total_tokens"])

	requests := model.Requests()
	require.Len(t, requests, 1)
	assert.Equal(t, "Bearer sk-e2e-key", requests[0].Header.Get("Authorization"))
	assert.Equal(t, "gpt-e2e", requests[0].Body.Model)
	assert.LessOrEqual(t, len(requests[0].Body.Tools), llmtest.MaxTools)
	assert.NotContains(t, requests[0].ToolNames(), "todos__deleteUser", "nothing asked to delete")

	// A revision: version 2 on top, version 1 kept as it was.
	status, revised := s.json("POST", "/v1/plans/"+planID+"/revise", user, `{"prompt":"also add the todo buy milk for her before listing"}`)
	require.Equal(t, http.StatusOK, status, revised)
	assert.Equal(t, "proposed", revised["status"], revised)
	assert.Equal(t, float64(2), revised["version"])
	require.Len(t, revised["versions"], 2)
	v2 := version(t, revised, 0)
	assert.Equal(t, float64(2), v2["version"])
	assert.Equal(t, float64(1), v2["based_on"])
	assert.Len(t, v2["plan"].(map[string]any)["steps"], 3)
	assert.Equal(t, float64(2), version(t, revised, 0)["summary"].(map[string]any)["mutating_calls"])
	assert.Equal(t, float64(1), version(t, revised, 1)["version"])
	assert.Len(t, version(t, revised, 1)["plan"].(map[string]any)["steps"], 2, "versions are immutable")
	assert.Contains(t, model.Requests()[1].Body.Messages[1].Content, prompt, "the revision carries the request so far")

	// The transcript is kept with the version and shown when asked for.
	status, withTranscripts := s.json("GET", "/v1/plans/"+planID+"?transcripts=true", user, "")
	require.Equal(t, http.StatusOK, status, withTranscripts)
	var transcript struct {
		Model  string `json:"model"`
		Rounds []struct {
			Tools []string `json:"tools"`
		} `json:"rounds"`
	}
	raw, err := json.Marshal(version(t, withTranscripts, 0)["planning"].(map[string]any)["transcript"])
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &transcript))
	assert.Equal(t, "gpt-e2e", transcript.Model)
	require.Len(t, transcript.Rounds, 1)
	assert.NotEmpty(t, transcript.Rounds[0].Tools)

	// Not runnable before confirmation; confirmed, it runs.
	status, out := s.json("POST", "/v1/executions", user, fmt.Sprintf(`{"plan_id":%q}`, planID))
	require.NotEqual(t, http.StatusAccepted, status, "an unconfirmed plan does not run: %v", out)
	status, confirmed := s.json("POST", "/v1/plans/"+planID+"/confirm", user, `{"version":2}`)
	require.Equal(t, http.StatusOK, status, confirmed)
	assert.Equal(t, "confirmed", confirmed["status"])
	assert.Equal(t, float64(2), confirmed["confirmation"].(map[string]any)["version"])

	id, _ := s.startExecution(user, planID, "")
	got := s.awaitExecution(user, id)
	require.Equal(t, "completed", got["status"], got)
	byKey := map[string]map[string]any{}
	for _, raw := range got["steps"].([]any) {
		st := raw.(map[string]any)
		byKey[st["key"].(string)] = st
	}
	require.Contains(t, byKey, "user")
	var made map[string]any
	require.NoError(t, json.Unmarshal([]byte(byKey["user"]["response"].(map[string]any)["body"].(string)), &made))
	assert.Equal(t, "Ann Lee", made["name"])
	request := byKey["todos"]["request"].(map[string]any)
	assert.Contains(t, request["url"], fmt.Sprintf("/users/%v/todos", made["id"]), "the new user's id reached the later step")
	var todos []map[string]any
	require.NoError(t, json.Unmarshal([]byte(byKey["todos"]["response"].(map[string]any)["body"].(string)), &todos))
	require.Len(t, todos, 1, "the todo the revision added")
	assert.Equal(t, "buy milk", todos[0]["title"])
	assert.Equal(t, made["id"], todos[0]["userId"])

	// A request no endpoint serves is answered as such, not forced: by
	// the model, or before asking it when nothing in the catalogue matches.
	status, flight := s.json("POST", "/v1/plans", user, `{"prompt":"Book a flight to Lisbon for the user ann"}`)
	require.Equal(t, http.StatusCreated, status, flight)
	assert.Equal(t, "no_suitable_endpoint", flight["status"], flight)
	assert.Equal(t, "no connection books flights", flight["reason"])
	assert.Nil(t, version(t, flight, 0)["plan"])
	assert.Len(t, model.Requests(), 3)
	status, out = s.json("POST", "/v1/plans/"+flight["id"].(string)+"/confirm", user, "")
	assert.Equal(t, http.StatusConflict, status, "nothing to confirm: %v", out)
	status, nothing := s.json("POST", "/v1/plans", user, `{"prompt":"xylophone zeppelin quokka"}`)
	require.Equal(t, http.StatusCreated, status, nothing)
	assert.Equal(t, "no_suitable_endpoint", nothing["status"], nothing)
	assert.Len(t, model.Requests(), 3, "the model is not asked to choose from nothing")

	// Token usage is summed over the tenant's planned versions.
	status, usage := s.json("GET", "/v1/plans/usage", s.admin, "")
	require.Equal(t, http.StatusOK, status, usage)
	assert.Equal(t, float64(1080+1620+715), usage["total_tokens"], usage)
	assert.Equal(t, float64(3), usage["model_requests"])
	assert.Equal(t, float64(4), usage["planned_versions"])

	// The list, newest first; another tenant sees none of it.
	status, list := s.json("GET", "/v1/plans", user, "")
	require.Equal(t, http.StatusOK, status, list)
	require.Len(t, list["plans"], 3)
	assert.Equal(t, nothing["id"], list["plans"].([]any)[0].(map[string]any)["id"])
	other := s.otherTenantAdmin()
	status, _ = s.json("GET", "/v1/plans/"+planID, other, "")
	assert.Equal(t, http.StatusNotFound, status)
	assert.NotContains(t, s.responses.String(), "sk-e2e-key", "the model's key reaches no response")
}

// version returns a plan's i-th version (the latest first).
func version(t *testing.T, pl map[string]any, i int) map[string]any {
	t.Helper()
	versions, ok := pl["versions"].([]any)
	require.True(t, ok, "versions: %v", pl)
	require.Greater(t, len(versions), i)
	return versions[i].(map[string]any)
}

// TestPlansWithoutAModel plans with no APIQ_LLM_* set: the answer is a
// low-confidence draft from the catalogue search that says how to
// configure a model, and a confirmed draft runs like any plan.
func TestPlansWithoutAModel(t *testing.T) {
	s := startService(t, nil)
	js := testservers.StartJSONServer(t, testservers.JSONServerFixture(t))
	status, conn := s.register(s.admin, map[string]any{"name": "todos", "base_url": js.URL, "document": string(js.OpenAPIDocument())})
	require.Equal(t, http.StatusCreated, status, conn)

	// min_position: the catalogue is read once its view includes the registration.
	status, draft := s.json("POST", "/v1/plans?min_position="+conn["position"].(string), s.admin, `{"prompt":"get the user by id=1"}`)
	require.Equal(t, http.StatusCreated, status, draft)
	require.Equal(t, "proposed", draft["status"], draft)
	assert.Equal(t, "low", draft["confidence"])
	for _, env := range []string{"APIQ_LLM_BASE_URL", "APIQ_LLM_API_KEY", "APIQ_LLM_MODEL"} {
		assert.Contains(t, draft["message"], env, "the answer says how to configure a model")
	}
	v := version(t, draft, 0)
	assert.Equal(t, "catalogue_search", v["planning"].(map[string]any)["mode"])
	steps := v["plan"].(map[string]any)["steps"].([]any)
	require.Len(t, steps, 1)
	call := steps[0].(map[string]any)["call"].(map[string]any)
	assert.Equal(t, "getUser", call["operation_id"])
	assert.Equal(t, map[string]any{"id": float64(1)}, call["path"])

	status, confirmed := s.json("POST", "/v1/plans/"+draft["id"].(string)+"/confirm", s.admin, "")
	require.Equal(t, http.StatusOK, status, confirmed)
	id, _ := s.startExecution(s.admin, draft["id"].(string), "")
	got := s.awaitExecution(s.admin, id)
	require.Equal(t, "completed", got["status"], got)
	step := got["steps"].([]any)[0].(map[string]any)
	assert.Equal(t, float64(200), step["http_status"])
	assert.Contains(t, step["request"].(map[string]any)["url"], "/users/1")
}
