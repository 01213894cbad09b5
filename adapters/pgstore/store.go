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
	pool     *pgxpool.Pool
	cfg      Config
	wake     *eventstore.Waker
	notify   *notifier
	instance string // tags this store's NOTIFYs so its own Listen ignores them
}

var (
	_ eventstore.Store = (*Store)(nil)
	_ eventstore.Feed  = (*Store)(nil)
)

// New returns a store on pool with the default Config. The events table must
// have been migrated.
func New(pool *pgxpool.Pool) (*Store, error) { return NewWithConfig(pool, Config{}) }

// NewWithConfig returns a store on pool tuned by cfg (zero fields take their defaults).
func NewWithConfig(pool *pgxpool.Pool, cfg Config) (*Store, error) {
	if pool == nil {
		return nil, errors.New("pgstore: nil pool")
	}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("pgstore config: %w", err)
	}
	return &Store{
		pool:     pool,
		cfg:      cfg,
		wake:     &eventstore.Waker{},
		notify:   newNotifier(),
		instance: uuid.NewString(),
	}, nil
}

// querier is what an append runs on: the pool (its own implicit
// transaction) or a caller's transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Append implements eventstore.Store with one round trip: append_events runs
// in the implicit transaction of a single statement, so it is always the
// first write of its transaction. Feed readers of this store are woken at
// once, other processes through the debounced notifier (see RunNotifier).
func (s *Store) Append(ctx context.Context, stream string, expected int64, events []eventstore.EventData) (eventstore.AppendResult, error) {
	res, err := appendOn(ctx, s.pool, stream, expected, events)
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	s.announce()
	return res, nil
}

// AppendTx appends within the caller's transaction, which must not have
// written anything yet (ErrInvalidAppend otherwise) and must be READ
// COMMITTED. The events become readable when tx commits; until then they
// hold the whole feed back, so commit promptly and call Signal afterwards.
func (s *Store) AppendTx(ctx context.Context, tx pgx.Tx, stream string, expected int64, events []eventstore.EventData) (eventstore.AppendResult, error) {
	return appendOn(ctx, tx, stream, expected, events)
}

func appendOn(ctx context.Context, q querier, stream string, expected int64, events []eventstore.EventData) (eventstore.AppendResult, error) {
	args, err := encodeAppend(stream, expected, events)
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	var (
		res  eventstore.AppendResult
		txid uint64
		pos  int64
	)
	err = q.QueryRow(ctx,
		`SELECT last_version, last_txid::text::bigint, last_position
		   FROM append_events($1, $2, $3, $4, $5, $6::jsonb[], $7::jsonb[])`,
		args...,
	).Scan(&res.NextExpectedVersion, &txid, &pos)
	if err != nil {
		return eventstore.AppendResult{}, mapAppendError(stream, expected, err)
	}
	res.Position = eventstore.Position{Commit: txid, Prepare: uint64(pos)}
	return res, nil
}

// encodeAppend checks an append and returns append_events' arguments.
func encodeAppend(stream string, expected int64, events []eventstore.EventData) ([]any, error) {
	if err := eventstore.ValidateAppend(stream, expected, events); err != nil {
		return nil, err
	}
	ids := make([]uuid.UUID, len(events))
	types := make([]string, len(events))
	data := make([]string, len(events))
	meta := make([]string, len(events))
	now := time.Now()
	for i, ev := range events {
		ids[i], types[i] = ev.ID, ev.Type
		data[i] = string(ev.Data)
		if len(ev.Data) == 0 {
			data[i] = "{}"
		}
		b, err := json.Marshal(eventstore.StampMetadata(ev.Metadata, now))
		if err != nil {
			return nil, fmt.Errorf("append to %s: encode metadata: %w", stream, err)
		}
		meta[i] = string(b)
	}
	return []any{stream, expected, ids, types, events[0].Metadata.TenantID, data, meta}, nil
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
		ORDER BY events.transaction_id, events.global_position -- qualified: the index order, not the bigint output column
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
		ORDER BY events.transaction_id DESC, events.global_position DESC LIMIT 1`).Scan(&txid, &pos)
	if errors.Is(err, pgx.ErrNoRows) {
		return eventstore.Position{}, nil
	}
	if err != nil {
		return eventstore.Position{}, fmt.Errorf("read feed head: %w", err)
	}
	return eventstore.Position{Commit: uint64(txid), Prepare: uint64(pos)}, nil
}

// Wake implements eventstore.Feed: it fires after every append made through
// this store, and for appends of other processes while Listen runs.
func (s *Store) Wake(ctx context.Context) <-chan struct{} { return s.wake.Register(ctx) }

// Signal wakes every feed reader of this store, e.g. when another process
// announced an append or a transaction that held the feed back committed.
func (s *Store) Signal() { s.wake.Signal() }

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
		ev.RecordedAt = eventstore.NormalizeTime(ev.RecordedAt)
		ev.Data = json.RawMessage(data)
		if err := json.Unmarshal(meta, &ev.Metadata); err != nil {
			return nil, fmt.Errorf("decode metadata of %s: %w", ev.ID, err)
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}
