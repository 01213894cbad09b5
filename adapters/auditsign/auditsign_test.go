package auditsign_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/auditsign"
)

func newKey(t *testing.T) *auditsign.Key {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	k, err := auditsign.NewKey(priv)
	require.NoError(t, err)
	return k
}

func sampleHead() auditsign.Head {
	return auditsign.Head{
		TenantID: "tenant-a", RowCount: 42, LastEventID: uuid.New(), Position: "0000000000000001000000000000002a",
		Hash:     "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		SignedAt: time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.FixedZone("X", 3600)),
	}
}

func TestSignAndVerify(t *testing.T) {
	t.Parallel()
	k := newKey(t)
	signed := k.Sign(sampleHead())
	require.NoError(t, k.Verifier().Verify(signed))
	assert.Equal(t, time.UTC, signed.SignedAt.Location(), "signed_at is normalised to UTC")
	assert.Equal(t, 123456000, signed.SignedAt.Nanosecond(), "signed_at is normalised to microseconds")
	assert.Equal(t, k.Verifier().KeyID(), signed.KeyID)

	tampered := map[string]func(*auditsign.SignedHead){
		"tenant":     func(h *auditsign.SignedHead) { h.TenantID = "tenant-b" },
		"row count":  func(h *auditsign.SignedHead) { h.RowCount-- },
		"last event": func(h *auditsign.SignedHead) { h.LastEventID = uuid.New() },
		"position":   func(h *auditsign.SignedHead) { h.Position = "00000000000000010000000000000029" },
		"hash":       func(h *auditsign.SignedHead) { h.Hash = "0" + h.Hash[1:] },
		"signed at":  func(h *auditsign.SignedHead) { h.SignedAt = h.SignedAt.Add(time.Second) },
		"signature":  func(h *auditsign.SignedHead) { h.Signature = "AAAA" + h.Signature[4:] },
		"not base64": func(h *auditsign.SignedHead) { h.Signature = "%%%" },
	}
	for name, change := range tampered {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := signed
			change(&h)
			assert.ErrorIs(t, k.Verifier().Verify(h), auditsign.ErrBadSignature)
		})
	}
}

func TestVerifyRefusesAnotherKey(t *testing.T) {
	t.Parallel()
	signed := newKey(t).Sign(sampleHead())
	other := newKey(t)
	assert.ErrorIs(t, other.Verifier().Verify(signed), auditsign.ErrUnknownKey)
	// Claiming the other key's id does not help a forger either.
	signed.KeyID = other.Verifier().KeyID()
	assert.ErrorIs(t, other.Verifier().Verify(signed), auditsign.ErrBadSignature)
}

func TestSigningBytesAreReproducible(t *testing.T) {
	t.Parallel()
	h := sampleHead()
	want := `apiq.audit.head.v1` + "\n" + `{"tenant_id":"tenant-a","row_count":42,"last_event_id":"` + h.LastEventID.String() +
		`","position":"0000000000000001000000000000002a","hash":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",` +
		`"signed_at":"2030-01-02T02:04:05.123456Z"}`
	assert.Equal(t, want, string(h.SigningBytes()))
}

func TestKeyFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "data", auditsign.DefaultKeyFile)
	created, err := auditsign.EnsureKeyFile(path)
	require.NoError(t, err)
	assert.True(t, created)
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	again, err := auditsign.EnsureKeyFile(path)
	require.NoError(t, err)
	assert.False(t, again, "an existing key is kept")

	k1, err := auditsign.LoadKeyFile(path)
	require.NoError(t, err)
	k2, err := auditsign.LoadKeyFile(path)
	require.NoError(t, err)
	require.NoError(t, k2.Verifier().Verify(k1.Sign(sampleHead())), "the same key signs across loads")

	require.NoError(t, os.Chmod(path, 0o644))
	_, err = auditsign.LoadKeyFile(path)
	assert.ErrorContains(t, err, "chmod 600")
}

func TestJournal(t *testing.T) {
	t.Parallel()
	k := newKey(t)
	j, err := auditsign.NewJournal(filepath.Join(t.TempDir(), auditsign.DefaultJournalFile))
	require.NoError(t, err)

	var none []auditsign.SignedHead
	require.NoError(t, j.Each(func(h auditsign.SignedHead) error { none = append(none, h); return nil }))
	assert.Empty(t, none, "a missing journal has no heads")

	first, second := sampleHead(), sampleHead()
	second.RowCount, second.TenantID = 50, "tenant-b"
	want := []auditsign.SignedHead{k.Sign(first), k.Sign(second)}
	require.NoError(t, j.Append(want[0]))
	require.NoError(t, j.Append(want[1]))
	var got []auditsign.SignedHead
	require.NoError(t, j.Each(func(h auditsign.SignedHead) error { got = append(got, h); return nil }))
	require.Len(t, got, 2)
	for i := range want {
		assert.Equal(t, want[i].Signature, got[i].Signature)
		assert.True(t, want[i].SignedAt.Equal(got[i].SignedAt))
		require.NoError(t, k.Verifier().Verify(got[i]), "a head read back still verifies")
	}
	info, err := os.Stat(j.Path())
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	require.NoError(t, os.WriteFile(j.Path(), []byte("{not json\n"), 0o600))
	assert.ErrorContains(t, j.Each(func(auditsign.SignedHead) error { return nil }), "line 1")
}
