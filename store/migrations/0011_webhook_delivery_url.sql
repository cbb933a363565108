-- The URL each delivery was last sent to: a webhook's URL can change, and its deliveries list
-- must not show attempts made to the old address as if they went to the new one.

ALTER TABLE webhook_deliveries ADD COLUMN last_url text;
