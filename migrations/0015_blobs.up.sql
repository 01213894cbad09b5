-- Content-addressed, immutable large content (OpenAPI documents, catalogues,
-- response bodies): events carry the SHA-256 hash, never the content.
CREATE TABLE blobs (
    hash       text        PRIMARY KEY CHECK (hash ~ '^[0-9a-f]{64}$'),
    media_type text        NOT NULL,
    size       bigint      NOT NULL,
    data       bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
