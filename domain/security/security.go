// Package security holds the security events that belong to no user's
// stream: refused accesses, failed logins for unknown emails and failed
// single sign-ons. They are appended to one stream per tenant without a
// version check, since nothing is decided from them.
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
	// TypeSSOLoginFailed is a single sign-on refused by APIQ or the provider.
	TypeSSOLoginFailed = "security.sso_login_failed"
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

// SSOLoginFailed records a single sign-on through a provider of the tenant
// that did not sign anyone in. The issuer (and the subject, once the ID
// token verified) are in the event's actor; no code, state, token or email
// is kept.
type SSOLoginFailed struct {
	ProviderID string `json:"provider_id"`
	Issuer     string `json:"issuer"`
	// Reason is a stable code (the Reason* constants of single sign-on and
	// the refusal codes of adapters/oidc).
	Reason string `json:"reason"`
	// ProviderError is the OAuth error code the provider sent back, when it
	// is a standard one (else "other").
	ProviderError string `json:"provider_error,omitempty"`
}

// Reasons of SSOLoginFailed decided outside adapters/oidc.
const (
	// ReasonSSOProviderError: the provider sent the browser back with an error.
	ReasonSSOProviderError = "provider_error"
	// ReasonSSOEmailDomain: the email is outside the provider's allowed domains.
	ReasonSSOEmailDomain = "email_domain_not_allowed"
	// ReasonSSOEmailUnverified: the provider did not verify the email of an existing user.
	ReasonSSOEmailUnverified = "email_unverified"
	// ReasonSSOInvalidIdentity: the identity was refused (e.g. an invalid email).
	ReasonSSOInvalidIdentity = "invalid_identity"
	// ReasonSSOError: the login failed for another cause (logged).
	ReasonSSOError = "sso_error"
)

// maxSSOReason bounds a reason code.
const maxSSOReason = 64

// providerErrors are the error codes of OAuth 2.0 (RFC 6749 4.1.2.1) and
// OpenID Connect (Core 3.1.2.6) an authorization response may carry.
var providerErrors = map[string]bool{
	"invalid_request": true, "unauthorized_client": true, "access_denied": true,
	"unsupported_response_type": true, "invalid_scope": true, "server_error": true,
	"temporarily_unavailable": true, "interaction_required": true, "login_required": true,
	"account_selection_required": true, "consent_required": true, "invalid_request_uri": true,
	"invalid_request_object": true, "request_not_supported": true, "request_uri_not_supported": true,
	"registration_not_supported": true,
}

// NewSSOLoginFailed validates and builds an SSOLoginFailed event. The
// reason must be a code (lower case letters, digits and underscores); a
// provider error code outside the standard ones becomes "other", so no
// value the browser chose lands in the trail.
func NewSSOLoginFailed(providerID, issuer, reason, providerError string) (SSOLoginFailed, error) {
	if providerID == "" {
		return SSOLoginFailed{}, domain.Invalid("provider_id", "invalid_provider", "the provider id is required")
	}
	if !IsReasonCode(reason) {
		return SSOLoginFailed{}, domain.Invalid("reason", "invalid_reason", "the reason must be a short code")
	}
	if providerError != "" && !providerErrors[providerError] {
		providerError = "other"
	}
	return SSOLoginFailed{ProviderID: providerID, Issuer: issuer, Reason: reason, ProviderError: providerError}, nil
}

// IsReasonCode reports whether s is a reason code: 1 to 64 lower case
// letters, digits and underscores.
func IsReasonCode(s string) bool {
	if s == "" || len(s) > maxSSOReason {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
			return false
		}
	}
	return true
}

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

// EventType implements domain.Event.
func (SSOLoginFailed) EventType() string { return TypeSSOLoginFailed }

// SchemaVersion implements domain.Event.
func (SSOLoginFailed) SchemaVersion() int { return 1 }

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
		TypeAccessDenied:   domain.JSONDecoder[AccessDenied](1),
		TypeLoginFailed:    domain.JSONDecoder[LoginFailed](1),
		TypeAuditAccessed:  domain.JSONDecoder[AuditAccessed](1),
		TypeSSOLoginFailed: domain.JSONDecoder[SSOLoginFailed](1),
	}.Decode(eventType, version, data)
}
