-- The audit trail (projections/audit*.go, adapters/auditsign).
--
-- Verification recomputes each tenant's hash chain from the events in feed
-- order; this index serves that walk without scanning other tenants' events.
CREATE INDEX events_tenant_feed_idx ON events (tenant_id, transaction_id, global_position);

-- Signed heads of the per-tenant audit hash chains, published at an
-- interval. The signing key lives in the data directory, never here: a head
-- in this table proves nothing by itself, its signature does. Rows are
-- never changed or deleted; a superuser who removes some anyway is caught by
-- the copy of every head kept in the data directory's journal.
CREATE TABLE audit_signed_heads (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id        text        NOT NULL,
    row_count        bigint      NOT NULL CHECK (row_count > 0),
    last_event_id    uuid        NOT NULL,
    position         text        NOT NULL,
    hash             text        NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
    signed_at        timestamptz NOT NULL,
    key_id           text        NOT NULL,
    signature        text        NOT NULL
);

CREATE INDEX audit_signed_heads_tenant_idx ON audit_signed_heads (tenant_id, row_count DESC, id DESC);

CREATE FUNCTION audit_signed_heads_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'signed audit heads are immutable: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_signed_heads_no_update_delete BEFORE UPDATE OR DELETE ON audit_signed_heads
    FOR EACH ROW EXECUTE FUNCTION audit_signed_heads_refuse_change();
CREATE TRIGGER audit_signed_heads_no_truncate BEFORE TRUNCATE ON audit_signed_heads
    FOR EACH STATEMENT EXECUTE FUNCTION audit_signed_heads_refuse_change();
