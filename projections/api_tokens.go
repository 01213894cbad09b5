package projections

import (
	"context"
	"fmt"
	"strings"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/domain/user"
)

// APITokensProjector builds the api_tokens view: one row per machine token,
// holding the SHA-256 of its secret, never the secret.
type APITokensProjector struct{}

var _ Projector = (*APITokensProjector)(nil)

// NewAPITokensProjector returns the API tokens projector.
func NewAPITokensProjector() *APITokensProjector { return &APITokensProjector{} }

// Name implements Projector.
func (*APITokensProjector) Name() string { return "api_tokens" }

// Version implements Projector.
func (*APITokensProjector) Version() int { return 1 }

// Schema implements Projector.
func (*APITokensProjector) Schema() string {
	return `
CREATE TABLE IF NOT EXISTS api_tokens (
    id          text        PRIMARY KEY,
    tenant_id   text        NOT NULL,
    user_id     text        NOT NULL,
    name        text        NOT NULL,
    secret_hash text        NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX IF NOT EXISTS api_tokens_user_idx ON api_tokens (tenant_id, user_id, created_at, id);`
}

// Apply implements Projector; issuing is insert-once and revoking keeps
// the first revocation time, so re-applied events change nothing.
func (*APITokensProjector) Apply(ctx context.Context, db DB, ev eventstore.RecordedEvent) error {
	decoded, ok, err := user.Decode(ev.Type, ev.Metadata.SchemaVersion, ev.Data)
	if err != nil || !ok {
		return err
	}
	switch e := decoded.(type) {
	case user.APITokenIssued:
		err = db.Exec(ctx, `
			INSERT INTO api_tokens (id, tenant_id, user_id, name, secret_hash, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (id) DO NOTHING`,
			e.TokenID, ev.Metadata.TenantID, strings.TrimPrefix(ev.StreamID, "user-"), e.Name, e.SecretHash,
			eventTime(ev), e.ExpiresAt)
	case user.APITokenRevoked:
		err = db.Exec(ctx, `UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL`,
			e.TokenID, eventTime(ev))
	default:
		return nil
	}
	if err != nil {
		return fmt.Errorf("api_tokens: apply %s: %w", ev.Type, err)
	}
	return nil
}
