-- Retention of the audit read model's rows (projections/audit_retention.go).
--
-- Events are never deleted. With APIQ_AUDIT_RETENTION set, the oldest audit
-- rows (copies of events, in rm_audit) are pruned; each tenant's mark says
-- up to which place in its hash chain rows were pruned and the recording
-- time every pruned row's event precedes. Verification still recomputes
-- the whole chain from the events and accepts a missing row only below the
-- mark, for an event recorded before pruned_before.
CREATE TABLE audit_retention (
    tenant_id     text        PRIMARY KEY,
    pruned_seq    bigint      NOT NULL CHECK (pruned_seq > 0),
    pruned_before timestamptz NOT NULL,
    pruned_at     timestamptz NOT NULL DEFAULT now()
);
