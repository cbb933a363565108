"""`send_dtmf` on a Twilio call: the keys are played in-band on the Media Stream (a
bidirectional stream carries no key events to Twilio, and a TwiML update would end it), and
the far party hears them as keys, in order, while the call goes on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest
from redis.asyncio import Redis

from ari_app.call import Call
from pipeline.agent import AgentSettings
from pipeline.dtmf_tools import CallTool
from pipeline.engine import CallProviders
from providers import builtin
from providers.base import LLMProvider, ProviderConfig, ProviderKind
from providers.registry import build
from tests.fakes.fake_providers import FakeSTT, FakeTTS
from tests.fakes.openai_compatible import FakeOpenAI, ScriptedTurn
from tests.fakes.twilio import FakeTwilio
from tests.fakes.twilio.keys import keys_in
from tests.pipeline.harness import agent_settings
from tests.pipeline.memory_leg import silence_pcm, speech_pcm
from tests.twilio.harness import TwilioProcess, make_twilio_agent
from tests.twilio.util import eventually, quiet, record_of

SAID = "I am the automated menu. Press 4 then hash for billing."
AFTER = "Billing, please hold."


@dataclass
class ToolTwilioProcess(TwilioProcess):
    """A Twilio process whose agent talks through the OpenAI-compatible client to `model`."""

    model: FakeOpenAI | None = None

    async def _prepare(self, call: Call) -> tuple[AgentSettings, CallProviders]:
        assert self.model is not None
        config = ProviderConfig(
            vendor="openai_compatible",
            api_key=self.model.api_key,
            options={"base_url": self.model.base_url},
        )
        agent = agent_settings(welcome_message="", llm=config, call_tools=[CallTool.SEND_DTMF])
        llm = build(ProviderKind.LLM, config)
        assert isinstance(llm, LLMProvider)
        return agent, CallProviders(FakeSTT(script=self.stt_script), llm, FakeTTS())


@pytest.fixture(scope="module", autouse=True)
def _builtins() -> None:
    builtin.load_all()


@pytest.fixture
async def model() -> AsyncIterator[FakeOpenAI]:
    server = FakeOpenAI()
    server.turns = [
        ScriptedTurn(tool_calls=[("send_dtmf", '{"digits": "4#"}')]),
        ScriptedTurn(),
        ScriptedTurn("Thank you."),
    ]
    await server.start()
    yield server
    await server.stop()


async def test_send_dtmf_plays_the_keys_on_the_stream(
    fake: FakeTwilio, model: FakeOpenAI, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    proc = ToolTwilioProcess(fake, pg_pool, redis, stt_script=[SAID, AFTER], model=model)
    await proc.start()
    try:
        agent = await make_twilio_agent(pg_pool, proc.box, fake)
        call = await fake.inbound_call(proc.voice_url, from_="+15557654321", to=agent.did)
        await asyncio.wait_for(call.stream_ready.wait(), 5)
        stream = call.stream
        assert stream is not None
        stream.say(speech_pcm(900) + silence_pcm(700))
        await eventually(lambda: len(model.requests) >= 2)
        await quiet(stream, for_s=0.5)
        heard_keys = keys_in(bytes(stream.log.played))
        # The call goes on: the menu speaks again and the agent answers it.
        heard_ms = stream.heard_ms
        stream.say(speech_pcm(700) + silence_pcm(700))
        await eventually(lambda: len(model.requests) >= 3)
        await eventually(lambda: stream.heard_ms > heard_ms)  # the answer began
        await quiet(stream, for_s=0.5)
        await stream.hang_up()
        record = await record_of(pg_pool, agent.tenant_id)
    finally:
        await proc.stop()

    assert heard_keys == "4#"
    second = model.requests[1].body["messages"]
    assert second[-1] == {
        "role": "tool",
        "tool_call_id": second[-2]["tool_calls"][0]["id"],
        "content": "Pressed 4 #.",
    }
    assert [e["detail"]["name"] for e in record.events if e["kind"] == "tool.call"] == ["send_dtmf"]
    texts = [(t["role"], t["text"]) for t in record.transcript]
    assert ("agent", "Thank you.") in texts
    assert not stream.log.errors
