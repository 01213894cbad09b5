package projections_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/projections"
)

func TestRebuildSwitchesOverWhileTheRunnerKeepsGoing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// rebuilder returns the runner that performs the rebuild.
		rebuilder func(t *testing.T, h *harness, live *runningRunner, projectors ...projections.Projector) *projections.Runner
	}{
		{"rebuilt by the running runner", func(_ *testing.T, _ *harness, live *runningRunner, _ ...projections.Projector) *projections.Runner {
			return live.Runner
		}},
		{"rebuilt from another process", func(t *testing.T, h *harness, _ *runningRunner, projectors ...projections.Projector) *projections.Runner {
			cfg := h.testConfig(projectors...)
			cfg.Registerer = nil
			r, err := projections.NewRunner(cfg)
			require.NoError(t, err)
			return r
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			rebuilt := &countingProjector{name: "rebuilt", version: 1}
			twin := &countingProjector{name: "twin", version: 1}
			h.build(t, rebuilt, twin)
			h.appendSpread(t, "pre", 10, 500)
			live := start(t, h.testConfig(rebuilt, twin))
			h.waitCaughtUp(t, live)
			tableBefore := tableOID(t, h, "rm_rebuilt")
			generationBefore := generation(t, h, "rebuilt")

			// Events keep arriving before, during and after the rebuild.
			stop := make(chan struct{})
			var (
				appending sync.WaitGroup
				appended  atomic.Int64
				appendErr error
			)
			appending.Add(1)
			go func() {
				defer appending.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					if _, appendErr = h.tryAppend(fmt.Sprintf("during-%d", i%7), typeCounted); appendErr != nil {
						return
					}
					appended.Add(1)
				}
			}()
			require.Eventually(t, func() bool { return appended.Load() >= 20 }, 5*time.Second, time.Millisecond)
			require.NoError(t, tc.rebuilder(t, h, live, rebuilt, twin).Rebuild(context.Background(), "rebuilt"))
			afterSwitch := appended.Load()
			require.Eventually(t, func() bool { return appended.Load() >= afterSwitch+20 }, 5*time.Second, time.Millisecond)
			close(stop)
			appending.Wait()
			require.NoError(t, appendErr)

			h.waitCaughtUp(t, live)
			assert.NotEqual(t, tableBefore, tableOID(t, h, "rm_rebuilt"), "the live read model must be the rebuilt one")
			assert.Equal(t, h.expectedCounts(), h.counts(t, rebuilt))
			assert.Equal(t, allRows(t, h, "rm_twin"), allRows(t, h, "rm_rebuilt"),
				"the rebuilt read model must equal the one built live")
			assert.Equal(t, []string{"rm_rebuilt", "rm_twin"}, readModelSchemas(t, h), "no rebuild or retired schema may remain")
			assert.Equal(t, generationBefore+1, generation(t, h, "rebuilt"))
		})
	}
}

func TestRunnerRebuildsWhenTheProjectorVersionChanges(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	v1 := &countingProjector{name: "counts", version: 1}
	h.build(t, v1)
	h.appendSpread(t, "v", 4, 120)
	first := start(t, h.testConfig(v1))
	h.waitCaughtUp(t, first)
	require.NoError(t, first.stop(t))
	assert.Equal(t, []int{1}, builtBy(t, h))

	v2 := &countingProjector{name: "counts", version: 2}
	second := start(t, h.testConfig(v2))
	// Until the switch-over, version 1's read model (and checkpoint) stay live.
	require.Eventually(t, func() bool { return currentStatus(second.Runner, "counts").Version == 2 },
		10*time.Second, 10*time.Millisecond)
	h.waitCaughtUp(t, second)
	assert.Equal(t, int64(120), v2.applies.Load(), "version 2 must apply every event from the start")
	assert.Equal(t, []int{2}, builtBy(t, h))
	assert.Equal(t, h.expectedCounts(), h.counts(t, v2))
	st := status(t, second.Runner, "counts")
	assert.Equal(t, 2, st.Version)
	assert.Equal(t, projections.StatusRunning, st.Status)

	// Live events keep flowing into the rebuilt read model.
	h.appendSpread(t, "after", 2, 10)
	h.waitCaughtUp(t, second)
	assert.Equal(t, h.expectedCounts(), h.counts(t, v2))
}

func TestFailedRebuildLeavesTheLiveReadModelUntouched(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	p := &countingProjector{name: "counts", version: 1}
	h.build(t, p)
	h.appendSpread(t, "ok", 3, 30)
	h.appendEvents(t, "bad-1", typePoison)
	r := start(t, h.testConfig(p))
	h.waitCaughtUp(t, r)
	before := status(t, r.Runner, "counts")
	tableBefore := tableOID(t, h, "rm_counts")
	generationBefore := generation(t, h, "counts")

	p.poisoned.Store(true)
	err := r.Rebuild(context.Background(), "counts")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "poison event refused")

	assert.Equal(t, tableBefore, tableOID(t, h, "rm_counts"))
	assert.Equal(t, h.expectedCounts(), h.counts(t, p))
	assert.Equal(t, []string{"rm_counts"}, readModelSchemas(t, h), "the aborted rebuild's schema must be dropped")
	after := status(t, r.Runner, "counts")
	assert.Equal(t, before.Position, after.Position)
	assert.Equal(t, generationBefore, generation(t, h, "counts"))

	require.ErrorIs(t, r.Rebuild(context.Background(), "nope"), projections.ErrUnknownProjector)
}

// tableOID identifies the stream_counts table currently in schema.
func tableOID(t testing.TB, h *harness, schema string) uint32 {
	t.Helper()
	var oid uint32
	require.NoError(t, h.pool.QueryRow(context.Background(), `SELECT $1::regclass::oid`,
		pgx.Identifier{schema, "stream_counts"}.Sanitize()).Scan(&oid))
	return oid
}

// allRows returns every row of schema.stream_counts, in order.
func allRows(t testing.TB, h *harness, schema string) []string {
	t.Helper()
	rows, err := h.pool.Query(context.Background(), `SELECT format('%s %s %s %s', stream_id, events, last_version, built_by) FROM `+
		pgx.Identifier{schema, "stream_counts"}.Sanitize()+` ORDER BY stream_id`)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return out
}

// readModelSchemas lists the schemas whose names start with rm_.
func readModelSchemas(t testing.TB, h *harness) []string {
	t.Helper()
	rows, err := h.pool.Query(context.Background(),
		`SELECT nspname FROM pg_namespace WHERE starts_with(nspname, 'rm_') ORDER BY nspname`)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return out
}

func generation(t testing.TB, h *harness, projector string) int64 {
	t.Helper()
	var g int64
	require.NoError(t, h.pool.QueryRow(context.Background(),
		`SELECT generation FROM projection_checkpoints WHERE projector = $1`, projector).Scan(&g))
	return g
}

// builtBy lists the distinct projector versions that wrote rm_counts.stream_counts.
func builtBy(t testing.TB, h *harness) []int {
	t.Helper()
	rows, err := h.pool.Query(context.Background(), `SELECT DISTINCT built_by FROM rm_counts.stream_counts ORDER BY 1`)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[int])
	require.NoError(t, err)
	return out
}
