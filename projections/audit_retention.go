package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// auditPruneBatch is how many audit rows one pruning transaction deletes.
const auditPruneBatch = 5000

// AuditPruned is what pruning did to one tenant's audit rows.
type AuditPruned struct {
	TenantID string
	// Mark is the tenant's retention mark afterwards: the rows of chain
	// places 1..Mark are gone from the read model.
	Mark int64
	// Deleted counts the rows deleted now.
	Deleted int64
}

// auditMark is a tenant's retention mark: rows up to Seq were pruned, each
// of an event recorded before Before.
type auditMark struct {
	Seq    int64
	Before time.Time
}

// PruneAuditRows applies retention to the audit read model: for every
// tenant it deletes the longest prefix of its chain's rows whose events
// were recorded before before (a later row ends the prefix, so the rows
// kept stay contiguous), a batch per transaction, moving the tenant's mark
// in audit_retention with each batch. Rows a rebuild recreated below a mark
// are deleted again when they are past retention (after retention was
// lengthened they stay). Events, chain heads and signed heads are never
// touched: verification still recomputes every chain from the events.
func PruneAuditRows(ctx context.Context, pool *pgxpool.Pool, before time.Time) ([]AuditPruned, error) {
	rows, err := pool.Query(ctx, `SELECT tenant_id FROM `+AuditHeadsTable()+` ORDER BY tenant_id`)
	var tenants []string
	if err == nil {
		tenants, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if isUndefinedTable(err) {
		return nil, nil // the audit read model is not built yet
	}
	if err != nil {
		return nil, fmt.Errorf("prune audit rows: list tenants: %w", err)
	}
	var out []AuditPruned
	for _, tenant := range tenants {
		p, err := pruneTenant(ctx, pool, tenant, before)
		if err != nil {
			return out, fmt.Errorf("prune audit rows of %q: %w", tenant, err)
		}
		if p.Deleted > 0 {
			out = append(out, p)
		}
	}
	return out, nil
}

func pruneTenant(ctx context.Context, pool *pgxpool.Pool, tenant string, before time.Time) (AuditPruned, error) {
	p := AuditPruned{TenantID: tenant}
	mark, err := readAuditMark(ctx, pool, tenant)
	if err != nil {
		return p, err
	}
	// The end of the prefix: the row before the first one recorded at or
	// after before, else the last row.
	var firstKept, last *int64
	if err := pool.QueryRow(ctx, `SELECT (SELECT seq FROM `+AuditEventsTable()+`
		 WHERE tenant_id = $1 AND seq > $2 AND recorded_at >= $3 ORDER BY seq LIMIT 1),
		(SELECT max(seq) FROM `+AuditEventsTable()+` WHERE tenant_id = $1)`, tenant, mark.Seq, before).
		Scan(&firstKept, &last); err != nil {
		return p, err
	}
	end := mark.Seq
	switch {
	case firstKept != nil:
		end = max(end, *firstKept-1)
	case last != nil:
		end = max(end, *last)
	}
	// Rows a rebuild recreated below the mark go first.
	var lowest *int64
	if err := pool.QueryRow(ctx, `SELECT min(seq) FROM `+AuditEventsTable()+` WHERE tenant_id = $1 AND seq <= $2`,
		tenant, mark.Seq).Scan(&lowest); err != nil {
		return p, err
	}
	from := mark.Seq
	if lowest != nil {
		from = *lowest - 1
	}
	for lo := from; lo < end; lo += auditPruneBatch {
		hi := min(lo+auditPruneBatch, end)
		n, err := pruneBatch(ctx, pool, tenant, lo, hi, before)
		if err != nil {
			return p, err
		}
		p.Deleted += n
	}
	p.Mark = end
	return p, nil
}

// pruneBatch deletes the tenant's rows of chain places (lo, hi] and moves
// its mark to hi (if it is below), in one transaction.
func pruneBatch(ctx context.Context, pool *pgxpool.Pool, tenant string, lo, hi int64, before time.Time) (int64, error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer rollback(ctx, tx)
	// Only rows recorded before before go: a row below the mark that a
	// rebuild recreated after retention was lengthened stays.
	tag, err := tx.Exec(ctx, `DELETE FROM `+AuditEventsTable()+`
		WHERE tenant_id = $1 AND seq > $2 AND seq <= $3 AND recorded_at < $4`, tenant, lo, hi, before)
	if err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO audit_retention AS r (tenant_id, pruned_seq, pruned_before) VALUES ($1, $2, $3)
		ON CONFLICT (tenant_id) DO UPDATE
		   SET pruned_seq = greatest(r.pruned_seq, excluded.pruned_seq),
		       pruned_before = greatest(r.pruned_before, excluded.pruned_before), pruned_at = now()`,
		tenant, hi, before); err != nil {
		return 0, err
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// auditMarkQuerier reads a retention mark (a pool or a transaction).
type auditMarkQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// readAuditMark returns the tenant's retention mark (zero when none).
func readAuditMark(ctx context.Context, q auditMarkQuerier, tenant string) (auditMark, error) {
	var m auditMark
	err := q.QueryRow(ctx, `SELECT pruned_seq, pruned_before FROM audit_retention WHERE tenant_id = $1`, tenant).
		Scan(&m.Seq, &m.Before)
	if errors.Is(err, pgx.ErrNoRows) {
		return auditMark{}, nil
	}
	if err != nil {
		return auditMark{}, fmt.Errorf("read the audit retention mark of %q: %w", tenant, err)
	}
	return m, nil
}

// RunAuditRetention prunes the audit rows recorded more than retention ago
// (PruneAuditRows) every interval until ctx ends; a failed round is logged
// and retried at the next tick. It does nothing when retention is zero
// (keep forever).
func RunAuditRetention(ctx context.Context, pool *pgxpool.Pool, retention, interval time.Duration, logger *slog.Logger) error {
	if retention <= 0 {
		return nil
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		pruned, err := PruneAuditRows(ctx, pool, time.Now().Add(-retention))
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Warn("could not prune the audit read model", slog.String("error", err.Error()))
		case err == nil:
			for _, p := range pruned {
				logger.Info("audit rows past retention pruned (their events stay)", slog.String("tenant_id", p.TenantID),
					slog.Int64("deleted", p.Deleted), slog.Int64("pruned_up_to", p.Mark))
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
