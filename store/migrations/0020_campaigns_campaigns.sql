-- Outbound campaigns: an agent calling a list of leads through a trunk or Twilio, paced,
-- inside calling windows in each lead's local time, retried per disposition. The runner
-- (ari_app/campaign_runner.py) claims due leads with FOR UPDATE SKIP LOCKED; each attempt is
-- one row tied to the call it placed, settled when that call's record is final.

CREATE TABLE campaigns (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name             text NOT NULL,
    agent_id         uuid NOT NULL,
    trunk_id         uuid,
    twilio           boolean NOT NULL DEFAULT false,
    status           text NOT NULL DEFAULT 'draft'
        CHECK (status IN ('draft', 'scheduled', 'running', 'paused', 'cancelled', 'completed')),
    start_at         timestamptz,
    max_concurrency  integer NOT NULL CHECK (max_concurrency > 0),
    calls_per_second real NOT NULL CHECK (calls_per_second > 0),
    calling_window   jsonb NOT NULL,
    retry_rules      jsonb NOT NULL,
    caller_ids       jsonb NOT NULL DEFAULT '[]'::jsonb,
    default_timezone text NOT NULL DEFAULT 'UTC',
    started_at       timestamptz,
    completed_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name),
    UNIQUE (tenant_id, id),
    -- An agent or trunk a campaign uses cannot be deleted (checked at the end of the
    -- statement, so deleting a whole tenant still cascades).
    FOREIGN KEY (tenant_id, agent_id) REFERENCES agents (tenant_id, id),
    FOREIGN KEY (tenant_id, trunk_id) REFERENCES sip_trunks (tenant_id, id)
);
CREATE INDEX campaigns_active_idx ON campaigns (status) WHERE status IN ('scheduled', 'running');

CREATE TABLE campaign_leads (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL,
    campaign_id      uuid NOT NULL,
    number           text NOT NULL,
    timezone         text NOT NULL,
    variables        jsonb NOT NULL DEFAULT '{}'::jsonb,
    state            text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'dialling', 'reached', 'exhausted', 'dnc', 'cancelled')),
    attempts         integer NOT NULL DEFAULT 0,
    last_disposition text,
    next_attempt_at  timestamptz NOT NULL DEFAULT '-infinity',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (campaign_id, number),
    FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX campaign_leads_due_idx ON campaign_leads (campaign_id, next_attempt_at)
    WHERE state = 'pending';

CREATE TABLE campaign_attempts (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL,
    campaign_id      uuid NOT NULL,
    lead_id          uuid NOT NULL REFERENCES campaign_leads (id) ON DELETE CASCADE,
    call_id          uuid NOT NULL UNIQUE,
    attempt          integer NOT NULL,
    caller_id        text NOT NULL DEFAULT '',
    dialled_at       timestamptz NOT NULL,
    settled_at       timestamptz,
    disposition      text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX campaign_attempts_open_idx ON campaign_attempts (campaign_id)
    WHERE disposition IS NULL;
CREATE INDEX campaign_attempts_lead_idx ON campaign_attempts (lead_id);
