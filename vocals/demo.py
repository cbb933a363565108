"""`vocals demo`: a real call through the whole product on the offline defaults.

It creates a demo tenant, agent and number when absent, starts `vocals serve` against the
shipped Asterisk simulator (real ARI, real AudioSocket on 127.0.0.1), and a synthesized
caller asks a few questions, has the agent check the salon's calendar (a tool call to a
local booking endpoint, with its filler phrase), interrupts the agent once and says goodbye;
the agent ends the call itself. The live transcript with per-turn latency and tool calls is
printed as the call goes, and the conversation is written to a stereo WAV (caller left,
agent right).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
import wave
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
import msgspec
import numpy as np

from ari_app.agent_loader import OFFLINE_DEFAULTS
from providers.base import ProviderKind
from store.live_calls import LiveCallStore
from store.models import CallRecord
from store.redis import connect as connect_redis
from store.repositories.calls import CallRepository
from store.repositories.config import AgentRepository, InboundRouteRepository
from store.repositories.tenants import TenantsRepository
from vocals.admin import database
from vocals.demo_calendar import DemoCalendar, tool_definition
from vocals.demo_post_call import DEMO_ANALYSIS, post_call_lines, wait_for_post_call
from vocals.net import free_port
from vocals.services import resolve_services
from vocals.settings import Settings
from vocals.simulator import AsteriskSimulator, QueueSource, SimulatedCall, caller_phrases

TENANT_NAME: Final = "demo"
AGENT_NAME: Final = "Demo receptionist"
DEMO_DID: Final = "+15550100100"
WELCOME: Final = "Hello, thanks for calling Riverside Hair Studio. How can I help you today?"
SYSTEM_PROMPT: Final = "You are the friendly receptionist of a hair salon. Keep answers short."
ARI_PASSWORD: Final = "demo-ari-password"
SAMPLE_RATE: Final = 8000
FRAME_S: Final = 0.02
# Agent audio louder than this (RMS of 16-bit samples) counts as speech, not comfort noise.
SPEECH_RMS: Final = 300.0
# The agent has finished a reply when it has been quiet this long.
REPLY_DONE_SILENCE_S: Final = 0.9
# After the agent's last word, how long a caller waits for the line to drop before speaking.
HANGUP_GRACE_S: Final = 1.5
# How long into the agent's reply the caller cuts in, to show barge-in.
INTERRUPT_AFTER_S: Final = 0.8
SERVER_START_TIMEOUT_S: Final = 60.0
# A server drains live calls on SIGTERM; the demo's call is over by then.
SERVER_STOP_TIMEOUT_S: Final = 30.0
REPLY_TIMEOUT_S: Final = 30.0
# What the caller says, in order: two questions, a question the agent answers from the
# calendar (its tool), a booking the caller cuts short with another question, and goodbye
# (the agent's flow ends the call on it).
CALLER_SCRIPT: Final = (
    "Hi, what are your opening hours?",
    "How much does a haircut cost?",
    "Do you have anything free tomorrow morning?",
    "Yes please, book it for me.",
    "Sorry, where exactly are you located?",
    "No thanks, that's all. Goodbye.",
)
# Said again, like a caller who was not understood, until the agent hangs up.
GOODBYE_AGAIN: Final = ("Goodbye!", "Thank you, bye bye.")
CALL_END_TIMEOUT_S: Final = 30.0


class DemoFailed(Exception):
    """The demo call did not go as a call should; the message says where."""


@dataclass
class Ear:
    """What the caller hears and says, with times, for speech detection and the WAV."""

    started: float = field(default_factory=time.monotonic)
    heard: list[tuple[float, bytes]] = field(default_factory=list)
    said: list[tuple[float, bytes]] = field(default_factory=list)
    last_speech_at: float = 0.0
    speech_frames: int = 0
    speech: asyncio.Event = field(default_factory=asyncio.Event)

    def on_frame(self, pcm: bytes, at: float) -> None:
        self.heard.append((at, pcm))
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
        if samples.size and float(np.sqrt(np.mean(samples * samples))) > SPEECH_RMS:
            self.last_speech_at = at
            self.speech_frames += 1
            self.speech.set()

    async def agent_starts(self, after: float) -> None:
        """Until the agent is heard speaking later than `after` (time.monotonic())."""
        while True:
            self.speech.clear()
            if self.last_speech_at > after:
                return
            await self.speech.wait()

    async def agent_done(self) -> None:
        """Until the agent has been quiet long enough to have finished its reply."""
        while True:
            quiet_for = time.monotonic() - self.last_speech_at
            if quiet_for >= REPLY_DONE_SILENCE_S:
                return
            await asyncio.sleep(REPLY_DONE_SILENCE_S - quiet_for)


class TimedSource(QueueSource):
    """A caller's mouth that notes when each frame it says leaves, for the WAV."""

    def __init__(self, ear: Ear) -> None:
        super().__init__()
        self._ear = ear

    def next_frame(self) -> bytes | None:
        frame = super().next_frame()
        if frame is not None:
            self._ear.said.append((time.monotonic(), frame))
        return frame


async def ensure_demo_agent(settings: Settings, calendar_url: str) -> tuple[uuid.UUID, uuid.UUID]:
    """The demo tenant and its agent on the offline defaults, answering DEMO_DID, with the
    calendar at `calendar_url` as its availability tool."""
    async with database(settings) as (pool, _):
        tenants = TenantsRepository(pool)
        tenant = await tenants.find_by_name(TENANT_NAME) or await tenants.create(TENANT_NAME)
        agents = AgentRepository(pool)
        found = await agents.list_page(tenant.id, filters={"name": AGENT_NAME})
        values = {
            "name": AGENT_NAME,
            "system_prompt": SYSTEM_PROMPT,
            "welcome_message": WELCOME,
            "welcome_interruptible": False,
            "barge_in_sensitivity": "high",
            "stt": {"vendor": OFFLINE_DEFAULTS[ProviderKind.STT]},
            "llm": {"vendor": "scripted"},
            "tts": {"vendor": "piper"},
            "recording_enabled": True,
            "analysis": DEMO_ANALYSIS,
            "tools": [tool_definition(calendar_url)],
        }
        if found.items:
            agent = await agents.update(tenant.id, found.items[0].id, values)
            assert agent is not None
        else:
            agent = await agents.create(tenant.id, values)
        route = await InboundRouteRepository(pool).resolve_did(DEMO_DID)
        if route is None or route.agent_id != agent.id:
            await InboundRouteRepository(pool).replace_for_agent(tenant.id, agent.id, [DEMO_DID])
        return tenant.id, agent.id


@contextlib.asynccontextmanager
async def running_server(settings: Settings, sim: AsteriskSimulator) -> AsyncIterator[str]:
    """`vocals serve` in a subprocess, controlling the simulator; yields its base URL."""
    http_port = free_port()
    env = {
        **os.environ,
        "VOCALS_HTTP_PORT": str(http_port),
        "VOCALS_AUDIOSOCKET_PORT": str(free_port()),
        "VOCALS_AUDIOSOCKET_HEALTH_PORT": str(free_port()),
        "VOCALS_ARI_URL": sim.ari_url,
        "VOCALS_ARI_USER": sim.username,
        "VOCALS_ARI_PASSWORD": sim.password,
        "VOCALS_ARI_APP": sim.app,
        "VOCALS_LOG_LEVEL": "warning",
        "VOCALS_DATA_DIR": settings.data_dir,
        # The demo's booking calendar is on this machine: its operator lets the tool reach it.
        "VOCALS_ALLOW_PRIVATE_URLS": "true",
    }
    if settings.database_url:
        env["VOCALS_DATABASE_URL"] = settings.database_url
    if settings.redis_url:
        env["VOCALS_REDIS_URL"] = settings.redis_url
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "vocals", "serve", env=env, stdin=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{http_port}"
    try:
        await _wait_healthy(base, server)
        await asyncio.wait_for(sim.wait_for_app(sim.app), SERVER_START_TIMEOUT_S)
        yield base
    finally:
        if server.returncode is None:
            server.terminate()
            try:
                await asyncio.wait_for(server.wait(), SERVER_STOP_TIMEOUT_S)
            except TimeoutError:
                server.kill()
                await server.wait()


async def _wait_healthy(base: str, server: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if server.returncode is not None:
                raise DemoFailed(f"vocals serve exited with status {server.returncode}")
            with contextlib.suppress(httpx.HTTPError, ValueError):
                response = await client.get(f"{base}/healthz")
                if response.status_code == 200 and _greetings_ready(response.json()):
                    return
            await asyncio.sleep(0.2)
    raise DemoFailed("vocals serve did not become healthy in time")


def _greetings_ready(health: Any) -> bool:
    """Whether the server has synthesized the agents' greetings (the first caller is then
    greeted as fast as any later one)."""
    extra = health.get("extra") if isinstance(health, dict) else None
    return isinstance(extra, dict) and extra.get("greetings_ready") is True


class TranscriptPrinter:
    """Follows the call's live history in Redis and prints it as it grows."""

    def __init__(self, live: LiveCallStore, ear: Ear, out: Callable[[str], None]) -> None:
        self._live = live
        self._ear = ear
        self._out = out
        self._shown = 0
        self.transcript_shown = 0

    async def follow(self, tenant_id: uuid.UUID, stop: asyncio.Event) -> uuid.UUID:
        call_id = await self._find_call(tenant_id, stop)
        while not stop.is_set():
            await self.show_new(call_id)
            await asyncio.sleep(0.1)
        return call_id

    async def _find_call(self, tenant_id: uuid.UUID, stop: asyncio.Event) -> uuid.UUID:
        while True:
            ids = await self._live.live_call_ids(tenant_id)
            if ids:
                return ids[-1]
            if stop.is_set():
                raise DemoFailed("the call never showed up in the live call state")
            await asyncio.sleep(0.05)

    async def show_new(self, call_id: uuid.UUID) -> None:
        history = await self._live.history(call_id)
        for entry in history[self._shown :]:
            self._out(self._line(entry))
            self.transcript_shown += entry.get("type") == "transcript"
        self._shown = len(history)

    def show_rest(self, record: CallRecord) -> None:
        """The last words, which the live history no longer holds once the call ended."""
        for entry in record.transcript[self.transcript_shown :]:
            self._out(self._line({"type": "transcript", **entry}))

    def _line(self, entry: dict[str, Any]) -> str:
        stamp = f"[{time.monotonic() - self._ear.started:5.1f}s]"
        if entry.get("type") == "tool":
            failed = "" if entry.get("ok") == "true" else " (failed)"
            return (
                f"{stamp}         tool {entry.get('name')}({entry.get('arguments')}) -> "
                f"{entry.get('result')}{failed} in {entry.get('latency_ms')} ms"
            )
        if entry.get("type") == "transcript":
            who = "caller" if entry["role"] == "caller" else "agent "
            cut = "  (interrupted: the caller heard only this)" if entry.get("interrupted") else ""
            return f"{stamp} {who}: {entry['text']}{cut}"
        latency = entry.get("latency") or {}
        parts = [
            f"{name} {latency[key]} ms"
            for name, key in (
                ("STT", "stt_final_ms"),
                ("LLM", "llm_first_token_ms"),
                ("TTS", "tts_first_audio_ms"),
                ("total", "total_ms"),
            )
            if latency.get(key) is not None
        ]
        if latency.get("barge_in_ms") is not None:
            parts.append(f"barge-in cleared in {latency['barge_in_ms']} ms")
        if entry.get("tool_calls"):
            parts.append(f"{entry['tool_calls']} tool call(s) {entry.get('tool_ms')} ms")
        if entry.get("index") == 0:
            first = entry.get("first_frame_out_ms")
            return f"{stamp}         greeting: first audio {first} ms after the media leg was up"
        return f"{stamp}         turn {entry.get('index')}: " + (" · ".join(parts) or "no timings")


async def converse(call: SimulatedCall, ear: Ear, phrases: list[bytes]) -> None:
    """Listen to the greeting, ask, interrupt once, say goodbye."""
    try:
        await _converse(call, ear, phrases)
    except TimeoutError:
        raise DemoFailed(
            "the agent stopped answering (or never hung up after goodbye) in time"
        ) from None


async def _converse(call: SimulatedCall, ear: Ear, phrases: list[bytes]) -> None:
    hours, price, availability, booking, location, *goodbyes = phrases
    await asyncio.wait_for(call.media_up.wait(), REPLY_TIMEOUT_S)
    await asyncio.wait_for(ear.agent_starts(0.0), REPLY_TIMEOUT_S)
    for phrase in (hours, price, availability):
        await asyncio.wait_for(ear.agent_done(), REPLY_TIMEOUT_S)
        said_at = time.monotonic()
        call.play(phrase)
        await asyncio.wait_for(ear.agent_starts(said_at + len(phrase) / 16000), REPLY_TIMEOUT_S)
    await asyncio.wait_for(ear.agent_done(), REPLY_TIMEOUT_S)
    said_at = time.monotonic()
    call.play(booking)
    await asyncio.wait_for(ear.agent_starts(said_at + len(booking) / 16000), REPLY_TIMEOUT_S)
    await asyncio.sleep(INTERRUPT_AFTER_S)
    call.play(location)
    await asyncio.sleep(len(location) / 16000)
    await asyncio.wait_for(ear.agent_starts(time.monotonic()), REPLY_TIMEOUT_S)
    for goodbye in goodbyes:
        await asyncio.wait_for(ear.agent_done(), REPLY_TIMEOUT_S)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(call.ended.wait(), HANGUP_GRACE_S)
        if call.ended.is_set():
            return
        said_at = time.monotonic()
        call.play(goodbye)
        await asyncio.wait_for(
            _first(call.ended.wait(), ear.agent_starts(said_at + len(goodbye) / 16000)),
            REPLY_TIMEOUT_S,
        )
        if call.ended.is_set():
            return
    await asyncio.wait_for(call.ended.wait(), CALL_END_TIMEOUT_S)


async def _first(*waits: Coroutine[Any, Any, Any]) -> None:
    """Until the first of `waits` is done; the others are cancelled."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


def write_wav(path: Path, ear: Ear) -> float:
    """Caller left, agent right, each frame at its time; returns the length in seconds."""
    end = max([t for t, _ in ear.heard + ear.said] or [ear.started]) + FRAME_S
    total = int((end - ear.started) * SAMPLE_RATE) + 1
    stereo = np.zeros((total, 2), dtype="<i2")
    for channel, frames in ((0, ear.said), (1, ear.heard)):
        for at, pcm in frames:
            samples = np.frombuffer(pcm, dtype="<i2")
            start = max(0, int((at - ear.started) * SAMPLE_RATE) - samples.size)
            stereo[start : start + samples.size, channel] = samples[: total - start]
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(stereo.tobytes())
    return total / SAMPLE_RATE


async def _final_record(settings: Settings, tenant_id: uuid.UUID, call_id: uuid.UUID) -> CallRecord:
    async with database(settings) as (pool, _):
        deadline = time.monotonic() + CALL_END_TIMEOUT_S
        while time.monotonic() < deadline:
            record = await CallRepository(pool).get(tenant_id, call_id)
            if record is not None and record.ended_at is not None:
                return record
            await asyncio.sleep(0.2)
    raise DemoFailed("the call record never reached PostgreSQL")


def _check(record: CallRecord) -> list[str]:
    """What a sensible demo call must show; empty when it did."""
    problems = []
    caller_turns = [t for t in record.transcript if t.get("role") == "caller"]
    agent_turns = [t for t in record.transcript if t.get("role") == "agent"]
    if len(caller_turns) < 4:
        problems.append(f"only {len(caller_turns)} caller utterances were transcribed")
    if len(agent_turns) < 4:
        problems.append(f"the agent spoke only {len(agent_turns)} times")
    if not any(t.get("interrupted") for t in agent_turns):
        problems.append("the agent was never interrupted")
    if record.outcome != "agent_ended":
        problems.append(f"the call ended with outcome {record.outcome}, not by the agent")
    tools = [e["detail"] for e in record.events if e.get("kind") == "tool.call"]
    if not any(t.get("ok") == "true" for t in tools):
        problems.append("the agent never got an answer from the calendar (its tool)")
    return problems


async def run_demo(settings: Settings, out: Callable[[str], None] = print) -> int:
    """Place the demo call; 0 when it went as a real call should."""
    services = await resolve_services(settings)
    for line in services.describe():
        out(line)
    try:
        return await _demo(
            msgspec.structs.replace(
                settings, database_url=services.database_url, redis_url=services.redis_url
            ),
            out,
        )
    finally:
        services.close()


async def _demo(settings: Settings, out: Callable[[str], None]) -> int:
    assert settings.redis_url is not None
    data_dir = Path(settings.data_dir)
    wav_path = data_dir / "demo" / "demo-call.wav"
    out("Preparing the demo tenant, agent and caller voice (offline defaults) ...")
    calendar = DemoCalendar()
    tenant_id, _ = await ensure_demo_agent(settings, await calendar.start())
    phrases = await caller_phrases(data_dir / "demo" / "caller", CALLER_SCRIPT + GOODBYE_AGAIN)
    sim = AsteriskSimulator(password=ARI_PASSWORD, app=settings.ari_app)
    await sim.start()
    try:
        async with running_server(settings, sim) as base:
            out(f"vocals serve is up at {base}; simulated Asterisk at {sim.ari_url}")
            out(f"Calling {DEMO_DID} ...\n")
            ear = Ear()
            redis = connect_redis(settings.redis_url)
            printer = TranscriptPrinter(LiveCallStore(redis), ear, out)
            stop = asyncio.Event()
            follow = asyncio.create_task(printer.follow(tenant_id, stop))
            call = sim.place_call(DEMO_DID, TimedSource(ear), ear.on_frame)
            try:
                await converse(call, ear, phrases)
            finally:
                await asyncio.sleep(0.3)
                stop.set()
                call_id = await follow
                await printer.show_new(call_id)
                await redis.aclose()
                if not call.ended.is_set():
                    await call.hangup()
            # Before the server stops: its post-call worker prices and analyses the call.
            analysed = await wait_for_post_call(settings, tenant_id, call_id)
    finally:
        await sim.stop()
        await calendar.stop()
    record = await _final_record(settings, tenant_id, call_id)
    printer.show_rest(record)
    seconds = write_wav(wav_path, ear)
    out(f"\nCall {call_id}: {record.status}, outcome {record.outcome}, {seconds:.1f} s")
    totals = [
        t["latency"]["total_ms"] for t in record.turns if t.get("latency", {}).get("total_ms")
    ]
    if totals:
        out(
            f"Turn latency (end of caller speech -> first agent audio): median "
            f"{int(np.median(totals))} ms over {len(totals)} turns"
        )
    out(f"Conversation written to {wav_path} (caller left, agent right)")
    if record.recording_path:
        out(f"The server's own recording: {record.recording_path}")
    for line in post_call_lines(analysed):
        out(line)
    problems = _check(record)
    for problem in problems:
        out(f"demo problem: {problem}")
    return 1 if problems else 0
