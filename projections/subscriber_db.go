package projections

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// directDB runs every statement at once in its transaction: the path where
// each handler attempt runs under a savepoint.
type directDB struct{ tx pgx.Tx }

func (d directDB) Exec(ctx context.Context, sql string, args ...any) error {
	_, err := d.tx.Exec(ctx, sql, args...)
	return err
}

func (d directDB) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return d.tx.Query(ctx, sql, args...)
}

func (d directDB) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return d.tx.QueryRow(ctx, sql, args...)
}

// pipelinedDB queues Exec statements and sends them to the server in batches
// (one round trip per batch). Query and QueryRow flush the queue first, so a
// projector reads its own writes. A statement's error surfaces at the flush
// that sends it, possibly during a later event's Apply: callers that need to
// know which event failed redo the work with savepoints.
type pipelinedDB struct {
	tx    pgx.Tx
	batch *pgx.Batch
	// flushAt is the queue length that triggers a flush.
	flushAt int
	// err is the first flush failure; the transaction is unusable after it.
	err error
}

func newPipelinedDB(tx pgx.Tx, flushAt int) *pipelinedDB {
	return &pipelinedDB{tx: tx, batch: &pgx.Batch{}, flushAt: flushAt}
}

// queue adds a statement whose result the caller inspects through the
// returned QueuedQuery's callbacks.
func (p *pipelinedDB) queue(sql string, args ...any) *pgx.QueuedQuery {
	return p.batch.Queue(sql, args...)
}

func (p *pipelinedDB) Exec(ctx context.Context, sql string, args ...any) error {
	if p.err != nil {
		return p.err
	}
	p.batch.Queue(sql, args...)
	if p.batch.Len() >= p.flushAt {
		return p.Flush(ctx)
	}
	return nil
}

func (p *pipelinedDB) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := p.Flush(ctx); err != nil {
		return nil, err
	}
	return p.tx.Query(ctx, sql, args...)
}

func (p *pipelinedDB) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if err := p.Flush(ctx); err != nil {
		return errRow{err: err}
	}
	return p.tx.QueryRow(ctx, sql, args...)
}

// Flush sends the queued statements and runs their callbacks.
func (p *pipelinedDB) Flush(ctx context.Context) error {
	if p.err != nil {
		return p.err
	}
	if p.batch.Len() == 0 {
		return nil
	}
	b := p.batch
	p.batch = &pgx.Batch{}
	if err := p.tx.SendBatch(ctx, b).Close(); err != nil {
		p.err = fmt.Errorf("send %d queued statements: %w", b.Len(), err)
		return p.err
	}
	return nil
}

// errRow is a pgx.Row whose Scan reports an earlier failure.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
