package openapi

import (
	"errors"
	"fmt"
	"strings"
)

// Code names a class of import problem; it is stable and safe to show to API
// clients. Errors carry one of the constants below; warnings may also carry
// the code of the kin-openapi validation rule that found them, in snake case
// ("extra_sibling_fields", "schema_items_required").
type Code string

// Codes of the problems Import reports, as errors or as warnings.
const (
	// CodeInvalidSyntax: the bytes are neither valid JSON nor valid YAML.
	CodeInvalidSyntax Code = "invalid_syntax"
	// CodeUnsupportedVersion: the document declares a version other than Swagger 2.0, OpenAPI 3.0 or 3.1.
	CodeUnsupportedVersion Code = "unsupported_version"
	// CodeMissingField: a field the specification requires is absent or empty.
	CodeMissingField Code = "missing_field"
	// CodeDanglingRef: a local $ref points at nothing (or only at other $refs).
	CodeDanglingRef Code = "dangling_ref"
	// CodeExternalRef: a $ref points outside the document; APIQ never follows those.
	CodeExternalRef Code = "external_ref"
	// CodeInvalidDocument: the document parses but a value has the wrong shape or type.
	CodeInvalidDocument Code = "invalid_document"
	// CodeTooLarge: the document exceeds Options.MaxBytes.
	CodeTooLarge Code = "too_large"
	// CodeAliasBomb: YAML aliases would expand the document beyond the allowed size.
	CodeAliasBomb Code = "alias_bomb"
	// CodeUnsupportedFeature: a warning for a construct the catalogue cannot represent.
	CodeUnsupportedFeature Code = "unsupported_feature"
	// CodeDuplicateOperationID: a warning for an operationId used by more than one operation.
	CodeDuplicateOperationID Code = "duplicate_operation_id"
	// CodeTooManyWarnings: a warning that further warnings were left out.
	CodeTooManyWarnings Code = "too_many_warnings"
)

// ErrTooLarge is matched (errors.Is) by the *ImportError of a document over the size limit.
var ErrTooLarge = errors.New("openapi document too large")

// Problem is one located finding about a document: a warning on a successful
// import, or one of the reasons an import failed.
type Problem struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	// Pointer is the JSON pointer (RFC 6901) of the offending value; "" is the whole document.
	Pointer string `json:"pointer"`
	// Line and Column are 1-based positions in the submitted text; 0 when unknown.
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
}

// String renders the problem with its location, for logs and error messages.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(string(p.Code))
	if p.Pointer != "" {
		b.WriteString(" at ")
		b.WriteString(p.Pointer)
	}
	if p.Line > 0 {
		fmt.Fprintf(&b, " (line %d, column %d)", p.Line, p.Column)
	}
	b.WriteString(": ")
	b.WriteString(p.Message)
	return b.String()
}

// ImportError says why a document was refused and where: the first problem
// found, with the further problems of the same kind in Others.
type ImportError struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	Pointer string `json:"pointer"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	// Others holds further located problems (capped), when the document had several.
	Others []Problem `json:"others,omitempty"`

	cause error
}

// Error renders the error with its location.
func (e *ImportError) Error() string {
	s := "import openapi document: " + e.Problem().String()
	if n := len(e.Others); n > 0 {
		s += fmt.Sprintf(" (and %d more)", n)
	}
	return s
}

// Problem returns the error's own finding as a Problem.
func (e *ImportError) Problem() Problem {
	return Problem{Code: e.Code, Message: e.Message, Pointer: e.Pointer, Line: e.Line, Column: e.Column}
}

// Unwrap returns the underlying library error, when there is one.
func (e *ImportError) Unwrap() error { return e.cause }

// Is lets errors.Is(err, ErrTooLarge) match a too_large import error.
func (e *ImportError) Is(target error) bool {
	return target == ErrTooLarge && e.Code == CodeTooLarge
}

// newImportError builds an error from its first problem and the rest.
func newImportError(cause error, first Problem, others ...Problem) *ImportError {
	return &ImportError{
		Code:    first.Code,
		Message: first.Message,
		Pointer: first.Pointer,
		Line:    first.Line,
		Column:  first.Column,
		Others:  others,
		cause:   cause,
	}
}
