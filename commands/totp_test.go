package commands_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/vault"
	"github.com/apiq/apiq/commands"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/tenant"
	"github.com/apiq/apiq/domain/user"
)

// clock is a settable clock for the TOTP time steps.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// totpEnv is the command side with the TOTP handlers on a settable clock.
type totpEnv struct {
	*env
	clock    *clock
	start    commands.StartTOTPHandler
	confirm  commands.ConfirmTOTPHandler
	disable  commands.DisableTOTPHandler
	reset    commands.ResetTOTPHandler
	security commands.SetTenantSecurityHandler
	login    commands.LoginHandler
}

func newTOTPEnv(t *testing.T) *totpEnv {
	t.Helper()
	e := &totpEnv{env: newEnv(t), clock: &clock{now: time.Date(2030, 1, 1, 12, 0, 5, 0, time.UTC)}}
	d := e.deps
	d.Now = e.clock.Now
	var err error
	e.start, err = commands.NewStartTOTPHandler(d)
	require.NoError(t, err)
	e.confirm, err = commands.NewConfirmTOTPHandler(d)
	require.NoError(t, err)
	e.disable, err = commands.NewDisableTOTPHandler(d)
	require.NoError(t, err)
	e.reset, err = commands.NewResetTOTPHandler(d)
	require.NoError(t, err)
	e.security, err = commands.NewSetTenantSecurityHandler(d)
	require.NoError(t, err)
	e.login, err = commands.NewLoginHandler(d)
	require.NoError(t, err)
	return e
}

func (e *totpEnv) code(t *testing.T, secret string) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, e.clock.Now())
	require.NoError(t, err)
	return c
}

// memberOf is the metadata of a request by a tenant's user.
func memberOf(tenantID, userID, role, requestID string) commands.Meta {
	return commands.Meta{TenantID: tenantID, RequestID: requestID, ClientIP: "127.0.0.1", UserAgent: "test",
		Actor: eventstore.Actor{Subject: userID, Role: role, AuthMethod: "password"}}
}

func TestTOTPEnrolmentAndLogin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newTOTPEnv(t)
	acme := e.tenantWithAdmin(t, "acme")
	ada := func(req string) commands.Meta { return adminOf(acme.TenantID, acme.AdminUserID, req) }
	login := func(req, otp string) (commands.LoginResult, error) {
		return e.login.Handle(ctx, anonymous(req), commands.Login{Email: "ada@example.com", Password: "correct horse battery",
			TenantID: acme.TenantID, OTP: otp})
	}

	started, err := e.start.Handle(ctx, ada("start-1"), commands.StartTOTP{Account: "ada@example.com"})
	require.NoError(t, err)
	assert.Len(t, started.Secret, 32)
	assert.Contains(t, started.URL, "otpauth://totp/APIQ:ada@example.com?")
	evs := e.stream(t, user.Stream(acme.AdminUserID))
	last := evs[len(evs)-1]
	require.Equal(t, user.TypeTOTPEnrollmentStarted, last.Type)
	assert.NotContains(t, string(last.Data), started.Secret, "the secret is recorded sealed only")
	sealed := mustDecode[user.TOTPEnrollmentStarted](t, last.Data).SealedSecret
	opened, err := e.vault.DecryptString(ctx, vault.Scope{Tenant: acme.TenantID, Owner: user.KeyOwner(acme.AdminUserID),
		Field: user.TOTPSecretField}, sealed)
	require.NoError(t, err)
	assert.Equal(t, started.Secret, opened, "sealed under the user's own data key")

	retried, err := e.start.Handle(ctx, ada("start-1"), commands.StartTOTP{Account: "ada@example.com"})
	require.NoError(t, err)
	assert.Equal(t, started.Secret, retried.Secret, "a retried request shows the secret it recorded")

	// Not enabled until confirmed: logins need no code yet.
	_, err = login("l0", "")
	require.NoError(t, err)
	_, err = e.confirm.Handle(ctx, ada("confirm-0"), commands.ConfirmTOTP{Code: "000000"})
	assert.ErrorIs(t, err, user.ErrWrongCode)
	_, err = e.confirm.Handle(ctx, ada("confirm-1"), commands.ConfirmTOTP{Code: e.code(t, started.Secret)})
	require.NoError(t, err)
	_, err = e.start.Handle(ctx, ada("start-2"), commands.StartTOTP{})
	assert.ErrorIs(t, err, user.ErrTOTPAlreadyEnabled)

	// The confirming code is used; the next step's code logs in once.
	e.clock.Advance(30 * time.Second)
	code := e.code(t, started.Secret)
	tests := []struct {
		name    string
		otp     string
		wantErr error
		reason  string
	}{
		{"no code", "", user.ErrOTPRequired, user.ReasonOTPRequired},
		{"wrong code", "123456", user.ErrInvalidOTP, user.ReasonInvalidOTP},
		{"malformed code", "12 34", user.ErrInvalidOTP, user.ReasonInvalidOTP},
		{"right code", code, nil, ""},
		{"replayed code", code, user.ErrInvalidOTP, user.ReasonInvalidOTP},
	}
	for n, tc := range tests {
		res, err := login("login-"+tc.name, tc.otp)
		last := e.stream(t, user.Stream(acme.AdminUserID))[len(e.stream(t, user.Stream(acme.AdminUserID)))-1]
		if tc.wantErr != nil {
			assert.ErrorIs(t, err, tc.wantErr, tc.name)
			require.Equal(t, user.TypeLoginFailed, last.Type, tc.name)
			assert.Equal(t, tc.reason, mustDecode[user.LoginFailed](t, last.Data).Reason, tc.name)
			continue
		}
		require.NoError(t, err, tc.name)
		assert.Empty(t, res.Scope)
		require.Equal(t, user.TypeLoggedIn, last.Type, n)
		assert.Equal(t, e.clock.Now().Unix()/30, mustDecode[user.LoggedIn](t, last.Data).OTPStep)
	}
	_, err = e.login.Handle(ctx, anonymous("wrong-password"), commands.Login{Email: "ada@example.com",
		Password: "wrong horse battery", TenantID: acme.TenantID, OTP: code})
	assert.ErrorIs(t, err, user.ErrInvalidCredentials, "a wrong password says nothing of the code")

	// A code of the previous step is accepted (skew) only if no later one was used.
	e.clock.Advance(30 * time.Second)
	_, err = login("late", code)
	assert.ErrorIs(t, err, user.ErrInvalidOTP)
	_, err = login("next", e.code(t, started.Secret))
	require.NoError(t, err)
}

func TestTOTPRequiredByTheTenant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newTOTPEnv(t)
	acme, ada, bob := e.tenantWithBob(t)
	bobMeta := func(req string) commands.Meta { return memberOf(acme.TenantID, bob.UserID, "USER", req) }
	bobLogin := func(req, otp string) (commands.LoginResult, error) {
		return e.login.Handle(ctx, anonymous(req), commands.Login{Email: "bob@example.com", Password: "bobs password",
			TenantID: acme.TenantID, OTP: otp})
	}

	_, err := e.security.Handle(ctx, bobMeta("require-by-user"), commands.SetTenantSecurity{TOTPRequired: true})
	assert.ErrorIs(t, err, commands.ErrSecurityNeedsAdmin)
	set, err := e.security.Handle(ctx, ada("require"), commands.SetTenantSecurity{TOTPRequired: true})
	require.NoError(t, err)
	assert.True(t, set.TOTPRequired)
	tevs := e.stream(t, tenant.Stream(acme.TenantID))
	assert.Equal(t, tenant.TypeSecurityChanged, tevs[len(tevs)-1].Type)

	// Without TOTP: a short-lived token restricted to enrolling.
	res, err := bobLogin("b1", "")
	require.NoError(t, err)
	assert.Equal(t, user.ScopeTOTPEnrollment, res.Scope)
	assert.Equal(t, commands.RestrictedTokenTTL, res.ExpiresIn)
	claims, err := e.signer.Verify(res.AccessToken)
	require.NoError(t, err)
	assert.Equal(t, user.ScopeTOTPEnrollment, claims.Scope)

	started, err := e.start.Handle(ctx, bobMeta("b-start"), commands.StartTOTP{})
	require.NoError(t, err)
	assert.Contains(t, started.URL, bob.UserID, "the user id labels the entry without an account")
	_, err = e.confirm.Handle(ctx, bobMeta("b-confirm"), commands.ConfirmTOTP{Code: e.code(t, started.Secret)})
	require.NoError(t, err)
	_, err = bobLogin("b2", "")
	assert.ErrorIs(t, err, user.ErrOTPRequired)
	e.clock.Advance(30 * time.Second)
	res, err = bobLogin("b3", e.code(t, started.Secret))
	require.NoError(t, err)
	assert.Empty(t, res.Scope, "with the code: a full token")

	// Required: it cannot be disabled, only reset by an ADMIN.
	e.clock.Advance(30 * time.Second)
	_, err = e.disable.Handle(ctx, bobMeta("b-disable"), commands.DisableTOTP{Code: e.code(t, started.Secret)})
	assert.ErrorIs(t, err, user.ErrTOTPRequired)
	_, err = e.reset.Handle(ctx, bobMeta("b-reset-self"), commands.ResetTOTP{UserID: bob.UserID})
	assert.ErrorIs(t, err, commands.ErrTOTPResetNeedsAdmin)
	other := e.tenantWithAdmin(t, "other")
	_, err = e.reset.Handle(ctx, adminOf(other.TenantID, other.AdminUserID, "reset-foreign"), commands.ResetTOTP{UserID: bob.UserID})
	assert.ErrorIs(t, err, user.ErrNotFound, "another tenant's ADMIN does not find the user")
	_, err = e.reset.Handle(ctx, commands.Meta{TenantID: acme.TenantID, Actor: commands.SystemActor(), RequestID: "cli-reset"},
		commands.ResetTOTP{UserID: bob.UserID})
	require.NoError(t, err, "the command line resets too")
	res, err = bobLogin("b4", "")
	require.NoError(t, err)
	assert.Equal(t, user.ScopeTOTPEnrollment, res.Scope, "reset in a requiring tenant: enrol again")

	// Not required any more: the user disables it with a fresh code.
	started, err = e.start.Handle(ctx, bobMeta("b-start-2"), commands.StartTOTP{})
	require.NoError(t, err)
	_, err = e.confirm.Handle(ctx, bobMeta("b-confirm-2"), commands.ConfirmTOTP{Code: e.code(t, started.Secret)})
	require.NoError(t, err)
	_, err = e.security.Handle(ctx, ada("relax"), commands.SetTenantSecurity{})
	require.NoError(t, err)
	_, err = e.disable.Handle(ctx, bobMeta("b-disable-used"), commands.DisableTOTP{Code: e.code(t, started.Secret)})
	assert.ErrorIs(t, err, user.ErrWrongCode, "the confirming code was used")
	e.clock.Advance(30 * time.Second)
	_, err = e.disable.Handle(ctx, bobMeta("b-disable-2"), commands.DisableTOTP{Code: e.code(t, started.Secret)})
	require.NoError(t, err)
	_, err = e.disable.Handle(ctx, bobMeta("b-disable-3"), commands.DisableTOTP{Code: e.code(t, started.Secret)})
	assert.ErrorIs(t, err, user.ErrTOTPNotEnabled)
	res, err = bobLogin("b5", "")
	require.NoError(t, err)
	assert.Empty(t, res.Scope)
}

func TestTOTPSecretIsShreddedWithTheUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newTOTPEnv(t)
	acme, ada, bob := e.tenantWithBob(t)
	_, err := e.start.Handle(ctx, memberOf(acme.TenantID, bob.UserID, "USER", "start"), commands.StartTOTP{})
	require.NoError(t, err)
	_, err = e.deleteUser.Handle(ctx, ada("delete-bob"), commands.DeleteUser{UserID: bob.UserID})
	require.NoError(t, err)
	var sealed string
	for _, ev := range e.stream(t, user.Stream(bob.UserID)) {
		if ev.Type == user.TypeTOTPEnrollmentStarted {
			sealed = mustDecode[user.TOTPEnrollmentStarted](t, ev.Data).SealedSecret
		}
	}
	require.NotEmpty(t, sealed)
	_, err = e.vault.DecryptString(ctx, vault.Scope{Tenant: acme.TenantID, Owner: user.KeyOwner(bob.UserID),
		Field: user.TOTPSecretField}, sealed)
	assert.ErrorIs(t, err, vault.ErrKeyDestroyed)

	_, err = e.start.Handle(ctx, memberOf(acme.TenantID, bob.UserID, "USER", "start-again"), commands.StartTOTP{})
	assert.ErrorIs(t, err, user.ErrNotFound)
	_, err = e.confirm.Handle(ctx, memberOf(acme.TenantID, "", "USER", "confirm-nobody"), commands.ConfirmTOTP{Code: "123456"})
	assert.ErrorIs(t, err, domain.ErrNotFound)
}

// tenantWithBob creates a tenant with its ADMIN and a USER, Bob (password
// "bobs password"), and returns the tenant, the ADMIN's metadata maker and Bob.
func (e *totpEnv) tenantWithBob(t *testing.T) (commands.CreateTenantResult, func(req string) commands.Meta, commands.CreateUserResult) {
	t.Helper()
	acme := e.tenantWithAdmin(t, "acme")
	ada := func(req string) commands.Meta { return adminOf(acme.TenantID, acme.AdminUserID, req) }
	bob, err := e.createUser.Handle(context.Background(), ada("bob"), commands.CreateUser{
		Email: "bob@example.com", Name: "Bob", Password: "bobs password", Role: user.RoleUser,
	})
	require.NoError(t, err)
	return acme, ada, bob
}
