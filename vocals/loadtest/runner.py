"""`vocals loadtest`: steps of N concurrent simulated callers against a running server.

Asterisk transports (AudioSocket, RTP): the load test plays Asterisk itself. It listens where
the server's settings say Asterisk's ARI is (VOCALS_ARI_URL, same user and password), the
server's events WebSocket connects to it (the server retries until it can), and each caller
is a channel entering `Stasis(app,inbound,<DID>)` whose media flows over whatever the server
asks for in externalMedia. Twilio: see `vocals.loadtest.twilio`.

Callers speak recorded speech: Piper's voice saying short questions, synthesized once and
cached. With the offline providers they ask the demo caller's questions (which the scripted
agent answers) and the recognizer really has to hear them.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import httpx
import msgspec
import structlog
from redis.asyncio import Redis

from store.db import create_pool
from store.redis import connect as connect_redis
from store.web_call_tokens import WebCallGrant, WebCallTokens
from vocals.demo import CALLER_SCRIPT
from vocals.loadtest.agent import TwilioAccount, ensure_agent, ensure_twilio_number
from vocals.loadtest.caller import Ear, Voice, converse
from vocals.loadtest.config import LoadTestConfig
from vocals.loadtest.measure import CallLog, StepReport, StepSamples
from vocals.loadtest.probe import (
    LagProbe,
    MetricsProbe,
    ProcessProbe,
    Sample,
    find_listening_pid,
)
from vocals.loop_lag import WINDOW_S
from vocals.secret_key import secret_box
from vocals.services import ensure_database, resolve_services
from vocals.settings import Settings
from vocals.simulator import AsteriskSimulator, SimulatedCall, caller_phrases
from vocals.simulator.twilio import TwilioSimulator
from vocals.simulator.web import WebCallSimulator

log = structlog.get_logger(__name__)

CACHE_NAME: Final = "loadtest"
# How long the server may take to (re)connect its events WebSocket to the simulator: a freshly
# started one registers only once its local models are loaded (up to the pool's 30 s).
APP_CONNECT_TIMEOUT_S: Final = 60.0
# How often a starting server's readiness is asked.
READY_POLL_S: Final = 0.25
# After a step's callers hang up, the server has this long to release every channel.
DRAIN_TIMEOUT_S: Final = 20.0
# Calls settle (greeting played, first turn under way) before the measurement window opens.
SETTLE_S: Final = 2.0
# A caller still running this long after its step's end is cut off.
CALLER_GRACE_S: Final = 15.0
# How often the server's event-loop lag is read in a step.
LAG_POLL_S: Final = 2.0
# The demo caller's questions without its goodbye, which would end the call.
OFFLINE_PHRASES: Final = CALLER_SCRIPT[:-1]

Simulator = AsteriskSimulator | TwilioSimulator | WebCallSimulator
# A simulated browser call's token lives this long: it is used at once.
WEB_TOKEN_TTL_S: Final = 60.0


class LoadTestError(Exception):
    """The load test cannot run (bad target, server not reachable); printed as one line."""


class LoadTestResult(msgspec.Struct, kw_only=True):
    transport: str
    providers: str
    server_pid: int | None
    server_cpus: str | None
    machine_cpus: int
    steps: list[StepReport]


def is_loopback(host: str) -> bool:
    """True when every address `host` resolves to is a loopback address."""
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(ipaddress.ip_address(a).is_loopback for a in addresses)


def check_targets(urls: list[str], allow_remote: bool) -> None:
    """Refuse non-loopback targets unless `allow_remote`: a load test is an attack elsewhere."""
    for url in urls:
        host = urlsplit(url).hostname or ""
        if not allow_remote and not is_loopback(host):
            raise LoadTestError(
                f"{url} is not on this machine; pass --allow-remote to load-test another host"
            )


def run_bound_s(config: LoadTestConfig) -> float:
    """The longest a run may take; it is cancelled beyond that."""
    per_step = config.ramp_seconds + SETTLE_S + config.seconds + CALLER_GRACE_S + DRAIN_TIMEOUT_S
    return APP_CONNECT_TIMEOUT_S + 120.0 + len(config.steps) * per_step


def _cpus_allowed(pid: int) -> str | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Cpus_allowed_list:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


async def run_loadtest(
    settings: Settings,
    config: LoadTestConfig,
    *,
    server_url: str | None = None,
    server_pid: int | None = None,
    allow_remote: bool = False,
    on_step: Callable[[StepReport], None] | None = None,
) -> LoadTestResult:
    """Run every step of `config` against the server `settings` describe; bounded in time."""
    async with asyncio.timeout(run_bound_s(config)):
        return await _run(settings, config, server_url, server_pid, allow_remote, on_step)


async def _run(
    settings: Settings,
    config: LoadTestConfig,
    server_url: str | None,
    server_pid: int | None,
    allow_remote: bool,
    on_step: Callable[[StepReport], None] | None,
) -> LoadTestResult:
    base_url = server_url or f"http://{settings.http_host}:{settings.http_port}"
    twilio = config.transport == "twilio"
    web = config.transport == "web"
    if not twilio and not web and not settings.ari_url:
        raise LoadTestError(
            "VOCALS_ARI_URL is not set: the load test plays Asterisk where the server expects it"
        )
    media_url = settings.public_url if twilio or web else settings.ari_url or ""
    check_targets([base_url, media_url], allow_remote)
    if server_pid is None and is_loopback(urlsplit(base_url).hostname or ""):
        server_pid = find_listening_pid(urlsplit(base_url).port or 80)
    probe: ProcessProbe | MetricsProbe = (
        ProcessProbe(server_pid) if server_pid is not None else MetricsProbe(base_url)
    )
    await _until_ready(base_url)
    cache = Path(settings.data_dir) / "cache" / CACHE_NAME
    if config.providers == "offline":
        phrases = await caller_phrases(cache, OFFLINE_PHRASES)
    else:
        phrases = await caller_phrases(cache)
    twilio_account = await _prepare_agent(settings, config)
    sim: Simulator
    redis = None
    if web:
        sim, redis = await _web_simulator(settings, config)
    elif twilio_account is not None:
        sim = TwilioSimulator(
            settings.public_url, twilio_account.account_sid, twilio_account.auth_token
        )
        await sim.start()
    else:
        assert settings.ari_url is not None
        sim = await _start_asterisk(settings)
    try:
        reports = []
        for calls in config.steps:
            report = await _step(config, calls, phrases, sim, probe, LagProbe(base_url))
            reports.append(report)
            if on_step is not None:
                on_step(report)
            await _drain(sim)
    finally:
        await sim.stop()
        if redis is not None:
            await redis.aclose()
    return LoadTestResult(
        transport=config.transport,
        providers=config.providers,
        server_pid=server_pid,
        server_cpus=_cpus_allowed(server_pid) if server_pid is not None else None,
        machine_cpus=os.cpu_count() or 1,
        steps=reports,
    )


async def _until_ready(base_url: str) -> None:
    """Until the server takes calls: a freshly started one refuses them ("warming up") while
    its local models load. A server whose `/healthz` says nothing of readiness is taken as
    ready."""
    deadline = time.monotonic() + APP_CONNECT_TIMEOUT_S
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:
        while True:
            try:
                health = (await client.get("/healthz")).json()
            except (httpx.HTTPError, ValueError):
                health = {}
            else:
                if health.get("extra", {}).get("readiness", "ready") == "ready":
                    return
            if time.monotonic() > deadline:
                raise LoadTestError(
                    f"the server at {base_url} was not ready to take calls within "
                    f"{APP_CONNECT_TIMEOUT_S:.0f} s: {health.get('extra', {}).get('readiness')}"
                )
            await asyncio.sleep(READY_POLL_S)


async def _web_simulator(
    settings: Settings, config: LoadTestConfig
) -> tuple[WebCallSimulator, Redis]:
    """Browsers calling the load-test agent, and the Redis client their tokens are minted
    with, as a site's backend would, straight into the token store (no API key needed)."""
    services = await resolve_services(settings)
    redis = connect_redis(services.redis_url)
    try:
        pool = await create_pool(services.database_url, max_size=1)
        try:
            tenant_id, agent_id = await ensure_agent(pool, redis, config)
        finally:
            await pool.close()
    finally:
        services.close()
    public = urlsplit(settings.public_url)
    origin = f"{public.scheme}://{public.netloc}"
    scheme = "wss" if public.scheme == "https" else "ws"
    socket_url = f"{scheme}://{public.netloc}/web-calls/{agent_id}/socket"
    tokens = WebCallTokens(redis)

    async def mint() -> tuple[str, str]:
        grant = WebCallGrant(
            tenant_id=tenant_id,
            agent_id=agent_id,
            origin=origin,
            expires_at=time.time() + WEB_TOKEN_TTL_S,
            actor="loadtest",
        )
        return socket_url, await tokens.issue(grant)

    sim = WebCallSimulator(mint, origin)
    await sim.start()
    return sim, redis


async def _start_asterisk(settings: Settings) -> AsteriskSimulator:
    """The simulated Asterisk where the server's VOCALS_ARI_URL points, once it connected."""
    assert settings.ari_url is not None
    ari = urlsplit(settings.ari_url)
    sim = AsteriskSimulator(
        username=settings.ari_user,
        password=settings.ari_password or "",
        host=ari.hostname or "127.0.0.1",
        app=settings.ari_app,
    )
    await sim.start(ari.port or 8088)
    try:
        await sim.wait_for_app(timeout_s=APP_CONNECT_TIMEOUT_S)
    except TimeoutError:
        await sim.stop()
        raise LoadTestError(
            f"no server connected to the simulated Asterisk at {sim.ari_url} within "
            f"{APP_CONNECT_TIMEOUT_S:.0f} s: is `vocals serve` running with "
            f"VOCALS_ARI_URL={settings.ari_url}?"
        ) from None
    return sim


async def _prepare_agent(settings: Settings, config: LoadTestConfig) -> TwilioAccount | None:
    """The load-test agent (and for Twilio the tenant's account and number) in the store."""
    services = await resolve_services(settings)
    try:
        await ensure_database(services.database_url)
        pool = await create_pool(services.database_url, max_size=2)
        redis = connect_redis(services.redis_url)
        try:
            tenant_id, _ = await ensure_agent(pool, redis, config)
            if config.transport != "twilio":
                return None
            box = secret_box(settings)
            return await ensure_twilio_number(pool, redis, box, tenant_id, config.did)
        finally:
            await redis.aclose()
            await pool.close()
    finally:
        services.close()


async def _step(
    config: LoadTestConfig,
    calls: int,
    phrases: list[bytes],
    sim: Simulator,
    probe: ProcessProbe | MetricsProbe,
    lag: LagProbe,
) -> StepReport:
    start = time.monotonic()
    window_start = start + config.ramp_seconds + SETTLE_S
    window_end = window_start + config.seconds
    own = ProcessProbe(os.getpid())
    logs: list[CallLog] = []
    handles: list[SimulatedCall] = []
    tasks: list[asyncio.Task[None]] = []
    spacing = config.ramp_seconds / calls
    lag_before = sim.pump_reanchors
    for i in range(calls):
        await asyncio.sleep(max(0.0, start + i * spacing - time.monotonic()))
        call_log = CallLog()
        voice, ear = Voice(call_log), Ear(call_log)
        handle = sim.place_call(config.did, voice, ear)
        logs.append(call_log)
        handles.append(handle)
        conversation = converse(
            handle,
            voice,
            ear,
            call_log,
            phrases,
            until=window_end,
            barge_in_every=config.barge_in_every,
        )
        tasks.append(asyncio.create_task(conversation))
    await asyncio.sleep(max(0.0, window_start - time.monotonic()))
    server_before, own_before = await probe.sample(), await own.sample()
    lag_max_ms = await _max_lag(lag, window_start, window_end)
    server_after, own_after = await probe.sample(), await own.sample()
    lag_events = sim.pump_reanchors - lag_before
    done, pending = await asyncio.wait(tasks, timeout=CALLER_GRACE_S)
    for late in pending:
        late.cancel()
    for handle in handles:
        if not handle.ended.is_set():
            await handle.hangup()
    samples = StepSamples()
    for call_log in logs:
        samples.add(call_log, window_start, window_end)
    for handle in handles:
        used = handle.encapsulation
        if used is not None and used != config.transport:
            what = f"server used {used} media, not {config.transport}"
            samples.errors[what] = samples.errors.get(what, 0) + 1
    for finished in done:
        crash = finished.exception()
        if crash is not None:
            what = f"caller crashed: {type(crash).__name__}"
            samples.errors[what] = samples.errors.get(what, 0) + 1
    return StepReport.build(
        calls=calls,
        connected=sum(1 for call_log in logs if call_log.connected_at is not None),
        heard_every_reply=sum(1 for call_log in logs if call_log.heard_every_reply),
        seconds=config.seconds,
        samples=samples,
        configured_response_ms=config.configured_response_ms(),
        server_cpu_percent=_cpu(server_before, server_after),
        server_children_cpu_percent=(
            None
            if server_before is None or server_after is None
            else server_after.children_cpu_percent_since(server_before)
        ),
        server_lag_max_ms=lag_max_ms,
        server_rss_mb=server_after.rss_mb if server_after is not None else None,
        client_cpu_percent=_cpu(own_before, own_after),
        client_lag_events=lag_events,
        server_wait_percent=_wait(server_before, server_after),
        client_wait_percent=_wait(own_before, own_after),
    )


async def _max_lag(lag: LagProbe, start: float, end: float) -> float | None:
    """The server's highest event-loop lag over [start, end] (time.monotonic()), from its
    gauge of the last `WINDOW_S`: read from `start + WINDOW_S` on, so no read reaches back
    before the window, and at `end` (a window shorter than `WINDOW_S` then includes some of
    the ramp before it)."""
    highest: float | None = None
    at = min(start + WINDOW_S, end)
    while True:
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        seen = await lag.max_lag_ms()
        if seen is not None:
            highest = seen if highest is None else max(highest, seen)
        if at >= end:
            return highest
        at = min(at + LAG_POLL_S, end)


def _cpu(before: Sample | None, after: Sample | None) -> float | None:
    if before is None or after is None:
        return None
    return after.cpu_percent_since(before)


def _wait(before: Sample | None, after: Sample | None) -> float | None:
    if before is None or after is None:
        return None
    return after.wait_percent_since(before)


async def _drain(sim: Simulator) -> None:
    """Until the server has released every call of the step (bounded)."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while sim.live_calls():
        if time.monotonic() > deadline:
            log.warning("server did not release every call", calls=sim.live_calls())
            return
        await asyncio.sleep(0.1)
