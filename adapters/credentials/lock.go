package credentials

import (
	"context"
	"fmt"
	"time"
)

// lock takes a session-level PostgreSQL advisory lock named name and
// returns its release. A session lock (not a transaction's) because the
// refresh it guards calls the provider, and no outbound call runs inside a
// transaction; a process that dies mid-refresh closes its session, which
// releases the lock. pg_try_advisory_lock is polled so that giving up (ctx)
// never leaves a waiter queued on the server.
func (m *Manager) lock(ctx context.Context, name string) (func(), error) {
	conn, err := m.cfg.DB.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	wait := 5 * time.Millisecond
	for {
		var locked bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended($1, 0))`, name).Scan(&locked); err != nil {
			conn.Release()
			return nil, fmt.Errorf("lock %s: %w", name, err)
		}
		if locked {
			break
		}
		select {
		case <-ctx.Done():
			conn.Release()
			return nil, fmt.Errorf("lock %s: %w", name, context.Cause(ctx))
		case <-time.After(wait):
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
	return func() {
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, name); err != nil {
			// Closing the session is the other way to drop its locks.
			m.cfg.Logger.Warn("advisory unlock failed; closing the session", "lock", name, "error", err)
			_ = conn.Conn().Close(uctx)
		}
		conn.Release()
	}, nil
}
