package projections_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/connection"
	"github.com/apiq/apiq/domain/tenant"
	"github.com/apiq/apiq/domain/user"
	"github.com/apiq/apiq/projections"
)

func domainEvent(t *testing.T, tenantID, stream string, at time.Time, ev domain.Event) auditEvent {
	t.Helper()
	data, err := json.Marshal(ev)
	require.NoError(t, err)
	return auditEvent{tenant: tenantID, stream: stream, typ: ev.EventType(), data: string(data), actor: auditAdmin, at: at}
}

func TestReplayStream(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	base := time.Date(2031, 5, 1, 9, 0, 0, 0, time.UTC)
	admin := user.RoleAdmin
	disabled := true
	sealed := "AQ" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	h.appendAudit(t,
		domainEvent(t, "tn", "user-u1", base, user.Created{UserID: "u1", TenantID: "tn", EncryptedEmail: sealed,
			EncryptedName: sealed, EmailIndex: "idx", Role: user.RoleUser, PasswordHash: "$argon2id$secret"}),
		domainEvent(t, "tn", "user-u1", base.Add(time.Hour), user.APITokenIssued{TokenID: "tok1", Name: "ci", SecretHash: "deadbeef"}),
		domainEvent(t, "tn", "user-u1", base.Add(2*time.Hour), user.Updated{Role: &admin}),
		domainEvent(t, "tn", "user-u1", base.Add(3*time.Hour), user.Updated{Disabled: &disabled}),
		domainEvent(t, "tn", "tenant-tn", base, tenant.Created{TenantID: "tn", Name: "Tee", Slug: "tee"}),
		domainEvent(t, "tn", "tenant-tn", base, tenant.AdminBootstrapped{UserID: "u0"}),
		domainEvent(t, "tn", "connection-c1", base, connection.Registered{ConnectionID: "c1", Name: "Pets", BaseURL: "https://pets.example"}),
		domainEvent(t, "tn", "connection-c1", base.Add(time.Minute), connection.CredentialsSet{Credentials: connection.Credentials{
			Type: "api_key", Hint: "sk_…4242", KeyID: "key-7", Public: map[string]string{"name": "X-Key"},
			Sealed: map[string]string{"api_key": sealed}}}),
		auditEvent{tenant: "tn", stream: "widget-w1", typ: "widget.made", data: `{"size":2}`, actor: auditAdmin, at: base},
		domainEvent(t, "other", "user-u2", base, user.Created{UserID: "u2", TenantID: "other", Role: user.RoleUser}),
	)

	cases := []struct {
		name, stream, at string
		version          int64
		state            any
		events           int
	}{
		{"user now", "user-u1", "", 3, projections.UserStateView{Kind: "user", ID: "u1", TenantID: "tn", Role: "ADMIN", Disabled: true,
			Tokens: []projections.TokenStateView{{ID: "tok1", Name: "ci"}}}, 4},
		{"user at a version", "user-u1", "1", 1, projections.UserStateView{Kind: "user", ID: "u1", TenantID: "tn", Role: "USER",
			Tokens: []projections.TokenStateView{{ID: "tok1", Name: "ci"}}}, 2},
		{"user at a time", "user-u1", base.Add(150 * time.Minute).Format(time.RFC3339), 2, projections.UserStateView{Kind: "user",
			ID: "u1", TenantID: "tn", Role: "ADMIN", Tokens: []projections.TokenStateView{{ID: "tok1", Name: "ci"}}}, 3},
		{"user before it existed", "user-u1", base.Add(-time.Hour).Format(time.RFC3339), eventstore.NoStream, nil, 0},
		{"tenant", "tenant-tn", "", 1, projections.TenantStateView{Kind: "tenant", ID: "tn", Name: "Tee", Slug: "tee",
			FirstAdmin: "u0", Admins: []string{"u0"}}, 2},
		{"connection", "connection-c1", "", 1, projections.ConnectionStateView{Kind: "connection", ID: "c1", Name: "Pets",
			BaseURL: "https://pets.example", Status: "active",
			Credentials: &projections.CredentialStateView{Type: "api_key", Hint: "sk_…4242", KeyID: "key-7"}}, 2},
		{"another kind of stream", "widget-w1", "", 0, nil, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			at, err := projections.ParseReplayPoint(tc.at)
			require.NoError(t, err)
			r, err := projections.ReplayStream(ctx, h.store, "tn", tc.stream, at)
			require.NoError(t, err)
			assert.Equal(t, tc.version, r.Version)
			assert.Equal(t, tc.state, r.State)
			assert.Len(t, r.Events, tc.events)
			assert.Equal(t, int64(tc.events), r.EventCount)
			raw, err := json.Marshal(r)
			require.NoError(t, err)
			for _, secret := range []string{sealed, "$argon2id$secret", "deadbeef", "idx"} {
				assert.NotContains(t, string(raw), secret, "a replay never shows secrets")
			}
		})
	}

	for _, stream := range []string{"user-u2", "user-nobody"} {
		_, err := projections.ReplayStream(ctx, h.store, "tn", stream, projections.ReplayPoint{})
		assert.ErrorIs(t, err, projections.ErrAuditStreamNotFound, "%s is not the tenant's", stream)
		assert.ErrorIs(t, err, domain.ErrNotFound)
	}
	_, err := projections.ParseReplayPoint("yesterday")
	assert.ErrorIs(t, err, domain.ErrInvalid)
}

func TestExecutionTimeline(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	base := time.Date(2031, 5, 1, 9, 0, 0, 0, time.UTC)
	h.appendAudit(t,
		auditEvent{tenant: "tn", stream: "execution-e1", typ: "execution.started", data: `{"plan_id":"p1"}`, actor: auditAdmin, at: base},
		auditEvent{tenant: "tn", stream: "execution-e1", typ: "execution.step_started", data: `{"step_id":"s1","method":"GET"}`, actor: auditAdmin, at: base.Add(time.Second)},
		auditEvent{tenant: "tn", stream: "execution-e1", typ: "execution.step_failed", data: `{"step":2,"status":503,"credential_key_id":"key-7","response_body":"secret stuff"}`, actor: auditAdmin, at: base.Add(3 * time.Second)},
		auditEvent{tenant: "tn", stream: "execution-e1", typ: "execution.failed", data: `{}`, actor: auditAdmin, at: base.Add(4 * time.Second)},
	)

	tl, err := projections.ReadExecutionTimeline(ctx, h.store, "tn", "e1")
	require.NoError(t, err)
	assert.Equal(t, "execution-e1", tl.Stream)
	assert.Equal(t, base, tl.StartedAt)
	assert.Equal(t, base.Add(4*time.Second), tl.EndedAt)
	assert.Equal(t, "execution.failed", tl.LastAction)
	assert.Equal(t, projections.AuditFailure, tl.Outcome)
	require.Len(t, tl.Entries, 4)
	assert.Equal(t, []string{"", "s1", "2", ""}, []string{tl.Entries[0].Step, tl.Entries[1].Step, tl.Entries[2].Step, tl.Entries[3].Step})
	assert.Equal(t, 3*time.Second, tl.Entries[2].Elapsed)
	assert.Equal(t, projections.AuditFailure, tl.Entries[2].Outcome)
	assert.JSONEq(t, `{"credential_key_id":"key-7","status":503,"step":2}`, string(tl.Entries[2].Summary),
		"which credential a step used is auditable, the response body is not")

	for _, id := range []string{"e2", ""} {
		_, err = projections.ReadExecutionTimeline(ctx, h.store, "tn", id)
		assert.ErrorIs(t, err, projections.ErrAuditStreamNotFound)
	}
	_, err = projections.ReadExecutionTimeline(ctx, h.store, "another-tenant", "e1")
	assert.ErrorIs(t, err, projections.ErrAuditStreamNotFound)
}
