-- A tenant can require its users to sign in through one of its SSO providers. Password
-- sign-in is then refused, except for owners with a second factor (the break-glass path for
-- when the identity provider is down or misconfigured).
ALTER TABLE tenants ADD COLUMN require_sso boolean NOT NULL DEFAULT false;
