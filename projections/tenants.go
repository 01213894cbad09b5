package projections

import (
	"context"
	"fmt"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/domain/tenant"
)

// TenantsProjector builds the tenants view: one row per tenant.
type TenantsProjector struct{}

var _ Projector = (*TenantsProjector)(nil)

// NewTenantsProjector returns the tenants projector.
func NewTenantsProjector() *TenantsProjector { return &TenantsProjector{} }

// Name implements Projector.
func (*TenantsProjector) Name() string { return "tenants" }

// Version implements Projector.
func (*TenantsProjector) Version() int { return 2 }

// Schema implements Projector.
func (*TenantsProjector) Schema() string {
	return `
CREATE TABLE IF NOT EXISTS tenants (
    id           text        PRIMARY KEY,
    name         text        NOT NULL,
    slug         text        NOT NULL,
    totp_required boolean    NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL,
    last_version bigint      NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS tenants_slug_idx ON tenants (slug);`
}

// Apply implements Projector: it records tenant.created and the security
// settings; the admin roster events only move last_version.
func (*TenantsProjector) Apply(ctx context.Context, db DB, ev eventstore.RecordedEvent) error {
	decoded, ok, err := tenant.Decode(ev.Type, ev.Metadata.SchemaVersion, ev.Data)
	if err != nil || !ok {
		return err
	}
	switch e := decoded.(type) {
	case tenant.Created:
		err = db.Exec(ctx, `
			INSERT INTO tenants (id, name, slug, created_at, last_version) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (id) DO NOTHING`, e.TenantID, e.Name, e.Slug, eventTime(ev), ev.Version)
	case tenant.SecurityChanged:
		err = db.Exec(ctx, `UPDATE tenants SET totp_required = $3, last_version = $2 WHERE id = $1 AND last_version < $2`,
			ev.Metadata.TenantID, ev.Version, e.TOTPRequired)
	default:
		err = db.Exec(ctx, `UPDATE tenants SET last_version = $2 WHERE id = $1 AND last_version < $2`,
			ev.Metadata.TenantID, ev.Version)
	}
	if err != nil {
		return fmt.Errorf("tenants: apply %s: %w", ev.Type, err)
	}
	return nil
}
