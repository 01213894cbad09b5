package user_test

import (
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/user"
)

func TestDecideTOTP(t *testing.T) {
	t.Parallel()
	live := fold(created)
	pending := fold(created, user.TOTPEnrollmentStarted{SealedSecret: "sealed-1"})
	enabled := fold(created, user.TOTPEnrollmentStarted{SealedSecret: "sealed-1"}, user.TOTPConfirmed{Step: 100})
	disabledUser := fold(created, user.Updated{Disabled: ptr(true)})
	login := func(step int64, secret string) user.RecordLogin {
		return user.RecordLogin{PasswordOK: true, Method: "password", SecondFactor: true,
			OTPGiven: true, OTPStep: step, OTPSealedSecret: secret}
	}
	tests := []struct {
		name    string
		state   user.State
		cmd     user.Command
		want    []domain.Event
		wantErr error
	}{
		{"start", live, user.StartTOTP{SealedSecret: "sealed-1"},
			[]domain.Event{user.TOTPEnrollmentStarted{SealedSecret: "sealed-1"}}, nil},
		{"restart replaces the pending secret", pending, user.StartTOTP{SealedSecret: "sealed-2"},
			[]domain.Event{user.TOTPEnrollmentStarted{SealedSecret: "sealed-2"}}, nil},
		{"start when enabled", enabled, user.StartTOTP{SealedSecret: "sealed-2"}, nil, user.ErrTOTPAlreadyEnabled},
		{"start for a disabled user", disabledUser, user.StartTOTP{SealedSecret: "s"}, nil, user.ErrDisabled},
		{"start without secret", live, user.StartTOTP{}, nil, domain.ErrInvalid},
		{"start for a missing user", user.State{}, user.StartTOTP{SealedSecret: "s"}, nil, user.ErrNotFound},
		{"confirm", pending, user.ConfirmTOTP{SealedSecret: "sealed-1", Step: 101},
			[]domain.Event{user.TOTPConfirmed{Step: 101}}, nil},
		{"confirm with a wrong code", pending, user.ConfirmTOTP{SealedSecret: "sealed-1"}, nil, user.ErrWrongCode},
		{"confirm a replaced enrolment", pending, user.ConfirmTOTP{SealedSecret: "sealed-0", Step: 101}, nil, user.ErrTOTPNotStarted},
		{"confirm without enrolment", live, user.ConfirmTOTP{SealedSecret: "sealed-1", Step: 101}, nil, user.ErrTOTPNotStarted},
		{"confirm twice", enabled, user.ConfirmTOTP{SealedSecret: "sealed-1", Step: 102}, nil, user.ErrTOTPAlreadyEnabled},
		{"disable", enabled, user.DisableTOTP{SealedSecret: "sealed-1", Step: 101},
			[]domain.Event{user.TOTPDisabled{Step: 101}}, nil},
		{"disable with the used code", enabled, user.DisableTOTP{SealedSecret: "sealed-1", Step: 100}, nil, user.ErrWrongCode},
		{"disable with a wrong code", enabled, user.DisableTOTP{SealedSecret: "sealed-1"}, nil, user.ErrWrongCode},
		{"disable when the tenant requires it", enabled, user.DisableTOTP{SealedSecret: "sealed-1", Step: 101, TenantRequires: true},
			nil, user.ErrTOTPRequired},
		{"admin reset even when required", enabled, user.DisableTOTP{Reset: true, TenantRequires: true},
			[]domain.Event{user.TOTPDisabled{Reset: true}}, nil},
		{"disable when not enabled", pending, user.DisableTOTP{Reset: true}, nil, user.ErrTOTPNotEnabled},
		{"login without TOTP", live, user.RecordLogin{PasswordOK: true, Method: "password", SecondFactor: true},
			[]domain.Event{user.LoggedIn{Method: "password"}}, nil},
		{"login without TOTP in a tenant that requires it", live,
			user.RecordLogin{PasswordOK: true, Method: "password", SecondFactor: true, TenantRequiresTOTP: true},
			[]domain.Event{user.LoggedIn{Method: "password", Scope: user.ScopeTOTPEnrollment}}, nil},
		{"login with a pending enrolment only", pending, user.RecordLogin{PasswordOK: true, Method: "password", SecondFactor: true},
			[]domain.Event{user.LoggedIn{Method: "password"}}, nil},
		{"login with TOTP and no code", enabled, user.RecordLogin{PasswordOK: true, Method: "password", SecondFactor: true},
			[]domain.Event{user.LoginFailed{Reason: user.ReasonOTPRequired}}, nil},
		{"login with a code", enabled, login(101, "sealed-1"),
			[]domain.Event{user.LoggedIn{Method: "password", OTPStep: 101}}, nil},
		{"login with a used code", enabled, login(100, "sealed-1"),
			[]domain.Event{user.LoginFailed{Reason: user.ReasonInvalidOTP}}, nil},
		{"login with a wrong code", enabled, login(0, "sealed-1"),
			[]domain.Event{user.LoginFailed{Reason: user.ReasonInvalidOTP}}, nil},
		{"login with a code of another secret", enabled, login(101, "sealed-0"),
			[]domain.Event{user.LoginFailed{Reason: user.ReasonInvalidOTP}}, nil},
		{"login with a wrong password says nothing of the code", enabled, user.RecordLogin{Method: "password", SecondFactor: true},
			[]domain.Event{user.LoginFailed{Reason: user.ReasonInvalidPassword}}, nil},
		{"sso login skips the second factor", enabled, user.RecordLogin{PasswordOK: true, Method: "sso"},
			[]domain.Event{user.LoggedIn{Method: "sso"}}, nil},
		{"disabled user with TOTP", fold(created, user.TOTPEnrollmentStarted{SealedSecret: "s"}, user.TOTPConfirmed{Step: 1},
			user.Updated{Disabled: ptr(true)}), login(5, "s"), []domain.Event{user.LoginFailed{Reason: user.ReasonDisabled}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := user.Decide(tc.state, tc.cmd)
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestEvolveTOTP(t *testing.T) {
	t.Parallel()
	pending := fold(created, user.TOTPEnrollmentStarted{SealedSecret: "s1"})
	assert.False(t, pending.TOTPEnabled())
	enabled := user.Evolve(pending, user.TOTPConfirmed{Step: 10})
	assert.True(t, enabled.TOTPEnabled())
	assert.Equal(t, user.TOTP{Secret: "s1", LastStep: 10}, enabled.TOTP)
	used := user.Evolve(enabled, user.LoggedIn{Method: "password", OTPStep: 12})
	assert.Equal(t, int64(12), used.TOTP.LastStep)
	assert.Equal(t, int64(12), user.Evolve(used, user.LoggedIn{Method: "sso"}).TOTP.LastStep, "other logins keep the step")
	assert.Equal(t, user.TOTP{}, user.Evolve(used, user.TOTPDisabled{Step: 13}).TOTP)
	assert.Equal(t, user.TOTP{}, user.Evolve(used, user.Deleted{}).TOTP, "deletion forgets the sealed secret")
	assert.Equal(t, int64(10), enabled.TOTP.LastStep, "folding keeps earlier states")
}

func TestMatchTOTP(t *testing.T) {
	t.Parallel()
	secret, err := user.NewTOTPSecret()
	require.NoError(t, err)
	assert.Len(t, secret, 32, "160 bits in base32")
	url, err := user.TOTPURL("APIQ", "ada@example.com", secret)
	require.NoError(t, err)
	assert.Contains(t, url, "otpauth://totp/APIQ:ada@example.com?")
	assert.Contains(t, url, "secret="+secret)
	now := time.Date(2030, 1, 1, 12, 0, 10, 0, time.UTC)
	step := now.Unix() / user.TOTPPeriod
	code := func(at time.Time) string {
		c, err := totp.GenerateCode(secret, at)
		require.NoError(t, err)
		return c
	}
	tests := []struct {
		name string
		code string
		want int64
	}{
		{"current step", code(now), step},
		{"previous step (skew)", code(now.Add(-30 * time.Second)), step - 1},
		{"next step (skew)", code(now.Add(30 * time.Second)), step + 1},
		{"two steps old", code(now.Add(-60 * time.Second)), 0},
		{"too short", "12345", 0},
		{"not digits", "12a456", 0},
		{"empty", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// (A code of a step outside the window collides with one inside
			// it once in about 330,000 runs.)
			assert.Equal(t, tc.want, user.MatchTOTP(secret, tc.code, now))
		})
	}
}
