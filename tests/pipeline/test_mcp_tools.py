"""A call whose agent uses an MCP server: the server's tools are listed when the call starts,
the model (OpenAI-compatible, over its fake) calls one mid-reply, the real MCP server (the
official SDK over streamable HTTP on 127.0.0.1) answers, and the call goes on whatever the
server does."""

from __future__ import annotations

import asyncio
import functools
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from api.provider_urls import check_destination
from media.formats import SLIN_8K
from pipeline.agent import DEFAULT_APOLOGY
from pipeline.call_providers import tools_for_agent
from pipeline.engine import CallInfo, CallPipeline, CallProviders
from pipeline.mcp_tools import McpServer
from pipeline.records import CallOutcome, CallResult
from pipeline.sink import MemorySink
from pipeline.speech_cache import SpeechCache
from pipeline.states import CallState
from providers import builtin
from providers.base import LLMProvider, ProviderConfig, ProviderKind
from providers.registry import build
from tests.fakes.fake_providers import FakeSTT, FakeTTS
from tests.fakes.mcp_server import CalendarMcp
from tests.fakes.openai_compatible import FakeOpenAI, ScriptedTurn
from tests.pipeline.harness import FAST_TIMEOUTS, agent_settings, until
from tests.pipeline.memory_leg import MemoryLeg, silence_pcm, speech_pcm

BEFORE = "Let me check the calendar."
FILLER = "Looking at the calendar now."
AFTER = "Ten or half past two are free."
SLOTS = '{"slots": ["10:00", "14:30"]}'


@pytest.fixture(scope="module", autouse=True)
def _builtins() -> None:
    builtin.load_all()


@pytest.fixture
async def model() -> AsyncIterator[FakeOpenAI]:
    fake = FakeOpenAI()
    fake.turns = [
        ScriptedTurn(BEFORE, [("free_slots", '{"day": "Tuesday"}')]),
        ScriptedTurn(AFTER),
    ]
    fake.reply = "Goodbye then."
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def calendar() -> AsyncIterator[CalendarMcp]:
    server = CalendarMcp(delay_s=2.0)
    await server.start()
    yield server
    await server.stop()


def server(url: str, **overrides: Any) -> McpServer:
    fields: dict[str, Any] = {"name": "calendar", "url": url, "filler": FILLER}
    fields.update(overrides)
    return McpServer(**fields)


async def converse(
    model: FakeOpenAI, servers: list[McpServer], *, allow_private: bool = True
) -> tuple[CallResult, FakeTTS]:
    """The caller asks once; once the agent's whole reply played, hangs up."""
    agent = agent_settings(llm=ProviderConfig(vendor="openai_compatible"), mcp_servers=servers)
    config = ProviderConfig(
        vendor="openai_compatible", api_key=model.api_key, options={"base_url": model.base_url}
    )
    check = functools.partial(check_destination, allow_private=allow_private)
    llm = build(ProviderKind.LLM, config)
    assert isinstance(llm, LLMProvider)
    tts = FakeTTS()
    providers = CallProviders(
        FakeSTT(script=["Is Tuesday free?"]), llm, tts, tools=tools_for_agent(agent, check)
    )
    leg = MemoryLeg(SLIN_8K)
    pipeline = CallPipeline(
        call=CallInfo(call_id="call-mcp", tenant_id="tenant-test"),
        agent=agent,
        providers=providers,
        leg=leg,
        sink=MemorySink(),
        speech_cache=SpeechCache(),
        timeouts=FAST_TIMEOUTS,
    )
    leg.start()
    running = asyncio.create_task(pipeline.run())
    rate = SLIN_8K.sample_rate
    leg.say(speech_pcm(800, rate) + silence_pcm(600, rate))
    await until(lambda: len(model.requests) >= 1, wait_s=10, what="the first request")
    await until(lambda: pipeline.state is CallState.LISTENING, wait_s=10, what="reply played")
    leg.caller_hangup()
    return await asyncio.wait_for(running, 10), tts


def offered(model: FakeOpenAI) -> list[str]:
    return [t["function"]["name"] for t in model.requests[0].body.get("tools", [])]


async def test_a_tool_of_an_mcp_server_is_listed_called_and_its_answer_used(
    model: FakeOpenAI, calendar: CalendarMcp
) -> None:
    result, tts = await converse(model, [server(calendar.url)])

    # The server's tools were listed at the call's start and offered with their schemas.
    assert offered(model) == ["free_slots", "book"]
    (free,) = [t for t in model.requests[0].body["tools"] if t["function"]["name"] == "free_slots"]
    assert free["function"]["parameters"]["properties"]["day"]["type"] == "string"
    # The model's call reached the server with its arguments; the answer went back to the model.
    assert calendar.calls == [("free_slots", {"day": "Tuesday"})]
    answer = model.requests[1].body["messages"][-1]
    assert (answer["role"], answer["content"]) == ("tool", SLOTS)
    # The slow server was covered by the filler, spoken after the text before the call.
    spoken = [text for text in tts.requests if text != DEFAULT_APOLOGY]
    assert spoken == [BEFORE, FILLER, AFTER]
    (used,) = [e.detail for e in result.events if e.kind == "tool.call"]
    assert (used["name"], used["ok"], used["result"]) == ("free_slots", "true", SLOTS)
    assert 2000 <= int(used["latency_ms"]) < 3500
    assert result.outcome is CallOutcome.CALLER_HUNG_UP


async def test_only_the_allowed_tools_are_offered_and_a_failing_tool_is_an_answer(
    model: FakeOpenAI, calendar: CalendarMcp
) -> None:
    model.turns = [
        ScriptedTurn("", [("book", '{"day": "Tuesday", "slot": "10:00"}')]),
        ScriptedTurn("Tuesday is full, sorry."),
    ]
    result, _ = await converse(model, [server(calendar.url, allowed_tools=["book"])])
    assert offered(model) == ["book"]
    answer = model.requests[1].body["messages"][-1]
    assert answer["role"] == "tool"
    assert answer["content"].startswith("book failed: ")
    assert "fully booked" in answer["content"]
    (used,) = [e.detail for e in result.events if e.kind == "tool.call"]
    assert used["ok"] == "false"
    assert result.outcome is CallOutcome.CALLER_HUNG_UP


async def test_a_server_that_cannot_be_reached_costs_its_tools_not_the_call(
    model: FakeOpenAI,
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
    model.turns = [ScriptedTurn("I cannot see the calendar right now.")]
    result, tts = await converse(model, [server(dead)])
    assert offered(model) == []
    (missing,) = [e.detail for e in result.events if e.kind == "tool.unavailable"]
    assert missing["source"] == "calendar"
    assert "127.0.0.1" not in missing["reason"]
    assert "I cannot see the calendar right now." in tts.requests
    assert result.outcome is CallOutcome.CALLER_HUNG_UP


async def test_a_server_at_a_refused_destination_is_never_contacted(
    model: FakeOpenAI, calendar: CalendarMcp
) -> None:
    model.turns = [ScriptedTurn("I cannot see the calendar right now.")]
    result, _ = await converse(model, [server(calendar.url)], allow_private=False)
    assert offered(model) == []
    assert calendar.calls == []
    (missing,) = [e.detail for e in result.events if e.kind == "tool.unavailable"]
    assert missing == {"source": "calendar", "reason": "its address may not be reached from here"}
    assert result.outcome is CallOutcome.CALLER_HUNG_UP
