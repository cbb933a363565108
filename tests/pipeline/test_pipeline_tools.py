"""A call whose agent has an HTTP tool: the model (OpenAI-compatible, over its fake) calls it
mid-reply, the tool server answers slowly or not at all, and the call goes on."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from api.provider_urls import check_destination
from media.formats import SLIN_8K
from pipeline.agent import DEFAULT_APOLOGY
from pipeline.engine import CallInfo, CallPipeline, CallProviders
from pipeline.http_tools import HttpTool, HttpTools
from pipeline.records import CallOutcome, CallResult
from pipeline.sink import MemorySink
from pipeline.speech_cache import SpeechCache
from pipeline.states import CallState
from pipeline.tools import INTERRUPTED, MAX_TOOL_ROUNDS
from providers import builtin
from providers.base import LLMProvider, ProviderConfig, ProviderKind
from providers.registry import build
from tests.fakes.anthropic_messages import FakeAnthropic
from tests.fakes.cloud_common import ScriptedTurn as VendorTurn
from tests.fakes.fake_providers import FakeSTT, FakeTTS
from tests.fakes.gemini_generate import FakeGemini
from tests.fakes.openai_compatible import FakeOpenAI, ScriptedTurn
from tests.pipeline.harness import FAST_TIMEOUTS, agent_settings, until
from tests.pipeline.memory_leg import MemoryLeg, silence_pcm, speech_pcm

BEFORE = "Let me look at Tuesday."
FILLER = "One moment while I check that."
AFTER_SENTENCES = ["Tuesday at ten is free.", "Shall I book it?"]
AFTER = " ".join(AFTER_SENTENCES)
SLOTS = '{"slots": ["10:00"]}'
ARGUMENTS = '{"day": "Tuesday", "party": 2}'


@dataclass
class ToolServer:
    """A booking system on 127.0.0.1 that takes `delay_s` to answer each request."""

    delay_s: float = 3.0
    status: int = 200
    bodies: list[Any] = field(default_factory=list)
    received_at: list[float] = field(default_factory=list)
    answered_at: list[float] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/availability", self._answer)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/availability"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _answer(self, request: web.Request) -> web.Response:
        self.received_at.append(time.monotonic())
        self.bodies.append(await request.json())
        await asyncio.sleep(self.delay_s)  # the slow booking system being simulated
        self.answered_at.append(time.monotonic())
        return web.Response(text=SLOTS, status=self.status, content_type="application/json")


@pytest.fixture(scope="module", autouse=True)
def _builtins() -> None:
    builtin.load_all()


@pytest.fixture
async def model() -> AsyncIterator[FakeOpenAI]:
    fake = FakeOpenAI()
    fake.turns = [
        ScriptedTurn(BEFORE, [("check_availability", ARGUMENTS)]),
        ScriptedTurn(AFTER),
    ]
    fake.reply = "Goodbye then."
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def booking() -> AsyncIterator[ToolServer]:
    server = ToolServer()
    await server.start()
    yield server
    await server.stop()


def tool(url: str, **overrides: Any) -> HttpTool:
    fields: dict[str, Any] = {
        "name": "check_availability",
        "description": "Free table slots on a day.",
        "url": url,
        "parameters": {
            "type": "object",
            "properties": {"day": {"type": "string"}, "party": {"type": "integer"}},
            "required": ["day"],
        },
        "filler": FILLER,
        "filler_after_s": 1.0,
    }
    fields.update(overrides)
    return HttpTool(**fields)


async def converse(
    model: FakeOpenAI | FakeAnthropic | FakeGemini,
    tools: list[HttpTool],
    *,
    allow_private: bool = True,
    vendor: str = "openai_compatible",
    first_reply_requests: int = 2,
) -> tuple[CallResult, FakeTTS, MemoryLeg]:
    """The caller asks once; once the agent's whole reply played, asks again; then hangs up."""
    agent = agent_settings(llm=ProviderConfig(vendor=vendor), tools=tools)
    llm = build(
        ProviderKind.LLM,
        ProviderConfig(vendor=vendor, api_key=model.api_key, options={"base_url": model.base_url}),
    )
    assert isinstance(llm, LLMProvider)
    tts = FakeTTS()
    check = functools.partial(check_destination, allow_private=allow_private)
    providers = CallProviders(
        FakeSTT(script=["Is there a table on Tuesday?", "No thanks."]),
        llm,
        tts,
        tools=HttpTools(agent.tools, check_url=check),
    )
    leg = MemoryLeg(SLIN_8K)
    timeouts = FAST_TIMEOUTS
    pipeline = CallPipeline(
        call=CallInfo(call_id="call-tools", tenant_id="tenant-test"),
        agent=agent,
        providers=providers,
        leg=leg,
        sink=MemorySink(),
        speech_cache=SpeechCache(),
        timeouts=timeouts,
    )
    leg.start()
    running = asyncio.create_task(pipeline.run())
    rate = SLIN_8K.sample_rate
    leg.say(speech_pcm(800, rate) + silence_pcm(600, rate))
    await until(lambda: len(model.requests) >= first_reply_requests, wait_s=8, what="tool rounds")
    await until(lambda: pipeline.state is CallState.LISTENING, wait_s=8, what="reply played")
    leg.say(speech_pcm(600, rate) + silence_pcm(600, rate))
    await until(
        lambda: len(model.requests) > first_reply_requests, wait_s=5, what="the second question"
    )
    await until(lambda: pipeline.state is CallState.LISTENING, wait_s=5, what="second reply")
    leg.caller_hangup()
    return await asyncio.wait_for(running, 10), tts, leg


async def test_slow_tool_fills_the_silence_and_the_call_goes_on(
    model: FakeOpenAI, booking: ToolServer
) -> None:
    result, tts, leg = await converse(model, [tool(booking.url)])

    # The text before the call is spoken first, the filler while the tool runs, then the rest.
    spoken = [(text, at) for text, at in zip(tts.requests, tts.started_at, strict=True)
              if text != DEFAULT_APOLOGY]  # fmt: skip
    assert [text for text, _ in spoken] == [BEFORE, FILLER, *AFTER_SENTENCES, "Goodbye then."]
    (asked_at,), (answered_at,) = booking.received_at, booking.answered_at
    filler_started = spoken[1][1]
    # Not at once (the filler waits its 1 s from the call), and while the tool still worked.
    assert filler_started - spoken[0][1] >= 0.9
    assert asked_at < filler_started < answered_at
    assert [t for t, _ in leg.agent_frames(after=filler_started) if t < answered_at]

    # The tool got the model's arguments; the model got the tool's answer.
    assert booking.bodies == [{"day": "Tuesday", "party": 2}]
    second = model.requests[1].body["messages"]
    call_id = second[-2]["tool_calls"][0]["id"]
    assert second[-1] == {"role": "tool", "tool_call_id": call_id, "content": SLOTS}
    assert second[-2]["tool_calls"][0]["function"]["arguments"] == ARGUMENTS

    # The record: the call, its arguments, result and latency; the call went on to its end.
    (used,) = [e.detail for e in result.events if e.kind == "tool.call"]
    assert used["name"] == "check_availability"
    assert used["arguments"] == ARGUMENTS
    assert used["result"] == SLOTS
    assert used["ok"] == "true"
    assert 3000 <= int(used["latency_ms"]) < 4000
    (turn,) = [t for t in result.turns if t.tool_calls]
    assert (turn.tool_calls, turn.tool_ms) == (1, int(used["latency_ms"]))
    assert result.outcome is CallOutcome.CALLER_HUNG_UP
    agent = [e.text for e in result.transcript if e.role == "agent"]
    assert agent == [f"{BEFORE} {FILLER} {AFTER}", "Goodbye then."]
    # The third request carries the tool turns in the call's history.
    roles = [m["role"] for m in model.requests[2].body["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "user"]


async def test_a_tool_that_times_out_is_an_answer_the_model_can_use(
    model: FakeOpenAI, booking: ToolServer
) -> None:
    booking.delay_s = 1.0
    result, _, _ = await converse(model, [tool(booking.url, timeout_s=0.5)])
    answer = model.requests[1].body["messages"][-1]
    assert answer["role"] == "tool"
    assert answer["content"] == "check_availability is not answering (no reply within 0.5 s)."
    (used,) = [e.detail for e in result.events if e.kind == "tool.call"]
    assert used["ok"] == "false"
    assert result.outcome is CallOutcome.CALLER_HUNG_UP


async def test_a_tool_at_a_refused_destination_is_never_called(
    model: FakeOpenAI, booking: ToolServer
) -> None:
    result, _, _ = await converse(model, [tool(booking.url)], allow_private=False)
    assert booking.bodies == []
    answer = model.requests[1].body["messages"][-1]
    assert answer["content"] == "check_availability may not be reached from here."
    assert result.outcome is CallOutcome.CALLER_HUNG_UP


@pytest.mark.parametrize("vendor", ["claude", "gemini"])
async def test_the_same_call_with_claude_and_gemini_keeps_calls_and_results_paired(
    vendor: str, booking: ToolServer
) -> None:
    fake = FakeAnthropic() if vendor == "claude" else FakeGemini()
    fake.turns = [
        VendorTurn(BEFORE, [("check_availability", ARGUMENTS)]),
        VendorTurn(AFTER),
    ]
    fake.reply = "Goodbye then."
    await fake.start()
    booking.delay_s = 1.5
    try:
        result, _, _ = await converse(fake, [tool(booking.url)], vendor=vendor)
    finally:
        await fake.stop()
    assert booking.bodies == [{"day": "Tuesday", "party": 2}]
    (used,) = [e.detail for e in result.events if e.kind == "tool.call"]
    assert (used["result"], used["ok"]) == (SLOTS, "true")
    # Both fakes refuse a call without its result (and Gemini 3 a call without its thought
    # signature): the third request answered proves the call's history kept them right.
    assert len(fake.requests) == 3
    agent = [e.text for e in result.transcript if e.role == "agent"]
    assert agent == [f"{BEFORE} {FILLER} {AFTER}", "Goodbye then."]
    assert result.outcome is CallOutcome.CALLER_HUNG_UP


async def test_caller_talking_over_the_filler_cancels_the_wait_and_the_call_goes_on(
    model: FakeOpenAI, booking: ToolServer
) -> None:
    model.turns = [
        ScriptedTurn(BEFORE, [("check_availability", ARGUMENTS)]),
        ScriptedTurn("Wednesday works too."),
    ]
    agent = agent_settings(llm=ProviderConfig(vendor="openai_compatible"))
    llm = build(
        ProviderKind.LLM,
        ProviderConfig(
            vendor="openai_compatible", api_key=model.api_key, options={"base_url": model.base_url}
        ),
    )
    assert isinstance(llm, LLMProvider)
    tts = FakeTTS()
    check = functools.partial(check_destination, allow_private=True)
    tools = HttpTools([tool(booking.url, filler_after_s=0.3)], check_url=check)
    stt = FakeSTT(script=["Is there a table on Tuesday?", "Actually, make it Wednesday."])
    leg = MemoryLeg(SLIN_8K)
    pipeline = CallPipeline(
        call=CallInfo(call_id="call-tools-barge-in", tenant_id="tenant-test"),
        agent=agent,
        providers=CallProviders(stt, llm, tts, tools=tools),
        leg=leg,
        sink=MemorySink(),
        speech_cache=SpeechCache(),
        timeouts=FAST_TIMEOUTS,
    )
    leg.start()
    running = asyncio.create_task(pipeline.run())
    rate = SLIN_8K.sample_rate
    leg.say(speech_pcm(800, rate) + silence_pcm(600, rate))
    await until(lambda: FILLER in tts.requests, wait_s=8, what="the filler")
    leg.say(speech_pcm(800, rate) + silence_pcm(600, rate))
    await until(lambda: len(model.requests) >= 2, wait_s=8, what="the next question")
    await until(lambda: pipeline.state is CallState.LISTENING, wait_s=8, what="the answer")
    leg.caller_hangup()
    result = await asyncio.wait_for(running, 10)

    assert leg.clears, "the agent was interrupted"
    # The model was told the call was cut short (a call left unanswered is a 400 at OpenAI).
    second = model.requests[1].body["messages"]
    (asked,) = [m for m in second if m.get("tool_calls")]
    call_id = asked["tool_calls"][0]["id"]
    tool_turns = [m for m in second if m["role"] == "tool"]
    assert tool_turns == [{"role": "tool", "tool_call_id": call_id, "content": INTERRUPTED}]
    assert [m["role"] for m in second][-2:] == ["tool", "user"]
    (used,) = [e.detail for e in result.events if e.kind == "tool.call"]
    assert (used["ok"], used["result"]) == ("false", INTERRUPTED)
    agent_said = [e.text for e in result.transcript if e.role == "agent"]
    assert agent_said[-1] == "Wednesday works too."
    assert result.outcome is CallOutcome.CALLER_HUNG_UP


async def test_a_model_that_keeps_calling_tools_is_stopped_and_the_call_goes_on(
    model: FakeOpenAI, booking: ToolServer
) -> None:
    booking.delay_s = 0.0
    again = ScriptedTurn("", [("check_availability", ARGUMENTS)])
    model.turns = [
        ScriptedTurn(BEFORE, [("check_availability", ARGUMENTS)]),
        *[again] * MAX_TOOL_ROUNDS,
        ScriptedTurn("Sorry, I could not find a table."),
    ]
    result, _, _ = await converse(
        model, [tool(booking.url)], first_reply_requests=MAX_TOOL_ROUNDS + 1
    )
    assert len(booking.bodies) == MAX_TOOL_ROUNDS
    (limit,) = [e.detail for e in result.events if e.kind == "tool.limit"]
    assert limit == {"not_run": "check_availability"}
    # The next question is answered, in a history OpenAI accepts (no call left unanswered).
    agent = [e.text for e in result.transcript if e.role == "agent"]
    assert agent == [BEFORE, "Sorry, I could not find a table."]
    assert result.outcome is CallOutcome.CALLER_HUNG_UP
