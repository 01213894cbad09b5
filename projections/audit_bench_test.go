package projections_test

// Audit trail benchmarks (issue 6), on one dedicated database:
//
//	go test -run '^$' -bench AuditTrail -benchtime 1x -timeout 60m ./projections/
//
// Size: APIQ_BENCH_AUDIT_EVENTS (default 1,000,000; -short 50,000) events of
// one tenant over 30 days by 50 actors, bulk-loaded with COPY, then turned
// into audit rows by the audit projector's bulk rebuild (reported too).
// Sub-benchmarks: query (a one-day time range and an actor, keyset page of
// 100; p50/p99 over APIQ_BENCH_AUDIT_QUERIES, default 500), export (every
// row to CSV; rows/s and peak heap, for a tenth of the rows and for all of
// them) and verify (the whole chain recomputed from the events).

import (
	"context"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
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

const (
	benchAuditTenant = "bench"
	benchAuditActors = 50
	benchAuditDays   = 30
)

var benchAuditStart = time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)

// loadAuditEvents COPYs n events of one tenant into the events table.
func loadAuditEvents(b *testing.B, pool *pgxpool.Pool, n int) {
	b.Helper()
	ctx := context.Background()
	step := time.Duration(int64(benchAuditDays*24*time.Hour) / int64(n))
	types := []string{"user.logged_in", "user.logged_in", "user.updated", "user.login_failed", "user.api_token_issued"}
	data := map[string]string{
		"user.logged_in": `{"method": "password"}`, "user.updated": `{"role": "ADMIN", "disabled": false}`,
		"user.login_failed": `{"reason": "invalid_password"}`, "user.api_token_issued": `{"name": "ci", "token_id": "t1", "secret_hash": "abc"}`,
	}
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i == n {
			return nil, nil
		}
		at := benchAuditStart.Add(time.Duration(i) * step)
		typ := types[i%len(types)]
		meta, err := json.Marshal(eventstore.Metadata{TenantID: benchAuditTenant,
			Actor:         eventstore.Actor{Subject: "actor-" + strconv.Itoa(i%benchAuditActors), Role: "USER", AuthMethod: "password"},
			CorrelationID: "corr-" + strconv.Itoa(i/10), RequestID: "req-" + strconv.Itoa(i), ClientIP: "192.0.2.10",
			UserAgent: "bench/1.0", SchemaVersion: 1, OccurredAt: at})
		if err != nil {
			return nil, err
		}
		row := []any{uuid.New(), "user-" + strconv.Itoa(i%10000), int64(i / 10000), typ, benchAuditTenant,
			data[typ], string(meta), at.Add(time.Millisecond)}
		i++
		return row, nil
	})
	copied, err := pool.CopyFrom(ctx, pgx.Identifier{"events"},
		[]string{"event_id", "stream_id", "stream_version", "event_type", "tenant_id", "data", "metadata", "recorded_at"}, src)
	require.NoError(b, err)
	require.Equal(b, int64(n), copied)
	_, err = pool.Exec(ctx, `ANALYZE events`)
	require.NoError(b, err)
}

// percentile returns the p-th percentile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

func logServerSettings(b *testing.B, pool *pgxpool.Pool) {
	b.Helper()
	var fsync, syncCommit, sharedBuffers, workMem string
	require.NoError(b, pool.QueryRow(context.Background(),
		`SELECT current_setting('fsync'), current_setting('synchronous_commit'), current_setting('shared_buffers'), current_setting('work_mem')`).
		Scan(&fsync, &syncCommit, &sharedBuffers, &workMem))
	b.Logf("server: fsync=%s synchronous_commit=%s shared_buffers=%s work_mem=%s, GOMAXPROCS=%d", fsync, syncCommit, sharedBuffers, workMem, runtime.GOMAXPROCS(0))
}

func BenchmarkAuditTrail(b *testing.B) {
	n := benchEnv(b, "APIQ_BENCH_AUDIT_EVENTS", 1_000_000, 50_000)
	queries := benchEnv(b, "APIQ_BENCH_AUDIT_QUERIES", 500, 100)
	pool := pgtest.NewPool(b)
	ctx := context.Background()
	logServerSettings(b, pool)

	started := time.Now()
	loadAuditEvents(b, pool, n)
	b.Logf("loaded %d events with COPY in %s", n, time.Since(started).Round(time.Millisecond))
	store, err := pgstore.New(pool)
	require.NoError(b, err)
	runner, err := projections.NewRunner(projections.RunnerConfig{Pool: pool, Feed: store, Projectors: []projections.Projector{
		projections.NewAuditProjector()}, Logger: testLogger(), RebuildPageSize: 5000})
	require.NoError(b, err)
	started = time.Now()
	require.NoError(b, runner.Rebuild(ctx, projections.AuditProjectorName))
	took := time.Since(started)
	b.Logf("audit projector bulk rebuild: %d events in %s (%.0f events/s)", n, took.Round(time.Millisecond), float64(n)/took.Seconds())
	_, err = pool.Exec(ctx, `ANALYZE rm_audit.audit_events`)
	require.NoError(b, err)

	b.Run("query", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(1, 2))
		filter := func() projections.AuditFilter {
			from := benchAuditStart.Add(time.Duration(rng.IntN(benchAuditDays-1)) * 24 * time.Hour)
			return projections.AuditFilter{From: from, To: from.Add(24 * time.Hour), Actor: "actor-" + strconv.Itoa(rng.IntN(benchAuditActors))}
		}
		f := filter()
		plan := explain(b, pool, f)
		b.Logf("EXPLAIN (ANALYZE, BUFFERS) of a one-day range and an actor:\n%s", plan)
		for b.Loop() {
			var durations []time.Duration
			var rows int
			for range queries {
				f := filter()
				t0 := time.Now()
				page, err := projections.ListAuditRows(ctx, pool, benchAuditTenant, f, 100, "")
				durations = append(durations, time.Since(t0))
				require.NoError(b, err)
				rows += len(page.Rows)
			}
			slices.Sort(durations)
			b.ReportMetric(float64(percentile(durations, 0.50).Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(percentile(durations, 0.99).Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(rows)/float64(queries), "rows/query")
		}
	})

	b.Run("export", func(b *testing.B) {
		for b.Loop() {
			for _, part := range []struct {
				name   string
				filter projections.AuditFilter
			}{
				{"tenth", projections.AuditFilter{To: benchAuditStart.Add(benchAuditDays * 24 * time.Hour / 10)}},
				{"all", projections.AuditFilter{}},
			} {
				cpu := startCPU(b, pool)
				t0 := time.Now()
				rows, rate, peak := exportCSV(b, pool, part.filter)
				took := time.Since(t0)
				goCPU, pgCPU := cpu.stop(b)
				b.Logf("export %s: %d rows, %.0f rows/s, peak heap in use %.1f MiB", part.name, rows, rate, peak)
				reportCPU(b, "export "+part.name, rows, took, goCPU, pgCPU)
				b.ReportMetric(rate, part.name+"-rows/s")
				b.ReportMetric(peak, part.name+"-peak-heap-MiB")
			}
		}
	})

	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			cpu := startCPU(b, pool)
			t0 := time.Now()
			v, err := projections.VerifyAudit(ctx, pool, projections.AuditVerifyOptions{AllTenants: true, Verifier: newAuditKey(b).Verifier()})
			took := time.Since(t0)
			require.NoError(b, err)
			require.True(b, v.Valid, "%v", v.FirstBroken)
			require.Equal(b, int64(n), v.Checked)
			goCPU, pgCPU := cpu.stop(b)
			b.ReportMetric(float64(v.Checked)/took.Seconds(), "events/s")
			reportCPU(b, "verify", v.Checked, took, goCPU, pgCPU)
		}
	})
}

// exportCSV exports the rows matching f as the API's CSV export does and
// reports the rows, rows/s and the peak heap in use while it ran.
func exportCSV(b *testing.B, pool *pgxpool.Pool, f projections.AuditFilter) (int64, float64, float64) {
	b.Helper()
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	w := csv.NewWriter(io.Discard)
	record := make([]string, 26)
	t0 := time.Now()
	rows, err := projections.ExportAuditRows(context.Background(), pool, benchAuditTenant, f, func(r projections.AuditRow) error {
		record = append(record[:0], strconv.FormatInt(r.Sequence, 10), r.EventID.String(), r.TenantID, r.Position.String(),
			r.OccurredAt.Format(time.RFC3339Nano), r.RecordedAt.Format(time.RFC3339Nano), r.Actor.Subject, r.Actor.Role,
			r.Actor.AuthMethod, r.Actor.TokenID, r.Actor.SSOIssuer, r.Actor.SSOSubject, r.ClientIP, r.UserAgent, r.RequestID,
			r.Action, r.ResourceType, r.ResourceID, r.StreamID, strconv.FormatInt(r.StreamVersion, 10), r.Outcome,
			r.CorrelationID, r.CausationID, string(r.Summary), hex.EncodeToString(r.PrevHash), hex.EncodeToString(r.Hash))
		return w.Write(record)
	})
	took := time.Since(t0)
	close(stop)
	<-sampled
	require.NoError(b, err)
	w.Flush()
	return rows, float64(rows) / took.Seconds(), float64(peak.Load()) / (1 << 20)
}

// explain shows the plan of the statement ListAuditRows runs for a first
// page of 100 rows matching f.
func explain(b *testing.B, pool *pgxpool.Pool, f projections.AuditFilter) string {
	b.Helper()
	sql, args := projections.AuditQuery(benchAuditTenant, f, 0, 0, 101)
	rows, err := pool.Query(context.Background(), `EXPLAIN (ANALYZE, BUFFERS) `+sql, args...)
	require.NoError(b, err)
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(b, err)
	out := "    " + strings.Join(strings.Fields(sql), " ") + "\n"
	for _, l := range lines {
		out += fmt.Sprintln("    " + l)
	}
	return out
}

// cpuMeter measures the CPU time this process and the benchmark
// database's server processes use while a phase runs, so figures taken on
// a busy machine can be judged by what they cost rather than by how long
// they waited for a core.
type cpuMeter struct {
	pool    *pgxpool.Pool
	process time.Duration
	backend map[int]time.Duration
}

func startCPU(b *testing.B, pool *pgxpool.Pool) *cpuMeter {
	b.Helper()
	m := &cpuMeter{pool: pool, process: processCPU(b), backend: map[int]time.Duration{}}
	for _, pid := range backendPIDs(b, pool) {
		m.backend[pid] = pidCPU(pid)
	}
	return m
}

// stop returns the CPU time of this process and of the database's server
// processes (those alive at the end; one that started meanwhile counts
// from zero) since startCPU.
func (m *cpuMeter) stop(b *testing.B) (goCPU, pgCPU time.Duration) {
	b.Helper()
	goCPU = processCPU(b) - m.process
	for _, pid := range backendPIDs(b, m.pool) {
		pgCPU += pidCPU(pid) - m.backend[pid]
	}
	return goCPU, pgCPU
}

// reportCPU logs and reports a phase's CPU cost per item, and the rates its
// CPU cost allows on one dedicated core and on two fully used ones.
func reportCPU(b *testing.B, phase string, items int64, wall, goCPU, pgCPU time.Duration) {
	b.Helper()
	total := (goCPU + pgCPU).Seconds()
	if total <= 0 {
		return
	}
	perItem := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(items) }
	b.Logf("%s: wall %s; CPU: this process %s (%.1f µs/item), PostgreSQL %s (%.1f µs/item); the CPU cost allows %.0f items/s on 1 core, %.0f on 2 fully used",
		phase, wall.Round(time.Millisecond), goCPU.Round(time.Millisecond), perItem(goCPU), pgCPU.Round(time.Millisecond),
		perItem(pgCPU), float64(items)/total, 2*float64(items)/total)
	name := strings.ReplaceAll(phase, " ", "-")
	b.ReportMetric(perItem(goCPU), name+"-go-µs/item")
	b.ReportMetric(perItem(pgCPU), name+"-pg-µs/item")
}

// processCPU is this process's user and system CPU time.
func processCPU(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// backendPIDs lists the server processes of the benchmark's database.
func backendPIDs(b *testing.B, pool *pgxpool.Pool) []int {
	b.Helper()
	rows, err := pool.Query(context.Background(), `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	require.NoError(b, err)
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	require.NoError(b, err)
	out := make([]int, len(pids))
	for i, p := range pids {
		out[i] = int(p)
	}
	return out
}

// pidCPU reads a local process's user and system CPU time from /proc (0
// when it cannot: the server runs elsewhere, or the process ended).
func pidCPU(pid int) time.Duration {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the command name: state is the first, utime the 12th, stime the 13th.
	i := strings.LastIndexByte(string(raw), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticksPerSecond
}
