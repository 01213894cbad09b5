// Package execution is the execution aggregate: one run of a confirmed plan,
// recorded step by step on the stream "execution-<id>", which is the source
// of truth the engine resumes from after a crash.
package execution

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/plan"
)

// StreamPrefix names execution streams: "execution-<id>".
const StreamPrefix = "execution-"

// Stream is the event stream of an execution.
func Stream(executionID string) string { return StreamPrefix + executionID }

// IDFromStream returns the execution id of an execution stream.
func IDFromStream(stream string) string { return strings.TrimPrefix(stream, StreamPrefix) }

// Event types of the execution aggregate.
const (
	TypeStarted            = "execution.started"
	TypeStepStarted        = "execution.step_started"
	TypeStepSucceeded      = "execution.step_succeeded"
	TypeStepFailed         = "execution.step_failed"
	TypeStepRetryScheduled = "execution.step_retry_scheduled"
	TypeStepSkipped        = "execution.step_skipped"
	TypeCompleted          = "execution.completed"
	TypeFailed             = "execution.failed"
	TypeCancelled          = "execution.cancelled"
	TypeNeedsAttention     = "execution.needs_attention"
)

// Started records a new execution of a confirmed plan. The plan is copied
// into the event, so the run never depends on the plan stream again.
type Started struct {
	ExecutionID string         `json:"execution_id"`
	PlanID      string         `json:"plan_id"`
	PlanVersion int64          `json:"plan_version"`
	Plan        plan.Plan      `json:"plan"`
	Inputs      map[string]any `json:"inputs,omitempty"`
	// StepTimeoutMS bounds one call (all its attempts); TimeoutMS the whole run.
	StepTimeoutMS int64 `json:"step_timeout_ms"`
	TimeoutMS     int64 `json:"timeout_ms"`
	// MaxAttempts bounds the attempts of one step the engine schedules.
	MaxAttempts int `json:"max_attempts"`
}

// Request is a call as sent, with every secret masked.
type Request struct {
	Method string              `json:"method"`
	URL    string              `json:"url"`
	Header map[string][]string `json:"header,omitempty"`
	Body   string              `json:"body,omitempty"`
	// IdempotencyKey is sent in IdempotencyHeader on every attempt.
	IdempotencyKey    string `json:"idempotency_key,omitempty"`
	IdempotencyHeader string `json:"idempotency_header,omitempty"`
}

// Response is a call's answer as stored: scrubbed headers and a body capped
// at the engine's limit, the digest of the bytes read and, when the body was
// longer than the cap, the blob holding all of it.
type Response struct {
	Status     int                 `json:"status"`
	Header     map[string][]string `json:"header,omitempty"`
	Body       string              `json:"body,omitempty"`
	BodyBytes  int64               `json:"body_bytes"`
	BodySHA256 string              `json:"body_sha256,omitempty"`
	// Capped says Body holds only the first bytes; BlobHash names the whole.
	Capped   bool   `json:"capped,omitempty"`
	BlobHash string `json:"blob_hash,omitempty"`
	// Truncated says the API's answer exceeded the caller's read limit.
	Truncated bool `json:"truncated,omitempty"`
}

// StepStarted records that a step's attempt began. For a call that is not
// safe to repeat it is appended before the call is sent, so that a crash
// leaves evidence that the outcome is unknown.
type StepStarted struct {
	Key     string    `json:"key"`
	StepID  string    `json:"step_id"`
	Kind    plan.Kind `json:"kind"`
	Attempt int       `json:"attempt"`
	Request *Request  `json:"request,omitempty"`
	// Repeatable says the call may be sent again when its outcome is
	// unknown: an idempotent method or an idempotency key.
	Repeatable bool      `json:"repeatable"`
	At         time.Time `json:"at"`
	// CredentialType and CredentialKeyID say which of the connection's
	// credentials a call used (their type and the vault key id that sealed
	// them), never a secret: credential use is auditable.
	CredentialType  string `json:"credential_type,omitempty"`
	CredentialKeyID string `json:"credential_key_id,omitempty"`
}

// StepSucceeded records a step's result.
type StepSucceeded struct {
	Key        string    `json:"key"`
	Attempt    int       `json:"attempt"`
	Status     int       `json:"status,omitempty"`
	DurationMS int64     `json:"duration_ms"`
	Response   *Response `json:"response,omitempty"`
	// Output is a condition's or transform's value; a call's output is its
	// response body decoded.
	Output any `json:"output,omitempty"`
}

// StepFailed records a step's attempt that failed for good.
type StepFailed struct {
	Key        string    `json:"key"`
	Attempt    int       `json:"attempt"`
	Status     int       `json:"status,omitempty"`
	DurationMS int64     `json:"duration_ms"`
	Reason     string    `json:"reason"`
	Response   *Response `json:"response,omitempty"`
}

// StepRetryScheduled records a failed attempt that will be tried again
// after WaitMS (Retry-After or backoff with jitter).
type StepRetryScheduled struct {
	Key        string    `json:"key"`
	Attempt    int       `json:"attempt"`
	Status     int       `json:"status,omitempty"`
	DurationMS int64     `json:"duration_ms"`
	Reason     string    `json:"reason"`
	WaitMS     int64     `json:"wait_ms"`
	RetryAt    time.Time `json:"retry_at"`
	Response   *Response `json:"response,omitempty"`
}

// StepSkipped records a step a condition ruled out.
type StepSkipped struct {
	Key    string `json:"key"`
	StepID string `json:"step_id"`
	Reason string `json:"reason"`
}

// Completed records that every step ran or was skipped.
type Completed struct {
	DurationMS int64 `json:"duration_ms"`
}

// Failed records a terminal failure: which step, why, and what was done.
type Failed struct {
	Key    string `json:"key,omitempty"`
	Reason string `json:"reason"`
	// Done lists the steps that had succeeded, in order.
	Done []string `json:"done"`
}

// Cancelled records a cancellation asked for by a user.
type Cancelled struct {
	Reason string `json:"reason,omitempty"`
}

// NeedsAttention records a step whose outcome is unknown (the process died
// while a call that may not be repeated was in flight): the run stops and
// a person checks the API.
type NeedsAttention struct {
	Key    string   `json:"key"`
	Reason string   `json:"reason"`
	Done   []string `json:"done"`
}

// EventType implements domain.Event.
func (Started) EventType() string { return TypeStarted }

// EventType implements domain.Event.
func (StepStarted) EventType() string { return TypeStepStarted }

// EventType implements domain.Event.
func (StepSucceeded) EventType() string { return TypeStepSucceeded }

// EventType implements domain.Event.
func (StepFailed) EventType() string { return TypeStepFailed }

// EventType implements domain.Event.
func (StepRetryScheduled) EventType() string { return TypeStepRetryScheduled }

// EventType implements domain.Event.
func (StepSkipped) EventType() string { return TypeStepSkipped }

// EventType implements domain.Event.
func (Completed) EventType() string { return TypeCompleted }

// EventType implements domain.Event.
func (Failed) EventType() string { return TypeFailed }

// EventType implements domain.Event.
func (Cancelled) EventType() string { return TypeCancelled }

// EventType implements domain.Event.
func (NeedsAttention) EventType() string { return TypeNeedsAttention }

// SchemaVersion implements domain.Event.
func (Started) SchemaVersion() int { return 1 }

// SchemaVersion implements domain.Event.
func (StepStarted) SchemaVersion() int { return 1 }

// SchemaVersion implements domain.Event.
func (StepSucceeded) SchemaVersion() int { return 1 }

// SchemaVersion implements domain.Event.
func (StepFailed) SchemaVersion() int { return 1 }

// SchemaVersion implements domain.Event.
func (StepRetryScheduled) SchemaVersion() int { return 1 }

// SchemaVersion implements domain.Event.
func (StepSkipped) SchemaVersion() int { return 1 }

// SchemaVersion implements domain.Event.
func (Completed) SchemaVersion() int { return 1 }

// SchemaVersion implements domain.Event.
func (Failed) SchemaVersion() int { return 1 }

// SchemaVersion implements domain.Event.
func (Cancelled) SchemaVersion() int { return 1 }

// SchemaVersion implements domain.Event.
func (NeedsAttention) SchemaVersion() int { return 1 }

var registry = domain.Registry{
	TypeStarted:            domain.JSONDecoder[Started](1),
	TypeStepStarted:        domain.JSONDecoder[StepStarted](1),
	TypeStepSucceeded:      domain.JSONDecoder[StepSucceeded](1),
	TypeStepFailed:         domain.JSONDecoder[StepFailed](1),
	TypeStepRetryScheduled: domain.JSONDecoder[StepRetryScheduled](1),
	TypeStepSkipped:        domain.JSONDecoder[StepSkipped](1),
	TypeCompleted:          domain.JSONDecoder[Completed](1),
	TypeFailed:             domain.JSONDecoder[Failed](1),
	TypeCancelled:          domain.JSONDecoder[Cancelled](1),
	TypeNeedsAttention:     domain.JSONDecoder[NeedsAttention](1),
}

// Decode decodes a stored execution event; ok is false for other types.
func Decode(eventType string, version int, data json.RawMessage) (domain.Event, bool, error) {
	return registry.Decode(eventType, version, data)
}
