package projections_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/pgstore"
	"github.com/apiq/apiq/adapters/postgres/pgtest"
	"github.com/apiq/apiq/projections"
)

// Event types of the runner tests. countingProjector counts "Counted",
// fails on "Poison" while poisoned and ignores everything else.
const (
	typeCounted = "Counted"
	typePoison  = "Poison"
	typeUnknown = "SomethingElse.V1"
)

// countingProjector counts the events of each stream. Its write is
// deliberately not idempotent (events = events + 1): an event applied twice
// shows up as a wrong count.
type countingProjector struct {
	name    string
	version int
	// poisoned makes every attempt at a Poison event fail, through poison
	// when set (else with an error).
	poisoned atomic.Bool
	poison   func(ctx context.Context, db projections.DB) error
	// beforeWrite, when set, runs before each Counted write; an error fails
	// the attempt.
	beforeWrite func(ctx context.Context, db projections.DB, ev eventstore.RecordedEvent) error
	applies     atomic.Int64
}

func (p *countingProjector) Name() string { return p.name }
func (p *countingProjector) Version() int { return p.version }
func (p *countingProjector) Schema() string {
	return `CREATE TABLE IF NOT EXISTS stream_counts (
		stream_id    text    PRIMARY KEY,
		events       bigint  NOT NULL,
		last_version bigint  NOT NULL,
		built_by     integer NOT NULL)`
}

func (p *countingProjector) Apply(ctx context.Context, db projections.DB, ev eventstore.RecordedEvent) error {
	p.applies.Add(1)
	switch ev.Type {
	case typePoison:
		switch {
		case !p.poisoned.Load():
			return nil
		case p.poison != nil:
			return p.poison(ctx, db)
		}
		return errors.New("poison event refused")
	case typeCounted:
	default:
		return nil
	}
	if p.beforeWrite != nil {
		if err := p.beforeWrite(ctx, db, ev); err != nil {
			return err
		}
	}
	return db.Exec(ctx, `
		INSERT INTO stream_counts (stream_id, events, last_version, built_by) VALUES ($1, 1, $2, $3)
		ON CONFLICT (stream_id) DO UPDATE
		   SET events = stream_counts.events + 1, last_version = excluded.last_version, built_by = excluded.built_by`,
		ev.StreamID, ev.Version, p.version)
}

// harness is one test's database, event store and metrics registry.
type harness struct {
	pool     *pgxpool.Pool
	store    *pgstore.Store
	registry *prometheus.Registry
	mu       sync.Mutex
	// appended counts the Counted events appended per stream.
	appended map[string]int64
	// last is the position of the last event appended.
	last eventstore.Position
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	pool := pgtest.NewPool(t)
	store, err := pgstore.New(pool)
	require.NoError(t, err)
	return &harness{pool: pool, store: store, registry: prometheus.NewRegistry(), appended: map[string]int64{}}
}

// appendEvents appends one event of each type to stream and returns the
// position of the last.
func (h *harness) appendEvents(t testing.TB, stream string, types ...string) eventstore.Position {
	t.Helper()
	pos, err := h.tryAppend(stream, types...)
	require.NoError(t, err)
	return pos
}

// tryAppend is appendEvents for goroutines other than the test's.
func (h *harness) tryAppend(stream string, types ...string) (eventstore.Position, error) {
	events := make([]eventstore.EventData, len(types))
	for i, typ := range types {
		events[i] = eventstore.EventData{
			ID:       uuid.New(),
			Type:     typ,
			Data:     json.RawMessage(`{"n":` + strconv.Itoa(i) + `}`),
			Metadata: eventstore.Metadata{TenantID: "t1", SchemaVersion: 1},
		}
	}
	res, err := h.store.Append(context.Background(), stream, eventstore.Any, events)
	if err != nil {
		return eventstore.Position{}, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if res.Position.Compare(h.last) > 0 {
		h.last = res.Position
	}
	for _, typ := range types {
		if typ == typeCounted {
			h.appended[stream]++
		}
	}
	return res.Position, nil
}

// appendSpread appends n Counted events round-robin over streams.
func (h *harness) appendSpread(t testing.TB, prefix string, streams, n int) eventstore.Position {
	t.Helper()
	var last eventstore.Position
	for i := 0; i < n; i++ {
		last = h.appendEvents(t, fmt.Sprintf("%s-%d", prefix, i%streams), typeCounted)
	}
	return last
}

func (h *harness) expectedCounts() map[string]int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]int64, len(h.appended))
	for k, v := range h.appended {
		out[k] = v
	}
	return out
}

// counts reads a counting projector's live read model.
func (h *harness) counts(t testing.TB, p projections.Projector) map[string]int64 {
	t.Helper()
	rows, err := h.pool.Query(context.Background(),
		`SELECT stream_id, events FROM `+pgx.Identifier{projections.SchemaName(p), "stream_counts"}.Sanitize())
	require.NoError(t, err)
	out := map[string]int64{}
	for rows.Next() {
		var (
			stream string
			n      int64
		)
		require.NoError(t, rows.Scan(&stream, &n))
		out[stream] = n
	}
	require.NoError(t, rows.Err())
	return out
}

// eventsUpTo counts the Counted events at or before pos in feed order.
func (h *harness) eventsUpTo(t testing.TB, pos eventstore.Position) int64 {
	t.Helper()
	var n int64
	require.NoError(t, h.pool.QueryRow(context.Background(), `
		SELECT count(*) FROM events
		 WHERE event_type = $3 AND (transaction_id, global_position) <= ($1::text::xid8, $2)`,
		strconv.FormatUint(pos.Commit, 10), int64(pos.Prepare), typeCounted).Scan(&n))
	return n
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// testConfig is a runner configuration with test-sized intervals.
func (h *harness) testConfig(projectors ...projections.Projector) projections.RunnerConfig {
	return projections.RunnerConfig{
		Pool: h.pool, Feed: h.store, Projectors: projectors, Registerer: h.registry,
		BatchSize: 50, PollInterval: 20 * time.Millisecond,
		BackoffInitial: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond,
		HandlerTimeout: 5 * time.Second, LagInterval: time.Hour, Logger: testLogger(),
	}
}

// testLogger shows the runner's logs with go test -v only.
func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}

// runningRunner is a runner started in the background.
type runningRunner struct {
	*projections.Runner
	cancel context.CancelFunc
	done   chan error
}

// start creates and runs a runner; it is stopped when the test ends.
func start(t *testing.T, cfg projections.RunnerConfig) *runningRunner {
	t.Helper()
	r, err := projections.NewRunner(cfg)
	require.NoError(t, err)
	return startRunner(t, r)
}

func startRunner(t *testing.T, r *projections.Runner) *runningRunner {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rr := &runningRunner{Runner: r, cancel: cancel, done: make(chan error, 1)}
	go func() { rr.done <- r.Run(ctx) }()
	t.Cleanup(func() { _ = rr.stop(t) })
	return rr
}

// stop cancels the runner and returns what Run returned.
func (rr *runningRunner) stop(t testing.TB) error {
	t.Helper()
	rr.cancel()
	select {
	case err, ok := <-rr.done:
		if !ok {
			return nil
		}
		close(rr.done)
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("runner did not stop")
		return nil
	}
}

// build builds the projectors' (empty) read models, as a runner does on its
// first start, so that events appended afterwards go through the live path.
// Call it before appending events: a build applies the feed in bulk.
func (h *harness) build(t testing.TB, projectors ...projections.Projector) {
	t.Helper()
	cfg := h.testConfig(projectors...)
	cfg.Registerer = nil
	r, err := projections.NewRunner(cfg)
	require.NoError(t, err)
	for _, p := range projectors {
		require.NoError(t, r.Rebuild(context.Background(), p.Name()))
	}
}

// receive waits for a value from ch, failing the test after a few seconds.
func receive[T any](t testing.TB, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for the runner")
		var zero T
		return zero
	}
}

// currentStatus is status for polling conditions: it reports errors as an
// empty status rather than failing from another goroutine.
func currentStatus(r *projections.Runner, name string) projections.ProjectorStatus {
	all, err := r.Status(context.Background())
	if err != nil {
		return projections.ProjectorStatus{}
	}
	for _, s := range all {
		if s.Name == name {
			return s
		}
	}
	return projections.ProjectorStatus{}
}

// waitCaughtUp waits until the runner's projectors have applied every
// event appended so far. (The feed's Head is no substitute: it lags while
// any transaction of the cluster that may still append is in flight.)
func (h *harness) waitCaughtUp(t testing.TB, w interface {
	WaitForPosition(context.Context, eventstore.Position, ...string) error
}, names ...string) {
	t.Helper()
	h.mu.Lock()
	last := h.last
	h.mu.Unlock()
	require.NoError(t, w.WaitForPosition(context.Background(), last, names...))
}

// status returns one projector's status.
func status(t testing.TB, r *projections.Runner, name string) projections.ProjectorStatus {
	t.Helper()
	all, err := r.Status(context.Background())
	require.NoError(t, err)
	for _, s := range all {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no status for %s", name)
	return projections.ProjectorStatus{}
}

// metric reads one projector's series of a metric family.
func (h *harness) metric(t testing.TB, family, projector string) float64 {
	t.Helper()
	families, err := h.registry.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != family {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "projector" && l.GetValue() == projector {
					switch {
					case m.GetCounter() != nil:
						return m.GetCounter().GetValue()
					case m.GetGauge() != nil:
						return m.GetGauge().GetValue()
					case m.GetHistogram() != nil:
						return float64(m.GetHistogram().GetSampleCount())
					}
				}
			}
		}
	}
	t.Fatalf("metric %s{projector=%q} not found", family, projector)
	return 0
}
