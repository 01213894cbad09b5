// Package security holds the security events that belong to no user's
// stream: refused accesses and failed logins for unknown emails. They are
// appended to one stream per tenant without a version check, since nothing
// is decided from them.
package security

import (
	"encoding/json"

	"github.com/apiq/apiq/domain"
)

// Stream is the security stream of a tenant; an empty tenant (a login that
// named none and matched no user) gets the stream "security-unknown".
func Stream(tenantID string) string {
	if tenantID == "" {
		return "security-unknown"
	}
	return "security-" + tenantID
}

// Event types.
const (
	TypeAccessDenied  = "security.access_denied"
	TypeLoginFailed   = "security.login_failed"
	TypeAuditAccessed = "security.audit_accessed"
)

// AccessDenied records a request refused for lack of permission (403);
// the actor is in the event's metadata.
type AccessDenied struct {
	Method string `json:"method"`
	Route  string `json:"route"`
	Reason string `json:"reason,omitempty"`
}

// LoginFailed records a login for an email that matched no user. It holds
// the email's blind index, never the email.
type LoginFailed struct {
	EmailIndex string `json:"email_index"`
	Reason     string `json:"reason"`
}

// AuditAccessed records a read of the audit trail (a query, an export, a
// replay, a verification, the signed heads): auditors are audited. The
// reader is in the event's metadata.
type AuditAccessed struct {
	// Query names what was read: events, export, stream, timeline, verify or heads.
	Query string `json:"query"`
	// Filters are the parameters of the read, by name.
	Filters map[string]string `json:"filters,omitempty"`
}

// ReasonUnknownEmail is the LoginFailed reason when no user has the email.
const ReasonUnknownEmail = "unknown_email"

// EventType implements domain.Event.
func (AccessDenied) EventType() string { return TypeAccessDenied }

// SchemaVersion implements domain.Event.
func (AccessDenied) SchemaVersion() int { return 1 }

// EventType implements domain.Event.
func (LoginFailed) EventType() string { return TypeLoginFailed }

// SchemaVersion implements domain.Event.
func (LoginFailed) SchemaVersion() int { return 1 }

// EventType implements domain.Event.
func (AuditAccessed) EventType() string { return TypeAuditAccessed }

// SchemaVersion implements domain.Event.
func (AuditAccessed) SchemaVersion() int { return 1 }

// NewAccessDenied validates and builds an AccessDenied event.
func NewAccessDenied(method, route, reason string) (AccessDenied, error) {
	if method == "" || route == "" {
		return AccessDenied{}, domain.Invalid("route", "invalid_route", "method and route are required")
	}
	return AccessDenied{Method: method, Route: route, Reason: reason}, nil
}

// Decode decodes a stored security event; ok is false for other types.
func Decode(eventType string, version int, data json.RawMessage) (domain.Event, bool, error) {
	return domain.Registry{
		TypeAccessDenied:  domain.JSONDecoder[AccessDenied](1),
		TypeLoginFailed:   domain.JSONDecoder[LoginFailed](1),
		TypeAuditAccessed: domain.JSONDecoder[AuditAccessed](1),
	}.Decode(eventType, version, data)
}
