package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/credentials"
	"github.com/apiq/apiq/adapters/testservers"
	"github.com/apiq/apiq/adapters/vault"
	"github.com/apiq/apiq/domain/connection"
)

// TestRegisterTheSharedSpecs registers each real-world document through
// the router, inline and uploaded, and checks what the connection shows.
func TestRegisterTheSharedSpecs(t *testing.T) {
	s := startService(t, nil)
	user := s.user("user@example.com", "USER")
	petstore := testservers.ReadSpec(t, "petstore-3.0.yaml")
	stripe := testservers.ReadSpec(t, "stripe-3.0.json")
	tests := []struct {
		name         string
		register     func() (int, map[string]any)
		wantOps      int
		wantVersion  string
		wantWarnings bool
	}{
		{"petstore YAML inline", func() (int, map[string]any) {
			return s.register(user, map[string]any{"name": "Petstore", "document": string(petstore)})
		}, 19, "3.0.4", false},
		{"petstore YAML uploaded", func() (int, map[string]any) {
			return s.upload("POST", "/v1/connections", user, petstore, "name", "Petstore upload", "base_url", "http://127.0.0.1:4010")
		}, 19, "3.0.4", false},
		{"stripe 3.0 inline (4 MB)", func() (int, map[string]any) {
			return s.register(user, map[string]any{"name": "Stripe", "document": string(stripe)})
		}, 417, "3.0.0", false},
		{"stripe 3.0 uploaded", func() (int, map[string]any) {
			return s.upload("POST", "/v1/connections", user, stripe, "name", "Stripe upload")
		}, 417, "3.0.0", false},
		{"stripe 2.0 as a JSON object", func() (int, map[string]any) {
			return s.register(user, map[string]any{"name": "Stripe 2", "base_url": "https://api.stripe.com",
				"document": json.RawMessage(testservers.ReadSpec(t, "stripe-2.0.json"))})
		}, 350, "2.0", true},
		{"tmdb with a warning", func() (int, map[string]any) {
			return s.register(user, map[string]any{"name": "TMDB", "document": string(testservers.ReadSpec(t, "tmdb-3.0.json")),
				"auth": map[string]any{"type": "bearer", "token": "a-tmdb-read-token"}})
		}, 54, "3.0.0", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, conn := tt.register()
			require.Equal(t, http.StatusCreated, status, conn)
			assert.NotEmpty(t, conn["position"])
			assert.Equal(t, "active", conn["status"])
			doc := conn["document"].(map[string]any)
			assert.Equal(t, float64(tt.wantOps), doc["operation_count"])
			assert.Equal(t, tt.wantVersion, doc["openapi_version"])
			assert.Equal(t, tt.wantWarnings, len(doc["warnings"].([]any)) > 0, "%d warnings", len(doc["warnings"].([]any)))
			assert.Len(t, doc["hash"], 64)

			status, got := s.json("GET", "/v1/connections/"+conn["id"].(string), user, "")
			require.Equal(t, http.StatusOK, status, got)
			delete(conn, "position")
			assert.Equal(t, conn, got, "the command's answer is what the read model shows")
		})
	}

	// Spotify's broken document fails with a located error and stores nothing.
	before := s.stored()
	status, refused := s.register(user, map[string]any{"name": "Spotify", "document": string(testservers.ReadSpec(t, "spotify-3.0-broken.json"))})
	require.Equal(t, http.StatusUnprocessableEntity, status, refused)
	assert.Equal(t, "invalid_document", errorCode(refused))
	details := errorDetails(refused)
	assert.NotEmpty(t, details["pointer"])
	assert.Positive(t, details["line"])
	assert.Positive(t, details["column"])
	assert.Equal(t, before, s.stored(), "no event, blob or key")

	// Over the document limit: 413 with the limit, and nothing stored.
	small := startService(t, map[string]string{"APIQ_MAX_DOCUMENT_BYTES": "16384"})
	smallUser := small.user("user@example.com", "USER")
	before = small.stored()
	for name, send := range map[string]func() (int, map[string]any){
		"inline": func() (int, map[string]any) {
			return small.register(smallUser, map[string]any{"name": "P", "document": string(petstore)})
		},
		"uploaded": func() (int, map[string]any) {
			return small.upload("POST", "/v1/connections", smallUser, petstore, "name", "P")
		},
	} {
		status, body := send()
		require.Equal(t, http.StatusRequestEntityTooLarge, status, "%s: %v", name, body)
		assert.Equal(t, "payload_too_large", errorCode(body))
		assert.Equal(t, float64(16384), errorDetails(body)["limit_bytes"], name)
	}
	assert.Equal(t, before, small.stored())
}

// TestConnectionsLifecycleThroughTheAPI walks a connection through every
// route: fetch by URL within the allowlist, list and get with
// read-your-writes, roles, tenants, idempotent retry, re-import diff, base
// URL guard, test, disable/enable, delete with crypto-shredding.
func TestConnectionsLifecycleThroughTheAPI(t *testing.T) {
	const key = "the-httpbin-api-key"
	// Started first, so the service (and its idle connections) stops first.
	httpbin := testservers.StartHTTPBin(t, testservers.HTTPBinAPIKey(key))
	s := startService(t, nil)
	user := s.user("user@example.com", "USER")
	auditor := s.user("auditor@example.com", "AUDITOR")

	// Fetched through the outbound caller: allowed here (127.0.0.1/32).
	request := map[string]any{"name": "httpbin", "document_url": httpbin.OpenAPIURL(),
		"auth": map[string]any{"type": "api_key", "scheme": "apiKeyHeader", "key": key}}
	status, conn := s.register(user, request, "Idempotency-Key", "register-httpbin")
	require.Equal(t, http.StatusCreated, status, conn)
	id := conn["id"].(string)
	assert.Equal(t, httpbin.OpenAPIURL(), conn["document_url"])
	assert.Equal(t, httpbin.URL, conn["base_url"])
	assert.Equal(t, map[string]any{"type": "api_key", "hint": conn["auth"].(map[string]any)["hint"],
		"key_id": conn["auth"].(map[string]any)["key_id"]}, conn["auth"])
	assert.NotContains(t, conn["auth"].(map[string]any)["hint"], key)

	// The same Idempotency-Key returns the same connection and makes no other.
	events := s.stored()[0]
	status, again := s.register(user, request, "Idempotency-Key", "register-httpbin")
	require.Equal(t, http.StatusCreated, status)
	assert.Equal(t, conn, again)
	assert.Equal(t, events, s.stored()[0])

	status, list := s.json("GET", "/v1/connections?limit=1&min_position="+conn["position"].(string), auditor, "")
	require.Equal(t, http.StatusOK, status, list)
	require.Len(t, list["connections"], 1)
	assert.Equal(t, id, list["connections"].([]any)[0].(map[string]any)["id"])
	assert.Nil(t, list["next"], "one connection: one page")

	// Roles: the AUDITOR reads only; another tenant sees nothing.
	status, body := s.json("PATCH", "/v1/connections/"+id, auditor, `{"name":"mine"}`)
	assert.Equal(t, http.StatusForbidden, status, body)
	boss := s.otherTenantAdmin()
	for _, r := range [][2]string{{"GET", ""}, {"DELETE", ""}, {"POST", "/test"}, {"PUT", "/document"}} {
		status, body := s.json(r[0], "/v1/connections/"+id+r[1], boss, map[string]string{"PUT": `{"document":"x"}`}[r[0]])
		assert.Equal(t, http.StatusNotFound, status, "%s %s: %v", r[0], r[1], body)
	}

	// Unknown fields are refused, at the top and inside auth.
	for _, bad := range []string{`{"name":"x","document":"x","admin":true}`, `{"name":"x","document":"x","auth":{"type":"bearer","token":"t","x":1}}`} {
		status, body := s.json("POST", "/v1/connections", user, bad)
		assert.Equal(t, http.StatusBadRequest, status, body)
		assert.Equal(t, "validation_failed", errorCode(body))
	}

	// A test call chooses /headers, which needs the key.
	status, tested := s.json("POST", "/v1/connections/"+id+"/test", user, "")
	require.Equal(t, http.StatusOK, status, tested)
	assert.Equal(t, true, tested["ok"], tested)
	assert.Equal(t, "getHeaders", tested["operation_id"])
	status, got := s.json("GET", "/v1/connections/"+id+"?min_position="+tested["position"].(string), user, "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, true, got["last_test"].(map[string]any)["ok"])

	// Re-import: the diff is recorded and shown.
	var doc map[string]any
	require.NoError(t, json.Unmarshal(httpbin.OpenAPIDocument(), &doc))
	delete(doc["paths"].(map[string]any), "/delay/{n}")
	raw, err := json.Marshal(doc)
	require.NoError(t, err)
	status, reimported := s.upload("PUT", "/v1/connections/"+id+"/document", user, raw)
	require.Equal(t, http.StatusOK, status, reimported)
	imp := reimported["last_import"].(map[string]any)
	assert.Equal(t, []any{map[string]any{"method": "GET", "path": "/delay/{n}", "operation_id": "getDelayed"}}, imp["removed"])
	assert.Empty(t, imp["added"])
	assert.Equal(t, float64(15), reimported["document"].(map[string]any)["operation_count"])

	// Moving the credentials to another host: ADMIN only, with new credentials.
	elsewhere := `{"base_url":"https://api.example.net"}`
	status, body = s.json("PATCH", "/v1/connections/"+id, user, elsewhere)
	assert.Equal(t, http.StatusForbidden, status, body)
	assert.Equal(t, "base_url_change_requires_admin", errorCode(body))
	status, body = s.json("PATCH", "/v1/connections/"+id, s.admin, elsewhere)
	assert.Equal(t, http.StatusUnprocessableEntity, status, body)
	assert.Equal(t, "credentials_required", errorCode(body))
	status, moved := s.json("PATCH", "/v1/connections/"+id, s.admin,
		`{"base_url":"https://api.example.net","auth":{"type":"api_key","scheme":"apiKeyHeader","key":"a-new-key"}}`)
	require.Equal(t, http.StatusOK, status, moved)
	assert.Equal(t, "https://api.example.net", moved["base_url"])
	assert.NotEqual(t, conn["auth"].(map[string]any)["hint"], moved["auth"].(map[string]any)["hint"])
	status, back := s.json("PATCH", "/v1/connections/"+id, s.admin,
		`{"name":"httpbin again","base_url":"`+httpbin.URL+`","auth":{"type":"api_key","scheme":"apiKeyHeader","key":"`+key+`"}}`)
	require.Equal(t, http.StatusOK, status, back)
	assert.Equal(t, "httpbin again", back["name"])

	// Disabled connections cannot be tested.
	status, disabled := s.json("POST", "/v1/connections/"+id+"/disable", user, `{"reason":"maintenance"}`)
	require.Equal(t, http.StatusOK, status, disabled)
	assert.Equal(t, "disabled", disabled["status"])
	status, body = s.json("POST", "/v1/connections/"+id+"/test", user, "")
	assert.Equal(t, http.StatusConflict, status, body)
	status, enabled := s.json("POST", "/v1/connections/"+id+"/enable", user, "")
	require.Equal(t, http.StatusOK, status, enabled)
	assert.Equal(t, "active", enabled["status"])

	// Delete: gone from the API, its key destroyed, its history kept.
	status, deleted := s.json("DELETE", "/v1/connections/"+id, user, "")
	require.Equal(t, http.StatusOK, status, deleted)
	status, _ = s.json("GET", "/v1/connections/"+id+"?min_position="+deleted["position"].(string), user, "")
	assert.Equal(t, http.StatusNotFound, status)
	status, list = s.json("GET", "/v1/connections", user, "")
	require.Equal(t, http.StatusOK, status)
	assert.Empty(t, list["connections"])

	recorded, err := s.core.store.ReadStream(context.Background(), connection.Stream(id), 0, 0)
	require.NoError(t, err)
	assert.Equal(t, connection.TypeDeleted, recorded[len(recorded)-1].Type)
	shredded := 0
	for _, rec := range recorded {
		if rec.Type != connection.TypeCredentialsSet && rec.Type != connection.TypeCredentialsRotated {
			continue
		}
		var set connection.CredentialsSet
		require.NoError(t, json.Unmarshal(rec.Data, &set))
		_, err := s.core.vault.DecryptString(context.Background(),
			vault.Scope{Tenant: s.tenantID, Owner: credentials.KeyOwner(id), Field: credentials.FieldAPIKey}, set.Sealed[credentials.FieldAPIKey])
		assert.ErrorIs(t, err, vault.ErrKeyDestroyed)
		shredded++
	}
	assert.Equal(t, 3, shredded, "every sealed key of the history is shredded")
}

// TestDocumentURLOutsideTheAllowlist: without APIQ_OUTBOUND_ALLOW a
// loopback document URL is refused and nothing is stored.
func TestDocumentURLOutsideTheAllowlist(t *testing.T) {
	httpbin := testservers.StartHTTPBin(t)
	s := startService(t, map[string]string{"APIQ_OUTBOUND_ALLOW": ""})
	before := s.stored()
	status, body := s.register(s.admin, map[string]any{"name": "httpbin", "document_url": httpbin.OpenAPIURL()})
	require.Equal(t, http.StatusUnprocessableEntity, status, body)
	assert.Equal(t, "document_fetch_failed", errorCode(body))
	assert.Equal(t, "blocked_address", errorDetails(body)["reason"])
	assert.Equal(t, before, s.stored())
	assert.Zero(t, len(httpbin.Requests()), "nothing reached the server")
	assert.False(t, strings.Contains(s.logs.String(), `"level":"ERROR"`), "a refusal is not an error of APIQ's")
}
