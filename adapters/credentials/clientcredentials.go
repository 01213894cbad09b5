package credentials

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/apiq/apiq/domain/connection"
)

// clientToken is a client-credentials access token cached in memory; it is
// never persisted (a new one is a request away).
type clientToken struct {
	// fingerprint identifies the credentials it was fetched with, so
	// replaced credentials miss the cache.
	fingerprint string
	token       string
	expiresAt   time.Time // zero: the provider did not say
}

func fingerprint(creds connection.Credentials) string {
	return strings.Join([]string{creds.Public[PublicClientID], creds.Public[PublicTokenURL],
		creds.Public[PublicScopes], creds.Public[PublicAuthStyle], creds.Sealed[FieldClientSecret]}, "\x00")
}

// clientCredentialsToken returns a cached access token that is not about to
// expire, or fetches one (one request at a time per connection in this
// process); refreshed says it was fetched now.
func (m *Manager) clientCredentialsToken(ctx context.Context, tenant, connectionID string, creds connection.Credentials) (string, bool, error) {
	key := cacheKey(tenant, connectionID)
	fp := fingerprint(creds)
	if t := m.cachedClientToken(key, fp); t != "" {
		return t, false, nil
	}
	v, err, _ := m.flight.Do("cc\x00"+key, func() (any, error) {
		if t := m.cachedClientToken(key, fp); t != "" {
			return t, nil
		}
		// The fetch serves every caller waiting on it: one caller giving up
		// must not fail the others.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.TokenCallTimeout)
		defer cancel()
		return m.fetchClientToken(fctx, tenant, connectionID, creds, key, fp)
	})
	if err != nil {
		return "", false, err
	}
	return v.(string), true, nil
}

func (m *Manager) cachedClientToken(key, fp string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.clientTokens[key]
	if t == nil || t.fingerprint != fp || !m.fresh(t.expiresAt) {
		return ""
	}
	return t.token
}

func (m *Manager) fetchClientToken(ctx context.Context, tenant, connectionID string, creds connection.Credentials, key, fp string) (string, error) {
	secret, err := m.cfg.Vault.DecryptString(ctx, scope(tenant, connectionID, FieldClientSecret), creds.Sealed[FieldClientSecret])
	if err != nil {
		return "", fmt.Errorf("client credentials of connection %s: %w", connectionID, err)
	}
	cfg := clientcredentials.Config{
		ClientID:     creds.Public[PublicClientID],
		ClientSecret: secret,
		TokenURL:     creds.Public[PublicTokenURL],
		Scopes:       scopesOf(creds),
		AuthStyle:    authStyle(creds.Public[PublicAuthStyle]),
	}
	tok, err := cfg.Token(m.oauthContext(ctx, connectionID))
	if err != nil {
		if reason, refused := refusal(err); refused {
			m.cfg.Logger.WarnContext(ctx, "oauth client credentials refused", "connection", connectionID, "reason", reason)
			return "", reauthorization("client credentials refused: "+reason, err)
		}
		return "", fmt.Errorf("client credentials token for connection %s: %w", connectionID, err)
	}
	t := &clientToken{fingerprint: fp, token: tok.AccessToken}
	if exp := m.expiry(tok.ExpiresIn, tok.Expiry); exp != nil {
		t.expiresAt = *exp
	}
	m.mu.Lock()
	m.clientTokens[key] = t
	m.mu.Unlock()
	m.cfg.Logger.InfoContext(ctx, "oauth client credentials token fetched", "connection", connectionID, "expires_at", t.expiresAt)
	return t.token, nil
}

// dropClientToken forgets a token the API refused, unless it was already
// replaced.
func (m *Manager) dropClientToken(tenant, connectionID, token string) {
	key := cacheKey(tenant, connectionID)
	m.mu.Lock()
	defer m.mu.Unlock()
	if t := m.clientTokens[key]; t != nil && t.token == token {
		delete(m.clientTokens, key)
	}
}

func authStyle(s string) oauth2.AuthStyle {
	switch s {
	case AuthStyleHeader:
		return oauth2.AuthStyleInHeader
	case AuthStyleParams:
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleAutoDetect
}

// refusal tells a provider's refusal of the grant or the client (a person
// must act) from a failure worth retrying later; reason is the provider's
// error code and status, free of secrets.
func refusal(err error) (reason string, refused bool) {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return "", false
	}
	status := 0
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	switch re.ErrorCode {
	case "invalid_grant", "invalid_client", "unauthorized_client", "invalid_scope", "unsupported_grant_type":
		return fmt.Sprintf("%s (status %d)", re.ErrorCode, status), true
	}
	if status == http.StatusBadRequest || status == http.StatusUnauthorized || status == http.StatusForbidden {
		return fmt.Sprintf("status %d", status), true
	}
	return "", false
}
