package projections

import (
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/domain/connection"
)

// Outcomes of audited actions.
const (
	AuditSuccess = "success"
	AuditFailure = "failure"
	AuditDenied  = "denied"
)

// Bounds of the envelope fields copied into an audit row (the envelope is
// partly client-chosen: a user agent may be long).
const (
	maxAuditUserAgent = 512
	maxAuditField     = 256
)

// AuditRow is one row of the audit trail: one event as compliance staff
// read it, with its place in the tenant's hash chain. It never holds
// secrets or ciphertexts; Summary keeps a bounded, secret-free excerpt of
// the event's data.
type AuditRow struct {
	TenantID string
	// Sequence is the row's 1-based place in the tenant's hash chain, which
	// follows feed order.
	Sequence int64
	EventID  uuid.UUID
	Position eventstore.Position
	// OccurredAt is the event time (the envelope's occurred_at, else the
	// recording time); RecordedAt is when the store recorded it.
	OccurredAt time.Time
	RecordedAt time.Time
	Actor      eventstore.Actor
	ClientIP   string
	UserAgent  string
	RequestID  string
	// Action is the event type.
	Action string
	// ResourceType and ResourceID split the stream name "<type>-<id>".
	ResourceType  string
	ResourceID    string
	StreamID      string
	StreamVersion int64
	// Outcome is AuditSuccess, AuditFailure or AuditDenied.
	Outcome       string
	CorrelationID string
	CausationID   string
	// Summary is a JSON object: the event's non-secret fields.
	Summary json.RawMessage
	// PrevHash is the chain hash of the tenant's previous row (the tenant's
	// genesis hash for the first); Hash is SHA-256(PrevHash ‖ the event's
	// canonical bytes).
	PrevHash []byte
	Hash     []byte
}

// DeriveAuditRow returns the audit row of an event, without its place in
// the chain (Sequence, PrevHash and Hash stay empty). It is a pure function
// of the event: the projector, verification and replay all use it.
func DeriveAuditRow(ev eventstore.RecordedEvent) AuditRow {
	md := ev.Metadata
	resourceType, resourceID := SplitStream(ev.StreamID)
	return AuditRow{
		TenantID:   md.TenantID,
		EventID:    ev.ID,
		Position:   ev.Position,
		OccurredAt: eventstore.NormalizeTime(eventTime(ev)),
		RecordedAt: eventstore.NormalizeTime(ev.RecordedAt),
		Actor: eventstore.Actor{
			Subject: bound(md.Actor.Subject, maxAuditField), Role: bound(md.Actor.Role, maxAuditField),
			AuthMethod: bound(md.Actor.AuthMethod, maxAuditField), TokenID: bound(md.Actor.TokenID, maxAuditField),
			SSOIssuer: bound(md.Actor.SSOIssuer, maxAuditField), SSOSubject: bound(md.Actor.SSOSubject, maxAuditField),
		},
		ClientIP:      bound(md.ClientIP, maxAuditField),
		UserAgent:     bound(md.UserAgent, maxAuditUserAgent),
		RequestID:     bound(md.RequestID, maxAuditField),
		Action:        ev.Type,
		ResourceType:  resourceType,
		ResourceID:    resourceID,
		StreamID:      ev.StreamID,
		StreamVersion: ev.Version,
		Outcome:       AuditOutcome(ev.Type, ev.Data),
		CorrelationID: bound(md.CorrelationID, maxAuditField),
		CausationID:   bound(md.CausationID, maxAuditField),
		Summary:       AuditSummary(ev.Type, ev.Data),
	}
}

// SplitStream splits a stream name "<type>-<id>" at its first hyphen; a
// name without one is a type without id.
func SplitStream(stream string) (resourceType, resourceID string) {
	t, id, _ := strings.Cut(stream, "-")
	return t, id
}

// AuditOutcome derives an action's outcome from the event type's last
// segment: "…denied…" is denied, "…failed", "…failure", "…error" and
// "reauthorization_required" are failures (as is a connection test that
// did not pass), anything else succeeded.
func AuditOutcome(eventType string, data json.RawMessage) string {
	last := eventType[strings.LastIndexByte(eventType, '.')+1:]
	switch {
	case strings.Contains(last, "denied"):
		return AuditDenied
	case strings.HasSuffix(last, "failed"), strings.HasSuffix(last, "failure"), strings.HasSuffix(last, "error"),
		last == "reauthorization_required":
		return AuditFailure
	case eventType == connection.TypeTested:
		var tested struct {
			OK *bool `json:"ok"`
		}
		if json.Unmarshal(data, &tested) == nil && tested.OK != nil && !*tested.OK {
			return AuditFailure
		}
	}
	return AuditSuccess
}

// bound cuts s to at most n bytes without splitting a character.
func bound(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	// Drop a character the cut split (at most 3 bytes of it remain).
	for i := 0; i < utf8.UTFMax-1 && len(s) > 0; i++ {
		if r, size := utf8.DecodeLastRuneInString(s); r != utf8.RuneError || size > 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s
}
