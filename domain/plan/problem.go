package plan

import (
	"errors"
	"strings"

	"github.com/apiq/apiq/domain"
)

// Problem is one reason a plan is invalid, precise enough to be shown to a
// person or sent back to the model in a repair round.
type Problem struct {
	// Step is the id of the step at fault; empty for the plan as a whole.
	Step string `json:"step,omitempty"`
	// Field locates the value within the step ("call.query.page",
	// "call.body.items[0].price", "condition.expr").
	Field   string `json:"field,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Problem codes.
const (
	CodeEmptyPlan             = "empty_plan"
	CodeTooManySteps          = "too_many_steps"
	CodeInvalidID             = "invalid_id"
	CodeDuplicateID           = "duplicate_id"
	CodeInvalidInput          = "invalid_input"
	CodeInvalidKind           = "invalid_kind"
	CodeMissingOperation      = "missing_operation"
	CodeUnknownOperation      = "unknown_operation"
	CodeSideEffectMismatch    = "side_effect_mismatch"
	CodeMissingParameter      = "missing_parameter"
	CodeUnknownParameter      = "unknown_parameter"
	CodeCredentialParameter   = "credential_parameter"
	CodeMissingBody           = "missing_body"
	CodeUnexpectedBody        = "unexpected_body"
	CodeTypeMismatch          = "type_mismatch"
	CodeNotInEnum             = "not_in_enum"
	CodeInvalidFormat         = "invalid_format"
	CodeMissingField          = "missing_field"
	CodeUnknownField          = "unknown_field"
	CodeNoMatchingAlternative = "no_matching_alternative"
	CodeInvalidExpression     = "invalid_expression"
	CodeInvalidReference      = "invalid_reference"
	CodeUnknownInput          = "unknown_input"
	CodeUnknownStep           = "unknown_step"
	CodeForwardReference      = "forward_reference"
	CodeBodyStepReference     = "body_step_reference"
	CodeItemOutsideForeach    = "item_outside_foreach"
	CodeMissingResponseField  = "missing_response_field"
	CodeNotAList              = "not_a_list"
	CodeInvalidBound          = "invalid_bound"
	CodeInvalidBody           = "invalid_foreach_body"
	CodeInvalidBranch         = "invalid_branch"
	CodeTooManyProblems       = "too_many_problems"
)

// MaxProblems bounds the problems Validate reports (a repair prompt stays small).
const MaxProblems = 100

// ErrInvalidPlan is what Problems.Err wraps.
var ErrInvalidPlan = errors.New("invalid plan")

// Problems is the outcome of Validate: empty when the plan is valid.
type Problems []Problem

// Err returns nil when there are no problems, or an error wrapping
// ErrInvalidPlan that lists them.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return &InvalidPlanError{Problems: ps}
}

// String lists the problems one a line: "step id, field: message (code)".
func (ps Problems) String() string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// String renders one problem on a line.
func (p Problem) String() string {
	var b strings.Builder
	if p.Step != "" {
		b.WriteString("step ")
		b.WriteString(p.Step)
		if p.Field != "" {
			b.WriteString(", ")
		}
	}
	b.WriteString(p.Field)
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	b.WriteString(" (")
	b.WriteString(p.Code)
	b.WriteString(")")
	return b.String()
}

// Codes returns the problems' codes in order (for tests and metrics).
func (ps Problems) Codes() []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Code
	}
	return out
}

// InvalidPlanError carries the problems of an invalid plan.
type InvalidPlanError struct {
	Problems Problems
}

func (e *InvalidPlanError) Error() string {
	return "invalid plan: " + strings.ReplaceAll(e.Problems.String(), "\n", "; ")
}

// Unwrap makes errors.Is hold for ErrInvalidPlan and domain.ErrInvalid.
func (e *InvalidPlanError) Unwrap() []error { return []error{ErrInvalidPlan, domain.ErrInvalid} }
