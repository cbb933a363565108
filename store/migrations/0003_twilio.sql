-- Twilio Programmable Voice: a tenant's account (auth token encrypted with SecretBox, purpose
-- "twilio_accounts.auth_token") and which of its numbers Twilio carries instead of Asterisk.

CREATE TABLE twilio_accounts (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    account_sid     text NOT NULL UNIQUE CHECK (account_sid ~ '^AC[0-9a-fA-F]{32}$'),
    auth_token      bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id),
    UNIQUE (tenant_id, id)
);

ALTER TABLE inbound_routes
    ADD COLUMN provider text DEFAULT 'asterisk' CHECK (provider IN ('asterisk', 'twilio'));
