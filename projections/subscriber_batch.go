package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/apiq/apiq/adapters/eventstore"
)

// batchOutcome is what became of a batch of events.
type batchOutcome struct {
	// applied counts the events committed with the checkpoint.
	applied int
	// moved: the checkpoint changed under the batch (a rebuild switched over,
	// or another process applied these events); re-read it.
	moved bool
	// err is what stopped the batch short.
	err error
	// event is the event whose handler failed, when one did.
	event *eventstore.RecordedEvent
}

// process applies events in order. A batch first runs pipelined (statements
// queued, no savepoints, one transaction); if anything in it fails, the whole
// transaction is rolled back and the batch is redone one savepoint per
// event, which pins the failure on its event and commits the prefix before
// it. After a failure, the savepoint path is used until the projector has
// made progress again.
func (s *Subscriber) process(ctx context.Context, out chan<- *message.Message, sql checkpointSQL, cur *cursor, events []eventstore.RecordedEvent) batchOutcome {
	if cur.failures == 0 {
		o := s.applyPipelined(ctx, out, sql, cur, events)
		if o.err == nil || o.moved || ctx.Err() != nil {
			return o
		}
		s.logger.Debug("pipelined batch failed; redoing it one savepoint per event", "error", o.err)
	}
	var total batchOutcome
	for len(events) > 0 {
		chunk := events[:min(len(events), maxSavepointsPerTx)]
		o := s.applyWithSavepoints(ctx, out, sql, cur, chunk)
		total.applied += o.applied
		if o.err != nil || o.moved {
			total.err, total.moved, total.event = o.err, o.moved, o.event
			return total
		}
		events = events[len(chunk):]
	}
	return total
}

// applyPipelined applies events in one transaction whose statements are
// sent in as few round trips as possible.
func (s *Subscriber) applyPipelined(ctx context.Context, out chan<- *message.Message, sql checkpointSQL, cur *cursor, events []eventstore.RecordedEvent) batchOutcome {
	started := time.Now()
	tx, err := s.beginTx(ctx)
	if err != nil {
		return batchOutcome{err: err}
	}
	defer rollback(ctx, tx)

	db := newPipelinedDB(tx, pipelineFlushAt)
	moved := false
	// The lock goes first: it orders this transaction after a rebuild's
	// switch-over (or the same projector's transaction in another process).
	db.queue(sql.lock, s.name).QueryRow(func(row pgx.Row) error {
		locked, err := scanLockedCheckpoint(row)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && !s.holds(cur, locked)) {
			moved = true
			return errCheckpointMoved
		}
		return err
	})
	for i := range events {
		if err := s.deliver(ctx, out, &events[i], db); err != nil {
			return batchOutcome{err: err, moved: moved, event: &events[i]}
		}
	}
	commit, prepare, err := positionArgs(events[len(events)-1].Position)
	if err != nil {
		return batchOutcome{err: err}
	}
	db.queue(sql.advance, s.name, commit, prepare).Exec(func(tag pgconn.CommandTag) error {
		if tag.RowsAffected() != 1 {
			moved = true
			return errCheckpointMoved
		}
		return nil
	})
	cctx, cancel := context.WithTimeout(ctx, s.cfg.CommitTimeout)
	defer cancel()
	if err := db.Flush(cctx); err != nil {
		return batchOutcome{err: err, moved: moved}
	}
	if err := tx.Commit(cctx); err != nil {
		return batchOutcome{err: fmt.Errorf("commit batch: %w", err)}
	}
	s.committed(cur, events, started)
	return batchOutcome{applied: len(events)}
}

// savepoint names the savepoint each handler attempt runs under.
const savepoint = "projector_attempt"

// applyWithSavepoints applies at most maxSavepointsPerTx events, each under
// a savepoint, stopping at the first failure. The successful prefix commits
// with its checkpoint; the transaction then ends, so the caller backs off
// with no transaction open.
func (s *Subscriber) applyWithSavepoints(ctx context.Context, out chan<- *message.Message, sql checkpointSQL, cur *cursor, events []eventstore.RecordedEvent) batchOutcome {
	started := time.Now()
	tx, err := s.beginTx(ctx)
	if err != nil {
		return batchOutcome{err: err}
	}
	defer rollback(ctx, tx)

	locked, err := scanLockedCheckpoint(tx.QueryRow(ctx, sql.lock, s.name))
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !s.holds(cur, locked)) {
		return batchOutcome{moved: true}
	}
	if err != nil {
		return batchOutcome{err: fmt.Errorf("lock checkpoint: %w", err)}
	}

	db := directDB{tx: tx}
	applied := 0
	var failure batchOutcome
	for i := range events {
		if _, err := tx.Exec(ctx, "SAVEPOINT "+savepoint); err != nil {
			failure = batchOutcome{err: fmt.Errorf("open savepoint: %w", err)}
			break
		}
		herr := s.deliver(ctx, out, &events[i], db)
		if herr == nil {
			if _, err := tx.Exec(ctx, "RELEASE SAVEPOINT "+savepoint); err != nil {
				// The handler reported success but left the transaction failed.
				herr = fmt.Errorf("projector %s: apply %s %s@%d: finish attempt: %w",
					s.name, events[i].Type, events[i].StreamID, events[i].Version, err)
			}
		}
		if herr != nil {
			failure = batchOutcome{err: herr, event: &events[i]}
			if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT "+savepoint); err != nil {
				// The transaction is lost (e.g. a timed-out handler closed the
				// connection): so is the prefix, which is simply redone.
				failure.err = errors.Join(herr, fmt.Errorf("roll back attempt: %w", err))
				return failure
			}
			break
		}
		applied++
	}
	if applied == 0 {
		return failure
	}
	commit, prepare, err := positionArgs(events[applied-1].Position)
	if err != nil {
		return batchOutcome{err: err}
	}
	cctx, cancel := context.WithTimeout(ctx, s.cfg.CommitTimeout)
	defer cancel()
	if tag, err := tx.Exec(cctx, sql.advance, s.name, commit, prepare); err != nil {
		return batchOutcome{err: fmt.Errorf("advance checkpoint: %w", err)}
	} else if tag.RowsAffected() != 1 {
		return batchOutcome{moved: true}
	}
	if err := tx.Commit(cctx); err != nil {
		return batchOutcome{err: fmt.Errorf("commit batch: %w", err)}
	}
	s.committed(cur, events[:applied], started)
	failure.applied = applied
	return failure
}

// deliver hands one event to the router and waits for its ack or nack. It
// returns the handler's error on a nack. Once a message is handed over it
// always waits for the outcome: the handler uses the transaction until then.
func (s *Subscriber) deliver(ctx context.Context, out chan<- *message.Message, ev *eventstore.RecordedEvent, db DB) error {
	d := &delivery{event: *ev, db: db}
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	msg := newEventMessage(mctx, d)
	select {
	case out <- msg:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-msg.Acked():
		return nil
	case <-msg.Nacked():
		if d.err != nil {
			return d.err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("projector %s: %s %s@%d: %w", s.name, ev.Type, ev.StreamID, ev.Version, errNacked)
	}
}

// beginTx opens a projector transaction: asynchronous commit and the
// projector's schema as search_path.
func (s *Subscriber) beginTx(ctx context.Context) (pgx.Tx, error) {
	bctx, cancel := context.WithTimeout(ctx, s.cfg.CommitTimeout)
	defer cancel()
	tx, err := s.cfg.Pool.BeginTx(bctx, pgx.TxOptions{BeginQuery: s.begin})
	if err != nil {
		return nil, fmt.Errorf("begin projector transaction: %w", err)
	}
	return tx, nil
}

// rollback ends tx if it is still open, even after ctx ended.
func rollback(ctx context.Context, tx pgx.Tx) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	_ = tx.Rollback(rctx) // after a commit: ErrTxClosed; on a dead connection the pool discards it
}
