package projections_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/projections"
)

func TestAuditQueries(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	audit := projections.NewAuditProjector()
	h.build(t, audit)
	base := time.Date(2031, 3, 1, 12, 0, 0, 0, time.UTC)
	var events []auditEvent
	for i := range 30 {
		actor := auditAdmin
		if i%3 == 0 {
			actor = auditMachine
		}
		typ := "user.logged_in"
		if i%5 == 0 {
			typ = "security.access_denied"
		}
		events = append(events, auditEvent{tenant: "tenant-q", stream: fmt.Sprintf("user-%d", i%4), typ: typ, actor: actor,
			at: base.Add(time.Duration(i) * time.Minute), correlation: fmt.Sprintf("req-%d", i/10),
			data: fmt.Sprintf(`{"method":"password","route":"/v1/thing-%d"}`, i)})
	}
	ids := h.appendAudit(t, events...)
	h.appendAudit(t, auditEvent{tenant: "tenant-other", stream: "user-0", typ: "user.logged_in", actor: auditAdmin, at: base})
	live := start(t, h.testConfig(audit))
	h.waitCaughtUp(t, live)
	ctx := context.Background()

	// want lists the indexes of the expected events.
	want := func(pred func(i int) bool) []uuid.UUID {
		var out []uuid.UUID
		for i := range events {
			if pred(i) {
				out = append(out, ids[i])
			}
		}
		return out
	}
	cases := []struct {
		name   string
		filter projections.AuditFilter
		want   []uuid.UUID
	}{
		{"everything", projections.AuditFilter{}, ids},
		{"time range", projections.AuditFilter{From: base.Add(10 * time.Minute), To: base.Add(20 * time.Minute)},
			want(func(i int) bool { return i >= 10 && i < 20 })},
		{"time range and actor", projections.AuditFilter{From: base.Add(5 * time.Minute), To: base.Add(25 * time.Minute), Actor: "bot-1"},
			want(func(i int) bool { return i >= 5 && i < 25 && i%3 == 0 })},
		{"action", projections.AuditFilter{Action: "security.access_denied"}, want(func(i int) bool { return i%5 == 0 })},
		{"resource", projections.AuditFilter{ResourceType: "user", ResourceID: "2"}, want(func(i int) bool { return i%4 == 2 })},
		{"correlation", projections.AuditFilter{CorrelationID: "req-1"}, want(func(i int) bool { return i/10 == 1 })},
		{"free text in the summary", projections.AuditFilter{Text: "THING-15"}, want(func(i int) bool { return i == 15 })},
		{"free text in the action", projections.AuditFilter{Text: "denied", Actor: "admin-1"},
			want(func(i int) bool { return i%5 == 0 && i%3 != 0 })},
		{"nothing", projections.AuditFilter{Actor: "nobody"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Pages of 4 walk the same rows as one export, in order.
			var paged []uuid.UUID
			cursor := ""
			for pages := 0; ; pages++ {
				require.Less(t, pages, 20)
				page, err := projections.ListAuditRows(ctx, h.pool, "tenant-q", tc.filter, 4, cursor)
				require.NoError(t, err)
				assert.LessOrEqual(t, len(page.Rows), 4)
				for _, r := range page.Rows {
					paged = append(paged, r.EventID)
				}
				if page.Next == "" {
					break
				}
				cursor = page.Next
			}
			assert.Equal(t, tc.want, paged)
			var exported []uuid.UUID
			n, err := projections.ExportAuditRows(ctx, h.pool, "tenant-q", tc.filter, func(r projections.AuditRow) error {
				exported = append(exported, r.EventID)
				return nil
			})
			require.NoError(t, err)
			assert.Equal(t, int64(len(tc.want)), n)
			assert.Equal(t, tc.want, exported)
		})
	}

	t.Run("scoped to the tenant", func(t *testing.T) {
		t.Parallel()
		page, err := projections.ListAuditRows(ctx, h.pool, "tenant-none", projections.AuditFilter{}, 10, "")
		require.NoError(t, err)
		assert.Empty(t, page.Rows)
	})
	t.Run("bad input", func(t *testing.T) {
		t.Parallel()
		_, err := projections.ListAuditRows(ctx, h.pool, "tenant-q", projections.AuditFilter{}, 10, "not-a-cursor")
		assert.ErrorIs(t, err, domain.ErrInvalid)
		_, err = projections.ListAuditRows(ctx, h.pool, "tenant-q", projections.AuditFilter{From: base, To: base}, 10, "")
		assert.ErrorIs(t, err, domain.ErrInvalid)
	})
	t.Run("export stops at the first error", func(t *testing.T) {
		t.Parallel()
		stop := errors.New("client went away")
		n, err := projections.ExportAuditRows(ctx, h.pool, "tenant-q", projections.AuditFilter{}, func(projections.AuditRow) error { return stop })
		assert.ErrorIs(t, err, stop)
		assert.Zero(t, n)
	})
}

func TestAuditQueriesBeforeTheReadModelExists(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	page, err := projections.ListAuditRows(context.Background(), h.pool, "t", projections.AuditFilter{}, 10, "")
	require.NoError(t, err)
	assert.Empty(t, page.Rows)
	n, err := projections.ExportAuditRows(context.Background(), h.pool, "t", projections.AuditFilter{}, func(projections.AuditRow) error { return nil })
	require.NoError(t, err)
	assert.Zero(t, n)
}
