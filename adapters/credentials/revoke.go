package credentials

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/apiq/apiq/adapters/outbound"
	"github.com/apiq/apiq/domain/connection"
)

// Revoke revokes a connection's OAuth2 tokens at the provider's revocation
// endpoint (RFC 7009) — the refresh token first, which at most providers
// takes its access tokens with it, then the access token — and forgets what
// the Manager caches about the connection. Credentials without tokens, or a
// provider without a revocation endpoint, leave nothing to revoke. Call it
// with the connection's current credentials when deleting the connection,
// before its data key is destroyed (the tokens must still decrypt); a
// failure is worth logging but should not stop the deletion, since
// crypto-shredding makes the tokens unusable to APIQ anyway.
func (m *Manager) Revoke(ctx context.Context, tenant, connectionID string, creds connection.Credentials) error {
	key := cacheKey(tenant, connectionID)
	defer m.Forget(tenant, connectionID)
	endpoint := creds.Public[PublicRevocationURL]
	if endpoint == "" {
		return nil
	}
	type token struct{ value, hint string }
	var tokens []token
	switch creds.Type {
	case TypeOAuth2AuthorizationCode:
		t := m.newest(key, tokensOf(creds))
		for _, f := range []struct{ sealed, field, hint string }{
			{t.refreshSealed, FieldRefreshToken, "refresh_token"},
			{t.accessSealed, FieldAccessToken, "access_token"},
		} {
			if f.sealed == "" {
				continue
			}
			v, err := m.cfg.Vault.DecryptString(ctx, scope(tenant, connectionID, f.field), f.sealed)
			if err != nil {
				return fmt.Errorf("revoke tokens of connection %s: %w", connectionID, err)
			}
			tokens = append(tokens, token{v, f.hint})
		}
	case TypeOAuth2ClientCredentials:
		m.mu.Lock()
		if t := m.clientTokens[key]; t != nil {
			tokens = append(tokens, token{t.token, "access_token"})
		}
		m.mu.Unlock()
	}
	if len(tokens) == 0 {
		return nil
	}
	var secret string
	if sealed, ok := creds.Sealed[FieldClientSecret]; ok {
		var err error
		if secret, err = m.cfg.Vault.DecryptString(ctx, scope(tenant, connectionID, FieldClientSecret), sealed); err != nil {
			return fmt.Errorf("revoke tokens of connection %s: %w", connectionID, err)
		}
	}
	var errs []error
	for _, t := range tokens {
		if err := m.revoke(ctx, connectionID, endpoint, creds.Public[PublicClientID], secret, creds.Public[PublicAuthStyle], t.value, t.hint); err != nil {
			errs = append(errs, fmt.Errorf("revoke %s of connection %s: %w", t.hint, connectionID, err))
		}
	}
	if len(errs) == 0 {
		m.cfg.Logger.InfoContext(ctx, "oauth tokens revoked", "connection", connectionID, "count", len(tokens))
	}
	return errors.Join(errs...)
}

// revoke sends one RFC 7009 revocation request, authenticating the client
// as it does at the token endpoint (HTTP Basic unless told params; a public
// client names itself in the form).
func (m *Manager) revoke(ctx context.Context, connectionID, endpoint, clientID, secret, style, token, hint string) error {
	form := url.Values{"token": {token}, "token_type_hint": {hint}}
	header := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Accept": {"application/json"}}
	switch {
	case secret == "":
		form.Set("client_id", clientID)
	case style == AuthStyleParams:
		form.Set("client_id", clientID)
		form.Set("client_secret", secret)
	default:
		// RFC 6749 §2.3.1: the client id and secret are form-encoded first.
		pair := url.QueryEscape(clientID) + ":" + url.QueryEscape(secret)
		header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(pair)))
	}
	res, err := m.cfg.Outbound.Do(ctx, outbound.Request{
		Method:           http.MethodPost,
		URL:              endpoint,
		Header:           header,
		Body:             strings.NewReader(form.Encode()),
		Key:              providerKey(connectionID),
		MaxResponseBytes: maxProviderResponse,
		AllowTruncated:   true,
	})
	if err != nil {
		return err
	}
	if res.Status != http.StatusOK {
		return fmt.Errorf("the provider answered %d", res.Status)
	}
	return nil
}
