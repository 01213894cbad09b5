package projections_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/projections"
)

func TestAuditRebuildGivesTheLiveRows(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	audit := projections.NewAuditProjector()
	h.build(t, audit)
	live := start(t, h.testConfig(audit))
	for i := range 30 {
		h.appendAudit(t, auditEvent{tenant: fmt.Sprintf("t%d", i%3), stream: fmt.Sprintf("user-%d", i%5),
			typ: "user.logged_in", actor: auditAdmin, data: `{"method":"password"}`})
	}
	h.waitCaughtUp(t, live)
	before := map[string][]projections.AuditRow{}
	for _, tenant := range []string{"t0", "t1", "t2"} {
		before[tenant] = auditRows(t, h.pool, tenant)
		require.Len(t, before[tenant], 10)
	}
	require.NoError(t, live.Rebuild(context.Background(), projections.AuditProjectorName))
	for tenant, rows := range before {
		assert.Equal(t, rows, auditRows(t, h.pool, tenant), "tenant %s", tenant)
	}
}

func TestReconcile(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	audit := &countingProjector{name: "counted", version: 1}
	projectors := []projections.Projector{projections.NewAuditProjector(), audit}
	h.build(t, projectors...)
	live := start(t, h.testConfig(projectors...))
	for i := range 20 {
		h.appendAudit(t, auditEvent{tenant: "t", stream: fmt.Sprintf("user-%d", i%4), typ: "user.logged_in", actor: auditAdmin})
		h.appendEvents(t, fmt.Sprintf("count-%d", i%3), typeCounted)
	}
	h.waitCaughtUp(t, live)

	results, err := live.Reconcile(context.Background())
	require.NoError(t, err)
	require.Len(t, results, 2)
	for _, r := range results {
		assert.False(t, r.Differs(), "%s: %+v", r.Projector, r)
		assert.False(t, r.Position.IsZero())
	}
	byTable := map[string]projections.TableDifference{}
	for _, d := range results[0].Tables {
		byTable[d.Table] = d
	}
	// Every event has its audit row, the counted ones (tenant t1) too.
	assert.Equal(t, int64(40), byTable["audit_events"].LiveRows)
	assert.Equal(t, int64(40), byTable["audit_events"].RebuiltRows)
	assert.Equal(t, int64(2), byTable["audit_chain_heads"].LiveRows)

	// A live row changed behind the projector's back is a difference, named
	// by its primary key.
	_, err = h.pool.Exec(context.Background(), `UPDATE rm_audit.audit_events SET outcome = 'failure' WHERE tenant_id = 't' AND seq = 3`)
	require.NoError(t, err)
	_, err = h.pool.Exec(context.Background(), `DELETE FROM rm_counted.stream_counts WHERE stream_id = 'count-1'`)
	require.NoError(t, err)
	results, err = live.Reconcile(context.Background())
	require.NoError(t, err)
	require.True(t, results[0].Differs())
	for _, d := range results[0].Tables {
		if d.Table != "audit_events" {
			assert.False(t, d.Differs(), d.Table)
			continue
		}
		assert.Equal(t, int64(1), d.OnlyLive)
		assert.Equal(t, int64(1), d.OnlyRebuilt)
		assert.Equal(t, []string{"(t,3)"}, d.ExamplesLive)
		assert.Equal(t, []string{"(t,3)"}, d.ExamplesRebuilt)
	}
	require.True(t, results[1].Differs())
	require.Len(t, results[1].Tables, 1)
	assert.Equal(t, int64(0), results[1].Tables[0].OnlyLive)
	assert.Equal(t, int64(1), results[1].Tables[0].OnlyRebuilt)
	assert.Equal(t, []string{"(count-1)"}, results[1].Tables[0].ExamplesRebuilt)

	var scratch int
	require.NoError(t, h.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'reconcile\_%'`).Scan(&scratch))
	assert.Zero(t, scratch, "scratch schemas are dropped")

	_, err = live.Reconcile(context.Background(), "nope")
	assert.ErrorIs(t, err, projections.ErrUnknownProjector)
}
