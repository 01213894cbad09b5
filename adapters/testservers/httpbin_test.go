package testservers

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHTTPBinAnswersAndChecksCredentials(t *testing.T) {
	t.Parallel()
	bin := StartHTTPBin(t, HTTPBinAPIKey("k-123"))
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("ann:s3cret"))
	wrongBasic := "Basic " + base64.StdEncoding.EncodeToString([]byte("ann:nope"))

	tests := []struct {
		name   string
		method string
		path   string
		header http.Header
		body   string
		status int
		check  func(t *testing.T, a answer)
	}{
		{name: "get echoes the query", method: "GET", path: "/get?q=hello", status: 200,
			check: func(t *testing.T, a answer) {
				assert.Equal(t, map[string]any{"q": []any{"hello"}}, a.json(t)["args"])
			}},
		{name: "post echoes the JSON body", method: "POST", path: "/post", body: `{"n":1}`, status: 200,
			check: func(t *testing.T, a answer) { assert.Equal(t, map[string]any{"n": 1.0}, a.json(t)["json"]) }},
		{name: "bearer accepted", method: "GET", path: "/bearer", header: hdr("Authorization", "Bearer tok"), status: 200,
			check: func(t *testing.T, a answer) { assert.Equal(t, "tok", a.json(t)["token"]) }},
		{name: "bearer missing", method: "GET", path: "/bearer", status: 401,
			check: func(t *testing.T, a answer) { assert.Equal(t, "Bearer", a.header.Get("WWW-Authenticate")) }},
		{name: "basic accepted", method: "GET", path: "/basic-auth/ann/s3cret", header: hdr("Authorization", basic), status: 200,
			check: func(t *testing.T, a answer) { assert.Equal(t, true, a.json(t)["authenticated"]) }},
		{name: "basic wrong password", method: "GET", path: "/basic-auth/ann/s3cret", header: hdr("Authorization", wrongBasic), status: 401,
			check: func(t *testing.T, a answer) { assert.Equal(t, false, a.json(t)["authenticated"]) }},
		{name: "api key in header", method: "GET", path: "/headers", header: hdr("X-API-Key", "k-123"), status: 200,
			check: func(t *testing.T, a answer) {
				assert.Equal(t, []any{"k-123"}, a.json(t)["headers"].(map[string]any)["X-Api-Key"])
			}},
		{name: "api key in query", method: "GET", path: "/anything/x?api_key=k-123", status: 200,
			check: func(t *testing.T, a answer) {
				assert.Equal(t, map[string]any{"api_key": []any{"k-123"}}, a.json(t)["args"])
			}},
		{name: "api key in cookie", method: "DELETE", path: "/anything/x", header: hdr("Cookie", "api_key=k-123"), status: 200,
			check: func(t *testing.T, a answer) { assert.Equal(t, "DELETE", a.json(t)["method"]) }},
		{name: "api key missing", method: "GET", path: "/headers", status: 401,
			check: func(t *testing.T, a answer) { assert.Equal(t, 401.0, a.json(t)["status_code"]) }},
		{name: "api key wrong", method: "POST", path: "/anything/x", header: hdr("X-API-Key", "k-999"), body: `{}`, status: 401,
			check: func(t *testing.T, a answer) { assert.Equal(t, "Unauthorized", a.json(t)["error"]) }},
		{name: "429 carries the default Retry-After", method: "GET", path: "/status/429", status: 429,
			check: func(t *testing.T, a answer) { assert.Equal(t, "1", a.header.Get("Retry-After")) }},
		{name: "429 Retry-After chosen by the request", method: "POST", path: "/status/429?retry_after=7", body: `{}`, status: 429,
			check: func(t *testing.T, a answer) { assert.Equal(t, "7", a.header.Get("Retry-After")) }},
		{name: "429 Retry-After as an HTTP-date", method: "GET", path: "/status/429?retry_after_date=30", status: 429,
			check: func(t *testing.T, a answer) { assertRetryAfterDate(t, a, 30*time.Second) }},
		{name: "503 has no Retry-After", method: "GET", path: "/status/503", status: 503,
			check: func(t *testing.T, a answer) { assert.Empty(t, a.header.Get("Retry-After")) }},
		{name: "unstable never fails at rate 0", method: "GET", path: "/unstable?failure_rate=0", status: 200},
		{name: "unstable always fails at rate 1", method: "GET", path: "/unstable?failure_rate=1", status: 500},
		{name: "delay answers", method: "GET", path: "/delay/0.05", status: 200,
			check: func(t *testing.T, a answer) { assert.Contains(t, a.header.Get("Server-Timing"), "initial_delay") }},
		{name: "response headers set from the query", method: "GET", path: "/response-headers?Retry-After=5", status: 200,
			check: func(t *testing.T, a answer) { assert.Equal(t, "5", a.header.Get("Retry-After")) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := call(t, tt.method, bin.URL+tt.path, tt.header, tt.body)
			require.Equal(t, tt.status, a.status, "body: %s", a.body)
			if tt.check != nil {
				tt.check(t, a)
			}
		})
	}
}

func TestHTTPBinRedirectsToLoopback(t *testing.T) {
	t.Parallel()
	bin := StartHTTPBin(t)
	target := StartHTTPBin(t)

	a := call(t, "GET", bin.URL+"/redirect-to?url="+target.URL+"/get&status_code=307", nil, "")

	assert.Equal(t, http.StatusTemporaryRedirect, a.status)
	assert.Equal(t, target.URL+"/get", a.header.Get("Location"))
}

func TestHTTPBinRetryAfterOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		opt   HTTPBinOption
		check func(t *testing.T, a answer)
	}{
		{name: "seconds", opt: HTTPBinRetryAfterSeconds(3),
			check: func(t *testing.T, a answer) { assert.Equal(t, "3", a.header.Get("Retry-After")) }},
		{name: "http-date", opt: HTTPBinRetryAfterDate(2 * time.Minute),
			check: func(t *testing.T, a answer) { assertRetryAfterDate(t, a, 2*time.Minute) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			bin := StartHTTPBin(t, tt.opt)
			a := call(t, "GET", bin.URL+"/status/429", nil, "")
			require.Equal(t, http.StatusTooManyRequests, a.status)
			tt.check(t, a)
		})
	}
}

func TestHTTPBinWithoutAPIKeyAcceptsAnyRequest(t *testing.T) {
	t.Parallel()
	bin := StartHTTPBin(t)

	a := call(t, "GET", bin.URL+"/headers", nil, "")

	assert.Equal(t, http.StatusOK, a.status)
}

func TestHTTPBinServesItsDocumentAndRecordsRequests(t *testing.T) {
	t.Parallel()
	bin := StartHTTPBin(t)

	doc := call(t, "GET", bin.OpenAPIURL(), nil, "")
	call(t, "POST", bin.URL+"/status/500", hdr("Idempotency-Key", "idem-1"), `{}`)
	call(t, "POST", bin.URL+"/status/500", nil, `{}`)
	call(t, "GET", bin.URL+"/get?a=1", nil, "")

	require.Equal(t, http.StatusOK, doc.status)
	assert.Equal(t, "application/json", doc.header.Get("Content-Type"))
	assert.JSONEq(t, string(bin.OpenAPIDocument()), string(doc.body))
	var parsed struct {
		Servers []struct{ URL string } `json:"servers"`
	}
	require.NoError(t, json.Unmarshal(doc.body, &parsed))
	assert.Equal(t, []struct{ URL string }{{URL: bin.URL}}, parsed.Servers)

	assert.Equal(t, 2, bin.RequestCount("POST", "/status/500"))
	reqs := bin.Requests()
	require.Len(t, reqs, 3, "the document request is not recorded")
	assert.Equal(t, "idem-1", reqs[0].Header.Get("Idempotency-Key"))
	assert.Equal(t, "1", reqs[2].Query.Get("a"))
}

func assertRetryAfterDate(t *testing.T, a answer, after time.Duration) {
	t.Helper()
	value := a.header.Get("Retry-After")
	_, err := strconv.Atoi(value)
	require.Error(t, err, "Retry-After %q is seconds, not a date", value)
	when, err := http.ParseTime(value)
	require.NoError(t, err, "Retry-After %q", value)
	assert.WithinDuration(t, time.Now().Add(after), when, 2*time.Second)
}
