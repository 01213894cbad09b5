package apierror

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/domain"
)

func TestMapperMapsErrors(t *testing.T) {
	t.Parallel()
	errDomain := errors.New("email taken")
	m := NewMapper(Rule{Target: errDomain, Status: http.StatusConflict, Code: CodeConflict})
	tests := []struct {
		name   string
		err    error
		status int
		code   Code
	}{
		{"api error kept", fmt.Errorf("wrapped: %w", ErrForbidden), http.StatusForbidden, CodeForbidden},
		{"rule", fmt.Errorf("create user: %w", errDomain), http.StatusConflict, CodeConflict},
		{"version conflict", &eventstore.WrongExpectedVersionError{Stream: "s", Expected: 1, Actual: 2}, http.StatusConflict, CodeConflict},
		{"missing stream", eventstore.ErrStreamNotFound, http.StatusNotFound, CodeNotFound},
		{"timeout", context.DeadlineExceeded, http.StatusServiceUnavailable, CodeUnavailable},
		{"domain invalid", domain.Invalid("email", "email_invalid", "not an email"), http.StatusBadRequest, CodeValidationFailed},
		{"domain conflict", fmt.Errorf("create: %w", domain.NewError(domain.ErrConflict, "email_taken", "taken")), http.StatusConflict, CodeConflict},
		{"domain not found", domain.NewError(domain.ErrNotFound, "user_not_found", "no such user"), http.StatusNotFound, CodeNotFound},
		{"domain unauthenticated", domain.NewError(domain.ErrUnauthenticated, "bad_password", "invalid credentials"), http.StatusUnauthorized, CodeUnauthorized},
		{"anything else", errors.New("disk on fire"), http.StatusInternalServerError, CodeInternal},
	}
	for _, tt := range tests {
		got := m.Map(tt.err)
		assert.Equal(t, tt.status, got.Status, tt.name)
		assert.Equal(t, tt.code, got.Code, tt.name)
	}
	assert.Equal(t, DomainDetails{Reason: "email_invalid", Field: "email"}, m.Map(domain.Invalid("email", "email_invalid", "not an email")).Details)
	assert.Equal(t, "internal error", m.Map(errors.New("disk on fire")).Message, "internals are not shown")
	assert.Equal(t, "create user: email taken", m.Map(fmt.Errorf("create user: %w", errDomain)).Message)
}
