package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apiq/apiq/adapters/authtoken"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/user"
)

// APITokenView is an API token as the api_tokens view holds it.
type APITokenView struct {
	ID        string
	TenantID  string
	UserID    string
	Name      string
	CreatedAt time.Time
	ExpiresAt *time.Time
	RevokedAt *time.Time
}

// ErrAPITokenRejected is returned by AuthenticateAPIToken for a token that
// is malformed, unknown, wrong, revoked or expired (401).
var ErrAPITokenRejected = domain.NewError(domain.ErrUnauthenticated, "invalid_api_token",
	"the API token is invalid, revoked or expired")

func apiTokensTable() string { return SchemaName(&APITokensProjector{}) + ".api_tokens" }

const apiTokenColumns = `id, tenant_id, user_id, name, created_at, expires_at, revoked_at`

func scanAPIToken(row pgx.Row, extra ...any) (APITokenView, error) {
	var t APITokenView
	dest := append([]any{&t.ID, &t.TenantID, &t.UserID, &t.Name, &t.CreatedAt, &t.ExpiresAt, &t.RevokedAt}, extra...)
	err := row.Scan(dest...)
	t.CreatedAt, t.ExpiresAt, t.RevokedAt = t.CreatedAt.UTC(), utcPtr(t.ExpiresAt), utcPtr(t.RevokedAt)
	return t, err
}

// GetAPIToken returns a token of the tenant, or user.ErrTokenNotFound.
func GetAPIToken(ctx context.Context, db QueryDB, tenantID, tokenID string) (APITokenView, error) {
	t, err := scanAPIToken(db.QueryRow(ctx, `SELECT `+apiTokenColumns+` FROM `+apiTokensTable()+`
		WHERE tenant_id = $1 AND id = $2`, tenantID, tokenID))
	if errors.Is(err, pgx.ErrNoRows) {
		return APITokenView{}, user.ErrTokenNotFound
	}
	if err != nil {
		return APITokenView{}, fmt.Errorf("get API token %s: %w", tokenID, err)
	}
	return t, nil
}

// ListAPITokens returns the tokens of a user of the tenant, oldest first.
func ListAPITokens(ctx context.Context, db QueryDB, tenantID, userID string) ([]APITokenView, error) {
	rows, err := db.Query(ctx, `SELECT `+apiTokenColumns+` FROM `+apiTokensTable()+`
		WHERE tenant_id = $1 AND user_id = $2 ORDER BY created_at, id`, tenantID, userID)
	if err != nil {
		return nil, fmt.Errorf("list API tokens: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (APITokenView, error) { return scanAPIToken(r) })
	if err != nil {
		return nil, fmt.Errorf("list API tokens: %w", err)
	}
	return out, nil
}

// ListTenantAPITokens returns every token of the tenant, revoked and
// expired ones included, oldest first.
func ListTenantAPITokens(ctx context.Context, db QueryDB, tenantID string) ([]APITokenView, error) {
	rows, err := db.Query(ctx, `SELECT `+apiTokenColumns+` FROM `+apiTokensTable()+`
		WHERE tenant_id = $1 ORDER BY created_at, id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list tenant API tokens: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (APITokenView, error) { return scanAPIToken(r) })
	if err != nil {
		return nil, fmt.Errorf("list tenant API tokens: %w", err)
	}
	return out, nil
}

// AuthenticateAPIToken checks a presented API token ("apiq_<id>_<secret>"):
// known, secret matching the stored hash (constant time), not revoked, not
// expired at now. It is the one token lookup not scoped to a tenant: the
// token names its tenant. Callers still check that the user is active.
func AuthenticateAPIToken(ctx context.Context, db QueryDB, token string, now time.Time) (APITokenView, error) {
	parsed, err := authtoken.ParseAPIToken(token)
	if err != nil {
		return APITokenView{}, ErrAPITokenRejected
	}
	var hash string
	t, err := scanAPIToken(db.QueryRow(ctx, `SELECT `+apiTokenColumns+`, secret_hash FROM `+apiTokensTable()+`
		WHERE id = $1`, parsed.ID), &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return APITokenView{}, ErrAPITokenRejected
	}
	if err != nil {
		return APITokenView{}, fmt.Errorf("authenticate API token: %w", err)
	}
	switch {
	case !authtoken.VerifySecret(parsed.Secret, hash),
		t.RevokedAt != nil,
		t.ExpiresAt != nil && !now.Before(*t.ExpiresAt):
		return APITokenView{}, ErrAPITokenRejected
	}
	return t, nil
}
