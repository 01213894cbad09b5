// Package session keeps the web interface's browser sessions server-side:
// a random cookie token (only its SHA-256 stored) with a CSRF token, both
// revocable at once.
package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrNotFound means the token names no live session: unknown, expired or revoked.
var ErrNotFound = errors.New("session: not found, expired or revoked")

// DB is what the store needs of PostgreSQL (a *pgxpool.Pool satisfies it).
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Session is who a browser session signs in.
type Session struct {
	TenantID   string
	UserID     string
	AuthMethod string
	SSOIssuer  string
	SSOSubject string
	ExpiresAt  time.Time
}

// Issued is a new session's secrets, for the cookies.
type Issued struct {
	Token     string
	CSRFToken string
	ExpiresAt time.Time
}

// Store creates, finds and revokes sessions.
type Store struct {
	db  DB
	ttl time.Duration
	now func() time.Time
}

// New returns a Store whose sessions last ttl; now is the clock (time.Now when nil).
func New(db DB, ttl time.Duration, now func() time.Time) (*Store, error) {
	var errs []error
	if db == nil {
		errs = append(errs, errors.New("session: DB is required"))
	}
	if ttl <= 0 {
		errs = append(errs, errors.New("session: the lifetime must be positive"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, ttl: ttl, now: now}, nil
}

func random() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("session: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// Create starts a session for s (its ExpiresAt is set by the store).
func (st *Store) Create(ctx context.Context, s Session) (Issued, error) {
	token, err := random()
	if err != nil {
		return Issued{}, err
	}
	csrf, err := random()
	if err != nil {
		return Issued{}, err
	}
	now := st.now()
	expires := now.Add(st.ttl)
	if _, err := st.db.Exec(ctx, `DELETE FROM browser_sessions WHERE expires_at < $1`, now.Add(-24*time.Hour)); err != nil {
		return Issued{}, fmt.Errorf("session: prune: %w", err)
	}
	if _, err := st.db.Exec(ctx, `INSERT INTO browser_sessions
		(token_hash, csrf_hash, tenant_id, user_id, auth_method, sso_issuer, sso_subject, created_at, expires_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`,
		hash(token), hash(csrf), s.TenantID, s.UserID, s.AuthMethod, s.SSOIssuer, s.SSOSubject, now, expires); err != nil {
		return Issued{}, fmt.Errorf("session: create: %w", err)
	}
	return Issued{Token: token, CSRFToken: csrf, ExpiresAt: expires}, nil
}

// Lookup returns the live session of token and whether csrf is its CSRF
// token (csrf may be empty: a safe request needs none).
func (st *Store) Lookup(ctx context.Context, token, csrf string) (Session, bool, error) {
	if token == "" {
		return Session{}, false, ErrNotFound
	}
	var s Session
	var csrfHash []byte
	err := st.db.QueryRow(ctx, `SELECT tenant_id, user_id, auth_method, sso_issuer, sso_subject, expires_at, csrf_hash
		FROM browser_sessions WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2`, hash(token), st.now()).
		Scan(&s.TenantID, &s.UserID, &s.AuthMethod, &s.SSOIssuer, &s.SSOSubject, &s.ExpiresAt, &csrfHash)
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, false, ErrNotFound
	}
	if err != nil {
		return Session{}, false, fmt.Errorf("session: lookup: %w", err)
	}
	csrfOK := csrf != "" && subtle.ConstantTimeCompare(hash(csrf), csrfHash) == 1
	return s, csrfOK, nil
}

// Revoke ends the session of token; an unknown token is not an error.
func (st *Store) Revoke(ctx context.Context, token string) error {
	if _, err := st.db.Exec(ctx, `UPDATE browser_sessions SET revoked_at = $2
		WHERE token_hash = $1 AND revoked_at IS NULL`, hash(token), st.now()); err != nil {
		return fmt.Errorf("session: revoke: %w", err)
	}
	return nil
}

// RevokeUser ends every session of a user (disabled, deleted, password changed).
func (st *Store) RevokeUser(ctx context.Context, tenantID, userID string) error {
	if _, err := st.db.Exec(ctx, `UPDATE browser_sessions SET revoked_at = $3
		WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL`, tenantID, userID, st.now()); err != nil {
		return fmt.Errorf("session: revoke user: %w", err)
	}
	return nil
}
