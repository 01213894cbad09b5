package testservers

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// exchange is one request of a conformance run, named by the operation it
// exercises.
type exchange struct {
	operationID string
	method      string
	path        string
	header      http.Header
	body        string
}

// TestHTTPBinDocumentMatchesTheServer sends a request for every operation
// of the httpbin document and checks request and response against it.
func TestHTTPBinDocumentMatchesTheServer(t *testing.T) {
	t.Parallel()
	bin := StartHTTPBin(t, HTTPBinAPIKey("k1"))
	key := hdr("X-API-Key", "k1")
	exchanges := []exchange{
		{operationID: "getRequest", method: "GET", path: "/get?q=x"},
		{operationID: "getAnything", method: "GET", path: "/anything/a?api_key=k1"},
		{operationID: "postAnything", method: "POST", path: "/anything/a", header: hdr("X-API-Key", "k1", "Idempotency-Key", "i1"), body: `{"a":1}`},
		{operationID: "putAnything", method: "PUT", path: "/anything/a", header: key, body: `{"a":1}`},
		{operationID: "patchAnything", method: "PATCH", path: "/anything/a", header: hdr("Cookie", "api_key=k1"), body: `{"a":1}`},
		{operationID: "deleteAnything", method: "DELETE", path: "/anything/a", header: key},
		{operationID: "deleteAnything", method: "DELETE", path: "/anything/a"},
		{operationID: "getHeaders", method: "GET", path: "/headers", header: key},
		{operationID: "checkBasicAuth", method: "GET", path: "/basic-auth/u/p", header: hdr("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("u:p")))},
		{operationID: "checkBasicAuth", method: "GET", path: "/basic-auth/u/p", header: hdr("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("u:x")))},
		{operationID: "checkBearer", method: "GET", path: "/bearer", header: hdr("Authorization", "Bearer t")},
		{operationID: "checkBearer", method: "GET", path: "/bearer"},
		{operationID: "getStatus", method: "GET", path: "/status/429?retry_after=2"},
		{operationID: "getStatus", method: "GET", path: "/status/500,503"},
		{operationID: "postStatus", method: "POST", path: "/status/201", header: hdr("Idempotency-Key", "i2"), body: `{}`},
		{operationID: "getDelayed", method: "GET", path: "/delay/0.01"},
		{operationID: "getUnstable", method: "GET", path: "/unstable?failure_rate=0.5&seed=3"},
		{operationID: "setResponseHeaders", method: "GET", path: "/response-headers?Retry-After=5&X-Test=1"},
		{operationID: "redirectTo", method: "GET", path: "/redirect-to?url=" + bin.URL + "/get&status_code=307"},
		{operationID: "postJSON", method: "POST", path: "/post", header: hdr("Idempotency-Key", "i3"), body: `{"a":[1,2]}`},
	}
	checkConformance(t, bin.OpenAPIDocument(), bin.URL, exchanges)
}

// TestJSONServerDocumentMatchesTheServer does the same for the json-server
// document and the default fixture.
func TestJSONServerDocumentMatchesTheServer(t *testing.T) {
	t.Parallel()
	js := StartJSONServer(t, JSONServerFixture(t), JSONServerBearerToken("t1"), JSONServerIdempotency())
	auth := hdr("Authorization", "Bearer t1")
	authKey := func(key string) http.Header { return hdr("Authorization", "Bearer t1", "Idempotency-Key", key) }
	exchanges := []exchange{
		{operationID: "listUsers", method: "GET", path: "/users?_page=1&_limit=2&_sort=name&_order=desc", header: auth},
		{operationID: "listUsers", method: "GET", path: "/users"},
		{operationID: "createUser", method: "POST", path: "/users", header: authKey("u1"), body: `{"name":"Ken Thompson","username":"ken","email":"ken@example.com"}`},
		{operationID: "getUser", method: "GET", path: "/users/1", header: auth},
		{operationID: "getUser", method: "GET", path: "/users/999", header: auth},
		{operationID: "replaceUser", method: "PUT", path: "/users/6", header: auth, body: `{"name":"Ken Thompson","username":"kt","email":"kt@example.com"}`},
		{operationID: "updateUser", method: "PATCH", path: "/users/6", header: auth, body: `{"company":"Bell Labs"}`},
		{operationID: "listUserTodos", method: "GET", path: "/users/2/todos", header: auth},
		{operationID: "listUserPosts", method: "GET", path: "/users/1/posts?_page=1", header: auth},
		{operationID: "listTodos", method: "GET", path: "/todos?userId=1&completed=true&q=engine", header: auth},
		{operationID: "createTodo", method: "POST", path: "/todos", header: authKey("t1"), body: `{"userId":1,"title":"Write tests","completed":false}`},
		{operationID: "createTodo", method: "POST", path: "/todos", header: authKey("t1"), body: `{"userId":1,"title":"Write tests","completed":false}`},
		{operationID: "createTodo", method: "POST", path: "/todos", header: authKey("t1"), body: `{"userId":2,"title":"Other","completed":false}`},
		{operationID: "getTodo", method: "GET", path: "/todos/13", header: auth},
		{operationID: "replaceTodo", method: "PUT", path: "/todos/13", header: auth, body: `{"userId":1,"title":"Write more tests","completed":true}`},
		{operationID: "updateTodo", method: "PATCH", path: "/todos/13", header: auth, body: `{"completed":false}`},
		{operationID: "deleteTodo", method: "DELETE", path: "/todos/13", header: auth},
		{operationID: "deleteTodo", method: "DELETE", path: "/todos/13", header: auth},
		{operationID: "listPosts", method: "GET", path: "/posts?userId=4", header: auth},
		{operationID: "createPost", method: "POST", path: "/posts", header: auth, body: `{"userId":2,"title":"Bugs","body":"A moth."}`},
		{operationID: "getPost", method: "GET", path: "/posts/5", header: auth},
		{operationID: "replacePost", method: "PUT", path: "/posts/5", header: auth, body: `{"userId":2,"title":"Bugs","body":"Two moths."}`},
		{operationID: "updatePost", method: "PATCH", path: "/posts/5", header: auth, body: `{"title":"The bug"}`},
		{operationID: "listPostComments", method: "GET", path: "/posts/4/comments", header: auth},
		{operationID: "deletePost", method: "DELETE", path: "/posts/5", header: auth},
		{operationID: "listComments", method: "GET", path: "/comments?postId=1&_limit=1", header: auth},
		{operationID: "createComment", method: "POST", path: "/comments", header: auth, body: `{"postId":1,"name":"Ada","body":"Thank you."}`},
		{operationID: "getComment", method: "GET", path: "/comments/7", header: auth},
		{operationID: "replaceComment", method: "PUT", path: "/comments/7", header: auth, body: `{"postId":1,"name":"Ada","body":"Thanks."}`},
		{operationID: "updateComment", method: "PATCH", path: "/comments/7", header: auth, body: `{"email":"ada@example.com"}`},
		{operationID: "deleteComment", method: "DELETE", path: "/comments/7", header: auth},
		{operationID: "deleteUser", method: "DELETE", path: "/users/6", header: auth},
	}
	checkConformance(t, js.OpenAPIDocument(), js.URL, exchanges)
}

// checkConformance validates the document, checks that the exchanges cover
// every operation, then sends them in order, validating each request against
// the document (so the test's own inputs are right) and each response
// against the document (status declared, headers and body per schema).
func checkConformance(t *testing.T, data []byte, baseURL string, exchanges []exchange) {
	t.Helper()
	ctx := context.Background()
	doc, err := openapi3.NewLoader().LoadFromData(data)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(ctx))
	router, err := legacy.NewRouter(doc)
	require.NoError(t, err)

	var documented, exercised []string
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			documented = append(documented, op.OperationID)
		}
	}
	for _, ex := range exchanges {
		if !slices.Contains(exercised, ex.operationID) {
			exercised = append(exercised, ex.operationID)
		}
	}
	slices.Sort(documented)
	slices.Sort(exercised)
	require.Equal(t, documented, exercised, "every documented operation is exercised")

	opts := &openapi3filter.Options{
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		IncludeResponseStatus: true,
		MultiError:            true,
	}
	for i, ex := range exchanges {
		req, err := http.NewRequest(ex.method, baseURL+ex.path, strings.NewReader(ex.body))
		require.NoError(t, err)
		for k, vs := range ex.header {
			req.Header[k] = vs
		}
		if ex.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		route, params, err := router.FindRoute(req)
		require.NoError(t, err, "exchange %d: %s %s", i, ex.method, ex.path)
		require.Equal(t, ex.operationID, route.Operation.OperationID, "exchange %d", i)
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
		require.NoError(t, openapi3filter.ValidateRequest(ctx, in), "exchange %d: the test's request is valid", i)

		a := call(t, ex.method, baseURL+ex.path, req.Header, ex.body)
		out := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: in,
			Status:                 a.status,
			Header:                 a.header,
			Body:                   io.NopCloser(bytes.NewReader(a.body)),
			Options:                opts,
		}
		assert.NoError(t, openapi3filter.ValidateResponse(ctx, out), "exchange %d: %s %s answered %d %s", i, ex.method, ex.path, a.status, a.body)
	}
}
