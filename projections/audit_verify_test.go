package projections_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/auditsign"
	"github.com/apiq/apiq/projections"
)

// tamperFixture is a tenant whose first 12 events are covered by a signed
// head and whose last 2 are not yet, plus another tenant.
type tamperFixture struct {
	h       *harness
	ids     []uuid.UUID // tenant-a's events in feed order
	key     *auditsign.Key
	journal *auditsign.Journal
	signer  *projections.AuditSigner
}

const (
	tamperCovered = 12 // events of tenant-a the signed head covers
	tamperTotal   = 14
)

func newTamperFixture(t *testing.T) *tamperFixture {
	t.Helper()
	h := newHarness(t)
	audit := projections.NewAuditProjector()
	h.build(t, audit)
	f := &tamperFixture{h: h, key: newAuditKey(t)}
	var err error
	f.journal, err = auditsign.NewJournal(filepath.Join(t.TempDir(), auditsign.DefaultJournalFile))
	require.NoError(t, err)
	f.signer, err = projections.NewAuditSigner(projections.AuditSignerConfig{Pool: h.pool, Key: f.key, Journal: f.journal, Logger: testLogger()})
	require.NoError(t, err)

	events := func(from, to int) []auditEvent {
		var out []auditEvent
		for i := from; i < to; i++ {
			out = append(out, auditEvent{tenant: "tenant-a", stream: fmt.Sprintf("user-u%d", i%3), typ: "user.updated",
				actor: auditAdmin, data: fmt.Sprintf(`{"role":"USER","disabled":%t}`, i%2 == 0)})
		}
		return out
	}
	live := start(t, h.testConfig(audit))
	f.ids = h.appendAudit(t, events(0, tamperCovered)...)
	h.appendAudit(t, auditEvent{tenant: "tenant-b", stream: "user-x", typ: "user.deleted", actor: auditAdmin})
	h.waitCaughtUp(t, live)
	signed, err := f.signer.Sign(context.Background(), false)
	require.NoError(t, err)
	require.Len(t, signed, 2, "one head per tenant")
	f.ids = append(f.ids, h.appendAudit(t, events(tamperCovered, tamperTotal)...)...)
	h.waitCaughtUp(t, live)
	require.NoError(t, live.stop(t))
	return f
}

func (f *tamperFixture) verify(t *testing.T, tenant string) projections.AuditVerification {
	t.Helper()
	v, err := projections.VerifyAudit(context.Background(), f.h.pool, projections.AuditVerifyOptions{
		TenantID: tenant, Verifier: f.key.Verifier(), Journal: f.journal})
	require.NoError(t, err)
	return v
}

// superuser runs statements as a database superuser who disabled the
// triggers that keep events immutable.
func (f *tamperFixture) superuser(t *testing.T, statements ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := f.h.pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(ctx, `SET session_replication_role = replica`)
	require.NoError(t, err)
	defer conn.Exec(ctx, `SET session_replication_role = DEFAULT`) //nolint:errcheck
	for _, s := range statements {
		_, err := conn.Exec(ctx, s)
		require.NoError(t, err, s)
	}
}

// recomputeChain rebuilds the audit read model from the (tampered) events,
// as an attacker who recomputes every row and hash would.
func (f *tamperFixture) recomputeChain(t *testing.T) {
	t.Helper()
	cfg := f.h.testConfig(projections.NewAuditProjector())
	cfg.Registerer = nil
	r, err := projections.NewRunner(cfg)
	require.NoError(t, err)
	require.NoError(t, r.Rebuild(context.Background(), projections.AuditProjectorName))
}

func TestVerifyAuditAcceptsAnUntouchedTrail(t *testing.T) {
	t.Parallel()
	f := newTamperFixture(t)
	v := f.verify(t, "tenant-a")
	assert.True(t, v.Valid, "%+v", v.FirstBroken)
	assert.Equal(t, int64(tamperTotal), v.Checked)
	assert.Zero(t, v.Pending)
	assert.Equal(t, 1, v.SignedHeads)

	all, err := projections.VerifyAudit(context.Background(), f.h.pool, projections.AuditVerifyOptions{
		AllTenants: true, Verifier: f.key.Verifier(), Journal: f.journal})
	require.NoError(t, err)
	assert.True(t, all.Valid)
	assert.Equal(t, int64(tamperTotal+1), all.Checked)
	require.Len(t, all.Tenants, 2)
	assert.Equal(t, "tenant-a", all.Tenants[0].TenantID)
	assert.Equal(t, "tenant-b", all.Tenants[1].TenantID)

	// A rebuild of the read model gives the same chain.
	f.recomputeChain(t)
	assert.True(t, f.verify(t, "tenant-a").Valid)
}

func TestVerifyAuditDetectsTampering(t *testing.T) {
	t.Parallel()
	// Each case tampers as a database superuser would; want is the reason
	// and place of the first break verification must report.
	type tamper func(t *testing.T, f *tamperFixture)
	cases := []struct {
		name    string
		tamper  tamper
		reason  string
		seq     int64
		covered bool
	}{
		{"alter an event", func(t *testing.T, f *tamperFixture) {
			f.superuser(t, fmt.Sprintf(`UPDATE events SET data = '{"role":"ADMIN"}' WHERE event_id = '%s'`, f.ids[3]))
		}, projections.BreakHashMismatch, 4, true},
		{"alter an event and recompute the whole chain", func(t *testing.T, f *tamperFixture) {
			f.superuser(t, fmt.Sprintf(`UPDATE events SET data = '{"role":"ADMIN"}' WHERE event_id = '%s'`, f.ids[3]))
			f.recomputeChain(t)
		}, projections.BreakSignedHeadMismatch, tamperCovered, true},
		{"alter an event's metadata", func(t *testing.T, f *tamperFixture) {
			f.superuser(t, fmt.Sprintf(`UPDATE events SET metadata = jsonb_set(metadata, '{actor,subject}', '"someone-else"') WHERE event_id = '%s'`, f.ids[2]))
			f.recomputeChain(t)
		}, projections.BreakSignedHeadMismatch, tamperCovered, true},
		{"add a field to an event's metadata", func(t *testing.T, f *tamperFixture) {
			f.superuser(t, fmt.Sprintf(`UPDATE events SET metadata = metadata || '{"note":"x"}' WHERE event_id = '%s'`, f.ids[5]))
		}, projections.BreakEventUnreadable, 6, true},
		{"replace an event's actor with something else", func(t *testing.T, f *tamperFixture) {
			f.superuser(t, fmt.Sprintf(`UPDATE events SET metadata = jsonb_set(metadata, '{actor}', '["admin"]') WHERE event_id = '%s'`, f.ids[8]))
		}, projections.BreakEventUnreadable, 9, true},
		{"give a metadata field another type", func(t *testing.T, f *tamperFixture) {
			f.superuser(t, fmt.Sprintf(`UPDATE events SET metadata = jsonb_set(metadata, '{schema_version}', '"1"') WHERE event_id = '%s'`, f.ids[1]))
		}, projections.BreakEventUnreadable, 2, true},
		{"alter an audit row", func(t *testing.T, f *tamperFixture) {
			f.superuser(t, `UPDATE rm_audit.audit_events SET actor_subject = 'someone-else' WHERE tenant_id = 'tenant-a' AND seq = 5`)
		}, projections.BreakRowAltered, 5, true},
		{"alter an audit row's summary", func(t *testing.T, f *tamperFixture) {
			f.superuser(t, `UPDATE rm_audit.audit_events SET summary = '{"role":"USER"}' WHERE tenant_id = 'tenant-a' AND seq = 7`)
		}, projections.BreakRowAltered, 7, true},
		{"alter an audit row's hash", func(t *testing.T, f *tamperFixture) {
			f.superuser(t, `UPDATE rm_audit.audit_events SET hash = sha256(hash) WHERE tenant_id = 'tenant-a' AND seq = 9`)
		}, projections.BreakHashMismatch, 9, true},
		{"delete an event", func(t *testing.T, f *tamperFixture) {
			f.superuser(t, fmt.Sprintf(`DELETE FROM events WHERE event_id = '%s'`, f.ids[5]))
		}, projections.BreakEventMismatch, 6, true},
		{"delete an event and recompute the whole chain", func(t *testing.T, f *tamperFixture) {
			f.superuser(t, fmt.Sprintf(`DELETE FROM events WHERE event_id = '%s'`, f.ids[5]))
			f.recomputeChain(t)
		}, projections.BreakSignedHeadMismatch, tamperCovered, true},
		{"delete an audit row", func(t *testing.T, f *tamperFixture) {
			f.superuser(t, `DELETE FROM rm_audit.audit_events WHERE tenant_id = 'tenant-a' AND seq = 7`)
		}, projections.BreakRowMissing, 7, true},
		{"reorder events", func(t *testing.T, f *tamperFixture) {
			// Event 3 moves into event 5's transaction: after event 4 in feed order.
			f.superuser(t, fmt.Sprintf(`UPDATE events SET transaction_id = (SELECT transaction_id FROM events WHERE event_id = '%s') WHERE event_id = '%s'`, f.ids[4], f.ids[2]))
		}, projections.BreakEventMismatch, 3, true},
		{"reorder events and recompute the whole chain", func(t *testing.T, f *tamperFixture) {
			f.superuser(t, fmt.Sprintf(`UPDATE events SET transaction_id = (SELECT transaction_id FROM events WHERE event_id = '%s') WHERE event_id = '%s'`, f.ids[4], f.ids[2]))
			f.recomputeChain(t)
		}, projections.BreakSignedHeadMismatch, tamperCovered, true},
		{"reorder audit rows", func(t *testing.T, f *tamperFixture) {
			f.superuser(t,
				`UPDATE rm_audit.audit_events SET seq = -1 WHERE tenant_id = 'tenant-a' AND seq = 3`,
				`UPDATE rm_audit.audit_events SET seq = 3 WHERE tenant_id = 'tenant-a' AND seq = 4`,
				`UPDATE rm_audit.audit_events SET seq = 4 WHERE tenant_id = 'tenant-a' AND seq = -1`)
		}, projections.BreakEventMismatch, 3, true},
		{"invent an audit row", func(t *testing.T, f *tamperFixture) {
			f.superuser(t, `INSERT INTO rm_audit.audit_events SELECT tenant_id, 99, gen_random_uuid(), commit_position, global_position,
				occurred_at, recorded_at, actor_subject, actor_role, auth_method, token_id, sso_issuer, sso_subject, client_ip,
				user_agent, request_id, action, resource_type, resource_id, stream_id, stream_version, outcome, correlation_id,
				causation_id, summary, prev_hash, hash FROM rm_audit.audit_events WHERE tenant_id = 'tenant-a' AND seq = 1`)
		}, projections.BreakRowWithoutEvent, 99, false},
		{"delete the newest events and rows a signed head covers", func(t *testing.T, f *tamperFixture) {
			f.superuser(t, fmt.Sprintf(`DELETE FROM events WHERE tenant_id = 'tenant-a' AND (transaction_id, global_position) >=
				(SELECT transaction_id, global_position FROM events WHERE event_id = '%s')`, f.ids[10]))
			f.recomputeChain(t)
		}, projections.BreakSignedHeadBeyondLog, tamperCovered, true},
		{"delete a signed head from the database", func(t *testing.T, f *tamperFixture) {
			f.superuser(t, `DELETE FROM audit_signed_heads WHERE tenant_id = 'tenant-a'`)
		}, projections.BreakSignedHeadRemoved, tamperCovered, true},
		{"alter a signed head", func(t *testing.T, f *tamperFixture) {
			f.superuser(t, fmt.Sprintf(`UPDATE audit_signed_heads SET last_event_id = '%s' WHERE tenant_id = 'tenant-a'`, f.ids[10]))
		}, projections.BreakSignatureInvalid, tamperCovered, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newTamperFixture(t)
			require.True(t, f.verify(t, "tenant-a").Valid, "untouched before tampering")
			tc.tamper(t, f)
			v := f.verify(t, "tenant-a")
			require.False(t, v.Valid, "tampering went unnoticed")
			require.NotNil(t, v.FirstBroken)
			assert.Equal(t, tc.reason, v.FirstBroken.Reason, v.FirstBroken.String())
			assert.Equal(t, tc.seq, v.FirstBroken.Sequence, v.FirstBroken.String())
			assert.Equal(t, "tenant-a", v.FirstBroken.TenantID)
			assert.True(t, f.verify(t, "tenant-b").Valid, "the other tenant's chain is intact")
		})
	}
}

func TestVerifyAuditCannotSeeUncoveredDeletions(t *testing.T) {
	t.Parallel()
	// Deleting the newest events and rows, beyond the last signed head, is
	// the one change no verification can see; the next signed head closes
	// that window.
	f := newTamperFixture(t)
	f.superuser(t, fmt.Sprintf(`DELETE FROM events WHERE event_id IN ('%s', '%s')`, f.ids[12], f.ids[13]))
	f.recomputeChain(t)
	v := f.verify(t, "tenant-a")
	assert.True(t, v.Valid)
	assert.Equal(t, int64(tamperCovered), v.Checked)
}

func TestVerifyAuditCountsUnprojectedEventsAsPending(t *testing.T) {
	t.Parallel()
	f := newTamperFixture(t)
	// The runner is stopped: these events have no rows yet.
	f.h.appendAudit(t, auditEvent{tenant: "tenant-a", stream: "user-u9", typ: "user.deleted", actor: auditAdmin},
		auditEvent{tenant: "tenant-a", stream: "user-u9", typ: "user.deleted", actor: auditAdmin})
	v := f.verify(t, "tenant-a")
	assert.True(t, v.Valid, "%+v", v.FirstBroken)
	assert.Equal(t, int64(tamperTotal+2), v.Checked)
	assert.Equal(t, int64(2), v.Pending)
}
