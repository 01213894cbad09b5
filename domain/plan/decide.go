package plan

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/apiq/apiq/domain"
)

// RoleAdmin is the role that may confirm a destructive plan for someone
// else when the tenant requires a second person.
const RoleAdmin = "ADMIN"

// Limits of what people write.
const (
	// MaxPromptRunes bounds a request or a revision.
	MaxPromptRunes = 4000
	// MaxReasonRunes bounds a rejection's reason.
	MaxReasonRunes = 1000
	// MaxConnectionFilter bounds the connections a request may name.
	MaxConnectionFilter = 50
)

// Errors of the plan aggregate.
var (
	ErrNotFound        = domain.NewError(domain.ErrNotFound, "plan_not_found", "plan not found")
	ErrVersionNotFound = domain.NewError(domain.ErrNotFound, "plan_version_not_found", "the plan has no such version")
	ErrAlreadyExists   = domain.NewError(domain.ErrConflict, "plan_exists", "the plan already exists")
	ErrConfirmed       = domain.NewError(domain.ErrConflict, "plan_confirmed",
		"the plan is confirmed: it can no longer be revised, rejected or confirmed in another version")
	ErrRejected          = domain.NewError(domain.ErrConflict, "plan_rejected", "the plan was rejected")
	ErrVersionSuperseded = domain.NewError(domain.ErrConflict, "plan_version_superseded",
		"a newer version of the plan exists; review and confirm the latest version")
	ErrNotConfirmable = domain.NewError(domain.ErrConflict, "plan_not_confirmable",
		"only a proposed version can be confirmed; this one failed or found no suitable endpoint")
	ErrSecondPersonRequired = domain.NewError(domain.ErrForbidden, "second_confirmation_required",
		"the plan has destructive steps and this tenant requires an ADMIN other than its requesters to confirm it")
	// ErrNotConfirmed: there is no such confirmed version (what the
	// execution engine asks for is not found).
	ErrNotConfirmed = domain.NewError(domain.ErrNotFound, "plan_not_confirmed",
		"the plan version is not confirmed; only a confirmed version can be executed")
)

// Errors of a malformed Result: the planner's bugs, never the user's.
var (
	errEmptyProposal          = errors.New("plan: a proposed version needs steps")
	errFailureWithoutProblems = errors.New("plan: a failed version needs its problems")
	errUnknownOutcome         = errors.New("plan: unknown outcome status")
)

// Command is one of the plan commands below.
type Command interface{ isPlanCommand() }

// Request records a new plan and its first version's outcome.
type Request struct {
	PlanID        string
	Prompt        string
	ConnectionIDs []string
	By            string
	Result        Result
}

// Revise records a new version planned from the latest one and a revision prompt.
type Revise struct {
	Prompt string
	By     string
	// BasedOn is the version the planner revised.
	BasedOn int
	Result  Result
}

// Confirm confirms a version (0: the latest) on behalf of By, whose role is
// Role. SecondPersonRule is the tenant's setting: a version with
// destructive calls then needs an ADMIN who asked for none of its versions.
type Confirm struct {
	Version          int
	By               string
	Role             string
	SecondPersonRule bool
}

// Reject rejects the plan with a reason.
type Reject struct {
	Reason string
	By     string
}

func (Request) isPlanCommand() {}
func (Revise) isPlanCommand()  {}
func (Confirm) isPlanCommand() {}
func (Reject) isPlanCommand()  {}

// ValidatePrompt checks a request or revision and returns it trimmed.
func ValidatePrompt(prompt string) (string, error) {
	prompt = strings.TrimSpace(prompt)
	if prompt == "" || utf8.RuneCountInString(prompt) > MaxPromptRunes || !utf8.ValidString(prompt) {
		return "", domain.Invalid("prompt", "invalid_prompt", fmt.Sprintf("prompt must have 1 to %d characters", MaxPromptRunes))
	}
	return prompt, nil
}

// ValidateConnectionFilter checks the connections a request names and
// returns them without repeats.
func ValidateConnectionFilter(ids []string) ([]string, error) {
	if len(ids) > MaxConnectionFilter {
		return nil, domain.Invalid("connection_ids", "too_many_connections",
			fmt.Sprintf("name at most %d connections", MaxConnectionFilter))
	}
	var out []string
	for _, id := range ids {
		if strings.TrimSpace(id) == "" {
			return nil, domain.Invalid("connection_ids", "invalid_connection_id", "connection ids must not be empty")
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out, nil
}

// CanRevise reports why the plan cannot get a new version, if it cannot
// (checked before planning one).
func CanRevise(s State) error {
	switch {
	case !s.Exists:
		return ErrNotFound
	case s.Confirmed > 0:
		return ErrConfirmed
	case s.Rejected:
		return ErrRejected
	}
	return nil
}

// Decide returns the events a command produces in state s.
func Decide(s State, cmd Command) ([]domain.Event, error) {
	switch c := cmd.(type) {
	case Request:
		return decideRequest(s, c)
	case Revise:
		return decideRevise(s, c)
	case Confirm:
		return decideConfirm(s, c)
	case Reject:
		return decideReject(s, c)
	}
	return nil, domain.Invalid("", "unknown_command", "unknown plan command")
}

func decideRequest(s State, c Request) ([]domain.Event, error) {
	if s.Exists {
		return nil, ErrAlreadyExists
	}
	if c.PlanID == "" {
		return nil, domain.Invalid("", "missing_id", "the plan id is required")
	}
	prompt, err := ValidatePrompt(c.Prompt)
	if err != nil {
		return nil, err
	}
	connections, err := ValidateConnectionFilter(c.ConnectionIDs)
	if err != nil {
		return nil, err
	}
	outcome, err := c.Result.event(1)
	if err != nil {
		return nil, err
	}
	return []domain.Event{Requested{PlanID: c.PlanID, Prompt: prompt, ConnectionIDs: connections, RequestedBy: c.By}, outcome}, nil
}

func decideRevise(s State, c Revise) ([]domain.Event, error) {
	if err := CanRevise(s); err != nil {
		return nil, err
	}
	prompt, err := ValidatePrompt(c.Prompt)
	if err != nil {
		return nil, err
	}
	if _, ok := s.Version(c.BasedOn); !ok {
		return nil, ErrVersionNotFound
	}
	next := len(s.Versions) + 1
	outcome, err := c.Result.event(next)
	if err != nil {
		return nil, err
	}
	return []domain.Event{Revised{Version: next, BasedOn: c.BasedOn, Prompt: prompt, RequestedBy: c.By}, outcome}, nil
}

func decideConfirm(s State, c Confirm) ([]domain.Event, error) {
	if !s.Exists {
		return nil, ErrNotFound
	}
	latest, _ := s.Latest()
	n := c.Version
	if n == 0 {
		n = latest.Number
	}
	v, ok := s.Version(n)
	switch {
	case !ok:
		return nil, ErrVersionNotFound
	case s.Rejected:
		return nil, ErrRejected
	case s.Confirmed == n:
		return nil, nil // confirmed already: nothing changes
	case s.Confirmed > 0:
		return nil, ErrConfirmed
	case n != latest.Number:
		return nil, ErrVersionSuperseded
	case v.Status != StatusProposed:
		return nil, ErrNotConfirmable
	}
	destructive := v.Outcome.Confirmation != nil && v.Outcome.Confirmation.HasDestructive()
	second := c.SecondPersonRule && destructive
	if second && (c.Role != RoleAdmin || slices.Contains(s.Requesters(n), c.By)) {
		return nil, ErrSecondPersonRequired
	}
	return []domain.Event{Confirmed{Version: n, ConfirmedBy: c.By, Role: c.Role, Destructive: destructive, SecondPerson: second}}, nil
}

func decideReject(s State, c Reject) ([]domain.Event, error) {
	if !s.Exists {
		return nil, ErrNotFound
	}
	reason := strings.TrimSpace(c.Reason)
	if reason == "" || utf8.RuneCountInString(reason) > MaxReasonRunes {
		return nil, domain.Invalid("reason", "invalid_reason", fmt.Sprintf("reason must have 1 to %d characters", MaxReasonRunes))
	}
	switch {
	case s.Rejected:
		return nil, nil // rejected already: nothing changes
	case s.Confirmed > 0:
		return nil, ErrConfirmed
	}
	latest, _ := s.Latest()
	return []domain.Event{Rejected{Version: latest.Number, Reason: reason, RejectedBy: c.By}}, nil
}

// ConfirmedVersion is what the execution engine runs: a confirmed version's
// plan, which no later event can change.
type ConfirmedVersion struct {
	PlanID      string
	Version     int
	Plan        Plan
	Summary     Summary
	ConfirmedBy string
}

// Executable returns version n of the plan when it is the confirmed one,
// ErrNotConfirmed otherwise.
func Executable(s State, n int) (ConfirmedVersion, error) {
	if !s.Exists {
		return ConfirmedVersion{}, ErrNotFound
	}
	v, ok := s.Version(n)
	if !ok {
		return ConfirmedVersion{}, ErrVersionNotFound
	}
	if s.Confirmed != n || s.Rejected || v.Outcome.Plan == nil {
		return ConfirmedVersion{}, ErrNotConfirmed
	}
	out := ConfirmedVersion{PlanID: s.ID, Version: n, Plan: *v.Outcome.Plan, ConfirmedBy: s.ConfirmedBy}
	if v.Outcome.Confirmation != nil {
		out.Summary = v.Outcome.Confirmation.Summary
	}
	return out, nil
}
