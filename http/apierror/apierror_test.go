package apierror

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/apiq/apiq/adapters/eventstore"
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
		{"anything else", errors.New("disk on fire"), http.StatusInternalServerError, CodeInternal},
	}
	for _, tt := range tests {
		got := m.Map(tt.err)
		assert.Equal(t, tt.status, got.Status, tt.name)
		assert.Equal(t, tt.code, got.Code, tt.name)
	}
	assert.Equal(t, "internal error", m.Map(errors.New("disk on fire")).Message, "internals are not shown")
	assert.Equal(t, "create user: email taken", m.Map(fmt.Errorf("create user: %w", errDomain)).Message)
}
