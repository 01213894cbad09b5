package projections_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/projections"
)

// TestAuditRetentionPrunesOnlyRowCopies records two generations of events,
// prunes the rows of the older one, and checks that the events stay, the
// chain still verifies (a missing row past the mark or recorded after it
// still breaks it), a rebuild followed by pruning gives the same rows, and
// reconciliation sees no difference.
func TestAuditRetentionPrunesOnlyRowCopies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t)
	audit := projections.NewAuditProjector()
	h.build(t, audit)
	live := start(t, h.testConfig(audit))
	key := newAuditKey(t)
	signer, err := projections.NewAuditSigner(projections.AuditSignerConfig{Pool: h.pool, Key: key, Logger: testLogger()})
	require.NoError(t, err)
	generation := func(n int, tenants ...string) {
		for i := range n {
			for _, tenant := range tenants {
				h.appendAudit(t, auditEvent{tenant: tenant, stream: fmt.Sprintf("user-%d", i%3), typ: "user.logged_in",
					actor: auditAdmin, data: `{"method":"password"}`})
			}
		}
	}
	generation(7, "old", "both")
	h.waitCaughtUp(t, live)
	_, err = signer.Sign(ctx, false)
	require.NoError(t, err)
	var horizon time.Time
	require.NoError(t, h.pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&horizon))
	generation(5, "both", "new")
	h.waitCaughtUp(t, live)
	_, err = signer.Sign(ctx, false)
	require.NoError(t, err)

	verify := func() projections.AuditVerification {
		t.Helper()
		v, err := projections.VerifyAudit(ctx, h.pool, projections.AuditVerifyOptions{AllTenants: true, Verifier: key.Verifier()})
		require.NoError(t, err)
		return v
	}
	pruned, err := projections.PruneAuditRows(ctx, h.pool, horizon)
	require.NoError(t, err)
	assert.ElementsMatch(t, []projections.AuditPruned{{TenantID: "both", Mark: 7, Deleted: 7}, {TenantID: "old", Mark: 7, Deleted: 7}}, pruned)
	again, err := projections.PruneAuditRows(ctx, h.pool, horizon)
	require.NoError(t, err)
	assert.Empty(t, again, "pruning twice deletes nothing more")

	tests := []struct {
		tenant    string
		rows      int
		firstSeq  int64
		events    int
		wantPrune int64
	}{
		{tenant: "old", rows: 0, events: 7, wantPrune: 7},
		{tenant: "both", rows: 5, firstSeq: 8, events: 12, wantPrune: 7},
		{tenant: "new", rows: 5, firstSeq: 1, events: 5},
	}
	v := verify()
	require.True(t, v.Valid, "%v", v.FirstBroken)
	byTenant := map[string]projections.AuditTenantVerification{}
	for _, tv := range v.Tenants {
		byTenant[tv.TenantID] = tv
	}
	for _, tt := range tests {
		t.Run(tt.tenant, func(t *testing.T) {
			rows := auditRows(t, h.pool, tt.tenant)
			require.Len(t, rows, tt.rows)
			if tt.rows > 0 {
				assert.Equal(t, tt.firstSeq, rows[0].Sequence, "the rows kept are the newest, contiguous")
				assert.False(t, rows[0].RecordedAt.Before(horizon))
			}
			var events int
			require.NoError(t, h.pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE tenant_id = $1`, tt.tenant).Scan(&events))
			assert.Equal(t, tt.events, events, "events are never deleted")
			assert.Equal(t, int64(tt.events), byTenant[tt.tenant].Checked, "the whole chain is recomputed")
			assert.Equal(t, tt.wantPrune, byTenant[tt.tenant].Pruned)
		})
	}

	// A rebuild recreates the pruned rows; pruning removes them again and
	// reconciliation compares like with like.
	require.NoError(t, live.Rebuild(ctx, projections.AuditProjectorName))
	require.Len(t, auditRows(t, h.pool, "both"), 12)
	pruned, err = projections.PruneAuditRows(ctx, h.pool, horizon)
	require.NoError(t, err)
	assert.ElementsMatch(t, []projections.AuditPruned{{TenantID: "both", Mark: 7, Deleted: 7}, {TenantID: "old", Mark: 7, Deleted: 7}}, pruned)
	results, err := live.Reconcile(ctx, projections.AuditProjectorName)
	require.NoError(t, err)
	require.Len(t, results, 1)
	assert.False(t, results[0].Differs(), "%+v", results[0])
	require.NoError(t, live.stop(t))

	// The mark excuses only missing rows below it, of events recorded
	// before its time (each step adds to the previous one).
	breaks := []struct {
		name string
		sql  string
		seq  int64
	}{
		{"a kept row deleted", `DELETE FROM rm_audit.audit_events WHERE tenant_id = 'both' AND seq = 9`, 9},
		{"the mark moved over rows recorded after its time", `UPDATE audit_retention SET pruned_seq = 9 WHERE tenant_id = 'both';
			DELETE FROM rm_audit.audit_events WHERE tenant_id = 'both' AND seq <= 9`, 8},
	}
	for _, b := range breaks {
		_, err := h.pool.Exec(ctx, b.sql)
		require.NoError(t, err, b.name)
		v := verify()
		require.False(t, v.Valid, b.name)
		assert.Equal(t, "both", v.FirstBroken.TenantID, b.name)
		assert.Equal(t, b.seq, v.FirstBroken.Sequence, b.name)
		assert.Equal(t, projections.BreakRowMissing, v.FirstBroken.Reason, b.name)
	}
}
