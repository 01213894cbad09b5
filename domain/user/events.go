package user

import (
	"encoding/json"
	"time"

	"github.com/apiq/apiq/domain"
)

// Event types of the user aggregate.
const (
	TypeCreated         = "user.created"
	TypeUpdated         = "user.updated"
	TypeDeleted         = "user.deleted"
	TypeLoggedIn        = "user.logged_in"
	TypeLoginFailed     = "user.login_failed"
	TypeAPITokenIssued  = "user.api_token_issued"
	TypeAPITokenRevoked = "user.api_token_revoked"

	TypeTOTPEnrollmentStarted = "user.totp_enrollment_started"
	TypeTOTPConfirmed         = "user.totp_confirmed"
	TypeTOTPDisabled          = "user.totp_disabled"
)

// Created records a new user. Personal data travels only as ciphertext
// under the user's own data key, so destroying that key forgets it.
type Created struct {
	UserID   string `json:"user_id"`
	TenantID string `json:"tenant_id"`
	// EncryptedEmail and EncryptedName are vault ciphertexts.
	EncryptedEmail string `json:"email_encrypted"`
	EncryptedName  string `json:"name_encrypted"`
	// EmailIndex is the blind index (keyed HMAC) of tenant and lower-cased
	// email that names the email's reservation stream.
	EmailIndex   string `json:"email_index"`
	Role         Role   `json:"role"`
	PasswordHash string `json:"password_hash"`
}

// Updated records changed fields; absent fields did not change.
type Updated struct {
	EncryptedName *string `json:"name_encrypted,omitempty"`
	Role          *Role   `json:"role,omitempty"`
	Disabled      *bool   `json:"disabled,omitempty"`
	PasswordHash  *string `json:"password_hash,omitempty"`
}

// Deleted records that the user was deleted; the user's data key is
// destroyed afterwards, so the email and name in earlier events become unreadable.
type Deleted struct{}

// LoggedIn records a successful login.
type LoggedIn struct {
	Method string `json:"method"`
	// OTPStep is the time step of the one-time code the login used (a
	// code works once).
	OTPStep int64 `json:"otp_step,omitempty"`
	// Scope restricts the login's token (ScopeTOTPEnrollment).
	Scope string `json:"scope,omitempty"`
}

// LoginFailed records a refused login of an existing user.
type LoginFailed struct {
	Reason string `json:"reason"`
}

// APITokenIssued records a new machine token. Only the SHA-256 of its
// secret is recorded, never the secret.
type APITokenIssued struct {
	TokenID    string     `json:"token_id"`
	Name       string     `json:"name"`
	SecretHash string     `json:"secret_hash"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
}

// APITokenRevoked records that a machine token stopped working.
type APITokenRevoked struct {
	TokenID string `json:"token_id"`
}

// TOTPEnrollmentStarted records a new TOTP secret waiting for its first
// code. The secret travels only sealed under the user's own data key.
type TOTPEnrollmentStarted struct {
	SealedSecret string `json:"secret_sealed"`
}

// TOTPConfirmed records that the pending secret produced a valid code: the
// user's password logins need a code from now on.
type TOTPConfirmed struct {
	Step int64 `json:"step"`
}

// TOTPDisabled records that the second factor was turned off, by the user
// with a code (Step) or reset by an ADMIN.
type TOTPDisabled struct {
	Step  int64 `json:"step,omitempty"`
	Reset bool  `json:"reset,omitempty"`
}

// EventType implements domain.Event.
func (Created) EventType() string { return TypeCreated }

// SchemaVersion implements domain.Event.
func (Created) SchemaVersion() int { return 1 }

// EventType implements domain.Event.
func (Updated) EventType() string { return TypeUpdated }

// SchemaVersion implements domain.Event.
func (Updated) SchemaVersion() int { return 1 }

// EventType implements domain.Event.
func (Deleted) EventType() string { return TypeDeleted }

// SchemaVersion implements domain.Event.
func (Deleted) SchemaVersion() int { return 1 }

// EventType implements domain.Event.
func (LoggedIn) EventType() string { return TypeLoggedIn }

// SchemaVersion implements domain.Event.
func (LoggedIn) SchemaVersion() int { return 1 }

// EventType implements domain.Event.
func (LoginFailed) EventType() string { return TypeLoginFailed }

// SchemaVersion implements domain.Event.
func (LoginFailed) SchemaVersion() int { return 1 }

// EventType implements domain.Event.
func (APITokenIssued) EventType() string { return TypeAPITokenIssued }

// SchemaVersion implements domain.Event.
func (APITokenIssued) SchemaVersion() int { return 1 }

// EventType implements domain.Event.
func (APITokenRevoked) EventType() string { return TypeAPITokenRevoked }

// SchemaVersion implements domain.Event.
func (APITokenRevoked) SchemaVersion() int { return 1 }

// EventType implements domain.Event.
func (TOTPEnrollmentStarted) EventType() string { return TypeTOTPEnrollmentStarted }

// SchemaVersion implements domain.Event.
func (TOTPEnrollmentStarted) SchemaVersion() int { return 1 }

// EventType implements domain.Event.
func (TOTPConfirmed) EventType() string { return TypeTOTPConfirmed }

// SchemaVersion implements domain.Event.
func (TOTPConfirmed) SchemaVersion() int { return 1 }

// EventType implements domain.Event.
func (TOTPDisabled) EventType() string { return TypeTOTPDisabled }

// SchemaVersion implements domain.Event.
func (TOTPDisabled) SchemaVersion() int { return 1 }

// Decode decodes a stored user event; ok is false for other types.
func Decode(eventType string, version int, data json.RawMessage) (domain.Event, bool, error) {
	return domain.Registry{
		TypeCreated:         domain.JSONDecoder[Created](1),
		TypeUpdated:         domain.JSONDecoder[Updated](1),
		TypeDeleted:         domain.JSONDecoder[Deleted](1),
		TypeLoggedIn:        domain.JSONDecoder[LoggedIn](1),
		TypeLoginFailed:     domain.JSONDecoder[LoginFailed](1),
		TypeAPITokenIssued:  domain.JSONDecoder[APITokenIssued](1),
		TypeAPITokenRevoked: domain.JSONDecoder[APITokenRevoked](1),

		TypeTOTPEnrollmentStarted: domain.JSONDecoder[TOTPEnrollmentStarted](1),
		TypeTOTPConfirmed:         domain.JSONDecoder[TOTPConfirmed](1),
		TypeTOTPDisabled:          domain.JSONDecoder[TOTPDisabled](1),
	}.Decode(eventType, version, data)
}
