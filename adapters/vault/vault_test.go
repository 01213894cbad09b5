package vault_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/postgres/pgtest"
	"github.com/apiq/apiq/adapters/vault"
)

func newRing(t *testing.T) *vault.Keyring {
	t.Helper()
	kek, err := vault.NewKEK()
	require.NoError(t, err)
	ring, err := vault.NewKeyring(kek, []byte("0123456789abcdef0123456789abcdef"))
	require.NoError(t, err)
	return ring
}

func TestRoundTripAndScopes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	v, err := vault.New(pool, newRing(t), vault.Options{})
	require.NoError(t, err)
	email := vault.Scope{Tenant: "t1", Owner: "user:1", Field: "email"}

	ct, err := v.EncryptString(ctx, email, "ada@example.com")
	require.NoError(t, err)
	assert.NotContains(t, ct, "ada")
	got, err := v.DecryptString(ctx, email, ct)
	require.NoError(t, err)
	assert.Equal(t, "ada@example.com", got)

	again, err := v.EncryptString(ctx, email, "ada@example.com")
	require.NoError(t, err)
	assert.NotEqual(t, ct, again, "every encryption uses a fresh nonce")

	raw, err := base64.RawURLEncoding.DecodeString(ct)
	require.NoError(t, err)
	flip := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 0x01
		return base64.RawURLEncoding.EncodeToString(b)
	}
	tests := []struct {
		name    string
		scope   vault.Scope
		ct      string
		wantErr error
	}{
		{"other tenant", vault.Scope{Tenant: "t2", Owner: "user:1", Field: "email"}, ct, vault.ErrTampered},
		{"other owner", vault.Scope{Tenant: "t1", Owner: "user:2", Field: "email"}, ct, vault.ErrTampered},
		{"other field", vault.Scope{Tenant: "t1", Owner: "user:1", Field: "name"}, ct, vault.ErrTampered},
		{"flipped ciphertext byte", email, flip(len(raw) - 20), vault.ErrTampered},
		{"flipped tag byte", email, flip(len(raw) - 1), vault.ErrTampered},
		{"flipped nonce byte", email, flip(17), vault.ErrTampered},
		{"flipped key id byte", email, flip(3), vault.ErrKeyNotFound},
		{"flipped version byte", email, flip(0), vault.ErrMalformed},
		{"not base64", email, "%%%", vault.ErrMalformed},
		{"truncated", email, ct[:10], vault.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Decrypt(ctx, tc.scope, tc.ct)
			assert.ErrorIs(t, err, tc.wantErr)
		})
	}

	_, err = v.Encrypt(ctx, vault.Scope{Tenant: "t1", Owner: "user:1"}, []byte("x"))
	assert.Error(t, err, "a scope without a field is refused")
}

func TestOwnersHaveTheirOwnKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	v, err := vault.New(pool, newRing(t), vault.Options{})
	require.NoError(t, err)
	for i := range 3 {
		_, err := v.EncryptString(ctx, vault.Scope{Tenant: "t1", Owner: fmt.Sprintf("user:%d", i), Field: "email"}, "x")
		require.NoError(t, err)
		_, err = v.EncryptString(ctx, vault.Scope{Tenant: "t1", Owner: fmt.Sprintf("user:%d", i), Field: "name"}, "y")
		require.NoError(t, err)
	}
	var keys int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM data_keys`).Scan(&keys))
	assert.Equal(t, 3, keys, "one data key per owner, shared by its fields")
}

func TestConcurrentFirstUseCreatesOneKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	s := vault.Scope{Tenant: "t1", Owner: "user:race", Field: "email"}
	var wg sync.WaitGroup
	cts := make([]string, 8)
	errs := make([]error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := vault.New(pool, newRingShared, vault.Options{})
			if err != nil {
				errs[i] = err
				return
			}
			cts[i], errs[i] = v.EncryptString(ctx, s, "same")
		}()
	}
	wg.Wait()
	v, err := vault.New(pool, newRingShared, vault.Options{})
	require.NoError(t, err)
	for i := range 8 {
		require.NoError(t, errs[i])
		got, err := v.DecryptString(ctx, s, cts[i])
		require.NoError(t, err)
		assert.Equal(t, "same", got)
	}
	var keys int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM data_keys`).Scan(&keys))
	assert.Equal(t, 1, keys)
}

var newRingShared = func() *vault.Keyring {
	kek, err := vault.NewKEK()
	if err != nil {
		panic(err)
	}
	ring, err := vault.NewKeyring(kek, []byte("shared-index-secret-of-32-bytes!"))
	if err != nil {
		panic(err)
	}
	return ring
}()

func TestDestroyedKeyForgetsValues(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	ring := newRing(t)
	v, err := vault.New(pool, ring, vault.Options{})
	require.NoError(t, err)
	doomed := vault.Scope{Tenant: "t1", Owner: "user:gone", Field: "email"}
	kept := vault.Scope{Tenant: "t1", Owner: "user:kept", Field: "email"}
	ctGone, err := v.EncryptString(ctx, doomed, "gone@example.com")
	require.NoError(t, err)
	ctKept, err := v.EncryptString(ctx, kept, "kept@example.com")
	require.NoError(t, err)

	require.NoError(t, v.DestroyOwnerKeys(ctx, "t1", "user:gone"))
	require.NoError(t, v.DestroyOwnerKeys(ctx, "t1", "user:gone"), "destroying twice is harmless")

	_, err = v.Decrypt(ctx, doomed, ctGone)
	assert.ErrorIs(t, err, vault.ErrKeyDestroyed)
	fresh, err := vault.New(pool, ring, vault.Options{})
	require.NoError(t, err)
	_, err = fresh.Decrypt(ctx, doomed, ctGone)
	assert.ErrorIs(t, err, vault.ErrKeyDestroyed, "an uncached reader sees the key destroyed too")
	got, err := v.DecryptString(ctx, kept, ctKept)
	require.NoError(t, err)
	assert.Equal(t, "kept@example.com", got)

	var wrapped []byte
	require.NoError(t, pool.QueryRow(ctx, `SELECT wrapped_key FROM data_keys WHERE owner = 'user:gone'`).Scan(&wrapped))
	assert.Nil(t, wrapped, "the key material is gone from the table")

	ctNew, err := v.EncryptString(ctx, doomed, "new")
	require.NoError(t, err)
	got, err = v.DecryptString(ctx, doomed, ctNew)
	require.NoError(t, err)
	assert.Equal(t, "new", got, "a new key serves new values")
	_, err = v.Decrypt(ctx, doomed, ctGone)
	assert.ErrorIs(t, err, vault.ErrKeyDestroyed, "old values stay forgotten")
}

func TestRotateRewrapsWithoutDowntime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	ring := newRing(t)
	oldKEK := ring.Primary()
	v, err := vault.New(pool, ring, vault.Options{CacheSize: -1})
	require.NoError(t, err)
	const owners = 250 // more than one rotation batch
	cts := make([]string, owners)
	scope := func(i int) vault.Scope {
		return vault.Scope{Tenant: "t1", Owner: fmt.Sprintf("user:%d", i), Field: "email"}
	}
	for i := range owners {
		cts[i], err = v.EncryptString(ctx, scope(i), fmt.Sprintf("u%d@example.com", i))
		require.NoError(t, err)
	}
	destroyed := owners - 1
	require.NoError(t, v.DestroyOwnerKeys(ctx, "t1", scope(destroyed).Owner))

	// Readers keep decrypting while the rotation runs.
	stop := make(chan struct{})
	readerErr := make(chan error, 1)
	go func() {
		defer close(readerErr)
		for i := 0; ; i = (i + 1) % (owners - 1) {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := v.DecryptString(ctx, scope(i), cts[i]); err != nil {
				readerErr <- err
				return
			}
		}
	}()
	newKEK, err := vault.NewKEK()
	require.NoError(t, err)
	res, err := v.Rotate(ctx, newKEK)
	close(stop)
	require.NoError(t, err)
	require.NoError(t, <-readerErr)
	assert.Equal(t, owners-1, res.Rewrapped, "destroyed keys are not re-wrapped")

	usage, err := v.KEKUsage(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{newKEK.ID: owners - 1}, usage)

	require.NoError(t, ring.Remove(oldKEK))
	assert.Equal(t, []string{newKEK.ID}, ring.IDs())
	for i := range owners - 1 {
		got, err := v.DecryptString(ctx, scope(i), cts[i])
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("u%d@example.com", i), got)
	}
	_, err = v.Decrypt(ctx, scope(destroyed), cts[destroyed])
	assert.ErrorIs(t, err, vault.ErrKeyDestroyed)
	assert.Error(t, ring.Remove(newKEK.ID), "the primary KEK cannot be removed")
}

func TestBlindIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	ring := newRing(t)
	v, err := vault.New(pool, ring, vault.Options{})
	require.NoError(t, err)
	a := v.BlindIndex("t1", "ada@example.com")
	assert.Len(t, a, 64)
	assert.Equal(t, a, v.BlindIndex("t1", "ada@example.com"))
	assert.NotEqual(t, a, v.BlindIndex("t2", "ada@example.com"), "tenants get different indexes")
	assert.NotEqual(t, v.BlindIndex("t1a", "b"), v.BlindIndex("t1", "ab"), "field boundaries are fixed")

	kek, err := vault.NewKEK()
	require.NoError(t, err)
	_, err = v.Rotate(ctx, kek)
	require.NoError(t, err)
	v2, err := vault.New(pool, ring, vault.Options{})
	require.NoError(t, err)
	assert.Equal(t, a, v2.BlindIndex("t1", "ada@example.com"), "rotation keeps blind indexes stable")

	other, err := vault.New(pool, newRingShared, vault.Options{})
	require.NoError(t, err)
	assert.NotEqual(t, a, other.BlindIndex("t1", "ada@example.com"), "another keyring gives other indexes")
}
