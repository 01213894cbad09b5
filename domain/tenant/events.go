package tenant

import (
	"encoding/json"

	"github.com/apiq/apiq/domain"
)

// Event types of the tenant aggregate.
const (
	TypeCreated           = "tenant.created"
	TypeAdminBootstrapped = "tenant.admin_bootstrapped"
	TypeAdminGranted      = "tenant.admin_granted"
	TypeAdminRevoked      = "tenant.admin_revoked"
	TypeSecurityChanged   = "tenant.security_changed"
)

// Created records a new tenant.
type Created struct {
	TenantID string `json:"tenant_id"`
	Name     string `json:"name"`
	Slug     string `json:"slug"`
}

// AdminBootstrapped records the tenant's first ADMIN, created with the tenant.
type AdminBootstrapped struct {
	UserID string `json:"user_id"`
}

// AdminGranted records that a user became an active ADMIN.
type AdminGranted struct {
	UserID string `json:"user_id"`
}

// AdminRevoked records that a user stopped being an active ADMIN
// (demoted, disabled or deleted).
type AdminRevoked struct {
	UserID string `json:"user_id"`
}

// SecurityChanged records the tenant's new security settings.
type SecurityChanged struct {
	TOTPRequired bool `json:"totp_required"`
}

// EventType implements domain.Event.
func (SecurityChanged) EventType() string { return TypeSecurityChanged }

// SchemaVersion implements domain.Event.
func (SecurityChanged) SchemaVersion() int { return 1 }

// EventType implements domain.Event.
func (Created) EventType() string { return TypeCreated }

// SchemaVersion implements domain.Event.
func (Created) SchemaVersion() int { return 1 }

// EventType implements domain.Event.
func (AdminBootstrapped) EventType() string { return TypeAdminBootstrapped }

// SchemaVersion implements domain.Event.
func (AdminBootstrapped) SchemaVersion() int { return 1 }

// EventType implements domain.Event.
func (AdminGranted) EventType() string { return TypeAdminGranted }

// SchemaVersion implements domain.Event.
func (AdminGranted) SchemaVersion() int { return 1 }

// EventType implements domain.Event.
func (AdminRevoked) EventType() string { return TypeAdminRevoked }

// SchemaVersion implements domain.Event.
func (AdminRevoked) SchemaVersion() int { return 1 }

// Decode decodes a stored tenant event; ok is false for other types.
func Decode(eventType string, version int, data json.RawMessage) (domain.Event, bool, error) {
	return domain.Registry{
		TypeCreated:           domain.JSONDecoder[Created](1),
		TypeAdminBootstrapped: domain.JSONDecoder[AdminBootstrapped](1),
		TypeAdminGranted:      domain.JSONDecoder[AdminGranted](1),
		TypeAdminRevoked:      domain.JSONDecoder[AdminRevoked](1),
		TypeSecurityChanged:   domain.JSONDecoder[SecurityChanged](1),
	}.Decode(eventType, version, data)
}
