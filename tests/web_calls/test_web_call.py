"""A whole web call over a real socket to a real `vocals serve`: greeting, a turn with its
transcript and latencies on the page, a barge-in that clears the page's audio, marks echoed,
and then the same record, recording and lifecycle events as a phone call, marked `web`."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
import soxr
from redis.asyncio import Redis

from api.webhooks.lifecycle import tenant_events_channel
from providers.loadtest import DEFAULT_TRANSCRIPT
from store.db import create_pool
from store.repositories.tenants import TenantsRepository
from tests.exposure.process import vocals_serve
from tests.web_calls.browser import (
    FRAME_BYTES,
    FRAME_S,
    OPEN_TIMEOUT_S,
    PageCall,
    page_call,
    refusal,
)
from tests.web_calls.conftest import SITE, Site, api_key
from vocals.simulator import caller_phrases
from web_calls.leg import READ_TIMEOUT_S

PHRASE_CACHE = Path(tempfile.gettempdir()) / "vocals-web-call-phrases"
# Offline speech on a shared 2-core box: generous, never a retry.
STEP_TIMEOUT_S = 30.0
CLOSE_TOO_BIG = 1009
CLOSE_POLICY = 1008
CLOSE_TRY_LATER = 1013


async def phrases_16k() -> list[bytes]:
    """The synthesized caller's phrases (Piper), as the page's 16 kHz PCM."""
    out = []
    for pcm in await caller_phrases(PHRASE_CACHE):
        samples = np.frombuffer(pcm, "<i2")
        out.append(soxr.resample(samples, 8000, 16000).astype("<i2").tobytes())
    return out


class Microphone:
    """Sends 20 ms frames in real time for as long as the call lasts: silence, or what it
    was told to say."""

    def __init__(self, call: PageCall) -> None:
        self._call = call
        self._pending = bytearray()
        self._task = asyncio.create_task(self._run())

    def say(self, pcm: bytes) -> float:
        """Queue `pcm`; the monotonic time its last frame will have been sent."""
        self._pending += pcm
        return time.monotonic() + len(self._pending) / 32000

    async def _run(self) -> None:
        start, sent = time.monotonic(), 0
        with contextlib.suppress(Exception):
            while not self._call.closed.is_set():
                frame = bytes(self._pending[:FRAME_BYTES]).ljust(FRAME_BYTES, b"\0")
                del self._pending[:FRAME_BYTES]
                await self._call.socket.send(frame)
                sent += 1
                await asyncio.sleep(max(0.0, start + sent * FRAME_S - time.monotonic()))

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@pytest.fixture
async def events(site: Site, redis_url: str) -> AsyncIterator[list[dict[str, Any]]]:
    """The tenant's live call events as a dashboard receives them."""
    redis = Redis.from_url(redis_url)
    received: list[dict[str, Any]] = []
    pubsub = redis.pubsub()
    await pubsub.subscribe(tenant_events_channel(site.tenant_id))

    async def listen() -> None:
        async for message in pubsub.listen():
            if message["type"] == "message":
                received.append(msgspec.json.decode(message["data"]))

    task = asyncio.create_task(listen())
    try:
        yield received
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await redis.aclose()


def _answered_turns(call: PageCall) -> list[dict[str, Any]]:
    """Turns the caller started (the greeting's has no end of speech)."""
    return [m for m in call.of_type("turn") if m["latency"]["total_ms"] is not None]


def _transcript(call: PageCall, role: str) -> list[dict[str, Any]]:
    return [m for m in call.of_type("transcript") if m["role"] == role]


async def test_a_web_call_runs_like_a_phone_call_and_is_recorded_as_web(
    site: Site, events: list[dict[str, Any]]
) -> None:
    hours, _, booking, *_ = await phrases_16k()
    agent = await site.agent(barge_in_sensitivity="high")
    grant = await site.token(agent, variables={"order": "A-17"})
    async with page_call(grant["socket_url"], grant["token"], SITE) as call:
        mic = Microphone(call)
        await call.wait_for(lambda: bool(_transcript(call, "agent")), STEP_TIMEOUT_S)
        assert _transcript(call, "agent")[0]["text"] == "Hello from the web desk."
        greeting_bytes = call.audio_bytes()
        assert greeting_bytes > 32000 * 0.5  # the greeting was heard, not just announced

        said_at = mic.say(hours)
        await call.wait_for(lambda: bool(_transcript(call, "caller")), STEP_TIMEOUT_S)
        assert _transcript(call, "caller")[0]["text"] == DEFAULT_TRANSCRIPT
        await call.wait_for(lambda: bool(_answered_turns(call)), STEP_TIMEOUT_S)
        assert _answered_turns(call)[0]["latency"]["total_ms"] > 0
        await call.wait_for(lambda: call.audio_bytes(said_at) > 32000, STEP_TIMEOUT_S)

        # The second reply is interrupted a second in: the page is told to drop its audio.
        await call.wait_for(lambda: len(_transcript(call, "agent")) >= 2, STEP_TIMEOUT_S)
        said_at = mic.say(hours)
        await call.wait_for(lambda: call.audio_bytes(said_at) > 32000, STEP_TIMEOUT_S)
        mic.say(booking)
        await call.wait_for(lambda: bool(call.of_type("clear")), STEP_TIMEOUT_S)
        await call.wait_for(
            lambda: any(t["interrupted"] for t in _transcript(call, "agent")), STEP_TIMEOUT_S
        )
        assert call.of_type("mark"), "the agent asked the page what it heard"

        await call.send_text(type="hangup")
        await asyncio.wait_for(call.closed.wait(), OPEN_TIMEOUT_S)
        await mic.stop()
        assert call.close_code == 1000
        call_id = call.call_id

    record = await _record(site, call_id)
    assert record["transport"] == "web"
    assert record["status"] == "completed"
    assert record["variables"]["order"] == "A-17"
    assert record["variables"]["web_origin"] == SITE
    assert record["recording_url"] is not None
    roles = [entry["role"] for entry in record["transcript"]]
    assert roles.count("caller") >= 2 and roles.count("agent") >= 3
    assert any(entry.get("interrupted") for entry in record["transcript"])
    assert any((turn["latency"]["total_ms"] or 0) > 0 for turn in record["turns"])
    async with site.client() as client:
        audio = await client.get(record["recording_url"])
    assert audio.status_code == 200 and audio.content[:4] == b"fLaC"
    await _until(
        lambda: "call.ended" in [e["type"] for e in events if e["data"]["call_id"] == call_id]
    )
    kinds = [e["type"] for e in events if e["data"]["call_id"] == call_id]
    assert kinds == ["call.started", "call.answered", "call.ended"]


async def _until(condition: Any) -> None:
    async with asyncio.timeout(STEP_TIMEOUT_S):
        while not condition():  # noqa: ASYNC110  # filled by another task's subscription
            await asyncio.sleep(0.1)


async def _record(site: Site, call_id: str) -> dict[str, Any]:
    """The call's record once written (at the end of the call)."""
    async with site.client() as client, asyncio.timeout(STEP_TIMEOUT_S):
        while True:
            response = await client.get(f"/api/v1/calls/{call_id}")
            if response.status_code == 200 and not response.json().get("live"):
                return dict(response.json())
            await asyncio.sleep(0.2)


@pytest.mark.parametrize(
    ("message", "code", "words"),
    [
        (bytes(32002), CLOSE_TOO_BIG, "audio message"),
        (bytes(641), CLOSE_POLICY, "odd number"),
        ("{not json", CLOSE_POLICY, "malformed"),
        ('{"type": "start", "token": "again"}', CLOSE_POLICY, "second start"),
        ("x" * 2000, CLOSE_TOO_BIG, "text message"),
    ],
)
async def test_bad_input_closes_the_call_with_a_reason_and_records_it(
    site: Site, message: bytes | str, code: int, words: str
) -> None:
    agent = await site.agent()
    grant = await site.token(agent)
    async with page_call(grant["socket_url"], grant["token"], SITE) as call:
        await call.wait_for(lambda: bool(call.of_type("started")), STEP_TIMEOUT_S)
        await call.socket.send(message)
        await asyncio.wait_for(call.closed.wait(), STEP_TIMEOUT_S)
    assert call.close_code == code and words in call.close_reason, call.close_reason
    record = await _record(site, call.call_id)
    assert record["transport"] == "web" and words in (record["error_reason"] or "")


async def test_a_page_that_stops_sending_audio_is_hung_up_and_the_record_says_why(
    site: Site,
) -> None:
    agent = await site.agent(welcome_message="")
    grant = await site.token(agent)
    async with page_call(grant["socket_url"], grant["token"], SITE) as call:
        await call.wait_for(lambda: bool(call.of_type("started")), STEP_TIMEOUT_S)
        started = time.monotonic()
        await asyncio.wait_for(call.closed.wait(), READ_TIMEOUT_S + STEP_TIMEOUT_S)
    assert time.monotonic() - started >= READ_TIMEOUT_S - 1
    assert call.close_code == 1011, (call.close_code, call.close_reason)
    assert "read timeout" in call.close_reason
    record = await _record(site, call.call_id)
    assert record["transport"] == "web" and "read timeout" in (record["error_reason"] or "")


async def test_the_api_hangs_up_a_live_web_call(site: Site) -> None:
    agent = await site.agent()
    grant = await site.token(agent)
    async with page_call(grant["socket_url"], grant["token"], SITE) as call:
        mic = Microphone(call)
        await call.wait_for(lambda: bool(call.of_type("started")), STEP_TIMEOUT_S)
        async with site.client() as client:
            response = await client.post(f"/api/v1/calls/{call.call_id}/hangup")
        assert response.status_code == 202, response.text
        await asyncio.wait_for(call.closed.wait(), STEP_TIMEOUT_S)
        await mic.stop()
    assert call.close_code == 1000 and call.of_type("ended")
    assert call.of_type("ended")[0]["reason"] == "hangup from our side"


async def test_a_full_process_refuses_a_web_call_with_1013_and_records_it(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    async with vocals_serve(
        database_url, redis_url, tmp_path, loadtest_providers="1", max_calls="1"
    ) as server:
        pool = await create_pool(database_url, max_size=1)
        try:
            tenant = await TenantsRepository(pool).create(f"full-{uuid.uuid4().hex[:8]}")
            admin = await api_key(pool, tenant.id, "admin")
        finally:
            await pool.close()
        site = Site(server, tenant.id, admin, admin, tmp_path)
        agent = await site.agent()
        first, second = await site.token(agent), await site.token(agent)
        async with page_call(first["socket_url"], first["token"], SITE) as call:
            mic = Microphone(call)
            await call.wait_for(lambda: bool(call.of_type("started")), STEP_TIMEOUT_S)
            code, reason = await refusal(second["socket_url"], second["token"], SITE)
            await call.send_text(type="hangup")
            await asyncio.wait_for(call.closed.wait(), STEP_TIMEOUT_S)
            await mic.stop()
        assert (code, reason) == (CLOSE_TRY_LATER, "over capacity")
        async with site.client() as client:
            page = (await client.get("/api/v1/calls", params={"status": "failed"})).json()
        (refused,) = page["items"]
        assert refused["transport"] == "web" and refused["error_reason"] == "over capacity"


async def test_a_web_call_is_ended_at_the_operators_limit_and_the_record_says_why(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    limit_s = 3
    async with vocals_serve(
        database_url, redis_url, tmp_path, loadtest_providers="1", web_call_max_s=str(limit_s)
    ) as server:
        pool = await create_pool(database_url, max_size=1)
        try:
            tenant = await TenantsRepository(pool).create(f"limit-{uuid.uuid4().hex[:8]}")
            admin = await api_key(pool, tenant.id, "admin")
        finally:
            await pool.close()
        site = Site(server, tenant.id, admin, admin, tmp_path)
        grant = await site.token(await site.agent())
        async with page_call(grant["socket_url"], grant["token"], SITE) as call:
            mic = Microphone(call)  # a live page: only the limit can end this call
            await call.wait_for(lambda: bool(call.of_type("started")), STEP_TIMEOUT_S)
            await asyncio.wait_for(call.closed.wait(), limit_s + STEP_TIMEOUT_S)
            await mic.stop()
        assert call.close_code == CLOSE_POLICY, (call.close_code, call.close_reason)
        assert call.close_reason == f"call longer than {limit_s} s"
        record = await _record(site, call.call_id)
    assert record["transport"] == "web"
    assert record["error_reason"] == f"call longer than {limit_s} s"
    assert record["duration_ms"] >= (limit_s - 1) * 1000, record["duration_ms"]


# A voice slower to its first audio than the pipeline waits for it (3 s): synthesized only as
# the call starts, the greeting times out and is never heard.
SLOW_VOICE_MS = 4000
# Time between minting and opening the socket: many times what the greeting's synthesis takes
# (the slow first audio, then 1.5 s of speech), as a page's setup gives it on a real network.
PAGE_SETUP_S = 4 * SLOW_VOICE_MS / 1000


async def test_a_minted_token_readies_the_agents_greeting_before_the_page_connects(
    site: Site,
) -> None:
    welcome = "Hello from the slow voice."
    agent = await site.agent(
        welcome_message=welcome,
        tts={"vendor": "loadtest", "options": {"ttfb_ms": SLOW_VOICE_MS}},
    )  # an agent with no number: nothing synthesized it at start-up
    grant = await site.token(agent)
    await asyncio.sleep(PAGE_SETUP_S)
    async with page_call(grant["socket_url"], grant["token"], SITE) as call:
        mic = Microphone(call)
        await call.wait_for(
            lambda: call.closed.is_set() or bool(_transcript(call, "agent")), STEP_TIMEOUT_S
        )
        await call.wait_for(
            lambda: call.closed.is_set() or call.audio_bytes() > 32000, STEP_TIMEOUT_S
        )
        await call.send_text(type="hangup")
        await asyncio.wait_for(call.closed.wait(), STEP_TIMEOUT_S)
        await mic.stop()
    agent_lines = _transcript(call, "agent")
    assert agent_lines and agent_lines[0]["text"] == welcome, call.messages
    assert call.audio_bytes() > 32000, "the greeting was announced but not heard"


async def test_a_minted_token_has_the_agents_offline_recognizer_build_its_model(
    site: Site,
) -> None:
    """The agent's own language model (seconds of CPU) is built while the page sets up, so
    the caller's first words are heard with it rather than with the general model."""
    agent = await site.agent(stt={"vendor": "pocketsphinx"})
    models = site.data_dir / "cache" / "local-models"
    assert _model_files(models) == []  # the site's own data folder: nothing built yet
    await site.token(agent)
    async with asyncio.timeout(STEP_TIMEOUT_S):
        while not _model_files(models):  # noqa: ASYNC110 (built by a worker process)
            await asyncio.sleep(0.1)


def _model_files(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.glob("*.lm.bin")) if folder.is_dir() else []
