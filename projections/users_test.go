package projections_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/postgres/pgtest"
	"github.com/apiq/apiq/adapters/vault"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/user"
	"github.com/apiq/apiq/projections"
)

// idnFixture applies hand-made identity events to projectors in their live
// schemas, each call in its own transaction, the way the runner would.
type idnFixture struct {
	pool  *pgxpool.Pool
	vault *vault.Vault
	base  time.Time
}

func newIdnFixture(t *testing.T) *idnFixture {
	t.Helper()
	pool := pgtest.NewPool(t)
	kek, err := vault.NewKEK()
	require.NoError(t, err)
	secret := make([]byte, 32)
	_, err = rand.Read(secret)
	require.NoError(t, err)
	ring, err := vault.NewKeyring(kek, secret)
	require.NoError(t, err)
	v, err := vault.New(pool, ring, vault.Options{})
	require.NoError(t, err)
	return &idnFixture{pool: pool, vault: v, base: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (f *idnFixture) apply(t *testing.T, p projections.Projector, events ...eventstore.RecordedEvent) {
	t.Helper()
	ctx := context.Background()
	tx, err := f.pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	schema := pgx.Identifier{projections.SchemaName(p)}.Sanitize()
	_, err = tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+schema+"; SET LOCAL search_path TO "+schema)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, p.Schema())
	require.NoError(t, err)
	for _, ev := range events {
		require.NoError(t, p.Apply(ctx, idnTx{tx}, ev), "apply %s v%d", ev.Type, ev.Version)
	}
	require.NoError(t, tx.Commit(ctx))
}

// event builds a recorded event of a stream at a version; its time is the
// fixture's base plus version minutes.
func (f *idnFixture) event(t *testing.T, tenantID, stream string, version int64, ev domain.Event) eventstore.RecordedEvent {
	t.Helper()
	data, err := json.Marshal(ev)
	require.NoError(t, err)
	at := f.base.Add(time.Duration(version) * time.Minute)
	return eventstore.RecordedEvent{
		ID: uuid.New(), StreamID: stream, Version: version, Type: ev.EventType(), Data: data, RecordedAt: at,
		Metadata: eventstore.Metadata{TenantID: tenantID, SchemaVersion: ev.SchemaVersion(), OccurredAt: at},
	}
}

func (f *idnFixture) encrypt(t *testing.T, tenantID, userID, field, value string) string {
	t.Helper()
	ct, err := f.vault.EncryptString(context.Background(), vault.Scope{Tenant: tenantID, Owner: user.KeyOwner(userID), Field: field}, value)
	require.NoError(t, err)
	return ct
}

func (f *idnFixture) created(t *testing.T, tenantID, userID, email, name string, role user.Role) eventstore.RecordedEvent {
	t.Helper()
	return f.event(t, tenantID, user.Stream(userID), 0, user.Created{
		UserID: userID, TenantID: tenantID, Role: role, PasswordHash: "$argon2id$fake", EmailIndex: "idx-" + userID,
		EncryptedEmail: f.encrypt(t, tenantID, userID, "email", email),
		EncryptedName:  f.encrypt(t, tenantID, userID, "name", name),
	})
}

type idnTx struct{ tx pgx.Tx }

func (d idnTx) Exec(ctx context.Context, sql string, args ...any) error {
	_, err := d.tx.Exec(ctx, sql, args...)
	return err
}

func (d idnTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return d.tx.Query(ctx, sql, args...)
}

func (d idnTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return d.tx.QueryRow(ctx, sql, args...)
}

func TestUsersProjector(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newIdnFixture(t)
	p, err := projections.NewUsersProjector(f.vault)
	require.NoError(t, err)
	assert.Equal(t, "rm_users", projections.SchemaName(p))
	const tenantID = "t1"
	id := uuid.NewString()
	stream := user.Stream(id)
	created := f.created(t, tenantID, id, "Ada@Example.com", "Ada", user.RoleUser)

	f.apply(t, p, created, created) // applied twice: still one row
	u, err := projections.GetUser(ctx, f.pool, tenantID, id)
	require.NoError(t, err)
	assert.Equal(t, projections.UserView{
		ID: id, TenantID: tenantID, Email: "Ada@Example.com", Name: "Ada", Role: user.RoleUser,
		CreatedAt: f.base, UpdatedAt: f.base, Version: 0,
	}, u)
	cands, err := projections.FindLoginCandidates(ctx, f.pool, " ada@EXAMPLE.com")
	require.NoError(t, err)
	assert.Equal(t, []user.LoginCandidate{{TenantID: tenantID, UserID: id}}, cands)
	_, err = projections.GetUser(ctx, f.pool, "other-tenant", id)
	assert.ErrorIs(t, err, user.ErrNotFound, "queries are scoped to the tenant")

	admin, disabled, newName := user.RoleAdmin, true, f.encrypt(t, tenantID, id, "name", "Ada L.")
	update := f.event(t, tenantID, stream, 1, user.Updated{Role: &admin, Disabled: &disabled, EncryptedName: &newName})
	auditor := user.RoleAuditor
	stale := f.event(t, tenantID, stream, 1, user.Updated{Role: &auditor})
	f.apply(t, p, update, stale,
		f.event(t, tenantID, stream, 2, user.LoggedIn{Method: "password"}),
		f.event(t, tenantID, stream, 3, user.APITokenIssued{TokenID: "k"}),
		f.event(t, tenantID, stream, 1, user.LoginFailed{Reason: "x"}),
		f.event(t, tenantID, "other-stream", 0, domain.Event(unknownEvent{})),
	)
	u, err = projections.GetUser(ctx, f.pool, tenantID, id)
	require.NoError(t, err)
	assert.Equal(t, user.RoleAdmin, u.Role, "an event at an applied version is ignored")
	assert.True(t, u.Disabled)
	assert.Equal(t, "Ada L.", u.Name)
	assert.Equal(t, int64(3), u.Version)
	require.NotNil(t, u.LastLoginAt)
	assert.Equal(t, f.base.Add(2*time.Minute), u.LastLoginAt.UTC())
	assert.Equal(t, f.base.Add(time.Minute), u.UpdatedAt.UTC())

	assert.False(t, u.TOTPEnabled)

	f.apply(t, p,
		f.event(t, tenantID, stream, 4, user.TOTPEnrollmentStarted{SealedSecret: "sealed"}),
		f.event(t, tenantID, stream, 5, user.TOTPConfirmed{Step: 7}),
	)
	u, err = projections.GetUser(ctx, f.pool, tenantID, id)
	require.NoError(t, err)
	assert.True(t, u.TOTPEnabled, "confirmed TOTP shows")
	f.apply(t, p, f.event(t, tenantID, stream, 6, user.TOTPDisabled{Reset: true}), f.event(t, tenantID, stream, 5, user.TOTPConfirmed{Step: 7}))
	u, err = projections.GetUser(ctx, f.pool, tenantID, id)
	require.NoError(t, err)
	assert.False(t, u.TOTPEnabled, "disabled, and the stale confirmation is ignored")
	assert.Equal(t, int64(6), u.Version)

	f.apply(t, p, f.event(t, tenantID, stream, 7, user.Deleted{}))
	_, err = projections.GetUser(ctx, f.pool, tenantID, id)
	assert.ErrorIs(t, err, user.ErrNotFound)
	cands, err = projections.FindLoginCandidates(ctx, f.pool, "ada@example.com")
	require.NoError(t, err)
	assert.Empty(t, cands)
	var email, hash string
	var forgotten bool
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT email, password_hash, forgotten FROM rm_users.users WHERE id = $1`, id).
		Scan(&email, &hash, &forgotten))
	assert.Empty(t, email)
	assert.Empty(t, hash)
	assert.True(t, forgotten)
}

// unknownEvent is an event type no identity projector handles.
type unknownEvent struct{}

func (unknownEvent) EventType() string  { return "something.else" }
func (unknownEvent) SchemaVersion() int { return 1 }

func TestUsersProjectorForgetsDataWhoseKeyIsDestroyed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newIdnFixture(t)
	p, err := projections.NewUsersProjector(f.vault)
	require.NoError(t, err)
	id := uuid.NewString()
	created := f.created(t, "t1", id, "gone@example.com", "Gone", user.RoleUser)
	require.NoError(t, f.vault.DestroyOwnerKeys(ctx, "t1", user.KeyOwner(id)))

	f.apply(t, p, created) // as a rebuild after the deletion would
	u, err := projections.GetUser(ctx, f.pool, "t1", id)
	require.NoError(t, err)
	assert.True(t, u.Forgotten)
	assert.Empty(t, u.Email)
	assert.Empty(t, u.Name)

	_, err = projections.NewUsersProjector(nil)
	assert.Error(t, err)
}

func TestListUsersPages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newIdnFixture(t)
	p, err := projections.NewUsersProjector(f.vault)
	require.NoError(t, err)
	var want []string
	for i := range 5 {
		id := uuid.NewString()
		ev := f.created(t, "a", id, fmt.Sprintf("u%d@example.com", i), fmt.Sprintf("U%d", i), user.RoleUser)
		ev.Metadata.OccurredAt = f.base.Add(time.Duration(i) * time.Second)
		f.apply(t, p, ev)
		want = append(want, id)
	}
	deleted := uuid.NewString()
	f.apply(t, p, f.created(t, "a", deleted, "d@example.com", "D", user.RoleUser),
		f.event(t, "a", user.Stream(deleted), 1, user.Deleted{}),
		f.created(t, "b", uuid.NewString(), "b@example.com", "B", user.RoleUser))

	var got []string
	var pages int
	after := ""
	for {
		page, err := projections.ListUsers(ctx, f.pool, "a", projections.ListUsersOptions{Limit: 2, After: after})
		require.NoError(t, err)
		pages++
		for _, u := range page.Users {
			assert.Equal(t, "a", u.TenantID)
			got = append(got, u.ID)
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	assert.Equal(t, want, got, "every live user of the tenant once, in creation order")
	assert.Equal(t, 3, pages)

	all, err := projections.ListUsers(ctx, f.pool, "b", projections.ListUsersOptions{})
	require.NoError(t, err)
	assert.Len(t, all.Users, 1)
	assert.Empty(t, all.Next)

	_, err = projections.ListUsers(ctx, f.pool, "a", projections.ListUsersOptions{After: "not-a-cursor"})
	assert.ErrorIs(t, err, domain.ErrInvalid)
}
