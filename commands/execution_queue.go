package commands

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/apiq/apiq/domain/execution"
)

// The work table is bookkeeping, not a record: the execution streams are
// the source of truth. Its statements therefore commit with
// synchronous_commit off (one round trip each, no wait for the WAL
// flush): a change lost to a database crash is harmless. A lost insert is
// flushed by the start's own (durable) append that follows it on the same
// WAL; a lost claim, renewal or release only leaves a row to be claimed
// again, whose stream says where the execution stands; a lost delete
// leaves a row whose stream has ended, finished again by its next claimer.

// workExec runs one work-table statement in an implicit transaction that
// commits without waiting for the WAL flush.
func workExec(ctx context.Context, pool *pgxpool.Pool, sql string, args ...any) error {
	b := &pgx.Batch{}
	b.Queue(`SELECT set_config('synchronous_commit', 'off', true)`)
	b.Queue(sql, args...)
	return pool.SendBatch(ctx, b).Close()
}

// workQuery is workExec for a statement returning execution ids and
// more: scan is called once per row.
func workQuery(ctx context.Context, pool *pgxpool.Pool, scan func(pgx.Rows) error, sql string, args ...any) error {
	b := &pgx.Batch{}
	b.Queue(`SELECT set_config('synchronous_commit', 'off', true)`)
	b.Queue(sql, args...)
	br := pool.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		return err
	}
	rows, err := br.Query()
	if err != nil {
		_ = br.Close()
		return err
	}
	for rows.Next() {
		if err := scan(rows); err != nil {
			rows.Close()
			_ = br.Close()
			return err
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		_ = br.Close()
		return err
	}
	return br.Close()
}

// queueExecution adds the work row of a new execution (nothing if present).
func queueExecution(ctx context.Context, pool *pgxpool.Pool, executionID, tenantID string) error {
	err := workExec(ctx, pool, `INSERT INTO execution_work (execution_id, tenant_id) VALUES ($1, $2)
		ON CONFLICT (execution_id) DO NOTHING`, executionID, tenantID)
	if err != nil {
		return fmt.Errorf("queue execution %s: %w", executionID, err)
	}
	return nil
}

// claimed is one work row this process now holds.
type claimed struct {
	ExecutionID string
	TenantID    string
	CreatedAt   time.Time
}

// claim takes up to n due rows nobody holds (or whose lease expired),
// skipping rows another process is claiming right now. A row whose stream
// is not there yet (its start has queued it but not appended) waits until
// the stream is, or until it is orphanAge old and is dropped.
func claim(ctx context.Context, pool *pgxpool.Pool, owner string, lease time.Duration, n int) ([]claimed, error) {
	var out []claimed
	err := workQuery(ctx, pool, func(rows pgx.Rows) error {
		var c claimed
		if err := rows.Scan(&c.ExecutionID, &c.TenantID, &c.CreatedAt); err != nil {
			return err
		}
		out = append(out, c)
		return nil
	}, `
		UPDATE execution_work w SET owner = $1, lease_until = now() + $2::interval
		WHERE w.execution_id IN (
			SELECT x.execution_id FROM execution_work x
			WHERE x.due_at <= now() AND (x.owner IS NULL OR x.lease_until < now())
			  AND (x.created_at < now() - $4::interval OR EXISTS (
				SELECT 1 FROM events e WHERE e.stream_id = $5 || x.execution_id AND e.stream_version = 0))
			ORDER BY x.due_at LIMIT $3 FOR UPDATE SKIP LOCKED)
		RETURNING w.execution_id, w.tenant_id, w.created_at`,
		owner, lease.String(), n, orphanAge.String(), execution.StreamPrefix)
	if err != nil {
		return nil, fmt.Errorf("claim executions: %w", err)
	}
	return out, nil
}

// renew extends this process's leases on ids and returns those it still holds.
func renew(ctx context.Context, pool *pgxpool.Pool, owner string, lease time.Duration, ids []string) (map[string]bool, error) {
	held := map[string]bool{}
	err := workQuery(ctx, pool, func(rows pgx.Rows) error {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		held[id] = true
		return nil
	}, `UPDATE execution_work SET lease_until = now() + $2::interval
		WHERE owner = $1 AND execution_id = ANY($3) RETURNING execution_id`, owner, lease.String(), ids)
	if err != nil {
		return nil, fmt.Errorf("renew leases: %w", err)
	}
	return held, nil
}

// release gives a row back, due again at due (a scheduled retry).
func release(ctx context.Context, pool *pgxpool.Pool, owner, executionID string, due time.Time) error {
	err := workExec(ctx, pool, `UPDATE execution_work SET owner = NULL, lease_until = NULL, due_at = $3
		WHERE execution_id = $1 AND owner = $2`, executionID, owner, due)
	if err != nil {
		return fmt.Errorf("release execution %s: %w", executionID, err)
	}
	return nil
}

// finish removes the row of an execution that has ended.
func finish(ctx context.Context, pool *pgxpool.Pool, owner, executionID string) error {
	err := workExec(ctx, pool, `DELETE FROM execution_work WHERE execution_id = $1 AND owner = $2`, executionID, owner)
	if err != nil {
		return fmt.Errorf("finish execution %s: %w", executionID, err)
	}
	return nil
}
