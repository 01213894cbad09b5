package projections_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/projections"
)

func TestAuditSummaryKeepsNoSecrets(t *testing.T) {
	t.Parallel()
	ciphertext := "AQ" + strings.Repeat("b", 80)
	cases := []struct {
		name, typ, data, want string
	}{
		{"user created", "user.created",
			`{"user_id":"u","tenant_id":"t","email_encrypted":"` + ciphertext + `","name_encrypted":"` + ciphertext + `","email_index":"i","role":"USER","password_hash":"$argon2id$x"}`,
			`{"role":"USER","user_id":"u"}`},
		{"user updated", "user.updated", `{"name_encrypted":"` + ciphertext + `","password_hash":"$argon2id$x","disabled":true}`,
			`{"disabled":true,"name_changed":true,"password_changed":true}`},
		{"token issued", "user.api_token_issued", `{"token_id":"k","name":"ci","secret_hash":"abc","expires_at":"2031-01-01T00:00:00Z"}`,
			`{"expires_at":"2031-01-01T00:00:00Z","name":"ci","token_id":"k"}`},
		{"failed login of an unknown email", "security.login_failed", `{"email_index":"i","reason":"unknown_email"}`,
			`{"reason":"unknown_email"}`},
		{"credentials set", "connection.credentials_set",
			`{"type":"oauth2_client_credentials","hint":"cl…42","key_id":"k1","public":{"client_id":"c"},"sealed":{"client_secret":"` + ciphertext + `"}}`,
			`{"hint":"cl…42","key_id":"k1","type":"oauth2_client_credentials"}`},
		{"tokens refreshed", "connection.oauth_tokens_refreshed", `{"key_id":"k1","sealed":{"access_token":"` + ciphertext + `"}}`,
			`{"key_id":"k1"}`},
		{"catalogue", "connection.endpoints_discovered", `{"operation_count":3,"added":[{"method":"GET"}],"removed":[]}`,
			`{"added_count":1,"operation_count":3,"removed_count":0}`},
		{"registered with a password in the URL", "connection.registered", `{"connection_id":"c","name":"n","base_url":"https://u:pw@api.example/v1"}`,
			`{"base_url":"https://api.example/v1","connection_id":"c","name":"n"}`},
		{"failed single sign-on", "security.sso_login_failed",
			`{"provider_id":"p1","issuer":"https://idp.example","reason":"provider_error","provider_error":"access_denied","state":"st4te","code":"c0de"}`,
			`{"issuer":"https://idp.example","provider_error":"access_denied","provider_id":"p1","reason":"provider_error"}`},
		{"audit accessed", "security.audit_accessed", `{"query":"export","filters":{"format":"csv","actor":"u1"}}`,
			`{"filters":{"actor":"u1","format":"csv"},"query":"export"}`},
		{"unknown type", "step.called",
			`{"step_id":"s1","status":200,"ok":true,"access_token":"x","Authorization":"y","response_body":"z","url":"https://a.example/?q=1","nested":{"a":1},"token":"apiq_abc","note":"apiq_abc_def","jwt":"eyJhbGciOi.eyJzdWIi.sig","sealed_value":"v","ct":"` + ciphertext + `","nil":null}`,
			`{"ct":"[redacted]","jwt":"[redacted]","nil":null,"note":"[redacted]","ok":true,"status":200,"step_id":"s1","url":"https://a.example/?q=1"}`},
		{"not an object", "odd.event", `[1,2]`, `{}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := projections.AuditSummary(tc.typ, json.RawMessage(tc.data))
			assert.JSONEq(t, tc.want, string(got))
			assert.NotContains(t, string(got), ciphertext)
		})
	}
}

func TestAuditSummaryIsBounded(t *testing.T) {
	t.Parallel()
	fields := map[string]string{}
	for i := range 40 {
		fields[strings.Repeat(string(rune('a'+i%26)), 1+i/26)] = strings.Repeat("x", 500)
	}
	data, err := json.Marshal(fields)
	require.NoError(t, err)
	got := projections.AuditSummary("big.event", data)
	assert.LessOrEqual(t, len(got), 2048)
	var decoded map[string]any
	require.NoError(t, json.Unmarshal(got, &decoded))
	assert.Equal(t, true, decoded["truncated"])
	for k, v := range decoded {
		if s, ok := v.(string); ok {
			assert.LessOrEqual(t, len([]rune(s)), 201, k)
		}
	}
	assert.Equal(t, string(got), string(projections.AuditSummary("big.event", data)), "deterministic")
}

func TestAuditOutcome(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"security.access_denied":              projections.AuditDenied,
		"user.login_failed":                   projections.AuditFailure,
		"execution.step_failed":               projections.AuditFailure,
		"execution.failed":                    projections.AuditFailure,
		"connection.reauthorization_required": projections.AuditFailure,
		"user.created":                        projections.AuditSuccess,
		"execution.completed":                 projections.AuditSuccess,
		"nodots":                              projections.AuditSuccess,
	}
	for typ, want := range cases {
		assert.Equal(t, want, projections.AuditOutcome(typ, nil), typ)
	}
	assert.Equal(t, projections.AuditFailure, projections.AuditOutcome("connection.tested", json.RawMessage(`{"ok":false}`)))
	assert.Equal(t, projections.AuditSuccess, projections.AuditOutcome("connection.tested", json.RawMessage(`{"ok":true}`)))
}

func TestDeriveAuditRow(t *testing.T) {
	t.Parallel()
	at := time.Date(2031, 1, 1, 0, 0, 0, 123456789, time.FixedZone("X", 7200))
	ev := eventstore.RecordedEvent{ID: uuid.New(), StreamID: "user-email-abc", Version: 4, Type: "reservation.reserved",
		Position: eventstore.Position{Commit: 9, Prepare: 10}, Data: json.RawMessage(`{"owner":"u1"}`), RecordedAt: at.Add(time.Second),
		Metadata: eventstore.Metadata{TenantID: "t", UserAgent: strings.Repeat("é", 400), OccurredAt: at}}
	r := projections.DeriveAuditRow(ev)
	assert.Equal(t, "user", r.ResourceType)
	assert.Equal(t, "email-abc", r.ResourceID)
	assert.Equal(t, at.UTC().Truncate(time.Microsecond), r.OccurredAt)
	assert.Equal(t, time.UTC, r.RecordedAt.Location())
	assert.LessOrEqual(t, len(r.UserAgent), 512)
	assert.True(t, strings.HasSuffix(r.UserAgent, "é"), "cut on a character boundary")
	assert.JSONEq(t, `{"owner":"u1"}`, string(r.Summary))

	ev.Metadata.OccurredAt = time.Time{}
	assert.Equal(t, ev.RecordedAt.UTC().Truncate(time.Microsecond), projections.DeriveAuditRow(ev).OccurredAt,
		"without an event time the recording time stands in")
	typ, id := projections.SplitStream("nohyphen")
	assert.Equal(t, []string{"nohyphen", ""}, []string{typ, id})
}

func TestAuditCanonicalBytes(t *testing.T) {
	t.Parallel()
	ev := eventstore.RecordedEvent{ID: uuid.New(), StreamID: "s-1", Version: 1, Type: "a.b", Data: json.RawMessage(`{"x": 1}`),
		Metadata: eventstore.Metadata{TenantID: "t"}}
	base := projections.AuditCanonicalBytes(ev)
	changes := map[string]func(e *eventstore.RecordedEvent){
		"id":             func(e *eventstore.RecordedEvent) { e.ID = uuid.New() },
		"stream":         func(e *eventstore.RecordedEvent) { e.StreamID = "s-2" },
		"version":        func(e *eventstore.RecordedEvent) { e.Version = 2 },
		"type":           func(e *eventstore.RecordedEvent) { e.Type = "a.c" },
		"data":           func(e *eventstore.RecordedEvent) { e.Data = json.RawMessage(`{"x": 2}`) },
		"tenant":         func(e *eventstore.RecordedEvent) { e.Metadata.TenantID = "u" },
		"actor subject":  func(e *eventstore.RecordedEvent) { e.Metadata.Actor.Subject = "u" },
		"actor role":     func(e *eventstore.RecordedEvent) { e.Metadata.Actor.Role = "ADMIN" },
		"auth method":    func(e *eventstore.RecordedEvent) { e.Metadata.Actor.AuthMethod = "sso" },
		"token id":       func(e *eventstore.RecordedEvent) { e.Metadata.Actor.TokenID = "t" },
		"sso issuer":     func(e *eventstore.RecordedEvent) { e.Metadata.Actor.SSOIssuer = "i" },
		"sso subject":    func(e *eventstore.RecordedEvent) { e.Metadata.Actor.SSOSubject = "s" },
		"correlation id": func(e *eventstore.RecordedEvent) { e.Metadata.CorrelationID = "c" },
		"causation id":   func(e *eventstore.RecordedEvent) { e.Metadata.CausationID = "c" },
		"request id":     func(e *eventstore.RecordedEvent) { e.Metadata.RequestID = "r" },
		"client ip":      func(e *eventstore.RecordedEvent) { e.Metadata.ClientIP = "192.0.2.1" },
		"user agent":     func(e *eventstore.RecordedEvent) { e.Metadata.UserAgent = "x" },
		"schema version": func(e *eventstore.RecordedEvent) { e.Metadata.SchemaVersion = 2 },
		"event time":     func(e *eventstore.RecordedEvent) { e.Metadata.OccurredAt = time.Unix(1, 0) },
		// The boundary between fields is part of the encoding.
		"boundary": func(e *eventstore.RecordedEvent) { e.StreamID, e.Type = "s-1a", ".b" },
	}
	for name, change := range changes {
		e := ev
		change(&e)
		other := projections.AuditCanonicalBytes(e)
		assert.NotEqual(t, base, other, name)
	}
	moved := ev
	moved.Position = eventstore.Position{Commit: 7, Prepare: 8}
	same := projections.AuditCanonicalBytes(moved)
	assert.Equal(t, base, same, "positions are not covered (a logical restore may renumber them)")
	assert.Len(t, projections.AuditChainHash(projections.AuditGenesisHash("t"), base), 32)
	assert.NotEqual(t, projections.AuditGenesisHash("t"), projections.AuditGenesisHash("u"))
}

// TestAuditCanonicalBytesCoverTheWholeEnvelope fails when the envelope
// gains a field: AuditCanonicalBytes must then cover it too (under a new
// context string, since existing chains were built without it).
func TestAuditCanonicalBytesCoverTheWholeEnvelope(t *testing.T) {
	t.Parallel()
	assert.Equal(t, 9, reflect.TypeFor[eventstore.Metadata]().NumField(), "eventstore.Metadata changed")
	assert.Equal(t, 6, reflect.TypeFor[eventstore.Actor]().NumField(), "eventstore.Actor changed")
}
