"""One selftest call, inbound (a Local channel into the inbound dialplan) or outbound (the
server dials a number that Asterisk routes back into selftest's app), and its report."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from pathlib import Path
from typing import Final

import httpx
import msgspec
import numpy as np

from ari_app.client import AriClient, AriSettings
from ari_app.errors import AriError
from store.db import create_pool
from store.repositories.config import InboundRouteRepository
from vocals.demo import Ear, write_wav
from vocals.selftest import hearing
from vocals.selftest.line import CallerHalf, CallerLine
from vocals.selftest.report import Limits, Report, Turn, judge
from vocals.selftest.script import PHRASES, EarTap, Timeline, converse
from vocals.selftest.surroundings import (
    Snapshot,
    ami_state,
    ari_state,
    endpoint_states,
    leftovers,
    server_health,
    snapshot,
)
from vocals.services import resolve_services
from vocals.settings import Settings
from vocals.simulator.voices import PHONE_RATE, caller_phrases

INBOUND_CONTEXT: Final = "vocals-inbound"
# How long a dialled test call may ring (the server answers inbound calls at once; an
# outbound one waits for the dispatcher's pacing slot).
ANSWER_TIMEOUT_S: Final = 30.0
OUTBOUND_ARRIVAL_TIMEOUT_S: Final = 60.0
# After a hangup, Asterisk ends the channel's Stasis within milliseconds.
TEARDOWN_TIMEOUT_S: Final = 5.0
API_TIMEOUT_S: Final = 10.0
# What the callee says on answering, as a person and as an answering machine; the machine's
# greeting ends with a beep of BEEP_S at BEEP_HZ.
HELLO: Final = "Hello?"
MACHINE_GREETING: Final = (
    "Hi, you have reached the voicemail of Sam Taylor. I cannot take your call right now. "
    "Please leave your name and number after the tone, and I will call you back."
)
BEEP_HZ: Final = 1000.0
BEEP_S: Final = 0.5
BEEP_PAUSE_S: Final = 1.0
BEEP_AMPLITUDE: Final = 8000  # -12 dBFS, as loud as a mailbox's tone
# After the beep the machine records this long for the agent's message.
MACHINE_RECORD_S: Final = 20.0


class SelftestOptions(msgspec.Struct, kw_only=True, frozen=True):
    number: str | None = None
    context: str = INBOUND_CONTEXT
    outbound: str | None = None  # None (inbound), "human" or "machine"
    api_url: str | None = None
    api_key: str | None = None
    agent_id: str | None = None
    trunk_id: str | None = None
    server_url: str | None = None
    listen_host: str | None = None
    save: Path | None = None
    limits: Limits = Limits()
    # Where the caller's synthesized phrases are kept (the demo caller's cache by default).
    voice_cache: Path | None = None


class SelftestError(Exception):
    """selftest could not place its call at all (settings, ARI, no number)."""


async def run_selftest(settings: Settings, options: SelftestOptions) -> Report:
    if not settings.ari_url or not settings.ari_password:
        raise SelftestError("set VOCALS_ARI_URL and VOCALS_ARI_PASSWORD as for `vocals serve`")
    if options.outbound is not None and not options.number:
        raise SelftestError("--outbound needs --number: the number Asterisk routes to selftest")
    server_url = options.server_url or f"http://{settings.http_host}:{settings.http_port}"
    options = msgspec.structs.replace(options, api_url=options.api_url or server_url)
    ari = AriClient(
        AriSettings(
            url=settings.ari_url,
            username=settings.ari_user,
            password=settings.ari_password,
            app=f"{settings.ari_app}-selftest",
        )
    )
    try:
        report = await _surroundings(settings, options, ari, server_url)
        await _call(settings, options, ari, report)
    finally:
        await ari.close()
    judge(report, options.limits)
    return report


async def _surroundings(
    settings: Settings, options: SelftestOptions, ari: AriClient, server_url: str
) -> Report:
    """The report before the call: ARI, AMI, trunks, the server's health, the number."""
    ari_now, ami, endpoints, server = await asyncio.gather(
        ari_state(ari, settings.ari_app),
        ami_state(settings),
        endpoint_states(ari),
        server_health(server_url),
    )
    if ari_now.error:
        raise SelftestError(f"ARI at {settings.ari_url}: {ari_now.error}")
    number = options.number or await _first_routed_number(settings)
    mode = "inbound" if options.outbound is None else f"outbound-{options.outbound}"
    return Report(
        mode=mode, number=number, ari=ari_now, ami=ami, endpoints=endpoints, server=server
    )


async def _call(
    settings: Settings, options: SelftestOptions, ari: AriClient, report: Report
) -> None:
    # Synthesized (or read from the cache) before any channel exists: it can take seconds.
    voices = options.voice_cache or Path(settings.data_dir) / "demo" / "caller"
    phrases = await caller_phrases(voices, PHRASES)
    answer = b"" if options.outbound is None else await _callee_audio(voices, options.outbound)
    listen = options.listen_host or settings.audiosocket_host
    line = CallerLine(
        ari, listen_host=listen, advertise_host=settings.audiosocket_advertise_host or listen
    )
    try:
        await line.open()
        before = await snapshot(ari)
        await line.prepare_media()
        if options.outbound is None:
            await _inbound(line, report.number, phrases, options, report, before)
        else:
            await _outbound(line, report.number, phrases, answer, options, report, before)
    finally:
        await line.close()


async def _first_routed_number(settings: Settings) -> str:
    services = await resolve_services(settings, allow_embedded=False)
    try:
        pool = await create_pool(services.database_url, max_size=1)
        try:
            routes = await InboundRouteRepository(pool).list_all_tenants()
        finally:
            await pool.close()
    finally:
        services.close()
    if not routes:
        raise SelftestError("no number is routed to an agent: give one with --number")
    return routes[0].did


async def _inbound(
    line: CallerLine,
    number: str,
    phrases: list[bytes],
    options: SelftestOptions,
    report: Report,
    before: Snapshot,
) -> None:
    caller = line.expect_caller(f"selftest-{uuid.uuid4()}")
    ear = _listen(line)
    dialled_at = time.monotonic()
    await line.ari.originate(
        f"Local/{number}@{options.context}/n",
        app=line.app,
        app_args=["selftest"],
        channel_id=caller.channel_id,
        other_channel_id=f"{caller.channel_id}-dialplan",
        timeout_s=int(ANSWER_TIMEOUT_S),
    )
    timeline = Timeline()
    if await _answered(caller):
        await line.connect_caller()
        timeline.answered_at = caller.answered_at
        report.answer_ms = _between(dialled_at, caller.answered_at)
        talk = asyncio.create_task(converse(line, caller, ear, phrases, timeline))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ear.agent_starts(0.0), ANSWER_TIMEOUT_S)
            report.server_media = await _server_media(line, f"{caller.channel_id}-dialplan")
        await talk
    await _finish(line, caller, report, before)
    _measure(report, ear, timeline)
    _save(report, ear, options)


async def _outbound(
    line: CallerLine,
    number: str,
    phrases: list[bytes],
    answer: bytes,
    options: SelftestOptions,
    report: Report,
    before: Snapshot,
) -> None:
    """`answer` is what the callee says on answering (a hello, or a mailbox's greeting)."""
    as_machine = options.outbound == "machine"
    ear = _listen(line)
    line.accept_next_caller()
    dialled_at = time.monotonic()
    await _queue_call(options, number)
    try:
        caller = await asyncio.wait_for(line.caller_arrived(), OUTBOUND_ARRIVAL_TIMEOUT_S)
    except TimeoutError:
        report.script_stopped = (
            f"no call reached '{line.app}' within {OUTBOUND_ARRIVAL_TIMEOUT_S:.0f} s: does "
            f"Asterisk route {number} (as the server dials it, maybe with a +) to "
            f"Stasis({line.app})?"
        )
        return
    await line.ari.answer(caller.channel_id)
    caller.answered_at = time.monotonic()
    await line.connect_caller()
    report.answer_ms = _between(dialled_at, caller.answered_at)
    _, answered_end = await line.say(answer)
    # The agent speaks first once the callee has: its greeting is timed from there.
    timeline = Timeline(answered_at=answered_end)
    if as_machine:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(caller.ended.wait(), MACHINE_RECORD_S)
        segments = hearing.speech_segments(ear.heard)
        spoken = next((s.start for s in segments), None)
        report.voicemail_after_beep_ms = _between(answered_end, spoken)
        timeline = Timeline()
    else:
        await converse(line, caller, ear, phrases, timeline)
    await _finish(line, caller, report, before)
    _measure(report, ear, timeline)
    _save(report, ear, options)


async def _callee_audio(voices: Path, kind: str) -> bytes:
    """What the callee says on answering: hello, or a mailbox greeting ending in a beep."""
    if kind == "human":
        return (await caller_phrases(voices, (HELLO,)))[0]
    greeting = (await caller_phrases(voices, (MACHINE_GREETING,)))[0]
    t = np.arange(int(BEEP_S * PHONE_RATE)) / PHONE_RATE
    beep = (BEEP_AMPLITUDE * np.sin(2 * np.pi * BEEP_HZ * t)).astype("<i2").tobytes()
    pause = bytes(int(BEEP_PAUSE_S * PHONE_RATE) * 2)
    return greeting + pause + beep


def _listen(line: CallerLine) -> Ear:
    assert line.leg is not None
    ear = Ear()
    line.leg.set_tap(EarTap(ear))
    return ear


async def _answered(caller: CallerHalf) -> bool:
    answered = asyncio.ensure_future(caller.answered.wait())
    ended = asyncio.ensure_future(caller.ended.wait())
    try:
        await asyncio.wait(
            {answered, ended}, timeout=ANSWER_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        answered.cancel()
        ended.cancel()
    return caller.answered.is_set()


async def _server_media(line: CallerLine, channel_id: str) -> str | None:
    """The server's external media channel bridged with `channel_id` (its technology shows the
    transport the agent uses: AudioSocket or UnicastRTP)."""
    try:
        for bridge in await line.ari.list_bridges():
            if channel_id in bridge.channels:
                others = [c for c in bridge.channels if c != channel_id]
                if others:
                    return (await line.ari.get_channel(others[0])).name.split("/", 1)[0]
    except AriError:
        return None
    return None


async def _queue_call(options: SelftestOptions, number: str) -> None:
    if not options.api_url or not options.api_key:
        raise SelftestError("--outbound needs --api-key (and --api-url unless it is --url)")
    headers = {"Authorization": f"Bearer {options.api_key}"}
    base = options.api_url.rstrip("/") + "/api/v1"
    async with httpx.AsyncClient(timeout=API_TIMEOUT_S, headers=headers) as client:
        agent_id = options.agent_id
        if agent_id is None:
            agents = (await client.get(f"{base}/agents", params={"limit": 1})).json()
            items = agents.get("items") if isinstance(agents, dict) else None
            if not items:
                raise SelftestError("no agent found over the API: give one with --agent-id")
            agent_id = str(items[0]["id"])
        request = {"agent_id": agent_id, "to": number}
        if options.trunk_id is not None:
            request["trunk_id"] = options.trunk_id
        response = await client.post(f"{base}/calls", json=request)
    if response.status_code != 202:
        raise SelftestError(f"POST /api/v1/calls answered {response.status_code}: {response.text}")


async def _finish(line: CallerLine, caller: CallerHalf, report: Report, before: Snapshot) -> None:
    """Hang up if the agent did not, wait for the teardown, clean up, count leftovers."""
    if caller.answered.is_set() and not caller.ended.is_set():
        await line.hang_up_caller()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(caller.stasis_ended.wait(), TEARDOWN_TIMEOUT_S)
    if caller.ended.is_set():
        if not caller.answered.is_set():
            report.hung_up_by = None
            report.script_stopped = (
                f"refused before answer (cause {caller.cause} {caller.cause_txt})"
            )
        elif caller.media_lost:
            report.problems.append("Asterisk closed selftest's AudioSocket mid-call")
            report.hung_up_by = "nobody: the media connection was lost"
        else:
            report.hung_up_by = "selftest (the caller)" if caller.hung_up_by_selftest else "agent"
        if caller.cause is not None:
            report.hangup_cause = f"cause {caller.cause} {caller.cause_txt}".strip()
        if caller.answered_at is not None and caller.ended_at is not None:
            report.duration_s = round(caller.ended_at - caller.answered_at, 1)
    await line.close_media()
    try:
        left = await leftovers(line.ari, before)
    except AriError as exc:
        report.problems.append(f"could not list what is left in Asterisk: {exc}")
        return
    report.leftover_channels = sorted(left.channels.values())
    report.leftover_bridges = sorted(left.bridges.values())


def _measure(report: Report, ear: Ear, timeline: Timeline) -> None:
    segments = hearing.speech_segments(ear.heard)
    report.script_stopped = report.script_stopped or timeline.stopped
    if timeline.answered_at is not None:
        first = hearing.first_start_after(segments, timeline.answered_at)
        report.greeting_ms = _between(timeline.answered_at, first)
    for index, said in enumerate(timeline.said):
        if said is timeline.interruption:
            continue
        # The agent was quiet when the caller began: its next speech is the answer, even one
        # begun before the caller finished (negative: it talked over the caller).
        start = hearing.first_start_after(segments, said.start)
        later = timeline.said[index + 1].start if index + 1 < len(timeline.said) else None
        if start is not None and later is not None and start > later:
            start = None  # what was heard answers a later phrase, not this one
        report.turns.append(Turn(phrase=said.label, response_ms=_between(said.end, start)))
    cut = timeline.interruption
    if cut is not None:
        if not hearing.playing_at(ear.heard, cut.start):
            report.barge_in_failure = "the agent was silent when the caller cut in"
        else:
            stopped = hearing.stopped_after(ear.heard, segments, cut.start, cut.end)
            report.barge_in_ms = _between(cut.start, stopped)
            if stopped is None:
                report.barge_in_failure = "the agent kept talking over the caller"
        report.turns.append(
            Turn(
                phrase=cut.label,
                response_ms=_between(cut.end, hearing.first_start_after(segments, cut.end)),
            )
        )
    report.level_dbfs, report.peak_dbfs = hearing.dbfs(ear.heard)


def _between(start: float | None, end: float | None) -> int | None:
    if start is None or end is None:
        return None
    return round((end - start) * 1000)


def _save(report: Report, ear: Ear, options: SelftestOptions) -> None:
    if options.save is not None and ear.heard:
        write_wav(options.save, ear)
        report.saved = str(options.save)
