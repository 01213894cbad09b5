package credentials

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/vault"
	"github.com/apiq/apiq/domain/connection"
)

// codeTokens are an authorization-code connection's tokens: sealed as the
// stream holds them, with the access token opened once it was needed.
type codeTokens struct {
	// fingerprint identifies the client the tokens belong to, so replaced
	// credentials miss the cache.
	fingerprint   string
	accessSealed  string
	refreshSealed string
	expiresAt     time.Time // zero: the provider did not say
	access        string
}

func tokensOf(creds connection.Credentials) codeTokens {
	t := codeTokens{fingerprint: fingerprint(creds), accessSealed: creds.Sealed[FieldAccessToken], refreshSealed: creds.Sealed[FieldRefreshToken]}
	if creds.ExpiresAt != nil {
		t.expiresAt = *creds.ExpiresAt
	}
	return t
}

func (t codeTokens) empty() bool { return t.accessSealed == "" && t.refreshSealed == "" }

// authorizationCodeToken returns the connection's newest access token,
// refreshed first when it is about to expire; refreshed says it was.
func (m *Manager) authorizationCodeToken(ctx context.Context, tenant, connectionID string, creds connection.Credentials) (codeTokens, bool, error) {
	key := cacheKey(tenant, connectionID)
	cur := m.newest(key, tokensOf(creds))
	if cur.empty() {
		// The caller's view (a read model) may lag behind a just completed
		// authorisation: ask the stream before giving up.
		latest, _, err := m.cfg.Tokens.CurrentCredentials(ctx, tenant, connectionID)
		if err != nil {
			return codeTokens{}, false, fmt.Errorf("tokens of connection %s: %w", connectionID, err)
		}
		if cur = m.newest(key, tokensOf(latest)); cur.empty() {
			return codeTokens{}, false, ErrNotAuthorized
		}
	}
	if cur.accessSealed != "" && m.fresh(cur.expiresAt) {
		if err := m.open(ctx, tenant, connectionID, &cur); err != nil {
			return codeTokens{}, false, err
		}
		return cur, false, nil
	}
	t, err := m.refreshAuthorizationCode(ctx, tenant, connectionID, cur.accessSealed, cur.fingerprint)
	return t, err == nil, err
}

// newest returns the cached tokens when they are those given (opened) or
// newer ones of the same client, else the given ones. Given no tokens, it
// gives none: the caller asks the stream rather than trust a cache that
// may predate replaced credentials.
func (m *Manager) newest(key string, given codeTokens) codeTokens {
	if given.empty() {
		return given
	}
	if c := m.cached(key, given.fingerprint); c != nil && (c.accessSealed == given.accessSealed || c.expiresAt.After(given.expiresAt)) {
		return *c
	}
	return given
}

// cached returns the tokens cached for a connection's client, if any.
func (m *Manager) cached(key, fingerprint string) *codeTokens {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.codeTokens[key]; c != nil && c.fingerprint == fingerprint {
		t := *c
		return &t
	}
	return nil
}

// open decrypts the access token and caches the tokens, unless newer ones
// were cached meanwhile.
func (m *Manager) open(ctx context.Context, tenant, connectionID string, t *codeTokens) error {
	if t.access != "" {
		return nil
	}
	access, err := m.cfg.Vault.DecryptString(ctx, scope(tenant, connectionID, FieldAccessToken), t.accessSealed)
	if err != nil {
		return fmt.Errorf("access token of connection %s: %w", connectionID, err)
	}
	t.access = access
	m.remember(cacheKey(tenant, connectionID), *t)
	return nil
}

func (m *Manager) remember(key string, t codeTokens) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.codeTokens[key]; c == nil || c.accessSealed == t.accessSealed || !c.expiresAt.After(t.expiresAt) {
		m.codeTokens[key] = &t
	}
}

// refreshAuthorizationCode replaces the access token sealed as stale: one
// refresh at a time per connection, in this process (singleflight) and
// across processes (a PostgreSQL advisory lock), and none at all when the
// stream already holds newer tokens than stale.
func (m *Manager) refreshAuthorizationCode(ctx context.Context, tenant, connectionID, stale, fingerprint string) (codeTokens, error) {
	key := cacheKey(tenant, connectionID)
	v, err, _ := m.flight.Do("ac\x00"+key, func() (any, error) {
		if c := m.cached(key, fingerprint); c != nil && c.accessSealed != stale && m.fresh(c.expiresAt) {
			return *c, nil
		}
		// The refresh serves every caller waiting on it: one caller giving
		// up must not fail the others.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.TokenCallTimeout)
		defer cancel()
		unlock, err := m.lock(fctx, "apiq/oauth-refresh/"+tenant+"/"+connectionID)
		if err != nil {
			return nil, fmt.Errorf("refresh tokens of connection %s: %w", connectionID, err)
		}
		defer unlock()
		return m.refreshLocked(fctx, tenant, connectionID, stale)
	})
	if err != nil {
		return codeTokens{}, err
	}
	return v.(codeTokens), nil
}

// refreshLocked refreshes under the connection's lock, after reading the
// tokens the stream holds now.
func (m *Manager) refreshLocked(ctx context.Context, tenant, connectionID, stale string) (codeTokens, error) {
	creds, version, err := m.cfg.Tokens.CurrentCredentials(ctx, tenant, connectionID)
	if err != nil {
		return codeTokens{}, fmt.Errorf("refresh tokens of connection %s: %w", connectionID, err)
	}
	if creds.Type != TypeOAuth2AuthorizationCode {
		return codeTokens{}, fmt.Errorf("refresh tokens of connection %s (%s): %w", connectionID, creds.Type, ErrWrongType)
	}
	cur := tokensOf(creds)
	if cur.accessSealed != "" && cur.accessSealed != stale && m.fresh(cur.expiresAt) {
		// Another process refreshed while this one waited for the lock.
		if err := m.open(ctx, tenant, connectionID, &cur); err != nil {
			return codeTokens{}, err
		}
		return cur, nil
	}
	if cur.refreshSealed == "" {
		if cur.accessSealed == "" {
			return codeTokens{}, ErrNotAuthorized
		}
		return codeTokens{}, reauthorization("the access token expired and the provider issued no refresh token", nil)
	}
	refresh, err := m.cfg.Vault.DecryptString(ctx, scope(tenant, connectionID, FieldRefreshToken), cur.refreshSealed)
	if err != nil {
		return codeTokens{}, fmt.Errorf("refresh token of connection %s: %w", connectionID, err)
	}
	cfg, err := m.oauthConfig(ctx, tenant, connectionID, creds, "")
	if err != nil {
		return codeTokens{}, err
	}
	tok, err := cfg.TokenSource(m.oauthContext(ctx, connectionID), &oauth2.Token{RefreshToken: refresh}).Token()
	if err != nil {
		if reason, refused := refusal(err); refused {
			m.cfg.Logger.WarnContext(ctx, "oauth refresh refused", "connection", connectionID, "reason", reason)
			return codeTokens{}, reauthorization("refresh refused: "+reason, err)
		}
		return codeTokens{}, fmt.Errorf("refresh tokens of connection %s: %w", connectionID, err)
	}
	next, event, err := m.sealTokens(ctx, tenant, connectionID, tok, refresh, cur.refreshSealed)
	if err != nil {
		return codeTokens{}, err
	}
	next.fingerprint = cur.fingerprint
	// The tokens are valid whatever happens to the save: this process keeps
	// using them.
	m.remember(cacheKey(tenant, connectionID), next)
	if err := m.saveTokens(ctx, tenant, connectionID, version, cur.refreshSealed, event); err != nil {
		m.cfg.Logger.ErrorContext(ctx, "refreshed oauth tokens not persisted", "connection", connectionID, "error", err)
		return codeTokens{}, err
	}
	m.cfg.Logger.InfoContext(ctx, "oauth tokens refreshed", "connection", connectionID,
		"refresh_token_rotated", next.refreshSealed != cur.refreshSealed, "expires_at", next.expiresAt)
	return next, nil
}

// sealTokens seals what the provider issued: the access token, and the
// refresh token when it differs from the one used (rotation).
func (m *Manager) sealTokens(ctx context.Context, tenant, connectionID string, tok *oauth2.Token, oldRefresh, oldRefreshSealed string) (codeTokens, connection.OAuthTokensRefreshed, error) {
	next := codeTokens{access: tok.AccessToken, refreshSealed: oldRefreshSealed}
	event := connection.OAuthTokensRefreshed{Sealed: map[string]string{}, ExpiresAt: m.expiry(tok.ExpiresIn, tok.Expiry)}
	seal := func(field, value string) (string, error) {
		sealed, err := m.cfg.Vault.EncryptString(ctx, scope(tenant, connectionID, field), value)
		if err != nil {
			return "", fmt.Errorf("seal %s of connection %s: %w", field, connectionID, err)
		}
		event.Sealed[field] = sealed
		if event.KeyID, err = vault.KeyIDOf(sealed); err != nil {
			return "", fmt.Errorf("seal %s of connection %s: %w", field, connectionID, err)
		}
		return sealed, nil
	}
	var err error
	if tok.AccessToken == "" {
		return next, event, fmt.Errorf("tokens of connection %s: the provider issued no access token", connectionID)
	}
	if next.accessSealed, err = seal(FieldAccessToken, tok.AccessToken); err != nil {
		return next, event, err
	}
	if tok.RefreshToken != "" && tok.RefreshToken != oldRefresh {
		if next.refreshSealed, err = seal(FieldRefreshToken, tok.RefreshToken); err != nil {
			return next, event, err
		}
	}
	if event.ExpiresAt != nil {
		next.expiresAt = *event.ExpiresAt
	}
	return next, event, nil
}

// saveTokens hands refreshed tokens to the store. When the stream moved on
// meanwhile (any event: a test call, a rename) they are saved at its new
// version, unless its tokens changed: then newer credentials replaced the
// ones refreshed, and saving would overwrite them.
func (m *Manager) saveTokens(ctx context.Context, tenant, connectionID string, version int64, refreshedFrom string, event connection.OAuthTokensRefreshed) error {
	for attempt := 1; ; attempt++ {
		err := m.cfg.Tokens.SaveTokens(ctx, tenant, connectionID, version, event)
		if err == nil || !errors.Is(err, eventstore.ErrWrongExpectedVersion) || attempt == 5 {
			if err != nil {
				return fmt.Errorf("save refreshed tokens of connection %s: %w", connectionID, err)
			}
			return nil
		}
		creds, v, err := m.cfg.Tokens.CurrentCredentials(ctx, tenant, connectionID)
		if err != nil {
			return fmt.Errorf("save refreshed tokens of connection %s: %w", connectionID, err)
		}
		if creds.Type != TypeOAuth2AuthorizationCode || creds.Sealed[FieldRefreshToken] != refreshedFrom {
			return fmt.Errorf("save refreshed tokens of connection %s: its credentials were replaced meanwhile: %w",
				connectionID, eventstore.ErrWrongExpectedVersion)
		}
		version = v
	}
}

// oauthConfig is the connection's OAuth2 client configuration, its secret
// opened; redirectURL is set for the authorization-code exchange only.
func (m *Manager) oauthConfig(ctx context.Context, tenant, connectionID string, creds connection.Credentials, redirectURL string) (*oauth2.Config, error) {
	cfg := &oauth2.Config{
		ClientID: creds.Public[PublicClientID],
		Endpoint: oauth2.Endpoint{
			AuthURL:   creds.Public[PublicAuthorizeURL],
			TokenURL:  creds.Public[PublicTokenURL],
			AuthStyle: authStyle(creds.Public[PublicAuthStyle]),
		},
		RedirectURL: redirectURL,
		Scopes:      scopesOf(creds),
	}
	if sealed, ok := creds.Sealed[FieldClientSecret]; ok {
		secret, err := m.cfg.Vault.DecryptString(ctx, scope(tenant, connectionID, FieldClientSecret), sealed)
		if err != nil {
			return nil, fmt.Errorf("client secret of connection %s: %w", connectionID, err)
		}
		cfg.ClientSecret = secret
	}
	return cfg, nil
}

func scopesOf(creds connection.Credentials) []string {
	return strings.Fields(creds.Public[PublicScopes])
}
