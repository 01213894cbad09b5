package credentials

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/singleflight"

	"github.com/apiq/apiq/adapters/outbound"
	"github.com/apiq/apiq/adapters/vault"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/connection"
)

// Keys of connection.Credentials.Public.
const (
	PublicScheme        = "scheme"
	PublicName          = "name"
	PublicIn            = "in"
	PublicUsername      = "username"
	PublicClientID      = "client_id"
	PublicTokenURL      = "token_url"
	PublicAuthorizeURL  = "authorize_url"
	PublicRevocationURL = "revocation_url"
	// PublicScopes holds the scopes joined by spaces.
	PublicScopes    = "scopes"
	PublicAuthStyle = "auth_style"
)

// Keys of connection.Credentials.Sealed, also the vault scope's Field.
const (
	FieldAPIKey       = "api_key"
	FieldToken        = "token"
	FieldPassword     = "password"
	FieldClientSecret = "client_secret"
	FieldAccessToken  = "access_token"
	FieldRefreshToken = "refresh_token"
	// fieldVerifier seals a pending authorisation's PKCE verifier.
	fieldVerifier = "pkce_verifier"
)

// KeyOwner is the vault owner of a connection's secrets: destroying its keys
// (vault.DestroyOwnerKeys) shreds them.
func KeyOwner(connectionID string) string { return "connection:" + connectionID }

func scope(tenant, connectionID, field string) vault.Scope {
	return vault.Scope{Tenant: tenant, Owner: KeyOwner(connectionID), Field: field}
}

// Errors callers tell apart; each is a *domain.Error, so the HTTP layer maps
// it by kind.
var (
	// ErrReauthorizationRequired means the provider refused the connection's
	// tokens or client credentials (a refused refresh or token request, a 401
	// after fresh tokens): a person must act, and the caller appends
	// connection.reauthorization_required (see ReauthorizationError.Reason).
	ErrReauthorizationRequired = domain.NewError(domain.ErrConflict, "reauthorization_required",
		"the provider refused the connection's credentials; re-authorise the connection")
	// ErrNotAuthorized means an authorization-code connection has no tokens
	// yet: nobody completed the authorisation.
	ErrNotAuthorized = domain.NewError(domain.ErrConflict, "oauth_not_authorized",
		"the connection is waiting for OAuth authorisation")
	// ErrUnknownState means the callback's state matches no pending
	// authorisation (tampered with, or never issued).
	ErrUnknownState = domain.NewError(domain.ErrInvalid, "oauth_state_unknown",
		"the authorisation state is unknown")
	// ErrStateExpired means the pending authorisation timed out.
	ErrStateExpired = domain.NewError(domain.ErrInvalid, "oauth_state_expired",
		"the authorisation took too long; start again")
	// ErrStateReplayed means the state was already used: states are single use.
	ErrStateReplayed = domain.NewError(domain.ErrInvalid, "oauth_state_replayed",
		"the authorisation state was already used")
	// ErrAuthorizationFailed means the provider refused to exchange the code.
	ErrAuthorizationFailed = domain.NewError(domain.ErrInvalid, "oauth_exchange_failed",
		"the provider refused the authorisation code")
	// ErrWrongType means the operation does not apply to the connection's
	// credential type.
	ErrWrongType = domain.NewError(domain.ErrInvalid, "credential_type_mismatch",
		"the operation does not apply to this credential type")
)

// ReauthorizationError is ErrReauthorizationRequired with the reason to
// record; the reason names the provider's error code, never a secret.
type ReauthorizationError struct {
	Reason string
	Err    error
}

// Error describes the refusal.
func (e *ReauthorizationError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("reauthorization required: %s: %v", e.Reason, e.Err)
	}
	return "reauthorization required: " + e.Reason
}

// Unwrap matches ErrReauthorizationRequired and the cause.
func (e *ReauthorizationError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrReauthorizationRequired}
	}
	return []error{ErrReauthorizationRequired, e.Err}
}

func reauthorization(reason string, err error) error {
	return &ReauthorizationError{Reason: reason, Err: err}
}

// Vault is the part of the secret vault credentials need.
type Vault interface {
	EncryptString(ctx context.Context, s vault.Scope, plaintext string) (string, error)
	DecryptString(ctx context.Context, s vault.Scope, ciphertext string) (string, error)
}

// TokenStore is where a connection's OAuth tokens live between calls: its
// event stream. The connection commands implement it (StreamTokenStore is a
// ready implementation on the event store port); the Manager appends
// nothing itself.
type TokenStore interface {
	// CurrentCredentials returns the connection's credentials as its stream
	// says now, refreshed tokens folded in, and the stream version they were
	// read at. It must read the stream, not a read model that may lag:
	// another process may have just rotated the refresh token.
	CurrentCredentials(ctx context.Context, tenant, connectionID string) (connection.Credentials, int64, error)
	// SaveTokens persists refreshed tokens as connection.oauth_tokens_refreshed,
	// appended at expectedVersion (eventstore.ErrWrongExpectedVersion when the
	// stream moved on; the Manager then re-reads and retries).
	SaveTokens(ctx context.Context, tenant, connectionID string, expectedVersion int64, tokens connection.OAuthTokensRefreshed) error
}

// Config wires a Manager; zero durations take their defaults.
type Config struct {
	// Vault seals and opens secrets.
	Vault Vault
	// Outbound makes every call: token, revocation and discovery requests
	// included, so they are SSRF-checked like API calls.
	Outbound *outbound.Client
	// DB holds pending authorisations (oauth_authorizations) and the
	// advisory locks that serialise refreshes across processes. A refresh
	// holds one of its connections (no transaction) for the provider call,
	// at most TokenCallTimeout; size the pool for the refreshes that may
	// run at once, or give credentials a small pool of its own.
	DB *pgxpool.Pool
	// Tokens reads and persists authorization-code tokens.
	Tokens TokenStore
	// Logger receives refreshes and refusals (never secrets).
	Logger *slog.Logger
	// RefreshMargin is how long before expiry a token is refreshed
	// (default 1 minute).
	RefreshMargin time.Duration
	// AuthorizationTTL is how long a started authorisation may take to
	// complete (default 10 minutes).
	AuthorizationTTL time.Duration
	// TokenCallTimeout bounds one refresh or token request, whoever waits
	// for it (default 30 seconds).
	TokenCallTimeout time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.RefreshMargin == 0 {
		c.RefreshMargin = time.Minute
	}
	if c.AuthorizationTTL == 0 {
		c.AuthorizationTTL = 10 * time.Minute
	}
	if c.TokenCallTimeout == 0 {
		c.TokenCallTimeout = 30 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports every missing dependency and bad duration at once.
func (c Config) Validate() error {
	var errs []error
	if c.Vault == nil {
		errs = append(errs, errors.New("vault: required"))
	}
	if c.Outbound == nil {
		errs = append(errs, errors.New("outbound client: required"))
	}
	if c.DB == nil {
		errs = append(errs, errors.New("database pool: required"))
	}
	if c.Tokens == nil {
		errs = append(errs, errors.New("token store: required"))
	}
	if c.Logger == nil {
		errs = append(errs, errors.New("logger: required"))
	}
	if c.RefreshMargin < 0 {
		errs = append(errs, fmt.Errorf("refresh margin %s: must not be negative", c.RefreshMargin))
	}
	if c.AuthorizationTTL < 0 {
		errs = append(errs, fmt.Errorf("authorization TTL %s: must not be negative", c.AuthorizationTTL))
	}
	if c.TokenCallTimeout < 0 {
		errs = append(errs, fmt.Errorf("token call timeout %s: must not be negative", c.TokenCallTimeout))
	}
	return errors.Join(errs...)
}

// Manager seals, applies, refreshes and revokes connection credentials; it
// is safe for concurrent use. Its caches are per process; the stream (through
// the TokenStore) stays the source of truth.
type Manager struct {
	cfg    Config
	flight singleflight.Group

	mu sync.Mutex
	// codeTokens caches each authorization-code connection's newest tokens.
	codeTokens map[string]*codeTokens
	// clientTokens caches each client-credentials connection's access token.
	clientTokens map[string]*clientToken
}

// New returns a Manager configured by cfg.
func New(cfg Config) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("credentials config: %w", err)
	}
	cfg.setDefaults()
	return &Manager{cfg: cfg, codeTokens: map[string]*codeTokens{}, clientTokens: map[string]*clientToken{}}, nil
}

// Forget drops what the Manager caches about a connection (its credentials
// were replaced, or it was deleted).
func (m *Manager) Forget(tenant, connectionID string) {
	key := cacheKey(tenant, connectionID)
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.codeTokens, key)
	delete(m.clientTokens, key)
}

func cacheKey(tenant, connectionID string) string { return tenant + "\x00" + connectionID }

// fresh reports whether a token expiring at expiresAt (zero: unknown) may
// still be used rather than refreshed.
func (m *Manager) fresh(expiresAt time.Time) bool {
	return expiresAt.IsZero() || m.cfg.Now().Add(m.cfg.RefreshMargin).Before(expiresAt)
}

// expiry is when a token the provider just issued expires, by the Manager's
// clock; nil when the provider did not say. x/oauth2 sets Expiry by the
// system clock on receipt (and clientcredentials drops ExpiresIn), so the
// time left is carried over to the Manager's clock.
func (m *Manager) expiry(expiresIn int64, expiry time.Time) *time.Time {
	var left time.Duration
	switch {
	case expiresIn > 0:
		left = time.Duration(expiresIn) * time.Second
	case !expiry.IsZero():
		left = time.Until(expiry)
	default:
		return nil
	}
	t := m.cfg.Now().Add(left).UTC()
	return &t
}
