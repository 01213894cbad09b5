// Package pgtest gives each test (or test package) a database of its own,
// created from a template that has every migration applied, so packages
// never stall each other with long transactions.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/apiq/apiq/adapters/postgres"
	"github.com/apiq/apiq/migrations"
)

// DefaultAdminURL is the server tests use unless APIQ_TEST_DATABASE_URL says otherwise.
const DefaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// AdminURL returns the URL of a role that may create databases.
func AdminURL() string {
	if u := os.Getenv("APIQ_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultAdminURL
}

// NewDatabase creates a fresh, migrated database and drops it when the test
// ends. It returns its URL.
func NewDatabase(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.ConnectConfig(ctx, mustConfig(t, AdminURL()))
	if err != nil {
		t.Fatalf("pgtest: connect to %s (is PostgreSQL running? see README): %v", postgres.Redact(AdminURL()), err)
	}
	defer admin.Close(ctx)

	template := ensureTemplate(t, ctx, admin)
	name := "apiq_test_" + randomSuffix(t)
	if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s",
		pgx.Identifier{name}.Sanitize(), pgx.Identifier{template}.Sanitize())); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.ConnectConfig(context.Background(), mustConfig(t, AdminURL()))
		if err != nil {
			t.Logf("pgtest: drop %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(),
			"DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Logf("pgtest: drop %s: %v", name, err)
		}
	})
	return urlFor(AdminURL(), name)
}

// NewPool creates a fresh migrated database and returns a pool on it, closed
// when the test ends.
func NewPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	url := NewDatabase(t)
	pool, err := postgres.Connect(context.Background(), url)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// ensureTemplate creates and migrates the template database for the current
// set of migrations once, under an advisory lock shared by all test processes.
func ensureTemplate(t testing.TB, ctx context.Context, admin *pgx.Conn) string {
	t.Helper()
	name := "apiq_template_" + migrationsHash(t)
	if _, err := admin.Exec(ctx, `SELECT pg_advisory_lock(727274)`); err != nil {
		t.Fatalf("pgtest: lock: %v", err)
	}
	defer admin.Exec(ctx, `SELECT pg_advisory_unlock(727274)`) //nolint:errcheck

	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		t.Fatalf("pgtest: look up template: %v", err)
	}
	if exists {
		return name
	}
	building := name + "_building"
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{building}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Fatalf("pgtest: drop stale template: %v", err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{building}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create template: %v", err)
	}
	if err := postgres.MigrateUp(urlFor(AdminURL(), building)); err != nil {
		t.Fatalf("pgtest: migrate template: %v", err)
	}
	if _, err := admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s",
		pgx.Identifier{building}.Sanitize(), pgx.Identifier{name}.Sanitize())); err != nil {
		t.Fatalf("pgtest: finish template: %v", err)
	}
	return name
}

// migrationsHash names the template after the migration files' content, so a
// changed migration gets a new template.
func migrationsHash(t testing.TB) string {
	t.Helper()
	entries, err := fs.ReadDir(migrations.FS, ".")
	if err != nil {
		t.Fatalf("pgtest: read migrations: %v", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		b, err := fs.ReadFile(migrations.FS, n)
		if err != nil {
			t.Fatalf("pgtest: read migration %s: %v", n, err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func randomSuffix(t testing.TB) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("pgtest: random: %v", err)
	}
	return hex.EncodeToString(b[:])
}

func mustConfig(t testing.TB, url string) *pgx.ConnConfig {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatalf("pgtest: parse %s: %v", postgres.Redact(url), err)
	}
	return cfg
}

// urlFor replaces the database name in a postgres:// URL.
func urlFor(base, database string) string {
	scheme, rest, ok := strings.Cut(base, "://")
	if !ok {
		return base + " dbname=" + database
	}
	query := ""
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		rest, query = rest[:i], rest[i:]
	}
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest = rest[:i]
	}
	return scheme + "://" + rest + "/" + database + query
}
