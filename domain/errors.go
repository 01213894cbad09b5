// Package domain holds what every aggregate shares: the event contract and
// the typed errors that the HTTP layer maps onto status codes.
package domain

import "errors"

// Error kinds: every *Error unwraps to one of these, so callers can map an
// error to a status with errors.Is without knowing each aggregate's errors.
var (
	// ErrInvalid marks input that breaks a rule (400/422).
	ErrInvalid = errors.New("invalid")
	// ErrNotFound marks a missing aggregate or entity (404).
	ErrNotFound = errors.New("not found")
	// ErrConflict marks a request that clashes with the current state (409).
	ErrConflict = errors.New("conflict")
	// ErrForbidden marks a request the rules refuse whoever asks (403).
	ErrForbidden = errors.New("forbidden")
	// ErrUnauthenticated marks credentials that were not accepted (401).
	ErrUnauthenticated = errors.New("unauthenticated")
)

// Error is a typed domain error with a stable machine-readable code.
// Aggregates declare their errors as package-level *Error values, so both
// errors.Is(err, user.ErrEmailTaken) and errors.Is(err, domain.ErrConflict) hold.
type Error struct {
	// Code is stable and machine-readable, e.g. "email_taken".
	Code string
	// Message is a human-readable sentence without personal data.
	Message string
	// Field names the offending input field of an ErrInvalid error, if any.
	Field string
	// Kind is one of ErrInvalid, ErrNotFound, ErrConflict, ErrForbidden, ErrUnauthenticated.
	Kind error
}

// NewError returns a typed error of the given kind.
func NewError(kind error, code, message string) *Error {
	return &Error{Code: code, Message: message, Kind: kind}
}

// Invalid returns an ErrInvalid error about one input field.
func Invalid(field, code, message string) *Error {
	return &Error{Code: code, Message: message, Field: field, Kind: ErrInvalid}
}

func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

// Unwrap exposes the kind, so errors.Is(err, domain.ErrConflict) works.
func (e *Error) Unwrap() error { return e.Kind }
