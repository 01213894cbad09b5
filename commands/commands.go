// Package commands holds APIQ's use cases on the write side: each command
// loads its streams, folds them into state, lets the domain decide, and
// appends the decided events with an expected version, retrying a few times
// on a concurrent change. Handlers are called synchronously (from HTTP or
// the CLI) and return the global position of their last append, so callers
// can read their own writes.
package commands

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/apiq/apiq/adapters/authtoken"
	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/vault"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/user"
)

// EventStore is the event store port the commands append to and read from.
type EventStore interface {
	Append(ctx context.Context, stream string, expected int64, events []eventstore.EventData) (eventstore.AppendResult, error)
	ReadStream(ctx context.Context, stream string, from int64, limit int) ([]eventstore.RecordedEvent, error)
}

// Vault encrypts personal data under per-owner keys and computes blind indexes.
type Vault interface {
	EncryptString(ctx context.Context, s vault.Scope, plaintext string) (string, error)
	// DecryptString opens what EncryptString sealed (the TOTP secrets).
	DecryptString(ctx context.Context, s vault.Scope, ciphertext string) (string, error)
	DestroyOwnerKeys(ctx context.Context, tenant, owner string) error
	BlindIndex(tenant, value string) string
}

// PasswordHasher hashes and verifies passwords.
type PasswordHasher interface {
	Hash(password string) (string, error)
	Verify(password, hash string) (bool, error)
}

// AccessTokens signs access tokens.
type AccessTokens interface {
	Issue(c authtoken.Claims) (authtoken.Issued, error)
}

// Directory answers the lookups commands make on the read side: the users
// that may own an email (login without a tenant) and the owner of an API
// token. projections.UserDirectory implements it.
type Directory interface {
	FindLoginCandidates(ctx context.Context, email string) ([]user.LoginCandidate, error)
	APITokenOwner(ctx context.Context, tenantID, tokenID string) (userID string, err error)
}

// Deps are the collaborators handlers need; each constructor checks only
// the ones its command uses.
type Deps struct {
	Store     EventStore
	Vault     Vault
	Passwords PasswordHasher
	Tokens    AccessTokens
	Directory Directory
	// Logger receives one line per command (default slog.Default()).
	Logger *slog.Logger
	// Observe, if set, receives every command's name, duration and error
	// (e.g. to feed a metrics histogram).
	Observe func(command string, took time.Duration, err error)
	// Now is the clock (default time.Now).
	Now func() time.Time
	// MaxAttempts bounds load-decide-append attempts on a version conflict (default 5).
	MaxAttempts int
}

func (d Deps) withDefaults() Deps {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.MaxAttempts <= 0 {
		d.MaxAttempts = 5
	}
	return d
}

// require reports every dependency a handler needs that is missing.
func (d Deps) require(handler string, store, vlt, passwords, tokens, directory bool) error {
	var errs []error
	check := func(need, missing bool, name string) {
		if need && missing {
			errs = append(errs, errors.New(handler+": "+name+" is required"))
		}
	}
	check(store, d.Store == nil, "Store")
	check(vlt, d.Vault == nil, "Vault")
	check(passwords, d.Passwords == nil, "Passwords")
	check(tokens, d.Tokens == nil, "Tokens")
	check(directory, d.Directory == nil, "Directory")
	return errors.Join(errs...)
}

// Errors of the command side (the domain's own errors pass through).
var (
	// ErrConcurrentUpdate means the stream kept changing under the command
	// through every attempt (409).
	ErrConcurrentUpdate = domain.NewError(domain.ErrConflict, "concurrent_update",
		"the resource was changed concurrently; retry the request")
	// ErrTokenAlreadyIssued means an earlier attempt of this request issued
	// the token; its secret was shown then and cannot be shown again (409).
	ErrTokenAlreadyIssued = domain.NewError(domain.ErrConflict, "token_already_issued",
		"this request already issued its token; the secret is shown only once")
	// ErrTenantRequired means the email and password match users of several
	// tenants: the login must name the tenant (400).
	ErrTenantRequired = domain.Invalid("tenant_id", "tenant_required",
		"this email belongs to several tenants: name the tenant")
)

// Argon2idHasher hashes passwords with argon2id.
type Argon2idHasher struct {
	params *argon2id.Params
}

// DefaultArgon2idParams are the production parameters: 64 MiB, one pass,
// two lanes (RFC 9106's second recommended option scaled to a small server).
func DefaultArgon2idParams() *argon2id.Params {
	return &argon2id.Params{Memory: 64 * 1024, Iterations: 1, Parallelism: 2, SaltLength: 16, KeyLength: 32}
}

// NewArgon2idHasher returns a hasher with params (DefaultArgon2idParams when nil).
func NewArgon2idHasher(params *argon2id.Params) *Argon2idHasher {
	if params == nil {
		params = DefaultArgon2idParams()
	}
	return &Argon2idHasher{params: params}
}

// Hash returns the PHC-encoded argon2id hash of password with a fresh salt.
func (h *Argon2idHasher) Hash(password string) (string, error) {
	return argon2id.CreateHash(password, h.params)
}

// Verify reports whether password matches hash, in constant time.
func (h *Argon2idHasher) Verify(password, hash string) (bool, error) {
	return argon2id.ComparePasswordAndHash(password, hash)
}
