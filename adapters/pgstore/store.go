// Package pgstore is the PostgreSQL event store adapter (the default): an
// append-only events table whose global feed is gap-free because readers only
// see transactions older than every transaction still in flight.
package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/apiq/apiq/adapters/eventstore"
)

// SQLSTATEs raised by append_events (migrations/0001_events.up.sql).
const (
	codeWrongVersion  = "AQ001"
	codeInvalidAppend = "AQ002"
	codeUniqueViolate = "23505"
)

// Store is the PostgreSQL event store. It implements eventstore.Store and eventstore.Feed.
type Store struct {
	pool *pgxpool.Pool
	wake *waker
}

var (
	_ eventstore.Store = (*Store)(nil)
	_ eventstore.Feed  = (*Store)(nil)
)

// New returns a store on pool. The events table must have been migrated.
func New(pool *pgxpool.Pool) (*Store, error) {
	if pool == nil {
		return nil, errors.New("pgstore: nil pool")
	}
	return &Store{pool: pool, wake: &waker{readers: map[chan struct{}]struct{}{}}}, nil
}

// Append implements eventstore.Store with one round trip: append_events runs
// in the implicit transaction of a single statement, so it is always the
// first write of its transaction.
func (s *Store) Append(ctx context.Context, stream string, expected int64, events []eventstore.EventData) (eventstore.AppendResult, error) {
	if stream == "" {
		return eventstore.AppendResult{}, fmt.Errorf("append: empty stream id: %w", eventstore.ErrInvalidAppend)
	}
	if len(events) == 0 {
		return eventstore.AppendResult{}, fmt.Errorf("append to %s: no events: %w", stream, eventstore.ErrInvalidAppend)
	}
	if expected < eventstore.Any {
		return eventstore.AppendResult{}, fmt.Errorf("append to %s: expected version %d: %w", stream, expected, eventstore.ErrInvalidAppend)
	}
	tenant := events[0].Metadata.TenantID
	ids := make([]uuid.UUID, len(events))
	types := make([]string, len(events))
	data := make([]json.RawMessage, len(events))
	meta := make([][]byte, len(events))
	for i, ev := range events {
		if ev.ID == uuid.Nil || ev.Type == "" {
			return eventstore.AppendResult{}, fmt.Errorf("append to %s: event %d lacks id or type: %w", stream, i, eventstore.ErrInvalidAppend)
		}
		if ev.Metadata.TenantID != tenant {
			return eventstore.AppendResult{}, fmt.Errorf("append to %s: events of one append span tenants: %w", stream, eventstore.ErrInvalidAppend)
		}
		ids[i], types[i] = ev.ID, ev.Type
		data[i] = ev.Data
		if len(data[i]) == 0 {
			data[i] = json.RawMessage("{}")
		}
		m := ev.Metadata
		if m.OccurredAt.IsZero() {
			m.OccurredAt = time.Now().UTC()
		}
		b, err := json.Marshal(m)
		if err != nil {
			return eventstore.AppendResult{}, fmt.Errorf("append to %s: encode metadata: %w", stream, err)
		}
		meta[i] = b
	}

	var (
		res  eventstore.AppendResult
		txid uint64
		pos  int64
	)
	err := s.pool.QueryRow(ctx,
		`SELECT last_version, last_txid::text::bigint, last_position
		   FROM append_events($1, $2, $3, $4, $5, $6::jsonb[], $7::jsonb[])`,
		stream, expected, ids, types, tenant, rawStrings(data), byteStrings(meta),
	).Scan(&res.NextExpectedVersion, &txid, &pos)
	if err != nil {
		return eventstore.AppendResult{}, mapAppendError(stream, expected, err)
	}
	res.Position = eventstore.Position{Commit: txid, Prepare: uint64(pos)}
	s.wake.signal()
	return res, nil
}

func mapAppendError(stream string, expected int64, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case codeWrongVersion:
			actual, perr := strconv.ParseInt(pgErr.Detail, 10, 64)
			if perr != nil {
				actual = eventstore.NoStream
			}
			return &eventstore.WrongExpectedVersionError{Stream: stream, Expected: expected, Actual: actual}
		case codeInvalidAppend:
			return fmt.Errorf("%s: %w", pgErr.Message, eventstore.ErrInvalidAppend)
		case codeUniqueViolate:
			// Only a concurrent append of the same event ids to another stream
			// can get here: the per-stream lock serialises same-stream appends.
			return fmt.Errorf("append to %s: event id already stored: %w", stream, eventstore.ErrInvalidAppend)
		}
	}
	return fmt.Errorf("append to %s: %w", stream, err)
}

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, from int64, limit int) ([]eventstore.RecordedEvent, error) {
	if from < 0 {
		from = 0
	}
	lim := any(nil)
	if limit > 0 {
		lim = limit
	}
	rows, err := s.pool.Query(ctx, `
		SELECT `+columns+` FROM events
		WHERE stream_id = $1 AND stream_version >= $2
		ORDER BY stream_version LIMIT $3`, stream, from, lim)
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", stream, err)
	}
	events, err := scanEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", stream, err)
	}
	if len(events) == 0 {
		var exists bool
		if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM events WHERE stream_id = $1)`, stream).Scan(&exists); err != nil {
			return nil, fmt.Errorf("read stream %s: %w", stream, err)
		}
		if !exists {
			return nil, fmt.Errorf("read stream %s: %w", stream, eventstore.ErrStreamNotFound)
		}
	}
	return events, nil
}

// feedVisible is the gate that keeps the feed gap-free: only transactions
// older than every transaction still in flight are readable.
const feedVisible = `transaction_id < pg_snapshot_xmin(pg_current_snapshot())`

// ReadAll implements eventstore.Feed.
func (s *Store) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.RecordedEvent, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.pool.Query(ctx, `
		SELECT `+columns+` FROM events
		WHERE (transaction_id, global_position) > ($1::text::xid8, $2)
		  AND `+feedVisible+`
		ORDER BY transaction_id, global_position
		LIMIT $3`, strconv.FormatUint(after.Commit, 10), int64(after.Prepare), limit)
	if err != nil {
		return nil, fmt.Errorf("read feed after %s: %w", after, err)
	}
	events, err := scanEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("read feed after %s: %w", after, err)
	}
	return events, nil
}

// Head implements eventstore.Feed.
func (s *Store) Head(ctx context.Context) (eventstore.Position, error) {
	var txid, pos int64
	err := s.pool.QueryRow(ctx, `
		SELECT transaction_id::text::bigint, global_position FROM events
		WHERE `+feedVisible+`
		ORDER BY transaction_id DESC, global_position DESC LIMIT 1`).Scan(&txid, &pos)
	if errors.Is(err, pgx.ErrNoRows) {
		return eventstore.Position{}, nil
	}
	if err != nil {
		return eventstore.Position{}, fmt.Errorf("read feed head: %w", err)
	}
	return eventstore.Position{Commit: uint64(txid), Prepare: uint64(pos)}, nil
}

// Wake implements eventstore.Feed: it fires after every append made through
// this store. Appends by other processes arrive through Listen.
func (s *Store) Wake(ctx context.Context) <-chan struct{} { return s.wake.register(ctx) }

// Signal wakes every feed reader of this store, e.g. when another process
// announced an append or a transaction that held the feed back committed.
func (s *Store) Signal() { s.wake.signal() }

const columns = `event_id, stream_id, stream_version, transaction_id::text::bigint, global_position,
	event_type, data, metadata, recorded_at`

func scanEvents(rows pgx.Rows) ([]eventstore.RecordedEvent, error) {
	defer rows.Close()
	var out []eventstore.RecordedEvent
	for rows.Next() {
		var (
			ev        eventstore.RecordedEvent
			txid, pos int64
			data      []byte
			meta      []byte
		)
		if err := rows.Scan(&ev.ID, &ev.StreamID, &ev.Version, &txid, &pos, &ev.Type, &data, &meta, &ev.RecordedAt); err != nil {
			return nil, err
		}
		ev.Position = eventstore.Position{Commit: uint64(txid), Prepare: uint64(pos)}
		ev.Data = json.RawMessage(data)
		if err := json.Unmarshal(meta, &ev.Metadata); err != nil {
			return nil, fmt.Errorf("decode metadata of %s: %w", ev.ID, err)
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}

func rawStrings(in []json.RawMessage) []string {
	out := make([]string, len(in))
	for i, b := range in {
		out[i] = string(b)
	}
	return out
}

func byteStrings(in [][]byte) []string {
	out := make([]string, len(in))
	for i, b := range in {
		out[i] = string(b)
	}
	return out
}
