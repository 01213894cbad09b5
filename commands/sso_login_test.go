package commands_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/commands"
	"github.com/apiq/apiq/domain/user"
)

func TestSSOLogin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	acme := e.tenantWithAdmin(t, "acme")
	login, err := commands.NewSSOLoginHandler(e.deps)
	require.NoError(t, err)
	const issuer = "https://idp.example"
	identity := func(subject, email string, verified bool, role user.Role) commands.SSOLogin {
		return commands.SSOLogin{TenantID: acme.TenantID, Issuer: issuer, Subject: subject, Email: email,
			EmailVerified: verified, Name: "Grace Hopper", Role: role}
	}

	// First login: the user is created just in time with the mapped role.
	first, err := login.Handle(ctx, anonymous("s1"), identity("sub-grace", "grace@example.com", true, user.RoleAuditor))
	require.NoError(t, err)
	assert.Equal(t, user.RoleAuditor, first.Role)
	claims, err := e.signer.Verify(first.AccessToken)
	require.NoError(t, err)
	assert.Equal(t, "sso", claims.AuthMethod)
	assert.Equal(t, first.UserID, claims.UserID)
	evs := e.stream(t, user.Stream(first.UserID))
	assert.Equal(t, []string{user.TypeCreated, user.TypeLoggedIn}, types(evs))
	last := evs[len(evs)-1].Metadata.Actor
	assert.Equal(t, issuer, last.SSOIssuer)
	assert.Equal(t, "sub-grace", last.SSOSubject)
	assert.Equal(t, first.UserID, last.Subject)
	assert.Equal(t, "sso", last.AuthMethod)

	// Again, even with another email and an unverified one: the subject is linked.
	again, err := login.Handle(ctx, anonymous("s2"), identity("sub-grace", "other@example.com", false, user.RoleAdmin))
	require.NoError(t, err)
	assert.Equal(t, first.UserID, again.UserID)
	assert.Equal(t, user.RoleAuditor, again.Role, "an existing user keeps their role")

	// An existing user is linked by verified email only.
	_, err = login.Handle(ctx, anonymous("s3"), identity("sub-ada", "ada@example.com", false, user.RoleUser))
	assert.ErrorIs(t, err, commands.ErrSSOEmailUnverified)
	ada, err := login.Handle(ctx, anonymous("s4"), identity("sub-ada", "ADA@example.com", true, user.RoleUser))
	require.NoError(t, err)
	assert.Equal(t, acme.AdminUserID, ada.UserID)
	assert.Equal(t, user.RoleAdmin, ada.Role)

	// A disabled user is refused, and the refusal recorded.
	disabled := true
	_, err = e.updateUser.Handle(ctx, adminOf(acme.TenantID, acme.AdminUserID, "disable"), commands.UpdateUser{
		UserID: first.UserID, Disabled: &disabled})
	require.NoError(t, err)
	_, err = login.Handle(ctx, anonymous("s5"), identity("sub-grace", "grace@example.com", true, user.RoleUser))
	assert.ErrorIs(t, err, user.ErrInvalidCredentials)
	evs = e.stream(t, user.Stream(first.UserID))
	assert.Equal(t, user.TypeLoginFailed, evs[len(evs)-1].Type)

	// Another tenant's identity with the same subject is another user.
	other := e.tenantWithAdmin(t, "other")
	elsewhere, err := login.Handle(ctx, anonymous("s6"), commands.SSOLogin{TenantID: other.TenantID, Issuer: issuer,
		Subject: "sub-grace", Email: "grace@example.com", EmailVerified: true, Role: user.RoleUser})
	require.NoError(t, err)
	assert.NotEqual(t, first.UserID, elsewhere.UserID)
	assert.Equal(t, other.TenantID, elsewhere.TenantID)

	_, err = login.Handle(ctx, anonymous("s7"), commands.SSOLogin{TenantID: "missing", Issuer: issuer, Subject: "x",
		Email: "x@example.com", EmailVerified: true, Role: user.RoleUser})
	assert.Error(t, err, "no just-in-time user in a tenant that does not exist")
}
