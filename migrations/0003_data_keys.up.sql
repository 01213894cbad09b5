-- Data keys of the secret vault (adapters/vault): one AES-256 key per owner
-- (a user's personal data, a connection's credentials), stored only wrapped
-- under a key-encryption key (KEK) from the keyring. Destroying a key clears
-- wrapped_key (crypto-shredding) and keeps the row, so readers can tell a
-- forgotten value from a missing one.
CREATE TABLE data_keys (
    key_id       uuid        PRIMARY KEY,
    tenant_id    text        NOT NULL,
    owner        text        NOT NULL,
    wrapped_key  bytea,
    kek_id       text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    destroyed_at timestamptz,
    CONSTRAINT data_keys_destroyed_check CHECK ((wrapped_key IS NULL) = (destroyed_at IS NOT NULL))
);

-- At most one live key per owner.
CREATE UNIQUE INDEX data_keys_live_owner_idx ON data_keys (tenant_id, owner) WHERE destroyed_at IS NULL;
-- Rotation finds the keys still wrapped under an old KEK.
CREATE INDEX data_keys_kek_idx ON data_keys (kek_id) WHERE destroyed_at IS NULL;
