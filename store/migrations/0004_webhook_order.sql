-- A call's webhook deliveries reach each webhook in the order they were queued: a delivery waits
-- while an older one of the same webhook and ordering key (the call id) is still pending.
-- `seq` is that order (created_at can tie); events of no call (NULL key) are never held back.

ALTER TABLE webhook_deliveries ADD COLUMN seq bigint, ADD COLUMN ordering_key text;

-- Rows already queued keep the order created_at gives them; their key is the call id, as emit
-- sets it.
UPDATE webhook_deliveries AS d
SET seq = o.n, ordering_key = d.payload ->> 'call_id'
FROM (SELECT id, row_number() OVER (ORDER BY created_at, id) AS n FROM webhook_deliveries) AS o
WHERE d.id = o.id;

ALTER TABLE webhook_deliveries ALTER COLUMN seq SET NOT NULL;
ALTER TABLE webhook_deliveries ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY;
SELECT setval(
    pg_get_serial_sequence('webhook_deliveries', 'seq'),
    (SELECT coalesce(max(seq), 0) + 1 FROM webhook_deliveries),
    false
);

-- What the claim asks of every due row: is an older delivery of its chain still pending?
CREATE INDEX webhook_deliveries_chain_idx ON webhook_deliveries (webhook_id, ordering_key, seq)
    WHERE status = 'pending';
