-- Post-call analysis and what each call cost (issue 19).
--
-- An agent's analysis settings (enabled, success criteria, the JSON schema of the data to
-- extract, optionally another LLM) as the API validated them; existing agents have none.
ALTER TABLE agents ADD COLUMN analysis jsonb NOT NULL DEFAULT '{}'::jsonb;

-- After a call ends its record is priced and, when its agent asks, analysed by a background
-- worker of any process. The work is claimed here, so it survives a process stop:
-- `post_call_state` NULL is still to do, `post_call_not_before` is when it may be (re)tried
-- (a claim pushes it forward, so a process that dies mid-work frees the call then), and
-- `post_call_attempts` bounds the retries.
ALTER TABLE calls
    ADD COLUMN post_call_state text,
    ADD COLUMN post_call_attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN post_call_not_before timestamptz,
    ADD COLUMN analysis jsonb,
    ADD COLUMN cost jsonb;

-- Calls that ended before this migration are left as they were: not priced, not analysed.
UPDATE calls SET post_call_state = 'skipped'
    WHERE status IN ('completed', 'failed', 'cancelled', 'no-answer', 'busy', 'voicemail');

-- Only finished calls are work: queued ones (a campaign's thousands) stay out of the index the
-- worker reads every second. The predicate is the worker's own (store/repositories/post_call.py).
CREATE INDEX calls_post_call_todo_idx ON calls (post_call_not_before)
    WHERE post_call_state IS NULL
    AND status IN ('completed', 'failed', 'cancelled', 'no-answer', 'busy', 'voicemail');

-- A tenant's own prices, replacing the shipped defaults row by row (vendor, model).
CREATE TABLE tenant_prices (
    tenant_id   uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    prices      jsonb NOT NULL DEFAULT '[]'::jsonb,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
