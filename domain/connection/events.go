// Package connection is the connection aggregate: an external API a tenant
// registered from its OpenAPI document, with its credentials and catalogue.
package connection

import (
	"encoding/json"
	"time"

	"github.com/apiq/apiq/domain"
)

// StreamPrefix names connection streams: "connection-<id>".
const StreamPrefix = "connection-"

// Event types of the connection aggregate.
const (
	TypeRegistered              = "connection.registered"
	TypeUpdated                 = "connection.updated"
	TypeDocumentImported        = "connection.document_imported"
	TypeEndpointsDiscovered     = "connection.endpoints_discovered"
	TypeCredentialsSet          = "connection.credentials_set"
	TypeCredentialsRotated      = "connection.credentials_rotated"
	TypeOAuthTokensRefreshed    = "connection.oauth_tokens_refreshed"
	TypeReauthorizationRequired = "connection.reauthorization_required"
	TypeTested                  = "connection.tested"
	TypeDisabled                = "connection.disabled"
	TypeEnabled                 = "connection.enabled"
	TypeDeleted                 = "connection.deleted"
)

// Registered records a new connection.
type Registered struct {
	ConnectionID string `json:"connection_id"`
	Name         string `json:"name"`
	BaseURL      string `json:"base_url"`
	// DocumentURL is where the document was fetched from, when it was.
	DocumentURL string `json:"document_url,omitempty"`
}

// Updated records changed fields; absent fields did not change.
type Updated struct {
	Name    *string `json:"name,omitempty"`
	BaseURL *string `json:"base_url,omitempty"`
}

// Warning is something of the document that could not be represented, with
// where it is (JSON pointer, line).
type Warning struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Pointer string `json:"pointer,omitempty"`
	Line    int    `json:"line,omitempty"`
}

// DocumentImported records an imported OpenAPI document. The document itself
// is stored once by content hash (blob store); the event carries the hash.
type DocumentImported struct {
	DocumentHash   string    `json:"document_hash"`
	DocumentBytes  int64     `json:"document_bytes"`
	OpenAPIVersion string    `json:"openapi_version"`
	Title          string    `json:"title,omitempty"`
	APIVersion     string    `json:"api_version,omitempty"`
	OperationCount int       `json:"operation_count"`
	Warnings       []Warning `json:"warnings,omitempty"`
}

// OperationRef names one operation in a catalogue diff.
type OperationRef struct {
	Method      string `json:"method"`
	Path        string `json:"path"`
	OperationID string `json:"operation_id"`
}

// OperationChange is an operation whose parameters, body, responses or
// security changed, with what changed in words.
type OperationChange struct {
	OperationRef
	Changes []string `json:"changes"`
}

// EndpointsDiscovered records the connection's catalogue: the JSON array of
// openapi.Operation stored in the blob store under CatalogueHash, and how it
// differs from the previous catalogue (empty on the first import).
type EndpointsDiscovered struct {
	DocumentHash   string            `json:"document_hash"`
	CatalogueHash  string            `json:"catalogue_hash"`
	OperationCount int               `json:"operation_count"`
	Added          []OperationRef    `json:"added,omitempty"`
	Removed        []OperationRef    `json:"removed,omitempty"`
	Changed        []OperationChange `json:"changed,omitempty"`
}

// Credentials describes a connection's credentials without revealing them:
// secret fields travel only as vault ciphertexts (scope: tenant, connection,
// field), so deleting the connection's data key shreds them.
type Credentials struct {
	// Type is none, api_key, bearer, basic, oauth2_client_credentials or
	// oauth2_authorization_code.
	Type string `json:"type"`
	// Hint is a masked rendering for people ("sk_…4242").
	Hint string `json:"hint,omitempty"`
	// KeyID is the vault data key that sealed the secrets.
	KeyID string `json:"key_id,omitempty"`
	// Public holds the non-secret settings (api key name and location, basic
	// username, OAuth client id, token/authorize URLs, scopes, scheme name).
	Public map[string]string `json:"public,omitempty"`
	// Sealed holds vault ciphertexts by field (api_key, token, password,
	// client_secret, access_token, refresh_token).
	Sealed map[string]string `json:"sealed,omitempty"`
	// ExpiresAt is when an OAuth access token expires.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// CredentialsSet records credentials given for the first time (or replaced
// together with a changed base URL).
type CredentialsSet struct {
	Credentials
}

// CredentialsRotated records replaced credentials.
type CredentialsRotated struct {
	Credentials
}

// OAuthTokensRefreshed records new OAuth tokens (sealed), including a rotated
// refresh token.
type OAuthTokensRefreshed struct {
	KeyID  string            `json:"key_id"`
	Sealed map[string]string `json:"sealed"`
	// ExpiresAt is when the new access token expires.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// ReauthorizationRequired records that the provider refused the tokens
// (a 401 after a refresh, or a refused refresh): a person must reconnect.
type ReauthorizationRequired struct {
	Reason string `json:"reason"`
}

// Tested records a test call's outcome.
type Tested struct {
	Method     string `json:"method"`
	Path       string `json:"path"`
	OK         bool   `json:"ok"`
	Status     int    `json:"status,omitempty"`
	DurationMS int64  `json:"duration_ms"`
	Error      string `json:"error,omitempty"`
}

// Disabled records that the connection may not be used.
type Disabled struct {
	Reason string `json:"reason,omitempty"`
}

// Enabled records that a disabled connection may be used again.
type Enabled struct{}

// Deleted records the deletion; the connection's data key is destroyed
// afterwards (crypto-shredding) while its events stay.
type Deleted struct{}

// EventType implements domain.Event.
func (Registered) EventType() string { return TypeRegistered }

// EventType implements domain.Event.
func (Updated) EventType() string { return TypeUpdated }

// EventType implements domain.Event.
func (DocumentImported) EventType() string { return TypeDocumentImported }

// EventType implements domain.Event.
func (EndpointsDiscovered) EventType() string { return TypeEndpointsDiscovered }

// EventType implements domain.Event.
func (CredentialsSet) EventType() string { return TypeCredentialsSet }

// EventType implements domain.Event.
func (CredentialsRotated) EventType() string { return TypeCredentialsRotated }

// EventType implements domain.Event.
func (OAuthTokensRefreshed) EventType() string { return TypeOAuthTokensRefreshed }

// EventType implements domain.Event.
func (ReauthorizationRequired) EventType() string { return TypeReauthorizationRequired }

// EventType implements domain.Event.
func (Tested) EventType() string { return TypeTested }

// EventType implements domain.Event.
func (Disabled) EventType() string { return TypeDisabled }

// EventType implements domain.Event.
func (Enabled) EventType() string { return TypeEnabled }

// EventType implements domain.Event.
func (Deleted) EventType() string { return TypeDeleted }

// SchemaVersion implements domain.Event.
func (Registered) SchemaVersion() int { return 1 }

// SchemaVersion implements domain.Event.
func (Updated) SchemaVersion() int { return 1 }

// SchemaVersion implements domain.Event.
func (DocumentImported) SchemaVersion() int { return 1 }

// SchemaVersion implements domain.Event.
func (EndpointsDiscovered) SchemaVersion() int { return 1 }

// SchemaVersion implements domain.Event.
func (CredentialsSet) SchemaVersion() int { return 1 }

// SchemaVersion implements domain.Event.
func (CredentialsRotated) SchemaVersion() int { return 1 }

// SchemaVersion implements domain.Event.
func (OAuthTokensRefreshed) SchemaVersion() int { return 1 }

// SchemaVersion implements domain.Event.
func (ReauthorizationRequired) SchemaVersion() int { return 1 }

// SchemaVersion implements domain.Event.
func (Tested) SchemaVersion() int { return 1 }

// SchemaVersion implements domain.Event.
func (Disabled) SchemaVersion() int { return 1 }

// SchemaVersion implements domain.Event.
func (Enabled) SchemaVersion() int { return 1 }

// SchemaVersion implements domain.Event.
func (Deleted) SchemaVersion() int { return 1 }

// Decode decodes a stored connection event; ok is false for other types.
func Decode(eventType string, version int, data json.RawMessage) (domain.Event, bool, error) {
	return domain.Registry{
		TypeRegistered:              domain.JSONDecoder[Registered](1),
		TypeUpdated:                 domain.JSONDecoder[Updated](1),
		TypeDocumentImported:        domain.JSONDecoder[DocumentImported](1),
		TypeEndpointsDiscovered:     domain.JSONDecoder[EndpointsDiscovered](1),
		TypeCredentialsSet:          domain.JSONDecoder[CredentialsSet](1),
		TypeCredentialsRotated:      domain.JSONDecoder[CredentialsRotated](1),
		TypeOAuthTokensRefreshed:    domain.JSONDecoder[OAuthTokensRefreshed](1),
		TypeReauthorizationRequired: domain.JSONDecoder[ReauthorizationRequired](1),
		TypeTested:                  domain.JSONDecoder[Tested](1),
		TypeDisabled:                domain.JSONDecoder[Disabled](1),
		TypeEnabled:                 domain.JSONDecoder[Enabled](1),
		TypeDeleted:                 domain.JSONDecoder[Deleted](1),
	}.Decode(eventType, version, data)
}
