// Package migrations embeds the SQL migrations of APIQ's infrastructure
// tables (the event log, checkpoints, keys, idempotency records) so the
// binary can apply them itself. Read models are owned by their projectors.
package migrations

import "embed"

// FS holds the NNNN_name.up.sql / .down.sql files, applied by golang-migrate.
//
//go:embed *.sql
var FS embed.FS
