package projections_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/projections"
)

func TestAuditProjectorRecordsEveryEventInAChainPerTenant(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	audit := projections.NewAuditProjector()
	h.build(t, audit)
	idsA := h.appendAudit(t,
		auditEvent{tenant: "tenant-a", stream: "user-u1", typ: "user.created", actor: auditAdmin,
			data: `{"user_id":"u1","tenant_id":"tenant-a","email_encrypted":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","name_encrypted":"x","role":"USER","password_hash":"$argon2id$v=19$m=65536,t=1,p=2$c2FsdA$aGFzaA","email_index":"idx"}`},
		auditEvent{tenant: "tenant-a", stream: "security-tenant-a", typ: "security.access_denied", actor: auditMachine,
			data: `{"method":"POST","route":"/v1/users","reason":"role USER is not one of ADMIN"}`},
		auditEvent{tenant: "tenant-a", stream: "user-u1", typ: "user.login_failed", actor: auditAdmin, data: `{"reason":"invalid_password"}`},
		auditEvent{tenant: "tenant-a", stream: "widget-w1", typ: "widget.polished", actor: auditSSO,
			data: `{"shine":3,"owner_password":"hunter2","api_key_id":"k1","note":"Bearer abc","nested":{"a":1}}`},
	)
	idsB := h.appendAudit(t, auditEvent{tenant: "tenant-b", stream: "tenant-tenant-b", typ: "tenant.created",
		actor: auditAdmin, data: `{"tenant_id":"tenant-b","name":"B","slug":"b"}`})
	live := start(t, h.testConfig(audit))
	h.waitCaughtUp(t, live)

	rowsA := auditRows(t, h.pool, "tenant-a")
	require.Len(t, rowsA, len(idsA))
	prev := projections.AuditGenesisHash("tenant-a")
	for i, r := range rowsA {
		assert.Equal(t, idsA[i], r.EventID, "rows follow feed order")
		assert.Equal(t, int64(i+1), r.Sequence)
		assert.Equal(t, prev, r.PrevHash, "row %d links to the previous row", i+1)
		prev = r.Hash
	}
	first := rowsA[0]
	assert.Equal(t, "user.created", first.Action)
	assert.Equal(t, "user", first.ResourceType)
	assert.Equal(t, "u1", first.ResourceID)
	assert.Equal(t, auditAdmin, first.Actor)
	assert.Equal(t, "192.0.2.7", first.ClientIP)
	assert.Equal(t, "audit-test/1.0", first.UserAgent)
	assert.Equal(t, "corr-user-u1", first.CorrelationID)
	assert.Equal(t, projections.AuditSuccess, first.Outcome)
	assert.JSONEq(t, `{"role":"USER","user_id":"u1"}`, string(first.Summary), "no ciphertext, hash or blind index")
	assert.Equal(t, projections.AuditDenied, rowsA[1].Outcome)
	assert.Equal(t, auditMachine, rowsA[1].Actor)
	assert.Equal(t, projections.AuditFailure, rowsA[2].Outcome)
	assert.Equal(t, auditSSO, rowsA[3].Actor)
	assert.JSONEq(t, `{"api_key_id":"k1","note":"[redacted]","shine":3}`, string(rowsA[3].Summary),
		"an unknown type keeps its harmless scalars only")

	rowsB := auditRows(t, h.pool, "tenant-b")
	require.Len(t, rowsB, 1)
	assert.Equal(t, idsB[0], rowsB[0].EventID)
	assert.Equal(t, int64(1), rowsB[0].Sequence, "each tenant has its own chain")
	assert.Equal(t, projections.AuditGenesisHash("tenant-b"), rowsB[0].PrevHash)

	head, found, err := projections.GetAuditChainHead(context.Background(), h.pool, "tenant-a")
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, int64(4), head.Sequence)
	assert.Equal(t, rowsA[3].Hash, head.Hash)
	assert.Equal(t, idsA[3], head.EventID)
}

func TestAuditProjectorIsIdempotent(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	audit := projections.NewAuditProjector()
	h.build(t, audit)
	h.appendAudit(t, auditEvent{tenant: "t", stream: "user-1", typ: "user.deleted", actor: auditAdmin})
	live := start(t, h.testConfig(audit))
	h.waitCaughtUp(t, live)
	require.NoError(t, live.stop(t))
	events, err := h.store.ReadAll(context.Background(), projections.AuditChainHead{}.Position, 10)
	require.NoError(t, err)
	require.Len(t, events, 1)

	// Applying the same event again (a replay after a crash) adds nothing.
	ctx := context.Background()
	tx, err := h.pool.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "SET LOCAL search_path = rm_audit")
	require.NoError(t, err)
	require.NoError(t, audit.Apply(ctx, idnTx{tx}, events[0]))
	require.NoError(t, tx.Commit(ctx))
	rows := auditRows(t, h.pool, "t")
	require.Len(t, rows, 1)
	assert.Equal(t, events[0].ID, rows[0].EventID)
	var summary map[string]any
	require.NoError(t, json.Unmarshal(rows[0].Summary, &summary))
	assert.Empty(t, summary)
	assert.NotEqual(t, uuid.Nil, rows[0].EventID)
}
