package pgstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/pgstore"
	"github.com/apiq/apiq/adapters/postgres"
	"github.com/apiq/apiq/adapters/postgres/pgtest"
)

// BenchmarkAppend compares single-event appends through the event store with
// plain INSERTs of the same rows into an equivalent table (same columns,
// defaults, constraints and indexes; no function, no lock), with 1 and 16
// writers, each writer on streams of its own. The two paths run in
// alternating rounds within one benchmark, so background load on a shared
// machine hits both alike. One op is one append through each path; the
// metrics are each path's appends/s and their ratio (event store / insert).
func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	pool, err := postgres.Connect(ctx, pgtest.NewDatabase(b)+"&pool_max_conns=20")
	require.NoError(b, err)
	b.Cleanup(pool.Close)
	_, err = pool.Exec(ctx, `CREATE TABLE raw_events (LIKE events INCLUDING ALL)`)
	require.NoError(b, err)
	var fsync, syncCommit string
	require.NoError(b, pool.QueryRow(ctx, `SELECT current_setting('fsync'), current_setting('synchronous_commit')`).Scan(&fsync, &syncCommit))
	b.Logf("server settings: fsync=%s synchronous_commit=%s", fsync, syncCommit)
	store, err := pgstore.New(pool)
	require.NoError(b, err)

	insert := func(w *benchWriter) error {
		_, err := pool.Exec(ctx, `
			INSERT INTO raw_events (event_id, stream_id, stream_version, event_type, tenant_id, data, metadata)
			VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb)`,
			w.id(), w.stream, w.version+1, "BenchmarkEvent", "tenant-bench", string(w.data), w.metaJSON)
		return err
	}
	appendOne := func(w *benchWriter) error {
		_, err := store.Append(ctx, w.stream, w.version, []eventstore.EventData{{
			ID: w.id(), Type: "BenchmarkEvent", Data: w.data, Metadata: w.meta,
		}})
		return err
	}
	const rounds = 4
	for _, writers := range []int{1, 16} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			raw, es := newBenchWriters(b, writers), newBenchWriters(b, writers)
			var rawTime, esTime time.Duration
			b.ResetTimer()
			for r := range rounds {
				n := b.N / rounds
				if r < b.N%rounds {
					n++
				}
				rawTime += runWriters(b, raw, n, insert)
				esTime += runWriters(b, es, n, appendOne)
			}
			b.StopTimer()
			rawRate := float64(b.N) / rawTime.Seconds()
			esRate := float64(b.N) / esTime.Seconds()
			b.ReportMetric(rawRate, "insert-appends/s")
			b.ReportMetric(esRate, "eventstore-appends/s")
			b.ReportMetric(esRate/rawRate, "ratio")
		})
	}
}

// benchWriter appends to its own streams, one event at a time.
type benchWriter struct {
	run      string
	index    int
	stream   string
	version  int64 // current version of stream
	n        int
	data     json.RawMessage
	meta     eventstore.Metadata
	metaJSON string
}

func (w *benchWriter) id() uuid.UUID {
	return eventstore.EventID("tenant-bench", w.stream, w.run, int(w.version+1))
}

// advance moves to the next version, and to a fresh stream every 500 events
// so that streams stay of realistic length.
func (w *benchWriter) advance() {
	w.version++
	w.n++
	if w.version == 499 {
		w.stream = fmt.Sprintf("bench%s-%d-%d", w.run, w.index, w.n)
		w.version = eventstore.NoStream
	}
}

func newBenchWriters(b *testing.B, writers int) []*benchWriter {
	run := uuid.NewString()[:8]
	ws := make([]*benchWriter, writers)
	for i := range ws {
		meta := eventstore.Metadata{
			TenantID: "tenant-bench", Actor: eventstore.Actor{Subject: "user-1", Role: "ADMIN", AuthMethod: "password"},
			CorrelationID: uuid.NewString(), RequestID: uuid.NewString(), ClientIP: "203.0.113.9",
			UserAgent: "bench/1.0", SchemaVersion: 1, OccurredAt: eventstore.NormalizeTime(time.Now()),
		}
		metaJSON, err := json.Marshal(meta)
		require.NoError(b, err)
		ws[i] = &benchWriter{
			run: run, index: i, stream: fmt.Sprintf("bench%s-%d-0", run, i), version: eventstore.NoStream,
			data:     json.RawMessage(`{"user_id":"4f6c0f1e-8d0b-4b7e-9a53-2d1c0e9b7a11","email_ciphertext":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8","name_ciphertext":"ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8","role":"USER"}`),
			meta:     meta,
			metaJSON: string(metaJSON),
		}
	}
	return ws
}

// runWriters runs n appends split over the writers concurrently and returns
// the wall time they took.
func runWriters(b *testing.B, ws []*benchWriter, n int, appendOne func(*benchWriter) error) time.Duration {
	var wg sync.WaitGroup
	errs := make(chan error, len(ws))
	start := time.Now()
	for i, w := range ws {
		share := n / len(ws)
		if i < n%len(ws) {
			share++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range share {
				if err := appendOne(w); err != nil {
					errs <- err
					return
				}
				w.advance()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		require.NoError(b, err)
	}
	return elapsed
}
