package api

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/eventstore"
)

// errExecutionNotFound stands in for the execution's not-found sentinel.
var errExecutionNotFound = errUserNotFound

// fakeExecutions keeps execution streams in memory: appends wake the
// waiting event streams like the store's feed does.
type fakeExecutions struct {
	mu      sync.Mutex
	tenants map[string]string
	events  map[string][]ExecutionEvent
	wake    chan struct{}
}

func newFakeExecutions() *fakeExecutions {
	return &fakeExecutions{tenants: map[string]string{}, events: map[string][]ExecutionEvent{}, wake: make(chan struct{})}
}

// append records events of types on the stream of id in tenant.
func (f *fakeExecutions) append(tenantID, id string, types ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tenants[id] = tenantID
	for _, typ := range types {
		v := int64(len(f.events[id]))
		f.events[id] = append(f.events[id], ExecutionEvent{Version: v, Type: typ, At: time.Now().UTC(), Data: json.RawMessage(`{"n":1}`)})
	}
	close(f.wake)
	f.wake = make(chan struct{})
}

func (f *fakeExecutions) StartExecution(_ context.Context, meta eventstore.Metadata, in NewExecution) (ExecutionAccepted, error) {
	f.append(meta.TenantID, "x-"+in.PlanID, "execution.started")
	return ExecutionAccepted{ExecutionID: "x-" + in.PlanID, Status: "pending", Position: eventstore.Position{Commit: 1, Prepare: 1}.String()}, nil
}

func (f *fakeExecutions) CancelExecution(_ context.Context, meta eventstore.Metadata, id, _ string) (ExecutionAccepted, error) {
	if _, err := f.GetExecution(context.Background(), meta.TenantID, id); err != nil {
		return ExecutionAccepted{}, err
	}
	f.append(meta.TenantID, id, "execution.cancelled")
	return ExecutionAccepted{ExecutionID: id, Status: "cancelled", Position: eventstore.Position{Commit: 2, Prepare: 2}.String()}, nil
}

func (f *fakeExecutions) GetExecution(_ context.Context, tenantID, id string) (Execution, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tenants[id] != tenantID {
		return Execution{}, errExecutionNotFound
	}
	return Execution{ID: id, Status: "running", Inputs: map[string]any{}}, nil
}

func (f *fakeExecutions) ListExecutions(_ context.Context, tenantID string, _ ExecutionFilter) ([]Execution, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Execution
	for id, t := range f.tenants {
		if t == tenantID {
			out = append(out, Execution{ID: id, Status: "running", Inputs: map[string]any{}})
		}
	}
	return out, "", nil
}

func (f *fakeExecutions) ExecutionEvents(_ context.Context, tenantID, id string, after int64) ([]ExecutionEvent, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tenants[id] != tenantID {
		return nil, false, errExecutionNotFound
	}
	all := f.events[id]
	var out []ExecutionEvent
	for _, e := range all {
		if e.Version > after {
			out = append(out, e)
		}
	}
	last := all[len(all)-1].Type
	return out, last == "execution.completed" || last == "execution.cancelled", nil
}

func (f *fakeExecutions) WakeOnAppend(context.Context) <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.wake
}

// readSSE reads "id event" pairs from an event stream until it ends.
func readSSE(t *testing.T, resp *http.Response, got chan<- string) {
	defer close(got)
	sc := bufio.NewScanner(resp.Body)
	var id string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			got <- id + " " + strings.TrimPrefix(line, "event: ")
		}
	}
	assert.NoError(t, sc.Err())
}

func TestExecutionEventsStreamLiveAndResume(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.executions.append("tenant-1", "e1", "execution.started", "execution.step_started")
	srv := httptest.NewServer(h.handler)
	t.Cleanup(srv.Close)
	open := func(lastEventID string) *http.Response {
		req, err := http.NewRequest("GET", srv.URL+"/v1/executions/e1/events", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer token-alice")
		if lastEventID != "" {
			req.Header.Set("Last-Event-ID", lastEventID)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}

	resp := open("")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	got := make(chan string, 16)
	go readSSE(t, resp, got)
	assert.Equal(t, "0 execution.started", <-got)
	assert.Equal(t, "1 execution.step_started", <-got)
	// Live: appended after the client connected.
	h.executions.append("tenant-1", "e1", "execution.step_succeeded")
	assert.Equal(t, "2 execution.step_succeeded", <-got)
	h.executions.append("tenant-1", "e1", "execution.completed")
	assert.Equal(t, "3 execution.completed", <-got)
	_, open1 := <-got
	assert.False(t, open1, "the stream ends after the final event")

	// Resume after version 1, and after the final event (nothing, ends).
	got = make(chan string, 16)
	go readSSE(t, open("1"), got)
	var resumed []string
	for e := range got {
		resumed = append(resumed, e)
	}
	assert.Equal(t, []string{"2 execution.step_succeeded", "3 execution.completed"}, resumed)
	got = make(chan string, 16)
	go readSSE(t, open("3"), got)
	_, any := <-got
	assert.False(t, any)
}

func TestExecutionRoutesRefuseStrangersAndBadInput(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.executions.append("tenant-2", "theirs", "execution.started")
	for _, tc := range []struct {
		name, method, path, body string
		headers                  []string
		status                   int
	}{
		{"other tenant's detail", "GET", "/v1/executions/theirs", "", asUser, http.StatusNotFound},
		{"other tenant's events", "GET", "/v1/executions/theirs/events", "", asUser, http.StatusNotFound},
		{"other tenant's cancel", "POST", "/v1/executions/theirs/cancel", "", asUser, http.StatusNotFound},
		{"bad Last-Event-ID", "GET", "/v1/executions/theirs/events", "", with(asUser, "Last-Event-ID", "abc"), http.StatusBadRequest},
		{"start without plan", "POST", "/v1/executions", `{}`, asUser, http.StatusBadRequest},
		{"start with unknown field", "POST", "/v1/executions", `{"plan_id":"p","x":1}`, asUser, http.StatusBadRequest},
		{"bad status filter", "GET", "/v1/executions?status=sleeping", "", asUser, http.StatusBadRequest},
		{"bad time filter", "GET", "/v1/executions?since=yesterday", "", asUser, http.StatusBadRequest},
		{"anonymous", "GET", "/v1/executions", "", nil, http.StatusUnauthorized},
		{"start", "POST", "/v1/executions", `{"plan_id":"p","inputs":{"a":1}}`, asUser, http.StatusAccepted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := h.do(tc.method, tc.path, tc.body, tc.headers...)
			assert.Equal(t, tc.status, rec.Code, rec.Body.String())
		})
	}
}
