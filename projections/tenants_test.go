package projections_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/domain/tenant"
	"github.com/apiq/apiq/projections"
)

func TestTenantsProjector(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newIdnFixture(t)
	p := projections.NewTenantsProjector()
	created := f.event(t, "t1", tenant.Stream("t1"), 0, tenant.Created{TenantID: "t1", Name: "Acme", Slug: "acme"})
	f.apply(t, p, created, created,
		f.event(t, "t1", tenant.Stream("t1"), 1, tenant.AdminBootstrapped{UserID: "u1"}),
		f.event(t, "t1", tenant.Stream("t1"), 2, tenant.AdminGranted{UserID: "u2"}),
		f.event(t, "t1", "other-stream", 0, unknownEvent{}))

	got, err := projections.GetTenant(ctx, f.pool, "t1")
	require.NoError(t, err)
	assert.Equal(t, projections.TenantView{ID: "t1", Name: "Acme", Slug: "acme", CreatedAt: f.base}, got)
	var version int64
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT last_version FROM rm_tenants.tenants WHERE id = 't1'`).Scan(&version))
	assert.Equal(t, int64(2), version)

	f.apply(t, p, f.event(t, "t1", tenant.Stream("t1"), 3, tenant.SecurityChanged{TOTPRequired: true}))
	got, err = projections.GetTenant(ctx, f.pool, "t1")
	require.NoError(t, err)
	assert.True(t, got.TOTPRequired)
	f.apply(t, p, f.event(t, "t1", tenant.Stream("t1"), 4, tenant.SecurityChanged{}),
		f.event(t, "t1", tenant.Stream("t1"), 3, tenant.SecurityChanged{TOTPRequired: true}))
	got, err = projections.GetTenant(ctx, f.pool, "t1")
	require.NoError(t, err)
	assert.False(t, got.TOTPRequired, "the stale change is ignored")

	_, err = projections.GetTenant(ctx, f.pool, "t2")
	assert.ErrorIs(t, err, tenant.ErrNotFound)
}
