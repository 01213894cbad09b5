package credentials_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/credentials"
	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/outbound"
	"github.com/apiq/apiq/adapters/vault"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/connection"
)

// authorizationCodeInput is a confidential client of the provider, asking
// for a refresh token. It authenticates with HTTP Basic: in the default
// (auto) style x/oauth2 repeats a refused token request with form
// parameters, which would double the counts the tests check.
func authorizationCodeInput(p *provider) credentials.Input {
	return credentials.Input{
		Type: "oauth2_authorization_code", ClientID: webClientID, ClientSecret: webClientSecret,
		AuthorizeURL: p.url("/auth"), TokenURL: p.url("/oauth/token"), RevocationURL: p.url("/revoke"),
		Scopes: []string{"openid", "offline_access"}, AuthStyle: "header",
	}
}

// authorizedConnection registers an authorization-code connection, walks
// the user through the provider and records the tokens, as the connection
// routes and commands do; it returns the credentials the stream now holds.
func (e *env) authorizedConnection(t *testing.T, p *provider, connectionID string) connection.Credentials {
	t.Helper()
	ctx := context.Background()
	creds, err := e.manager.Seal(ctx, e.tenant, connectionID, authorizationCodeInput(p), credentials.Document{})
	require.NoError(t, err)
	e.register(t, connectionID, creds)
	authorizeURL, err := e.manager.Start(ctx, e.tenant, connectionID, "user-1", redirectURI, creds)
	require.NoError(t, err)
	back := p.authorize(t, authorizeURL, p.username(), providerPassword)
	a, err := e.manager.Complete(ctx, back.Query().Get("state"), back.Query().Get("code"))
	require.NoError(t, err)
	e.append(t, connectionID, 1, a.Tokens)
	current, _, err := e.tokens.CurrentCredentials(ctx, e.tenant, connectionID)
	require.NoError(t, err)
	return current
}

// me is a call to the API that trusts the provider's tokens.
func me(api *httptest.Server) outbound.Request {
	return outbound.Request{URL: api.URL + "/me", Header: http.Header{"Accept": {"application/json"}}}
}

func reason(t *testing.T, err error) string {
	t.Helper()
	var re *credentials.ReauthorizationError
	require.ErrorAs(t, err, &re)
	return re.Reason
}

func TestAuthorizationCodeWithPKCEAndState(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := newProvider(t)
	api := p.newAPI(t)
	ctx := context.Background()
	creds, err := e.manager.Seal(ctx, e.tenant, "conn-code", authorizationCodeInput(p), credentials.Document{})
	require.NoError(t, err)
	e.register(t, "conn-code", creds)

	_, err = e.manager.Apply(ctx, &outbound.Request{URL: p.url("/userinfo")}, e.tenant, "conn-code", creds)
	assert.ErrorIs(t, err, credentials.ErrNotAuthorized, "no tokens before the authorisation")

	authorizeURL, err := e.manager.Start(ctx, e.tenant, "conn-code", "user-1", redirectURI, creds)
	require.NoError(t, err)
	u, err := url.Parse(authorizeURL)
	require.NoError(t, err)
	q := u.Query()
	assert.Equal(t, p.url("/auth"), u.Scheme+"://"+u.Host+u.Path)
	assert.Equal(t, "S256", q.Get("code_challenge_method"))
	assert.Len(t, q.Get("code_challenge"), 43, "a SHA-256 PKCE challenge")
	assert.GreaterOrEqual(t, len(q.Get("state")), 43, "256 bits of state")
	assert.Equal(t, redirectURI, q.Get("redirect_uri"))
	assert.Equal(t, "openid offline_access", q.Get("scope"))
	var stored int
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM oauth_authorizations
		WHERE state_hash = sha256(convert_to($1, 'UTF8')) AND verifier_sealed <> '' AND credentials::text NOT LIKE '%'||$2||'%'`,
		q.Get("state"), webClientSecret).Scan(&stored))
	assert.Equal(t, 1, stored, "the state is stored hashed, the verifier sealed, no secret in the snapshot")

	back := p.authorize(t, authorizeURL, p.username(), providerPassword)
	state, code := back.Query().Get("state"), back.Query().Get("code")
	require.Equal(t, q.Get("state"), state)
	require.NotEmpty(t, code)

	_, err = e.manager.Complete(ctx, state[:len(state)-2]+"xy", code)
	assert.ErrorIs(t, err, credentials.ErrUnknownState, "a tampered state is refused")
	_, err = e.manager.Complete(ctx, "", code)
	assert.ErrorIs(t, err, credentials.ErrUnknownState)

	a, err := e.manager.Complete(ctx, state, code)
	require.NoError(t, err)
	assert.Equal(t, e.tenant, a.Tenant)
	assert.Equal(t, "conn-code", a.ConnectionID)
	assert.Equal(t, "user-1", a.UserID)
	require.Contains(t, a.Tokens.Sealed, credentials.FieldAccessToken)
	require.Contains(t, a.Tokens.Sealed, credentials.FieldRefreshToken)
	require.NotNil(t, a.Tokens.ExpiresAt)
	assert.WithinDuration(t, e.clock.Now().Add(5*time.Minute), *a.Tokens.ExpiresAt, 10*time.Second)
	assert.Equal(t, creds.KeyID, a.Tokens.KeyID, "sealed under the connection's data key")
	payload, err := json.Marshal(a.Tokens)
	require.NoError(t, err)
	assert.NotContains(t, string(payload), p.lastIssued(), "the event carries no plaintext token")

	_, err = e.manager.Complete(ctx, state, code)
	assert.ErrorIs(t, err, credentials.ErrStateReplayed, "a state is single use")
	assert.ErrorIs(t, err, domain.ErrInvalid)

	e.append(t, "conn-code", 1, a.Tokens)
	res, applied, err := e.manager.Do(ctx, e.tenant, "conn-code", creds, me(api))
	require.NoError(t, err)
	require.Equal(t, 200, res.Status, "body: %s", res.Body)
	assert.Contains(t, string(res.Body), `"sub":"id1"`, "the token stands for the user who authorised")
	assert.Equal(t, []string{p.lastIssued()}, applied.Values)
	assert.Zero(t, p.grantCount("refresh_token"))
}

func TestAuthorizationStateExpires(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := newProvider(t)
	ctx := context.Background()
	creds, err := e.manager.Seal(ctx, e.tenant, "conn-slow", authorizationCodeInput(p), credentials.Document{})
	require.NoError(t, err)
	authorizeURL, err := e.manager.Start(ctx, e.tenant, "conn-slow", "user-1", redirectURI, creds)
	require.NoError(t, err)
	back := p.authorize(t, authorizeURL, p.username(), providerPassword)

	e.clock.Skip(11 * time.Minute)
	_, err = e.manager.Complete(ctx, back.Query().Get("state"), back.Query().Get("code"))
	assert.ErrorIs(t, err, credentials.ErrStateExpired)
	assert.Zero(t, p.grantCount("authorization_code"), "an expired state never reaches the provider")
}

func TestAuthorizationCodeRefusedByTheProvider(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := newProvider(t)
	ctx := context.Background()
	creds, err := e.manager.Seal(ctx, e.tenant, "conn-bad-code", authorizationCodeInput(p), credentials.Document{})
	require.NoError(t, err)
	authorizeURL, err := e.manager.Start(ctx, e.tenant, "conn-bad-code", "user-1", redirectURI, creds)
	require.NoError(t, err)
	back := p.authorize(t, authorizeURL, p.username(), providerPassword)

	_, err = e.manager.Complete(ctx, back.Query().Get("state"), "forged-"+back.Query().Get("code"))
	assert.ErrorIs(t, err, credentials.ErrAuthorizationFailed)
	_, err = e.manager.Complete(ctx, back.Query().Get("state"), back.Query().Get("code"))
	assert.ErrorIs(t, err, credentials.ErrStateReplayed, "the state was spent on the failed exchange")
}

func TestRefreshBeforeExpiryPersistsTheRotatedRefreshToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := newProvider(t)
	api := p.newAPI(t)
	ctx := context.Background()
	creds := e.authorizedConnection(t, p, "conn-refresh")
	firstAccess := p.lastIssued()

	res, _, err := e.manager.Do(ctx, e.tenant, "conn-refresh", creds, me(api))
	require.NoError(t, err)
	require.Equal(t, 200, res.Status)
	assert.Zero(t, p.grantCount("refresh_token"), "a token far from expiry is used as is")

	e.clock.Skip(4*time.Minute + 30*time.Second) // within the one-minute margin of the five-minute token
	res, applied, err := e.manager.Do(ctx, e.tenant, "conn-refresh", creds, me(api))
	require.NoError(t, err)
	require.Equal(t, 200, res.Status, "the refreshed token works: %s", res.Body)
	assert.Equal(t, 1, p.grantCount("refresh_token"))
	assert.NotEqual(t, firstAccess, p.lastIssued())
	assert.Equal(t, []string{p.lastIssued()}, applied.Values)

	recorded := e.streamOf(t, "conn-refresh")
	last := recorded[len(recorded)-1]
	require.Equal(t, connection.TypeOAuthTokensRefreshed, last.Type)
	assert.Equal(t, "system", last.Metadata.Actor.Subject)
	var refreshed connection.OAuthTokensRefreshed
	require.NoError(t, json.Unmarshal(last.Data, &refreshed))
	assert.NotEqual(t, creds.Sealed[credentials.FieldRefreshToken], refreshed.Sealed[credentials.FieldRefreshToken],
		"the provider rotated the refresh token and the new one was handed over")
	require.NotNil(t, refreshed.ExpiresAt)
	assert.WithinDuration(t, e.clock.Now().Add(5*time.Minute), *refreshed.ExpiresAt, 10*time.Second)
	assert.NotContains(t, string(last.Data), p.lastIssued())
	newRefresh, err := e.vault.DecryptString(ctx, vault.Scope{Tenant: e.tenant, Owner: credentials.KeyOwner("conn-refresh"),
		Field: credentials.FieldRefreshToken}, refreshed.Sealed[credentials.FieldRefreshToken])
	require.NoError(t, err)
	assert.NotEmpty(t, newRefresh)

	// The caller's view lags (it still shows the first tokens): the newer
	// ones are used, nothing is refreshed again with a spent refresh token.
	res, _, err = e.manager.Do(ctx, e.tenant, "conn-refresh", creds, me(api))
	require.NoError(t, err)
	assert.Equal(t, 200, res.Status)
	assert.Equal(t, 1, p.grantCount("refresh_token"))

	// Another process that never saw the refresh reads the stream first.
	other := e.newManager(t)
	e.clock.Skip(30 * time.Second)
	res, _, err = other.Do(ctx, e.tenant, "conn-refresh", creds, me(api))
	require.NoError(t, err)
	assert.Equal(t, 200, res.Status, "body: %s", res.Body)
	assert.Equal(t, 1, p.grantCount("refresh_token"))

	// Replaced credentials wait for their own authorisation: the cached
	// tokens of the old ones are not used.
	replacement, err := e.manager.Seal(ctx, e.tenant, "conn-refresh", authorizationCodeInput(p), credentials.Document{})
	require.NoError(t, err)
	e.append(t, "conn-refresh", eventstore.Any, connection.CredentialsRotated{Credentials: replacement})
	req := me(api)
	_, err = e.manager.Apply(ctx, &req, e.tenant, "conn-refresh", replacement)
	assert.ErrorIs(t, err, credentials.ErrNotAuthorized)
}

func TestConcurrentCallersTriggerOneRefresh(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := newProvider(t)
	api := p.newAPI(t)
	ctx := context.Background()
	creds := e.authorizedConnection(t, p, "conn-crowd")
	processes := []*credentials.Manager{e.manager, e.newManager(t)}
	e.clock.Skip(4*time.Minute + 30*time.Second)

	const callers = 8
	tokens := make([][]string, len(processes)*callers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range tokens {
		wg.Go(func() {
			<-start
			req := me(api)
			applied, err := processes[i%len(processes)].Apply(ctx, &req, e.tenant, "conn-crowd", creds)
			assert.NoError(t, err)
			tokens[i] = applied.Values
		})
	}
	close(start)
	wg.Wait()

	assert.Equal(t, 1, p.grantCount("refresh_token"), "one refresh for all callers of both processes")
	for i := range tokens {
		assert.Equal(t, []string{p.lastIssued()}, tokens[i], "caller %d", i)
	}
	refreshes := 0
	for _, rec := range e.streamOf(t, "conn-crowd") {
		if rec.Type == connection.TypeOAuthTokensRefreshed {
			refreshes++
		}
	}
	assert.Equal(t, 2, refreshes, "the authorisation's tokens and one refresh")
}

func TestRevocationOnDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := newProvider(t)
	api := p.newAPI(t)
	ctx := context.Background()
	creds := e.authorizedConnection(t, p, "conn-revoke")
	access := p.lastIssued()

	require.NoError(t, e.manager.Revoke(ctx, e.tenant, "conn-revoke", creds))
	p.mu.Lock()
	revoked, auth := p.revoked, p.auth
	p.mu.Unlock()
	require.Len(t, revoked, 2)
	assert.Equal(t, "refresh_token", revoked[0].Get("token_type_hint"))
	assert.Equal(t, "access_token", revoked[1].Get("token_type_hint"))
	assert.Equal(t, access, revoked[1].Get("token"))
	for _, a := range auth {
		assert.True(t, strings.HasPrefix(a, "Basic "), "the client authenticates as at the token endpoint")
	}

	res, err := e.outbound.Do(ctx, outbound.Request{URL: api.URL + "/me", Header: http.Header{"Authorization": {"Bearer " + access}}})
	require.NoError(t, err)
	assert.Equal(t, 401, res.Status, "the provider no longer honours the access token")

	// The refresh token went too: the provider refuses it, and the
	// connection needs a person again.
	_, _, err = e.manager.Do(ctx, e.tenant, "conn-revoke", creds, me(api))
	require.ErrorIs(t, err, credentials.ErrReauthorizationRequired)
	assert.ErrorIs(t, err, domain.ErrConflict)
	assert.Contains(t, reason(t, err), "refresh refused")
	assert.Equal(t, 1, p.grantCount("refresh_token"))
}

func TestA401ToFreshTokensRequiresReauthorization(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := newProvider(t)
	api := p.newAPI(t)
	bin := newHTTPBin(t)
	ctx := context.Background()
	creds := e.authorizedConnection(t, p, "conn-401")

	// The API refuses a token that still looks valid: it is refreshed and
	// the call tried once more.
	access := p.lastIssued()
	res, err := e.outbound.Do(ctx, outbound.Request{Method: "POST", URL: p.url("/revoke"),
		Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
		Body:   strings.NewReader(url.Values{"token": {access}, "token_type_hint": {"access_token"}, "client_id": {webClientID}, "client_secret": {webClientSecret}}.Encode())})
	require.NoError(t, err)
	require.Equal(t, 200, res.Status, "the provider revoked the access token alone: %s", res.Body)
	res, applied, err := e.manager.Do(ctx, e.tenant, "conn-401", creds, me(api))
	require.NoError(t, err)
	assert.Equal(t, 200, res.Status, "recovered with a refreshed token: %s", res.Body)
	assert.Equal(t, 1, p.grantCount("refresh_token"))
	assert.ElementsMatch(t, []string{access, p.lastIssued()}, applied.Values, "both tokens sent are scrubbed")

	// An API that refuses even fresh tokens: re-authorisation.
	res, _, err = e.manager.Do(ctx, e.tenant, "conn-401", creds, outbound.Request{URL: bin.URL + "/status/401"})
	require.ErrorIs(t, err, credentials.ErrReauthorizationRequired)
	assert.Equal(t, 401, res.Status, "the result comes back with the error")
	assert.Equal(t, 2, p.grantCount("refresh_token"), "one refresh before giving up")
	assert.Contains(t, reason(t, err), "401")
}

func TestClientCredentials(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := newProvider(t)
	bin := newHTTPBin(t)
	ctx := context.Background()
	seal := func(connectionID, secret string) connection.Credentials {
		creds, err := e.manager.Seal(ctx, e.tenant, connectionID, credentials.Input{
			Type: "oauth2_client_credentials", ClientID: serviceClientID, ClientSecret: secret, TokenURL: p.url("/oauth/token"),
		}, credentials.Document{})
		require.NoError(t, err)
		return creds
	}
	bearer := func(t *testing.T, m *credentials.Manager, connectionID string, creds connection.Credentials) string {
		t.Helper()
		res, applied, err := m.Do(ctx, e.tenant, connectionID, creds, outbound.Request{URL: bin.URL + "/bearer"})
		require.NoError(t, err)
		require.Equal(t, 200, res.Status)
		var echo struct{ Token string }
		require.NoError(t, json.Unmarshal(res.Body, &echo))
		assert.Equal(t, []string{echo.Token}, applied.Values)
		return echo.Token
	}

	t.Run("fetched, applied and cached until shortly before expiry", func(t *testing.T) {
		creds := seal("conn-cc", serviceSecret)
		first := bearer(t, e.manager, "conn-cc", creds)
		assert.Equal(t, p.lastIssued(), first, "the API got the token the provider issued")
		assert.Equal(t, 1, p.grantCount("client_credentials"))
		assert.Equal(t, first, bearer(t, e.manager, "conn-cc", creds))
		assert.Equal(t, 1, p.grantCount("client_credentials"), "cached")

		e.clock.Skip(4*time.Minute + 30*time.Second)
		second := bearer(t, e.manager, "conn-cc", creds)
		assert.NotEqual(t, first, second)
		assert.Equal(t, 2, p.grantCount("client_credentials"), "fetched again before expiry")
		assert.Equal(t, second, bearer(t, e.manager, "conn-cc", creds))
		assert.Equal(t, 2, p.grantCount("client_credentials"), "the new token is cached for its own lifetime")

		rotated := seal("conn-cc", serviceSecret)
		third := bearer(t, e.manager, "conn-cc", rotated)
		assert.NotEqual(t, second, third, "replaced credentials do not reuse the old token")
		assert.Equal(t, 3, p.grantCount("client_credentials"))
	})

	t.Run("concurrent callers fetch once", func(t *testing.T) {
		creds := seal("conn-cc-crowd", serviceSecret)
		before := p.grantCount("client_credentials")
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				req := outbound.Request{URL: bin.URL + "/bearer"}
				_, err := e.manager.Apply(ctx, &req, e.tenant, "conn-cc-crowd", creds)
				assert.NoError(t, err)
			})
		}
		wg.Wait()
		assert.Equal(t, before+1, p.grantCount("client_credentials"))
	})

	t.Run("a refused client requires re-authorisation", func(t *testing.T) {
		creds := seal("conn-cc-wrong", "not-the-secret")
		req := outbound.Request{URL: bin.URL + "/bearer"}
		_, err := e.manager.Apply(ctx, &req, e.tenant, "conn-cc-wrong", creds)
		require.ErrorIs(t, err, credentials.ErrReauthorizationRequired)
		assert.Contains(t, reason(t, err), "client credentials refused")
		assert.Empty(t, req.Header.Get("Authorization"))
	})

	t.Run("a 401 to a new token requires re-authorisation", func(t *testing.T) {
		creds := seal("conn-cc-401", serviceSecret)
		bearer(t, e.manager, "conn-cc-401", creds)
		before := p.grantCount("client_credentials")
		res, _, err := e.manager.Do(ctx, e.tenant, "conn-cc-401", creds, outbound.Request{URL: bin.URL + "/status/401"})
		require.ErrorIs(t, err, credentials.ErrReauthorizationRequired)
		assert.Equal(t, 401, res.Status)
		assert.Equal(t, before+1, p.grantCount("client_credentials"), "one new token tried")
	})
}

// interferingStore appends something to the connection's stream just
// before the Manager saves refreshed tokens, as a concurrent command would.
type interferingStore struct {
	*credentials.StreamTokenStore
	once   sync.Once
	before func()
}

func (s *interferingStore) SaveTokens(ctx context.Context, tenant, connectionID string, expected int64, tokens connection.OAuthTokensRefreshed) error {
	s.once.Do(s.before)
	return s.StreamTokenStore.SaveTokens(ctx, tenant, connectionID, expected, tokens)
}

func TestSavingRefreshedTokensAfterTheStreamMovedOn(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := newProvider(t)
	api := p.newAPI(t)
	ctx := context.Background()
	managerWith := func(store credentials.TokenStore) *credentials.Manager {
		m, err := credentials.New(credentials.Config{Vault: e.vault, Outbound: e.outbound, DB: e.pool, Tokens: store,
			Logger: e.logger, Now: e.clock.Now})
		require.NoError(t, err)
		return m
	}

	t.Run("an unrelated event: saved at the new version", func(t *testing.T) {
		creds := e.authorizedConnection(t, p, "conn-busy")
		m := managerWith(&interferingStore{StreamTokenStore: e.tokens, before: func() {
			e.append(t, "conn-busy", 2, connection.Tested{Method: "GET", Path: "/me", OK: true, Status: 200})
		}})
		e.clock.Skip(4*time.Minute + 30*time.Second)
		req := me(api)
		_, err := m.Apply(ctx, &req, e.tenant, "conn-busy", creds)
		require.NoError(t, err)
		recorded := e.streamOf(t, "conn-busy")
		require.Len(t, recorded, 5)
		assert.Equal(t, connection.TypeTested, recorded[3].Type)
		assert.Equal(t, connection.TypeOAuthTokensRefreshed, recorded[4].Type)
	})

	t.Run("new credentials: not overwritten", func(t *testing.T) {
		creds := e.authorizedConnection(t, p, "conn-replaced")
		replacement, err := e.manager.Seal(ctx, e.tenant, "conn-replaced", authorizationCodeInput(p), credentials.Document{})
		require.NoError(t, err)
		m := managerWith(&interferingStore{StreamTokenStore: e.tokens, before: func() {
			e.append(t, "conn-replaced", 2, connection.CredentialsRotated{Credentials: replacement})
		}})
		e.clock.Skip(4*time.Minute + 30*time.Second)
		req := me(api)
		_, err = m.Apply(ctx, &req, e.tenant, "conn-replaced", creds)
		require.Error(t, err)
		recorded := e.streamOf(t, "conn-replaced")
		assert.Equal(t, connection.TypeCredentialsRotated, recorded[len(recorded)-1].Type, "the newer credentials stand")
	})
}

func TestStreamTokenStore(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	expires := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	e.register(t, "conn-fold", connection.Credentials{Type: "oauth2_authorization_code", KeyID: "k1",
		Public: map[string]string{"client_id": "c"}, Sealed: map[string]string{"client_secret": "s1"}})
	e.append(t, "conn-fold", 1, connection.OAuthTokensRefreshed{KeyID: "k1",
		Sealed: map[string]string{"access_token": "a1", "refresh_token": "r1"}, ExpiresAt: &expires})
	later := expires.Add(time.Hour)
	require.NoError(t, e.tokens.SaveTokens(ctx, e.tenant, "conn-fold", 2, connection.OAuthTokensRefreshed{KeyID: "k1",
		Sealed: map[string]string{"access_token": "a2"}, ExpiresAt: &later}))
	assert.NoError(t, e.tokens.SaveTokens(ctx, e.tenant, "conn-fold", 2, connection.OAuthTokensRefreshed{KeyID: "k1",
		Sealed: map[string]string{"access_token": "a2"}, ExpiresAt: &later}), "saving the same tokens again appends nothing")
	assert.ErrorIs(t, e.tokens.SaveTokens(ctx, e.tenant, "conn-fold", 2, connection.OAuthTokensRefreshed{KeyID: "k1",
		Sealed: map[string]string{"access_token": "a3"}}), eventstore.ErrWrongExpectedVersion)

	creds, version, err := e.tokens.CurrentCredentials(ctx, e.tenant, "conn-fold")
	require.NoError(t, err)
	assert.Equal(t, int64(3), version)
	assert.Equal(t, map[string]string{"client_secret": "s1", "access_token": "a2", "refresh_token": "r1"}, creds.Sealed,
		"refreshed tokens fold over the credentials; the refresh token stays when not rotated")
	require.NotNil(t, creds.ExpiresAt)
	assert.True(t, later.Equal(*creds.ExpiresAt))

	_, _, err = e.tokens.CurrentCredentials(ctx, "tenant-2", "conn-fold")
	assert.ErrorIs(t, err, credentials.ErrConnectionNotFound, "another tenant's connection")
	_, _, err = e.tokens.CurrentCredentials(ctx, e.tenant, "conn-none")
	assert.ErrorIs(t, err, credentials.ErrConnectionNotFound)
	e.append(t, "conn-fold", 3, connection.Deleted{})
	_, _, err = e.tokens.CurrentCredentials(ctx, e.tenant, "conn-fold")
	assert.ErrorIs(t, err, credentials.ErrConnectionNotFound, "deleted")
	assert.True(t, errors.Is(err, domain.ErrNotFound))
	assert.ErrorIs(t, e.tokens.SaveTokens(ctx, e.tenant, "conn-fold", 4, connection.OAuthTokensRefreshed{KeyID: "k1",
		Sealed: map[string]string{"access_token": "a4"}}), credentials.ErrConnectionNotFound, "a deleted connection takes no tokens")

	e.register(t, "conn-key", connection.Credentials{Type: "api_key", Public: map[string]string{"name": "k", "in": "header"},
		Sealed: map[string]string{"api_key": "x"}})
	assert.ErrorIs(t, e.tokens.SaveTokens(ctx, e.tenant, "conn-key", 1, connection.OAuthTokensRefreshed{KeyID: "k1",
		Sealed: map[string]string{"access_token": "a1"}}), connection.ErrNotAuthorizationCode, "the aggregate decides")
}
