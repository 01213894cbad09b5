package projections

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/vault"
	"github.com/apiq/apiq/domain/user"
)

// Decrypter decrypts the personal data in user events (the vault).
type Decrypter interface {
	DecryptString(ctx context.Context, s vault.Scope, ciphertext string) (string, error)
}

// UsersProjector builds the users view: one row per user, with the email
// and name decrypted. A user whose data key was destroyed (deleted) keeps
// its row with blank email and name and forgotten set.
type UsersProjector struct {
	vault Decrypter
}

var _ Projector = (*UsersProjector)(nil)

// NewUsersProjector returns the users projector, decrypting through v.
func NewUsersProjector(v Decrypter) (*UsersProjector, error) {
	if v == nil {
		return nil, errors.New("users projector: nil decrypter")
	}
	return &UsersProjector{vault: v}, nil
}

// Name implements Projector.
func (*UsersProjector) Name() string { return "users" }

// Version implements Projector.
func (*UsersProjector) Version() int { return 2 }

// Schema implements Projector.
func (*UsersProjector) Schema() string {
	return `
CREATE TABLE IF NOT EXISTS users (
    id            text        PRIMARY KEY,
    tenant_id     text        NOT NULL,
    email         text        NOT NULL DEFAULT '',
    email_lower   text        NOT NULL DEFAULT '',
    name          text        NOT NULL DEFAULT '',
    forgotten     boolean     NOT NULL DEFAULT false,
    role          text        NOT NULL,
    disabled      boolean     NOT NULL DEFAULT false,
    password_hash text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    last_login_at timestamptz,
    totp_enabled  boolean     NOT NULL DEFAULT false,
    deleted       boolean     NOT NULL DEFAULT false,
    last_version  bigint      NOT NULL
);
CREATE INDEX IF NOT EXISTS users_tenant_page_idx ON users (tenant_id, created_at, id) WHERE NOT deleted;
CREATE INDEX IF NOT EXISTS users_email_lower_idx ON users (email_lower) WHERE NOT deleted;`
}

// Apply implements Projector. Every change carries the event's stream
// version and is skipped when the row already holds that version or later.
func (p *UsersProjector) Apply(ctx context.Context, db DB, ev eventstore.RecordedEvent) error {
	decoded, ok, err := user.Decode(ev.Type, ev.Metadata.SchemaVersion, ev.Data)
	if err != nil || !ok {
		return err
	}
	userID := strings.TrimPrefix(ev.StreamID, "user-")
	at := eventTime(ev)
	switch e := decoded.(type) {
	case user.Created:
		err = p.created(ctx, db, ev, e)
	case user.Updated:
		var name *string
		forgotten := false
		if e.EncryptedName != nil {
			n, gone, derr := p.decrypt(ctx, ev.Metadata.TenantID, userID, "name", *e.EncryptedName)
			if derr != nil {
				return derr
			}
			name, forgotten = &n, gone
		}
		var role *string
		if e.Role != nil {
			r := string(*e.Role)
			role = &r
		}
		err = db.Exec(ctx, `
			UPDATE users SET
			    name = coalesce($3, name), forgotten = forgotten OR $4,
			    role = coalesce($5, role), disabled = coalesce($6, disabled),
			    password_hash = coalesce($7, password_hash),
			    updated_at = $8, last_version = $2
			WHERE id = $1 AND last_version < $2`,
			userID, ev.Version, name, forgotten, role, e.Disabled, e.PasswordHash, at)
	case user.Deleted:
		err = db.Exec(ctx, `
			UPDATE users SET deleted = true, email = '', email_lower = '', name = '', forgotten = true,
			    password_hash = '', totp_enabled = false, updated_at = $3, last_version = $2
			WHERE id = $1 AND last_version < $2`, userID, ev.Version, at)
	case user.TOTPConfirmed, user.TOTPDisabled:
		_, enabled := e.(user.TOTPConfirmed)
		err = db.Exec(ctx, `UPDATE users SET totp_enabled = $3, updated_at = $4, last_version = $2
			WHERE id = $1 AND last_version < $2`, userID, ev.Version, enabled, at)
	case user.LoggedIn:
		err = db.Exec(ctx, `UPDATE users SET last_login_at = $3, last_version = $2 WHERE id = $1 AND last_version < $2`,
			userID, ev.Version, at)
	default:
		err = db.Exec(ctx, `UPDATE users SET last_version = $2 WHERE id = $1 AND last_version < $2`, userID, ev.Version)
	}
	if err != nil {
		return fmt.Errorf("users: apply %s of %s: %w", ev.Type, userID, err)
	}
	return nil
}

func (p *UsersProjector) created(ctx context.Context, db DB, ev eventstore.RecordedEvent, e user.Created) error {
	email, goneEmail, err := p.decrypt(ctx, e.TenantID, e.UserID, "email", e.EncryptedEmail)
	if err != nil {
		return err
	}
	name, goneName, err := p.decrypt(ctx, e.TenantID, e.UserID, "name", e.EncryptedName)
	if err != nil {
		return err
	}
	at := eventTime(ev)
	return db.Exec(ctx, `
		INSERT INTO users (id, tenant_id, email, email_lower, name, forgotten, role, password_hash,
		                   created_at, updated_at, last_version)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)
		ON CONFLICT (id) DO NOTHING`,
		e.UserID, e.TenantID, email, user.NormalizeEmail(email), name, goneEmail || goneName,
		string(e.Role), e.PasswordHash, at, ev.Version)
}

// decrypt returns a field's plaintext, or "" and gone when the user's data
// key was destroyed (or never reached this database): such data is forgotten.
func (p *UsersProjector) decrypt(ctx context.Context, tenantID, userID, field, ciphertext string) (string, bool, error) {
	plain, err := p.vault.DecryptString(ctx, vault.Scope{Tenant: tenantID, Owner: user.KeyOwner(userID), Field: field}, ciphertext)
	switch {
	case errors.Is(err, vault.ErrKeyDestroyed), errors.Is(err, vault.ErrKeyNotFound):
		return "", true, nil
	case err != nil:
		return "", false, fmt.Errorf("users: decrypt %s of %s: %w", field, userID, err)
	}
	return plain, false, nil
}

// eventTime is when an event's change happened: the envelope's occurred_at,
// or the store's recording time for events without one.
func eventTime(ev eventstore.RecordedEvent) time.Time {
	if !ev.Metadata.OccurredAt.IsZero() {
		return ev.Metadata.OccurredAt
	}
	return ev.RecordedAt
}
