package projections_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/projections"
)

func TestRunnerAppliesEachEventOnceAcrossCrashes(t *testing.T) {
	t.Parallel()
	const events, crashAt = 300, 130 // the crash falls in the third batch of 50
	cases := []struct {
		name string
		// crash runs at the crashAt-th Counted write of the first runner.
		crash func(ctx context.Context, db projections.DB, stopRunner func()) error
		// restarts: whether the runner is stopped by the crash and restarted.
		restarts bool
	}{
		{
			name: "runner stopped in the middle of a batch",
			crash: func(_ context.Context, _ projections.DB, stopRunner func()) error {
				stopRunner()
				return nil
			},
			restarts: true,
		},
		{
			name: "database connection killed in the middle of a batch",
			crash: func(ctx context.Context, db projections.DB, _ func()) error {
				var ok bool
				return db.QueryRow(ctx, `SELECT pg_terminate_backend(pg_backend_pid())`).Scan(&ok)
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			p := &countingProjector{name: "counts", version: 1}
			h.build(t, p)
			h.appendSpread(t, "crash", 7, events)

			var (
				writes  atomic.Int64
				crashed = make(chan struct{})
				once    sync.Once
				runner  *runningRunner
				ready   = make(chan struct{})
			)
			p.beforeWrite = func(ctx context.Context, db projections.DB, _ eventstore.RecordedEvent) error {
				if writes.Add(1) != crashAt {
					return nil
				}
				<-ready
				var err error
				once.Do(func() {
					err = tc.crash(ctx, db, runner.cancel)
					close(crashed)
				})
				return err
			}
			runner = start(t, h.testConfig(p))
			close(ready)
			receive(t, crashed)

			if tc.restarts {
				require.NoError(t, runner.stop(t))
				// What committed before the crash is consistent: the read
				// model holds exactly the events up to the checkpoint.
				cp := status(t, runner.Runner, "counts").Position
				assert.Equal(t, h.eventsUpTo(t, cp), sum(h.counts(t, p)), "read model and checkpoint disagree after the crash")
				assert.Less(t, sum(h.counts(t, p)), int64(crashAt), "the crashed batch must not be committed")

				p.beforeWrite = nil
				runner = start(t, h.testConfig(p))
			}
			h.waitCaughtUp(t, runner)
			assert.Equal(t, h.expectedCounts(), h.counts(t, p))
			assert.Equal(t, int64(events), sum(h.counts(t, p)))
		})
	}
}

func TestRunnersInTwoProcessesApplyEachEventOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	p := &countingProjector{name: "counts", version: 1}
	h.build(t, p)
	h.appendSpread(t, "pre", 5, 200)

	// Two runners of the same projector on one database, as two processes
	// would run them: they compete for every batch.
	first := start(t, h.testConfig(p))
	second := h.testConfig(p)
	second.Registerer = nil
	other := start(t, second)

	h.appendSpread(t, "live", 5, 300)
	h.waitCaughtUp(t, first)
	h.waitCaughtUp(t, other)
	assert.Equal(t, h.expectedCounts(), h.counts(t, p))
}

func TestRunnerRetriesFailingHandlerWithNoTransactionOpen(t *testing.T) {
	t.Parallel()
	const failures = 3
	h := newHarness(t)
	p := &countingProjector{name: "counts", version: 1}
	h.build(t, p)
	h.appendSpread(t, "before", 3, 20)
	target := h.appendEvents(t, "retry-1", typeCounted)
	h.appendSpread(t, "after", 3, 20)

	var attempts atomic.Int64
	failed := make(chan int64, failures)
	p.beforeWrite = func(_ context.Context, _ projections.DB, ev eventstore.RecordedEvent) error {
		if ev.Position != target {
			return nil
		}
		n := attempts.Add(1)
		if n > failures {
			return nil
		}
		failed <- n
		return errors.New("transient failure")
	}
	cfg := h.testConfig(p)
	// Long enough to look at the database while the runner backs off.
	cfg.BackoffInitial, cfg.BackoffMax = 400*time.Millisecond, 400*time.Millisecond
	cfg.StallAfter = 10
	r := start(t, cfg)

	// The first failure is in a pipelined batch, which is redone at once
	// one savepoint per event; the second is that redo's, then comes a backoff.
	require.Equal(t, int64(1), receive(t, failed))
	require.Equal(t, int64(2), receive(t, failed))
	time.Sleep(50 * time.Millisecond)
	for i := 0; i < 10; i++ {
		var open int
		require.NoError(t, h.pool.QueryRow(context.Background(), `
			SELECT count(*) FROM pg_stat_activity
			 WHERE datname = current_database() AND pid <> pg_backend_pid()
			   AND (state LIKE 'idle in transaction%' OR backend_xid IS NOT NULL)`).Scan(&open))
		assert.Zero(t, open, "a transaction is open while the runner backs off")
		time.Sleep(10 * time.Millisecond)
	}
	// The prefix before the failing event was committed before backing off.
	assert.Equal(t, int64(20), sum(h.counts(t, p)))

	h.waitCaughtUp(t, r)
	assert.Equal(t, int64(failures+1), attempts.Load())
	assert.Equal(t, h.expectedCounts(), h.counts(t, p))
	st := status(t, r.Runner, "counts")
	assert.Equal(t, projections.StatusRunning, st.Status)
	assert.Zero(t, st.Failures)
	assert.Empty(t, st.LastError)
	assert.Equal(t, float64(failures), h.metric(t, "apiq_projection_handler_errors_total", "counts"))
}

func TestRunnerStallsOnAnEventItCannotApplyAndNeverSkipsIt(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		poison    func(ctx context.Context, db projections.DB) error
		wantError string
	}{
		{"handler returns an error", nil, "poison event refused"},
		{"handler panics", func(context.Context, projections.DB) error { panic("poison event panicked") },
			"poison event panicked"},
		{"handler exceeds its time limit", func(ctx context.Context, db projections.DB) error {
			return db.Exec(ctx, `SELECT pg_sleep(5)`)
		}, "timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			p := &countingProjector{name: "counts", version: 1, poison: tc.poison}
			p.poisoned.Store(true)
			h.build(t, p)
			beforePoison := h.appendSpread(t, "ok", 2, 5)
			h.appendEvents(t, "poison-1", typePoison)
			h.appendSpread(t, "later", 2, 5)

			cfg := h.testConfig(p)
			cfg.StallAfter = 3
			cfg.HandlerTimeout = 300 * time.Millisecond
			r := start(t, cfg)

			require.Eventually(t, func() bool {
				return currentStatus(r.Runner, "counts").Status == projections.StatusStalled
			}, 15*time.Second, 20*time.Millisecond)
			st := status(t, r.Runner, "counts")
			assert.GreaterOrEqual(t, st.Failures, 3)
			assert.Contains(t, st.LastError, tc.wantError)
			assert.Equal(t, beforePoison, st.Position, "the checkpoint must stop right before the poison event")
			assert.Eventually(t, func() bool { return currentStatus(r.Runner, "counts").Lag == 6 }, 5*time.Second, 10*time.Millisecond,
				"lag counts the poison event and the five after it")
			assert.Equal(t, 1.0, h.metric(t, "apiq_projection_stalled", "counts"))
			assert.GreaterOrEqual(t, h.metric(t, "apiq_projection_handler_errors_total", "counts"), 3.0)
			assert.Equal(t, int64(5), sum(h.counts(t, p)), "events after the poison event must not be applied")

			// It keeps retrying: once the cause is gone it recovers by itself.
			p.poisoned.Store(false)
			h.waitCaughtUp(t, r)
			assert.Equal(t, h.expectedCounts(), h.counts(t, p))
			st = status(t, r.Runner, "counts")
			assert.Equal(t, projections.StatusRunning, st.Status)
			assert.Zero(t, st.Failures)
			assert.Equal(t, 0.0, h.metric(t, "apiq_projection_stalled", "counts"))
		})
	}
}

func TestRunnerAcknowledgesUnknownEvents(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	p := &countingProjector{name: "counts", version: 1}
	h.build(t, p)
	h.appendEvents(t, "mixed-1", typeCounted, typeUnknown, typeCounted)
	h.appendEvents(t, "other-1", typeUnknown, typeUnknown)
	head := h.appendEvents(t, "mixed-2", typeCounted)

	r := start(t, h.testConfig(p))
	require.NoError(t, r.WaitForPosition(context.Background(), head))

	assert.Equal(t, map[string]int64{"mixed-1": 2, "mixed-2": 1}, h.counts(t, p))
	st := status(t, r.Runner, "counts")
	assert.Equal(t, head, st.Position)
	assert.Zero(t, st.Lag)
	assert.Zero(t, st.Failures)
	assert.Equal(t, 6.0, h.metric(t, "apiq_projection_events_applied_total", "counts"))
	assert.Zero(t, h.metric(t, "apiq_projection_handler_errors_total", "counts"))
}

func TestWaitForPosition(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	p := &countingProjector{name: "counts", version: 1}
	stalled := &countingProjector{name: "stuck", version: 1}
	stalled.poisoned.Store(true)
	h.build(t, p, stalled)
	cfg := h.testConfig(p, stalled)
	// Long enough for a loaded machine (the feed waits for every open
	// transaction on the server), short enough for the timeout cases.
	cfg.WaitTimeout = 1500 * time.Millisecond
	r := start(t, cfg)

	applied := h.appendEvents(t, "wait-1", typeCounted)
	poison := h.appendEvents(t, "wait-2", typePoison)
	// A waiter in another process sees commits only through the table.
	elsewhere, err := projections.NewWaiter(projections.WaiterConfig{
		Pool: h.pool, Projectors: []string{"counts", "stuck"}, Timeout: 2 * time.Second})
	require.NoError(t, err)

	cases := []struct {
		name    string
		wait    func(ctx context.Context) error
		wantErr error
	}{
		{"event applied", func(ctx context.Context) error { return r.WaitForPosition(ctx, applied, "counts") }, nil},
		{"event applied, seen from another process", func(ctx context.Context) error {
			return elsewhere.WaitForPosition(ctx, applied, "counts")
		}, nil},
		{"zero position", func(ctx context.Context) error { return r.WaitForPosition(ctx, eventstore.Position{}) }, nil},
		{"projector stalled before the position", func(ctx context.Context) error {
			return r.WaitForPosition(ctx, poison, "stuck")
		}, projections.ErrProjectionTimeout},
		{"every projector, one stalled", func(ctx context.Context) error { return r.WaitForPosition(ctx, poison) },
			projections.ErrProjectionTimeout},
		{"position beyond the feed", func(ctx context.Context) error {
			return r.WaitForPosition(ctx, eventstore.Position{Commit: poison.Commit + 1000, Prepare: 1}, "counts")
		}, projections.ErrProjectionTimeout},
		{"unknown projector", func(ctx context.Context) error { return r.WaitForPosition(ctx, applied, "nope") },
			projections.ErrUnknownProjector},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			startedAt := time.Now()
			err := tc.wait(context.Background())
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Less(t, time.Since(startedAt), 1500*time.Millisecond)
		})
	}
	// Read-your-writes: once the wait returns, the read model shows the event.
	assert.Equal(t, int64(1), h.counts(t, p)["wait-1"])

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = r.WaitForPosition(ctx, poison, "stuck")
	require.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, projections.ErrProjectionTimeout)
}

func TestStatusAndLagBeforeAndAfterRunning(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.appendSpread(t, "lag", 3, 12)
	p := &countingProjector{name: "counts", version: 3}
	cfg := h.testConfig(p)
	cfg.LagInterval = 20 * time.Millisecond
	r, err := projections.NewRunner(cfg)
	require.NoError(t, err)

	st := status(t, r, "counts")
	assert.Equal(t, projections.StatusNew, st.Status)
	assert.Equal(t, 3, st.CodeVersion)
	assert.Zero(t, st.Version)
	// The feed (and so the lag) shows an event once no older transaction
	// of the cluster is still in flight.
	require.Eventually(t, func() bool { return currentStatus(r, "counts").Lag == 12 }, 5*time.Second, 10*time.Millisecond)

	rr := startRunner(t, r)
	h.waitCaughtUp(t, rr)
	lag, err := r.Lag(context.Background())
	require.NoError(t, err)
	assert.Equal(t, map[string]int64{"counts": 0}, lag)
	st = status(t, r, "counts")
	assert.Equal(t, 3, st.Version)
	assert.Equal(t, projections.StatusRunning, st.Status)
	require.Eventually(t, func() bool {
		return h.metric(t, "apiq_projection_lag_events", "counts") == 0
	}, 5*time.Second, 10*time.Millisecond)
}

// countingFeed is a feed that counts its lag itself, by reading the feed,
// as a feed without an events table would.
type countingFeed struct {
	eventstore.Feed
	calls atomic.Int64
}

func (f *countingFeed) CountAfter(ctx context.Context, after eventstore.Position, limit int64) (int64, error) {
	f.calls.Add(1)
	events, err := f.ReadAll(ctx, after, int(limit))
	return int64(len(events)), err
}

func TestLagIsCountedByTheFeedWhenItCan(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.appendSpread(t, "lag", 3, 7)
	feed := &countingFeed{Feed: h.store}
	cfg := h.testConfig(&countingProjector{name: "counts", version: 1})
	cfg.Feed = feed
	r, err := projections.NewRunner(cfg)
	require.NoError(t, err)

	require.Eventually(t, func() bool {
		lag, err := r.Lag(context.Background())
		return err == nil && lag["counts"] == 7
	}, 5*time.Second, 10*time.Millisecond)
	assert.Positive(t, feed.calls.Load())
}

func TestRunnerConfigValidation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	p := &countingProjector{name: "counts", version: 1}
	cases := []struct {
		name string
		cfg  projections.RunnerConfig
		want []string
	}{
		{"nothing", projections.RunnerConfig{}, []string{"pool is required", "feed is required", "at least one projector"}},
		{"bad names", projections.RunnerConfig{Pool: h.pool, Feed: h.store, Projectors: []projections.Projector{
			&countingProjector{name: "Bad-Name"}, &countingProjector{name: "a__b"}}}, []string{`"Bad-Name"`, `"a__b"`}},
		{"duplicate", projections.RunnerConfig{Pool: h.pool, Feed: h.store, Projectors: []projections.Projector{p, p}},
			[]string{"appears twice"}},
		{"batch too large", projections.RunnerConfig{Pool: h.pool, Feed: h.store, Projectors: []projections.Projector{p},
			BatchSize: 5000}, []string{"batch size 5000"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := projections.NewRunner(tc.cfg)
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}
