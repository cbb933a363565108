-- Sign-in as admins expect: TOTP two-factor, invitations and password reset.

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

-- Invitations and password resets: single-use links that expire. Only the SHA-256 of the link's
-- token is kept (it is a long random string); a link is spent by setting used_at.
CREATE TABLE sign_in_links (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('invitation', 'password_reset')),
    email           text NOT NULL,
    -- The invitee's role; NULL for a password reset.
    role            text CHECK (role IN ('owner', 'admin', 'viewer')),
    -- The user whose password a reset changes; NULL for an invitation.
    user_id         uuid REFERENCES users(id) ON DELETE CASCADE,
    token_hash      text NOT NULL UNIQUE,
    created_by      text NOT NULL,
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'invitation') = (role IS NOT NULL)),
    CHECK ((kind = 'password_reset') = (user_id IS NOT NULL))
);
CREATE INDEX sign_in_links_tenant_idx ON sign_in_links (tenant_id, kind, created_at DESC);

-- OpenID Connect identity providers a tenant's users sign in with. The client secret is
-- sealed like other secrets. A verified e-mail signs in its user of this tenant; an e-mail
-- with no account is given one (with default_role) when its domain is in allowed_domains.
CREATE TABLE sso_providers (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name            text NOT NULL,
    issuer          text NOT NULL,
    client_id       text NOT NULL,
    client_secret   bytea NOT NULL,
    allowed_domains text[] NOT NULL DEFAULT '{}',
    default_role    text NOT NULL DEFAULT 'viewer' CHECK (default_role IN ('admin', 'viewer')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);
