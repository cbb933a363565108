"""Campaigns, their leads and attempts in PostgreSQL.

The runner's two moves are transactions here: `claim_due` takes due leads with FOR UPDATE
SKIP LOCKED (two processes never take the same lead) and, in the same transaction, records
each dial as an attempt plus a queued call record; `settle` turns an attempt whose call has
ended into a disposition and the lead's next state, once (a repeat finds it settled).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Any, ClassVar

import asyncpg
import msgspec

from store.campaign_rules import Disposition, LeadState
from store.repositories.base import TenantRepository

# Calls whose record is final: the controller's final statuses plus the API's "cancelled".
FINAL_CALL_STATUSES = ("completed", "failed", "no-answer", "busy", "voicemail", "cancelled")
ACTIVE_STATUSES = ("scheduled", "running")
# An agent utterance heard to its end once a mailbox was detected (AMD's mailbox: from the
# start; the agent's own detection: its `voicemail` event): the voicemail message went out.
_VOICEMAIL_LEFT = (
    "EXISTS (SELECT 1 FROM jsonb_array_elements(c.transcript) t WHERE t->>'role' = 'agent' "
    "AND NOT coalesce((t->>'interrupted')::boolean, false) AND (t->>'at_ms')::bigint >= "
    "coalesce((SELECT min((e->>'at_ms')::bigint) FROM jsonb_array_elements(c.events) e "
    "WHERE e->>'kind' = 'voicemail'), 0))"
)
# Leads written per INSERT when a list is imported.
IMPORT_BATCH = 1000
# A campaign's calls out now: attempts whose call has not ended. One that ended and awaits
# its disposition holds no line, so the cap is not held down while the runner catches up.
_CALLS_OUT = (
    "SELECT count(*) FROM campaign_attempts a "
    "JOIN calls c ON c.tenant_id = a.tenant_id AND c.id = a.call_id "
    "WHERE a.tenant_id = $1 AND a.campaign_id = $2 AND a.disposition IS NULL "
    "AND c.status <> ALL($3::text[])"
)


class Campaign(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    agent_id: uuid.UUID
    trunk_id: uuid.UUID | None
    twilio: bool
    status: str
    start_at: datetime | None
    max_concurrency: int
    calls_per_second: float
    calling_window: dict[str, Any]
    retry_rules: dict[str, Any]
    caller_ids: list[str]
    default_timezone: str
    started_at: datetime | None
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class Lead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    tenant_id: uuid.UUID
    campaign_id: uuid.UUID
    number: str
    timezone: str
    variables: dict[str, str]
    state: str
    attempts: int
    last_disposition: str | None
    next_attempt_at: datetime
    created_at: datetime
    updated_at: datetime


class Attempt(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    tenant_id: uuid.UUID
    campaign_id: uuid.UUID
    lead_id: uuid.UUID
    call_id: uuid.UUID
    attempt: int
    caller_id: str
    dialled_at: datetime
    settled_at: datetime | None
    disposition: str | None
    created_at: datetime
    updated_at: datetime


class NewLead(msgspec.Struct, kw_only=True, frozen=True):
    number: str
    timezone: str
    variables: dict[str, str]


class DueLead(msgspec.Struct, kw_only=True, frozen=True):
    """A claimed lead and whether its number is on the do-not-call list now."""

    lead: Lead
    listed: bool


class Dial(msgspec.Struct, kw_only=True, frozen=True):
    call_id: uuid.UUID
    caller_id: str


class Later(msgspec.Struct, kw_only=True, frozen=True):
    at: datetime | None  # None: the window never opens; the lead is exhausted


class Listed(msgspec.Struct, kw_only=True, frozen=True):
    pass


Plan = Dial | Later | Listed


class EndedCall(msgspec.Struct, kw_only=True, frozen=True):
    """An open attempt whose call record is final, with what the disposition is read from."""

    attempt: Attempt
    status: str
    outcome: str | None
    error_reason: str | None
    tools: list[str]  # tools the agent called successfully during the call
    # The record shows the agent's voicemail message heard to its end in a mailbox.
    voicemail_left: bool = False


class Settled(msgspec.Struct, kw_only=True, frozen=True):
    """A lead's new state after an attempt (or a claim that made it final)."""

    lead_id: uuid.UUID
    number: str
    disposition: Disposition | None  # None: never dialled and no reason recorded
    state: LeadState
    attempts: int
    call_id: uuid.UUID | None = None


class CostSoFar(msgspec.Struct, kw_only=True, frozen=True):
    """The sum of a campaign's priced calls; `pending_calls` ended but are not priced yet;
    `calls_with_unpriced_usage` used a provider whose price is unknown (left out of the sum)."""

    total: float
    priced_calls: int
    pending_calls: int
    calls_with_unpriced_usage: int


class CampaignRepository(TenantRepository[Campaign]):
    table = "campaigns"
    row_type = Campaign
    writable: ClassVar[frozenset[str]] = frozenset(
        {
            "name",
            "agent_id",
            "trunk_id",
            "twilio",
            "status",
            "start_at",
            "max_concurrency",
            "calls_per_second",
            "calling_window",
            "retry_rules",
            "caller_ids",
            "default_timezone",
            "started_at",
            "completed_at",
        }
    )
    filterable: ClassVar[frozenset[str]] = frozenset({"status", "agent_id"})
    sortable: ClassVar[frozenset[str]] = frozenset({"created_at", "name"})

    async def active(self) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """(tenant, campaign) of every scheduled or running campaign, and of any other with
        attempts still open (paused or cancelled while calls were out), across tenants: the
        runner's work list."""
        rows = await self._pool.fetch(
            "SELECT c.tenant_id, c.id FROM campaigns c WHERE c.status = ANY($1::text[]) "
            "OR EXISTS (SELECT 1 FROM campaign_attempts a WHERE a.campaign_id = c.id "
            "AND a.disposition IS NULL)",
            list(ACTIVE_STATUSES),
        )
        return [(r["tenant_id"], r["id"]) for r in rows]

    async def move(
        self, tenant_id: uuid.UUID, campaign_id: uuid.UUID, from_: Sequence[str], to: str
    ) -> Campaign | None:
        """Set the status when it is one of `from_`; None when it was not (or no campaign)."""
        stamps = {
            "running": ", started_at = coalesce(started_at, now())",
            "completed": ", completed_at = now()",
        }
        record = await self._pool.fetchrow(
            f"UPDATE campaigns SET status = $3{stamps.get(to, '')}, updated_at = now() "
            "WHERE tenant_id = $1 AND id = $2 AND status = ANY($4::text[]) RETURNING *",
            tenant_id,
            campaign_id,
            to,
            list(from_),
        )
        return self._row(record)

    async def update_when(
        self,
        tenant_id: uuid.UUID,
        campaign_id: uuid.UUID,
        statuses: Sequence[str],
        values: dict[str, Any],
    ) -> Campaign | None:
        """Change the given columns while the status is one of `statuses` (a campaign that
        moved meanwhile is left as it is); None when it was not, or no such campaign."""
        prepared = self._prepare(values)
        sets = [f"{column} = ${i}" for i, column in enumerate(prepared, start=4)]
        record = await self._pool.fetchrow(
            f"UPDATE campaigns SET {', '.join(sets)}, updated_at = now() "
            "WHERE tenant_id = $1 AND id = $2 AND status = ANY($3::text[]) RETURNING *",
            tenant_id,
            campaign_id,
            list(statuses),
            *prepared.values(),
        )
        return self._row(record)


class LeadRepository(TenantRepository[Lead]):
    table = "campaign_leads"
    row_type = Lead
    writable: ClassVar[frozenset[str]] = frozenset({"state", "next_attempt_at"})
    filterable: ClassVar[frozenset[str]] = frozenset(
        {"campaign_id", "state", "number", "last_disposition"}
    )
    sortable: ClassVar[frozenset[str]] = frozenset({"created_at", "number", "next_attempt_at"})

    async def add(
        self, tenant_id: uuid.UUID, campaign_id: uuid.UUID, leads: Sequence[NewLead]
    ) -> int:
        """Add leads in one transaction; a number the campaign has already is skipped.
        Returns how many were added."""
        added = 0
        async with self._pool.acquire() as conn, conn.transaction():
            for start in range(0, len(leads), IMPORT_BATCH):
                batch = leads[start : start + IMPORT_BATCH]
                rows = await conn.fetch(
                    "INSERT INTO campaign_leads (id, tenant_id, campaign_id, number, timezone, "
                    "variables) SELECT gen_random_uuid(), $1, $2, n, tz, v::jsonb "
                    "FROM unnest($3::text[], $4::text[], $5::text[]) AS l(n, tz, v) "
                    "ON CONFLICT (campaign_id, number) DO NOTHING RETURNING id",
                    tenant_id,
                    campaign_id,
                    [lead.number for lead in batch],
                    [lead.timezone for lead in batch],
                    [msgspec.json.encode(lead.variables).decode() for lead in batch],
                )
                added += len(rows)
        return added

    async def state_counts(self, tenant_id: uuid.UUID, campaign_id: uuid.UUID) -> dict[str, int]:
        rows = await self._pool.fetch(
            "SELECT state, count(*) AS n FROM campaign_leads WHERE tenant_id = $1 "
            "AND campaign_id = $2 GROUP BY state",
            tenant_id,
            campaign_id,
        )
        return {r["state"]: int(r["n"]) for r in rows}

    async def cancel_pending(self, tenant_id: uuid.UUID, campaign_id: uuid.UUID) -> int:
        result = await self._pool.execute(
            "UPDATE campaign_leads SET state = 'cancelled', updated_at = now() "
            "WHERE tenant_id = $1 AND campaign_id = $2 AND state = 'pending'",
            tenant_id,
            campaign_id,
        )
        return int(result.split()[-1])

    async def claim_due(
        self,
        campaign: Campaign,
        now: datetime,
        limit: int,
        plan: Callable[[DueLead], Plan],
    ) -> tuple[list[tuple[Lead, Dial]], list[Settled]]:
        """Take up to `limit` due leads, and no more than the campaign's concurrency cap has
        room for, and act on each one's `plan` in one transaction: a dial becomes an attempt
        and a queued call record, a lead outside its window waits for the next opening, a
        listed number (or a window that never opens) is final. Returns the dials to enqueue
        and the leads made final.

        The campaign's row is locked while the room is counted, so two runners that both
        think they hold the campaign's lease (one stalled past it, or Redis lost it) claim
        one after the other, within the cap together."""
        dials: list[tuple[Lead, Dial]] = []
        finished: list[Settled] = []
        async with self._pool.acquire() as conn, conn.transaction():
            cap = await conn.fetchval(
                "SELECT max_concurrency FROM campaigns WHERE tenant_id = $1 AND id = $2 "
                "FOR NO KEY UPDATE",
                campaign.tenant_id,
                campaign.id,
            )
            # Counted in a statement of its own: its snapshot is taken once the lock is held,
            # so it sees the attempts the previous holder committed.
            out = await conn.fetchval(
                _CALLS_OUT, campaign.tenant_id, campaign.id, list(FINAL_CALL_STATUSES)
            )
            room = 0 if cap is None else cap - out
            limit = min(limit, room)
            if limit <= 0:
                return dials, finished
            records = await conn.fetch(
                "SELECT l.*, EXISTS (SELECT 1 FROM do_not_call d WHERE d.tenant_id = l.tenant_id "
                "AND d.number = l.number) AS listed FROM campaign_leads l "
                "WHERE l.tenant_id = $1 AND l.campaign_id = $2 AND l.state = 'pending' "
                "AND l.next_attempt_at <= $3 ORDER BY l.next_attempt_at, l.id LIMIT $4 "
                "FOR UPDATE OF l SKIP LOCKED",
                campaign.tenant_id,
                campaign.id,
                now,
                limit,
            )
            for record in records:
                fields = dict(record)
                listed = bool(fields.pop("listed"))
                lead = msgspec.convert(fields, Lead, strict=False)
                step = plan(DueLead(lead=lead, listed=listed))
                if isinstance(step, Dial):
                    await _start_attempt(conn, campaign, lead, step, now)
                    dials.append((lead, step))
                elif isinstance(step, Later) and step.at is not None:
                    await conn.execute(
                        "UPDATE campaign_leads SET next_attempt_at = $2, updated_at = now() "
                        "WHERE id = $1",
                        lead.id,
                        step.at,
                    )
                else:
                    listed_now = isinstance(step, Listed)
                    state = LeadState.DNC if listed_now else LeadState.EXHAUSTED
                    last = await conn.fetchval(
                        "UPDATE campaign_leads SET state = $2, "
                        "last_disposition = coalesce($3, last_disposition), updated_at = now() "
                        "WHERE id = $1 RETURNING last_disposition",
                        lead.id,
                        state.value,
                        Disposition.ON_DNC_LIST.value if listed_now else None,
                    )
                    finished.append(
                        Settled(
                            lead_id=lead.id,
                            number=lead.number,
                            disposition=None if last is None else Disposition(last),
                            state=state,
                            attempts=lead.attempts,
                        )
                    )
        return dials, finished


async def _start_attempt(
    conn: asyncpg.pool.PoolConnectionProxy[asyncpg.Record],
    campaign: Campaign,
    lead: Lead,
    dial: Dial,
    now: datetime,
) -> None:
    attempt = lead.attempts + 1
    await conn.execute(
        "UPDATE campaign_leads SET state = 'dialling', attempts = $2, updated_at = now() "
        "WHERE id = $1",
        lead.id,
        attempt,
    )
    await conn.execute(
        "INSERT INTO campaign_attempts (id, tenant_id, campaign_id, lead_id, call_id, attempt, "
        "caller_id, dialled_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        uuid.uuid4(),
        campaign.tenant_id,
        campaign.id,
        lead.id,
        dial.call_id,
        attempt,
        dial.caller_id,
        now,
    )
    await conn.execute(
        "INSERT INTO calls (id, tenant_id, agent_id, trunk_id, direction, from_number, "
        "to_number, status, queued_at, variables) "
        "VALUES ($1, $2, $3, $4, 'outbound', $5, $6, 'queued', now(), $7)",
        dial.call_id,
        campaign.tenant_id,
        campaign.agent_id,
        campaign.trunk_id,
        dial.caller_id,
        lead.number,
        {**lead.variables, "campaign_id": str(campaign.id), "lead_id": str(lead.id)},
    )


class AttemptRepository(TenantRepository[Attempt]):
    table = "campaign_attempts"
    row_type = Attempt
    writable: ClassVar[frozenset[str]] = frozenset({"disposition", "settled_at"})
    filterable: ClassVar[frozenset[str]] = frozenset({"campaign_id", "lead_id", "disposition"})
    sortable: ClassVar[frozenset[str]] = frozenset({"created_at", "dialled_at"})

    async def out_count(self, tenant_id: uuid.UUID, campaign_id: uuid.UUID) -> int:
        """The campaign's calls queued or up now (what its concurrency cap counts)."""
        count = await self._pool.fetchval(
            _CALLS_OUT, tenant_id, campaign_id, list(FINAL_CALL_STATUSES)
        )
        return int(count)

    async def ended_calls(self, tenant_id: uuid.UUID, campaign_id: uuid.UUID) -> list[EndedCall]:
        rows = await self._pool.fetch(
            "SELECT a.*, c.status AS call_status, c.outcome, c.error_reason, "
            "coalesce((SELECT array_agg(e->'detail'->>'name') "
            "FROM jsonb_array_elements(c.events) e WHERE e->>'kind' = 'tool.call' "
            "AND e->'detail'->>'ok' = 'true'), '{}') AS tools, "
            f"{_VOICEMAIL_LEFT} AS voicemail_left FROM campaign_attempts a "
            "JOIN calls c ON c.tenant_id = a.tenant_id AND c.id = a.call_id "
            "WHERE a.tenant_id = $1 AND a.campaign_id = $2 AND a.disposition IS NULL "
            "AND c.status = ANY($3::text[])",
            tenant_id,
            campaign_id,
            list(FINAL_CALL_STATUSES),
        )
        ended = []
        for row in rows:
            fields = dict(row)
            status, outcome = fields.pop("call_status"), fields.pop("outcome")
            error, tools = fields.pop("error_reason"), fields.pop("tools")
            left = bool(fields.pop("voicemail_left"))
            ended.append(
                EndedCall(
                    attempt=msgspec.convert(fields, Attempt, strict=False),
                    status=status,
                    outcome=outcome,
                    error_reason=error,
                    tools=list(tools),
                    voicemail_left=left,
                )
            )
        return ended

    async def queued_before(
        self, tenant_id: uuid.UUID, campaign_id: uuid.UUID, before: datetime
    ) -> list[tuple[Dial, Lead]]:
        """Open attempts whose call is still only queued, recorded before `before`: the call
        and caller id of each, with its lead."""
        rows = await self._pool.fetch(
            "SELECT l.*, a.call_id AS attempt_call_id, a.caller_id AS attempt_caller_id "
            "FROM campaign_attempts a "
            "JOIN calls c ON c.tenant_id = a.tenant_id AND c.id = a.call_id "
            "JOIN campaign_leads l ON l.id = a.lead_id "
            "WHERE a.tenant_id = $1 AND a.campaign_id = $2 AND a.disposition IS NULL "
            "AND c.status = 'queued' AND a.created_at < $3",
            tenant_id,
            campaign_id,
            before,
        )
        found = []
        for row in rows:
            fields = dict(row)
            dial = Dial(
                call_id=fields.pop("attempt_call_id"), caller_id=fields.pop("attempt_caller_id")
            )
            found.append((dial, msgspec.convert(fields, Lead, strict=False)))
        return found

    async def settle(
        self,
        ended: EndedCall,
        disposition: Disposition,
        next_state: Callable[[int], tuple[LeadState, datetime | None]],
        now: datetime,
    ) -> Settled | None:
        """Record the attempt's disposition and move its lead: `next_state(earlier)` gets how
        many earlier attempts of the lead ended the same way. None when already settled."""
        attempt = ended.attempt
        async with self._pool.acquire() as conn, conn.transaction():
            done = await conn.execute(
                "UPDATE campaign_attempts SET disposition = $3, settled_at = $4, "
                "updated_at = now() WHERE tenant_id = $1 AND id = $2 AND disposition IS NULL",
                attempt.tenant_id,
                attempt.id,
                disposition.value,
                now,
            )
            if not done.endswith(" 1"):
                return None
            earlier = await conn.fetchval(
                "SELECT count(*) FROM campaign_attempts WHERE lead_id = $1 AND id <> $2 "
                "AND disposition = $3",
                attempt.lead_id,
                attempt.id,
                disposition.value,
            )
            state, at = next_state(int(earlier))
            lead = await conn.fetchrow(
                "UPDATE campaign_leads SET state = $2, last_disposition = $3, "
                "next_attempt_at = coalesce($4, next_attempt_at), updated_at = now() "
                "WHERE id = $1 RETURNING number, attempts",
                attempt.lead_id,
                state.value,
                disposition.value,
                at,
            )
        assert lead is not None  # the attempt's lead: deleting it deletes the attempt
        return Settled(
            lead_id=attempt.lead_id,
            number=lead["number"],
            disposition=disposition,
            state=state,
            attempts=int(lead["attempts"]),
            call_id=attempt.call_id,
        )

    async def of_leads(self, tenant_id: uuid.UUID, lead_ids: Sequence[uuid.UUID]) -> list[Attempt]:
        """Every attempt of these leads, in the order they were dialled."""
        rows = await self._pool.fetch(
            "SELECT * FROM campaign_attempts WHERE tenant_id = $1 AND lead_id = ANY($2::uuid[]) "
            "ORDER BY lead_id, attempt",
            tenant_id,
            list(lead_ids),
        )
        return [a for a in map(self._row, rows) if a is not None]

    async def disposition_counts(
        self, tenant_id: uuid.UUID, campaign_id: uuid.UUID
    ) -> dict[str, int]:
        rows = await self._pool.fetch(
            "SELECT coalesce(disposition, 'in_progress') AS d, count(*) AS n "
            "FROM campaign_attempts WHERE tenant_id = $1 AND campaign_id = $2 GROUP BY 1",
            tenant_id,
            campaign_id,
        )
        return {r["d"]: int(r["n"]) for r in rows}

    async def cost(self, tenant_id: uuid.UUID, campaign_id: uuid.UUID) -> CostSoFar:
        """What the campaign's calls cost so far, as the post-call worker priced them."""
        row = await self._pool.fetchrow(
            "SELECT coalesce(sum((c.cost->>'total')::numeric), 0)::float8 AS total, "
            "count(c.cost) AS priced, "
            "count(*) FILTER (WHERE c.cost IS NULL AND c.status = ANY($3::text[])) AS pending, "
            "count(*) FILTER (WHERE jsonb_array_length(coalesce(c.cost->'unpriced', '[]')) > 0) "
            "AS unpriced FROM campaign_attempts a "
            "JOIN calls c ON c.tenant_id = a.tenant_id AND c.id = a.call_id "
            "WHERE a.tenant_id = $1 AND a.campaign_id = $2",
            tenant_id,
            campaign_id,
            list(FINAL_CALL_STATUSES),
        )
        assert row is not None  # an aggregate always has its row
        return CostSoFar(
            total=float(row["total"]),
            priced_calls=int(row["priced"]),
            pending_calls=int(row["pending"]),
            calls_with_unpriced_usage=int(row["unpriced"]),
        )

    async def dialled_since(
        self, tenant_id: uuid.UUID, campaign_id: uuid.UUID, since: datetime
    ) -> int:
        count = await self._pool.fetchval(
            "SELECT count(*) FROM campaign_attempts WHERE tenant_id = $1 AND campaign_id = $2 "
            "AND created_at >= $3",
            tenant_id,
            campaign_id,
            since,
        )
        return int(count)

    def results(
        self, tenant_id: uuid.UUID, campaign_id: uuid.UUID
    ) -> AsyncIterator[asyncpg.Record]:
        """Every lead with each of its attempts (a lead never dialled once, with none), in
        lead order, read through a cursor."""
        return self._results(tenant_id, campaign_id)

    async def _results(
        self, tenant_id: uuid.UUID, campaign_id: uuid.UUID
    ) -> AsyncIterator[asyncpg.Record]:
        sql = (
            "SELECT l.number, l.timezone, l.state, l.attempts, l.last_disposition, a.attempt, "
            "a.caller_id, a.dialled_at, a.disposition, a.call_id FROM campaign_leads l "
            "LEFT JOIN campaign_attempts a ON a.lead_id = l.id "
            "WHERE l.tenant_id = $1 AND l.campaign_id = $2 ORDER BY l.number, a.attempt"
        )
        async with self._pool.acquire() as conn, conn.transaction(readonly=True):
            async for record in conn.cursor(sql, tenant_id, campaign_id, prefetch=500):
                yield record
