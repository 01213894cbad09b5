package commands_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"log/slog"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/authtoken"
	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/pgstore"
	"github.com/apiq/apiq/adapters/postgres/pgtest"
	"github.com/apiq/apiq/adapters/vault"
	"github.com/apiq/apiq/commands"
	"github.com/apiq/apiq/projections"
)

// env is a complete command side on a fresh database.
type env struct {
	pool   *pgxpool.Pool
	store  *pgstore.Store
	vault  *vault.Vault
	signer *authtoken.Signer
	deps   commands.Deps

	createTenant commands.CreateTenantHandler
	createUser   commands.CreateUserHandler
	updateUser   commands.UpdateUserHandler
	deleteUser   commands.DeleteUserHandler
	login        commands.LoginHandler
	issueToken   commands.IssueAPITokenHandler
	revokeToken  commands.RevokeAPITokenHandler
	denied       commands.RecordAccessDeniedHandler
}

// fastArgon2 keeps argon2id but with test-sized memory.
var fastArgon2 = &argon2id.Params{Memory: 8 * 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

func newEnv(t testing.TB) *env {
	t.Helper()
	pool := pgtest.NewPool(t)
	store, err := pgstore.New(pool)
	require.NoError(t, err)
	kek, err := vault.NewKEK()
	require.NoError(t, err)
	secret := make([]byte, 32)
	_, err = rand.Read(secret)
	require.NoError(t, err)
	ring, err := vault.NewKeyring(kek, secret)
	require.NoError(t, err)
	v, err := vault.New(pool, ring, vault.Options{})
	require.NoError(t, err)
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	signer, err := authtoken.NewSigner(authtoken.Config{Key: key})
	require.NoError(t, err)

	e := &env{pool: pool, store: store, vault: v, signer: signer}
	e.deps = commands.Deps{
		Store: store, Vault: v, Passwords: commands.NewArgon2idHasher(fastArgon2),
		Tokens: signer, Directory: projections.NewUserDirectory(pool), Logger: slog.New(slog.DiscardHandler),
	}
	e.createTenant, err = commands.NewCreateTenantHandler(e.deps)
	require.NoError(t, err)
	e.createUser, err = commands.NewCreateUserHandler(e.deps)
	require.NoError(t, err)
	e.updateUser, err = commands.NewUpdateUserHandler(e.deps)
	require.NoError(t, err)
	e.deleteUser, err = commands.NewDeleteUserHandler(e.deps)
	require.NoError(t, err)
	e.login, err = commands.NewLoginHandler(e.deps)
	require.NoError(t, err)
	e.issueToken, err = commands.NewIssueAPITokenHandler(e.deps)
	require.NoError(t, err)
	e.revokeToken, err = commands.NewRevokeAPITokenHandler(e.deps)
	require.NoError(t, err)
	e.denied, err = commands.NewRecordAccessDeniedHandler(e.deps)
	require.NoError(t, err)
	return e
}

// system is the metadata of a CLI request.
func system(requestID string) commands.Meta {
	return commands.Meta{Actor: commands.SystemActor(), RequestID: requestID}
}

// adminOf is the metadata of a request by a tenant's admin.
func adminOf(tenantID, adminID, requestID string) commands.Meta {
	return commands.Meta{
		TenantID: tenantID, RequestID: requestID, ClientIP: "127.0.0.1", UserAgent: "test",
		Actor: eventstore.Actor{Subject: adminID, Role: "ADMIN", AuthMethod: "password"},
	}
}

// tenantWithAdmin creates a tenant whose admin is ada@example.com.
func (e *env) tenantWithAdmin(t testing.TB, slug string) commands.CreateTenantResult {
	t.Helper()
	res, err := e.createTenant.Handle(context.Background(), system("create-"+slug), commands.CreateTenant{
		Name: "Tenant " + slug, Slug: slug,
		AdminEmail: "ada@example.com", AdminName: "Ada Lovelace", AdminPassword: "correct horse battery",
	})
	require.NoError(t, err)
	return res
}

func (e *env) stream(t *testing.T, stream string) []eventstore.RecordedEvent {
	t.Helper()
	evs, err := e.store.ReadStream(context.Background(), stream, 0, 0)
	require.NoError(t, err)
	return evs
}

func (e *env) eventCount(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM events`).Scan(&n))
	return n
}

func types(evs []eventstore.RecordedEvent) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Type
	}
	return out
}

// project applies every event in the feed to the projectors, each in its
// live schema, the way the runner would (re-applying is harmless).
func (e *env) project(t *testing.T, ps ...projections.Projector) {
	t.Helper()
	ctx := context.Background()
	// The feed shows a commit only once every older transaction of the
	// cluster ended (parallel tests share the server): wait for all events.
	var events []eventstore.RecordedEvent
	require.Eventually(t, func() bool {
		var err error
		events, err = e.store.ReadAll(ctx, eventstore.Position{}, 100000)
		require.NoError(t, err)
		return len(events) == e.eventCount(t)
	}, 10*time.Second, 5*time.Millisecond)
	for _, p := range ps {
		tx, err := e.pool.Begin(ctx)
		require.NoError(t, err)
		schema := pgx.Identifier{projections.SchemaName(p)}.Sanitize()
		_, err = tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+schema+"; SET LOCAL search_path TO "+schema)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, p.Schema())
		require.NoError(t, err)
		for _, ev := range events {
			require.NoError(t, p.Apply(ctx, txDB{tx}, ev))
		}
		require.NoError(t, tx.Commit(ctx))
	}
}

// txDB adapts a pgx transaction to projections.DB.
type txDB struct{ tx pgx.Tx }

func (d txDB) Exec(ctx context.Context, sql string, args ...any) error {
	_, err := d.tx.Exec(ctx, sql, args...)
	return err
}

func (d txDB) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return d.tx.Query(ctx, sql, args...)
}

func (d txDB) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return d.tx.QueryRow(ctx, sql, args...)
}

var _ commands.Directory = (*projections.UserDirectory)(nil)
