-- A tenant's do-not-call list: numbers (E.164, store/numbers.py) no call may be placed to,
-- unless an admin overrides it for one call (audited). `source` says how a number got there:
-- added over the API, imported from CSV, or asked for by the callee during a call.

CREATE TABLE do_not_call (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    number          text NOT NULL,
    source          text NOT NULL CHECK (source IN ('api', 'import', 'caller')),
    reason          text NOT NULL DEFAULT '',
    call_id         uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, number)
);
