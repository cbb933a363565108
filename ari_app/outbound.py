"""The outbound dispatcher: takes queued calls from Redis and dials them, paced per trunk.

Every process runs one; the queue's atomic claim means no call is dialled twice, the
trunk's pacing key spaces originations across all processes (default 1 call per second),
and a concurrency slot per live call caps each trunk. Up to `in_flight` jobs are dialled at
once, each claimed only when a place is free, so a lease never expires while a job waits its
turn; each waits for its own pacing slot, so together they fill the trunk's and the
campaign's rate however long one originate request takes.

Carriers other than Asterisk (Twilio's API for agents on Twilio numbers) get each job first;
a process without Asterisk ends its carriers with `Undialable`, which records the rest as
failed with the reason.

With an `Admission`, a process at capacity claims no job (they stay queued for a process with
room), and a job of an agent on local models waits while those are at their own limit.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

import msgspec
import structlog

from ari_app.admission import PENDING_S, Admission
from ari_app.call import Call, Direction
from ari_app.call_events import record_never_dialled
from ari_app.controller import CallController
from ari_app.ports import AgentDirectory, CallEventSink, CallLedger, OutboundCarrier
from ari_app.tasks import cancel_and_wait, supervised_task
from store.outbound_queue import OutboundJob, OutboundQueue, campaign_pace_key
from store.redis import REDIS_UNAVAILABLE

log = structlog.get_logger(__name__)

# A live call's trunk slot expires this long after its last renewal (a crashed process
# frees its slots by itself); renewed every third of it.
SLOT_LEASE_S: Final = 60.0
# The claim lease covers the originate request; a longer pacing wait renews it first.
CLAIM_LEASE_S: Final = 30.0
# Idle poll of the queue; also the delay before a full trunk's job is offered again.
POLL_S: Final = 0.05
TRUNK_FULL_RETRY_S: Final = 1.0
# A job claimed while this process's local-model calls are at their limit is offered again
# after this (to any process).
CAPACITY_FULL_RETRY_S: Final = 1.0
# While Redis is unreachable the queue is tried this often: back soon after Redis is, at no
# cost meanwhile.
QUEUE_DOWN_RETRY_S: Final = 0.5
# Jobs one process dials at once: one at a time, each originate's round trip adds up (80 ms:
# 10.5 calls/s in bench.ari_control); 8 fill a 40 calls/s campaign at up to ~200 ms each.
IN_FLIGHT: Final = 8


class TrunkRoute(msgspec.Struct, kw_only=True, frozen=True):
    """Where and how fast a job is dialled: `PJSIP/<number>@<endpoint>`."""

    name: str  # pacing/concurrency key, e.g. the trunk id
    endpoint: str
    trunk_id: uuid.UUID | None = None  # recorded with the call
    cps: float = 1.0
    max_calls: int = 10
    caller_id: str | None = None
    formats: tuple[str, ...] | None = ("ulaw", "alaw")
    ring_timeout_s: int = 30


TrunkResolver = Callable[[OutboundJob], Awaitable[TrunkRoute | None]]


def _pacing(job: OutboundJob, trunk: TrunkRoute) -> list[tuple[str, float]]:
    """The rates a job is dialled within: its trunk's, then its campaign's (last, so the
    dial follows the campaign's slot closely)."""
    rates = [(trunk.name, trunk.cps)]
    if job.campaign_id is not None and job.campaign_cps > 0:
        rates.append((campaign_pace_key(job.campaign_id), job.campaign_cps))
    return rates


def queued_call(job: OutboundJob) -> Call:
    """The `Call` a queued job becomes."""
    return Call(
        id=job.call_id,
        tenant_id=job.tenant_id,
        agent_id=job.agent_id,
        direction=Direction.OUTBOUND,
        from_number=job.from_number,
        to_number=job.to_number,
        trunk_id=job.trunk_id,
        metadata=dict(job.variables),
    )


class Undialable:
    """The last carrier of a process without Asterisk: records every job it gets as failed."""

    def __init__(self, ledger: CallLedger, events: CallEventSink | None, reason: str) -> None:
        self._ledger = ledger
        self._events = events
        self._reason = reason

    async def handles(self, job: OutboundJob) -> bool:
        return True

    async def place(self, job: OutboundJob) -> Call:
        call = queued_call(job)
        call.error = self._reason
        await record_never_dialled(call, self._ledger, self._events)
        return call


class OutboundDispatcher:
    """Dials queued calls: through the first of `carriers` that handles a job, else through
    `controller` (this process's Asterisk) on the job's trunk. With `admission` only as many
    calls as the process has room for are taken; `directory` says which are local-model
    calls."""

    def __init__(
        self,
        queue: OutboundQueue,
        controller: CallController | None,
        trunks: TrunkResolver,
        *,
        carriers: Sequence[OutboundCarrier] = (),
        poll_s: float = POLL_S,
        claim_lease_s: float = CLAIM_LEASE_S,
        admission: Admission | None = None,
        directory: AgentDirectory | None = None,
        in_flight: int = IN_FLIGHT,
    ) -> None:
        if controller is None and not carriers:
            raise ValueError("a dispatcher without Asterisk needs carriers")
        self.queue = queue
        self.controller = controller
        self.trunks = trunks
        self.carriers = tuple(carriers)
        self.poll_s = poll_s
        self.claim_lease_s = claim_lease_s
        self.admission = admission
        self.directory = directory
        self.in_flight = in_flight
        self.active: dict[uuid.UUID, str] = {}
        self.dialled = 0
        self._task: asyncio.Task[None] | None = None
        self._renew_at = 0.0
        self.queue_down = False

    def start(self) -> None:
        if self._task is None:
            self._task = supervised_task("outbound-dispatcher", self._run)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)

    async def _run(self) -> None:
        places = asyncio.Semaphore(self.in_flight)
        async with asyncio.TaskGroup() as dialling:
            while True:
                await places.acquire()
                job = await self._next_job()
                if job is None:
                    places.release()
                    continue
                dialling.create_task(self._dial(job, places), name=f"dial-{job.call_id}")

    async def _next_job(self) -> OutboundJob | None:
        """The next due job under a claim, or None (after a pause) when there is none."""
        try:
            await self._renew_slots()
            if self.admission is not None and not self.admission.has_room():
                await asyncio.sleep(self.poll_s)
                return None
            job = await self.queue.claim(lease_s=self.claim_lease_s)
            self._queue_reachable()
            if job is None:
                await asyncio.sleep(self.poll_s)
            return job
        except REDIS_UNAVAILABLE as exc:
            self._queue_unreachable(exc)
            await asyncio.sleep(QUEUE_DOWN_RETRY_S)
        except Exception:
            log.exception("outbound dispatch failed")
            await asyncio.sleep(self.poll_s)
        return None

    async def _dial(self, job: OutboundJob, places: asyncio.Semaphore) -> None:
        """Dispatch one claimed job; whatever happens, its place is free again after."""
        try:
            await self._dispatch(job)
        except REDIS_UNAVAILABLE as exc:
            # Unacked, the job's claim runs out and it is dialled later.
            self._queue_unreachable(exc)
        except Exception:
            log.exception("outbound dispatch failed", call_id=str(job.call_id))
        finally:
            places.release()

    async def _admitted(self, job: OutboundJob) -> bool:
        """Take a (pending) capacity slot for `job`, else put it back in the queue."""
        admission = self.admission
        if admission is None:
            return True
        route = None
        if self.directory is not None:
            route = await self.directory.route_for_agent(job.tenant_id, job.agent_id)
        local = route.local_weight if route is not None else 0.0
        if admission.admit(job.call_id, local=local, pending_s=PENDING_S) is None:
            return True
        await self.queue.release(job, not_before=time.time() + CAPACITY_FULL_RETRY_S)
        return False

    def _free(self, call_id: uuid.UUID) -> None:
        if self.admission is not None:
            self.admission.release(call_id)

    def _queue_unreachable(self, exc: BaseException) -> None:
        """One line when Redis goes away, not one per poll while it is away."""
        if not self.queue_down:
            self.queue_down = True
            log.warning("outbound queue unreachable, waiting for Redis", error=str(exc))

    def _queue_reachable(self) -> None:
        if self.queue_down:
            self.queue_down = False
            log.info("outbound queue reachable again")

    async def _dispatch(self, job: OutboundJob) -> None:
        if not await self._admitted(job):
            return
        for carrier in self.carriers:
            if await carrier.handles(job):
                placed = await carrier.place(job)
                if placed.finished:
                    self._free(job.call_id)
                # Else its slot stays pending until its media stream holds it.
                await self.queue.ack(job.call_id)
                return
        controller = self.controller
        if controller is None:
            raise RuntimeError("no carrier took the job and there is no Asterisk")
        trunk = await self.trunks(job)
        call = queued_call(job)
        if trunk is None:
            call.error = "no trunk for this call"
            self._free(call.id)
            await controller.fail_before_dialling(call)
            await self.queue.ack(job.call_id)
            return
        call.trunk, call.trunk_id = trunk.name, trunk.trunk_id or call.trunk_id
        if not await self.queue.take_call_slot(
            trunk.name, job.call_id, trunk.max_calls, lease_s=SLOT_LEASE_S
        ):
            self._free(call.id)
            await self.queue.release(job, not_before=time.time() + TRUNK_FULL_RETRY_S)
            return
        if self.admission is not None:
            self.admission.hold(call.id)  # the controller frees it when the call is over

        async def wait_for_pacing_slot() -> None:
            try:
                for key, cps in _pacing(job, trunk):
                    wait_s = await self.queue.pace(key, cps)
                    if wait_s > 0:
                        # At a low CPS with many processes the wait can outlast the claim, and
                        # another process would dial the job too.
                        await self.queue.renew(job.call_id, lease_s=wait_s + self.claim_lease_s)
                        await asyncio.sleep(wait_s)
                # Done with the queue before the request goes out: a process killed from here
                # on leaves a live call that a survivor adopts (recorded as lost), never a job
                # that a second process would dial again.
                await self.queue.ack(job.call_id)
            except BaseException:
                # Never dialled here (stopped, or Redis gone): the call's capacity goes, and its
                # trunk slot, renewed no more, runs out; the job comes back when its claim does.
                self.active.pop(call.id, None)
                self._free(call.id)
                raise

        self.active[call.id] = trunk.name
        self.dialled += 1
        await controller.originate(
            call,
            endpoint=f"PJSIP/{job.to_number}@{trunk.endpoint}",
            caller_id=trunk.caller_id or job.from_number or None,
            ring_timeout_s=trunk.ring_timeout_s,
            formats=trunk.formats,
            on_end=self._ended,
            before_dial=wait_for_pacing_slot,
        )
        await self.queue.ack(job.call_id)

    async def _ended(self, call: Call) -> None:
        self._free(call.id)
        trunk = self.active.pop(call.id, None)
        if trunk is not None:
            await self.queue.free_call_slot(trunk, call.id)

    async def _renew_slots(self) -> None:
        now = time.monotonic()
        if now < self._renew_at:
            return
        self._renew_at = now + SLOT_LEASE_S / 3
        for call_id, trunk in list(self.active.items()):
            await self.queue.renew_call_slot(trunk, call_id, lease_s=SLOT_LEASE_S)
