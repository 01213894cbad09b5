package projections_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/auditsign"
	"github.com/apiq/apiq/projections"
)

func TestAuditSigner(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	key := newAuditKey(t)
	journal, err := auditsign.NewJournal(filepath.Join(t.TempDir(), auditsign.DefaultJournalFile))
	require.NoError(t, err)
	var logs bytes.Buffer
	now := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	signer, err := projections.NewAuditSigner(projections.AuditSignerConfig{Pool: h.pool, Key: key, Journal: journal,
		Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Now: func() time.Time { return now }})
	require.NoError(t, err)

	signed, err := signer.Sign(ctx, true)
	require.NoError(t, err)
	assert.Empty(t, signed, "nothing to sign before the read model exists")

	audit := projections.NewAuditProjector()
	h.build(t, audit)
	live := start(t, h.testConfig(audit))
	ids := h.appendAudit(t, auditEvent{tenant: "a", stream: "user-1", typ: "user.deleted", actor: auditAdmin},
		auditEvent{tenant: "b", stream: "user-2", typ: "user.deleted", actor: auditAdmin},
		auditEvent{tenant: "a", stream: "user-3", typ: "user.deleted", actor: auditAdmin})
	h.waitCaughtUp(t, live)

	signed, err = signer.Sign(ctx, false)
	require.NoError(t, err)
	require.Len(t, signed, 2)
	assert.Equal(t, "a", signed[0].TenantID)
	assert.Equal(t, int64(2), signed[0].RowCount)
	assert.Equal(t, ids[2], signed[0].LastEventID)
	assert.Equal(t, now, signed[0].SignedAt)
	for _, sh := range signed {
		require.NoError(t, key.Verifier().Verify(sh))
		assert.Contains(t, logs.String(), sh.Signature, "every signed head is logged")
	}

	again, err := signer.Sign(ctx, false)
	require.NoError(t, err)
	assert.Empty(t, again, "unchanged heads are not signed again")
	forced, err := signer.Sign(ctx, true)
	require.NoError(t, err)
	assert.Len(t, forced, 2, "on demand every head is signed")

	stored, err := projections.ListSignedHeads(ctx, h.pool, "a", 10)
	require.NoError(t, err)
	require.Len(t, stored, 2)
	assert.Equal(t, forced[0].Signature, stored[0].Signature, "newest first")
	var journaled int
	require.NoError(t, journal.Each(func(auditsign.SignedHead) error { journaled++; return nil }))
	assert.Equal(t, 4, journaled)

	_, err = h.pool.Exec(ctx, `DELETE FROM audit_signed_heads`)
	assert.ErrorContains(t, err, "immutable", "signed heads cannot be deleted")
}

func TestAuditSignerConfig(t *testing.T) {
	t.Parallel()
	_, err := projections.NewAuditSigner(projections.AuditSignerConfig{Interval: -time.Second})
	require.Error(t, err)
	for _, want := range []string{"pool is required", "signing key is required", "interval must not be negative"} {
		assert.ErrorContains(t, err, want)
	}
}
