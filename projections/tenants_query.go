package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apiq/apiq/domain/tenant"
)

// TenantView is a tenant as the tenants view holds it.
type TenantView struct {
	ID        string
	Name      string
	Slug      string
	CreatedAt time.Time
	// TOTPRequired makes every password user of the tenant use TOTP.
	TOTPRequired bool
}

// GetTenant returns a tenant, or tenant.ErrNotFound.
func GetTenant(ctx context.Context, db QueryDB, tenantID string) (TenantView, error) {
	var t TenantView
	err := db.QueryRow(ctx, `SELECT id, name, slug, created_at, totp_required FROM `+SchemaName(&TenantsProjector{})+`.tenants
		WHERE id = $1`, tenantID).Scan(&t.ID, &t.Name, &t.Slug, &t.CreatedAt, &t.TOTPRequired)
	if errors.Is(err, pgx.ErrNoRows) {
		return TenantView{}, tenant.ErrNotFound
	}
	if err != nil {
		return TenantView{}, fmt.Errorf("get tenant %s: %w", tenantID, err)
	}
	t.CreatedAt = t.CreatedAt.UTC()
	return t, nil
}
