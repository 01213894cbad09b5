package api

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/http/apierror"
	"github.com/apiq/apiq/http/auth"
)

// smallDocuments makes the document limit 16 KiB.
func smallDocuments(cfg *Config, _ *Deps) { cfg.MaxDocumentBytes = 16 << 10 }

// form builds a multipart body: fields in name, value pairs; a field named
// "document" becomes a file part.
func form(t *testing.T, fields ...string) (string, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for i := 0; i+1 < len(fields); i += 2 {
		var part interface{ Write([]byte) (int, error) }
		var err error
		if fields[i] == "document" {
			part, err = w.CreateFormFile("document", "openapi.yaml")
		} else {
			part, err = w.CreateFormField(fields[i])
		}
		require.NoError(t, err)
		_, err = part.Write([]byte(fields[i+1]))
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	return buf.String(), w.FormDataContentType()
}

func (h *harness) upload(method, path, body, contentType string, headers ...string) *httptest.ResponseRecorder {
	h.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return h.serve(req)
}

func TestCreateConnectionTakesTheDocumentInEveryForm(t *testing.T) {
	t.Parallel()
	h := newHarness(t, smallDocuments)
	yamlDoc := "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\n" + strings.Repeat("# padding beyond the 4 KiB body limit of other routes\n", 150)
	jsonDoc := `{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{}}`
	multipartBody, multipartType := form(t, "name", "Pets\n", "base_url", "https://api.example.com", "document", yamlDoc,
		"auth", `{"type":"api_key","key":"k-123","in":"header","name":"X-Key"}`)

	tests := []struct {
		name        string
		body        string
		contentType string
		want        NewConnection
	}{
		{"yaml text in a JSON string", fmt.Sprintf(`{"name":"Pets","document":%q}`, yamlDoc), "application/json",
			NewConnection{Name: "Pets", Document: DocumentInput{Text: []byte(yamlDoc)}}},
		{"a JSON document as an object", `{"name":"Pets","base_url":"https://api.example.com","document":` + jsonDoc + `}`, "application/json",
			NewConnection{Name: "Pets", BaseURL: "https://api.example.com", Document: DocumentInput{Text: []byte(jsonDoc)}}},
		{"a document url with credentials", `{"name":"Pets","document_url":"https://api.example.com/openapi.json","auth":{"type":"bearer","token":"t-1"}}`, "application/json",
			NewConnection{Name: "Pets", Document: DocumentInput{URL: "https://api.example.com/openapi.json"}, Auth: &AuthInput{Type: "bearer", Token: "t-1"}}},
		{"a multipart upload", multipartBody, multipartType,
			NewConnection{Name: "Pets", BaseURL: "https://api.example.com", Document: DocumentInput{Text: []byte(yamlDoc)},
				Auth: &AuthInput{Type: "api_key", Key: "k-123", In: "header", Name: "X-Key"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := h.upload("POST", "/v1/connections", tt.body, tt.contentType, asUser...)
			require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
			body := decodeJSON(t, rec)
			assert.Equal(t, "conn-1", body["id"])
			assert.NotEmpty(t, body["position"], "the connection comes with the command's position")
			assert.Equal(t, tt.want, h.connections.lastRegistered())
		})
	}
}

func TestCreateConnectionRefusesBadBodies(t *testing.T) {
	t.Parallel()
	h := newHarness(t, smallDocuments)
	big := strings.Repeat("x", 20<<10)
	unknownPart, unknownType := form(t, "name", "Pets", "document", "openapi: 3.0.3", "extra", "1")
	badAuth, badAuthType := form(t, "name", "Pets", "document", "openapi: 3.0.3", "auth", `{"type":"bearer",`)
	extraAuth, extraAuthType := form(t, "name", "Pets", "document", "openapi: 3.0.3", "auth", `{"type":"bearer","token":"t","admin":true}`)
	twice, twiceType := form(t, "name", "Pets", "name", "Again", "document", "openapi: 3.0.3")
	hugeDoc, hugeDocType := form(t, "name", "Pets", "document", big)
	tests := []struct {
		name        string
		body        string
		contentType string
		wantStatus  int
		wantCode    apierror.Code
		wantField   string
	}{
		{"unknown field", `{"name":"Pets","document":"x","admin":true}`, "application/json", 400, apierror.CodeValidationFailed, "/admin"},
		{"unknown auth field", `{"name":"Pets","document":"x","auth":{"type":"bearer","token":"t","admin":true}}`, "application/json", 400, apierror.CodeValidationFailed, "/auth/admin"},
		{"unknown auth type", `{"name":"Pets","document":"x","auth":{"type":"magic"}}`, "application/json", 400, apierror.CodeValidationFailed, "/auth/type"},
		{"no name", `{"document":"x"}`, "application/json", 400, apierror.CodeValidationFailed, "/name"},
		{"a document that is a number", `{"name":"Pets","document":42}`, "application/json", 400, apierror.CodeValidationFailed, ""},
		{"unknown form field", unknownPart, unknownType, 400, apierror.CodeValidationFailed, ""},
		{"auth form field that is not JSON", badAuth, badAuthType, 400, apierror.CodeValidationFailed, "/auth"},
		{"auth form field with an unknown field", extraAuth, extraAuthType, 400, apierror.CodeValidationFailed, "/auth"},
		{"a form field twice", twice, twiceType, 400, apierror.CodeValidationFailed, ""},
		{"an uploaded document over the limit", hugeDoc, hugeDocType, 413, apierror.CodePayloadTooLarge, ""},
		{"plain text", "openapi: 3.0.3", "text/yaml", 415, apierror.CodeUnsupportedMedia, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := h.upload("POST", "/v1/connections", tt.body, tt.contentType, asUser...)
			require.Equal(t, tt.wantStatus, rec.Code, rec.Body.String())
			body := errorBody(t, rec)
			assert.Equal(t, tt.wantCode, body.Code)
			if tt.wantField != "" {
				assert.Contains(t, rec.Body.String(), `"field":"`+tt.wantField+`"`)
			}
			assert.NotContains(t, rec.Body.String(), `"token":"t"`, "problems never echo values")
		})
	}
	rec := h.upload("POST", "/v1/connections", hugeDoc, hugeDocType, asUser...)
	assert.Equal(t, map[string]any{"limit_bytes": float64(16 << 10)}, errorBody(t, rec).Details,
		"the limit is the document's, not the body's")

	// Beyond the document routes' body limit the body is not even read.
	tooBig := fmt.Sprintf(`{"name":"Pets","document":%q}`, strings.Repeat("y", int(Config{MaxDocumentBytes: 16 << 10}.DocumentBodyBytes())))
	rec = h.upload("POST", "/v1/connections", tooBig, "application/json", asUser...)
	require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
	// Other routes keep the general limit.
	rec = h.upload("PATCH", "/v1/connections/conn-1", fmt.Sprintf(`{"name":%q}`, big[:5000]), "application/json", asUser...)
	require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code, rec.Body.String())
	assert.Empty(t, h.connections.lastRegistered().Name, "no refused request reached a command")
}

func TestConnectionErrorsSayWhatAndWhere(t *testing.T) {
	t.Parallel()
	h := newHarness(t, smallDocuments)
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		wantStatus int
		wantCode   apierror.Code
		wantDetail map[string]any
	}{
		{"a document that does not import", "POST", "/v1/connections", `{"name":"bad-document","document":"x"}`, 422, CodeInvalidDocument,
			map[string]any{"reason": "dangling_ref", "message": "the $ref points at nothing", "pointer": "/paths/~1pets/get",
				"line": float64(12), "column": float64(9), "others": []any{map[string]any{"reason": "dangling_ref", "message": "again",
					"pointer": "/x", "line": float64(30), "column": float64(2)}}}},
		{"a document over the limit", "POST", "/v1/connections", `{"name":"huge-document","document":"x"}`, 413, apierror.CodePayloadTooLarge,
			map[string]any{"limit_bytes": float64(16 << 10)}},
		{"a document url outside the allowlist", "POST", "/v1/connections", `{"name":"blocked","document_url":"http://10.0.0.1/x"}`, 422, CodeDocumentFetchFailed,
			map[string]any{"reason": "blocked_address"}},
		{"a USER moving credentials", "PATCH", "/v1/connections/moved", `{"base_url":"https://evil.example"}`, 403, CodeBaseURLChangeRequiresAdmin,
			map[string]any{"reason": "base_url_change_requires_admin", "field": "base_url"}},
		{"an ADMIN moving without credentials", "PATCH", "/v1/connections/moved-admin", `{"base_url":"https://evil.example"}`, 422, CodeCredentialsRequired,
			map[string]any{"reason": "credentials_required", "field": "auth"}},
		{"an unknown connection", "GET", "/v1/connections/missing", "", 404, apierror.CodeNotFound,
			map[string]any{"reason": "connection_not_found"}},
		{"re-import of an unknown connection", "PUT", "/v1/connections/missing/document", `{"document":"x"}`, 404, apierror.CodeNotFound,
			map[string]any{"reason": "connection_not_found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := h.do(tt.method, tt.path, tt.body, asUser...)
			require.Equal(t, tt.wantStatus, rec.Code, rec.Body.String())
			body := errorBody(t, rec)
			assert.Equal(t, tt.wantCode, body.Code)
			assert.Equal(t, tt.wantDetail, body.Details)
		})
	}
}

func TestConnectionRoutesPolicy(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.identity.mu.Lock()
	h.identity.users["audrey"] = User{ID: "audrey", Role: auth.RoleAuditor, Enabled: true}
	h.identity.mu.Unlock()
	asAuditor := []string{"Authorization", "Bearer token-audrey"}
	reads := [][2]string{{"GET", "/v1/connections"}, {"GET", "/v1/connections/conn-1"}}
	writes := []struct{ method, path, body string }{
		{"POST", "/v1/connections", `{"name":"x","document":"x"}`},
		{"PATCH", "/v1/connections/conn-1", `{"name":"x"}`},
		{"DELETE", "/v1/connections/conn-1", ""},
		{"PUT", "/v1/connections/conn-1/document", `{"document":"x"}`},
		{"POST", "/v1/connections/conn-1/test", ""},
		{"POST", "/v1/connections/conn-1/disable", ""},
		{"POST", "/v1/connections/conn-1/enable", ""},
		{"GET", "/v1/connections/conn-1/oauth/start", ""},
	}
	for _, r := range reads {
		assert.Equal(t, http.StatusOK, h.do(r[0], r[1], "", asAuditor...).Code, "an AUDITOR reads %s", r[1])
		assert.Equal(t, http.StatusUnauthorized, h.do(r[0], r[1], "").Code)
	}
	denied := h.identity.denialCount()
	for _, w := range writes {
		rec := h.do(w.method, w.path, w.body, asAuditor...)
		assert.Equal(t, http.StatusForbidden, rec.Code, "an AUDITOR may not %s %s", w.method, w.path)
		for _, as := range [][]string{asUser, asAdmin} {
			rec := h.do(w.method, w.path, w.body, as...)
			assert.Less(t, rec.Code, 300, "%s %s: %s", w.method, w.path, rec.Body.String())
		}
	}
	assert.Equal(t, denied+len(writes), h.identity.denialCount(), "every refusal is recorded")

	list := decodeJSON(t, h.do("GET", "/v1/connections?limit=1", "", asAuditor...))
	assert.Equal(t, "cursor-2", list["next"])
	assert.Len(t, list["connections"], 1)
}

func TestConnectionTestAndOAuthRoutes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	rec := h.do("POST", "/v1/connections/conn-1/test", `{"operation_id":"getPet","params":{"id":"7"}}`, asUser...)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, true, decodeJSON(t, rec)["ok"])
	rec = h.do("POST", "/v1/connections/conn-1/test", `{"operation_id":"getPet","method":"DELETE"}`, asUser...)
	assert.Equal(t, http.StatusBadRequest, rec.Code, "unknown fields are refused")
	rec = h.do("POST", "/v1/connections/conn-1/test", "", asUser...)
	require.Equal(t, http.StatusOK, rec.Code, "the body is optional: APIQ chooses the call")
	assert.Equal(t, []ConnectionTest{{OperationID: "getPet", Params: map[string]string{"id": "7"}}, {}}, h.connections.tests)

	rec = h.do("GET", "/v1/connections/conn-1/oauth/start", "", asUser...)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, "https://provider.example/auth?state=s", decodeJSON(t, rec)["authorize_url"])
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	assert.Equal(t, []string{"http://example.com/v1/oauth/callback"}, h.connections.redirects,
		"without a public URL the callback is on the host the request came to")

	rec = h.do("GET", "/v1/oauth/callback?state=good-state&code=the-code", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, map[string]any{"connection_id": "conn-1", "status": "authorized", "position": "00000000000000010000000000000004"},
		decodeJSON(t, rec))
	rec = h.do("GET", "/v1/oauth/callback?error=access_denied&state=good-state", "")
	require.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Equal(t, map[string]any{"reason": "oauth_access_denied"}, errorBody(t, rec).Details)
	assert.Equal(t, []string{"the-code"}, h.connections.completed)
	assert.NotContains(t, h.logs.String(), "the-code", "the code never reaches the logs")

	configured := newHarness(t, func(cfg *Config, _ *Deps) { cfg.PublicURL = "https://apiq.example.com" })
	require.Equal(t, http.StatusOK, configured.do("GET", "/v1/connections/conn-1/oauth/start", "", asUser...).Code)
	assert.Equal(t, []string{"https://apiq.example.com/v1/oauth/callback"}, configured.connections.redirects)
}

func TestDocumentRoutesTakeTwentyFiveMegabyteDocuments(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil) // MaxBodyBytes is 4 KiB, MaxDocumentBytes the default 25 MiB
	document := strings.Repeat("a", 24<<20)
	rec := h.upload("POST", "/v1/connections", `{"name":"big","document":"`+document+`"}`, "application/json", asUser...)
	require.Equal(t, http.StatusCreated, rec.Code, "a 24 MiB document passes the route's body limit")
	assert.Len(t, h.connections.lastRegistered().Document.Text, 24<<20)
	rec = h.upload("PUT", "/v1/connections/conn-1/document", `{"document":"`+document+`"}`, "application/json", asUser...)
	require.Equal(t, http.StatusOK, rec.Code)
	rec = h.upload("PATCH", "/v1/connections/conn-1", `{"name":"`+document[:8<<10]+`"}`, "application/json", asUser...)
	require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code, "other routes keep the general limit")
}
