package projections

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/apiq/apiq/adapters/eventstore"
)

// Checkpoint statuses, as stored in projection_checkpoints.status and
// reported by Status.
const (
	// StatusRunning: the projector is applying events (it may be retrying).
	StatusRunning = "running"
	// StatusStalled: the projector failed repeatedly at one event and keeps
	// retrying it with capped backoff; it never skips.
	StatusStalled = "stalled"
	// StatusNew: the projector has no checkpoint yet (Status only).
	StatusNew = "new"
)

// maxErrorLength bounds last_error: a stack trace from a recovered panic
// must not bloat the checkpoint row.
const maxErrorLength = 2000

// errCheckpointMoved means another writer (a rebuild switching over, or the
// same projector in another process) changed the checkpoint since it was
// read: the batch is rolled back and the checkpoint re-read.
var errCheckpointMoved = errors.New("checkpoint changed by another writer")

// querier is what checkpoint statements run on: a pool, a connection or a
// transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// checkpoint is a projector's row in projection_checkpoints.
type checkpoint struct {
	Version int
	// Generation counts rebuild switch-overs of the read model.
	Generation int64
	Position   eventstore.Position
	Status     string
	Failures   int
	LastError  string
	UpdatedAt  time.Time
}

// checkpointSQL holds the checkpoint statements for one table name. Projector
// transactions set their own search_path, so the table is always named with
// its schema (see resolveCheckpointTable).
type checkpointSQL struct {
	load, insert, lock, advance, failure, switchOver string
}

func newCheckpointSQL(table string) checkpointSQL {
	return checkpointSQL{
		load: `SELECT version, generation, commit_position, prepare_position, status, failures,
		              coalesce(last_error, ''), updated_at
		         FROM ` + table + ` WHERE projector = $1`,
		insert: `INSERT INTO ` + table + ` (projector, version) VALUES ($1, $2)
		         ON CONFLICT (projector) DO NOTHING`,
		lock: `SELECT version, generation, commit_position, prepare_position
		         FROM ` + table + ` WHERE projector = $1 FOR UPDATE`,
		advance: `UPDATE ` + table + `
		             SET commit_position = $2, prepare_position = $3, status = 'running',
		                 failures = 0, last_error = NULL, updated_at = now()
		           WHERE projector = $1`,
		failure: `UPDATE ` + table + `
		             SET failures = $2, status = $3, last_error = $4, updated_at = now()
		           WHERE projector = $1`,
		switchOver: `UPDATE ` + table + `
		                SET version = $2, generation = generation + 1,
		                    commit_position = $3, prepare_position = $4,
		                    status = 'running', failures = 0, last_error = NULL, updated_at = now()
		              WHERE projector = $1`,
	}
}

// resolveCheckpointTable returns projection_checkpoints qualified with the
// schema the migrations created it in (normally "public").
func resolveCheckpointTable(ctx context.Context, q querier) (string, error) {
	var schema string
	err := q.QueryRow(ctx, `
		SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		 WHERE c.oid = to_regclass('projection_checkpoints')`).Scan(&schema)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", errors.New("table projection_checkpoints not found: run the migrations (apiq migrate up)")
	}
	if err != nil {
		return "", fmt.Errorf("find projection_checkpoints: %w", err)
	}
	return pgx.Identifier{schema, "projection_checkpoints"}.Sanitize(), nil
}

// loadCheckpoint reads a projector's checkpoint; found is false when it has none.
func loadCheckpoint(ctx context.Context, q querier, sql checkpointSQL, name string) (cp checkpoint, found bool, err error) {
	var commit, prepare int64
	err = q.QueryRow(ctx, sql.load, name).Scan(&cp.Version, &cp.Generation, &commit, &prepare, &cp.Status,
		&cp.Failures, &cp.LastError, &cp.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return checkpoint{}, false, nil
	}
	if err != nil {
		return checkpoint{}, false, fmt.Errorf("load checkpoint of %s: %w", name, err)
	}
	cp.Position = eventstore.Position{Commit: uint64(commit), Prepare: uint64(prepare)}
	return cp, true, nil
}

// positionArgs converts a position to the checkpoint table's bigint columns.
func positionArgs(p eventstore.Position) (commit, prepare int64, err error) {
	if p.Commit > math.MaxInt64 || p.Prepare > math.MaxInt64 {
		return 0, 0, fmt.Errorf("position %s does not fit a checkpoint", p)
	}
	return int64(p.Commit), int64(p.Prepare), nil
}

// scanLockedCheckpoint reads the row returned by checkpointSQL.lock; only
// Version, Generation and Position are set.
func scanLockedCheckpoint(row pgx.Row) (checkpoint, error) {
	var (
		cp              checkpoint
		commit, prepare int64
	)
	if err := row.Scan(&cp.Version, &cp.Generation, &commit, &prepare); err != nil {
		return checkpoint{}, err
	}
	cp.Position = eventstore.Position{Commit: uint64(commit), Prepare: uint64(prepare)}
	return cp, nil
}

// truncateError keeps last_error readable and bounded.
func truncateError(err error) string {
	s := err.Error()
	if len(s) > maxErrorLength {
		s = strings.ToValidUTF8(s[:maxErrorLength], "") + "…"
	}
	return s
}
