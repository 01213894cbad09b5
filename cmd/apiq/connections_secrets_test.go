package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/credentials"
	"github.com/apiq/apiq/adapters/testservers"
	"github.com/apiq/apiq/adapters/vault"
	"github.com/apiq/apiq/domain/connection"
)

// canaryForms are the ways a secret may show up: as is, base64 (both
// alphabets, padded or not), URL-encoded (query and path style).
func canaryForms(secret string) []string {
	return []string{
		secret,
		base64.StdEncoding.EncodeToString([]byte(secret)),
		base64.RawStdEncoding.EncodeToString([]byte(secret)),
		base64.URLEncoding.EncodeToString([]byte(secret)),
		base64.RawURLEncoding.EncodeToString([]byte(secret)),
		url.QueryEscape(secret),
		url.PathEscape(secret),
	}
}

// everythingStored returns the text of every row of every table APIQ
// keeps (events with their metadata, read models, idempotency records,
// pending authorisations, blobs decoded).
func (s *service) everythingStored() string {
	s.t.Helper()
	ctx := context.Background()
	rows, err := s.core.pool.Query(ctx, `SELECT table_schema, table_name FROM information_schema.tables
		WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'`)
	require.NoError(s.t, err)
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var schema, name string
		err := r.Scan(&schema, &name)
		return pgx.Identifier{schema, name}.Sanitize(), err
	})
	require.NoError(s.t, err)
	require.Greater(s.t, len(tables), 5)
	var b strings.Builder
	for _, table := range tables {
		var text *string
		require.NoError(s.t, s.core.pool.QueryRow(ctx, `SELECT string_agg(t::text, E'\n') FROM `+table+` t`).Scan(&text), table)
		if text != nil {
			b.WriteString(*text)
		}
	}
	var blobs *string
	require.NoError(s.t, s.core.pool.QueryRow(ctx, `SELECT string_agg(convert_from(data, 'UTF8'), E'\n') FROM blobs`).Scan(&blobs))
	if blobs != nil {
		b.WriteString(*blobs)
	}
	return b.String()
}

// TestConnectionSecretsNeverLeak registers connections with a canary
// secret of every auth type, runs their flows — test calls against
// go-httpbin endpoints that echo the credentials back, an OAuth2
// authorization-code flow and a refused client-credentials grant against a
// real provider, rotation, deletion with revocation — and then hunts the
// canaries (and the OAuth tokens issued) in every response body, every log
// line, every event (data and metadata) and every table: none is found.
func TestConnectionSecretsNeverLeak(t *testing.T) {
	const (
		apiKey       = "canaryAPIKEY7f3a9c2e51b4d6"
		bearerToken  = "canaryBEARER0d8e4b7a2c9f13"
		rotatedToken = "canaryROTATED5e1c7b3d9a24f"
		password     = "canaryPASSWORD9b2f6e0c4a87"
		ccSecret     = "canaryCCSECRET3a7d1f9e5b20"
		acSecret     = "canaryACSECRET8c4e2a6f0d95"
	)
	httpbin := testservers.StartHTTPBin(t, testservers.HTTPBinAPIKey(apiKey))
	prov := reserveProvider(t)
	s := startService(t, nil)
	callback := s.base + "/v1/oauth/callback"
	prov.start("apiq-web", acSecret, callback)
	user := s.user("user@example.com", "USER")
	doc := string(httpbin.OpenAPIDocument())

	register := func(name string, auth map[string]any) string {
		t.Helper()
		status, conn := s.register(user, map[string]any{"name": name, "document": doc, "auth": auth})
		require.Equal(t, http.StatusCreated, status, conn)
		return conn["id"].(string)
	}
	test := func(id, body string) map[string]any {
		t.Helper()
		status, res := s.json("POST", "/v1/connections/"+id+"/test", user, body)
		require.Equal(t, http.StatusOK, status, res)
		return res
	}

	headerKey := register("header key", map[string]any{"type": "api_key", "scheme": "apiKeyHeader", "key": apiKey})
	assert.Equal(t, true, test(headerKey, "")["ok"], "/headers echoes the key back")

	authJSON, err := json.Marshal(map[string]any{"type": "api_key", "scheme": "apiKeyQuery", "key": apiKey})
	require.NoError(t, err)
	status, uploaded := s.upload("POST", "/v1/connections", user, []byte(doc), "name", "query key", "auth", string(authJSON))
	require.Equal(t, http.StatusCreated, status, uploaded)
	queryKey := uploaded["id"].(string)
	res := test(queryKey, `{"operation_id":"getAnything","params":{"anything":"echo"}}`)
	assert.Equal(t, true, res["ok"], res)

	bearer := register("bearer", map[string]any{"type": "bearer", "token": bearerToken})
	assert.Equal(t, true, test(bearer, "")["ok"], "/bearer echoes the token back")
	status, rotated := s.json("PATCH", "/v1/connections/"+bearer, user, `{"auth":{"type":"bearer","token":"`+rotatedToken+`"}}`)
	require.Equal(t, http.StatusOK, status, rotated)
	assert.Equal(t, true, test(bearer, "")["ok"])

	basic := register("basic", map[string]any{"type": "basic", "username": "ada", "password": password})
	assert.Equal(t, true, test(basic, "")["ok"], "/get echoes the Authorization header back")

	// The provider refuses these client credentials: the test says so and
	// the connection needs re-authorisation.
	clientCreds := register("client credentials", map[string]any{"type": "oauth2_client_credentials", "client_id": "sid1",
		"client_secret": ccSecret, "token_url": prov.url("/oauth/token")})
	res = test(clientCreds, "")
	assert.Equal(t, false, res["ok"], res)
	assert.Equal(t, true, res["needs_reauthorization"], res)
	status, got := s.json("GET", "/v1/connections/"+clientCreds+"?min_position="+res["position"].(string), user, "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "needs_reauthorization", got["status"])

	// Authorization code with PKCE: start, log in at the provider, come back.
	authCode := register("authorization code", map[string]any{"type": "oauth2_authorization_code", "client_id": "apiq-web",
		"client_secret": acSecret, "authorize_url": prov.url("/auth"), "token_url": prov.url("/oauth/token"),
		"revocation_url": prov.url("/revoke"), "scopes": []string{"openid", "offline_access"}, "auth_style": "header"})
	status, got = s.json("GET", "/v1/connections/"+authCode, user, "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, false, got["auth"].(map[string]any)["authorized"])
	res = test(authCode, "")
	assert.Equal(t, false, res["ok"], "no tokens yet: %v", res)
	status, started := s.json("GET", "/v1/connections/"+authCode+"/oauth/start", user, "")
	require.Equal(t, http.StatusOK, status, started)
	back := prov.authorize(t, started["authorize_url"].(string), callback)
	status, _, raw := s.send("GET", strings.TrimPrefix(back, s.base), "", nil, "")
	require.Equal(t, http.StatusOK, status, string(raw))
	done := decodeObject(t, raw)
	assert.Equal(t, authCode, done["connection_id"])
	status, _, raw = s.send("GET", strings.TrimPrefix(back, s.base), "", nil, "")
	assert.Equal(t, http.StatusBadRequest, status, "the state is single use: %s", raw)
	status, got = s.json("GET", "/v1/connections/"+authCode+"?min_position="+done["position"].(string), user, "")
	require.Equal(t, http.StatusOK, status)
	auth := got["auth"].(map[string]any)
	assert.Equal(t, true, auth["authorized"])
	assert.NotEmpty(t, auth["expires_at"])
	assert.Equal(t, true, test(authCode, "")["ok"], "/bearer takes the access token")

	// The tokens the provider issued are secrets too.
	secrets := []string{apiKey, bearerToken, rotatedToken, password, ccSecret, acSecret}
	recorded, err := s.core.store.ReadStream(context.Background(), connection.Stream(authCode), 0, 0)
	require.NoError(t, err)
	for _, rec := range recorded {
		if rec.Type != connection.TypeOAuthTokensRefreshed {
			continue
		}
		var tokens connection.OAuthTokensRefreshed
		require.NoError(t, json.Unmarshal(rec.Data, &tokens))
		for field, sealed := range tokens.Sealed {
			plain, err := s.core.vault.DecryptString(context.Background(),
				vault.Scope{Tenant: s.tenantID, Owner: credentials.KeyOwner(authCode), Field: field}, sealed)
			require.NoError(t, err)
			secrets = append(secrets, plain)
		}
	}
	require.Len(t, secrets, 8, "an access and a refresh token were issued")

	// Deleting revokes the tokens at the provider.
	status, deleted := s.json("DELETE", "/v1/connections/"+authCode, user, "")
	require.Equal(t, http.StatusOK, status, deleted)
	assert.NotEmpty(t, prov.revocations())

	// A refused request does not echo its secret either.
	status, refused := s.register(user, map[string]any{"name": "ambiguous", "document": doc,
		"auth": map[string]any{"type": "api_key", "key": apiKey}})
	require.Equal(t, http.StatusBadRequest, status, refused)

	stored := s.everythingStored()
	logs := s.logs.String()
	responses := s.responses.String()
	require.Contains(t, responses, `"hint"`, "the hunt covers the connection responses")
	require.Contains(t, logs, `"command":"TestConnection"`, "the hunt covers the command logs")
	require.Contains(t, stored, connection.TypeCredentialsSet, "the hunt covers the events")
	forms := []string{base64.StdEncoding.EncodeToString([]byte("ada:" + password))}
	for _, secret := range secrets {
		forms = append(forms, canaryForms(secret)...)
	}
	for _, form := range forms {
		for where, text := range map[string]string{"responses": responses, "logs": logs, "database": stored} {
			assert.False(t, strings.Contains(text, form), "%q found in the %s", form, where)
		}
	}
	fmt.Fprintf(t.Output(), "hunted %d forms of %d secrets in %d bytes of responses, %d of logs, %d of stored rows\n",
		len(forms), len(secrets), len(responses), len(logs), len(stored))
}
