"""Call control figures against the fake Asterisk, real sockets, one process.

    uv run --frozen --no-sync python -m bench.ari_control greeting [--calls 100] [--concurrency 10]
    uv run --frozen --no-sync python -m bench.ari_control originate [--calls 300] [--dispatchers 1]
        [--in-flight 8] [--campaign-cps 40] [--originate-delay-ms 0]

greeting: StasisStart -> first greeting audio at the caller (the controller answers, creates
the bridge and the AudioSocket externalMedia channel, bridges once the leg is up, the
pipeline speaks a cached-free welcome from an instant fake TTS). Also the control steps from
the fake's REST log: StasisStart -> answer, -> externalMedia, -> addChannel. p50/p99 in ms.

originate: calls queued in Redis (a leased db), dialled by the dispatcher at an unbounded
trunk rate into busy callees; sustained originations per second from the fake's REST log.
With --campaign-cps the calls are one campaign's, paced at that rate (the figure to hold it
against); --in-flight is how many jobs each dispatcher dials at once (1: one at a time);
--originate-delay-ms holds each originate request at the fake that long (a slower Asterisk,
link, or a serving process's own per-call bookkeeping, which this bench leaves out).

The fake Asterisk shares the process and event loop (and the loaded 2-core machine), so the
figures include its own cost: read them as upper bounds for Vocals' share.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import os
import re
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit, urlunsplit

import structlog
from redis.asyncio import Redis

from ari_app.call import Call
from ari_app.client import AriClient, AriSettings
from ari_app.controller import CallController
from ari_app.media_legs import MediaSettings
from ari_app.outbound import IN_FLIGHT, OutboundDispatcher, TrunkRoute
from ari_app.pipeline_runner import PipelineConversations
from ari_app.ports import AgentRoute
from media.audiosocket import AudioSocketServer
from pipeline.agent import AgentSettings
from pipeline.engine import CallProviders
from pipeline.records import CallResult
from pipeline.speech_cache import SpeechCache
from store.outbound_queue import OutboundJob, OutboundQueue
from tests.fakes.asterisk import Callee, FakeAsterisk
from tests.fakes.fake_providers import FakeLLM, FakeSTT, FakeTTS
from tests.pipeline.harness import FAST_TIMEOUTS, agent_settings
from vocals.services import resolve_services
from vocals.settings import load_settings

TENANT = uuid.UUID(int=1)
AGENT = uuid.UUID(int=2)
REDIS_DBS = range(1, 16)  # the test suite's leased dbs, so a run never shares one


class MemoryDirectory:
    async def route_for_did(self, did: str) -> AgentRoute | None:
        return AgentRoute(tenant_id=TENANT, agent_id=AGENT)

    async def route_for_agent(self, tenant_id: uuid.UUID, agent_id: uuid.UUID) -> AgentRoute:
        return AgentRoute(tenant_id=tenant_id, agent_id=agent_id)


class CountingLedger:
    def __init__(self) -> None:
        self.finished = 0

    async def save(self, call: Call) -> None:
        return None

    async def hold(self, call: Call, *, channels: list[str], bridges: list[str]) -> None:
        return None

    async def finish(self, call: Call, result: CallResult | None) -> None:
        self.finished += 1


async def _prepare(call: Call) -> tuple[AgentSettings, CallProviders]:
    agent = agent_settings(welcome_message="Hello, thanks for calling.")
    return agent, CallProviders(FakeSTT(), FakeLLM(), FakeTTS())


@contextlib.asynccontextmanager
async def _controller(fake: FakeAsterisk, app: str) -> AsyncIterator[CallController]:
    ari = AriClient(AriSettings(url=fake.ari_url, username="vocals", password="vocals", app=app))
    conversations = PipelineConversations(
        _prepare, speech_cache=SpeechCache(), timeouts=FAST_TIMEOUTS
    )
    controller = CallController(
        ari, directory=MemoryDirectory(), conversations=conversations, ledger=CountingLedger()
    )
    server = AudioSocketServer(
        "127.0.0.1", 0, controller.legs.on_leg, format_timeout_s=0.0, health_port=None
    )
    await server.start()
    controller.media = MediaSettings(audiosocket_port=server.port)
    controller.start()
    await controller.listener.wait_connected(5)
    try:
        yield controller
    finally:
        await controller.stop()
        await ari.close()
        await server.stop()


async def _until(done: Callable[[], bool]) -> None:
    for _ in itertools.count():
        if done():
            return
        await asyncio.sleep(0.05)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _report(name: str, values_ms: list[float]) -> None:
    print(
        f"{name:<34} p50 {statistics.median(values_ms):7.1f} ms   "
        f"p99 {_pct(values_ms, 0.99):7.1f} ms   max {max(values_ms):7.1f} ms   n={len(values_ms)}"
    )


def _control_steps(fake: FakeAsterisk, channel_id: str) -> dict[str, float]:
    """When the fake received each setup request of the call on `channel_id`."""
    log = fake.rest_log
    answer = next(c.t for c in log if c.path == f"/channels/{channel_id}/answer")
    add = next(
        c for c in log if c.path.endswith("/addChannel") and channel_id in c.params["channel"]
    )
    media_id = add.params["channel"].split(",")[1]
    media = next(c.t for c in log if c.params.get("channelId") == media_id)
    return {"answer": answer, "externalMedia": media, "addChannel": add.t}


async def greeting(calls: int, concurrency: int) -> None:
    fake = FakeAsterisk()
    await fake.start()
    first_audio: list[float] = []
    steps: dict[str, list[float]] = {"answer": [], "externalMedia": [], "addChannel": []}
    async with _controller(fake, "vocals") as controller:
        for start in range(0, calls, concurrency):
            batch = []
            for _ in range(min(concurrency, calls - start)):
                t0 = time.monotonic()
                batch.append((t0, await fake.inbound_call("15550000000")))
            for t0, caller in batch:
                await caller.wait_received(300, timeout_s=10)
                assert caller.first_audio_at is not None
                first_audio.append((caller.first_audio_at - t0) * 1000)
                for name, t in _control_steps(fake, caller.channel_id).items():
                    steps[name].append((t - t0) * 1000)
            await asyncio.gather(*(caller.hangup() for _, caller in batch))
        await _until(lambda: not controller.sessions)
    await fake.stop()
    print(f"greeting: {calls} inbound calls, {concurrency} set up at a time")
    for name, values in steps.items():
        _report(f"StasisStart -> {name} request", values)
    _report("StasisStart -> first greeting audio", first_audio)


@contextlib.asynccontextmanager
async def _leased_redis() -> AsyncIterator[Redis]:
    env = {k: v for k, v in os.environ.items() if k.startswith("VOCALS_")}
    found = await resolve_services(load_settings(env))
    base = urlsplit(found.redis_url)
    control = Redis.from_url(urlunsplit(base._replace(path="/0")))
    token = uuid.uuid4().hex
    for db in REDIS_DBS:
        if await control.set(f"vocals:test-db-lease:{db}", token, nx=True, ex=3600):
            break
    else:
        raise RuntimeError("every Redis test db is leased")
    redis = Redis.from_url(urlunsplit(base._replace(path=f"/{db}")))
    await redis.flushdb()
    try:
        yield redis
    finally:
        await redis.flushdb()
        await redis.aclose()
        await control.delete(f"vocals:test-db-lease:{db}")
        await control.aclose()
        found.close()


async def originate(
    calls: int, dispatchers: int, in_flight: int, campaign_cps: float, delay_ms: float
) -> None:
    fake = FakeAsterisk(time_scale=0.01)
    fake.originate_delay_s = delay_ms / 1000
    fake.default_callee = Callee(outcome="busy", ring_s=0.01)
    await fake.start()
    trunk = TrunkRoute(name="bench", endpoint="trunk1", cps=10_000, max_calls=10_000)

    async def route(job: OutboundJob) -> TrunkRoute:
        return trunk

    campaign = uuid.uuid4() if campaign_cps > 0 else None
    async with _leased_redis() as redis, contextlib.AsyncExitStack() as stack:
        queue = OutboundQueue(redis)
        for _ in range(calls):
            await queue.enqueue(
                OutboundJob(
                    call_id=uuid.uuid4(),
                    tenant_id=TENANT,
                    agent_id=AGENT,
                    to_number="15550001000",
                    campaign_id=campaign,
                    campaign_cps=campaign_cps,
                )
            )
        started = time.monotonic()
        workers = []
        for i in range(dispatchers):
            controller = await stack.enter_async_context(_controller(fake, f"vocals-{i}"))
            worker = OutboundDispatcher(queue, controller, route, poll_s=0.01, in_flight=in_flight)
            stack.push_async_callback(worker.stop)
            workers.append(worker)
            worker.start()
        await _until(
            lambda: sum(w.dialled for w in workers) == calls and not any(w.active for w in workers)
        )
        elapsed = time.monotonic() - started
    posts = sorted(
        c.t
        for c in fake.rest_log
        if c.method == "POST" and re.fullmatch(r"/channels/[0-9a-f-]{36}", c.path)
    )
    await fake.stop()
    rate = (len(posts) - 1) / (posts[-1] - posts[0])
    gaps = [b - a for a, b in itertools.pairwise(posts)]
    cap = f"campaign cap {campaign_cps:g}/s" if campaign else "no campaign cap"
    print(
        f"originate: {calls} queued calls, {dispatchers} dispatcher(s) x {in_flight} in flight, "
        f"{cap}, originate held {delay_ms:g} ms, busy callees"
    )
    print(
        f"sustained originations/s {rate:8.1f}   (all done in {elapsed:.1f} s; "
        f"median gap {statistics.median(gaps) * 1000:.1f} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="what", required=True)
    g = sub.add_parser("greeting")
    g.add_argument("--calls", type=int, default=100)
    g.add_argument("--concurrency", type=int, default=10)
    o = sub.add_parser("originate")
    o.add_argument("--calls", type=int, default=300)
    o.add_argument("--dispatchers", type=int, default=1)
    o.add_argument("--in-flight", type=int, default=IN_FLIGHT)
    o.add_argument("--campaign-cps", type=float, default=0.0)
    o.add_argument("--originate-delay-ms", type=float, default=0.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    if args.what == "greeting":
        asyncio.run(greeting(args.calls, args.concurrency))
    else:
        asyncio.run(
            originate(
                args.calls,
                args.dispatchers,
                args.in_flight,
                args.campaign_cps,
                args.originate_delay_ms,
            )
        )


if __name__ == "__main__":
    main()
