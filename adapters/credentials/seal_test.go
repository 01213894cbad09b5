package credentials_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/credentials"
	"github.com/apiq/apiq/adapters/openapi"
	"github.com/apiq/apiq/adapters/vault"
	"github.com/apiq/apiq/domain"
)

// invalidFields lists the fields of the validation errors in err.
func invalidFields(err error) []string {
	var out []string
	var walk func(error)
	walk = func(err error) {
		if joined, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range joined.Unwrap() {
				walk(e)
			}
			return
		}
		var de *domain.Error
		if errors.As(err, &de) && errors.Is(de, domain.ErrInvalid) {
			out = append(out, de.Field+":"+de.Code)
		}
	}
	walk(err)
	return out
}

func TestValidateNamesEveryBadField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   credentials.Input
		want []string
	}{
		{"none", credentials.Input{Type: "none"}, nil},
		{"api key", credentials.Input{Type: "api_key", Key: "k", Name: "X-Key", In: "header"}, nil},
		{"bearer", credentials.Input{Type: "bearer", Token: "t"}, nil},
		{"basic", credentials.Input{Type: "basic", Username: "u", Password: "p"}, nil},
		{"client credentials", credentials.Input{Type: "oauth2_client_credentials", ClientID: "c", ClientSecret: "s",
			TokenURL: "https://idp.example.com/token", Scopes: []string{"read", "write:all"}, AuthStyle: "params"}, nil},
		{"public authorization-code client", credentials.Input{Type: "oauth2_authorization_code", ClientID: "c"}, nil},
		{"no type", credentials.Input{}, []string{"auth.type:required"}},
		{"unknown type", credentials.Input{Type: "digest"}, []string{"auth.type:unsupported_type"}},
		{"api key without key", credentials.Input{Type: "api_key"}, []string{"auth.key:required"}},
		{"blank key", credentials.Input{Type: "api_key", Key: "  "}, []string{"auth.key:required"}},
		{"bearer without token", credentials.Input{Type: "bearer"}, []string{"auth.token:required"}},
		{"basic without anything", credentials.Input{Type: "basic"}, []string{"auth.password:required", "auth.username:required"}},
		{"client credentials without client", credentials.Input{Type: "oauth2_client_credentials"},
			[]string{"auth.client_id:required", "auth.client_secret:required"}},
		{"a secret the type does not use", credentials.Input{Type: "bearer", Token: "t", Password: "p"},
			[]string{"auth.password:not_applicable"}},
		{"api key somewhere odd", credentials.Input{Type: "api_key", Key: "k", In: "body"}, []string{"auth.in:invalid"}},
		{"header name with a space", credentials.Input{Type: "api_key", Key: "k", Name: "X Key", In: "header"}, []string{"auth.name:invalid"}},
		{"query parameter names are free", credentials.Input{Type: "api_key", Key: "k", Name: "api key", In: "query"}, nil},
		{"username with a colon", credentials.Input{Type: "basic", Username: "a:b", Password: "p"}, []string{"auth.username:invalid"}},
		{"token URL not http", credentials.Input{Type: "oauth2_client_credentials", ClientID: "c", ClientSecret: "s", TokenURL: "file:///etc/passwd"},
			[]string{"auth.token_url:invalid"}},
		{"token URL with user info", credentials.Input{Type: "oauth2_client_credentials", ClientID: "c", ClientSecret: "s", TokenURL: "https://u:p@idp/token"},
			[]string{"auth.token_url:invalid"}},
		{"relative authorize URL", credentials.Input{Type: "oauth2_authorization_code", ClientID: "c", AuthorizeURL: "/authorize"},
			[]string{"auth.authorize_url:invalid"}},
		{"scope with a space", credentials.Input{Type: "oauth2_authorization_code", ClientID: "c", Scopes: []string{"a b"}},
			[]string{"auth.scopes:invalid"}},
		{"unknown auth style", credentials.Input{Type: "oauth2_authorization_code", ClientID: "c", AuthStyle: "jwt"},
			[]string{"auth.auth_style:invalid"}},
		{"scopes on an api key", credentials.Input{Type: "api_key", Key: "k", Scopes: []string{"read"}},
			[]string{"auth.scopes:not_applicable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.in.Validate()
			if tt.want == nil {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ElementsMatch(t, tt.want, invalidFields(err))
			assert.ErrorIs(t, err, domain.ErrInvalid)
		})
	}
}

// schemesDocument declares one scheme of each kind, and two API key schemes.
const schemesDocument = `
openapi: 3.0.3
info: {title: Schemes, version: "1"}
servers: [{url: "https://api.example.com/v1"}]
paths:
  /things:
    get:
      responses: {"200": {description: ok}}
components:
  securitySchemes:
    headerKey: {type: apiKey, in: header, name: X-API-Key}
    queryKey: {type: apiKey, in: query, name: api_key}
    bearerAuth: {type: http, scheme: bearer}
    basicAuth: {type: http, scheme: basic}
    oauth:
      type: oauth2
      flows:
        clientCredentials: {tokenUrl: /oauth/token, scopes: {read: Read}}
        authorizationCode:
          authorizationUrl: https://auth.example.com/authorize
          tokenUrl: https://auth.example.com/token
          scopes: {read: Read}
`

func importDocument(t *testing.T, doc string) credentials.Document {
	t.Helper()
	res, err := openapi.Import(context.Background(), []byte(doc), openapi.Options{})
	require.NoError(t, err)
	return credentials.Document{Schemes: res.SecuritySchemes, BaseURL: res.BaseURL}
}

func TestSealFillsDefaultsFromTheDocument(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	doc := importDocument(t, schemesDocument)
	single := importDocument(t, strings.Replace(schemesDocument, "    queryKey: {type: apiKey, in: query, name: api_key}\n", "", 1))
	tests := []struct {
		name       string
		in         credentials.Input
		doc        credentials.Document
		wantPublic map[string]string
		wantErr    []string
	}{
		{"api key by scheme", credentials.Input{Type: "api_key", Key: "k", Scheme: "queryKey"}, doc,
			map[string]string{"scheme": "queryKey", "name": "api_key", "in": "query"}, nil},
		{"the only api key scheme", credentials.Input{Type: "api_key", Key: "k"}, single,
			map[string]string{"scheme": "headerKey", "name": "X-API-Key", "in": "header"}, nil},
		{"name and location given need no scheme", credentials.Input{Type: "api_key", Key: "k", Name: "key", In: "cookie"}, doc,
			map[string]string{"name": "key", "in": "cookie"}, nil},
		{"two api key schemes and none named", credentials.Input{Type: "api_key", Key: "k"}, doc, nil,
			[]string{"auth.scheme:ambiguous_scheme"}},
		{"an unknown scheme", credentials.Input{Type: "api_key", Key: "k", Scheme: "nope"}, doc, nil,
			[]string{"auth.scheme:unknown_scheme"}},
		{"a scheme of another kind", credentials.Input{Type: "api_key", Key: "k", Scheme: "basicAuth"}, doc, nil,
			[]string{"auth.scheme:scheme_mismatch"}},
		{"no scheme to take the name from", credentials.Input{Type: "api_key", Key: "k"}, credentials.Document{}, nil,
			[]string{"auth.name:required", "auth.in:required"}},
		{"basic", credentials.Input{Type: "basic", Username: "ada", Password: "pw"}, doc,
			map[string]string{"scheme": "basicAuth", "username": "ada"}, nil},
		{"client credentials resolve a relative token URL", credentials.Input{Type: "oauth2_client_credentials", ClientID: "c", ClientSecret: "s", Scopes: []string{"read"}}, doc,
			map[string]string{"scheme": "oauth", "client_id": "c", "token_url": "https://api.example.com/oauth/token", "scopes": "read"}, nil},
		{"authorization code", credentials.Input{Type: "oauth2_authorization_code", ClientID: "c", AuthStyle: "header"}, doc,
			map[string]string{"scheme": "oauth", "client_id": "c", "authorize_url": "https://auth.example.com/authorize",
				"token_url": "https://auth.example.com/token", "auth_style": "header"}, nil},
		{"authorization code given its URLs", credentials.Input{Type: "oauth2_authorization_code", ClientID: "c",
			AuthorizeURL: "https://idp.example.com/a", TokenURL: "https://idp.example.com/t"}, credentials.Document{},
			map[string]string{"client_id": "c", "authorize_url": "https://idp.example.com/a", "token_url": "https://idp.example.com/t"}, nil},
		{"authorization code without URLs", credentials.Input{Type: "oauth2_authorization_code", ClientID: "c"}, credentials.Document{}, nil,
			[]string{"auth.authorize_url:required", "auth.token_url:required"}},
		{"a cookie cannot carry every key", credentials.Input{Type: "api_key", Key: "a;b", Name: "k", In: "cookie"}, doc, nil,
			[]string{"auth.key:invalid"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			creds, err := e.manager.Seal(context.Background(), e.tenant, "conn-defaults-"+string(rune('a'+i)), tt.in, tt.doc)
			if tt.wantErr != nil {
				require.Error(t, err)
				assert.ElementsMatch(t, tt.wantErr, invalidFields(err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.in.Type, creds.Type)
			assert.Equal(t, tt.wantPublic, creds.Public)
		})
	}
}

func TestSealKeepsOnlyCiphertexts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	tests := []struct {
		name     string
		in       credentials.Input
		field    string
		secret   string
		wantHint string
	}{
		{"api key", credentials.Input{Type: "api_key", Key: "sk_live_51Habcdefghij4242", Name: "X-Key", In: "header"},
			credentials.FieldAPIKey, "sk_live_51Habcdefghij4242", "sk_live_…4242"},
		{"short api key", credentials.Input{Type: "api_key", Key: "abc123", Name: "X-Key", In: "header"},
			credentials.FieldAPIKey, "abc123", "••••"},
		{"bearer", credentials.Input{Type: "bearer", Token: "eyJhbGciOiJIUzI1NiJ9.payload.signature9876"},
			credentials.FieldToken, "eyJhbGciOiJIUzI1NiJ9.payload.signature9876", "…9876"},
		{"basic", credentials.Input{Type: "basic", Username: "ada", Password: "correct horse battery staple"},
			credentials.FieldPassword, "correct horse battery staple", "ada:••••"},
		{"client credentials", credentials.Input{Type: "oauth2_client_credentials", ClientID: "client-7", ClientSecret: "cs-very-secret-value",
			TokenURL: "https://idp.example.com/token"}, credentials.FieldClientSecret, "cs-very-secret-value", "client-7:••••"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			connectionID := "conn-seal-" + string(rune('a'+i))
			creds, err := e.manager.Seal(ctx, e.tenant, connectionID, tt.in, credentials.Document{})
			require.NoError(t, err)
			payload, err := json.Marshal(creds)
			require.NoError(t, err)
			assert.NotContains(t, string(payload), tt.secret, "no plaintext secret in what events carry")
			assert.Equal(t, tt.wantHint, creds.Hint)
			require.Len(t, creds.Sealed, 1)

			plain, err := e.vault.DecryptString(ctx, vault.Scope{Tenant: e.tenant, Owner: credentials.KeyOwner(connectionID), Field: tt.field}, creds.Sealed[tt.field])
			require.NoError(t, err)
			assert.Equal(t, tt.secret, plain)
			var keyID string
			require.NoError(t, e.pool.QueryRow(ctx, `SELECT key_id::text FROM data_keys WHERE tenant_id = $1 AND owner = $2`,
				e.tenant, credentials.KeyOwner(connectionID)).Scan(&keyID))
			assert.Equal(t, keyID, creds.KeyID)

			_, err = e.vault.DecryptString(ctx, vault.Scope{Tenant: "tenant-2", Owner: credentials.KeyOwner(connectionID), Field: tt.field}, creds.Sealed[tt.field])
			assert.ErrorIs(t, err, vault.ErrTampered, "another tenant cannot open it")
			_, err = e.vault.DecryptString(ctx, vault.Scope{Tenant: e.tenant, Owner: credentials.KeyOwner("other"), Field: tt.field}, creds.Sealed[tt.field])
			assert.ErrorIs(t, err, vault.ErrTampered, "another connection cannot open it")
		})
	}
}

func TestSealNoneSealsNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	creds, err := e.manager.Seal(context.Background(), e.tenant, "conn-none", credentials.Input{Type: "none"}, importDocument(t, schemesDocument))
	require.NoError(t, err)
	assert.Equal(t, "none", creds.Type)
	assert.Empty(t, creds.Sealed)
	assert.Empty(t, creds.KeyID)
	var keys int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM data_keys`).Scan(&keys))
	assert.Zero(t, keys, "no data key for a connection without secrets")
}

func TestSealDiscoversOpenIDConnectEndpoints(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := newProvider(t)
	doc := importDocument(t, `
openapi: 3.0.3
info: {title: OIDC, version: "1"}
paths:
  /me:
    get:
      responses: {"200": {description: ok}}
components:
  securitySchemes:
    oidc: {type: openIdConnect, openIdConnectUrl: "`+p.url("/.well-known/openid-configuration")+`"}
`)
	creds, err := e.manager.Seal(context.Background(), e.tenant, "conn-oidc", credentials.Input{
		Type: "oauth2_authorization_code", ClientID: webClientID, ClientSecret: webClientSecret, Scopes: []string{"openid", "offline_access"},
	}, doc)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{
		"scheme": "oidc", "client_id": webClientID, "scopes": "openid offline_access",
		"authorize_url": p.url("/auth"), "token_url": p.url("/oauth/token"), "revocation_url": p.url("/revoke"),
	}, creds.Public)

	broken := importDocument(t, strings.ReplaceAll(`
openapi: 3.0.3
info: {title: OIDC, version: "1"}
paths:
  /me:
    get:
      responses: {"200": {description: ok}}
components:
  securitySchemes:
    oidc: {type: openIdConnect, openIdConnectUrl: "URL"}
`, "URL", p.url("/no-such-document")))
	_, err = e.manager.Seal(context.Background(), e.tenant, "conn-oidc-2", credentials.Input{
		Type: "oauth2_client_credentials", ClientID: "c", ClientSecret: "s",
	}, broken)
	assert.Equal(t, []string{"auth.scheme:discovery_failed"}, invalidFields(err), "the token URL was nowhere to be found")

	creds, err = e.manager.Seal(context.Background(), e.tenant, "conn-oidc-3", credentials.Input{
		Type: "oauth2_client_credentials", ClientID: "c", ClientSecret: "s", TokenURL: p.url("/oauth/token"),
	}, broken)
	require.NoError(t, err, "only the revocation endpoint was missing")
	assert.Equal(t, "oidc", creds.Public["scheme"])
	assert.NotContains(t, creds.Public, "revocation_url")
}
