package vault_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/postgres/pgtest"
	"github.com/apiq/apiq/adapters/vault"
)

func TestKeyIDOfNamesTheSealingDataKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	v, err := vault.New(pool, newRing(t), vault.Options{})
	require.NoError(t, err)

	seal := func(owner, field string) string {
		ct, err := v.EncryptString(ctx, vault.Scope{Tenant: "t1", Owner: owner, Field: field}, "secret")
		require.NoError(t, err)
		return ct
	}
	a1, err := vault.KeyIDOf(seal("connection:a", "api_key"))
	require.NoError(t, err)
	a2, err := vault.KeyIDOf(seal("connection:a", "token"))
	require.NoError(t, err)
	b, err := vault.KeyIDOf(seal("connection:b", "api_key"))
	require.NoError(t, err)

	assert.Equal(t, a1, a2, "one owner, one data key")
	assert.NotEqual(t, a1, b, "owners have their own keys")
	var stored string
	require.NoError(t, pool.QueryRow(ctx, `SELECT key_id::text FROM data_keys WHERE owner = 'connection:a'`).Scan(&stored))
	assert.Equal(t, stored, a1)
	_, err = uuid.Parse(a1)
	assert.NoError(t, err)

	for _, bad := range []string{"", "not base64!", "AQID"} {
		_, err := vault.KeyIDOf(bad)
		assert.ErrorIs(t, err, vault.ErrMalformed, bad)
	}
}
