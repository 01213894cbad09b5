package testservers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type todo struct {
	ID        int    `json:"id"`
	UserID    int    `json:"userId"`
	Title     string `json:"title"`
	Completed bool   `json:"completed"`
}

func TestJSONServerCRUD(t *testing.T) {
	t.Parallel()
	js := StartJSONServer(t, JSONServerFixture(t))

	created := call(t, "POST", js.URL+"/todos", nil, `{"userId":2,"title":"Ship it","completed":false}`)
	require.Equal(t, http.StatusCreated, created.status, "body: %s", created.body)
	var made todo
	require.NoError(t, json.Unmarshal(created.body, &made))
	id := fmt.Sprint(made.ID)

	patched := call(t, "PATCH", js.URL+"/todos/"+id, nil, `{"completed":true}`)
	page := call(t, "GET", js.URL+"/todos?userId=2&_page=1&_limit=2", nil, "")
	nested := call(t, "GET", js.URL+"/users/2/todos", nil, "")
	deleted := call(t, "DELETE", js.URL+"/todos/1", nil, "")
	missing := call(t, "GET", js.URL+"/todos/1", nil, "")

	assert.Equal(t, todo{ID: 13, UserID: 2, Title: "Ship it"}, made, "ids continue after the fixture's")
	assert.Equal(t, http.StatusOK, patched.status)
	require.Equal(t, http.StatusOK, page.status)
	assert.Equal(t, "4", page.header.Get("X-Total-Count"), "three fixture todos of user 2 and the new one")
	var nestedTodos []todo
	require.NoError(t, json.Unmarshal(nested.body, &nestedTodos))
	assert.Len(t, nestedTodos, 4)
	assert.Equal(t, http.StatusOK, deleted.status)
	assert.Equal(t, http.StatusNotFound, missing.status)

	var stored []todo
	js.DecodeResource(t, "todos", &stored)
	assert.Len(t, stored, 12, "12 in the fixture, one created, one deleted")
	assert.Contains(t, stored, todo{ID: 13, UserID: 2, Title: "Ship it", Completed: true})
	assert.Contains(t, js.Output(), "PATCH /todos/13 200")
}

func TestJSONServerTestsGetPrivateCopies(t *testing.T) {
	t.Parallel()
	a := StartJSONServer(t, JSONServerFixture(t))
	b := StartJSONServer(t, JSONServerFixture(t))

	created := call(t, "POST", a.URL+"/users", nil, `{"name":"Ken Thompson","username":"ken","email":"ken@example.com"}`)

	require.Equal(t, http.StatusCreated, created.status)
	assert.Len(t, a.Records(t, "users"), 6)
	assert.Len(t, b.Records(t, "users"), 5, "the other server's copy is untouched")
	assert.Equal(t, json.Number("6"), a.Records(t, "users")[5]["id"])
}

func TestJSONServerAuthMiddleware(t *testing.T) {
	t.Parallel()
	type request struct {
		name   string
		header http.Header
		query  string
		status int
	}
	servers := []struct {
		name     string
		opts     []JSONServerOption
		scheme   map[string]any // the served document's apiKey scheme
		requests []request
	}{
		{name: "open without configuration", scheme: map[string]any{"in": "header", "name": "X-API-Key"},
			requests: []request{{name: "no credentials", status: 200}}},
		{name: "header key or bearer",
			opts:   []JSONServerOption{JSONServerAPIKey("header", "X-Token", "k1"), JSONServerBearerToken("t1")},
			scheme: map[string]any{"in": "header", "name": "X-Token"},
			requests: []request{
				{name: "key", header: hdr("X-Token", "k1"), status: 200},
				{name: "wrong key", header: hdr("X-Token", "k2"), status: 401},
				{name: "key in another header", header: hdr("X-API-Key", "k1"), status: 401},
				{name: "bearer", header: hdr("Authorization", "Bearer t1"), status: 200},
				{name: "wrong bearer", header: hdr("Authorization", "Bearer t2"), status: 401},
				{name: "basic instead", header: hdr("Authorization", "Basic dTpw"), status: 401},
				{name: "nothing", status: 401},
			}},
		{name: "query key", opts: []JSONServerOption{JSONServerAPIKey("query", "key", "k1")},
			scheme: map[string]any{"in": "query", "name": "key"},
			requests: []request{
				{name: "key, not read as a filter", query: "key=k1", status: 200},
				{name: "wrong key", query: "key=k2", status: 401},
				{name: "key in a header", header: hdr("key", "k1"), status: 401},
			}},
		{name: "cookie key", opts: []JSONServerOption{JSONServerAPIKey("cookie", "session_key", "k1")},
			scheme: map[string]any{"in": "cookie", "name": "session_key"},
			requests: []request{
				{name: "key among cookies", header: hdr("Cookie", "other=1; session_key=k1"), status: 200},
				{name: "nothing", status: 401},
			}},
	}
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			js := StartJSONServer(t, JSONServerFixture(t), srv.opts...)

			doc := call(t, "GET", js.OpenAPIURL(), nil, "")
			require.Equal(t, http.StatusOK, doc.status, "the document needs no credentials")
			assert.JSONEq(t, string(js.OpenAPIDocument()), string(doc.body))
			scheme := doc.json(t)["components"].(map[string]any)["securitySchemes"].(map[string]any)["apiKey"].(map[string]any)
			assert.Equal(t, srv.scheme["in"], scheme["in"])
			assert.Equal(t, srv.scheme["name"], scheme["name"])
			assert.Len(t, js.Records(t, "users"), 5, "ReadDB authenticates as configured")

			for _, r := range srv.requests {
				url := js.URL + "/users"
				if r.query != "" {
					url += "?" + r.query
				}
				a := call(t, "GET", url, r.header, "")
				require.Equal(t, r.status, a.status, "%s: %s", r.name, a.body)
				if r.status == http.StatusOK {
					var users []map[string]any
					require.NoError(t, json.Unmarshal(a.body, &users))
					assert.Len(t, users, 5, r.name)
				} else {
					assert.Equal(t, "missing or invalid credentials", a.json(t)["error"], r.name)
				}
			}
		})
	}
}

func TestJSONServerIdempotencyKey(t *testing.T) {
	t.Parallel()
	const body = `{"userId":1,"title":"Once only","completed":false}`
	type post struct {
		path, key, body string
		status          int
		replayed        bool
	}
	tests := []struct {
		name    string
		posts   []post
		created int
	}{
		{name: "same key and body replays the first response", created: 1, posts: []post{
			{"/todos", "k1", body, 201, false}, {"/todos", "k1", body, 201, true}, {"/todos", "k1", body, 201, true}}},
		{name: "same key with other parameters is refused", created: 1, posts: []post{
			{"/todos", "k2", body, 201, false}, {"/todos", "k2", `{"userId":1,"title":"Other","completed":false}`, 400, false}}},
		{name: "same key on another path is refused", created: 1, posts: []post{
			{"/todos", "k3", body, 201, false}, {"/posts", "k3", body, 400, false}}},
		{name: "different keys create twice", created: 2, posts: []post{
			{"/todos", "k4", body, 201, false}, {"/todos", "k5", body, 201, false}}},
		{name: "no key creates twice", created: 2, posts: []post{
			{"/todos", "", body, 201, false}, {"/todos", "", body, 201, false}}},
	}
	enabled := StartJSONServer(t, JSONServerFixture(t), JSONServerIdempotency())
	disabled := StartJSONServer(t, JSONServerFixture(t))

	// The cases share one server and run in order, each counting what it created.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(enabled.Records(t, "todos"))
			var first []byte
			for i, p := range tt.posts {
				var h http.Header
				if p.key != "" {
					h = hdr("Idempotency-Key", p.key)
				}
				a := call(t, "POST", enabled.URL+p.path, h, p.body)
				require.Equal(t, p.status, a.status, "post %d: %s", i, a.body)
				assert.Equal(t, p.replayed, a.header.Get("Idempotent-Replayed") == "true", "post %d replayed", i)
				if i == 0 {
					first = a.body
				}
				if p.replayed {
					assert.Equal(t, string(first), string(a.body), "post %d gets the first response", i)
					assert.Contains(t, a.header.Get("Content-Type"), "application/json")
				}
				if a.status == http.StatusBadRequest {
					assert.Equal(t, "idempotency_error", a.json(t)["error"].(map[string]any)["type"])
				}
			}
			assert.Len(t, enabled.Records(t, "todos"), before+tt.created)
		})
	}
	t.Run("concurrent posts with one key create once", func(t *testing.T) {
		before := len(enabled.Records(t, "todos"))
		const n = 8
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				statuses[i] = call(t, "POST", enabled.URL+"/todos", hdr("Idempotency-Key", "race"), `{"userId":3,"title":"Race","completed":false}`).status
			})
		}
		wg.Wait()
		for i, s := range statuses {
			assert.Contains(t, []int{http.StatusCreated, http.StatusConflict}, s, "post %d", i)
		}
		assert.Contains(t, statuses, http.StatusCreated)
		assert.Len(t, enabled.Records(t, "todos"), before+1)
	})
	t.Run("keys ignored when not enabled", func(t *testing.T) {
		for range 2 {
			a := call(t, "POST", disabled.URL+"/todos", hdr("Idempotency-Key", "k1"), body)
			require.Equal(t, http.StatusCreated, a.status)
			assert.Empty(t, a.header.Get("Idempotent-Replayed"))
		}
		assert.Len(t, disabled.Records(t, "todos"), 14)
	})
}

// TestJSONServerDelayedCreateAfterDroppedConnection drops the connection of
// a POST while json-server pauses before handling it: the create still
// happens, and with Idempotency-Key honoured the key keeps its result, so
// the retry replays it instead of creating again.
func TestJSONServerDelayedCreateAfterDroppedConnection(t *testing.T) {
	t.Parallel()
	const body = `{"userId":2,"title":"Slow","completed":false}`
	tests := []struct {
		name        string
		idempotency bool
		created     int
		replayed    bool
	}{
		{name: "the key keeps the result of the abandoned request", idempotency: true, created: 1, replayed: true},
		{name: "without idempotency the retry creates again", created: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := []JSONServerOption{JSONServerDelay(300 * time.Millisecond)}
			if tt.idempotency {
				opts = append(opts, JSONServerIdempotency())
			}
			s := StartJSONServer(t, JSONServerFixture(t), opts...)
			before := len(s.Records(t, "todos"))

			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/todos", strings.NewReader(body))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", "dropped")
			_, err = (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
			require.ErrorIs(t, err, context.DeadlineExceeded, "the client gives up before the answer")
			require.Eventually(t, func() bool { return len(s.Records(t, "todos")) == before+1 }, 5*time.Second, 50*time.Millisecond,
				"the abandoned request still creates")

			a := call(t, "POST", s.URL+"/todos", hdr("Idempotency-Key", "dropped"), body)
			require.Equal(t, http.StatusCreated, a.status, "%s", a.body)
			assert.Equal(t, tt.replayed, a.header.Get("Idempotent-Replayed") == "true")
			assert.Len(t, s.Records(t, "todos"), before+tt.created)
		})
	}
}

// TestJSONServerDocumentWithoutIdempotencyKeyParameter serves the document
// with and without the POSTs' Idempotency-Key header parameter; both load
// and validate.
func TestJSONServerDocumentWithoutIdempotencyKeyParameter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts []JSONServerOption
		want int
	}{
		{name: "declared on the four creates", want: 4},
		{name: "declared nowhere", opts: []JSONServerOption{JSONServerWithoutIdempotencyKeyParameter()}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := StartJSONServer(t, JSONServerFixture(t), tt.opts...)
			served := call(t, "GET", s.OpenAPIURL(), nil, "")
			require.Equal(t, http.StatusOK, served.status)
			assert.JSONEq(t, string(s.OpenAPIDocument()), string(served.body))
			doc, err := openapi3.NewLoader().LoadFromData(served.body)
			require.NoError(t, err)
			require.NoError(t, doc.Validate(context.Background()))
			declared := 0
			for _, item := range doc.Paths.Map() {
				for _, op := range item.Operations() {
					for _, p := range op.Parameters {
						if p.Value != nil && p.Value.In == "header" && p.Value.Name == "Idempotency-Key" {
							declared++
						}
					}
				}
			}
			assert.Equal(t, tt.want, declared)
			assert.NotNil(t, doc.Paths.Find("/todos").Post, "the creates stay")
		})
	}
}
