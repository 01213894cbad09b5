package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/postgres"
	"github.com/apiq/apiq/adapters/postgres/pgtest"
	"github.com/apiq/apiq/adapters/vault"
	"github.com/apiq/apiq/http/api"
)

func TestKeyStatus(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := postgres.Connect(ctx, pgtest.NewDatabase(t))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	old, err := vault.NewKEK()
	require.NoError(t, err)
	fresh, err := vault.NewKEK()
	require.NoError(t, err)
	ring, err := vault.NewKeyring(old, make([]byte, 32))
	require.NoError(t, err)
	v, err := vault.New(pool, ring, vault.Options{CacheSize: -1})
	require.NoError(t, err)
	encrypt := func(tenant, owner string) {
		_, err := v.EncryptString(ctx, vault.Scope{Tenant: tenant, Owner: owner, Field: "email"}, owner+"@example.com")
		require.NoError(t, err)
	}
	// Under the old KEK: two owners of t1, one of t2; then a new primary
	// KEK, and one more owner of t1 under it.
	encrypt("t1", "a")
	encrypt("t1", "b")
	encrypt("t2", "c")
	require.NoError(t, ring.Add(fresh, true))
	encrypt("t1", "d")
	status := keyStatus{db: pool, keyring: ring}
	usage := func(active, retired int) []api.KEKUsage {
		return []api.KEKUsage{{ID: fresh.ID, Active: true, InRing: true, DataKeys: active},
			{ID: old.ID, InRing: true, DataKeys: retired}}
	}

	check := func(step string, want map[string]api.KeyRotationStatus) {
		t.Helper()
		for tenant, w := range want {
			w.ActiveKEK = fresh.ID
			got, err := status.KeyStatus(ctx, tenant)
			require.NoError(t, err, step, tenant)
			assert.Equal(t, w, got, "%s: %s", step, tenant)
		}
	}
	check("mid-rotation", map[string]api.KeyRotationStatus{
		"t1": {KEKs: usage(1, 2)},
		"t2": {KEKs: usage(0, 1)},
		"t3": {KEKs: usage(0, 0), RotationComplete: true},
	})
	// A server whose keyring lacks the old KEK still shows what it wraps.
	lacking, err := vault.NewKeyring(fresh, make([]byte, 32))
	require.NoError(t, err)
	got, err := keyStatus{db: pool, keyring: lacking}.KeyStatus(ctx, "t2")
	require.NoError(t, err)
	assert.Equal(t, api.KeyRotationStatus{ActiveKEK: fresh.ID, KEKs: []api.KEKUsage{
		{ID: fresh.ID, Active: true, InRing: true}, {ID: old.ID, DataKeys: 1}}}, got)

	require.NoError(t, v.DestroyOwnerKeys(ctx, "t1", "a"))
	check("a destroyed key no longer counts", map[string]api.KeyRotationStatus{
		"t1": {KEKs: usage(1, 1)},
	})
	_, err = v.Rotate(ctx, fresh)
	require.NoError(t, err)
	check("rotated", map[string]api.KeyRotationStatus{
		"t1": {KEKs: usage(2, 0), RotationComplete: true},
		"t2": {KEKs: usage(1, 0), RotationComplete: true},
	})
	require.NoError(t, ring.Remove(old.ID))
	check("old KEK dropped", map[string]api.KeyRotationStatus{
		"t1": {KEKs: usage(2, 0)[:1], RotationComplete: true},
	})
}
