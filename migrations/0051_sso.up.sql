-- Single sign-on (adapters/oidc): the OpenID providers each tenant's ADMINs
-- configured, and the logins started and not yet completed.
--
-- A provider's client secret is a vault ciphertext bound to the provider;
-- role_mapping maps a value of role_claim to an APIQ role.
CREATE TABLE sso_providers (
    id              text        PRIMARY KEY,
    tenant_id       text        NOT NULL,
    name            text        NOT NULL,
    issuer_url      text        NOT NULL,
    client_id       text        NOT NULL,
    secret_sealed   text        NOT NULL,
    allowed_domains text[]      NOT NULL DEFAULT '{}',
    role_claim      text        NOT NULL DEFAULT '',
    role_mapping    jsonb       NOT NULL DEFAULT '{}',
    default_role    text        NOT NULL,
    created_by      text        NOT NULL,
    created_at      timestamptz NOT NULL
);

CREATE INDEX sso_providers_tenant_idx ON sso_providers (tenant_id, created_at, id);

-- A login in flight: only the SHA-256 of the state is stored; the PKCE
-- verifier and the nonce are vault ciphertexts of the provider. A state is
-- single use (the row is deleted when the callback claims it) and expires.
CREATE TABLE sso_login_flows (
    state_hash      bytea       PRIMARY KEY,
    provider_id     text        NOT NULL REFERENCES sso_providers (id) ON DELETE CASCADE,
    redirect_uri    text        NOT NULL,
    verifier_sealed text        NOT NULL,
    nonce_sealed    text        NOT NULL,
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL
);

CREATE INDEX sso_login_flows_expires_at_idx ON sso_login_flows (expires_at);
