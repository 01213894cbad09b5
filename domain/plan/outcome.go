package plan

import "encoding/json"

// Status is where a plan version, or a plan as a whole, stands.
type Status string

// Statuses. A version is proposed, failed or no_suitable_endpoint; a plan
// is its latest version's status until it is confirmed or rejected.
const (
	StatusProposed           Status = "proposed"
	StatusFailed             Status = "failed"
	StatusNoSuitableEndpoint Status = "no_suitable_endpoint"
	StatusConfirmed          Status = "confirmed"
	StatusRejected           Status = "rejected"
)

// Confidence says how far a proposed plan can be trusted to do what was asked.
type Confidence string

// Confidences: a model's validated plan is high; a draft built from the
// catalogue search without a model is low.
const (
	ConfidenceHigh Confidence = "high"
	ConfidenceLow  Confidence = "low"
)

// Planning modes.
const (
	// ModeLLM: a model chose the steps through tool calls.
	ModeLLM = "llm"
	// ModeCatalogueSearch: no model is configured; the draft calls the
	// best-matching operation of the catalogue search.
	ModeCatalogueSearch = "catalogue_search"
)

// Usage counts a model's tokens.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// Add returns the sum of two usages.
func (u Usage) Add(o Usage) Usage {
	return Usage{PromptTokens: u.PromptTokens + o.PromptTokens, CompletionTokens: u.CompletionTokens + o.CompletionTokens,
		TotalTokens: u.TotalTokens + o.TotalTokens}
}

// Planning records how a version was planned, for the audit trail: the
// mode, the model, its token usage, the rounds, what was offered, and the
// transcript of what the model was asked and answered — inline when small,
// otherwise stored by content hash (TranscriptHash) in the blob store.
type Planning struct {
	Mode  string `json:"mode"`
	Model string `json:"model,omitempty"`
	Usage Usage  `json:"usage"`
	// Rounds counts the requests to the model, RepairRounds those that
	// asked it to fix an invalid plan.
	Rounds       int `json:"rounds"`
	RepairRounds int `json:"repair_rounds"`
	// Candidates counts the catalogue operations selected for the request,
	// ToolsOffered the tools of the model's first request.
	Candidates   int `json:"candidates"`
	ToolsOffered int `json:"tools_offered"`
	// Catalogues names the catalogue of each connection the model was
	// offered (by content hash in the blob store): the tools offered,
	// which the transcript names, are rebuilt from them exactly.
	Catalogues []CatalogueRef `json:"catalogues,omitempty"`
	// Transcript is the transcript's JSON when it is small enough to keep
	// in the event; TranscriptHash and TranscriptBytes name it otherwise.
	Transcript      json.RawMessage `json:"transcript,omitempty"`
	TranscriptHash  string          `json:"transcript_hash,omitempty"`
	TranscriptBytes int             `json:"transcript_bytes,omitempty"`
}

// CatalogueRef names a connection's catalogue as planning read it.
type CatalogueRef struct {
	ConnectionID  string `json:"connection_id"`
	CatalogueHash string `json:"catalogue_hash"`
}

// CredentialUse says which credentials a plan's calls to one connection
// use: their type and key id, never a secret.
type CredentialUse struct {
	ConnectionID   string `json:"connection_id"`
	ConnectionName string `json:"connection_name,omitempty"`
	// Type is none, api_key, bearer, basic or an OAuth2 type.
	Type  string `json:"type"`
	KeyID string `json:"key_id,omitempty"`
}

// Confirmation is what the confirmation screen shows of a version: the
// summary of its calls, the credentials they use and the tokens planning
// cost.
type Confirmation struct {
	Summary
	Credentials []CredentialUse `json:"credentials"`
	Tokens      Usage           `json:"tokens"`
}

// Outcome is a planned version. Plan holds the steps of the last attempt
// (of a failed version too, so people see what was wrong); Problems say why
// a version failed, Reason why no operation fits, Message what else the
// requester should know (such as how to configure a model).
type Outcome struct {
	Version      int           `json:"version"`
	Plan         *Plan         `json:"plan,omitempty"`
	Confirmation *Confirmation `json:"confirmation,omitempty"`
	Confidence   Confidence    `json:"confidence,omitempty"`
	Problems     Problems      `json:"problems,omitempty"`
	Reason       string        `json:"reason,omitempty"`
	Message      string        `json:"message,omitempty"`
	Planning     Planning      `json:"planning"`
}

// Result is what planning produced for a version, before it is recorded.
type Result struct {
	Status  Status
	Outcome Outcome
}

// event returns the outcome event of r as version.
func (r Result) event(version int) (outcomeEvent, error) {
	o := r.Outcome
	o.Version = version
	switch r.Status {
	case StatusProposed:
		if o.Plan == nil || len(o.Plan.Steps) == 0 {
			return nil, errEmptyProposal
		}
		return Proposed{o}, nil
	case StatusFailed:
		if len(o.Problems) == 0 {
			return nil, errFailureWithoutProblems
		}
		return Failed{o}, nil
	case StatusNoSuitableEndpoint:
		return NoSuitableEndpoint{o}, nil
	}
	return nil, errUnknownOutcome
}

// outcomeEvent is one of Proposed, Failed and NoSuitableEndpoint.
type outcomeEvent interface {
	EventType() string
	SchemaVersion() int
	outcome() (Status, Outcome)
}

func (e Proposed) outcome() (Status, Outcome)           { return StatusProposed, e.Outcome }
func (e Failed) outcome() (Status, Outcome)             { return StatusFailed, e.Outcome }
func (e NoSuitableEndpoint) outcome() (Status, Outcome) { return StatusNoSuitableEndpoint, e.Outcome }
