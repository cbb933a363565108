-- A tenant can require its users to sign in through one of its SSO providers. Password
-- sign-in is then refused, except for owners with a second factor (the break-glass path for
-- when the identity provider is down or misconfigured).
ALTER TABLE tenants ADD COLUMN require_sso boolean NOT NULL DEFAULT false;

-- How a provider is spoken to: OpenID Connect (issuer = its issuer URL), or GitHub's OAuth 2
-- flow, which has no ID token (issuer = the GitHub web address: github.com or an Enterprise
-- Server), the verified e-mail then coming from its REST API.
ALTER TABLE sso_providers
    ADD COLUMN protocol text NOT NULL DEFAULT 'oidc' CHECK (protocol IN ('oidc', 'github'));

-- WebAuthn passkeys, a second factor like TOTP. The public key is no secret; the signature
-- counter only grows (a cloned authenticator shows itself by going back).
CREATE TABLE passkeys (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name            text NOT NULL,
    credential_id   bytea NOT NULL UNIQUE,
    public_key      bytea NOT NULL,
    sign_count      bigint NOT NULL DEFAULT 0,
    transports      text[] NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz
);
CREATE INDEX passkeys_user_idx ON passkeys (tenant_id, user_id);
