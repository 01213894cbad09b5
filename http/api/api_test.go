package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/http/apierror"
	"github.com/apiq/apiq/http/telemetry"
)

func TestValidationFailures(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	valid := `{"email":"bob@example.com","name":"Bob","password":"long enough pw","role":"USER"}`
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		wantStatus int
		wantCode   apierror.Code
		wantField  string
	}{
		{"unknown field", "POST", "/v1/users", strings.Replace(valid, `"role"`, `"admin":true,"role"`, 1), 400, apierror.CodeValidationFailed, "/admin"},
		{"wrong type", "POST", "/v1/users", strings.Replace(valid, `"Bob"`, `42`, 1), 400, apierror.CodeValidationFailed, "/name"},
		{"missing field", "POST", "/v1/users", `{"email":"bob@example.com","name":"Bob","password":"long enough pw"}`, 400, apierror.CodeValidationFailed, "/role"},
		{"bad enum", "POST", "/v1/users", strings.Replace(valid, `"USER"`, `"ROOT"`, 1), 400, apierror.CodeValidationFailed, "/role"},
		{"malformed json", "POST", "/v1/users", `{"email":`, 400, apierror.CodeValidationFailed, ""},
		{"empty patch", "PATCH", "/v1/users/alice", `{}`, 400, apierror.CodeValidationFailed, "/"},
		{"bad min_position", "GET", "/v1/users?min_position=zz", "", 400, apierror.CodeValidationFailed, "min_position"},
		{"body where none belongs", "DELETE", "/v1/users/alice", `{"x":1}`, 400, apierror.CodeValidationFailed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := h.do(tt.method, tt.path, tt.body, asAdmin...)
			require.Equal(t, tt.wantStatus, rec.Code, rec.Body.String())
			body := errorBody(t, rec)
			assert.Equal(t, tt.wantCode, body.Code)
			details, ok := body.Details.([]any)
			require.True(t, ok, "details list the problems: %s", rec.Body.String())
			require.NotEmpty(t, details)
			if tt.wantField != "" {
				var fields []string
				for _, d := range details {
					fields = append(fields, fmt.Sprint(d.(map[string]any)["field"]))
				}
				assert.Contains(t, fields, tt.wantField, rec.Body.String())
			}
		})
	}
	assert.Zero(t, h.identity.creates.Load(), "no invalid request reached a command")
}

func TestValidationReportsEveryProblemAtOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	rec := h.do("POST", "/v1/users", `{"email":"nope","name":"","password":"short","role":"USER","extra":1}`, asAdmin...)
	require.Equal(t, http.StatusBadRequest, rec.Code)
	details := errorBody(t, rec).Details.([]any)
	assert.Len(t, details, 4, rec.Body.String())
	assert.NotContains(t, rec.Body.String(), "short", "problems never echo values")
}

func TestUnsupportedContentType(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	rec := h.do("POST", "/v1/users", "", asAdmin...)
	require.Equal(t, http.StatusBadRequest, rec.Code, "a missing body is a validation failure")
	assert.Equal(t, apierror.CodeValidationFailed, errorBody(t, rec).Code)

	req := newChunkedRequest("POST", "/v1/users", "email=x", asAdmin...)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec = h.serve(req)
	require.Equal(t, http.StatusUnsupportedMediaType, rec.Code, rec.Body.String())
	assert.Equal(t, apierror.CodeUnsupportedMedia, errorBody(t, rec).Code)
}

func TestErrorBodyForUnknownRoutesAndMethods(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	tests := []struct {
		method, path string
		status       int
		code         apierror.Code
	}{
		{"GET", "/nope", http.StatusNotFound, apierror.CodeNotFound},
		{"GET", "/v1/users/", http.StatusNotFound, apierror.CodeNotFound},
		{"DELETE", "/healthz", http.StatusMethodNotAllowed, apierror.CodeMethodNotAllowed},
		{"PUT", "/v1/users", http.StatusMethodNotAllowed, apierror.CodeMethodNotAllowed},
		{"GET", "/v1/users/nobody", http.StatusNotFound, apierror.CodeNotFound},
	}
	for _, tt := range tests {
		rec := h.do(tt.method, tt.path, "", asAdmin...)
		require.Equal(t, tt.status, rec.Code, "%s %s: %s", tt.method, tt.path, rec.Body.String())
		assert.Equal(t, tt.code, errorBody(t, rec).Code, "%s %s", tt.method, tt.path)
	}
}

func TestBodySizeLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	big := `{"email":"bob@example.com","name":"` + strings.Repeat("x", 8<<10) + `","password":"long enough pw","role":"USER"}`
	rec := h.do("POST", "/v1/users", big, asAdmin...)
	require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code, rec.Body.String())
	assert.Equal(t, apierror.CodePayloadTooLarge, errorBody(t, rec).Code)

	// Without a Content-Length the limit applies while reading.
	req := newChunkedRequest("POST", "/v1/users", big, asAdmin...)
	rec = h.serve(req)
	require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code, rec.Body.String())
	assert.Equal(t, apierror.CodePayloadTooLarge, errorBody(t, rec).Code)
	assert.Zero(t, h.identity.creates.Load())
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	tests := []struct {
		name   string
		header []string
		status int
		code   apierror.Code
	}{
		{"no credentials", nil, http.StatusUnauthorized, apierror.CodeUnauthorized},
		{"wrong scheme", []string{"Authorization", "Basic YWRtaW46eA=="}, http.StatusUnauthorized, apierror.CodeUnauthorized},
		{"invalid token", []string{"Authorization", "Bearer forged"}, http.StatusUnauthorized, apierror.CodeUnauthorized},
		{"disabled user", []string{"Authorization", "Bearer token-gone"}, http.StatusUnauthorized, apierror.CodeUnauthorized},
		{"deleted user", []string{"Authorization", "Bearer token-nobody"}, http.StatusUnauthorized, apierror.CodeUnauthorized},
		{"user role on admin route", asUser, http.StatusForbidden, apierror.CodeForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := h.do("GET", "/v1/users", "", tt.header...)
			require.Equal(t, tt.status, rec.Code, rec.Body.String())
			assert.Equal(t, tt.code, errorBody(t, rec).Code)
			if tt.status == http.StatusUnauthorized {
				assert.Contains(t, rec.Header().Get("WWW-Authenticate"), "Bearer")
			}
		})
	}
	require.Equal(t, 1, h.identity.denialCount(), "the refusal was recorded")
	d := h.identity.denials[0]
	assert.Equal(t, "alice", d.Principal.UserID)
	assert.Equal(t, "/v1/users", d.Route)
	assert.Equal(t, "GET", d.Method)
	assert.NotEmpty(t, d.RequestID)

	rec := h.do("GET", "/v1/me", "", asUser...)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, "alice", decodeJSON(t, rec)["user"].(map[string]any)["id"])
}

func TestLoginAndCommands(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	rec := h.do("POST", "/v1/auth/login", `{"email":"admin@example.com","password":"correct horse"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	body := decodeJSON(t, rec)
	assert.Equal(t, "token-admin", body["access_token"])
	assert.Equal(t, "Bearer", body["token_type"])
	assert.EqualValues(t, 900, body["expires_in"])
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))

	rec = h.do("POST", "/v1/auth/login", `{"email":"admin@example.com","password":"wrong"}`)
	require.Equal(t, http.StatusUnauthorized, rec.Code, rec.Body.String())
	assert.Equal(t, apierror.CodeUnauthorized, errorBody(t, rec).Code)

	rec = h.do("POST", "/v1/users", `{"email":"bob@example.com","name":"Bob","password":"long enough pw","role":"USER"}`, asAdmin...)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	created := decodeJSON(t, rec)
	assert.Equal(t, "user-1", created["id"])
	assert.Regexp(t, "^[0-9a-f]{32}$", created["position"])

	rec = h.do("PATCH", "/v1/users/user-1", `{"enabled":false}`, asAdmin...)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Regexp(t, "^[0-9a-f]{32}$", decodeJSON(t, rec)["position"])

	rec = h.do("DELETE", "/v1/users/nobody", "", asAdmin...)
	require.Equal(t, http.StatusNotFound, rec.Code, rec.Body.String())
	assert.Equal(t, apierror.CodeNotFound, errorBody(t, rec).Code)

	rec = h.do("POST", "/v1/tokens", `{"name":"ci"}`, asAdmin...)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	assert.Equal(t, "apiq_secret_ci", decodeJSON(t, rec)["token"])

	rec = h.do("DELETE", "/v1/tokens/tok-1", "", asAdmin...)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())

	// Command metadata carries the caller, and a fresh request id per request.
	meta := h.identity.metas[0]
	assert.Equal(t, "tenant-1", meta.TenantID)
	assert.Equal(t, "admin", meta.Actor.Subject)
	assert.Equal(t, "ADMIN", meta.Actor.Role)
	assert.NotEmpty(t, meta.RequestID)
	assert.NotEmpty(t, meta.CorrelationID)
}

func TestListUsersPages(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	rec := h.do("GET", "/v1/users?limit=2", "", asAdmin...)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	first := decodeJSON(t, rec)
	assert.Len(t, first["users"], 2)
	require.NotEmpty(t, first["next"])

	rec = h.do("GET", "/v1/users?limit=2&after="+first["next"].(string), "", asAdmin...)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	second := decodeJSON(t, rec)
	assert.Len(t, second["users"], 1)
	assert.NotContains(t, second, "next", "the last page has no cursor")

	rec = h.do("GET", "/v1/users?limit=500", "", asAdmin...)
	require.Equal(t, http.StatusBadRequest, rec.Code, "limit is bounded: %s", rec.Body.String())
}

func TestMinPosition(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(cfg *Config, _ *Deps) { cfg.ReadYourWritesTimeout = 300 * time.Millisecond })
	h.identity.position.Store(5)
	reached := "00000000000000010000000000000005"
	ahead := "00000000000000010000000000000009"

	rec := h.do("GET", "/v1/users?min_position="+reached, "", asAdmin...)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())

	start := time.Now()
	rec = h.do("GET", "/v1/users?min_position="+ahead, "", asAdmin...)
	require.Equal(t, http.StatusGatewayTimeout, rec.Code, rec.Body.String())
	assert.Equal(t, apierror.CodeProjectionTimeout, errorBody(t, rec).Code)
	assert.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)

	go func() {
		time.Sleep(50 * time.Millisecond)
		h.identity.position.Store(9)
	}()
	rec = h.do("GET", "/v1/me?min_position="+ahead, "", asAdmin...)
	require.Equal(t, http.StatusOK, rec.Code, "the query waited for the read model: %s", rec.Body.String())
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	rec := h.do("GET", "/healthz", "", telemetry.RequestIDHeader, "client-id-123")
	assert.Equal(t, "client-id-123", rec.Header().Get(telemetry.RequestIDHeader))

	rec = h.do("GET", "/healthz", "")
	assert.Regexp(t, "^[0-9a-f]{32}$", rec.Header().Get(telemetry.RequestIDHeader))

	rec = h.do("GET", "/nope", "", telemetry.RequestIDHeader, "bad id with spaces\nand newline")
	assert.Regexp(t, "^[0-9a-f]{32}$", rec.Header().Get(telemetry.RequestIDHeader), "an unsafe id is replaced")
	assert.Contains(t, h.logs.String(), `"request_id":"client-id-123"`, "the access log carries the id")
}

func TestAccessLogKeepsSecretsOut(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.do("POST", "/v1/auth/login", `{"email":"admin@example.com","password":"correct horse"}`)
	h.do("GET", "/v1/users?min_position=00000000000000000000000000000000", "",
		"Authorization", "Bearer token-admin", "Cookie", "session=cookie-secret")
	h.do("POST", "/v1/tokens", `{"name":"ci"}`, asAdmin...)
	logs := h.logs.String()
	require.Contains(t, logs, `"route":"/v1/auth/login"`)
	require.Contains(t, logs, `"route":"/v1/users"`)
	for _, secret := range []string{"correct horse", "token-admin", "cookie-secret", "apiq_secret_ci", "Authorization"} {
		assert.NotContains(t, logs, secret)
	}
}

func TestOperationalRoutes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	rec := h.do("GET", "/healthz", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "ok", decodeJSON(t, rec)["status"])

	rec = h.do("GET", "/readyz", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	ready := decodeJSON(t, rec)
	assert.Equal(t, "ready", ready["status"])
	assert.Equal(t, map[string]any{"database": "ok", "migrations": "ok", "projections": "ok"}, ready["checks"])

	h.lag["users"] = 500
	rec = h.do("GET", "/readyz", "")
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
	notReady := decodeJSON(t, rec)
	assert.Equal(t, "not_ready", notReady["status"])
	assert.Contains(t, notReady["checks"].(map[string]any)["projections"], "users is 500 events behind")

	rec = h.do("GET", "/metrics", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), `apiq_http_requests_total{method="GET",route="/healthz",status="200"} 1`)
	assert.Contains(t, rec.Body.String(), `apiq_http_request_duration_seconds_bucket`)

	rec = h.do("GET", "/openapi.json", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "3.0.3", decodeJSON(t, rec)["openapi"])

	rec = h.do("GET", "/docs", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Header().Get("Content-Type"), "text/html")
	assert.Contains(t, rec.Body.String(), "/v1/users/{id}")
}

func TestPanicBecomesInternalError(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(_ *Config, d *Deps) { d.UserQueries = panickingQueries{d.UserQueries} })
	rec := h.do("GET", "/v1/users", "", asAdmin...)
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	body := errorBody(t, rec)
	assert.Equal(t, apierror.CodeInternal, body.Code)
	assert.NotContains(t, rec.Body.String(), errTestBoom.Error(), "internals stay in the log")
	assert.Contains(t, h.logs.String(), "handler panicked")
}

// The web interface answers the GET and HEAD requests no route matches
// outside /v1/, with the security headers of every response and its own
// CSP; the API's paths keep their JSON errors.
func TestWebInterfaceFallback(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(_ *Config, d *Deps) {
		d.Web = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Security-Policy", "default-src 'self'")
			_, _ = w.Write([]byte("interface at " + r.URL.Path))
		})
	})
	tests := []struct {
		method, path string
		status       int
		web          bool
	}{
		{"GET", "/", http.StatusOK, true},
		{"GET", "/connections/42", http.StatusOK, true},
		{"HEAD", "/audit", http.StatusOK, true},
		{"POST", "/connections", http.StatusNotFound, false},
		{"GET", "/v1/nope", http.StatusNotFound, false},
		{"GET", "/healthz", http.StatusOK, false},
	}
	for _, tt := range tests {
		rec := h.do(tt.method, tt.path, "")
		require.Equal(t, tt.status, rec.Code, "%s %s: %s", tt.method, tt.path, rec.Body.String())
		assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"), tt.path)
		if tt.web {
			assert.Equal(t, "default-src 'self'", rec.Header().Get("Content-Security-Policy"), tt.path)
			if tt.method == "GET" {
				assert.Equal(t, "interface at "+tt.path, rec.Body.String())
			}
		} else {
			assert.NotContains(t, rec.Body.String(), "interface at", tt.path)
		}
	}
}
