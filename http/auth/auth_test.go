package auth

import (
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBearer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		header, want string
		ok           bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer   abc  ", "abc", true},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Basic abc", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := bearer(tt.header)
		assert.Equal(t, tt.ok, ok, tt.header)
		assert.Equal(t, tt.want, got, tt.header)
	}
}

func TestNewGuardRequiresEveryDependency(t *testing.T) {
	t.Parallel()
	_, err := NewGuard(nil, nil, nil, nil)
	require.Error(t, err)
	for _, name := range []string{"Authenticator", "Users", "DenialRecorder", "logger"} {
		assert.ErrorContains(t, err, name)
	}
	_, err = NewGuard(nil, nil, nil, slog.New(slog.DiscardHandler))
	assert.NotContains(t, err.Error(), "logger")
}

func TestPrincipalActor(t *testing.T) {
	t.Parallel()
	p := Principal{TenantID: "t", UserID: "u", Role: RoleAdmin, AuthMethod: MethodAPIToken, TokenID: "tok"}
	a := p.Actor()
	assert.Equal(t, "u", a.Subject)
	assert.Equal(t, RoleAdmin, a.Role)
	assert.Equal(t, MethodAPIToken, a.AuthMethod)
	assert.Equal(t, "tok", a.TokenID)
}
