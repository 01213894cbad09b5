package commands

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// queueExecution adds the work row of a new execution (nothing if present).
func queueExecution(ctx context.Context, pool *pgxpool.Pool, executionID, tenantID string) error {
	_, err := pool.Exec(ctx, `INSERT INTO execution_work (execution_id, tenant_id) VALUES ($1, $2)
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
// skipping rows another process is claiming right now.
func claim(ctx context.Context, pool *pgxpool.Pool, owner string, lease time.Duration, n int) ([]claimed, error) {
	rows, err := pool.Query(ctx, `
		UPDATE execution_work w SET owner = $1, lease_until = now() + $2::interval
		WHERE w.execution_id IN (
			SELECT execution_id FROM execution_work
			WHERE due_at <= now() AND (owner IS NULL OR lease_until < now())
			ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED)
		RETURNING w.execution_id, w.tenant_id, w.created_at`, owner, lease.String(), n)
	if err != nil {
		return nil, fmt.Errorf("claim executions: %w", err)
	}
	defer rows.Close()
	var out []claimed
	for rows.Next() {
		var c claimed
		if err := rows.Scan(&c.ExecutionID, &c.TenantID, &c.CreatedAt); err != nil {
			return nil, fmt.Errorf("claim executions: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// renew extends this process's leases on ids and returns those it still holds.
func renew(ctx context.Context, pool *pgxpool.Pool, owner string, lease time.Duration, ids []string) (map[string]bool, error) {
	rows, err := pool.Query(ctx, `UPDATE execution_work SET lease_until = now() + $2::interval
		WHERE owner = $1 AND execution_id = ANY($3) RETURNING execution_id`, owner, lease.String(), ids)
	if err != nil {
		return nil, fmt.Errorf("renew leases: %w", err)
	}
	defer rows.Close()
	held := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("renew leases: %w", err)
		}
		held[id] = true
	}
	return held, rows.Err()
}

// release gives a row back, due again at due (a scheduled retry).
func release(ctx context.Context, pool *pgxpool.Pool, owner, executionID string, due time.Time) error {
	_, err := pool.Exec(ctx, `UPDATE execution_work SET owner = NULL, lease_until = NULL, due_at = $3
		WHERE execution_id = $1 AND owner = $2`, executionID, owner, due)
	if err != nil {
		return fmt.Errorf("release execution %s: %w", executionID, err)
	}
	return nil
}

// finish removes the row of an execution that has ended.
func finish(ctx context.Context, pool *pgxpool.Pool, owner, executionID string) error {
	_, err := pool.Exec(ctx, `DELETE FROM execution_work WHERE execution_id = $1 AND owner = $2`, executionID, owner)
	if err != nil {
		return fmt.Errorf("finish execution %s: %w", executionID, err)
	}
	return nil
}
