-- A tenant can require its users to sign in through one of its SSO providers. Password
-- sign-in is then refused, except for owners with a second factor (the break-glass path for
-- when the identity provider is down or misconfigured).
ALTER TABLE tenants ADD COLUMN require_sso boolean NOT NULL DEFAULT false;

-- How a provider is spoken to: OpenID Connect (issuer = its issuer URL), or GitHub's OAuth 2
-- flow, which has no ID token (issuer = the GitHub web address: github.com or an Enterprise
-- Server), the verified e-mail then coming from its REST API.
ALTER TABLE sso_providers
    ADD COLUMN protocol text NOT NULL DEFAULT 'oidc' CHECK (protocol IN ('oidc', 'github'));
