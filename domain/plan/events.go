package plan

import (
	"encoding/json"
	"strings"

	"github.com/apiq/apiq/domain"
)

// StreamPrefix names plan streams: "plan-<id>".
const StreamPrefix = "plan-"

// SettingsStreamPrefix names the stream of a tenant's plan settings:
// "plansettings-<tenant id>".
const SettingsStreamPrefix = "plansettings-"

// Stream is the event stream of a plan.
func Stream(planID string) string { return StreamPrefix + planID }

// IDFromStream returns the plan id of a plan stream.
func IDFromStream(stream string) string { return strings.TrimPrefix(stream, StreamPrefix) }

// SettingsStream is the event stream of a tenant's plan settings.
func SettingsStream(tenantID string) string { return SettingsStreamPrefix + tenantID }

// Event types of the plan aggregate and of the tenant's plan settings.
const (
	TypeRequested          = "plan.requested"
	TypeRevised            = "plan.revised"
	TypeProposed           = "plan.proposed"
	TypeFailed             = "plan.failed"
	TypeNoSuitableEndpoint = "plan.no_suitable_endpoint"
	TypeConfirmed          = "plan.confirmed"
	TypeRejected           = "plan.rejected"
	TypeSettingsChanged    = "plan.settings_changed"
)

// Requested records a new plan: what was asked, by whom, over which
// connections. Its first version's outcome follows in the same append.
type Requested struct {
	PlanID string `json:"plan_id"`
	Prompt string `json:"prompt"`
	// ConnectionIDs restricts planning to these connections (empty: all).
	ConnectionIDs []string `json:"connection_ids,omitempty"`
	// RequestedBy is the requester's user id.
	RequestedBy string `json:"requested_by"`
}

// Revised records a request for a new version: the revision's prompt, who
// asked, and the version it revises. Its outcome follows in the same append.
type Revised struct {
	Version     int    `json:"version"`
	BasedOn     int    `json:"based_on"`
	Prompt      string `json:"prompt"`
	RequestedBy string `json:"requested_by"`
}

// Proposed records a version whose plan is valid and may be confirmed.
type Proposed struct{ Outcome }

// Failed records a version that could not be planned: an invalid plan the
// repair round did not fix, or a model that did not answer.
type Failed struct{ Outcome }

// NoSuitableEndpoint records a version for a request that no registered
// operation can serve.
type NoSuitableEndpoint struct{ Outcome }

// Confirmed records that a person confirmed a version: only that version
// can be executed.
type Confirmed struct {
	Version     int    `json:"version"`
	ConfirmedBy string `json:"confirmed_by"`
	Role        string `json:"role"`
	// Destructive says the version has destructive calls; SecondPerson that
	// the tenant required an ADMIN other than its requesters to confirm it.
	Destructive  bool `json:"destructive"`
	SecondPerson bool `json:"second_person"`
}

// Rejected records that a person rejected the plan (its latest version).
type Rejected struct {
	Version    int    `json:"version"`
	Reason     string `json:"reason"`
	RejectedBy string `json:"rejected_by"`
}

// SettingsChanged records a tenant's plan settings.
type SettingsChanged struct {
	Settings
}

// EventType implements domain.Event.
func (Requested) EventType() string { return TypeRequested }

// EventType implements domain.Event.
func (Revised) EventType() string { return TypeRevised }

// EventType implements domain.Event.
func (Proposed) EventType() string { return TypeProposed }

// EventType implements domain.Event.
func (Failed) EventType() string { return TypeFailed }

// EventType implements domain.Event.
func (NoSuitableEndpoint) EventType() string { return TypeNoSuitableEndpoint }

// EventType implements domain.Event.
func (Confirmed) EventType() string { return TypeConfirmed }

// EventType implements domain.Event.
func (Rejected) EventType() string { return TypeRejected }

// EventType implements domain.Event.
func (SettingsChanged) EventType() string { return TypeSettingsChanged }

// SchemaVersion implements domain.Event.
func (Requested) SchemaVersion() int { return 1 }

// SchemaVersion implements domain.Event.
func (Revised) SchemaVersion() int { return 1 }

// SchemaVersion implements domain.Event.
func (Proposed) SchemaVersion() int { return 1 }

// SchemaVersion implements domain.Event.
func (Failed) SchemaVersion() int { return 1 }

// SchemaVersion implements domain.Event.
func (NoSuitableEndpoint) SchemaVersion() int { return 1 }

// SchemaVersion implements domain.Event.
func (Confirmed) SchemaVersion() int { return 1 }

// SchemaVersion implements domain.Event.
func (Rejected) SchemaVersion() int { return 1 }

// SchemaVersion implements domain.Event.
func (SettingsChanged) SchemaVersion() int { return 1 }

// Decode decodes a stored plan or plan settings event; ok is false for
// other types.
func Decode(eventType string, version int, data json.RawMessage) (domain.Event, bool, error) {
	return domain.Registry{
		TypeRequested:          domain.JSONDecoder[Requested](1),
		TypeRevised:            domain.JSONDecoder[Revised](1),
		TypeProposed:           domain.JSONDecoder[Proposed](1),
		TypeFailed:             domain.JSONDecoder[Failed](1),
		TypeNoSuitableEndpoint: domain.JSONDecoder[NoSuitableEndpoint](1),
		TypeConfirmed:          domain.JSONDecoder[Confirmed](1),
		TypeRejected:           domain.JSONDecoder[Rejected](1),
		TypeSettingsChanged:    domain.JSONDecoder[SettingsChanged](1),
	}.Decode(eventType, version, data)
}
