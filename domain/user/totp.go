package user

import (
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/apiq/apiq/domain"
)

// TOTP parameters (RFC 6238 defaults, which every authenticator app reads
// from the otpauth:// URL): 6 digits, SHA-1, 30-second steps, and one step
// of clock skew either side.
const (
	TOTPPeriod = 30
	TOTPDigits = 6
	TOTPSkew   = 1
)

// TOTPSecretField is the vault field a user's TOTP secret is sealed under
// (with the user's own data key, so deleting the user forgets it).
const TOTPSecretField = "totp_secret"

// ScopeTOTPEnrollment is the scope of the restricted token a password login
// gets when the tenant requires TOTP and the user has none: it allows only
// the enrolment routes.
const ScopeTOTPEnrollment = "totp_enrollment"

// Login failure reasons of the second factor.
const (
	ReasonOTPRequired = "otp_required"
	ReasonInvalidOTP  = "invalid_otp"
)

// Errors of the second factor.
var (
	ErrTOTPAlreadyEnabled = domain.NewError(domain.ErrConflict, "totp_already_enabled",
		"TOTP is already enabled for this user; disable it first")
	ErrTOTPNotStarted = domain.NewError(domain.ErrConflict, "totp_not_started",
		"no TOTP enrolment is pending (or another one replaced it); start the enrolment again")
	ErrTOTPNotEnabled = domain.NewError(domain.ErrConflict, "totp_not_enabled", "TOTP is not enabled for this user")
	ErrTOTPRequired   = domain.NewError(domain.ErrConflict, "totp_required",
		"the tenant requires TOTP: it cannot be disabled")
	// ErrWrongCode refuses a code that confirms or disables TOTP.
	ErrWrongCode = domain.Invalid("code", "invalid_otp", "the code is wrong, expired or already used")
	// ErrOTPRequired refuses a password login of a user with TOTP that
	// gave no code.
	ErrOTPRequired = domain.NewError(domain.ErrUnauthenticated, ReasonOTPRequired, "a one-time code is required")
	// ErrInvalidOTP refuses a password login whose code is wrong, expired
	// or already used.
	ErrInvalidOTP = domain.NewError(domain.ErrUnauthenticated, ReasonInvalidOTP,
		"the one-time code is wrong, expired or already used")
)

// TOTP is what the aggregate remembers of the user's second factor: vault
// ciphertexts only.
type TOTP struct {
	// Pending is the sealed secret of an enrolment not confirmed yet.
	Pending string
	// Secret is the sealed secret of the confirmed second factor.
	Secret string
	// LastStep is the last time step whose code was accepted: a code works once.
	LastStep int64
}

// TOTPEnabled reports whether the user's password logins need a code.
func (s State) TOTPEnabled() bool { return s.TOTP.Secret != "" }

// StartTOTP starts (or restarts) an enrolment with a freshly sealed secret.
type StartTOTP struct{ SealedSecret string }

// ConfirmTOTP confirms the pending enrolment whose sealed secret the
// command checked the code against; Step is the code's time step (0: the
// code matched no step).
type ConfirmTOTP struct {
	SealedSecret string
	Step         int64
}

// DisableTOTP turns the second factor off. Step is the time step of the
// code the user gave (0: wrong); Reset skips the code (an ADMIN's reset of
// a lost device). TenantRequires refuses it.
type DisableTOTP struct {
	SealedSecret   string
	Step           int64
	Reset          bool
	TenantRequires bool
}

func (StartTOTP) isUserCommand()   {}
func (ConfirmTOTP) isUserCommand() {}
func (DisableTOTP) isUserCommand() {}

func decideTOTP(s State, cmd Command) ([]domain.Event, error) {
	if !s.Live() {
		return nil, ErrNotFound
	}
	switch c := cmd.(type) {
	case StartTOTP:
		switch {
		case s.Disabled:
			return nil, ErrDisabled
		case s.TOTPEnabled():
			return nil, ErrTOTPAlreadyEnabled
		case c.SealedSecret == "":
			return nil, domain.Invalid("", "invalid_secret", "a sealed secret is required")
		}
		return []domain.Event{TOTPEnrollmentStarted(c)}, nil
	case ConfirmTOTP:
		switch {
		case s.TOTPEnabled():
			return nil, ErrTOTPAlreadyEnabled
		case s.TOTP.Pending == "" || c.SealedSecret != s.TOTP.Pending:
			return nil, ErrTOTPNotStarted
		case c.Step <= 0:
			return nil, ErrWrongCode
		}
		return []domain.Event{TOTPConfirmed{Step: c.Step}}, nil
	case DisableTOTP:
		switch {
		case !s.TOTPEnabled():
			return nil, ErrTOTPNotEnabled
		case c.TenantRequires && !c.Reset:
			return nil, ErrTOTPRequired
		case c.Reset:
			return []domain.Event{TOTPDisabled{Reset: true}}, nil
		case c.SealedSecret != s.TOTP.Secret || c.Step <= s.TOTP.LastStep:
			return nil, ErrWrongCode
		}
		return []domain.Event{TOTPDisabled{Step: c.Step}}, nil
	}
	return nil, domain.Invalid("", "unknown_command", "unknown user command")
}

// decideLoginOTP decides a password login of a live, enabled user whose
// password matched: the code when the user has TOTP, a restricted login
// when the tenant requires TOTP and the user has none.
func decideLoginOTP(s State, c RecordLogin) domain.Event {
	switch {
	case s.TOTPEnabled() && !c.OTPGiven:
		return LoginFailed{Reason: ReasonOTPRequired}
	case s.TOTPEnabled() && (c.OTPSealedSecret != s.TOTP.Secret || c.OTPStep <= s.TOTP.LastStep):
		return LoginFailed{Reason: ReasonInvalidOTP}
	case s.TOTPEnabled():
		return LoggedIn{Method: c.Method, OTPStep: c.OTPStep}
	case c.TenantRequiresTOTP:
		return LoggedIn{Method: c.Method, Scope: ScopeTOTPEnrollment}
	}
	return LoggedIn{Method: c.Method}
}

// NewTOTPSecret generates a random TOTP secret (base32, 160 bits).
func NewTOTPSecret() (string, error) {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "APIQ", AccountName: "new", Period: TOTPPeriod,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return "", fmt.Errorf("generate totp secret: %w", err)
	}
	return key.Secret(), nil
}

// TOTPURL is the otpauth:// URL that authenticator apps scan (as a QR
// code) to add the secret under issuer and account.
func TOTPURL(issuer, account, secret string) (string, error) {
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		return "", fmt.Errorf("totp secret: %w", err)
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: account, Period: TOTPPeriod,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1, Secret: raw})
	if err != nil {
		return "", fmt.Errorf("totp url: %w", err)
	}
	return key.URL(), nil
}

// MatchTOTP returns the time step (Unix seconds / 30) whose code is code,
// among the steps within the skew around now; 0 when none matches.
// Callers refuse steps already used.
func MatchTOTP(secret, code string, now time.Time) int64 {
	if len(code) != TOTPDigits {
		return 0
	}
	for _, c := range code {
		if c < '0' || c > '9' {
			return 0
		}
	}
	current := now.Unix() / TOTPPeriod
	var found int64
	for step := current - TOTPSkew; step <= current+TOTPSkew; step++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*TOTPPeriod, 0), totp.ValidateOpts{
			Period: TOTPPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
		})
		if err != nil {
			return 0
		}
		// Every step is compared, in constant time, so the timing says
		// nothing about which one matched; the latest match wins.
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			found = step
		}
	}
	return found
}
