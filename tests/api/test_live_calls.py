"""A call in progress through the API: its detail from the live state the controller's ledger
and sink keep in Redis, its server-sent event stream over a real socket, and its hang-up."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
import uvicorn
from redis.asyncio import Redis

from api.app import create_app
from api.context import ApiContext
from ari_app.call import Call, CallStatus, Direction
from ari_app.store_adapters import StoreCallLedger, StoreCallSink
from pipeline.records import TranscriptEntry
from store.call_records import CallRecordWriter
from store.live_calls import LiveCallStore
from store.repositories.calls import SttEventRepository
from tests.api.conftest import TenantHandle, client_for, create_agent

# Every wait below is for something the test itself just caused, on a local socket.
STEP_TIMEOUT_S = 10.0


class LiveCall:
    """A call driven through the production ledger and sink, as the controller drives them."""

    def __init__(self, pool: asyncpg.Pool, redis: Redis, call: Call) -> None:
        live = LiveCallStore(redis)
        self.call = call
        self.ledger = StoreCallLedger(live, CallRecordWriter(pool, redis))
        self.sink = StoreCallSink(call, live, SttEventRepository(pool))

    async def answer(self) -> None:
        await self.ledger.save(self.call)
        self.call.to(CallStatus.ANSWERED)
        await self.ledger.save(self.call)

    async def say(self, role: str, text: str, at_ms: int) -> None:
        await self.sink.on_transcript(TranscriptEntry(role, text, at_ms))  # type: ignore[arg-type]

    async def end(self) -> None:
        self.call.outcome = "caller_hung_up"
        self.call.to(CallStatus.COMPLETED)
        await self.ledger.finish(self.call, None)


@pytest.fixture
async def live_call(
    client: httpx.AsyncClient, tenant: TenantHandle, pg_pool: asyncpg.Pool, redis: Redis
) -> LiveCall:
    agent = await create_agent(client, tenant.admin)
    call = Call(
        id=uuid.uuid4(),
        tenant_id=tenant.id,
        agent_id=uuid.UUID(agent["id"]),
        direction=Direction.INBOUND,
        from_number="+15550001111",
        to_number="+15550002222",
        status=CallStatus.RINGING,
    )
    handle = LiveCall(pg_pool, redis, call)
    await handle.answer()
    await handle.say("agent", "Hello, salon speaking.", 300)
    return handle


async def test_a_live_call_is_served_from_its_live_state_then_from_its_record(
    client: httpx.AsyncClient,
    tenant: TenantHandle,
    other_tenant: TenantHandle,
    live_call: LiveCall,
) -> None:
    path = f"/api/v1/calls/{live_call.call.id}"
    response = await client.get(path, headers=tenant.viewer)
    assert response.status_code == 200, response.text
    detail = response.json()
    assert (detail["status"], detail["live"]) == ("in-progress", True)
    assert detail["from_number"] == "+15550001111"
    assert detail["answered_at"] is not None
    assert [e["text"] for e in detail["transcript"]] == ["Hello, salon speaking."]
    assert (await client.get(path, headers=other_tenant.owner)).status_code == 404

    await live_call.end()
    ended = (await client.get(path, headers=tenant.viewer)).json()
    assert (ended["status"], ended["live"]) == ("completed", False)


async def test_a_live_inbound_call_is_hung_up_over_the_api(
    api_context: ApiContext, tenant: TenantHandle, other_tenant: TenantHandle, live_call: LiveCall
) -> None:
    hung_up: list[tuple[uuid.UUID, uuid.UUID]] = []

    async def hangup_call(tenant_id: uuid.UUID, call_id: uuid.UUID) -> bool:
        hung_up.append((tenant_id, call_id))
        return True

    fields = {name: getattr(api_context, name) for name in api_context.__dataclass_fields__}
    app = create_app(ApiContext(**{**fields, "hangup_call": hangup_call}))
    path = f"/api/v1/calls/{live_call.call.id}/hangup"
    async with client_for(app) as client:
        assert (await client.post(path, headers=other_tenant.owner)).status_code == 404
        response = await client.post(path, headers=tenant.admin)
        assert response.status_code == 202, response.text
        assert response.json()["result"] == "hangup_requested"
    assert hung_up == [(tenant.id, live_call.call.id)]
    await live_call.end()


@pytest.fixture
async def served(api_context: ApiContext) -> AsyncIterator[str]:
    """The API on a real socket: server-sent events are a stream a client reads as it comes."""
    # Listening before the server runs: a client's connection waits in the backlog.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    config = uvicorn.Config(create_app(api_context), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


async def _events(response: httpx.Response) -> AsyncIterator[tuple[str, str]]:
    """(event, data) of each server-sent event; comments are skipped."""
    event, data = "message", ""
    async for line in response.aiter_lines():
        if line == "":
            if data or event != "message":
                yield event, data
            event, data = "message", ""
        elif line.startswith("event:"):
            event = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data += line.removeprefix("data:").strip()


async def test_the_live_stream_carries_each_new_line_then_the_end(
    served: str, tenant: TenantHandle, other_tenant: TenantHandle, live_call: LiveCall
) -> None:
    path = f"/api/v1/calls/{live_call.call.id}/live"
    async with httpx.AsyncClient(base_url=served, timeout=STEP_TIMEOUT_S) as client:
        assert (await client.get(path, headers=other_tenant.owner)).status_code == 404
        async with client.stream("GET", path, headers=tenant.viewer) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            events = _events(response)
            seen: list[tuple[str, dict[str, Any] | None]] = []
            async with asyncio.timeout(STEP_TIMEOUT_S):
                async for event, data in events:
                    seen.append((event, msgspec.json.decode(data) if data else None))
                    if event == "ended":
                        break
                    lines = [e["text"] for e in (seen[-1][1] or {}).get("transcript", [])]
                    if lines == ["Hello, salon speaking."]:
                        await live_call.say("caller", "Can I come at four?", 2100)
                    elif lines[-1:] == ["Can I come at four?"]:
                        await live_call.end()
        # After the end, the page reads the record; there is nothing left to follow.
        record = await client.get(f"/api/v1/calls/{live_call.call.id}", headers=tenant.viewer)
        assert record.json()["status"] == "completed"
        assert (await client.get(path, headers=tenant.viewer)).status_code == 404
    kinds = [event for event, _ in seen]
    assert kinds[0] == "call" and kinds[-1] == "ended"
    last_call = [body for event, body in seen if event == "call"][-1]
    assert last_call is not None
    assert last_call["status"] == "in-progress"
    assert [e["role"] for e in last_call["transcript"]] == ["agent", "caller"]
