"""The campaign runner: every `vocals serve` process runs one; together they call each
campaign's leads, paced, capped, inside windows, retried per disposition.

Each tick, for each scheduled, running (or still busy) campaign whose Redis lease this process
takes, the runner
1. settles attempts whose call has ended: a disposition from the call's record, then the
   lead's next state (a retry at a later time, or final);
2. recovers attempts recorded in PostgreSQL whose queued job is gone from Redis (the process
   died between the two writes, or Redis lost its data): it queues them again;
3. claims due leads (FOR UPDATE SKIP LOCKED) up to the room left under the concurrency cap,
   pushes those outside their calling window to its next opening, finalises those now on the
   do-not-call list, and queues the rest on the shared outbound queue, whose dispatcher
   paces them at the trunk's and the campaign's rate;
4. completes the campaign once no lead is pending or being dialled.

At-least-once window: the dispatcher is done with a job right before it dials it, so a
process killed mid-call leaves a call a survivor adopts (failed, "process lost"), retried as a
new attempt per the rules. A lead is dialled twice for one attempt only when Redis loses the
call's job and its live state while the call is out (a Redis restart without persistence),
or when a call ends while PostgreSQL is down and the runner looks before the outbox has
written its record: step 2 then sees a queued call that nothing holds and queues it again.

Time comes from `clock` (tests bring their own); the lease keeps the cap when processes share
a campaign.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import asyncpg
import msgspec
import structlog
from redis.asyncio import Redis

from ari_app.campaign_dispositions import disposition
from ari_app.tasks import cancel_and_wait, supervised_task
from store.campaign_leases import CampaignLeases
from store.campaign_rules import (
    FINAL_LEAD_STATES,
    CallingWindow,
    LeadState,
    RetryRule,
    in_window,
    lead_state_after,
    next_opening,
    retry_at,
)
from store.config_cache import STORE_UNAVAILABLE
from store.live_calls import LiveCallStore
from store.outbound_queue import OutboundJob, OutboundQueue
from store.redis import REDIS_UNAVAILABLE
from store.repositories.calls import CallRepository
from store.repositories.campaigns import (
    AttemptRepository,
    Campaign,
    CampaignRepository,
    Dial,
    DueLead,
    EndedCall,
    Later,
    Lead,
    LeadRepository,
    Listed,
    Plan,
    Settled,
)

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]
# (tenant, event type, payload, event id): a campaign event to the tenant's webhooks.
CampaignEventSink = Callable[[uuid.UUID, str, dict[str, Any], uuid.UUID], Awaitable[None]]

# Often enough that a freed slot is used within a fraction of a second at 1 cps.
TICK_S: Final = 0.25
# A holder renews every tick; a dead one's campaigns move on after this.
LEASE_S: Final = 10.0
# Dials claimed per campaign per tick: bounds one transaction's lock time.
CLAIM_BATCH: Final = 50
# A queued attempt whose job is gone this long after it was recorded was lost (the process
# died between PostgreSQL and Redis); well above the commit-to-enqueue time.
ORPHAN_AFTER_S: Final = 15.0
# Namespace of campaign event ids: uuid5(namespace, f"{id}:{what}"), the same in every process.
EVENT_NAMESPACE: Final = uuid.UUID("0c6f6b0e-5f5b-4c0a-9d3e-3f7d8c2a9e41")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _event_id(subject: uuid.UUID, what: str) -> uuid.UUID:
    return uuid.uuid5(EVENT_NAMESPACE, f"{subject}:{what}")


class CampaignRunner:
    def __init__(
        self,
        pool: asyncpg.Pool,
        redis: Redis,
        *,
        owner: str,
        publish: CampaignEventSink | None = None,
        clock: Clock = _utc_now,
        tick_s: float = TICK_S,
        lease_s: float = LEASE_S,
        orphan_after_s: float = ORPHAN_AFTER_S,
    ) -> None:
        self.clock = clock
        self._pool = pool
        self._campaigns = CampaignRepository(pool)
        self._leads = LeadRepository(pool)
        self._attempts = AttemptRepository(pool)
        self._queue = OutboundQueue(redis)
        self._live = LiveCallStore(redis)
        self._leases = CampaignLeases(redis, owner, ttl_s=lease_s)
        self._publish = publish
        self._tick_s = tick_s
        self._orphan_after = timedelta(seconds=orphan_after_s)
        self._announced: set[uuid.UUID] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = supervised_task("campaign-runner", self._run)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except (*REDIS_UNAVAILABLE, *STORE_UNAVAILABLE) as exc:
                log.warning("campaigns waiting for the store", error=str(exc))
            await asyncio.sleep(self._tick_s)

    async def tick(self) -> None:
        """One pass over every campaign with work this process holds the lease of."""
        for tenant_id, campaign_id in await self._campaigns.active():
            if await self._leases.hold(campaign_id):
                await self._run_campaign(tenant_id, campaign_id)

    async def _run_campaign(self, tenant_id: uuid.UUID, campaign_id: uuid.UUID) -> None:
        campaign = await self._campaigns.get(tenant_id, campaign_id)
        if campaign is None:
            return
        now = self.clock()
        if campaign.status == "scheduled" and (
            campaign.start_at is None or campaign.start_at <= now
        ):
            moved = await self._campaigns.move(tenant_id, campaign_id, ("scheduled",), "running")
            if moved is None:
                return
            campaign = moved
        await self._settle(campaign, now)
        await self._recover(campaign)
        if campaign.status != "running":
            return
        await self._announce(campaign, "campaign.started", "started")
        await self._dial(campaign, now)
        counts = await self._leads.state_counts(tenant_id, campaign_id)
        busy = counts.get(LeadState.PENDING, 0) + counts.get(LeadState.DIALLING, 0)
        if counts and not busy:
            done = await self._campaigns.move(tenant_id, campaign_id, ("running",), "completed")
            if done is not None:
                log.info("campaign completed", campaign_id=str(campaign_id), leads=counts)
                await self._announce(done, "campaign.completed", "completed", leads=counts)
                await self._leases.release(campaign_id)

    async def _settle(self, campaign: Campaign, now: datetime) -> None:
        ended = await self._attempts.ended_calls(campaign.tenant_id, campaign.id)
        if not ended:
            return
        rules = msgspec.convert(campaign.retry_rules, dict[str, RetryRule])
        for call in ended:
            await self._settle_one(campaign, call, rules, now)

    async def _settle_one(
        self,
        campaign: Campaign,
        call: EndedCall,
        rules: dict[str, RetryRule],
        now: datetime,
    ) -> None:
        outcome = disposition(call)

        def next_state(earlier: int) -> tuple[LeadState, datetime | None]:
            at = retry_at(rules, outcome, earlier, now)
            state = lead_state_after(outcome, at is not None)
            if state is LeadState.PENDING and campaign.status == "cancelled":
                return LeadState.CANCELLED, None
            return state, at

        settled = await self._attempts.settle(call, outcome, next_state, now)
        if settled is not None:
            await self._lead_finished(campaign, settled)

    async def _lead_finished(self, campaign: Campaign, lead: Settled) -> None:
        """`campaign.lead.finished` once a lead is final."""
        if lead.state not in FINAL_LEAD_STATES or self._publish is None:
            return
        await self._publish(
            campaign.tenant_id,
            "campaign.lead.finished",
            {
                "campaign_id": str(campaign.id),
                "lead_id": str(lead.lead_id),
                "number": lead.number,
                "state": lead.state.value,
                "disposition": None if lead.disposition is None else lead.disposition.value,
                "attempts": lead.attempts,
                "call_id": None if lead.call_id is None else str(lead.call_id),
                "occurred_at": _utc_now().isoformat(),
            },
            _event_id(lead.lead_id, "finished"),
        )

    async def _recover(self, campaign: Campaign) -> None:
        """Queue again what PostgreSQL says is queued and nothing holds; for a cancelled
        campaign, take its queued calls off the queue instead."""
        cancelled = campaign.status == "cancelled"
        before = _utc_now() - (timedelta(0) if cancelled else self._orphan_after)
        stale = await self._attempts.queued_before(campaign.tenant_id, campaign.id, before)
        for dial, lead in stale:
            if cancelled:
                if await self._queue.cancel(dial.call_id):
                    await CallRepository(self._pool).update(
                        campaign.tenant_id,
                        dial.call_id,
                        {"status": "cancelled", "outcome": "cancelled", "ended_at": _utc_now()},
                    )
                continue
            if await self._queue.pending(dial.call_id):
                continue
            if await self._live.get(dial.call_id) is not None:
                continue
            # Read again: a call that ended since the query above wrote its record before it
            # left Redis, so only a call still queued now is one that nothing holds.
            call = await CallRepository(self._pool).get(campaign.tenant_id, dial.call_id)
            if call is None or call.status != "queued":
                continue
            log.warning(
                "campaign call lost before it was dialled: queued again",
                campaign_id=str(campaign.id),
                call_id=str(dial.call_id),
            )
            await self._enqueue(campaign, lead, dial)

    async def _dial(self, campaign: Campaign, now: datetime) -> None:
        room = campaign.max_concurrency - await self._attempts.out_count(
            campaign.tenant_id, campaign.id
        )
        if room <= 0:
            return
        window = msgspec.convert(campaign.calling_window, CallingWindow)
        pool = campaign.caller_ids

        def plan(due: DueLead) -> Plan:
            lead = due.lead
            if due.listed:
                return Listed()
            if not in_window(window, now, lead.timezone):
                return Later(at=next_opening(window, now, lead.timezone))
            caller_id = pool[(lead.id.int + lead.attempts) % len(pool)] if pool else ""
            return Dial(call_id=uuid.uuid4(), caller_id=caller_id)

        dials, finished = await self._leads.claim_due(campaign, now, min(room, CLAIM_BATCH), plan)
        for lead, dial in dials:
            await self._enqueue(campaign, lead, dial)
        for done in finished:
            await self._lead_finished(campaign, done)

    async def _enqueue(self, campaign: Campaign, lead: Lead, dial: Dial) -> None:
        await self._queue.enqueue(
            OutboundJob(
                call_id=dial.call_id,
                tenant_id=campaign.tenant_id,
                agent_id=campaign.agent_id,
                to_number=lead.number,
                from_number=dial.caller_id,
                trunk_id=campaign.trunk_id,
                variables={**lead.variables, "campaign_id": str(campaign.id)},
                campaign_id=campaign.id,
                campaign_cps=campaign.calls_per_second,
            )
        )

    async def _announce(self, campaign: Campaign, event: str, what: str, **extra: Any) -> None:
        """`event` once per campaign (per process here, per webhook downstream by its id)."""
        key = _event_id(campaign.id, what)
        if key in self._announced or self._publish is None:
            return
        payload = {
            "campaign_id": str(campaign.id),
            "name": campaign.name,
            "occurred_at": _utc_now().isoformat(),
            **extra,
        }
        await self._publish(campaign.tenant_id, event, payload, key)
        self._announced.add(key)
