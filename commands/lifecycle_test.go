package commands_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/vault"
	"github.com/apiq/apiq/commands"
	"github.com/apiq/apiq/domain/reservation"
	"github.com/apiq/apiq/domain/tenant"
	"github.com/apiq/apiq/domain/user"
	"github.com/apiq/apiq/projections"
)

func ptr[T any](v T) *T { return &v }

func TestLastAdminIsProtected(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	acme := e.tenantWithAdmin(t, "acme")
	ada := acme.AdminUserID
	meta := func(req string) commands.Meta { return adminOf(acme.TenantID, ada, req) }

	refusals := []struct {
		name string
		run  func() error
	}{
		{"demote", func() error {
			_, err := e.updateUser.Handle(ctx, meta("demote"), commands.UpdateUser{UserID: ada, Role: ptr(user.RoleUser)})
			return err
		}},
		{"disable", func() error {
			_, err := e.updateUser.Handle(ctx, meta("disable"), commands.UpdateUser{UserID: ada, Disabled: ptr(true)})
			return err
		}},
		{"delete", func() error {
			_, err := e.deleteUser.Handle(ctx, meta("delete"), commands.DeleteUser{UserID: ada})
			return err
		}},
	}
	for _, r := range refusals {
		assert.ErrorIs(t, r.run(), tenant.ErrLastAdmin, r.name)
	}
	assert.Len(t, e.stream(t, user.Stream(ada)), 1, "the refused changes left no events")

	bob, err := e.createUser.Handle(ctx, meta("bob"), commands.CreateUser{
		Email: "bob@example.com", Name: "Bob", Password: "long enough", Role: user.RoleUser,
	})
	require.NoError(t, err)
	_, err = e.updateUser.Handle(ctx, meta("promote-bob"), commands.UpdateUser{UserID: bob.UserID, Role: ptr(user.RoleAdmin)})
	require.NoError(t, err)
	assert.Equal(t, []string{tenant.TypeCreated, tenant.TypeAdminBootstrapped, tenant.TypeAdminGranted},
		types(e.stream(t, tenant.Stream(acme.TenantID))))

	_, err = e.updateUser.Handle(ctx, meta("demote-ada"), commands.UpdateUser{UserID: ada, Role: ptr(user.RoleAuditor)})
	require.NoError(t, err, "with a second admin the first may go")
	_, err = e.deleteUser.Handle(ctx, meta("delete-bob"), commands.DeleteUser{UserID: bob.UserID})
	assert.ErrorIs(t, err, tenant.ErrLastAdmin, "bob is now the last admin")

	_, err = e.updateUser.Handle(ctx, meta("promote-ada"), commands.UpdateUser{UserID: ada, Role: ptr(user.RoleAdmin)})
	require.NoError(t, err)
	_, err = e.updateUser.Handle(ctx, meta("disable-bob"), commands.UpdateUser{UserID: bob.UserID, Disabled: ptr(true)})
	require.NoError(t, err)
	_, err = e.updateUser.Handle(ctx, meta("disable-ada"), commands.UpdateUser{UserID: ada, Disabled: ptr(true)})
	assert.ErrorIs(t, err, tenant.ErrLastAdmin, "a disabled admin does not count")
}

func TestUpdateUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	acme := e.tenantWithAdmin(t, "acme")
	meta := func(req string) commands.Meta { return adminOf(acme.TenantID, acme.AdminUserID, req) }
	bob, err := e.createUser.Handle(ctx, meta("bob"), commands.CreateUser{
		Email: "bob@example.com", Name: "Bob", Password: "first password", Role: user.RoleUser,
	})
	require.NoError(t, err)

	res, err := e.updateUser.Handle(ctx, meta("rename"), commands.UpdateUser{
		UserID: bob.UserID, Name: ptr("Robert"), Password: ptr("second password"),
	})
	require.NoError(t, err)
	assert.False(t, res.Position.IsZero())
	evs := e.stream(t, user.Stream(bob.UserID))
	require.Equal(t, []string{user.TypeCreated, user.TypeUpdated}, types(evs))
	assert.NotContains(t, string(evs[1].Data), "Robert")
	assert.NotContains(t, string(evs[1].Data), "second password")
	var upd user.Updated
	require.NoError(t, json.Unmarshal(evs[1].Data, &upd))
	name, err := e.vault.DecryptString(ctx, vault.Scope{Tenant: acme.TenantID, Owner: user.KeyOwner(bob.UserID), Field: "name"}, *upd.EncryptedName)
	require.NoError(t, err)
	assert.Equal(t, "Robert", name)

	_, err = e.login.Handle(ctx, commands.Meta{RequestID: "login-new"}, commands.Login{
		Email: "bob@example.com", Password: "second password", TenantID: acme.TenantID,
	})
	assert.NoError(t, err, "the new password works")

	before := e.eventCount(t)
	_, err = e.updateUser.Handle(ctx, meta("noop"), commands.UpdateUser{UserID: bob.UserID, Role: ptr(user.RoleUser), Disabled: ptr(false)})
	require.NoError(t, err)
	assert.Equal(t, before, e.eventCount(t), "a change to the current values records nothing")

	other := e.tenantWithAdmin(t, "other")
	_, err = e.updateUser.Handle(ctx, adminOf(other.TenantID, other.AdminUserID, "x"), commands.UpdateUser{UserID: bob.UserID, Name: ptr("Mallory")})
	assert.ErrorIs(t, err, user.ErrNotFound, "another tenant's admin cannot see bob")
	_, err = e.deleteUser.Handle(ctx, adminOf(other.TenantID, other.AdminUserID, "y"), commands.DeleteUser{UserID: bob.UserID})
	assert.ErrorIs(t, err, user.ErrNotFound)
}

func TestDeleteForgetsPersonalDataButKeepsHistory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	acme := e.tenantWithAdmin(t, "acme")
	meta := func(req string) commands.Meta { return adminOf(acme.TenantID, acme.AdminUserID, req) }
	bob, err := e.createUser.Handle(ctx, meta("bob"), commands.CreateUser{
		Email: "bob@example.com", Name: "Bob", Password: "long enough", Role: user.RoleUser,
	})
	require.NoError(t, err)
	tok, err := e.issueToken.Handle(ctx, meta("bob-token"), commands.IssueAPIToken{UserID: bob.UserID, Name: "ci"})
	require.NoError(t, err)
	users, err := projections.NewUsersProjector(e.vault)
	require.NoError(t, err)
	e.project(t, users)
	view, err := projections.GetUser(ctx, e.pool, acme.TenantID, bob.UserID)
	require.NoError(t, err)
	assert.Equal(t, "bob@example.com", view.Email)

	del, err := e.deleteUser.Handle(ctx, meta("delete-bob"), commands.DeleteUser{UserID: bob.UserID})
	require.NoError(t, err)
	before := e.eventCount(t)
	again, err := e.deleteUser.Handle(ctx, meta("delete-bob"), commands.DeleteUser{UserID: bob.UserID})
	require.NoError(t, err, "a retried delete completes quietly")
	assert.Equal(t, del, again)
	assert.Equal(t, before, e.eventCount(t))
	_, err = e.deleteUser.Handle(ctx, meta("delete-bob-again"), commands.DeleteUser{UserID: bob.UserID})
	assert.ErrorIs(t, err, user.ErrNotFound, "a new request to delete a deleted user finds nobody")

	evs := e.stream(t, user.Stream(bob.UserID))
	require.Equal(t, []string{user.TypeCreated, user.TypeAPITokenIssued, user.TypeAPITokenRevoked, user.TypeDeleted}, types(evs),
		"the history stays; the deletion revoked the token first")
	assert.Equal(t, tok.TokenID, mustDecode[user.APITokenRevoked](t, evs[2].Data).TokenID)
	created := mustDecode[user.Created](t, evs[0].Data)
	for field, ct := range map[string]string{"email": created.EncryptedEmail, "name": created.EncryptedName} {
		_, err := e.vault.Decrypt(ctx, vault.Scope{Tenant: acme.TenantID, Owner: user.KeyOwner(bob.UserID), Field: field}, ct)
		assert.ErrorIs(t, err, vault.ErrKeyDestroyed, "the %s is forgotten", field)
	}
	assert.Equal(t, []string{reservation.TypeReserved, reservation.TypeReleased},
		types(e.stream(t, user.EmailReservationStream(created.EmailIndex))))

	e.project(t, users)
	_, err = projections.GetUser(ctx, e.pool, acme.TenantID, bob.UserID)
	assert.ErrorIs(t, err, user.ErrNotFound)

	bob2, err := e.createUser.Handle(ctx, meta("bob-again"), commands.CreateUser{
		Email: "bob@example.com", Name: "Bob the second", Password: "long enough", Role: user.RoleUser,
	})
	require.NoError(t, err, "the email can be reused")
	assert.NotEqual(t, bob.UserID, bob2.UserID)
}

func mustDecode[T any](t *testing.T, data []byte) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(data, &v))
	return v
}
