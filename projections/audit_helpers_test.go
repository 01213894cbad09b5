package projections_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/auditsign"
	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/projections"
)

// auditEvent is one event for the audit tests to append.
type auditEvent struct {
	tenant, stream, typ string
	data                string
	actor               eventstore.Actor
	// at is the event time (now when zero); correlation overrides the
	// default correlation id "corr-<stream>".
	at          time.Time
	correlation string
}

// appendAudit appends each event to its stream (no version check) with a
// full envelope, and returns the recorded ids in order.
func (h *harness) appendAudit(t testing.TB, events ...auditEvent) []uuid.UUID {
	t.Helper()
	ids := make([]uuid.UUID, len(events))
	for i, e := range events {
		ids[i] = uuid.New()
		data := e.data
		if data == "" {
			data = `{}`
		}
		at, correlation := e.at, e.correlation
		if at.IsZero() {
			at = time.Now()
		}
		if correlation == "" {
			correlation = "corr-" + e.stream
		}
		res, err := h.store.Append(context.Background(), e.stream, eventstore.Any, []eventstore.EventData{{
			ID: ids[i], Type: e.typ, Data: json.RawMessage(data),
			Metadata: eventstore.Metadata{
				TenantID: e.tenant, Actor: e.actor, CorrelationID: correlation, CausationID: "cause-1",
				RequestID: "req-" + ids[i].String()[:8], ClientIP: "192.0.2.7", UserAgent: "audit-test/1.0",
				SchemaVersion: 1, OccurredAt: at,
			},
		}})
		require.NoError(t, err)
		h.mu.Lock()
		if res.Position.Compare(h.last) > 0 {
			h.last = res.Position
		}
		h.mu.Unlock()
	}
	return ids
}

var (
	auditAdmin   = eventstore.Actor{Subject: "admin-1", Role: "ADMIN", AuthMethod: "password"}
	auditMachine = eventstore.Actor{Subject: "bot-1", Role: "USER", AuthMethod: "api_token", TokenID: "tok-9"}
	auditSSO     = eventstore.Actor{Subject: "sso-1", Role: "AUDITOR", AuthMethod: "sso", SSOIssuer: "https://idp.example", SSOSubject: "abc"}
)

// newAuditKey returns a fresh signing key.
func newAuditKey(t testing.TB) *auditsign.Key {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	k, err := auditsign.NewKey(priv)
	require.NoError(t, err)
	return k
}

// auditRows reads every audit row of a tenant in chain order.
func auditRows(t testing.TB, db projections.QueryDB, tenant string) []projections.AuditRow {
	t.Helper()
	var out []projections.AuditRow
	_, err := projections.ExportAuditRows(context.Background(), db, tenant, projections.AuditFilter{}, func(r projections.AuditRow) error {
		out = append(out, r)
		return nil
	})
	require.NoError(t, err)
	return out
}
