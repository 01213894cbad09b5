package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/testservers"
	"github.com/apiq/apiq/domain/plan"
	"github.com/apiq/apiq/http/auth"
)

// confirmPlan records a plan with one proposed version and its
// confirmation on the plan's stream in the tenant of token's caller, the
// way the plan commands do, and returns the plan id.
func (s *service) confirmPlan(token string, p plan.Plan) string {
	s.t.Helper()
	_, me := s.json("GET", "/v1/me", token, "")
	tenantID, userID := me["tenant_id"].(string), me["user"].(map[string]any)["id"].(string)
	id := uuid.NewString()
	var st plan.State
	requested, err := plan.Decide(st, plan.Request{PlanID: id, Prompt: "run the flow", By: userID,
		Result: plan.Result{Status: plan.StatusProposed, Outcome: plan.Outcome{Plan: &p}}})
	require.NoError(s.t, err)
	for _, ev := range requested {
		st = plan.Evolve(st, ev)
	}
	confirmed, err := plan.Decide(st, plan.Confirm{By: userID, Role: auth.RoleAdmin})
	require.NoError(s.t, err)
	stream := plan.Stream(id)
	var data []eventstore.EventData
	for i, ev := range append(requested, confirmed...) {
		raw, err := json.Marshal(ev)
		require.NoError(s.t, err)
		data = append(data, eventstore.EventData{ID: eventstore.EventID(tenantID, stream, "confirm-"+id, i), Type: ev.EventType(),
			Data: raw, Metadata: eventstore.Metadata{TenantID: tenantID, SchemaVersion: ev.SchemaVersion(), OccurredAt: time.Now().UTC(),
				Actor: eventstore.Actor{Subject: userID, Role: auth.RoleAdmin, AuthMethod: "password"}, RequestID: "confirm-" + id}})
	}
	_, err = s.core.store.Append(context.Background(), stream, eventstore.NoStream, data)
	require.NoError(s.t, err)
	return id
}

// transformPlan is a plan that calls nothing.
func transformPlan() plan.Plan {
	return plan.Plan{Inputs: []plan.Input{{Name: "n", Default: 2.0}},
		Steps: []plan.Step{{ID: "double", Kind: plan.KindTransform, Transform: &plan.Transform{Expr: "inputs.n * 2"}}}}
}

// startExecution posts an execution and returns its id and position.
func (s *service) startExecution(token, planID, inputs string) (string, string) {
	s.t.Helper()
	body := fmt.Sprintf(`{"plan_id":%q}`, planID)
	if inputs != "" {
		body = fmt.Sprintf(`{"plan_id":%q,"inputs":%s}`, planID, inputs)
	}
	status, out := s.json("POST", "/v1/executions", token, body)
	require.Equal(s.t, http.StatusAccepted, status, out)
	assert.Contains(s.t, []any{"pending", "running", "completed"}, out["status"])
	return out["execution_id"].(string), out["position"].(string)
}

// awaitExecution reads the execution until its status is final.
func (s *service) awaitExecution(token, id string) map[string]any {
	s.t.Helper()
	var out map[string]any
	require.Eventually(s.t, func() bool {
		var status int
		status, out = s.json("GET", "/v1/executions/"+id, token, "")
		if status != http.StatusOK {
			return false
		}
		switch out["status"] {
		case "completed", "failed", "cancelled", "needs_attention":
			return true
		}
		return false
	}, 30*time.Second, 20*time.Millisecond, "execution %s ends", id)
	return out
}

// sseEvent is one received Server-Sent Event.
type sseEvent struct {
	ID, Event string
	Data      map[string]any
}

// readEvents reads an execution's event stream until the server ends it.
func (s *service) readEvents(token, id string, lastEventID string) (int, string, []sseEvent) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", s.base+"/v1/executions/"+id+"/events", nil)
	require.NoError(s.t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	var events []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.ID != "" {
				events = append(events, cur)
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "id: "):
			cur.ID = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			cur.Event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			require.NoError(s.t, json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &cur.Data))
		}
	}
	require.NoError(s.t, sc.Err(), "the stream ends cleanly")
	return resp.StatusCode, resp.Header.Get("Content-Type"), events
}

func eventTypes(events []sseEvent) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.Event
	}
	return out
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

// TestExecutionsThroughTheAPI runs a json-server CRUD flow through the
// real router, engine, projector and PostgreSQL: data passed between steps
// shows in the detail, the events stream live and resume from
// Last-Event-ID, the list filters and pages, and cancel stops a run.
func TestExecutionsThroughTheAPI(t *testing.T) {
	s := startService(t, nil)
	js := testservers.StartJSONServer(t, testservers.JSONServerFixture(t))
	status, conn := s.register(s.admin, map[string]any{"name": "todos", "base_url": js.URL, "document": string(js.OpenAPIDocument())})
	require.Equal(t, http.StatusCreated, status, conn)
	planID := s.confirmPlan(s.admin, userTodosPlan(conn["id"].(string)))
	user := s.user("runner@example.com", auth.RoleUser)

	id, _ := s.startExecution(user, planID, `{"name":"Ann","todos":["milk","eggs","bread"]}`)
	// Live: the stream follows the run and ends with its last event.
	code, contentType, events := s.readEvents(user, id, "")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "text/event-stream", contentType)
	require.NotEmpty(t, events)
	assert.Equal(t, "execution.started", events[0].Event)
	assert.Equal(t, "execution.completed", events[len(events)-1].Event, eventTypes(events))
	for i, e := range events {
		assert.Equal(t, strconv.Itoa(i), e.ID, "ids are the stream versions")
		assert.Equal(t, float64(i), e.Data["version"])
	}

	// Resume: only the events after Last-Event-ID; none after the last.
	_, _, rest := s.readEvents(user, id, "2")
	require.Len(t, rest, len(events)-3)
	assert.Equal(t, "3", rest[0].ID)
	_, _, none := s.readEvents(user, id, events[len(events)-1].ID)
	assert.Empty(t, none)

	got := s.awaitExecution(user, id)
	require.Equal(t, "completed", got["status"], got)
	steps := map[string]map[string]any{}
	var keys []string
	for _, raw := range got["steps"].([]any) {
		st := raw.(map[string]any)
		steps[st["key"].(string)] = st
		keys = append(keys, st["key"].(string))
	}
	assert.Equal(t, []string{"make_user", "each[0].todo", "each[1].todo", "each[2].todo", "todos", "count"}, keys)
	mk := steps["make_user"]
	assert.Equal(t, "succeeded", mk["status"])
	assert.Equal(t, float64(201), mk["http_status"])
	assert.Equal(t, float64(1), mk["attempts"])
	var made map[string]any
	require.NoError(t, json.Unmarshal([]byte(mk["response"].(map[string]any)["body"].(string)), &made))
	request := steps["todos"]["request"].(map[string]any)
	assert.Equal(t, "GET", request["method"])
	assert.Contains(t, request["url"], fmt.Sprintf("/users/%v/todos", made["id"]), "the new user's id reached the later step")
	assert.NotEmpty(t, steps["each[1].todo"]["request"].(map[string]any)["idempotency_key"])
	assert.Equal(t, "succeeded", steps["count"]["status"])
	assert.Equal(t, map[string]any{"name": "Ann", "todos": []any{"milk", "eggs", "bread"}}, got["inputs"])

	// The list: filters and keyset pages.
	second, _ := s.startExecution(s.admin, s.confirmPlan(s.admin, transformPlan()), "")
	s.awaitExecution(s.admin, second)
	status, list := s.json("GET", "/v1/executions?limit=1", user, "")
	require.Equal(t, http.StatusOK, status, list)
	require.Len(t, list["executions"], 1)
	assert.Equal(t, second, list["executions"].([]any)[0].(map[string]any)["id"], "newest first")
	status, page2 := s.json("GET", "/v1/executions?limit=1&after="+list["next"].(string), user, "")
	require.Equal(t, http.StatusOK, status, page2)
	assert.Equal(t, id, page2["executions"].([]any)[0].(map[string]any)["id"])
	assert.NotContains(t, page2, "next")
	status, byPlan := s.json("GET", "/v1/executions?plan_id="+planID+"&status=completed", user, "")
	require.Equal(t, http.StatusOK, status)
	require.Len(t, byPlan["executions"], 1)
	assert.Equal(t, id, byPlan["executions"].([]any)[0].(map[string]any)["id"])
	status, failed := s.json("GET", "/v1/executions?status=failed", user, "")
	require.Equal(t, http.StatusOK, status)
	assert.Empty(t, failed["executions"])
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	status, later := s.json("GET", "/v1/executions?since="+future, user, "")
	require.Equal(t, http.StatusOK, status)
	assert.Empty(t, later["executions"])
	status, earlier := s.json("GET", "/v1/executions?until="+future, user, "")
	require.Equal(t, http.StatusOK, status)
	assert.Len(t, earlier["executions"], 2)

	// Unknown plans, unknown inputs and a bad Last-Event-ID are refused.
	status, out := s.json("POST", "/v1/executions", user, `{"plan_id":"no-such-plan"}`)
	assert.Equal(t, http.StatusNotFound, status, out)
	status, out = s.json("POST", "/v1/executions", user, fmt.Sprintf(`{"plan_id":%q,"inputs":{"name":"A","todos":[],"x":1}}`, planID))
	assert.Equal(t, http.StatusBadRequest, status, out)
	assert.Equal(t, "validation_failed", errorCode(out))
	code, _, _ = s.readEvents(user, id, "x")
	assert.Equal(t, http.StatusBadRequest, code)
	status, out = s.json("POST", "/v1/executions/"+id+"/cancel", user, "")
	assert.Equal(t, http.StatusConflict, status, "a finished execution cannot be cancelled: %v", out)
}

// slowAPI is a one-operation API whose answer takes a while.
func slowAPI(t *testing.T, delay time.Duration) (string, string) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(srv.Close)
	doc := `{"openapi":"3.0.3","info":{"title":"Slow","version":"1"},"servers":[{"url":"` + srv.URL + `"}],` +
		`"paths":{"/slow":{"get":{"operationId":"slow","responses":{"200":{"description":"ok"}}}}}}`
	return srv.URL, doc
}

// TestExecutionCancelTenantsAndRoles cancels a running execution, and
// checks that another tenant sees none of it and AUDITOR only reads.
func TestExecutionCancelTenantsAndRoles(t *testing.T) {
	s := startService(t, nil)
	base, doc := slowAPI(t, 700*time.Millisecond)
	status, conn := s.register(s.admin, map[string]any{"name": "slow", "base_url": base, "document": doc})
	require.Equal(t, http.StatusCreated, status, conn)
	call := &plan.Call{ConnectionID: conn["id"].(string), OperationID: "slow"}
	planID := s.confirmPlan(s.admin, plan.Plan{Steps: []plan.Step{
		{ID: "first", Kind: plan.KindCall, Call: call}, {ID: "second", Kind: plan.KindCall, Call: call},
		{ID: "third", Kind: plan.KindCall, Call: call}}})
	auditor := s.user("auditor@example.com", auth.RoleAuditor)
	other := s.otherTenantAdmin()

	id, _ := s.startExecution(s.admin, planID, "")
	status, out := s.json("POST", "/v1/executions/"+id+"/cancel", auditor, `{"reason":"no"}`)
	assert.Equal(t, http.StatusForbidden, status, out)
	status, out = s.json("POST", "/v1/executions/"+id+"/cancel", other, `{"reason":"no"}`)
	assert.Equal(t, http.StatusNotFound, status, out)
	status, out = s.json("POST", "/v1/executions", auditor, fmt.Sprintf(`{"plan_id":%q}`, planID))
	assert.Equal(t, http.StatusForbidden, status, out)
	status, out = s.json("POST", "/v1/executions", other, fmt.Sprintf(`{"plan_id":%q}`, planID))
	assert.Equal(t, http.StatusNotFound, status, "another tenant's plan: %v", out)

	status, out = s.json("POST", "/v1/executions/"+id+"/cancel", s.admin, `{"reason":"changed my mind"}`)
	require.Equal(t, http.StatusOK, status, out)
	assert.Equal(t, "cancelled", out["status"])
	got := s.awaitExecution(auditor, id)
	assert.Equal(t, "cancelled", got["status"])
	assert.Equal(t, "changed my mind", got["outcome"].(map[string]any)["reason"])
	_, _, events := s.readEvents(auditor, id, "")
	require.NotEmpty(t, events)
	assert.Equal(t, "execution.cancelled", events[len(events)-1].Event, eventTypes(events))
	assert.NotContains(t, eventTypes(events), "execution.completed")

	for _, path := range []string{"/v1/executions/" + id, "/v1/executions/" + id + "/events"} {
		status, _, raw := s.send("GET", path, other, nil, "")
		assert.Equal(t, http.StatusNotFound, status, "%s: %s", path, raw)
	}
	status, list := s.json("GET", "/v1/executions", other, "")
	require.Equal(t, http.StatusOK, status)
	assert.Empty(t, list["executions"])
	status, list = s.json("GET", "/v1/executions", auditor, "")
	require.Equal(t, http.StatusOK, status)
	assert.Len(t, list["executions"], 1)
}
