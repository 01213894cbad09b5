-- Browser sessions (adapters/session): server-side, revocable. The cookie
-- carries a random token of which only the SHA-256 is stored; the CSRF
-- token the web interface echoes in X-CSRF-Token is stored the same way.
CREATE TABLE browser_sessions (
    token_hash  bytea       PRIMARY KEY,
    csrf_hash   bytea       NOT NULL,
    tenant_id   text        NOT NULL,
    user_id     text        NOT NULL,
    auth_method text        NOT NULL,
    sso_issuer  text        NOT NULL DEFAULT '',
    sso_subject text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);

CREATE INDEX browser_sessions_user_idx ON browser_sessions (tenant_id, user_id);
CREATE INDEX browser_sessions_expires_at_idx ON browser_sessions (expires_at);
