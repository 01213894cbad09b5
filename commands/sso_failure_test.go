package commands_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/commands"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/security"
)

func TestRecordSSOLoginFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	acme := e.tenantWithAdmin(t, "acme")
	record, err := commands.NewRecordSSOLoginFailureHandler(e.deps)
	require.NoError(t, err)
	const issuer = "https://idp.example"
	securityEvents := func(t *testing.T) []eventstore.RecordedEvent {
		t.Helper()
		evs, err := e.store.ReadStream(ctx, security.Stream(acme.TenantID), 0, 0)
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			return nil
		}
		require.NoError(t, err)
		return evs
	}

	tests := []struct {
		name      string
		cmd       commands.RecordSSOLoginFailure
		invalid   bool
		wantError string // the provider error kept
	}{
		{name: "state", cmd: commands.RecordSSOLoginFailure{TenantID: acme.TenantID, ProviderID: "p1", Issuer: issuer,
			Reason: "unknown_state"}},
		{name: "provider error", cmd: commands.RecordSSOLoginFailure{TenantID: acme.TenantID, ProviderID: "p1", Issuer: issuer,
			Reason: security.ReasonSSOProviderError, ProviderError: "access_denied"}, wantError: "access_denied"},
		{name: "non-standard provider error", cmd: commands.RecordSSOLoginFailure{TenantID: acme.TenantID, ProviderID: "p1",
			Issuer: issuer, Reason: security.ReasonSSOProviderError, ProviderError: "<script>secret-code-123"}, wantError: "other"},
		{name: "with subject", cmd: commands.RecordSSOLoginFailure{TenantID: acme.TenantID, ProviderID: "p1", Issuer: issuer,
			Subject: "sub-1", Reason: security.ReasonSSOEmailUnverified}},
		{name: "no tenant", cmd: commands.RecordSSOLoginFailure{ProviderID: "p1", Issuer: issuer, Reason: "unknown_state"},
			invalid: true},
		{name: "no provider", cmd: commands.RecordSSOLoginFailure{TenantID: acme.TenantID, Issuer: issuer, Reason: "unknown_state"},
			invalid: true},
		{name: "reason not a code", cmd: commands.RecordSSOLoginFailure{TenantID: acme.TenantID, ProviderID: "p1", Issuer: issuer,
			Reason: "state=abc123 was wrong"}, invalid: true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(securityEvents(t))
			meta := anonymous("sso-fail-" + string(rune('a'+i)))
			res, err := record.Handle(ctx, meta, tc.cmd)
			after := securityEvents(t)
			if tc.invalid {
				assert.ErrorIs(t, err, domain.ErrInvalid)
				assert.Len(t, after, before, "nothing recorded")
				return
			}
			require.NoError(t, err)
			require.Len(t, after, before+1)
			last := after[len(after)-1]
			assert.Equal(t, res.Position, last.Position)
			assert.Equal(t, security.TypeSSOLoginFailed, last.Type)
			ev := mustDecode[security.SSOLoginFailed](t, last.Data)
			assert.Equal(t, tc.cmd.Reason, ev.Reason)
			assert.Equal(t, tc.cmd.ProviderID, ev.ProviderID)
			assert.Equal(t, issuer, ev.Issuer)
			assert.Equal(t, tc.wantError, ev.ProviderError)
			assert.NotContains(t, string(last.Data), "secret-code-123")
			md := last.Metadata
			assert.Equal(t, acme.TenantID, md.TenantID)
			assert.Equal(t, "sso", md.Actor.AuthMethod)
			assert.Equal(t, issuer, md.Actor.SSOIssuer)
			assert.Equal(t, tc.cmd.Subject, md.Actor.SSOSubject)
			assert.Empty(t, md.Actor.Subject, "nobody signed in")
			assert.Equal(t, "203.0.113.9", md.ClientIP)
			assert.Equal(t, "curl", md.UserAgent)
			assert.Equal(t, meta.RequestID, md.RequestID)
		})
	}
}
