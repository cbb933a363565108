-- Whether tenants' URLs may reach private networks is the operator's decision
-- (VOCALS_ALLOW_PRIVATE_URLS), not a tenant's: a tenant allowed to could reach the
-- deployment's own services.

ALTER TABLE tenants DROP COLUMN allow_private_webhooks;
