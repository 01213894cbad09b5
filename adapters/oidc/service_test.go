package oidc_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"

	"github.com/apiq/apiq/adapters/oidc"
	"github.com/apiq/apiq/adapters/outbound"
	"github.com/apiq/apiq/adapters/postgres/pgtest"
	"github.com/apiq/apiq/adapters/vault"
	"github.com/apiq/apiq/domain"
)

const (
	clientID         = "apiq-sso"
	clientSecret     = "apiq-sso-secret"
	providerPassword = "verysecure"
	tenantID         = "tenant-1"
)

// clock is a test clock that can jump forward.
type clock struct{ skipped atomic.Int64 }

func (c *clock) Now() time.Time { return time.Now().Add(time.Duration(c.skipped.Load())) }

// env is an OIDC service on a fresh database, signing users in through
// zitadel's example OpenID provider started in process.
type env struct {
	pool        *pgxpool.Pool
	svc         *oidc.Service
	clock       *clock
	op          *httptest.Server
	issuer      string
	provider    oidc.Provider
	redirectURI string
}

func newEnv(t *testing.T, ttl time.Duration, mutate func(*oidc.NewProvider)) *env {
	t.Helper()
	pool := pgtest.NewPool(t)
	kek, err := vault.NewKEK()
	require.NoError(t, err)
	ring, err := vault.NewKeyring(kek, []byte("0123456789abcdef0123456789abcdef"))
	require.NoError(t, err)
	v, err := vault.New(pool, ring, vault.Options{})
	require.NoError(t, err)
	logger := slog.New(slog.NewTextHandler(t.Output(), nil))
	client, err := outbound.New(outbound.Config{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}, logger, nil)
	require.NoError(t, err)
	t.Cleanup(client.Close)
	c := &clock{}
	svc, err := oidc.New(oidc.Config{DB: pool, Vault: v, Outbound: client, FlowTTL: ttl, Now: c.Now, Logger: logger})
	require.NoError(t, err)

	op := httptest.NewUnstartedServer(nil)
	e := &env{pool: pool, svc: svc, clock: c, op: op, issuer: "http://" + op.Listener.Addr().String()}
	in := oidc.NewProvider{Name: "Example", IssuerURL: e.issuer, ClientID: clientID, ClientSecret: clientSecret}
	if mutate != nil {
		mutate(&in)
	}
	e.provider, err = svc.CreateProvider(context.Background(), tenantID, "admin-1", in)
	require.NoError(t, err)
	e.redirectURI = "http://127.0.0.1:9/v1/auth/sso/" + e.provider.ID + "/callback"
	store := storage.NewStorageWithClients(storage.NewUserStore(e.issuer), map[string]*storage.Client{
		clientID: storage.WebClient(clientID, clientSecret, e.redirectURI),
	})
	op.Config.Handler = exampleop.SetupServer(e.issuer, store, nil, false)
	op.Start()
	t.Cleanup(op.Close)
	return e
}

var hiddenID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// browse plays the user's browser with a cookie jar: it opens the
// authorization URL, fills in the provider's login form and returns the
// callback URL the provider redirected to (nil when it did not).
func (e *env) browse(t *testing.T, authorizeURL, password string) *url.URL {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), e.redirectURI) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := browser.Get(authorizeURL)
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "login page: %s", page)
	m := hiddenID.FindSubmatch(page)
	require.NotNil(t, m, "login form: %s", page)
	resp, err = browser.PostForm(e.issuer+"/login/username", url.Values{
		"id": {string(m[1])}, "username": {"test-user@127.0.0.1"},
		"password": {password},
	})
	require.NoError(t, err)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return nil
	}
	back, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(back.String(), e.redirectURI), "redirected back: %s", back)
	return back
}

// login starts a flow and returns the callback's code and state.
func (e *env) login(t *testing.T) (code, state string) {
	t.Helper()
	authURL, err := e.svc.Start(context.Background(), e.provider.ID, e.redirectURI)
	require.NoError(t, err)
	back := e.browse(t, authURL, providerPassword)
	require.NotNil(t, back, "the provider accepted the password")
	return back.Query().Get("code"), back.Query().Get("state")
}

func TestLoginThroughTheProvider(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, nil)
	ctx := context.Background()
	authURL, err := e.svc.Start(ctx, e.provider.ID, e.redirectURI)
	require.NoError(t, err)
	u, err := url.Parse(authURL)
	require.NoError(t, err)
	q := u.Query()
	assert.Equal(t, "S256", q.Get("code_challenge_method"), "PKCE")
	assert.NotEmpty(t, q.Get("nonce"))
	assert.NotEmpty(t, q.Get("state"))
	assert.Equal(t, e.redirectURI, q.Get("redirect_uri"))

	back := e.browse(t, authURL, providerPassword)
	require.NotNil(t, back)
	id, err := e.svc.Complete(ctx, e.provider.ID, back.Query().Get("code"), back.Query().Get("state"))
	require.NoError(t, err)
	assert.Equal(t, e.issuer, id.Issuer)
	assert.NotEmpty(t, id.Subject)
	assert.Equal(t, "test-user@zitadel.ch", id.Email)
	assert.True(t, id.EmailVerified)
	assert.Equal(t, oidc.RoleUser, id.Role, "the default role")
	assert.Equal(t, tenantID, id.TenantID)

	var flows int
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM sso_login_flows`).Scan(&flows))
	assert.Zero(t, flows, "the state is single use")
}

// assertRefused checks that err is ErrLoginRefused with the reason code.
func assertRefused(t *testing.T, err error, reason string, msgAndArgs ...any) {
	t.Helper()
	assert.ErrorIs(t, err, oidc.ErrLoginRefused, msgAndArgs...)
	var refusal *oidc.Refusal
	if assert.ErrorAs(t, err, &refusal, msgAndArgs...) {
		assert.Equal(t, reason, refusal.Reason, msgAndArgs...)
	}
}

func TestRefusedLogins(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("wrong password", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, 0, nil)
		authURL, err := e.svc.Start(ctx, e.provider.ID, e.redirectURI)
		require.NoError(t, err)
		assert.Nil(t, e.browse(t, authURL, "wrong"), "no code for a wrong password")
	})
	t.Run("tampered state", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, 0, nil)
		code, state := e.login(t)
		_, err := e.svc.Complete(ctx, e.provider.ID, code, state+"x")
		assertRefused(t, err, oidc.ReasonUnknownState)
	})
	t.Run("replayed code", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, 0, nil)
		code, state := e.login(t)
		_, err := e.svc.Complete(ctx, e.provider.ID, code, state)
		require.NoError(t, err)
		_, err = e.svc.Complete(ctx, e.provider.ID, code, state)
		assertRefused(t, err, oidc.ReasonUnknownState, "the state is used")
		_, fresh := e.login(t)
		_, err = e.svc.Complete(ctx, e.provider.ID, code, fresh)
		assertRefused(t, err, oidc.ReasonCodeExchange, "the provider refuses a used code with another flow's verifier")
	})
	t.Run("wrong nonce", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, 0, nil)
		code, state := e.login(t)
		// Another flow's sealed nonce, as if the ID token were replayed
		// into this one.
		authURL, err := e.svc.Start(ctx, e.provider.ID, e.redirectURI)
		require.NoError(t, err)
		u, _ := url.Parse(authURL)
		tag, err := e.pool.Exec(ctx, `UPDATE sso_login_flows f SET nonce_sealed = o.nonce_sealed
			FROM sso_login_flows o WHERE f.state_hash <> o.state_hash AND o.state_hash = sha256($1::bytea)`,
			[]byte(u.Query().Get("state")))
		require.NoError(t, err)
		require.EqualValues(t, 1, tag.RowsAffected())
		_, err = e.svc.Complete(ctx, e.provider.ID, code, state)
		assertRefused(t, err, oidc.ReasonNonceMismatch)
	})
	t.Run("expired id token", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, 5*time.Hour, nil)
		code, state := e.login(t)
		e.clock.skipped.Store(int64(3 * time.Hour))
		_, err := e.svc.Complete(ctx, e.provider.ID, code, state)
		assertRefused(t, err, oidc.ReasonInvalidIDToken)
	})
	t.Run("expired state", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, time.Minute, nil)
		code, state := e.login(t)
		e.clock.skipped.Store(int64(2 * time.Minute))
		_, err := e.svc.Complete(ctx, e.provider.ID, code, state)
		assertRefused(t, err, oidc.ReasonExpiredState)
	})
	t.Run("email domain not allowed", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, 0, func(p *oidc.NewProvider) { p.AllowedDomains = []string{"example.com"} })
		code, state := e.login(t)
		_, err := e.svc.Complete(ctx, e.provider.ID, code, state)
		assert.ErrorIs(t, err, oidc.ErrEmailDomain)
	})
}

func TestRoleMapping(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, func(p *oidc.NewProvider) {
		p.AllowedDomains = []string{"zitadel.ch"}
		p.RoleClaim = "email"
		p.RoleMapping = map[string]string{"test-user@zitadel.ch": oidc.RoleAuditor}
	})
	code, state := e.login(t)
	id, err := e.svc.Complete(context.Background(), e.provider.ID, code, state)
	require.NoError(t, err)
	assert.Equal(t, oidc.RoleAuditor, id.Role)
}

func TestProviderManagement(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, nil)
	ctx := context.Background()

	list, err := e.svc.ListProviders(ctx, tenantID)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, e.provider.ID, list[0].ID)
	assert.Equal(t, oidc.RoleUser, list[0].DefaultRole)

	var sealed string
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT secret_sealed FROM sso_providers WHERE id = $1`, e.provider.ID).Scan(&sealed))
	assert.NotContains(t, sealed, clientSecret, "the secret is sealed")

	other, err := e.svc.ListProviders(ctx, "tenant-2")
	require.NoError(t, err)
	assert.Empty(t, other)
	_, err = e.svc.GetProvider(ctx, "tenant-2", e.provider.ID)
	assert.ErrorIs(t, err, oidc.ErrProviderNotFound)
	// Whose provider an id is, for a callback that names no tenant.
	found, err := e.svc.FindProvider(ctx, e.provider.ID)
	require.NoError(t, err)
	assert.Equal(t, tenantID, found.TenantID)
	assert.Equal(t, e.provider.IssuerURL, found.IssuerURL)
	for _, id := range []string{"not-a-uuid", "00000000-0000-0000-0000-000000000000"} {
		_, err = e.svc.FindProvider(ctx, id)
		assert.ErrorIs(t, err, oidc.ErrProviderNotFound, id)
	}
	assert.ErrorIs(t, e.svc.DeleteProvider(ctx, "tenant-2", e.provider.ID), oidc.ErrProviderNotFound)

	tests := []struct {
		name string
		in   oidc.NewProvider
	}{
		{"no issuer", oidc.NewProvider{Name: "x", ClientID: "c", ClientSecret: "s"}},
		{"bad role", oidc.NewProvider{Name: "x", IssuerURL: "https://idp.example", ClientID: "c", ClientSecret: "s", DefaultRole: "ROOT"}},
		{"mapping without claim", oidc.NewProvider{Name: "x", IssuerURL: "https://idp.example", ClientID: "c", ClientSecret: "s",
			RoleMapping: map[string]string{"admins": oidc.RoleAdmin}}},
		{"no secret", oidc.NewProvider{Name: "x", IssuerURL: "https://idp.example", ClientID: "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.CreateProvider(ctx, tenantID, "admin-1", tt.in)
			assert.ErrorIs(t, err, domain.ErrInvalid)
		})
	}

	require.NoError(t, e.svc.DeleteProvider(ctx, tenantID, e.provider.ID))
	_, err = e.svc.Start(ctx, e.provider.ID, e.redirectURI)
	assert.ErrorIs(t, err, oidc.ErrProviderNotFound)
}
