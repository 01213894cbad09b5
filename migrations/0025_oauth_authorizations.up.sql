-- Pending OAuth2 authorisations of connections (adapters/credentials): one
-- row per authorisation started and not yet completed. The state travels to
-- the provider and back; only its SHA-256 is stored. The PKCE verifier is a
-- vault ciphertext of the connection, and credentials is a snapshot of the
-- connection's credentials (public settings and ciphertexts, never
-- plaintext). A state is single use (used_at) and expires (expires_at);
-- rows are kept a day past expiry so a late callback is told it expired.
CREATE TABLE oauth_authorizations (
    state_hash      bytea       PRIMARY KEY,
    tenant_id       text        NOT NULL,
    connection_id   text        NOT NULL,
    user_id         text        NOT NULL,
    redirect_uri    text        NOT NULL,
    verifier_sealed text        NOT NULL,
    credentials     jsonb       NOT NULL,
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz
);

CREATE INDEX oauth_authorizations_expires_at_idx ON oauth_authorizations (expires_at);
