// Package projections builds PostgreSQL read models from the event feed:
// one projector per read model, driven by a Watermill router with one
// consumer group per projector, and the query functions that read the views.
package projections

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/apiq/apiq/adapters/eventstore"
)

// Projector builds one read model from the feed.
//
// Its tables live in a PostgreSQL schema of their own that the runner
// chooses (live: SchemaName(p); during a rebuild: a fresh one that is
// switched in when complete). The runner sets search_path to that schema
// for every transaction, so Schema and Apply use unqualified table names;
// query functions use the qualified names (SchemaName(p) + ".table").
type Projector interface {
	// Name identifies the projector, its consumer group and its schema
	// (lower-case letters, digits and underscores).
	Name() string
	// Version changes whenever Schema or Apply change meaning; a new version
	// makes the runner rebuild the read model from the events.
	Version() int
	// Schema returns idempotent DDL ("CREATE TABLE IF NOT EXISTS ...")
	// creating the read model's tables in the current schema.
	Schema() string
	// Apply applies one event through db. It must ignore event types it does
	// not handle (returning nil) and be idempotent: an event may be applied
	// again after a crash.
	Apply(ctx context.Context, db DB, ev eventstore.RecordedEvent) error
}

// DB is what a projector writes through: the runner's transaction. Exec calls
// may be queued and sent in batches (live batches and bulk rebuilds), so a
// projector must not depend on Exec having run before its next Query returns
// (Query and QueryRow flush queued statements first), nor on a nil error from
// Exec meaning the statement succeeded: a failure surfaces later and the
// runner then redoes the events one savepoint at a time.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) error
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// SchemaName is the PostgreSQL schema that holds p's live read model.
func SchemaName(p Projector) string { return "rm_" + p.Name() }
