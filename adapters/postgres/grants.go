package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// GrantAppRole gives role, the service's day-to-day login, what it needs in
// the database ownerPool is connected to, and no more: SELECT on events
// (never INSERT, UPDATE, DELETE or TRUNCATE: appends go through
// append_events, a SECURITY DEFINER function it may EXECUTE), the
// sequences, SELECT on golang-migrate's bookkeeping, full DML on every other
// table of schema public, CREATE on the database (for read-model schemas),
// and default privileges so tables and sequences that ownerPool's role
// creates later (future migrations) are covered too. ownerPool must be the
// role that owns the tables and runs migrations. It is idempotent; when role
// is ownerPool's own role there is nothing to grant and it does nothing (the
// triggers on events still refuse every change).
func GrantAppRole(ctx context.Context, ownerPool *pgxpool.Pool, role string) error {
	if role == "" {
		return errors.New("grant app role: empty role name")
	}
	var exists, self bool
	var database string
	err := ownerPool.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1), $1 = current_user, current_database()`,
		role).Scan(&exists, &self, &database)
	if err != nil {
		return fmt.Errorf("grant app role %s: look up role: %w", role, err)
	}
	if !exists {
		return fmt.Errorf("grant app role %s: no such role", role)
	}
	if self {
		return nil
	}
	r := pgx.Identifier{role}.Sanitize()
	statements := []string{
		"GRANT CONNECT, TEMPORARY, CREATE ON DATABASE " + pgx.Identifier{database}.Sanitize() + " TO " + r,
		"GRANT USAGE ON SCHEMA public TO " + r,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO " + r,
		"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO " + r,
		"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO " + r,
		"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO " + r,
		// The event log is append-only for the service, and appends go only
		// through append_events (SECURITY DEFINER), which takes the stream lock.
		"REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON events FROM " + r,
		"GRANT SELECT ON events TO " + r,
		"GRANT EXECUTE ON FUNCTION append_events(text, bigint, uuid[], text[], text, jsonb[], jsonb[]) TO " + r,
	}
	tx, err := ownerPool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("grant app role %s: %w", role, err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	for _, stmt := range statements {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("grant app role %s: %s: %w", role, stmt, err)
		}
	}
	// Only migrations may move the schema version.
	var migrationsTable bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass('public.schema_migrations') IS NOT NULL`).Scan(&migrationsTable); err != nil {
		return fmt.Errorf("grant app role %s: look up schema_migrations: %w", role, err)
	}
	if migrationsTable {
		if _, err := tx.Exec(ctx, "REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_migrations FROM "+r); err != nil {
			return fmt.Errorf("grant app role %s: protect schema_migrations: %w", role, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("grant app role %s: %w", role, err)
	}
	return nil
}
