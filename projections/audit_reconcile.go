package projections

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/apiq/apiq/adapters/eventstore"
)

// maxReconcileExamples is how many differing rows per table and side a
// reconciliation names (by primary key, never by content: read models hold
// personal data).
const maxReconcileExamples = 3

// ReconcileResult compares one projector's live read model with a fresh
// rebuild from the events up to the same position.
type ReconcileResult struct {
	Projector string
	// Position is the live checkpoint both sides were compared at.
	Position eventstore.Position
	// NotBuilt is set when the live read model has never been built.
	NotBuilt bool
	// LiveVersion is the live read model's version; the rebuild uses the
	// code's version (Differs reports a mismatch).
	LiveVersion, CodeVersion int
	Tables                   []TableDifference
}

// TableDifference compares one table of both sides.
type TableDifference struct {
	Table string
	// MissingLive and MissingRebuilt are set when the table exists on one side only.
	MissingLive, MissingRebuilt bool
	LiveRows, RebuiltRows       int64
	// OnlyLive and OnlyRebuilt count the rows found on one side only
	// (a changed row counts on both).
	OnlyLive, OnlyRebuilt int64
	// ExamplesLive and ExamplesRebuilt are primary keys of such rows.
	ExamplesLive, ExamplesRebuilt []string
}

// Differs reports whether the table differs between the sides.
func (d TableDifference) Differs() bool {
	return d.MissingLive || d.MissingRebuilt || d.OnlyLive > 0 || d.OnlyRebuilt > 0
}

// Differs reports whether the live read model differs from the rebuild.
func (r ReconcileResult) Differs() bool {
	if r.NotBuilt || r.LiveVersion != r.CodeVersion {
		return true
	}
	for _, t := range r.Tables {
		if t.Differs() {
			return true
		}
	}
	return false
}

// Reconcile rebuilds each named projector (every projector when none is
// named) from the events into a scratch schema, up to the position its live
// read model has reached, and compares the two table by table, row by row.
// The live side is read in one snapshot taken with its checkpoint, so the
// live runner keeps going meanwhile; nothing is locked, and the scratch
// schemas are dropped afterwards.
func (r *Runner) Reconcile(ctx context.Context, names ...string) ([]ReconcileResult, error) {
	projectors := r.cfg.Projectors
	if len(names) > 0 {
		projectors = nil
		for _, name := range names {
			p, ok := r.byName[name]
			if !ok {
				return nil, fmt.Errorf("reconcile %s: %w", name, ErrUnknownProjector)
			}
			projectors = append(projectors, p)
		}
	}
	sql, err := r.checkpointSQL(ctx)
	if err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	var out []ReconcileResult
	for _, p := range projectors {
		res, err := r.reconcile(ctx, p, sql)
		if err != nil {
			return out, fmt.Errorf("reconcile %s: %w", p.Name(), err)
		}
		out = append(out, res)
	}
	return out, nil
}

func (r *Runner) reconcile(ctx context.Context, p Projector, sql checkpointSQL) (ReconcileResult, error) {
	res := ReconcileResult{Projector: p.Name(), CodeVersion: p.Version()}
	live, err := r.cfg.Pool.Acquire(ctx)
	if err != nil {
		return res, err
	}
	defer live.Release()
	snap, err := live.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return res, err
	}
	defer rollback(ctx, snap)
	// The snapshot waits while the scratch copy is built.
	if _, err := snap.Exec(ctx, `SET LOCAL idle_in_transaction_session_timeout = 0`); err != nil {
		return res, err
	}
	cp, found, err := loadCheckpoint(ctx, snap, sql, p.Name())
	if err != nil {
		return res, err
	}
	liveSchema := SchemaName(p)
	exists, err := schemaExists(ctx, snap, liveSchema)
	if err != nil {
		return res, err
	}
	if !found || !exists {
		res.NotBuilt = true
		return res, nil
	}
	res.Position, res.LiveVersion = cp.Position, cp.Version

	suffix, err := randomSuffix()
	if err != nil {
		return res, err
	}
	// Not "rm_<name>__…": a rebuild drops those as leftovers of its own.
	scratch := "reconcile_" + p.Name() + "_" + suffix
	defer func() {
		rb := &rebuild{pool: r.cfg.Pool, logger: r.logger}
		rb.dropSchema(ctx, scratch)
	}()
	if err := ensureTables(ctx, r.cfg.Pool, p, scratch); err != nil {
		return res, err
	}
	if err := r.applyUpTo(ctx, p, scratch, cp.Position); err != nil {
		return res, err
	}
	if p.Name() == AuditProjectorName {
		if err := pruneLikeLive(ctx, snap, r.cfg.Pool, liveSchema, scratch); err != nil {
			return res, err
		}
	}
	tables, err := tablesOf(ctx, snap, r.cfg.Pool, liveSchema, scratch)
	if err != nil {
		return res, err
	}
	for _, t := range tables {
		d, err := compareTable(ctx, snap, r.cfg.Pool, liveSchema, scratch, t)
		if err != nil {
			return res, err
		}
		res.Tables = append(res.Tables, d)
	}
	return res, nil
}

// applyUpTo applies the feed from its start through position upTo into schema.
func (r *Runner) applyUpTo(ctx context.Context, p Projector, schema string, upTo eventstore.Position) error {
	begin := projectorBeginSQL(schema, 0)
	var after eventstore.Position
	for after.Compare(upTo) < 0 {
		events, err := r.cfg.Feed.ReadAll(ctx, after, r.cfg.RebuildPageSize)
		if err != nil {
			return fmt.Errorf("read feed: %w", err)
		}
		n := len(events)
		for n > 0 && events[n-1].Position.Compare(upTo) > 0 {
			n--
		}
		if n == 0 {
			if len(events) == 0 {
				return fmt.Errorf("the feed ends at %s, before the live checkpoint %s", after, upTo)
			}
			return nil
		}
		tx, err := r.cfg.Pool.BeginTx(ctx, pgx.TxOptions{BeginQuery: begin})
		if err != nil {
			return err
		}
		db := newPipelinedDB(tx, pipelineFlushAt)
		for _, ev := range events[:n] {
			if err := p.Apply(ctx, db, ev); err != nil {
				rollback(ctx, tx)
				return fmt.Errorf("apply %s %s@%d: %w", ev.Type, ev.StreamID, ev.Version, err)
			}
		}
		if err := db.Flush(ctx); err != nil {
			rollback(ctx, tx)
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
		after = events[n-1].Position
		if n < len(events) {
			return nil
		}
	}
	return nil
}

// tableQuerier is the snapshot transaction or the pool.
type tableQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// tablesOf lists the tables of both schemas (live read in the snapshot).
func tablesOf(ctx context.Context, snap pgx.Tx, pool *pgxpool.Pool, live, scratch string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, side := range []struct {
		q      tableQuerier
		schema string
	}{{snap, live}, {pool, scratch}} {
		rows, err := side.q.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename`, side.schema)
		if err != nil {
			return nil, fmt.Errorf("list tables of %s: %w", side.schema, err)
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, fmt.Errorf("list tables of %s: %w", side.schema, err)
		}
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	return out, nil
}

// rowDigests streams a table's rows as (md5 of the row's text, primary
// key), ordered by digest in byte order.
func rowDigests(ctx context.Context, q tableQuerier, schema, table string) (pgx.Rows, bool, error) {
	qualified := pgx.Identifier{schema, table}.Sanitize()
	rows, err := q.Query(ctx, `
		SELECT a.attname FROM pg_index i
		  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
		 WHERE i.indrelid = to_regclass($1) AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)`, qualified)
	if err != nil {
		return nil, false, fmt.Errorf("primary key of %s: %w", qualified, err)
	}
	pk, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, false, fmt.Errorf("primary key of %s: %w", qualified, err)
	}
	var exists bool
	if err := rowOf(ctx, q, `SELECT to_regclass($1) IS NOT NULL`, qualified).Scan(&exists); err != nil || !exists {
		return nil, false, err
	}
	key := "''"
	if len(pk) > 0 {
		cols := make([]string, len(pk))
		for i, c := range pk {
			cols[i] = "t." + pgx.Identifier{c}.Sanitize()
		}
		key = "ROW(" + strings.Join(cols, ", ") + ")::text"
	}
	rows, err = q.Query(ctx, `SELECT md5(t::text) COLLATE "C" AS digest, `+key+` FROM `+qualified+` t ORDER BY 1`)
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", qualified, err)
	}
	return rows, true, nil
}

func rowOf(ctx context.Context, q tableQuerier, sql string, args ...any) pgx.Row {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return errRow{err: err}
	}
	return singleRow{rows}
}

// singleRow reads the first row of rows and closes them.
type singleRow struct{ rows pgx.Rows }

func (r singleRow) Scan(dest ...any) error {
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	r.rows.Close()
	return r.rows.Err()
}

// compareTable merges both sides' digest streams.
func compareTable(ctx context.Context, snap pgx.Tx, pool *pgxpool.Pool, live, scratch, table string) (TableDifference, error) {
	d := TableDifference{Table: table}
	liveRows, liveOK, err := rowDigests(ctx, snap, live, table)
	if err != nil {
		return d, err
	}
	if liveOK {
		defer liveRows.Close()
	}
	rebuiltRows, rebuiltOK, err := rowDigests(ctx, pool, scratch, table)
	if err != nil {
		return d, err
	}
	if rebuiltOK {
		defer rebuiltRows.Close()
	}
	d.MissingLive, d.MissingRebuilt = !liveOK, !rebuiltOK
	next := func(rows pgx.Rows, ok bool, count *int64) (digest, key string, more bool, err error) {
		if !ok || !rows.Next() {
			if ok {
				err = rows.Err()
			}
			return "", "", false, err
		}
		*count++
		err = rows.Scan(&digest, &key)
		return digest, key, err == nil, err
	}
	lDigest, lKey, lMore, err := next(liveRows, liveOK, &d.LiveRows)
	if err != nil {
		return d, err
	}
	rDigest, rKey, rMore, err := next(rebuiltRows, rebuiltOK, &d.RebuiltRows)
	if err != nil {
		return d, err
	}
	for lMore || rMore {
		switch {
		case lMore && rMore && lDigest == rDigest:
			if lDigest, lKey, lMore, err = next(liveRows, liveOK, &d.LiveRows); err != nil {
				return d, err
			}
			if rDigest, rKey, rMore, err = next(rebuiltRows, rebuiltOK, &d.RebuiltRows); err != nil {
				return d, err
			}
		case lMore && (!rMore || lDigest < rDigest):
			d.OnlyLive++
			if len(d.ExamplesLive) < maxReconcileExamples {
				d.ExamplesLive = append(d.ExamplesLive, lKey)
			}
			if lDigest, lKey, lMore, err = next(liveRows, liveOK, &d.LiveRows); err != nil {
				return d, err
			}
		default:
			d.OnlyRebuilt++
			if len(d.ExamplesRebuilt) < maxReconcileExamples {
				d.ExamplesRebuilt = append(d.ExamplesRebuilt, rKey)
			}
			if rDigest, rKey, rMore, err = next(rebuiltRows, rebuiltOK, &d.RebuiltRows); err != nil {
				return d, err
			}
		}
	}
	return d, nil
}

// pruneLikeLive removes from the rebuilt audit rows those retention pruned
// from the live ones: below each tenant's mark (read in the live
// snapshot), the rows the live side no longer holds.
func pruneLikeLive(ctx context.Context, snap pgx.Tx, pool *pgxpool.Pool, live, scratch string) error {
	rows, err := snap.Query(ctx, `SELECT tenant_id, pruned_seq FROM audit_retention ORDER BY tenant_id`)
	if err != nil {
		return fmt.Errorf("read audit retention marks: %w", err)
	}
	marks := map[string]int64{}
	var (
		tenant string
		seq    int64
	)
	_, err = pgx.ForEachRow(rows, []any{&tenant, &seq}, func() error { marks[tenant] = seq; return nil })
	if err != nil {
		return fmt.Errorf("read audit retention marks: %w", err)
	}
	liveTable := pgx.Identifier{live, "audit_events"}.Sanitize()
	for tenant, mark := range marks {
		rows, err := snap.Query(ctx, `SELECT seq FROM `+liveTable+` WHERE tenant_id = $1 AND seq <= $2`, tenant, mark)
		if err != nil {
			return fmt.Errorf("read live audit rows below the retention mark: %w", err)
		}
		kept, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("read live audit rows below the retention mark: %w", err)
		}
		if _, err := pool.Exec(ctx, `DELETE FROM `+pgx.Identifier{scratch, "audit_events"}.Sanitize()+`
			WHERE tenant_id = $1 AND seq <= $2 AND seq <> ALL ($3::bigint[])`, tenant, mark, kept); err != nil {
			return fmt.Errorf("prune the rebuilt audit rows: %w", err)
		}
	}
	return nil
}
