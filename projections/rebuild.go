package projections

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/apiq/apiq/adapters/eventstore"
)

// rebuildProgressEvery is how often a long rebuild logs its progress.
const rebuildProgressEvery = 10 * time.Second

// Rebuild builds a fresh copy of projector name's read model from the whole
// feed through a bulk path and switches it in:
//
//  1. create a new schema (rm_<name>__rebuild_<random>) and the projector's
//     tables in it;
//  2. read the feed in large pages (the next page is read while the current
//     one is applied) and apply each page in one transaction with pipelined
//     statements and no savepoints; any error aborts the rebuild and drops
//     the new schema, leaving the live read model untouched;
//  3. switch over in one short transaction: lock the projector's checkpoint
//     row (the live runner, here or in another process, cannot commit
//     meanwhile), apply the events that arrived since, rename the live
//     schema away and the new one to the live name, and set the checkpoint
//     to the rebuild's position and the projector's version;
//  4. drop the old schema.
//
// Rebuilds of one projector are serialised by an advisory lock; queries and
// the live runner keep working throughout.
func (r *Runner) Rebuild(ctx context.Context, name string) error {
	p, ok := r.byName[name]
	if !ok {
		return fmt.Errorf("rebuild %s: %w", name, ErrUnknownProjector)
	}
	return r.rebuild(ctx, p, nil)
}

// rebuild rebuilds p; when stillNeeded is set, it is asked again once the
// rebuild lock is held, and a false answer ends the rebuild early.
func (r *Runner) rebuild(ctx context.Context, p Projector, stillNeeded func(context.Context) (bool, error)) error {
	sql, err := r.checkpointSQL(ctx)
	if err != nil {
		return fmt.Errorf("rebuild %s: %w", p.Name(), err)
	}
	rb := &rebuild{pool: r.cfg.Pool, feed: r.cfg.Feed, p: p, sql: sql, pageSize: r.cfg.RebuildPageSize,
		stillNeeded: stillNeeded, logger: r.logger.With("projector", p.Name())}
	pos, err := rb.run(ctx)
	if err != nil {
		return fmt.Errorf("rebuild %s: %w", p.Name(), err)
	}
	r.waiter.Advanced(p.Name(), pos)
	return nil
}

// rebuild is one run of Runner.Rebuild.
type rebuild struct {
	pool     *pgxpool.Pool
	feed     eventstore.Feed
	p        Projector
	sql      checkpointSQL
	pageSize int
	// stillNeeded, when set, is re-checked under the rebuild lock.
	stillNeeded func(context.Context) (bool, error)
	logger      *slog.Logger
}

func (rb *rebuild) run(ctx context.Context) (eventstore.Position, error) {
	// One connection holds the rebuild lock and runs every rebuild
	// transaction; the feed is read on others.
	conn, err := rb.pool.Acquire(ctx)
	if err != nil {
		return eventstore.Position{}, fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Release()
	lockKey := "apiq.projections.rebuild." + rb.p.Name()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtextextended($1, 0))`, lockKey); err != nil {
		return eventstore.Position{}, fmt.Errorf("wait for other rebuilds of %s: %w", rb.p.Name(), err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, lockKey); err != nil {
			// A broken connection released the lock when it closed.
			rb.logger.Warn("could not release the rebuild lock", "error", err)
		}
	}()
	if rb.stillNeeded != nil {
		needed, err := rb.stillNeeded(ctx)
		if err != nil {
			return eventstore.Position{}, err
		}
		if !needed {
			rb.logger.Info("rebuild skipped: another process rebuilt the read model meanwhile")
			return eventstore.Position{}, nil
		}
	}
	if err := rb.dropLeftovers(ctx, conn); err != nil {
		return eventstore.Position{}, err
	}

	suffix, err := randomSuffix()
	if err != nil {
		return eventstore.Position{}, err
	}
	target := SchemaName(rb.p) + "__rebuild_" + suffix
	if err := ensureTables(ctx, conn, rb.p, target); err != nil {
		return eventstore.Position{}, err
	}
	switched := false
	defer func() {
		if !switched {
			rb.dropSchema(ctx, target)
		}
	}()

	started := time.Now()
	rb.logger.Info("rebuild started", "schema", target)
	pos, bulk, err := rb.bulk(ctx, conn, target)
	if err != nil {
		return eventstore.Position{}, err
	}
	pos, caughtUp, err := rb.switchOver(ctx, conn, target, suffix, pos)
	if err != nil {
		return eventstore.Position{}, err
	}
	switched = true
	took := time.Since(started)
	rb.logger.Info("rebuild switched over", "events", bulk+caughtUp, "caught_up_under_lock", caughtUp,
		"position", pos.String(), "took", took.Round(time.Millisecond),
		"events_per_second", int(float64(bulk+caughtUp)/took.Seconds()))
	return pos, nil
}

// feedPage is one page of the feed, or the error reading it.
type feedPage struct {
	events []eventstore.RecordedEvent
	err    error
}

// bulk applies the feed from its start into target until a page comes back
// short (the feed's head at that moment).
func (rb *rebuild) bulk(ctx context.Context, conn *pgxpool.Conn, target string) (eventstore.Position, int, error) {
	rctx, cancel := context.WithCancel(ctx)
	pages := make(chan feedPage, 2)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		defer close(pages)
		rb.readPages(rctx, pages)
	}()
	defer func() {
		cancel()
		<-readerDone
	}()

	begin := projectorBeginSQL(target, 0)
	var (
		pos       eventstore.Position
		applied   int
		lastTold  = time.Now()
		startedAt = time.Now()
	)
	for page := range pages {
		if page.err != nil {
			return pos, applied, page.err
		}
		if len(page.events) == 0 {
			continue
		}
		if err := rb.applyPage(ctx, conn, begin, page.events); err != nil {
			return pos, applied, err
		}
		pos = page.events[len(page.events)-1].Position
		applied += len(page.events)
		if time.Since(lastTold) >= rebuildProgressEvery {
			lastTold = time.Now()
			rb.logger.Info("rebuild progress", "events", applied, "position", pos.String(),
				"events_per_second", int(float64(applied)/time.Since(startedAt).Seconds()))
		}
	}
	if err := ctx.Err(); err != nil {
		return pos, applied, err
	}
	return pos, applied, nil
}

// readPages sends the feed's pages until one comes back short or fails.
func (rb *rebuild) readPages(ctx context.Context, pages chan<- feedPage) {
	var after eventstore.Position
	for {
		events, err := rb.feed.ReadAll(ctx, after, rb.pageSize)
		if err != nil {
			err = fmt.Errorf("read feed: %w", err)
		}
		select {
		case pages <- feedPage{events: events, err: err}:
		case <-ctx.Done():
			return
		}
		if err != nil || len(events) < rb.pageSize {
			return
		}
		after = events[len(events)-1].Position
	}
}

// applyPage applies events into the schema begin selects, in one transaction.
func (rb *rebuild) applyPage(ctx context.Context, conn *pgxpool.Conn, begin string, events []eventstore.RecordedEvent) error {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{BeginQuery: begin})
	if err != nil {
		return fmt.Errorf("begin rebuild transaction: %w", err)
	}
	defer rollback(ctx, tx)
	db := newPipelinedDB(tx, pipelineFlushAt)
	if err := rb.apply(ctx, db, events); err != nil {
		return err
	}
	if err := db.Flush(ctx); err != nil {
		return fmt.Errorf("apply events up to %s: %w", events[len(events)-1].Position, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit rebuild transaction: %w", err)
	}
	return nil
}

func (rb *rebuild) apply(ctx context.Context, db DB, events []eventstore.RecordedEvent) error {
	for i := range events {
		ev := &events[i]
		if err := rb.p.Apply(ctx, db, *ev); err != nil {
			return fmt.Errorf("apply %s %s@%d at %s: %w", ev.Type, ev.StreamID, ev.Version, ev.Position, err)
		}
	}
	return nil
}

// switchOver catches up under the checkpoint lock and makes target the live
// read model. It returns the new checkpoint and how many events it applied.
func (rb *rebuild) switchOver(ctx context.Context, conn *pgxpool.Conn, target, suffix string, pos eventstore.Position) (eventstore.Position, int, error) {
	name, live := rb.p.Name(), SchemaName(rb.p)
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{BeginQuery: "BEGIN; SET LOCAL search_path = " + pgx.Identifier{target}.Sanitize()})
	if err != nil {
		return pos, 0, fmt.Errorf("begin switch-over: %w", err)
	}
	defer rollback(ctx, tx)
	if _, err := tx.Exec(ctx, rb.sql.insert, name, rb.p.Version()); err != nil {
		return pos, 0, fmt.Errorf("create checkpoint: %w", err)
	}
	replaced, err := scanLockedCheckpoint(tx.QueryRow(ctx, rb.sql.lock, name))
	if err != nil {
		return pos, 0, fmt.Errorf("lock checkpoint: %w", err)
	}

	db := newPipelinedDB(tx, pipelineFlushAt)
	caughtUp := 0
	for {
		// Under the lock, events the live runner has applied stay readable,
		// so pos ends at or after the live checkpoint.
		events, err := rb.feed.ReadAll(ctx, pos, rb.pageSize)
		if err != nil {
			return pos, caughtUp, fmt.Errorf("read feed: %w", err)
		}
		if len(events) == 0 {
			break
		}
		if err := rb.apply(ctx, db, events); err != nil {
			return pos, caughtUp, err
		}
		pos = events[len(events)-1].Position
		caughtUp += len(events)
	}
	if err := db.Flush(ctx); err != nil {
		return pos, caughtUp, fmt.Errorf("apply events up to %s: %w", pos, err)
	}

	liveExists, err := schemaExists(ctx, tx, live)
	if err != nil {
		return pos, caughtUp, err
	}
	old := live + "__old_" + suffix
	if liveExists {
		if _, err := tx.Exec(ctx, "ALTER SCHEMA "+pgx.Identifier{live}.Sanitize()+" RENAME TO "+pgx.Identifier{old}.Sanitize()); err != nil {
			return pos, caughtUp, fmt.Errorf("retire live schema: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, "ALTER SCHEMA "+pgx.Identifier{target}.Sanitize()+" RENAME TO "+pgx.Identifier{live}.Sanitize()); err != nil {
		return pos, caughtUp, fmt.Errorf("promote rebuilt schema: %w", err)
	}
	commit, prepare, err := positionArgs(pos)
	if err != nil {
		return pos, caughtUp, err
	}
	if _, err := tx.Exec(ctx, rb.sql.switchOver, name, rb.p.Version(), commit, prepare); err != nil {
		return pos, caughtUp, fmt.Errorf("set checkpoint: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return pos, caughtUp, fmt.Errorf("commit switch-over: %w", err)
	}
	rb.logger.Info("rebuilt read model is live", "replaced_version", replaced.Version,
		"replaced_position", replaced.Position.String(), "version", rb.p.Version(), "position", pos.String())
	if liveExists {
		rb.dropSchema(ctx, old)
	}
	return pos, caughtUp, nil
}

// dropLeftovers drops the schemas of rebuilds that crashed before
// finishing; the rebuild lock guarantees none of them is in use.
func (rb *rebuild) dropLeftovers(ctx context.Context, conn *pgxpool.Conn) error {
	rows, err := conn.Query(ctx, `SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)`,
		SchemaName(rb.p)+"__")
	if err != nil {
		return fmt.Errorf("find leftover rebuild schemas: %w", err)
	}
	leftovers, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("find leftover rebuild schemas: %w", err)
	}
	for _, schema := range leftovers {
		rb.logger.Info("dropping leftover schema of an unfinished rebuild", "schema", schema)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			return fmt.Errorf("drop leftover schema %s: %w", schema, err)
		}
	}
	return nil
}

// dropSchema drops a schema that is no longer needed, even after ctx ended
// (on a fresh connection: the rebuild's may have died with ctx). A failure
// only leaves a schema for the next rebuild to drop.
func (rb *rebuild) dropSchema(ctx context.Context, schema string) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if _, err := rb.pool.Exec(dctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		rb.logger.Warn("could not drop schema; the next rebuild drops it", "schema", schema, "error", err)
	}
}

func randomSuffix() (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random schema suffix: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
