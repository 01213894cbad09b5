package credentials_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/credentials"
	"github.com/apiq/apiq/adapters/outbound"
	"github.com/apiq/apiq/adapters/vault"
)

func TestApplyPutsCredentialsWhereTheAPIWantsThem(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bin := newHTTPBin(t)
	ctx := context.Background()
	const key = "sk_test_canary_7f3a9b2c4d"
	tests := []struct {
		name       string
		in         credentials.Input
		path       string
		header     http.Header
		wantStatus int
		// check reads go-httpbin's echo
		check       func(t *testing.T, echo map[string]any)
		wantHeaders []string
		wantParams  []string
		wantValues  []string
	}{
		{
			name: "api key in a header", in: credentials.Input{Type: "api_key", Key: key, Name: "X-API-Key", In: "header"},
			path: "/headers", wantStatus: 200, wantHeaders: []string{"X-Api-Key"}, wantValues: []string{key},
			check: func(t *testing.T, echo map[string]any) {
				assert.Equal(t, []any{key}, echo["headers"].(map[string]any)["X-Api-Key"])
			},
		},
		{
			name: "api key in the query, other parameters untouched", in: credentials.Input{Type: "api_key", Key: key, Name: "api_key", In: "query"},
			path: "/anything?q=a%20b&api_key=stale", wantStatus: 200, wantParams: []string{"api_key"}, wantValues: []string{key},
			check: func(t *testing.T, echo map[string]any) {
				args := echo["args"].(map[string]any)
				assert.Equal(t, []any{key}, args["api_key"], "the key replaces any value the caller put there")
				assert.Equal(t, []any{"a b"}, args["q"])
			},
		},
		{
			name: "api key in a cookie next to the caller's", in: credentials.Input{Type: "api_key", Key: key, Name: "apikey", In: "cookie"},
			path: "/cookies", header: http.Header{"Cookie": {"session=abc"}}, wantStatus: 200,
			wantHeaders: []string{"Cookie"}, wantValues: []string{key},
			check: func(t *testing.T, echo map[string]any) {
				assert.Equal(t, map[string]any{"apikey": key, "session": "abc"}, echo["cookies"])
			},
		},
		{
			name: "bearer", in: credentials.Input{Type: "bearer", Token: key},
			path: "/bearer", wantStatus: 200, wantHeaders: []string{"Authorization"}, wantValues: []string{key},
			check: func(t *testing.T, echo map[string]any) {
				assert.Equal(t, true, echo["authenticated"])
				assert.Equal(t, key, echo["token"])
			},
		},
		{
			name: "basic", in: credentials.Input{Type: "basic", Username: "ada", Password: key},
			path: "/basic-auth/ada/" + key, wantStatus: 200, wantHeaders: []string{"Authorization"}, wantValues: []string{key, "ada:" + key},
			check: func(t *testing.T, echo map[string]any) {
				assert.Equal(t, true, echo["authorized"])
				assert.Equal(t, "ada", echo["user"])
			},
		},
		{
			name: "basic with the wrong password is refused by the API", in: credentials.Input{Type: "basic", Username: "ada", Password: "wrong"},
			path: "/basic-auth/ada/" + key, wantStatus: 401, wantHeaders: []string{"Authorization"}, wantValues: []string{"wrong", "ada:wrong"},
		},
		{
			name: "none", in: credentials.Input{Type: "none"}, path: "/headers", wantStatus: 200,
			check: func(t *testing.T, echo map[string]any) {
				assert.NotContains(t, echo["headers"], "Authorization")
			},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			connectionID := "conn-apply-" + string(rune('a'+i))
			creds, err := e.manager.Seal(ctx, e.tenant, connectionID, tt.in, credentials.Document{})
			require.NoError(t, err)
			shared := tt.header.Clone()
			req := outbound.Request{URL: bin.URL + tt.path, Header: shared}
			applied, err := e.manager.Apply(ctx, &req, e.tenant, connectionID, creds)
			require.NoError(t, err)
			assert.Equal(t, tt.header, shared, "the caller's header map is left alone")
			assert.ElementsMatch(t, tt.wantValues, applied.Values)
			assert.ElementsMatch(t, tt.wantHeaders, applied.Headers)
			assert.ElementsMatch(t, tt.wantParams, applied.QueryParams)
			assert.Subset(t, req.SecretHeaders, tt.wantHeaders, "redirects off the origin drop them")
			assert.Subset(t, req.SecretQueryParams, tt.wantParams)

			res, err := e.outbound.Do(ctx, req)
			require.NoError(t, err)
			require.Equal(t, tt.wantStatus, res.Status, "body: %s", res.Body)
			if tt.check != nil {
				var echo map[string]any
				require.NoError(t, json.Unmarshal(res.Body, &echo))
				tt.check(t, echo)
			}
			scrub := applied.Scrubber()
			for _, secret := range applied.Values {
				assert.NotContains(t, string(scrub.Body(res.Body)), secret, "the scrubber finds what the API echoed")
				assert.NotContains(t, scrub.URL(res.URL), secret)
				for name, values := range scrub.Header(res.Header) {
					for _, v := range values {
						assert.NotContains(t, v, secret, name)
					}
				}
			}
		})
	}
}

func TestAppliedSecretsDoNotFollowRedirectsToAnotherOrigin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	first, second := newHTTPBin(t), newHTTPBin(t)
	ctx := context.Background()
	const key = "canary-redirect-secret-1234"
	tests := []struct {
		name string
		in   credentials.Input
	}{
		{"custom header", credentials.Input{Type: "api_key", Key: key, Name: "X-Token", In: "header"}},
		{"query parameter", credentials.Input{Type: "api_key", Key: key, Name: "token", In: "query"}},
		{"cookie", credentials.Input{Type: "api_key", Key: key, Name: "token", In: "cookie"}},
		{"bearer", credentials.Input{Type: "bearer", Token: key}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			connectionID := "conn-redirect-" + string(rune('a'+i))
			creds, err := e.manager.Seal(ctx, e.tenant, connectionID, tt.in, credentials.Document{})
			require.NoError(t, err)
			req := outbound.Request{URL: first.URL + "/redirect-to?url=" + url.QueryEscape(second.URL+"/anything")}
			_, err = e.manager.Apply(ctx, &req, e.tenant, connectionID, creds)
			require.NoError(t, err)
			res, err := e.outbound.Do(ctx, req)
			require.NoError(t, err)
			require.Equal(t, 200, res.Status)
			require.Contains(t, res.URL, second.URL, "the redirect was followed")
			assert.NotContains(t, string(res.Body), key, "the other origin saw no credential")
		})
	}
}

func TestApplyRefusesCredentialsOutsideTheirConnection(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	creds, err := e.manager.Seal(ctx, e.tenant, "conn-a", credentials.Input{Type: "bearer", Token: "token-of-connection-a"}, credentials.Document{})
	require.NoError(t, err)

	req := outbound.Request{URL: "http://127.0.0.1/x"}
	_, err = e.manager.Apply(ctx, &req, e.tenant, "conn-b", creds)
	assert.ErrorIs(t, err, vault.ErrTampered, "copied into another connection")
	_, err = e.manager.Apply(ctx, &req, "tenant-2", "conn-a", creds)
	assert.ErrorIs(t, err, vault.ErrTampered, "copied into another tenant")
	assert.Empty(t, req.Header.Get("Authorization"))

	require.NoError(t, e.vault.DestroyOwnerKeys(ctx, e.tenant, credentials.KeyOwner("conn-a")))
	_, err = e.manager.Apply(ctx, &req, e.tenant, "conn-a", creds)
	assert.ErrorIs(t, err, vault.ErrKeyDestroyed, "deleted connections' secrets are shredded")
}
