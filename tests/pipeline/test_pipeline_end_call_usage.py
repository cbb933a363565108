"""A reply that ends the call still counts its tokens: the model's usage report comes after the
end-of-call marker, at the very end of the stream (OpenAI's `include_usage`), and a call's cost
is priced from it. Whatever the model sends after the marker is neither said nor run."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from media.formats import SLIN_8K
from pipeline.engine import CallInfo, CallPipeline, CallProviders
from pipeline.http_tools import HttpTool, HttpTools
from pipeline.records import CallOutcome, CallResult
from pipeline.sink import MemorySink
from pipeline.speech_cache import SpeechCache
from providers import builtin
from providers.base import LLMProvider, ProviderConfig, ProviderKind
from providers.registry import build
from tests.fakes.fake_providers import FakeSTT, FakeTTS
from tests.fakes.openai_compatible import FakeOpenAI, ScriptedTurn
from tests.pipeline.harness import FAST_TIMEOUTS, agent_settings
from tests.pipeline.memory_leg import MemoryLeg, silence_pcm, speech_pcm
from tests.pipeline.test_pipeline_tools import ToolServer

GOODBYE = "Thank you for calling, goodbye. [END_CALL]"
# A tool call the model streams after its marker (models do): the call is over, it never runs.
LATE_CALL = ("check_availability", '{"day": "Tuesday"}')


@pytest.fixture(scope="module", autouse=True)
def _builtins() -> None:
    builtin.load_all()


@pytest.fixture
async def model() -> AsyncIterator[FakeOpenAI]:
    fake = FakeOpenAI()
    fake.turns = [ScriptedTurn(GOODBYE, [LATE_CALL])]
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def booking() -> AsyncIterator[ToolServer]:
    server = ToolServer(delay_s=0.0)
    await server.start()
    yield server
    await server.stop()


async def call_that_the_agent_ends(model: FakeOpenAI, booking: ToolServer) -> CallResult:
    tool = HttpTool(
        name="check_availability",
        description="Free slots on a day.",
        url=booking.url,
        parameters={"type": "object", "properties": {"day": {"type": "string"}}},
    )
    agent = agent_settings(llm=ProviderConfig(vendor="openai_compatible"), tools=[tool])
    llm = build(
        ProviderKind.LLM,
        ProviderConfig(
            vendor="openai_compatible",
            api_key=model.api_key,
            options={"base_url": model.base_url},
        ),
    )
    assert isinstance(llm, LLMProvider)
    leg = MemoryLeg(SLIN_8K)
    pipeline = CallPipeline(
        call=CallInfo(call_id="call-end-usage", tenant_id="tenant-test"),
        agent=agent,
        providers=CallProviders(
            FakeSTT(script=["That is all, thanks."]),
            llm,
            FakeTTS(),
            tools=HttpTools(agent.tools, check_url=None),
        ),
        leg=leg,
        sink=MemorySink(),
        speech_cache=SpeechCache(),
        timeouts=FAST_TIMEOUTS,
    )
    leg.start()
    running = asyncio.create_task(pipeline.run())
    leg.say(speech_pcm(800) + silence_pcm(600))
    return await asyncio.wait_for(running, 15)


async def test_the_closing_reply_counts_its_tokens(model: FakeOpenAI, booking: ToolServer) -> None:
    result = await call_that_the_agent_ends(model, booking)

    assert result.outcome is CallOutcome.AGENT_ENDED
    [llm] = [u for u in result.provider_usage if u.kind is ProviderKind.LLM]
    assert llm.usage.requests == 1
    assert llm.usage.input_tokens > 0
    assert llm.usage.output_tokens > 0
    assert booking.bodies == []
    assert [e.text for e in result.transcript if e.role == "agent"] == [
        "Thank you for calling, goodbye."
    ]
