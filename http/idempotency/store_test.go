package idempotency

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/postgres/pgtest"
)

func newStore(t *testing.T, lease time.Duration) *Store {
	t.Helper()
	s, err := NewStore(pgtest.NewPool(t), bytes.Repeat([]byte{1}, SealKeySize), lease)
	require.NoError(t, err)
	return s
}

func TestClaimLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t, time.Minute)
	scope := Scope{TenantID: "t1", Actor: "u1", Key: "k"}
	hash := []byte("hash-a")

	result, _, err := s.Claim(ctx, scope, hash)
	require.NoError(t, err)
	assert.Equal(t, Acquired, result)

	result, _, err = s.Claim(ctx, scope, hash)
	require.NoError(t, err)
	assert.Equal(t, InFlight, result, "a duplicate while the first runs")

	result, _, err = s.Claim(ctx, scope, []byte("hash-b"))
	require.NoError(t, err)
	assert.Equal(t, Mismatch, result)

	want := Response{Status: 201, ContentType: "application/json", Body: []byte(`{"token":"apiq_secret"}`)}
	require.NoError(t, s.Complete(ctx, scope, hash, want))
	result, got, err := s.Claim(ctx, scope, hash)
	require.NoError(t, err)
	assert.Equal(t, Completed, result)
	assert.Equal(t, want, got)

	// Stored bodies are sealed: the secret is not in the table.
	var raw []byte
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT response_body FROM idempotency_keys`).Scan(&raw))
	assert.NotContains(t, string(raw), "apiq_secret")

	// The same key in another scope is independent.
	result, _, err = s.Claim(ctx, Scope{TenantID: "t2", Actor: "u1", Key: "k"}, hash)
	require.NoError(t, err)
	assert.Equal(t, Acquired, result)
}

func TestReleasedAndExpiredClaimsCanBeRetaken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t, 50*time.Millisecond)
	hash := []byte("h")

	released := Scope{TenantID: "t", Actor: "a", Key: "released"}
	_, _, err := s.Claim(ctx, released, hash)
	require.NoError(t, err)
	require.NoError(t, s.Release(ctx, released))
	result, _, err := s.Claim(ctx, released, hash)
	require.NoError(t, err)
	assert.Equal(t, Acquired, result)

	crashed := Scope{TenantID: "t", Actor: "a", Key: "crashed"}
	_, _, err = s.Claim(ctx, crashed, hash)
	require.NoError(t, err)
	time.Sleep(100 * time.Millisecond) // the holder's lease runs out
	result, _, err = s.Claim(ctx, crashed, hash)
	require.NoError(t, err)
	assert.Equal(t, Acquired, result, "an abandoned claim is taken over after its lease")
	result, _, err = s.Claim(ctx, crashed, []byte("other"))
	require.NoError(t, err)
	assert.Equal(t, Mismatch, result, "even an expired claim is not taken by another request")
}

func TestSealedResponseOpensOnlyInItsScope(t *testing.T) {
	t.Parallel()
	seal, err := newSealer(bytes.Repeat([]byte{2}, SealKeySize))
	require.NoError(t, err)
	a := Scope{TenantID: "t", Actor: "a", Key: "k"}
	sealed, err := seal.seal([]byte("body"), a)
	require.NoError(t, err)
	plain, err := seal.open(sealed, a)
	require.NoError(t, err)
	assert.Equal(t, "body", string(plain))
	_, err = seal.open(sealed, Scope{TenantID: "t", Actor: "b", Key: "k"})
	assert.Error(t, err)

	_, err = newSealer([]byte("short"))
	assert.Error(t, err)
}

func TestPurgeDropsOldRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t, time.Minute)
	scope := Scope{TenantID: "t", Actor: "a", Key: "old"}
	_, _, err := s.Claim(ctx, scope, []byte("h"))
	require.NoError(t, err)
	require.NoError(t, s.Complete(ctx, scope, []byte("h"), Response{Status: 200}))

	n, err := s.Purge(ctx, time.Now().Add(-time.Hour))
	require.NoError(t, err)
	assert.Zero(t, n, "recent records stay")
	n, err = s.Purge(ctx, time.Now().Add(time.Hour))
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)
}
