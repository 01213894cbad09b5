package credentials

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/oauth2"

	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/connection"
)

// Authorization is a completed OAuth2 authorisation.
type Authorization struct {
	Tenant       string
	ConnectionID string
	// UserID is who started it.
	UserID string
	// Tokens are the issued tokens, sealed: the payload of the
	// connection.oauth_tokens_refreshed event the caller appends.
	Tokens connection.OAuthTokensRefreshed
}

// Start begins an authorization-code authorisation of a connection for a
// user: it records a pending authorisation (the state's hash, the PKCE
// verifier sealed, a snapshot of the credentials, an expiry of
// Config.AuthorizationTTL) and returns the provider URL to send the user to.
// The provider redirects back to redirectURI with the code and the state,
// which the callback hands to Complete.
func (m *Manager) Start(ctx context.Context, tenant, connectionID, userID, redirectURI string, creds connection.Credentials) (string, error) {
	if creds.Type != TypeOAuth2AuthorizationCode {
		return "", fmt.Errorf("start authorisation of connection %s (%s): %w", connectionID, creds.Type, ErrWrongType)
	}
	if tenant == "" || connectionID == "" || userID == "" {
		return "", errors.New("start authorisation: tenant, connection and user are required")
	}
	if err := checkEndpoint(redirectURI); err != nil {
		return "", fmt.Errorf("start authorisation: redirect URI: %w", err)
	}
	state, err := randomState()
	if err != nil {
		return "", err
	}
	verifier := oauth2.GenerateVerifier()
	sealedVerifier, err := m.cfg.Vault.EncryptString(ctx, scope(tenant, connectionID, fieldVerifier), verifier)
	if err != nil {
		return "", fmt.Errorf("start authorisation of connection %s: %w", connectionID, err)
	}
	// The snapshot is what the exchange needs: the client and its endpoints,
	// not tokens.
	snapshot := connection.Credentials{Type: creds.Type, KeyID: creds.KeyID, Public: creds.Public}
	if s, ok := creds.Sealed[FieldClientSecret]; ok {
		snapshot.Sealed = map[string]string{FieldClientSecret: s}
	}
	snapshotJSON, err := json.Marshal(snapshot)
	if err != nil {
		return "", fmt.Errorf("start authorisation of connection %s: %w", connectionID, err)
	}
	now := m.cfg.Now().UTC()
	hash := stateHash(state)
	if _, err := m.cfg.DB.Exec(ctx, `
		INSERT INTO oauth_authorizations
			(state_hash, tenant_id, connection_id, user_id, redirect_uri, verifier_sealed, credentials, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		hash[:], tenant, connectionID, userID, redirectURI, sealedVerifier, snapshotJSON, now, now.Add(m.cfg.AuthorizationTTL)); err != nil {
		return "", fmt.Errorf("start authorisation of connection %s: %w", connectionID, err)
	}
	if _, err := m.cfg.DB.Exec(ctx, `DELETE FROM oauth_authorizations WHERE expires_at < $1`, now.Add(-24*time.Hour)); err != nil {
		m.cfg.Logger.WarnContext(ctx, "purge of old oauth authorisations failed", "error", err)
	}
	cfg := &oauth2.Config{
		ClientID:    creds.Public[PublicClientID],
		Endpoint:    oauth2.Endpoint{AuthURL: creds.Public[PublicAuthorizeURL]},
		RedirectURL: redirectURI,
		Scopes:      scopesOf(creds),
	}
	return cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), nil
}

// Complete finishes an authorisation from the provider's callback: it
// claims the pending authorisation by its state (single use: ErrUnknownState
// for a state never issued or tampered with, ErrStateReplayed for one used
// before, ErrStateExpired past its expiry), then exchanges the code with the
// PKCE verifier (ErrAuthorizationFailed when the provider refuses). The
// tokens come back sealed, for the caller to persist.
func (m *Manager) Complete(ctx context.Context, state, code string) (Authorization, error) {
	if state == "" {
		return Authorization{}, ErrUnknownState
	}
	if code == "" {
		return Authorization{}, domain.Invalid("code", "required", "the callback carries no authorisation code")
	}
	now := m.cfg.Now().UTC()
	hash := stateHash(state)
	var (
		a              Authorization
		redirectURI    string
		sealedVerifier string
		snapshotJSON   []byte
	)
	err := m.cfg.DB.QueryRow(ctx, `
		UPDATE oauth_authorizations SET used_at = $2
		WHERE state_hash = $1 AND used_at IS NULL AND expires_at > $2
		RETURNING tenant_id, connection_id, user_id, redirect_uri, verifier_sealed, credentials`,
		hash[:], now).Scan(&a.Tenant, &a.ConnectionID, &a.UserID, &redirectURI, &sealedVerifier, &snapshotJSON)
	if errors.Is(err, pgx.ErrNoRows) {
		return Authorization{}, m.unclaimable(ctx, hash[:])
	}
	if err != nil {
		return Authorization{}, fmt.Errorf("complete authorisation: %w", err)
	}
	var creds connection.Credentials
	if err := json.Unmarshal(snapshotJSON, &creds); err != nil {
		return Authorization{}, fmt.Errorf("complete authorisation of connection %s: %w", a.ConnectionID, err)
	}
	verifier, err := m.cfg.Vault.DecryptString(ctx, scope(a.Tenant, a.ConnectionID, fieldVerifier), sealedVerifier)
	if err != nil {
		return Authorization{}, fmt.Errorf("complete authorisation of connection %s: %w", a.ConnectionID, err)
	}
	cfg, err := m.oauthConfig(ctx, a.Tenant, a.ConnectionID, creds, redirectURI)
	if err != nil {
		return Authorization{}, err
	}
	tok, err := cfg.Exchange(m.oauthContext(ctx, a.ConnectionID), code, oauth2.VerifierOption(verifier))
	if err != nil {
		if reason, refused := refusal(err); refused {
			return Authorization{}, fmt.Errorf("complete authorisation of connection %s: %s: %w", a.ConnectionID, reason, ErrAuthorizationFailed)
		}
		return Authorization{}, fmt.Errorf("complete authorisation of connection %s: %w", a.ConnectionID, err)
	}
	_, a.Tokens, err = m.sealTokens(ctx, a.Tenant, a.ConnectionID, tok, "", "")
	if err != nil {
		return Authorization{}, err
	}
	m.cfg.Logger.InfoContext(ctx, "oauth authorisation completed", "connection", a.ConnectionID,
		"refresh_token", a.Tokens.Sealed[FieldRefreshToken] != "")
	return a, nil
}

// unclaimable says why a state could not be claimed.
func (m *Manager) unclaimable(ctx context.Context, hash []byte) error {
	var (
		used    *time.Time
		expires time.Time
	)
	err := m.cfg.DB.QueryRow(ctx, `SELECT used_at, expires_at FROM oauth_authorizations WHERE state_hash = $1`, hash).Scan(&used, &expires)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return ErrUnknownState
	case err != nil:
		return fmt.Errorf("complete authorisation: %w", err)
	case used != nil:
		return ErrStateReplayed
	default:
		return ErrStateExpired
	}
}

func randomState() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate state: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func stateHash(state string) [32]byte { return sha256.Sum256([]byte(state)) }
