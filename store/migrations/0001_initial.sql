-- Everything the product stores. Every tenant-owned table carries tenant_id and is only ever
-- queried with it (see store/repositories/base.py).

CREATE TABLE tenants (
    id              uuid PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    allow_private_webhooks boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    email           text NOT NULL,
    password_hash   text NOT NULL,
    role            text NOT NULL CHECK (role IN ('owner', 'admin', 'viewer')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_tenant_idx ON users (tenant_id);

CREATE TABLE provider_credentials (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name            text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('stt', 'llm', 'tts')),
    vendor          text NOT NULL,
    api_key         bytea,
    api_key_last4   text,
    model           text,
    options         jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);

CREATE TABLE agents (
    id                      uuid PRIMARY KEY,
    tenant_id               uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name                    text NOT NULL,
    system_prompt           text NOT NULL DEFAULT '',
    welcome_message         text NOT NULL DEFAULT '',
    welcome_interruptible   boolean NOT NULL DEFAULT true,
    language                text NOT NULL DEFAULT 'en-US',
    stt                     jsonb NOT NULL DEFAULT '{}'::jsonb,
    llm                     jsonb NOT NULL DEFAULT '{}'::jsonb,
    tts                     jsonb NOT NULL DEFAULT '{}'::jsonb,
    barge_in_sensitivity    text NOT NULL DEFAULT 'medium'
        CHECK (barge_in_sensitivity IN ('very_low', 'low', 'medium', 'high', 'very_high')),
    end_of_speech_ms        integer CHECK (end_of_speech_ms BETWEEN 100 AND 5000),
    voicemail_policy        text NOT NULL DEFAULT 'hangup'
        CHECK (voicemail_policy IN ('hangup', 'leave_message')),
    voicemail_message       text NOT NULL DEFAULT '',
    max_call_seconds        integer NOT NULL DEFAULT 1800 CHECK (max_call_seconds > 0),
    recording_enabled       boolean NOT NULL DEFAULT false,
    recording_retention_days integer NOT NULL DEFAULT 30 CHECK (recording_retention_days > 0),
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name),
    UNIQUE (tenant_id, id)
);

CREATE TABLE sip_trunks (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name            text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('registration', 'ip')),
    host            text NOT NULL,
    port            integer NOT NULL DEFAULT 5060 CHECK (port BETWEEN 1 AND 65535),
    transport       text NOT NULL DEFAULT 'udp' CHECK (transport IN ('udp', 'tcp', 'tls')),
    username        text,
    password        bytea,
    from_user       text,
    from_domain     text,
    codecs          text[] NOT NULL DEFAULT ARRAY['ulaw', 'alaw'],
    dtmf_mode       text NOT NULL DEFAULT 'rfc4733',
    max_cps         real NOT NULL DEFAULT 1 CHECK (max_cps > 0),
    max_calls       integer NOT NULL DEFAULT 10 CHECK (max_calls > 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name),
    UNIQUE (tenant_id, id)
);

-- A dialled number belongs to exactly one tenant: an inbound call must resolve unambiguously.
-- References carry tenant_id too, so a row can never point at another tenant's agent or trunk.
CREATE TABLE inbound_routes (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    did             text NOT NULL UNIQUE,
    agent_id        uuid NOT NULL,
    trunk_id        uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, agent_id) REFERENCES agents (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, trunk_id) REFERENCES sip_trunks (tenant_id, id)
        ON DELETE SET NULL (trunk_id)
);
CREATE INDEX inbound_routes_tenant_idx ON inbound_routes (tenant_id);

CREATE TABLE calls (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    agent_id        uuid,
    trunk_id        uuid,
    direction       text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    transport       text NOT NULL DEFAULT 'asterisk',
    from_number     text NOT NULL DEFAULT '',
    to_number       text NOT NULL DEFAULT '',
    status          text NOT NULL,
    outcome         text,
    queued_at       timestamptz,
    started_at      timestamptz,
    answered_at     timestamptz,
    ended_at        timestamptz,
    duration_ms     integer,
    transcript      jsonb NOT NULL DEFAULT '[]'::jsonb,
    turns           jsonb NOT NULL DEFAULT '[]'::jsonb,
    events          jsonb NOT NULL DEFAULT '[]'::jsonb,
    provider_usage  jsonb NOT NULL DEFAULT '{}'::jsonb,
    variables       jsonb NOT NULL DEFAULT '{}'::jsonb,
    recording_path  text,
    error_reason    text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, agent_id) REFERENCES agents (tenant_id, id)
        ON DELETE SET NULL (agent_id),
    FOREIGN KEY (tenant_id, trunk_id) REFERENCES sip_trunks (tenant_id, id)
        ON DELETE SET NULL (trunk_id)
);
CREATE INDEX calls_tenant_created_idx ON calls (tenant_id, created_at DESC);
CREATE INDEX calls_tenant_status_idx ON calls (tenant_id, status);

CREATE TABLE stt_events (
    id              bigserial PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    call_id         uuid NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('opened', 'closed', 'rejected', 'timeout', 'error')),
    vendor          text NOT NULL,
    detail          text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stt_events_call_idx ON stt_events (tenant_id, call_id);

CREATE TABLE audit_logs (
    id              bigserial PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    actor           text NOT NULL,
    action          text NOT NULL,
    entity_type     text NOT NULL,
    entity_id       text,
    before          jsonb,
    after           jsonb,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_logs_tenant_created_idx ON audit_logs (tenant_id, created_at DESC);

CREATE TABLE webhooks (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    url             text NOT NULL,
    events          text[] NOT NULL,
    secret          bytea NOT NULL,
    active          boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id)
);

-- One row per (webhook, event): retries update the row, so an event is delivered at most once
-- per webhook even when it is enqueued twice.
CREATE TABLE webhook_deliveries (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    webhook_id      uuid NOT NULL,
    event_id        uuid NOT NULL,
    event_type      text NOT NULL,
    payload         jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_status_code integer,
    last_error      text,
    delivered_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (webhook_id, event_id),
    FOREIGN KEY (tenant_id, webhook_id) REFERENCES webhooks (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';

CREATE TABLE api_keys (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name            text NOT NULL,
    prefix          text NOT NULL UNIQUE,
    key_hash        text NOT NULL,
    role            text NOT NULL DEFAULT 'admin' CHECK (role IN ('owner', 'admin', 'viewer')),
    rpm             integer NOT NULL DEFAULT 60 CHECK (rpm > 0),
    rpd             integer NOT NULL DEFAULT 10000 CHECK (rpd > 0),
    last_used_at    timestamptz,
    revoked_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_keys_tenant_idx ON api_keys (tenant_id);
