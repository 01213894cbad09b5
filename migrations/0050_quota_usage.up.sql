-- Per-tenant quota counters shared by every APIQ process: one row per
-- tenant, kind (api_calls, executions, llm_tokens) and fixed window; a
-- consumption is one conditional upsert, so concurrent processes never
-- together exceed the limit.
CREATE TABLE quota_usage (
    tenant_id    text        NOT NULL,
    kind         text        NOT NULL,
    window_start timestamptz NOT NULL,
    used         bigint      NOT NULL CHECK (used >= 0),
    PRIMARY KEY (tenant_id, kind, window_start)
);

CREATE INDEX quota_usage_window_start_idx ON quota_usage (window_start);
