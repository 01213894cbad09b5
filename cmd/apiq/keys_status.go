package main

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/apiq/apiq/adapters/vault"
	"github.com/apiq/apiq/http/api"
	"github.com/apiq/apiq/projections"
)

// keyStatus implements api.KeyStatus: the keyring this process loaded and
// the tenant's live data keys per KEK (data_keys of adapters/vault). A
// rotation run by another process shows here once the server restarts with
// the new keyring; the counts are always current.
type keyStatus struct {
	db      projections.QueryDB
	keyring *vault.Keyring
}

// KeyStatus implements api.KeyStatus.
func (k keyStatus) KeyStatus(ctx context.Context, tenantID string) (api.KeyRotationStatus, error) {
	rows, err := k.db.Query(ctx, `SELECT kek_id, count(*) FROM data_keys
		WHERE tenant_id = $1 AND destroyed_at IS NULL GROUP BY kek_id`, tenantID)
	if err != nil {
		return api.KeyRotationStatus{}, fmt.Errorf("key status: %w", err)
	}
	counts := map[string]int{}
	var (
		id string
		n  int
	)
	if _, err := pgx.ForEachRow(rows, []any{&id, &n}, func() error { counts[id] = n; return nil }); err != nil {
		return api.KeyRotationStatus{}, fmt.Errorf("key status: %w", err)
	}
	primary := k.keyring.Primary()
	st := api.KeyRotationStatus{ActiveKEK: primary, RotationComplete: true}
	ring := k.keyring.IDs()
	ids := slices.Clone(ring)
	for id := range counts {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	// The active KEK first, then the others by id.
	slices.SortFunc(ids, func(a, b string) int {
		switch {
		case a == primary:
			return -1
		case b == primary:
			return 1
		case a < b:
			return -1
		case a > b:
			return 1
		}
		return 0
	})
	for _, id := range ids {
		st.KEKs = append(st.KEKs, api.KEKUsage{ID: id, Active: id == primary, InRing: slices.Contains(ring, id),
			DataKeys: counts[id]})
		if id != primary && counts[id] > 0 {
			st.RotationComplete = false
		}
	}
	return st, nil
}

// ListTokens implements api.TokenQueries.
func (i *identity) ListTokens(ctx context.Context, tenantID string) ([]api.Token, error) {
	views, err := projections.ListTenantAPITokens(ctx, i.db, tenantID)
	if err != nil {
		return nil, err
	}
	out := make([]api.Token, 0, len(views))
	for _, v := range views {
		out = append(out, api.Token{ID: v.ID, Name: v.Name, UserID: v.UserID, CreatedAt: v.CreatedAt,
			ExpiresAt: v.ExpiresAt, RevokedAt: v.RevokedAt, Revoked: v.RevokedAt != nil})
	}
	return out, nil
}
