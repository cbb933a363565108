-- TOTP two-factor sign-in. The secret is sealed (AES-GCM, like other secrets) and stays
-- unconfirmed (totp_enabled_at NULL) until the user proves their app with a first code;
-- totp_last_step refuses a code a second time. Recovery codes are stored as SHA-256 hashes
-- (they are long random strings) and each is spent once.

ALTER TABLE users
    ADD COLUMN totp_secret bytea,
    ADD COLUMN totp_enabled_at timestamptz,
    ADD COLUMN totp_last_step bigint;

ALTER TABLE tenants ADD COLUMN require_two_factor boolean NOT NULL DEFAULT false;

CREATE TABLE recovery_codes (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash       text NOT NULL,
    used_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recovery_codes_user_idx ON recovery_codes (tenant_id, user_id);
