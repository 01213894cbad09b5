package projections

import (
	"context"
	"fmt"

	"github.com/apiq/apiq/adapters/eventstore"
)

// AuditProjector builds the audit trail: one row per event of every type
// (it never skips one), keyed by event id, with a hash chain per tenant in
// feed order. Each row's hash is SHA-256 of the tenant's previous hash and
// the event's canonical bytes (AuditCanonicalBytes); audit_chain_heads holds
// each chain's last row, which the signer signs.
//
// It must see events as stored: give it a feed that does not upcast, or the
// chain will not match the one verification recomputes from the events.
type AuditProjector struct{}

var _ Projector = (*AuditProjector)(nil)

// NewAuditProjector returns the audit projector.
func NewAuditProjector() *AuditProjector { return &AuditProjector{} }

// AuditProjectorName is the audit projector's name (its schema is "rm_audit").
const AuditProjectorName = "audit"

// Name implements Projector.
func (*AuditProjector) Name() string { return AuditProjectorName }

// Version implements Projector.
func (*AuditProjector) Version() int { return 2 }

// Schema implements Projector. summary is json, not jsonb: verification
// compares it byte for byte with the summary derived from the event.
func (*AuditProjector) Schema() string {
	return `
CREATE TABLE IF NOT EXISTS audit_events (
    tenant_id       text        NOT NULL,
    seq             bigint      NOT NULL,
    event_id        uuid        NOT NULL,
    commit_position bigint      NOT NULL,
    global_position bigint      NOT NULL,
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL,
    actor_subject   text        NOT NULL,
    actor_role      text        NOT NULL,
    auth_method     text        NOT NULL,
    token_id        text        NOT NULL,
    sso_issuer      text        NOT NULL,
    sso_subject     text        NOT NULL,
    client_ip       text        NOT NULL,
    user_agent      text        NOT NULL,
    request_id      text        NOT NULL,
    action          text        NOT NULL,
    resource_type   text        NOT NULL,
    resource_id     text        NOT NULL,
    stream_id       text        NOT NULL,
    stream_version  bigint      NOT NULL,
    outcome         text        NOT NULL,
    correlation_id  text        NOT NULL,
    causation_id    text        NOT NULL,
    summary         json        NOT NULL,
    prev_hash       bytea       NOT NULL,
    hash            bytea       NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE UNIQUE INDEX IF NOT EXISTS audit_events_event_id_idx ON audit_events (event_id);
CREATE INDEX IF NOT EXISTS audit_events_time_idx ON audit_events (tenant_id, occurred_at);
CREATE INDEX IF NOT EXISTS audit_events_actor_idx ON audit_events (tenant_id, actor_subject, occurred_at);
CREATE INDEX IF NOT EXISTS audit_events_action_idx ON audit_events (tenant_id, action, seq);
CREATE INDEX IF NOT EXISTS audit_events_resource_idx ON audit_events (tenant_id, resource_type, resource_id, seq);
CREATE INDEX IF NOT EXISTS audit_events_correlation_idx ON audit_events (tenant_id, correlation_id) WHERE correlation_id <> '';
CREATE TABLE IF NOT EXISTS audit_chain_heads (
    tenant_id       text   PRIMARY KEY,
    seq             bigint NOT NULL,
    hash            bytea  NOT NULL,
    event_id        uuid   NOT NULL,
    commit_position bigint NOT NULL,
    global_position bigint NOT NULL
);`
}

// auditInsert appends an event's row to its tenant's chain and moves the
// chain's head, in one statement (so it can be queued in a pipeline): the
// previous hash is read from audit_chain_heads inside the statement. An
// event already recorded changes nothing.
const auditInsert = `
WITH head AS (
    SELECT seq, hash FROM audit_chain_heads WHERE tenant_id = $1
), next AS (
    SELECT coalesce((SELECT seq FROM head), 0) + 1 AS seq,
           coalesce((SELECT hash FROM head), $24::bytea) AS prev
), inserted AS (
    INSERT INTO audit_events (tenant_id, seq, event_id, commit_position, global_position, occurred_at, recorded_at,
        actor_subject, actor_role, auth_method, token_id, sso_issuer, sso_subject, client_ip, user_agent, request_id,
        action, resource_type, resource_id, stream_id, stream_version, outcome, correlation_id, causation_id, summary,
        prev_hash, hash)
    SELECT $1, next.seq, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21,
           $22, $23, $26::json, next.prev, sha256(next.prev || $25::bytea)
      FROM next
    ON CONFLICT (event_id) DO NOTHING
    RETURNING tenant_id, seq, hash, event_id, commit_position, global_position
)
INSERT INTO audit_chain_heads (tenant_id, seq, hash, event_id, commit_position, global_position)
SELECT tenant_id, seq, hash, event_id, commit_position, global_position FROM inserted
ON CONFLICT (tenant_id) DO UPDATE
   SET seq = excluded.seq, hash = excluded.hash, event_id = excluded.event_id,
       commit_position = excluded.commit_position, global_position = excluded.global_position`

// Apply implements Projector: every event becomes a row, whatever its type.
func (*AuditProjector) Apply(ctx context.Context, db DB, ev eventstore.RecordedEvent) error {
	canonical := AuditCanonicalBytes(ev)
	commit, prepare, err := positionArgs(ev.Position)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	r := DeriveAuditRow(ev)
	err = db.Exec(ctx, auditInsert,
		r.TenantID, r.EventID, commit, prepare, r.OccurredAt, r.RecordedAt,
		r.Actor.Subject, r.Actor.Role, r.Actor.AuthMethod, r.Actor.TokenID, r.Actor.SSOIssuer, r.Actor.SSOSubject,
		r.ClientIP, r.UserAgent, r.RequestID, r.Action, r.ResourceType, r.ResourceID, r.StreamID, r.StreamVersion,
		r.Outcome, r.CorrelationID, r.CausationID, AuditGenesisHash(r.TenantID), canonical, string(r.Summary))
	if err != nil {
		return fmt.Errorf("audit: record %s %s@%d: %w", ev.Type, ev.StreamID, ev.Version, err)
	}
	return nil
}
