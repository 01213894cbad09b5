-- Idempotency-Key records of the HTTP layer: the first response to a POST,
-- replayed to retries of the same request. A row with a NULL status_code is
-- a claim held by the request executing now (until locked_until, after which
-- a retry may take it over: the command's event ids are deterministic, so
-- running it again appends nothing twice). Response bodies are sealed
-- (AES-GCM) by the application: they may carry secrets shown once.
CREATE TABLE idempotency_keys (
    tenant_id     text        NOT NULL,
    actor         text        NOT NULL,
    key           text        NOT NULL,
    request_hash  bytea       NOT NULL,
    status_code   int,
    content_type  text,
    response_body bytea,
    locked_until  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz,
    PRIMARY KEY (tenant_id, actor, key)
);

CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);
