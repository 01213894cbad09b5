package commands_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/vault"
	"github.com/apiq/apiq/commands"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/tenant"
	"github.com/apiq/apiq/domain/user"
)

func TestCreateTenantWithAdmin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	res := e.tenantWithAdmin(t, "acme")
	require.NotEmpty(t, res.TenantID)
	require.NotEmpty(t, res.AdminUserID)
	assert.False(t, res.Position.IsZero())

	assert.Equal(t, []string{tenant.TypeCreated, tenant.TypeAdminBootstrapped}, types(e.stream(t, tenant.Stream(res.TenantID))))
	userEvents := e.stream(t, user.Stream(res.AdminUserID))
	require.Equal(t, []string{user.TypeCreated}, types(userEvents))
	created := userEvents[0]
	assert.NotContains(t, string(created.Data), "ada@example.com", "no plaintext email in events")
	assert.NotContains(t, string(created.Data), "Ada Lovelace", "no plaintext name in events")
	assert.NotContains(t, string(created.Data), "correct horse", "no plaintext password in events")
	assert.Equal(t, res.TenantID, created.Metadata.TenantID)
	assert.Equal(t, "system", created.Metadata.Actor.Subject)
	assert.Equal(t, "create-acme", created.Metadata.RequestID)
	assert.Equal(t, 1, created.Metadata.SchemaVersion)

	var ev user.Created
	require.NoError(t, json.Unmarshal(created.Data, &ev))
	email, err := e.vault.DecryptString(ctx, vault.Scope{Tenant: res.TenantID, Owner: user.KeyOwner(res.AdminUserID), Field: "email"}, ev.EncryptedEmail)
	require.NoError(t, err)
	assert.Equal(t, "ada@example.com", email)
	assert.Equal(t, user.RoleAdmin, ev.Role)
	assert.Contains(t, ev.PasswordHash, "$argon2id$")
	assert.Equal(t, []string{"reservation.reserved"}, types(e.stream(t, user.EmailReservationStream(ev.EmailIndex))))
	assert.Equal(t, []string{"reservation.reserved"}, types(e.stream(t, tenant.SlugReservationStream("acme"))))

	before := e.eventCount(t)
	assert.True(t, res.Created)
	again := e.tenantWithAdmin(t, "acme")
	assert.False(t, again.Created, "the retry says the tenant existed")
	again.Created = true
	assert.Equal(t, res, again, "a retried request returns the same result")
	assert.Equal(t, before, e.eventCount(t), "a retried request appends nothing new")

	_, err = e.createTenant.Handle(ctx, system("another"), commands.CreateTenant{
		Name: "Other", Slug: "acme", AdminEmail: "b@example.com", AdminName: "B", AdminPassword: "long enough",
	})
	assert.ErrorIs(t, err, tenant.ErrSlugTaken)
}

func TestCreateTenantRefusesBadInputBeforeWriting(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name string
		cmd  commands.CreateTenant
	}{
		{"bad slug", commands.CreateTenant{Name: "A", Slug: "Not OK", AdminEmail: "a@example.com", AdminName: "A", AdminPassword: "long enough"}},
		{"bad email", commands.CreateTenant{Name: "A", Slug: "a", AdminEmail: "nope", AdminName: "A", AdminPassword: "long enough"}},
		{"short password", commands.CreateTenant{Name: "A", Slug: "a", AdminEmail: "a@example.com", AdminName: "A", AdminPassword: "short"}},
		{"no name", commands.CreateTenant{Name: "", Slug: "a", AdminEmail: "a@example.com", AdminName: "A", AdminPassword: "long enough"}},
	}
	for _, tc := range tests {
		_, err := e.createTenant.Handle(context.Background(), system(tc.name), tc.cmd)
		assert.ErrorIs(t, err, domain.ErrInvalid, tc.name)
	}
	assert.Equal(t, 0, e.eventCount(t), "nothing half-written")
}

func TestCreateUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	acme := e.tenantWithAdmin(t, "acme")
	other := e.tenantWithAdmin(t, "other")
	meta := adminOf(acme.TenantID, acme.AdminUserID, "req-bob")

	bob, err := e.createUser.Handle(ctx, meta, commands.CreateUser{
		Email: "Bob@Example.com", Name: "Bob", Password: "bobs password", Role: user.RoleUser,
	})
	require.NoError(t, err)
	evs := e.stream(t, user.Stream(bob.UserID))
	require.Len(t, evs, 1)
	assert.Equal(t, acme.AdminUserID, evs[0].Metadata.Actor.Subject)
	assert.Equal(t, "127.0.0.1", evs[0].Metadata.ClientIP)

	before := e.eventCount(t)
	again, err := e.createUser.Handle(ctx, meta, commands.CreateUser{
		Email: "Bob@Example.com", Name: "Bob", Password: "bobs password", Role: user.RoleUser,
	})
	require.NoError(t, err)
	assert.Equal(t, bob, again)
	assert.Equal(t, before, e.eventCount(t), "the retried request appended nothing")

	tests := []struct {
		name    string
		meta    commands.Meta
		cmd     commands.CreateUser
		wantErr error
	}{
		{"same email, other case", adminOf(acme.TenantID, acme.AdminUserID, "req-2"),
			commands.CreateUser{Email: "bob@EXAMPLE.com", Name: "Bob 2", Password: "long enough", Role: user.RoleUser}, user.ErrEmailTaken},
		{"admin email taken", adminOf(acme.TenantID, acme.AdminUserID, "req-3"),
			commands.CreateUser{Email: "ada@example.com", Name: "Ada 2", Password: "long enough", Role: user.RoleAuditor}, user.ErrEmailTaken},
		{"bad role", adminOf(acme.TenantID, acme.AdminUserID, "req-4"),
			commands.CreateUser{Email: "c@example.com", Name: "C", Password: "long enough", Role: "ROOT"}, domain.ErrInvalid},
		{"unknown tenant", adminOf("no-such-tenant", acme.AdminUserID, "req-5"),
			commands.CreateUser{Email: "c@example.com", Name: "C", Password: "long enough", Role: user.RoleUser}, tenant.ErrNotFound},
	}
	for _, tc := range tests {
		_, err := e.createUser.Handle(ctx, tc.meta, tc.cmd)
		assert.ErrorIs(t, err, tc.wantErr, tc.name)
	}

	_, err = e.createUser.Handle(ctx, adminOf(other.TenantID, other.AdminUserID, "req-bob"), commands.CreateUser{
		Email: "bob@example.com", Name: "Bob elsewhere", Password: "long enough", Role: user.RoleUser,
	})
	assert.NoError(t, err, "emails are unique per tenant, not globally")
}

func TestConcurrentCreatesOfOneEmailHaveOneWinner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	acme := e.tenantWithAdmin(t, "acme")
	const n = 8
	var wg sync.WaitGroup
	results := make([]commands.CreateUserResult, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = e.createUser.Handle(ctx, adminOf(acme.TenantID, acme.AdminUserID, fmt.Sprintf("race-%d", i)),
				commands.CreateUser{Email: "race@example.com", Name: fmt.Sprintf("Racer %d", i), Password: "long enough", Role: user.RoleUser})
		}()
	}
	close(start)
	wg.Wait()
	winners := 0
	for i := range n {
		if errs[i] == nil {
			winners++
			continue
		}
		assert.ErrorIs(t, errs[i], user.ErrEmailTaken)
	}
	assert.Equal(t, 1, winners, "exactly one create wins")
	var created int
	require.NoError(t, e.pool.QueryRow(ctx,
		`SELECT count(*) FROM events WHERE event_type = $1 AND tenant_id = $2`, user.TypeCreated, acme.TenantID).Scan(&created))
	assert.Equal(t, 2, created, "the admin and the one winner")
}

func TestMetadataCarriesTheRequest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	acme := e.tenantWithAdmin(t, "acme")
	meta := adminOf(acme.TenantID, acme.AdminUserID, "req-meta")
	meta.CorrelationID, meta.CausationID = "corr-1", "cause-1"
	res, err := e.createUser.Handle(ctx, meta, commands.CreateUser{
		Email: "m@example.com", Name: "M", Password: "long enough", Role: user.RoleUser,
	})
	require.NoError(t, err)
	ev := e.stream(t, user.Stream(res.UserID))[0]
	assert.Equal(t, eventstore.EventID(acme.TenantID, user.Stream(res.UserID), "req-meta", 0), ev.ID)
	assert.Equal(t, "corr-1", ev.Metadata.CorrelationID)
	assert.Equal(t, "cause-1", ev.Metadata.CausationID)
	assert.Equal(t, "test", ev.Metadata.UserAgent)
	assert.Equal(t, "ADMIN", ev.Metadata.Actor.Role)
	assert.False(t, ev.Metadata.OccurredAt.IsZero())
}
