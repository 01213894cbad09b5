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
	}.Decode(eventType, version, data)
}
