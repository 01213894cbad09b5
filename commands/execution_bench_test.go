package commands_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/outbound"
	"github.com/apiq/apiq/adapters/testservers"
	"github.com/apiq/apiq/commands"
	"github.com/apiq/apiq/domain/execution"
	"github.com/apiq/apiq/domain/plan"
)

// tenGets is a plan of 10 GET calls.
func tenGets(connectionID string) plan.Plan {
	var p plan.Plan
	for i := range 10 {
		p.Steps = append(p.Steps, plan.Step{ID: fmt.Sprintf("get%d", i), Kind: plan.KindCall,
			Call: &plan.Call{ConnectionID: connectionID, OperationID: "getRequest", Query: map[string]any{"q": fmt.Sprint(i)}}})
	}
	return p
}

// BenchmarkExecutionTenGets runs the 10-GET plan sequentially and reports
// the engine's p50 overhead per step (execution wall time / 10 minus the
// same 10 calls by a plain Go client, measured in the same run), then the
// throughput of 32 concurrent executions. It runs twice side by side:
// commit=durable against a database with the server's settings (fsync and
// synchronous_commit on), commit=async against one set to
// synchronous_commit=off, a reference for the share of the commits' fsyncs.
func BenchmarkExecutionTenGets(b *testing.B) {
	for _, bc := range []struct {
		name  string
		async bool
	}{{"commit=durable", false}, {"commit=async", true}} {
		b.Run(bc.name, func(b *testing.B) { benchTenGets(b, bc.async) })
	}
}

func benchTenGets(b *testing.B, asyncCommit bool) {
	cfg := testExecutionConfig()
	cfg.Poll = commands.DefaultExecutionConfig().Poll // work is found by signals, not polling
	e := newExecEnv(b, cfg, func(c *outbound.Config) { c.RateLimit.Unlimited = true })
	ctx := context.Background()
	if asyncCommit {
		_, err := e.pool.Exec(ctx, `DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET synchronous_commit = off', current_database()); END $$`)
		require.NoError(b, err)
		e.pool.Reset() // new connections take the database's setting
	}
	var sc string
	require.NoError(b, e.pool.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&sc))
	require.Equal(b, map[bool]string{false: "on", true: "off"}[asyncCommit], sc)

	bin := testservers.StartHTTPBin(b)
	acme := e.tenantWithAdmin(b, "acme").TenantID
	conn, err := e.register.Handle(ctx, userOf(acme, "reg-bin"), commands.RegisterConnection{Name: "bin",
		Document: commands.DocumentSource{Text: bin.OpenAPIDocument()}})
	require.NoError(b, err)
	e.plans.plans["ten"] = tenGets(conn.ConnectionID)
	run := func() (stop func()) {
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); _ = e.engine.Run(runCtx) }()
		return func() { cancel(); <-done }
	}
	stop := run()
	defer func() { stop() }()

	direct := func() time.Duration {
		start := time.Now()
		for i := range 10 {
			resp, err := http.Get(fmt.Sprintf("%s/get?q=%d", bin.URL, i))
			require.NoError(b, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		return time.Since(start)
	}
	runOne := func(n int) time.Duration {
		start := time.Now()
		res, err := e.start.Handle(ctx, userOf(acme, fmt.Sprintf("s-%d-%d", b.N, n)), commands.StartExecution{PlanID: "ten"})
		require.NoError(b, err)
		waitTerminal(b, e, res.ExecutionID)
		return time.Since(start)
	}
	var overhead []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d := direct()
		x := runOne(i)
		overhead = append(overhead, float64((x-d).Microseconds())/10/1000)
	}
	b.StopTimer()
	slices.Sort(overhead)
	b.ReportMetric(overhead[len(overhead)/2], "overhead-ms/step-p50")

	// Throughput: 32 concurrent executions, started together and awaited
	// with one query (32 pollers would compete with the engine for the pool).
	start := time.Now()
	startAll := func(prefix string) []string {
		ids := make([]string, 32)
		var wg sync.WaitGroup
		for i := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := e.start.Handle(ctx, userOf(acme, fmt.Sprintf("%s-%d-%d", prefix, b.N, i)), commands.StartExecution{PlanID: "ten"})
				require.NoError(b, err)
				ids[i] = res.ExecutionID
			}()
		}
		wg.Wait()
		return ids
	}
	ids := startAll("c")
	started := time.Since(start)
	awaitAll(b, e, ids)
	b.ReportMetric(float64(len(ids)*10)/time.Since(start).Seconds(), "steps/s-32-concurrent")
	b.ReportMetric(float64(started.Microseconds())/1000, "ms-32-starts")

	// The engine alone: 32 executions queued while it is stopped, then run.
	// The CPU it takes, a measure the machine's other load hardly moves:
	// this process's (the engine, and go-httpbin answering it) and that of
	// the PostgreSQL backends serving the database, when they run here.
	stop()
	ids = startAll("q")
	goCPU := processCPU()
	dbCPU, dbOK := backendCPU(ctx, e)
	start = time.Now()
	stop = run()
	awaitAll(b, e, ids)
	b.ReportMetric(float64(len(ids)*10)/time.Since(start).Seconds(), "engine-steps/s-32-queued")
	steps := float64(len(ids) * 10)
	b.ReportMetric(float64((processCPU()-goCPU).Microseconds())/1000/steps, "go-cpu-ms/step")
	if after, ok := backendCPU(ctx, e); ok && dbOK {
		b.ReportMetric(float64(after.sub(dbCPU).Microseconds())/1000/steps, "db-cpu-ms/step")
	}
}

// processCPU is the CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuByPID is the CPU time of processes.
type cpuByPID map[int]time.Duration

// sub is the CPU used since before: processes that started since count whole.
func (c cpuByPID) sub(before cpuByPID) time.Duration {
	var d time.Duration
	for pid, t := range c {
		d += t - before[pid]
	}
	return d
}

// backendCPU reads from /proc the CPU time of the backends serving the
// benchmark's database (false when PostgreSQL runs elsewhere).
func backendCPU(ctx context.Context, e *execEnv) (cpuByPID, bool) {
	rows, err := e.pool.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		return nil, false
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return nil, false
	}
	out := cpuByPID{}
	for _, pid := range pids {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return nil, false
		}
		// Fields after the command's closing parenthesis: utime and stime
		// are the 12th and 13th, in clock ticks (100 per second on Linux).
		fields := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
		if len(fields) < 13 {
			return nil, false
		}
		utime, err1 := strconv.ParseInt(fields[11], 10, 64)
		stime, err2 := strconv.ParseInt(fields[12], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, false
		}
		out[pid] = time.Duration(utime+stime) * 10 * time.Millisecond
	}
	return out, true
}

// awaitAll waits until every execution has ended, and completed.
func awaitAll(b *testing.B, e *execEnv, ids []string) {
	ctx := context.Background()
	streams := make([]string, len(ids))
	for i, id := range ids {
		streams[i] = execution.Stream(id)
	}
	untilAppended(b, e, func() bool {
		var ended, completed int
		require.NoError(b, e.pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE event_type = $2) FROM events
			WHERE stream_id = ANY($1) AND event_type = ANY($3)`, streams, execution.TypeCompleted,
			[]string{execution.TypeCompleted, execution.TypeFailed, execution.TypeNeedsAttention, execution.TypeCancelled}).Scan(&ended, &completed))
		if ended == len(ids) {
			require.Equal(b, len(ids), completed, "every execution completes")
		}
		return ended == len(ids)
	})
}

func waitTerminal(b *testing.B, e *execEnv, executionID string) {
	untilAppended(b, e, func() bool {
		evs, err := e.store.ReadStream(context.Background(), execution.Stream(executionID), 0, 0)
		require.NoError(b, err)
		last := evs[len(evs)-1]
		if last.Type == execution.TypeFailed || last.Type == execution.TypeNeedsAttention {
			b.Fatalf("execution ended with %s: %s", last.Type, last.Data)
		}
		return last.Type == execution.TypeCompleted
	})
}

// untilAppended checks done after each append to the store (its feed's
// wake-ups: no polling that would compete with the engine for the
// database) and every 50 ms, for at most a minute.
func untilAppended(b *testing.B, e *execEnv, done func() bool) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	wake := e.store.Wake(ctx)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !done() {
		select {
		case <-ctx.Done():
			b.Fatal("the executions did not finish within a minute")
		case <-wake:
		case <-tick.C:
		}
	}
}
