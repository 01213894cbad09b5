// Package apierror defines APIQ's JSON error body
// ({"error":{"code","message","details"}}), its stable codes, and the
// mapping from Go errors to them.
package apierror

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/domain"
)

// Code is a stable, machine-readable error code clients may switch on.
type Code string

// The stable error codes of the API.
const (
	CodeValidationFailed     Code = "validation_failed"
	CodeUnauthorized         Code = "unauthorized"
	CodeForbidden            Code = "forbidden"
	CodeNotFound             Code = "not_found"
	CodeMethodNotAllowed     Code = "method_not_allowed"
	CodeConflict             Code = "conflict"
	CodeIdempotencyKeyReused Code = "idempotency_key_reused"
	CodeIdempotencyInFlight  Code = "idempotency_request_in_progress"
	CodePayloadTooLarge      Code = "payload_too_large"
	CodeUnsupportedMedia     Code = "unsupported_media_type"
	CodeProjectionTimeout    Code = "projection_timeout"
	CodeRateLimited          Code = "rate_limited"
	CodeUnavailable          Code = "unavailable"
	CodeInternal             Code = "internal"
)

// Error is an error that knows its HTTP status, code and client-safe message.
type Error struct {
	Status  int
	Code    Code
	Message string
	Details any
	// Err is the underlying cause; it is logged, never sent to the client.
	Err error
}

// New returns an *Error with the given status, code and message.
func New(status int, code Code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

// WithDetails returns a copy of e carrying details.
func (e *Error) WithDetails(details any) *Error {
	c := *e
	c.Details = details
	return &c
}

// Wrap returns a copy of e whose cause is err.
func (e *Error) Wrap(err error) *Error {
	c := *e
	c.Err = err
	return &c
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Body is the JSON error body every error response carries.
type Body struct {
	Error BodyError `json:"error"`
}

// BodyError is the content of Body.
type BodyError struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	Details any    `json:"details,omitempty"`
}

// Rule maps errors matching Target (errors.Is) to a status and code; the
// composition root adds rules for the domain's sentinel errors.
type Rule struct {
	Target  error
	Status  int
	Code    Code
	Message string // client-safe message; the error text when empty
}

// Mapper turns errors into *Error through an ordered table of rules.
type Mapper struct {
	rules []Rule
}

// NewMapper returns a Mapper trying rules in order, after the built-in
// rules for the event store's and the context's sentinel errors.
func NewMapper(rules ...Rule) *Mapper {
	builtin := []Rule{
		{Target: eventstore.ErrWrongExpectedVersion, Status: http.StatusConflict, Code: CodeConflict,
			Message: "the resource was changed concurrently; retry the request"},
		{Target: eventstore.ErrStreamNotFound, Status: http.StatusNotFound, Code: CodeNotFound,
			Message: "resource not found"},
		{Target: context.DeadlineExceeded, Status: http.StatusServiceUnavailable, Code: CodeUnavailable,
			Message: "the request timed out"},
	}
	return &Mapper{rules: append(append([]Rule{}, rules...), builtin...)}
}

// Map converts err to an *Error: an *Error in the chain is returned as is,
// a matching rule wraps err, anything else is an internal error.
func (m *Mapper) Map(err error) *Error {
	var apiErr *Error
	if errors.As(err, &apiErr) {
		return apiErr
	}
	var domainErr *domain.Error
	if errors.As(err, &domainErr) {
		return fromDomain(domainErr, err)
	}
	for _, r := range m.rules {
		if errors.Is(err, r.Target) {
			msg := r.Message
			if msg == "" {
				msg = err.Error()
			}
			return &Error{Status: r.Status, Code: r.Code, Message: msg, Err: err}
		}
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal,
		Message: "internal error", Err: err}
}

// domainKinds maps the domain's error kinds onto statuses and codes.
var domainKinds = []struct {
	kind   error
	status int
	code   Code
}{
	{domain.ErrInvalid, http.StatusBadRequest, CodeValidationFailed},
	{domain.ErrNotFound, http.StatusNotFound, CodeNotFound},
	{domain.ErrConflict, http.StatusConflict, CodeConflict},
	{domain.ErrForbidden, http.StatusForbidden, CodeForbidden},
	{domain.ErrUnauthenticated, http.StatusUnauthorized, CodeUnauthorized},
}

// DomainDetails are the details of an error the domain decided: its own
// stable reason code and, for invalid input, the field.
type DomainDetails struct {
	Reason string `json:"reason"`
	Field  string `json:"field,omitempty"`
}

// fromDomain keeps the domain's message (free of personal data by contract)
// and reason code, under the API's generic code for its kind.
func fromDomain(de *domain.Error, err error) *Error {
	for _, k := range domainKinds {
		if errors.Is(de.Kind, k.kind) {
			return &Error{Status: k.status, Code: k.code, Message: de.Message,
				Details: DomainDetails{Reason: de.Code, Field: de.Field}, Err: err}
		}
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error", Err: err}
}

// Abort writes err's body with its status and stops the handler chain. The
// cause is attached to the gin context so the access log can report it.
func Abort(c *gin.Context, e *Error) {
	if e.Err != nil {
		_ = c.Error(e.Err)
	}
	c.AbortWithStatusJSON(e.Status, Body{Error: BodyError{Code: e.Code, Message: e.Message, Details: e.Details}})
}

// Common errors used across the HTTP layer.
var (
	ErrNotFound         = New(http.StatusNotFound, CodeNotFound, "resource not found")
	ErrRouteNotFound    = New(http.StatusNotFound, CodeNotFound, "no such route")
	ErrMethodNotAllowed = New(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "method not allowed on this route")
	ErrUnauthorized     = New(http.StatusUnauthorized, CodeUnauthorized, "missing or invalid credentials")
	ErrForbidden        = New(http.StatusForbidden, CodeForbidden, "your role may not do this")
	ErrPayloadTooLarge  = New(http.StatusRequestEntityTooLarge, CodePayloadTooLarge, "request body too large")
	ErrProjectionWait   = New(http.StatusGatewayTimeout, CodeProjectionTimeout,
		"the read model did not reach min_position in time; retry later")
)
