"""A call's post-call analysis survives the process stopping in the middle of it: a real
`vocals serve` on the Asterisk simulator takes a call, ends it, starts analysing it with the
OpenAI-compatible fake (which is slow to answer), and is stopped; the next process to start
finishes the analysis, and the webhook receiver gets `call.analyzed` once, after
`call.ended`. The record, the export and the API show the analysis and the cost."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import signal
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from store.live_calls import LiveCallStore
from store.repositories.config import (
    AgentRepository,
    ApiKeyRepository,
    ProviderCredentialRepository,
    WebhookRepository,
)
from store.secrets import SecretBox, generate_api_key
from tests.fakes.openai_compatible import FAKE_API_KEY, FakeOpenAI
from tests.faults.serve_on_simulator import CALL_UP_S, SECRET_KEY, STOP_S, Scene, scene, until
from vocals.simulator import caller_phrases

PHRASE_CACHE: Final = Path(tempfile.gettempdir()) / "vocals-ui-caller-phrases"
SCHEMA: Final = {"type": "object", "properties": {"wants": {"type": "string"}}}
ANSWER: Final = {
    "summary": "The caller asked for the opening hours.",
    "success": True,
    "success_reason": "The hours were given.",
    "data": {"wants": "opening hours"},
}
# The first process is stopped while the fake holds its request this long (under the
# provider's 30 s read timeout, so the stop, not a timeout, ends the attempt).
SLOW_ANSWER_S: Final = 25.0
ANALYZED_WITHIN_S: Final = 60.0


@pytest.fixture
async def fake_llm() -> AsyncIterator[FakeOpenAI]:
    server = FakeOpenAI()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def stage(
    tmp_path: Path, pg_pool: asyncpg.Pool, database_url: str, redis_url: str
) -> AsyncIterator[Scene]:
    async with scene(tmp_path, pg_pool, database_url, redis_url, recording=False) as built:
        yield built


async def _analysing_agent(pool: asyncpg.Pool, stage: Scene, fake: FakeOpenAI) -> None:
    box = SecretBox(SECRET_KEY)
    credential = await ProviderCredentialRepository(pool, box).create(
        stage.tenant_id,
        {
            "name": "analyst",
            "kind": "llm",
            "vendor": "openai_compatible",
            "api_key": FAKE_API_KEY,
            "model": "gpt-fake",
            "options": {"base_url": fake.base_url, "max_attempts": 1},
        },
    )
    await AgentRepository(pool).update(
        stage.tenant_id,
        stage.agent_id,
        {
            "analysis": {
                "enabled": True,
                "success_criteria": "The caller learnt what they called for.",
                "schema": SCHEMA,
                "llm": {"credential_id": str(credential.id), "vendor": "openai_compatible"},
            }
        },
    )
    await WebhookRepository(pool, box).create(
        stage.tenant_id,
        {"url": stage.receiver.url, "events": ["call.analyzed"], "secret": "a" * 32},
    )


async def _api_key(pool: asyncpg.Pool, stage: Scene) -> dict[str, str]:
    new = generate_api_key()
    await ApiKeyRepository(pool).create(
        stage.tenant_id,
        {
            "name": "tests",
            "prefix": new.prefix,
            "key_hash": new.key_hash,
            "role": "admin",
            "rpm": 10_000,
            "rpd": 100_000,
        },
    )
    return {"Authorization": f"Bearer {new.key}"}


async def _one_caller_turn(stage: Scene, redis: Redis, app: str) -> uuid.UUID:
    """A call in which the caller says one phrase, the agent hears it, and the caller hangs
    up; returns the call's id."""
    [phrase] = await caller_phrases(PHRASE_CACHE, ("What are your opening hours?",))
    [call] = await stage.place_calls(app, 1)
    [call_id] = await LiveCallStore(redis).live_call_ids(stage.tenant_id)
    call.play(phrase)

    async def heard() -> bool:
        history = await LiveCallStore(redis).history(call_id)
        return any(e.get("role") == "caller" and e.get("text") for e in history)

    await until(heard, CALL_UP_S, "the caller's words in the transcript")
    await call.hangup()
    return call_id


def _events(stage: Scene, call_id: uuid.UUID) -> list[dict[str, Any]]:
    envelopes = [json.loads(r.body) for r in stage.receiver.received]
    return [e for e in envelopes if e["data"]["call_id"] == str(call_id)]


async def test_an_analysis_cut_short_by_a_stop_is_finished_by_the_next_process(
    stage: Scene, pg_pool: asyncpg.Pool, redis: Redis, fake_llm: FakeOpenAI
) -> None:
    await _analysing_agent(pg_pool, stage, fake_llm)
    fake_llm.reply = json.dumps(ANSWER)
    fake_llm.first_token_delay = SLOW_ANSWER_S
    first = await stage.serve("vocals-first")
    call_id = await _one_caller_turn(stage, redis, "vocals-first")

    async def asked() -> bool:
        return len(fake_llm.requests) == 1

    await until(asked, CALL_UP_S, "the first process to ask for the analysis")
    first.process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(first.process.wait(), STOP_S) == 0
    row = await pg_pool.fetchrow(
        "SELECT analysis, post_call_state FROM calls WHERE id = $1", call_id
    )
    assert row is not None and row["analysis"] is None and row["post_call_state"] is None

    fake_llm.first_token_delay = 0.0
    second = await stage.serve("vocals-second")

    async def announced() -> bool:
        return any(e["type"] == "call.analyzed" for e in _events(stage, call_id))

    await until(announced, ANALYZED_WITHIN_S, "call.analyzed at the receiver")
    await asyncio.sleep(1.0)  # room for a repeat, which must not come
    events = _events(stage, call_id)
    assert [e["type"] for e in events] == ["call.ended", "call.analyzed"]
    analyzed = events[1]["data"]
    assert analyzed["analysis"]["summary"] == ANSWER["summary"]
    assert analyzed["analysis"]["success"] is True
    assert analyzed["analysis"]["data"] == {"wants": "opening hours"}
    # The first process's claim counted: the second finished attempt 2.
    assert analyzed["analysis"]["attempts"] == 2
    assert len(fake_llm.requests) == 2
    heard = json.dumps(fake_llm.requests[1].body["messages"])
    assert "Caller: " in heard and "Agent: " in heard
    items = {i["provider"]: i for i in analyzed["cost"]["items"]}
    assert {"stt:loadtest", "llm:loadtest", "tts:loadtest"} <= set(items)
    assert items["analysis:llm:openai_compatible"]["priced"] is False

    headers = await _api_key(pg_pool, stage)
    async with httpx.AsyncClient(base_url=second.http_url, headers=headers, timeout=10) as api:
        detail = (await api.get(f"/api/v1/calls/{call_id}")).raise_for_status().json()
        exported = (await api.get("/api/v1/calls/export")).raise_for_status().text
    assert detail["analysis"]["data"] == {"wants": "opening hours"}
    assert detail["cost"] == analyzed["cost"]
    [row_out] = list(csv.DictReader(io.StringIO(exported)))
    assert row_out["analysis_summary"] == ANSWER["summary"]
    assert row_out["analysis_success"] == "True"
