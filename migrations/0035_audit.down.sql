DROP TABLE IF EXISTS audit_signed_heads;
DROP FUNCTION IF EXISTS audit_signed_heads_refuse_change();
DROP INDEX IF EXISTS events_tenant_feed_idx;
