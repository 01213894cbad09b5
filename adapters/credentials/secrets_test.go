package credentials_test

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/credentials"
	"github.com/apiq/apiq/adapters/outbound"
	"github.com/apiq/apiq/adapters/vault"
	"github.com/apiq/apiq/domain/connection"
)

// TestNoSecretReachesLogsOrErrors runs every kind of credential through
// success and failure and then looks for each secret in everything the
// Manager and the outbound client logged and in the errors they returned.
func TestNoSecretReachesLogsOrErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := newProvider(t)
	api := p.newAPI(t)
	bin := newHTTPBin(t)
	ctx := context.Background()
	const (
		apiKey   = "canary-api-key-5e1f0c9a77"
		password = "canary-password-31d7"
		badCC    = "canary-wrong-client-secret-8c2"
	)
	var errs []error
	do := func(connectionID string, creds connection.Credentials, req outbound.Request) {
		_, _, err := e.manager.Do(ctx, e.tenant, connectionID, creds, req)
		if err != nil {
			errs = append(errs, err)
		}
	}

	inQuery, err := e.manager.Seal(ctx, e.tenant, "conn-log-key", credentials.Input{Type: "api_key", Key: apiKey, Name: "key", In: "query"}, credentials.Document{})
	require.NoError(t, err)
	do("conn-log-key", inQuery, outbound.Request{URL: bin.URL + "/redirect-to?url=" + url.QueryEscape("/anything")})
	do("conn-log-key", inQuery, outbound.Request{URL: bin.URL + "/status/500"})
	do("conn-log-key", inQuery, outbound.Request{URL: "http://169.254.169.254/latest/meta-data"})

	basic, err := e.manager.Seal(ctx, e.tenant, "conn-log-basic", credentials.Input{Type: "basic", Username: "ada", Password: password}, credentials.Document{})
	require.NoError(t, err)
	do("conn-log-basic", basic, outbound.Request{URL: bin.URL + "/basic-auth/ada/other"})

	wrongClient, err := e.manager.Seal(ctx, e.tenant, "conn-log-cc", credentials.Input{Type: "oauth2_client_credentials",
		ClientID: serviceClientID, ClientSecret: badCC, TokenURL: p.url("/oauth/token")}, credentials.Document{})
	require.NoError(t, err)
	do("conn-log-cc", wrongClient, outbound.Request{URL: bin.URL + "/bearer"})

	code := e.authorizedConnection(t, p, "conn-log-code")
	do("conn-log-code", code, me(api))
	e.clock.Skip(4*time.Minute + 30*time.Second)
	do("conn-log-code", code, me(api))
	do("conn-log-code", code, outbound.Request{URL: bin.URL + "/status/401"})
	if err := e.manager.Revoke(ctx, e.tenant, "conn-log-code", code); err != nil {
		errs = append(errs, err)
	}
	e.clock.Skip(5 * time.Minute)
	do("conn-log-code", code, me(api))
	require.NotEmpty(t, errs, "the failures happened")
	t.Logf("errors returned: %v", errs)

	secrets := []string{apiKey, password, badCC, webClientSecret}
	p.mu.Lock()
	secrets = append(secrets, p.issued...)
	p.mu.Unlock()
	for _, rec := range e.streamOf(t, "conn-log-code") {
		var sealed struct {
			Sealed map[string]string `json:"sealed"`
		}
		require.NoError(t, json.Unmarshal(rec.Data, &sealed))
		if ct, ok := sealed.Sealed[credentials.FieldRefreshToken]; ok {
			refresh, err := e.vault.DecryptString(ctx, vault.Scope{Tenant: e.tenant, Owner: credentials.KeyOwner("conn-log-code"),
				Field: credentials.FieldRefreshToken}, ct)
			require.NoError(t, err)
			secrets = append(secrets, refresh)
		}
	}
	require.Greater(t, len(secrets), 8, "api key, password, client secrets, access and refresh tokens")

	logs := e.logs.String()
	require.Contains(t, logs, "oauth tokens refreshed", "the log covers the refresh")
	for _, secret := range secrets {
		assert.NotContains(t, logs, secret)
		for _, err := range errs {
			assert.NotContains(t, err.Error(), secret)
		}
	}
}
