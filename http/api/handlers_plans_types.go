package api

import (
	"context"
	"encoding/json"
	"time"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/domain/plan"
)

// Plans serves /v1/plans: the plan commands of the caller's tenant (meta's)
// and the plans view scoped to a tenant (another tenant's plan is not
// found). Commands answer with the plan as the view shows it once it
// includes the change.
type Plans interface {
	// CreatePlan plans the first version within the request.
	CreatePlan(ctx context.Context, meta eventstore.Metadata, in NewPlan) (Plan, error)
	// RevisePlan plans a new version from the latest one.
	RevisePlan(ctx context.Context, meta eventstore.Metadata, id, prompt string) (Plan, error)
	// ConfirmPlan confirms a version (0: the latest).
	ConfirmPlan(ctx context.Context, meta eventstore.Metadata, id string, version int) (Plan, error)
	RejectPlan(ctx context.Context, meta eventstore.Metadata, id, reason string) (Plan, error)
	// GetPlan returns a plan with every version, the latest first; with
	// transcripts, each version's model transcript too.
	GetPlan(ctx context.Context, tenantID, id string, transcripts bool) (Plan, error)
	// ListPlans returns a page of plans, the newest first, and the cursor
	// of the next page ("" on the last).
	ListPlans(ctx context.Context, tenantID string, filter PlanFilter) ([]PlanSummary, string, error)
	// PlanUsage sums the tenant's model usage over every planned version.
	PlanUsage(ctx context.Context, tenantID string) (PlanUsage, error)
	PlanSettings(ctx context.Context, tenantID string) (PlanSettings, error)
	SetPlanSettings(ctx context.Context, meta eventstore.Metadata, in PlanSettings) (PlanSettings, error)
}

// NewPlan is the body of POST /v1/plans.
type NewPlan struct {
	Prompt        string   `json:"prompt"`
	ConnectionIDs []string `json:"connection_ids,omitempty"`
}

// PlanFilter selects plans; zero values do not filter.
type PlanFilter struct {
	Status       string
	RequestedBy  string
	ConnectionID string
	Page
}

// Plan is a plan as the API shows it: its status, the latest version's
// number and outcome in brief, and every version, the latest first.
type Plan struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	// Version is the latest version's number.
	Version int `json:"version"`
	// Prompt is the first request.
	Prompt        string   `json:"prompt"`
	RequestedBy   string   `json:"requested_by"`
	ConnectionIDs []string `json:"connection_ids"`
	// Connections lists the connections any version calls.
	Connections []string `json:"connections"`
	// Confidence, Errors, Reason and Message are the latest version's.
	Confidence   string            `json:"confidence,omitempty"`
	Errors       []plan.Problem    `json:"errors"`
	Reason       string            `json:"reason,omitempty"`
	Message      string            `json:"message,omitempty"`
	Confirmation *PlanConfirmation `json:"confirmation,omitempty"`
	Rejection    *PlanRejection    `json:"rejection,omitempty"`
	Versions     []PlanVersion     `json:"versions"`
	CreatedAt    time.Time         `json:"created_at"`
	UpdatedAt    time.Time         `json:"updated_at"`
	// Position is set in command responses.
	Position string `json:"position,omitempty"`
}

// PlanConfirmation says which version was confirmed, by whom, when.
type PlanConfirmation struct {
	Version int       `json:"version"`
	By      string    `json:"by"`
	At      time.Time `json:"at"`
}

// PlanRejection says who rejected the plan, why and when.
type PlanRejection struct {
	By     string    `json:"by"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// PlanVersion is one immutable version of a plan.
type PlanVersion struct {
	Version     int       `json:"version"`
	Status      string    `json:"status"`
	Prompt      string    `json:"prompt"`
	RequestedBy string    `json:"requested_by"`
	BasedOn     int       `json:"based_on,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	Confidence  string    `json:"confidence,omitempty"`
	// Plan holds the steps (of a failed version, the last attempt's).
	Plan *plan.Plan `json:"plan,omitempty"`
	// Summary is the confirmation screen of a proposed version.
	Summary  *plan.Confirmation `json:"summary,omitempty"`
	Errors   []plan.Problem     `json:"errors"`
	Reason   string             `json:"reason,omitempty"`
	Message  string             `json:"message,omitempty"`
	Planning PlanPlanning       `json:"planning"`
}

// PlanPlanning is how a version was planned.
type PlanPlanning struct {
	Mode            string     `json:"mode"`
	Model           string     `json:"model,omitempty"`
	Usage           plan.Usage `json:"usage"`
	Rounds          int        `json:"rounds"`
	RepairRounds    int        `json:"repair_rounds"`
	Candidates      int        `json:"candidates"`
	ToolsOffered    int        `json:"tools_offered"`
	TranscriptHash  string     `json:"transcript_hash,omitempty"`
	TranscriptBytes int        `json:"transcript_bytes,omitempty"`
	// Transcript is shown when asked for (transcripts=true).
	Transcript json.RawMessage `json:"transcript,omitempty"`
}

// PlanSummary is a plan in a list.
type PlanSummary struct {
	ID               string    `json:"id"`
	Status           string    `json:"status"`
	Version          int       `json:"version"`
	Prompt           string    `json:"prompt"`
	RequestedBy      string    `json:"requested_by"`
	ConnectionIDs    []string  `json:"connection_ids"`
	Connections      []string  `json:"connections"`
	ConfirmedVersion int       `json:"confirmed_version,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

// PlanUsage is a tenant's model usage over every planned version.
type PlanUsage struct {
	PromptTokens     int        `json:"prompt_tokens"`
	CompletionTokens int        `json:"completion_tokens"`
	TotalTokens      int        `json:"total_tokens"`
	ModelRequests    int64      `json:"model_requests"`
	PlannedVersions  int64      `json:"planned_versions"`
	UpdatedAt        *time.Time `json:"updated_at,omitempty"`
}

// PlanSettings are a tenant's rules for plans.
type PlanSettings struct {
	DestructiveRequiresSecondAdmin bool `json:"destructive_requires_second_admin"`
	// Position is set in command responses.
	Position string `json:"position,omitempty"`
}
