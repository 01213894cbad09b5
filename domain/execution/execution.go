package execution

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/plan"
)

// Status is where an execution stands.
type Status string

// Execution statuses.
const (
	StatusPending        Status = "pending"
	StatusRunning        Status = "running"
	StatusCompleted      Status = "completed"
	StatusFailed         Status = "failed"
	StatusCancelled      Status = "cancelled"
	StatusNeedsAttention Status = "needs_attention"
)

// Terminal reports whether nothing more happens to an execution in status s.
func (s Status) Terminal() bool {
	return s == StatusCompleted || s == StatusFailed || s == StatusCancelled || s == StatusNeedsAttention
}

// StepStatus is where one step (or one foreach iteration's step) stands.
type StepStatus string

// Step statuses.
const (
	StepStatusRunning        StepStatus = "running"
	StepStatusRetryScheduled StepStatus = "retry_scheduled"
	StepStatusSucceeded      StepStatus = "succeeded"
	StepStatusFailed         StepStatus = "failed"
	StepStatusSkipped        StepStatus = "skipped"
	StepStatusUnknown        StepStatus = "unknown"
)

// Step is what the stream says about one step key.
type Step struct {
	Key        string     `json:"key"`
	StepID     string     `json:"step_id"`
	Kind       plan.Kind  `json:"kind"`
	Status     StepStatus `json:"status"`
	Attempts   int        `json:"attempts"`
	HTTPStatus int        `json:"http_status,omitempty"`
	DurationMS int64      `json:"duration_ms"`
	Request    *Request   `json:"request,omitempty"`
	Response   *Response  `json:"response,omitempty"`
	Error      string     `json:"error,omitempty"`
	Repeatable bool       `json:"repeatable"`
	RetryAt    time.Time  `json:"retry_at,omitzero"`
	// Output is the step's value for later expressions (nil for a call
	// whose body was capped: the engine reads it from the blob).
	Output any `json:"-"`
}

// State is an execution folded from its stream.
type State struct {
	Exists      bool
	ExecutionID string
	PlanID      string
	PlanVersion int64
	Plan        plan.Plan
	Inputs      map[string]any
	StepTimeout time.Duration
	Timeout     time.Duration
	MaxAttempts int
	Status      Status
	// Steps by key; Order lists the keys in the order they first appeared.
	Steps map[string]*Step
	Order []string
	// InFlight is the key of a step started without an outcome yet.
	InFlight string
	// Failure, Attention and CancelReason explain a terminal status.
	Failure      *Failed
	Attention    *NeedsAttention
	CancelReason string
}

// Done lists the keys of the steps that succeeded, in order.
func (s State) Done() []string {
	out := []string{}
	for _, k := range s.Order {
		if s.Steps[k].Status == StepStatusSucceeded {
			out = append(out, k)
		}
	}
	return out
}

// Errors of the execution aggregate.
var (
	ErrNotFound = domain.NewError(domain.ErrNotFound, "execution_not_found", "no such execution")
	// ErrAlreadyExists means the execution id is taken.
	ErrAlreadyExists = domain.NewError(domain.ErrConflict, "execution_exists", "the execution already exists")
	// ErrFinished means the execution has ended; nothing more may happen to it.
	ErrFinished = domain.NewError(domain.ErrConflict, "execution_finished", "the execution has already finished")
)

// Command is something asked of an execution.
type Command interface{ isExecutionCommand() }

// Start starts an execution.
type Start struct{ Started Started }

// Record appends what the engine observed (step events and at most one
// terminal event at the end).
type Record struct{ Events []domain.Event }

// Cancel stops an unfinished execution.
type Cancel struct{ Reason string }

func (Start) isExecutionCommand()  {}
func (Record) isExecutionCommand() {}
func (Cancel) isExecutionCommand() {}

// Decide returns the events a command produces in state s.
func Decide(s State, cmd Command) ([]domain.Event, error) {
	switch c := cmd.(type) {
	case Start:
		if s.Exists {
			return nil, ErrAlreadyExists
		}
		if c.Started.ExecutionID == "" || c.Started.PlanID == "" {
			return nil, domain.Invalid("plan_id", "plan_required", "an execution needs an id and a plan")
		}
		if len(c.Started.Plan.Steps) == 0 {
			return nil, domain.Invalid("plan_id", "empty_plan", "the plan has no steps")
		}
		return []domain.Event{c.Started}, nil
	case Record:
		if !s.Exists {
			return nil, ErrNotFound
		}
		if s.Status.Terminal() {
			return nil, ErrFinished
		}
		for i, ev := range c.Events {
			if i < len(c.Events)-1 && terminal(ev) {
				return nil, domain.Invalid("", "terminal_not_last", "a terminal event must come last")
			}
			if _, ok := ev.(Started); ok {
				return nil, domain.Invalid("", "started_twice", "an execution starts once")
			}
		}
		return c.Events, nil
	case Cancel:
		if !s.Exists {
			return nil, ErrNotFound
		}
		if s.Status.Terminal() {
			return nil, ErrFinished
		}
		return []domain.Event{Cancelled(c)}, nil
	}
	return nil, domain.Invalid("", "unknown_command", "unknown execution command")
}

func terminal(ev domain.Event) bool {
	switch ev.(type) {
	case Completed, Failed, Cancelled, NeedsAttention:
		return true
	}
	return false
}

// Evolve applies one event to the state.
func Evolve(s State, ev domain.Event) State {
	switch e := ev.(type) {
	case Started:
		s = State{Exists: true, ExecutionID: e.ExecutionID, PlanID: e.PlanID, PlanVersion: e.PlanVersion,
			Plan: e.Plan, Inputs: e.Inputs, Status: StatusPending, Steps: map[string]*Step{},
			StepTimeout: time.Duration(e.StepTimeoutMS) * time.Millisecond,
			Timeout:     time.Duration(e.TimeoutMS) * time.Millisecond, MaxAttempts: e.MaxAttempts}
	case StepStarted:
		st := s.step(e.Key, e.StepID, e.Kind)
		st.Status, st.Attempts, st.Request, st.Repeatable = StepStatusRunning, e.Attempt, e.Request, e.Repeatable
		st.Error, st.RetryAt = "", time.Time{}
		s.Status, s.InFlight = StatusRunning, e.Key
	case StepSucceeded:
		st := s.step(e.Key, "", "")
		st.Status, st.Attempts, st.HTTPStatus, st.DurationMS, st.Response = StepStatusSucceeded, e.Attempt, e.Status, e.DurationMS, e.Response
		st.Output = e.Output
		if e.Output == nil && e.Response != nil {
			st.Output = ResponseOutput(e.Response)
		}
		s.InFlight = ""
	case StepFailed:
		st := s.step(e.Key, "", "")
		st.Status, st.Attempts, st.HTTPStatus, st.DurationMS, st.Response, st.Error = StepStatusFailed, e.Attempt, e.Status, e.DurationMS, e.Response, e.Reason
		s.InFlight = ""
	case StepRetryScheduled:
		st := s.step(e.Key, "", "")
		st.Status, st.Attempts, st.HTTPStatus, st.DurationMS, st.Response, st.Error = StepStatusRetryScheduled, e.Attempt, e.Status, e.DurationMS, e.Response, e.Reason
		st.RetryAt = e.RetryAt
		s.InFlight = ""
	case StepSkipped:
		st := s.step(e.Key, e.StepID, "")
		st.Status = StepStatusSkipped
		st.Error = e.Reason
	case Completed:
		s.Status = StatusCompleted
	case Failed:
		s.Status, s.Failure = StatusFailed, &e
	case Cancelled:
		s.Status, s.CancelReason = StatusCancelled, e.Reason
	case NeedsAttention:
		s.Status, s.Attention = StatusNeedsAttention, &e
		if st, ok := s.Steps[e.Key]; ok {
			st.Status, st.Error = StepStatusUnknown, e.Reason
		}
		s.InFlight = ""
	}
	return s
}

// step returns the step of key, adding it on first sight.
func (s *State) step(key, stepID string, kind plan.Kind) *Step {
	if st, ok := s.Steps[key]; ok {
		return st
	}
	if s.Steps == nil {
		s.Steps = map[string]*Step{}
	}
	st := &Step{Key: key, StepID: stepID, Kind: kind}
	s.Steps[key] = st
	s.Order = append(s.Order, key)
	return st
}

// ResponseOutput decodes a stored response body for expressions: JSON when
// it parses, the text otherwise, nil for a capped body or no response.
func ResponseOutput(r *Response) any {
	if r == nil || r.Capped || r.Body == "" {
		return nil
	}
	var v any
	if err := json.Unmarshal([]byte(r.Body), &v); err != nil {
		return r.Body
	}
	return v
}

// Describe sums up a terminal failure for people: the step, why, and what
// had been done.
func Describe(key, reason string, done []string) string {
	if key == "" {
		return fmt.Sprintf("%s (succeeded before: %v)", reason, done)
	}
	return fmt.Sprintf("step %s: %s (succeeded before: %v)", key, reason, done)
}
