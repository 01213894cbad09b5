package health

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgresMigrationVersion reads golang-migrate's schema_migrations table
// through pool (no separate connection per probe).
func PostgresMigrationVersion(pool *pgxpool.Pool) MigrationVersion {
	return func(ctx context.Context) (uint, bool, error) {
		var (
			version int64
			dirty   bool
		)
		err := pool.QueryRow(ctx, `SELECT version, dirty FROM schema_migrations LIMIT 1`).Scan(&version, &dirty)
		var pgErr *pgconn.PgError
		switch {
		case errors.Is(err, pgx.ErrNoRows), errors.As(err, &pgErr) && pgErr.Code == "42P01":
			return 0, false, nil
		case err != nil:
			return 0, false, fmt.Errorf("query schema_migrations: %w", err)
		}
		return uint(version), dirty, nil
	}
}
