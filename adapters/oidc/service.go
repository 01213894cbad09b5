package oidc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/oauth2"

	"github.com/apiq/apiq/adapters/outbound"
	"github.com/apiq/apiq/adapters/vault"
)

// DB is what the service needs of PostgreSQL (a *pgxpool.Pool satisfies it).
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Vault seals client secrets, PKCE verifiers and nonces.
type Vault interface {
	EncryptString(ctx context.Context, s vault.Scope, plaintext string) (string, error)
	DecryptString(ctx context.Context, s vault.Scope, ciphertext string) (string, error)
}

// Config holds the service's collaborators and settings.
type Config struct {
	DB    DB
	Vault Vault
	// Outbound carries every request to a provider.
	Outbound *outbound.Client
	// FlowTTL bounds the time between start and callback (default 10 minutes).
	FlowTTL time.Duration
	// Now is the clock, also used to check ID token expiry (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// Validate reports every missing collaborator.
func (c Config) Validate() error {
	var errs []error
	if c.DB == nil {
		errs = append(errs, errors.New("oidc: DB is required"))
	}
	if c.Vault == nil {
		errs = append(errs, errors.New("oidc: Vault is required"))
	}
	if c.Outbound == nil {
		errs = append(errs, errors.New("oidc: Outbound is required"))
	}
	if c.FlowTTL < 0 {
		errs = append(errs, errors.New("oidc: FlowTTL must not be negative"))
	}
	return errors.Join(errs...)
}

// Service manages providers and runs logins through them.
type Service struct {
	cfg Config
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.FlowTTL == 0 {
		cfg.FlowTTL = 10 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{cfg: cfg}, nil
}

// Identity is who the provider vouched for, after every check passed.
type Identity struct {
	TenantID      string
	ProviderID    string
	Issuer        string
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
	// Role is the role the provider's mapping grants.
	Role string
}

func providerScope(tenantID, providerID, field string) vault.Scope {
	return vault.Scope{Tenant: tenantID, Owner: "sso_provider:" + providerID, Field: field}
}

// CreateProvider stores a new provider of the tenant, its client secret
// sealed with the vault.
func (s *Service) CreateProvider(ctx context.Context, tenantID, createdBy string, in NewProvider) (Provider, error) {
	in, err := in.normalize()
	if err != nil {
		return Provider{}, err
	}
	id := uuid.NewString()
	sealed, err := s.cfg.Vault.EncryptString(ctx, providerScope(tenantID, id, "client_secret"), in.ClientSecret)
	if err != nil {
		return Provider{}, fmt.Errorf("seal client secret: %w", err)
	}
	mapping, err := json.Marshal(in.RoleMapping)
	if err != nil {
		return Provider{}, fmt.Errorf("encode role mapping: %w", err)
	}
	now := s.cfg.Now().UTC().Truncate(time.Microsecond)
	if _, err := s.cfg.DB.Exec(ctx, `INSERT INTO sso_providers
		(id, tenant_id, name, issuer_url, client_id, secret_sealed, allowed_domains, role_claim, role_mapping, default_role, created_by, created_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`,
		id, tenantID, in.Name, in.IssuerURL, in.ClientID, sealed, in.AllowedDomains, in.RoleClaim, mapping,
		in.DefaultRole, createdBy, now); err != nil {
		return Provider{}, fmt.Errorf("insert sso provider: %w", err)
	}
	return Provider{ID: id, TenantID: tenantID, Name: in.Name, IssuerURL: in.IssuerURL, ClientID: in.ClientID,
		AllowedDomains: in.AllowedDomains, RoleClaim: in.RoleClaim, RoleMapping: in.RoleMapping,
		DefaultRole: in.DefaultRole, CreatedAt: now}, nil
}

const providerColumns = `id, tenant_id, name, issuer_url, client_id, allowed_domains, role_claim, role_mapping, default_role, created_at, secret_sealed`

func scanProvider(row pgx.Row) (Provider, string, error) {
	var p Provider
	var mapping []byte
	var sealed string
	err := row.Scan(&p.ID, &p.TenantID, &p.Name, &p.IssuerURL, &p.ClientID, &p.AllowedDomains, &p.RoleClaim,
		&mapping, &p.DefaultRole, &p.CreatedAt, &sealed)
	if err != nil {
		return Provider{}, "", err
	}
	if err := json.Unmarshal(mapping, &p.RoleMapping); err != nil {
		return Provider{}, "", fmt.Errorf("decode role mapping: %w", err)
	}
	if p.AllowedDomains == nil {
		p.AllowedDomains = []string{}
	}
	return p, sealed, nil
}

// ListProviders returns the tenant's providers, oldest first.
func (s *Service) ListProviders(ctx context.Context, tenantID string) ([]Provider, error) {
	rows, err := s.cfg.DB.Query(ctx, `SELECT `+providerColumns+` FROM sso_providers
		WHERE tenant_id = $1 ORDER BY created_at, id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list sso providers: %w", err)
	}
	defer rows.Close()
	out := []Provider{}
	for rows.Next() {
		p, _, err := scanProvider(rows)
		if err != nil {
			return nil, fmt.Errorf("list sso providers: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sso providers: %w", err)
	}
	return out, nil
}

// GetProvider returns a provider of the tenant, or ErrProviderNotFound.
func (s *Service) GetProvider(ctx context.Context, tenantID, id string) (Provider, error) {
	p, _, err := s.lookup(ctx, id)
	if err != nil {
		return Provider{}, err
	}
	if p.TenantID != tenantID {
		return Provider{}, ErrProviderNotFound
	}
	return p, nil
}

// FindProvider returns the provider with the id, of whichever tenant (to
// know whose login a callback is), or ErrProviderNotFound.
func (s *Service) FindProvider(ctx context.Context, id string) (Provider, error) {
	p, _, err := s.lookup(ctx, id)
	return p, err
}

// lookup finds a provider of any tenant by id, with its sealed secret.
func (s *Service) lookup(ctx context.Context, id string) (Provider, string, error) {
	if _, err := uuid.Parse(id); err != nil {
		return Provider{}, "", ErrProviderNotFound
	}
	p, sealed, err := scanProvider(s.cfg.DB.QueryRow(ctx, `SELECT `+providerColumns+` FROM sso_providers WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Provider{}, "", ErrProviderNotFound
	}
	if err != nil {
		return Provider{}, "", fmt.Errorf("get sso provider %s: %w", id, err)
	}
	return p, sealed, nil
}

// DeleteProvider removes a provider of the tenant and its logins in flight.
func (s *Service) DeleteProvider(ctx context.Context, tenantID, id string) error {
	if _, err := uuid.Parse(id); err != nil {
		return ErrProviderNotFound
	}
	tag, err := s.cfg.DB.Exec(ctx, `DELETE FROM sso_providers WHERE id = $1 AND tenant_id = $2`, id, tenantID)
	if err != nil {
		return fmt.Errorf("delete sso provider %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrProviderNotFound
	}
	return nil
}

// client returns the provider's discovered endpoints and OAuth2 settings,
// every request through the outbound client.
func (s *Service) client(ctx context.Context, p Provider, sealed, redirectURI string) (context.Context, *gooidc.Provider, oauth2.Config, error) {
	ctx = gooidc.ClientContext(ctx, httpClient(s.cfg.Outbound, "sso:"+p.ID))
	discovered, err := gooidc.NewProvider(ctx, p.IssuerURL)
	if err != nil {
		return nil, nil, oauth2.Config{}, fmt.Errorf("discover %s: %w", p.IssuerURL, err)
	}
	secret, err := s.cfg.Vault.DecryptString(ctx, providerScope(p.TenantID, p.ID, "client_secret"), sealed)
	if err != nil {
		return nil, nil, oauth2.Config{}, fmt.Errorf("open client secret: %w", err)
	}
	return ctx, discovered, oauth2.Config{
		ClientID: p.ClientID, ClientSecret: secret, Endpoint: discovered.Endpoint(), RedirectURL: redirectURI,
		Scopes: []string{gooidc.ScopeOpenID, "email", "profile"},
	}, nil
}

func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func stateHash(state string) []byte {
	h := sha256.Sum256([]byte(state))
	return h[:]
}

// Start begins a login through the provider: it stores the state, the
// PKCE verifier and the nonce for FlowTTL and returns the provider's
// authorization URL to send the browser to.
func (s *Service) Start(ctx context.Context, providerID, redirectURI string) (string, error) {
	p, sealed, err := s.lookup(ctx, providerID)
	if err != nil {
		return "", err
	}
	_, _, conf, err := s.client(ctx, p, sealed, redirectURI)
	if err != nil {
		return "", err
	}
	state, err := randomToken()
	if err != nil {
		return "", err
	}
	nonce, err := randomToken()
	if err != nil {
		return "", err
	}
	verifier := oauth2.GenerateVerifier()
	sealedVerifier, err := s.cfg.Vault.EncryptString(ctx, providerScope(p.TenantID, p.ID, "pkce_verifier"), verifier)
	if err != nil {
		return "", fmt.Errorf("seal verifier: %w", err)
	}
	sealedNonce, err := s.cfg.Vault.EncryptString(ctx, providerScope(p.TenantID, p.ID, "nonce"), nonce)
	if err != nil {
		return "", fmt.Errorf("seal nonce: %w", err)
	}
	now := s.cfg.Now()
	if _, err := s.cfg.DB.Exec(ctx, `DELETE FROM sso_login_flows WHERE expires_at < $1`, now.Add(-24*time.Hour)); err != nil {
		return "", fmt.Errorf("prune sso logins: %w", err)
	}
	if _, err := s.cfg.DB.Exec(ctx, `INSERT INTO sso_login_flows
		(state_hash, provider_id, redirect_uri, verifier_sealed, nonce_sealed, created_at, expires_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7)`,
		stateHash(state), p.ID, redirectURI, sealedVerifier, sealedNonce, now, now.Add(s.cfg.FlowTTL)); err != nil {
		return "", fmt.Errorf("store sso login: %w", err)
	}
	return conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), gooidc.Nonce(nonce)), nil
}

// Reasons of a refused callback (Refusal.Reason): stable codes for the
// audit trail.
const (
	// ReasonUnknownState: the state is not one Start issued for the
	// provider, or it was used already (tampered, forged or replayed).
	ReasonUnknownState = "unknown_state"
	// ReasonExpiredState: the login took longer than FlowTTL.
	ReasonExpiredState = "expired_state"
	// ReasonMissingCode: the callback carried no code.
	ReasonMissingCode = "missing_code"
	// ReasonCodeExchange: the provider refused the code (e.g. a used one).
	ReasonCodeExchange = "code_exchange_failed"
	// ReasonMissingIDToken: the token response had no ID token.
	ReasonMissingIDToken = "missing_id_token"
	// ReasonInvalidIDToken: the ID token's signature, issuer, audience or expiry did not verify.
	ReasonInvalidIDToken = "invalid_id_token"
	// ReasonNonceMismatch: the ID token's nonce is not the login's.
	ReasonNonceMismatch = "nonce_mismatch"
	// ReasonInvalidClaims: the ID token's or userinfo's claims did not decode.
	ReasonInvalidClaims = "invalid_claims"
	// ReasonUserInfo: the userinfo endpoint failed.
	ReasonUserInfo = "userinfo_failed"
	// ReasonUserInfoSubject: userinfo answered for another subject.
	ReasonUserInfoSubject = "userinfo_subject_mismatch"
	// ReasonMissingEmail: the provider vouched for no email.
	ReasonMissingEmail = "missing_email"
)

// Refusal is a refused callback: it is ErrLoginRefused (errors.Is) with
// the reason code.
type Refusal struct {
	Reason string
}

// Error implements error.
func (r *Refusal) Error() string { return r.Reason + ": " + ErrLoginRefused.Error() }

// Unwrap makes a Refusal ErrLoginRefused.
func (r *Refusal) Unwrap() error { return ErrLoginRefused }

// refuse logs why a callback was refused and returns a Refusal.
func (s *Service) refuse(ctx context.Context, providerID, reason string, err error) error {
	attrs := []any{slog.String("provider_id", providerID), slog.String("reason", reason)}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	s.cfg.Logger.WarnContext(ctx, "sso login refused", attrs...)
	return &Refusal{Reason: reason}
}

// Complete finishes a login on the provider's callback: the state must be
// one Start issued for the provider, unused and unexpired (it is consumed
// either way); the code is exchanged with the PKCE verifier; the ID token's
// signature (JWKS), issuer, audience, expiry and nonce are verified.
func (s *Service) Complete(ctx context.Context, providerID, code, state string) (Identity, error) {
	p, sealed, err := s.lookup(ctx, providerID)
	if err != nil {
		return Identity{}, err
	}
	var redirectURI, sealedVerifier, sealedNonce string
	var expiresAt time.Time
	err = s.cfg.DB.QueryRow(ctx, `DELETE FROM sso_login_flows WHERE state_hash = $1 AND provider_id = $2
		RETURNING redirect_uri, verifier_sealed, nonce_sealed, expires_at`, stateHash(state), p.ID).
		Scan(&redirectURI, &sealedVerifier, &sealedNonce, &expiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Identity{}, s.refuse(ctx, p.ID, ReasonUnknownState, nil)
	}
	if err != nil {
		return Identity{}, fmt.Errorf("claim sso login: %w", err)
	}
	if !s.cfg.Now().Before(expiresAt) {
		return Identity{}, s.refuse(ctx, p.ID, ReasonExpiredState, nil)
	}
	if code == "" {
		return Identity{}, s.refuse(ctx, p.ID, ReasonMissingCode, nil)
	}
	verifier, err := s.cfg.Vault.DecryptString(ctx, providerScope(p.TenantID, p.ID, "pkce_verifier"), sealedVerifier)
	if err != nil {
		return Identity{}, fmt.Errorf("open verifier: %w", err)
	}
	nonce, err := s.cfg.Vault.DecryptString(ctx, providerScope(p.TenantID, p.ID, "nonce"), sealedNonce)
	if err != nil {
		return Identity{}, fmt.Errorf("open nonce: %w", err)
	}
	ctx, discovered, conf, err := s.client(ctx, p, sealed, redirectURI)
	if err != nil {
		return Identity{}, err
	}
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return Identity{}, s.refuse(ctx, p.ID, ReasonCodeExchange, err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return Identity{}, s.refuse(ctx, p.ID, ReasonMissingIDToken, nil)
	}
	idToken, err := discovered.VerifierContext(ctx, &gooidc.Config{ClientID: p.ClientID, Now: s.cfg.Now}).Verify(ctx, raw)
	if err != nil {
		return Identity{}, s.refuse(ctx, p.ID, ReasonInvalidIDToken, err)
	}
	if idToken.Nonce != nonce {
		return Identity{}, s.refuse(ctx, p.ID, ReasonNonceMismatch, nil)
	}
	claims := map[string]any{}
	if err := idToken.Claims(&claims); err != nil {
		return Identity{}, s.refuse(ctx, p.ID, ReasonInvalidClaims, err)
	}
	if _, hasEmail := claims["email"]; !hasEmail {
		// Providers that keep the email out of the ID token answer it at
		// the userinfo endpoint, for the same subject.
		info, err := discovered.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			return Identity{}, s.refuse(ctx, p.ID, ReasonUserInfo, err)
		}
		if info.Subject != idToken.Subject {
			return Identity{}, s.refuse(ctx, p.ID, ReasonUserInfoSubject, nil)
		}
		extra := map[string]any{}
		if err := info.Claims(&extra); err != nil {
			return Identity{}, s.refuse(ctx, p.ID, ReasonInvalidClaims, err)
		}
		for k, v := range extra {
			if _, taken := claims[k]; !taken {
				claims[k] = v
			}
		}
	}
	id := Identity{TenantID: p.TenantID, ProviderID: p.ID, Issuer: idToken.Issuer, Subject: idToken.Subject,
		Role: p.roleFor(claims)}
	id.Email, _ = claims["email"].(string)
	id.Name, _ = claims["name"].(string)
	switch v := claims["email_verified"].(type) {
	case bool:
		id.EmailVerified = v
	case string:
		id.EmailVerified = v == "true"
	}
	if id.Email == "" {
		return Identity{}, s.refuse(ctx, p.ID, ReasonMissingEmail, nil)
	}
	if !p.allows(id.Email) {
		return Identity{}, ErrEmailDomain
	}
	return id, nil
}
