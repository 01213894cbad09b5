package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/pgstore"
	"github.com/apiq/apiq/adapters/postgres"
	"github.com/apiq/apiq/adapters/postgres/pgtest"
)

// TestGrantAppRole creates a service role, grants it, connects as it and
// proves it can append and read but never change the event log, while the
// owner (a superuser here) is still stopped by the triggers.
func TestGrantAppRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ownerURL := pgtest.NewDatabase(t)
	owner, err := postgres.Connect(ctx, ownerURL)
	require.NoError(t, err)
	t.Cleanup(owner.Close)

	var b [4]byte
	_, err = rand.Read(b[:])
	require.NoError(t, err)
	role := "apiq_app_" + hex.EncodeToString(b[:])
	_, err = owner.Exec(ctx, "CREATE ROLE "+role+" LOGIN")
	require.NoError(t, err)
	t.Cleanup(func() {
		// Privileges live in the test database, which pgtest drops after this runs.
		_, err := owner.Exec(context.Background(), "DROP OWNED BY "+role)
		assert.NoError(t, err)
		_, err = owner.Exec(context.Background(), "DROP ROLE "+role)
		assert.NoError(t, err)
	})

	_, err = owner.Exec(ctx, `CREATE TABLE early_infra (id int PRIMARY KEY, note text)`)
	require.NoError(t, err)
	require.NoError(t, postgres.GrantAppRole(ctx, owner, role))
	require.NoError(t, postgres.GrantAppRole(ctx, owner, role), "granting again is harmless")
	_, err = owner.Exec(ctx, `CREATE TABLE later_infra (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, note text)`)
	require.NoError(t, err, "a table a later migration creates")

	u, err := url.Parse(ownerURL)
	require.NoError(t, err)
	u.User = url.User(role)
	app, err := postgres.Connect(ctx, u.String())
	require.NoError(t, err)
	t.Cleanup(app.Close)

	store, err := pgstore.New(app)
	require.NoError(t, err)
	ev := eventstore.EventData{ID: eventstore.EventID("t", "grant-1", "r", 0), Type: "Granted", Metadata: eventstore.Metadata{TenantID: "t"}}
	_, err = store.Append(ctx, "grant-1", eventstore.NoStream, []eventstore.EventData{ev})
	require.NoError(t, err, "the app role appends")
	// The feed shows the event once no older transaction of the cluster is in flight.
	require.Eventually(t, func() bool {
		got, err := store.ReadAll(ctx, eventstore.Position{}, 10)
		return err == nil && len(got) == 1
	}, 10*time.Second, 20*time.Millisecond, "the app role reads the feed")

	allowed := []string{
		`INSERT INTO early_infra VALUES (1, 'a')`,
		`UPDATE early_infra SET note = 'b' WHERE id = 1`,
		`DELETE FROM early_infra WHERE id = 1`,
		`INSERT INTO later_infra (note) VALUES ('a')`,
		`UPDATE later_infra SET note = 'b'`,
		`DELETE FROM later_infra`,
		`SELECT count(*) FROM schema_migrations`,
		`CREATE SCHEMA rm_granted`,
		`CREATE TABLE rm_granted.view (id int)`,
	}
	for _, stmt := range allowed {
		_, err := app.Exec(ctx, stmt)
		assert.NoError(t, err, "app role: %s", stmt)
	}

	cases := []struct {
		name    string
		exec    func(context.Context, string, ...any) (pgconn.CommandTag, error)
		stmts   []string
		wantMsg string
	}{
		{"app role may not change events nor bypass append_events", app.Exec, []string{
			`INSERT INTO events (event_id, stream_id, stream_version, event_type, data, metadata)
			 VALUES (gen_random_uuid(), 'grant-1', 1, 'Forged', '{}', '{}')`,
			`UPDATE events SET event_type = 'Forged'`, `DELETE FROM events`, `TRUNCATE events`,
		}, "permission denied for table events"},
		{"app role may not move the schema version", app.Exec, []string{
			`UPDATE schema_migrations SET version = 0`, `DELETE FROM schema_migrations`,
		}, "permission denied for table schema_migrations"},
		{"owner is stopped by the triggers", owner.Exec, []string{
			`UPDATE events SET event_type = 'Forged'`, `DELETE FROM events`, `TRUNCATE events`,
		}, "events are immutable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, stmt := range c.stmts {
				_, err := c.exec(ctx, stmt)
				var pgErr *pgconn.PgError
				if assert.True(t, errors.As(err, &pgErr), "%s: refused by the server, got %v", stmt, err) {
					assert.Equal(t, "42501", pgErr.Code, stmt)
					assert.Contains(t, pgErr.Message, c.wantMsg, stmt)
				}
			}
		})
	}
	var count int
	require.NoError(t, owner.QueryRow(ctx, `SELECT count(*) FROM events WHERE event_type = 'Granted'`).Scan(&count))
	assert.Equal(t, 1, count, "the event is still there, unchanged")
}

func TestGrantAppRoleRefusesUnknownRoles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	owner := pgtest.NewPool(t)
	assert.ErrorContains(t, postgres.GrantAppRole(ctx, owner, "apiq_no_such_role_x"), "no such role")
	assert.ErrorContains(t, postgres.GrantAppRole(ctx, owner, ""), "empty role name")
	var me string
	require.NoError(t, owner.QueryRow(ctx, `SELECT current_user`).Scan(&me))
	assert.NoError(t, postgres.GrantAppRole(ctx, owner, me), "the owner itself needs no grants")
}
