package projections_test

// Projection benchmarks (issue 2). Each runs its scenario once; run them with
//
//	go test -run '^$' -bench Projection -benchtime 1x ./projections/
//
// Sizes: APIQ_BENCH_EVENTS (default 200,000; -short 20,000),
// APIQ_BENCH_STEADY_SECONDS (default 30; -short 5), APIQ_BENCH_RATE
// (events/s, default 1,000). Each benchmark uses a database of its own and
// logs the server's fsync and synchronous_commit settings.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/pgstore"
	"github.com/apiq/apiq/adapters/postgres/pgtest"
	"github.com/apiq/apiq/projections"
)

// streamStateProjector is a realistic read model: one row per stream,
// upserted by every event and ignoring events older than what it holds.
type streamStateProjector struct{ version int }

func (p *streamStateProjector) Name() string { return "bench_streams" }
func (p *streamStateProjector) Version() int { return p.version }
func (p *streamStateProjector) Schema() string {
	return `CREATE TABLE IF NOT EXISTS stream_state (
		stream_id    text        PRIMARY KEY,
		last_version bigint      NOT NULL,
		last_type    text        NOT NULL,
		tenant_id    text        NOT NULL,
		occurred_at  timestamptz NOT NULL,
		payload      jsonb       NOT NULL)`
}

func (p *streamStateProjector) Apply(ctx context.Context, db projections.DB, ev eventstore.RecordedEvent) error {
	return db.Exec(ctx, `
		INSERT INTO stream_state (stream_id, last_version, last_type, tenant_id, occurred_at, payload)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (stream_id) DO UPDATE
		   SET last_version = excluded.last_version, last_type = excluded.last_type,
		       occurred_at = excluded.occurred_at, payload = excluded.payload
		 WHERE stream_state.last_version < excluded.last_version`,
		ev.StreamID, ev.Version, ev.Type, ev.Metadata.TenantID, ev.Metadata.OccurredAt, string(ev.Data))
}

func benchEnv(b *testing.B, name string, def, short int) int {
	b.Helper()
	if v := os.Getenv(name); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(b, err, name)
		return n
	}
	if testing.Short() {
		return short
	}
	return def
}

// benchSetup is a fresh database with the projector built (empty) and its
// runner configuration.
func benchSetup(b *testing.B) (*pgxpool.Pool, *pgstore.Store, *streamStateProjector, projections.RunnerConfig) {
	b.Helper()
	pool := pgtest.NewPool(b)
	store, err := pgstore.New(pool)
	require.NoError(b, err)
	var fsync, syncCommit string
	require.NoError(b, pool.QueryRow(context.Background(), `SELECT current_setting('fsync'), current_setting('synchronous_commit')`).Scan(&fsync, &syncCommit))
	b.Logf("server settings: fsync=%s synchronous_commit=%s (projector transactions: synchronous_commit=off)", fsync, syncCommit)

	p := &streamStateProjector{version: 1}
	cfg := projections.RunnerConfig{Pool: pool, Feed: store, Projectors: []projections.Projector{p},
		Logger: testLogger(), WaitTimeout: 10 * time.Minute}
	r, err := projections.NewRunner(cfg)
	require.NoError(b, err)
	require.NoError(b, r.Rebuild(context.Background(), p.Name()))
	return pool, store, p, cfg
}

func BenchmarkProjectionSteadyLag(b *testing.B) {
	seconds := benchEnv(b, "APIQ_BENCH_STEADY_SECONDS", 30, 5)
	rate := benchEnv(b, "APIQ_BENCH_RATE", 1000, 1000)
	_, store, p, cfg := benchSetup(b)
	r, err := projections.NewRunner(cfg)
	require.NoError(b, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- r.Run(ctx) }()

	total := seconds * rate
	interval := time.Second / time.Duration(rate)
	var (
		next               atomic.Int64
		mu                 sync.Mutex
		lags               = make([]time.Duration, 0, total)
		appenders, waiters sync.WaitGroup
		failures           atomic.Int64
	)
	meta := eventstore.Metadata{TenantID: "bench", SchemaVersion: 1, Actor: eventstore.Actor{Subject: "bench", Role: "SYSTEM"}}
	b.ResetTimer()
	started := time.Now()
	// Several appenders, so one slow (fsync'd) append does not delay the
	// next: event i is appended at started + i*interval.
	for w := 0; w < 8; w++ {
		appenders.Add(1)
		go func() {
			defer appenders.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(total) {
					return
				}
				time.Sleep(time.Until(started.Add(time.Duration(i) * interval)))
				stream := fmt.Sprintf("bench-%d", i%500)
				ev := eventstore.EventData{ID: uuid.New(), Type: "BenchEvent", Metadata: meta,
					Data: json.RawMessage(`{"i":` + strconv.FormatInt(i, 10) + `,"note":"steady load"}`)}
				res, err := store.Append(ctx, stream, eventstore.Any, []eventstore.EventData{ev})
				if err != nil {
					failures.Add(1)
					continue
				}
				appended := time.Now()
				waiters.Add(1)
				go func() {
					defer waiters.Done()
					if err := r.WaitForPosition(ctx, res.Position, p.Name()); err != nil {
						failures.Add(1)
						return
					}
					lag := time.Since(appended)
					mu.Lock()
					lags = append(lags, lag)
					mu.Unlock()
				}()
			}
		}()
	}
	appenders.Wait()
	elapsed := time.Since(started)
	waiters.Wait()
	b.StopTimer()
	cancel()
	require.NoError(b, <-runDone)
	require.Zero(b, failures.Load(), "appends or waits failed")
	require.Len(b, lags, total)

	slices.Sort(lags)
	pct := func(q float64) time.Duration { return lags[min(len(lags)-1, int(q*float64(len(lags))))] }
	b.ReportMetric(float64(total)/elapsed.Seconds(), "appended_events/s")
	b.ReportMetric(float64(pct(0.50).Microseconds())/1000, "p50_lag_ms")
	b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99_lag_ms")
	b.ReportMetric(float64(lags[len(lags)-1].Microseconds())/1000, "max_lag_ms")
	b.Logf("%d events at %d/s for %ds: append-to-read-model lag p50=%s p99=%s max=%s",
		total, rate, seconds, pct(0.50), pct(0.99), lags[len(lags)-1])
}

// BenchmarkProjectionThroughput catches up with pre-appended events through
// the live runner, then rebuilds the same read model through the bulk path.
func BenchmarkProjectionThroughput(b *testing.B) {
	events := benchEnv(b, "APIQ_BENCH_EVENTS", 200_000, 20_000)
	pool, _, p, cfg := benchSetup(b)
	last := bulkInsertEvents(b, pool, events, 2000)
	b.Logf("bulk-inserted %d events into the events table", events)

	b.Run("live_catch_up", func(b *testing.B) {
		r, err := projections.NewRunner(cfg)
		require.NoError(b, err)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		runDone := make(chan error, 1)
		b.ResetTimer()
		started := time.Now()
		go func() { runDone <- r.Run(ctx) }()
		require.NoError(b, r.WaitForPosition(context.Background(), last, p.Name()))
		elapsed := time.Since(started)
		b.StopTimer()
		cancel()
		require.NoError(b, <-runDone)
		requireStreamState(b, pool, 2000, events)
		b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
		b.Logf("live runner caught up with %d events in %s: %.0f events/s", events, elapsed, float64(events)/elapsed.Seconds())
	})

	b.Run("rebuild", func(b *testing.B) {
		r, err := projections.NewRunner(cfg)
		require.NoError(b, err)
		b.ResetTimer()
		started := time.Now()
		require.NoError(b, r.Rebuild(context.Background(), p.Name()))
		elapsed := time.Since(started)
		b.StopTimer()
		requireStreamState(b, pool, 2000, events)
		b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
		b.Logf("rebuild applied %d events in %s: %.0f events/s", events, elapsed, float64(events)/elapsed.Seconds())
	})
}

// bulkInsertEvents copies n events over streams streams straight into the
// events table (one transaction) and returns the last one's position.
func bulkInsertEvents(b *testing.B, pool *pgxpool.Pool, n, streams int) eventstore.Position {
	b.Helper()
	ctx := context.Background()
	occurred := time.Now().UTC()
	rows := make([][]any, n)
	for i := range rows {
		meta, err := json.Marshal(eventstore.Metadata{TenantID: "bench", SchemaVersion: 1,
			Actor: eventstore.Actor{Subject: "bench", Role: "SYSTEM"}, RequestID: strconv.Itoa(i), OccurredAt: occurred})
		require.NoError(b, err)
		rows[i] = []any{uuid.New(), fmt.Sprintf("bench-%d", i%streams), int64(i / streams), "BenchEvent", "bench",
			`{"i":` + strconv.Itoa(i) + `,"note":"catch-up load"}`, string(meta)}
	}
	copied, err := pool.CopyFrom(ctx, pgx.Identifier{"events"},
		[]string{"event_id", "stream_id", "stream_version", "event_type", "tenant_id", "data", "metadata"},
		pgx.CopyFromRows(rows))
	require.NoError(b, err)
	require.Equal(b, int64(n), copied)
	_, err = pool.Exec(ctx, `ANALYZE events`)
	require.NoError(b, err)
	var txid, pos int64
	require.NoError(b, pool.QueryRow(ctx, `
		SELECT transaction_id::text::bigint, global_position FROM events
		 ORDER BY transaction_id DESC, global_position DESC LIMIT 1`).Scan(&txid, &pos))
	return eventstore.Position{Commit: uint64(txid), Prepare: uint64(pos)}
}

// requireStreamState checks the read model holds every stream at its last version.
func requireStreamState(b *testing.B, pool *pgxpool.Pool, streams, events int) {
	b.Helper()
	var rows, versions int64
	require.NoError(b, pool.QueryRow(context.Background(),
		`SELECT count(*), coalesce(sum(last_version), 0) FROM rm_bench_streams.stream_state`).Scan(&rows, &versions))
	require.Equal(b, int64(streams), rows)
	perStream := int64(events / streams)
	require.Equal(b, int64(streams)*(perStream-1), versions)
}
