package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/postgres/pgtest"
)

// recoverySQL is the logical-restore recovery script of docs/operations.md,
// as written there.
func recoverySQL(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/operations.md")
	require.NoError(t, err)
	_, after, found := strings.Cut(string(doc), "<!-- recovery-sql:")
	require.True(t, found, "docs/operations.md has no recovery-sql block")
	_, block, found := strings.Cut(after, "```sql\n")
	require.True(t, found)
	sql, _, found := strings.Cut(block, "```")
	require.True(t, found)
	return sql
}

// emptyDatabase creates a database without any table, dropped when the test ends.
func emptyDatabase(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, pgtest.AdminURL())
	require.NoError(t, err)
	defer admin.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "apiq_restore_" + hex.EncodeToString(b[:])
	_, err = admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	require.NoError(t, err)
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), pgtest.AdminURL())
		if err != nil {
			return
		}
		defer conn.Close(context.Background())
		_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	cfg, err := pgx.ParseConfig(pgtest.AdminURL())
	require.NoError(t, err)
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name)
}

func runTool(t *testing.T, name string, args ...string) {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (PostgreSQL client tools are needed for the restore test)", name)
	}
	out, err := exec.Command(path, args...).CombinedOutput()
	require.NoError(t, err, "%s: %s", name, out)
}

// chainRow is an audit row's place in its chain.
type chainRow struct {
	tenant, event, hash string
	seq                 int64
}

func (s *service) chains() []chainRow {
	s.t.Helper()
	rows, err := s.core.pool.Query(context.Background(),
		`SELECT tenant_id, seq, event_id::text, encode(hash, 'hex') FROM rm_audit.audit_events ORDER BY tenant_id, seq`)
	require.NoError(s.t, err)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (chainRow, error) {
		var c chainRow
		err := r.Scan(&c.tenant, &c.seq, &c.event, &c.hash)
		return c, err
	})
	require.NoError(s.t, err)
	return out
}

// TestLogicalRestore performs docs/operations.md's logical backup and
// restore: pg_dump, pg_restore into a fresh database, the recovery script
// through psql, a new process rebuilding every read model, and the chain
// verified against the signed heads taken before the backup.
func TestLogicalRestore(t *testing.T) {
	s := startService(t, map[string]string{"APIQ_AUDIT_SIGN_INTERVAL": "1h"})
	ctx := context.Background()
	bob := s.user("bob@example.com", "USER")
	status, _ := s.json("GET", "/v1/users", bob, "")
	require.Equal(t, http.StatusForbidden, status)
	status, _ = s.json("POST", "/v1/auth/login", "", `{"email":"bob@example.com","password":"not it"}`)
	require.Equal(t, http.StatusUnauthorized, status)
	s.otherTenantAdmin()
	s.waitForAudit()
	_, err := s.runCLI("audit", "sign")
	require.NoError(t, err)
	before := s.chains()
	events := s.count(`SELECT count(*) FROM events`)
	require.NotEmpty(t, before)

	dump := filepath.Join(t.TempDir(), "apiq.dump")
	runTool(t, "pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file="+dump, s.core.cfg.DatabaseURL)
	restored := emptyDatabase(t)
	runTool(t, "pg_restore", "--no-owner", "--no-privileges", "--dbname="+restored, dump)
	script := filepath.Join(t.TempDir(), "recover.sql")
	require.NoError(t, os.WriteFile(script, []byte(recoverySQL(t)), 0o600))
	runTool(t, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--dbname="+restored, "--file="+script)

	// Every read model is rebuilt from the restored events, then a new
	// process serves the restored database with the same data directory.
	rebuildAll(t, restored, s.core.cfg.DataDir)
	conn, err := pgx.Connect(ctx, restored)
	require.NoError(t, err)
	var restoredEvents, transactions, last int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT transaction_id::text), max(global_position) FROM events`).
		Scan(&restoredEvents, &transactions, &last))
	require.NoError(t, conn.Close(ctx))
	assert.Equal(t, events, restoredEvents)
	assert.Equal(t, 1, transactions, "one transaction id for the restored events")
	assert.Equal(t, events, last, "positions renumbered 1…n")

	// The new process signs its admin in (one more event), so the rows from
	// before the backup are compared as the leading part of each chain.
	r := startService(t, map[string]string{"APIQ_DATABASE_URL": restored, "APIQ_DATA_DIR": s.core.cfg.DataDir,
		"APIQ_AUDIT_SIGN_INTERVAL": "1h"})
	r.waitForAudit()
	kept := map[string]bool{}
	for _, c := range before {
		kept[c.event] = true
	}
	var rebuilt []chainRow
	for _, c := range r.chains() {
		if kept[c.event] {
			rebuilt = append(rebuilt, c)
		}
	}
	assert.Equal(t, before, rebuilt, "the rebuilt audit trail has the same rows and hashes")

	out, err := r.runCLI("audit", "verify")
	require.NoError(t, err, out)
	assert.Contains(t, out, "valid: true")
	assert.NotContains(t, out, " 0  ok", "signed heads were checked")
	out, err = r.runCLI("audit", "reconcile")
	require.NoError(t, err, out)

	// The restored service keeps appending after the restored events.
	r.user("carol@example.com", "USER")
	r.waitForAudit()
	after := r.chains()
	require.Greater(t, len(after), len(before))
	out, err = r.runCLI("audit", "sign")
	require.NoError(t, err, out)
	out, err = r.runCLI("audit", "verify")
	require.NoError(t, err, out)
	var verified int
	require.NoError(t, r.core.pool.QueryRow(ctx, `SELECT count(*) FROM audit_signed_heads`).Scan(&verified))
	assert.Greater(t, verified, 2, "heads from before and after the restore")
}

// rebuildAll runs `apiq projections rebuild NAME` for every projector
// `apiq projections status` lists.
func rebuildAll(t *testing.T, databaseURL, dataDir string) {
	t.Helper()
	run := func(args ...string) string {
		var out bytes.Buffer
		a := &app{getenv: envOf(map[string]string{"APIQ_DATABASE_URL": databaseURL, "APIQ_DATA_DIR": dataDir}),
			stdin: strings.NewReader(""), stdout: &out, stderr: io.Discard}
		root := a.rootCommand()
		root.SetArgs(args)
		require.NoError(t, root.ExecuteContext(context.Background()), out.String())
		return out.String()
	}
	lines := strings.Split(strings.TrimSpace(run("projections", "status")), "\n")
	require.Greater(t, len(lines), 1)
	for _, line := range lines[1:] {
		name := strings.Fields(line)[0]
		assert.Contains(t, line, "new", "%s has no checkpoint after the recovery", name)
		run("projections", "rebuild", name)
	}
}
