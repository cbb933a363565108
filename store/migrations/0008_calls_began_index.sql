-- Calls are listed, filtered by date and counted per day by when they began
-- (store.repositories.calls.CALL_BEGAN), not by when their record was written.

CREATE INDEX calls_tenant_began_idx
    ON calls (tenant_id, (coalesce(started_at, queued_at, created_at)) DESC);
