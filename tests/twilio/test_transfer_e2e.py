"""transfer_call on a Twilio call: the model (OpenAI-compatible, over its fake) calls the tool,
the call is redirected through the Calls API to TwiML that `<Dial>`s the destination, and
the record says transferred."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg
import pytest
from redis.asyncio import Redis

from ari_app.call import Call
from pipeline.agent import AgentSettings
from pipeline.call_control import TransferMode, TransferSettings, TransferTarget
from pipeline.engine import CallProviders
from providers import builtin
from providers.base import LLMProvider, ProviderConfig, ProviderKind
from providers.registry import build
from tests.fakes.fake_providers import FakeSTT, FakeTTS
from tests.fakes.openai_compatible import FakeOpenAI, ScriptedTurn
from tests.fakes.twilio import FakeTwilio
from tests.fakes.twilio.server import Callee
from tests.pipeline.harness import agent_settings
from tests.pipeline.memory_leg import silence_pcm, speech_pcm
from tests.twilio.harness import TwilioProcess, make_twilio_agent
from tests.twilio.util import quiet, record_of

SALES_NUMBER = "+15550100200"
ANNOUNCED = "Let me put you through to sales."


@pytest.fixture(scope="module", autouse=True)
def _builtins() -> None:
    builtin.load_all()


@pytest.fixture
async def model() -> AsyncIterator[FakeOpenAI]:
    server = FakeOpenAI()
    server.turns = [ScriptedTurn(ANNOUNCED, [("transfer_call", '{"destination": "sales"}')])]
    await server.start()
    yield server
    await server.stop()


@dataclass
class TransferringProcess(TwilioProcess):
    model: FakeOpenAI | None = None
    transfer: TransferSettings = field(default_factory=TransferSettings)

    async def _prepare(self, call: Call) -> tuple[AgentSettings, CallProviders]:
        assert self.model is not None
        agent = agent_settings(
            welcome_message=self.welcome,
            welcome_interruptible=False,
            llm=ProviderConfig(vendor="openai_compatible"),
            transfer=self.transfer,
        )
        llm = build(
            ProviderKind.LLM,
            ProviderConfig(
                vendor="openai_compatible",
                api_key=self.model.api_key,
                options={"base_url": self.model.base_url},
            ),
        )
        assert isinstance(llm, LLMProvider)
        tts = FakeTTS()
        self.tts.append(tts)
        return agent, CallProviders(FakeSTT(script=self.stt_script), llm, tts)


async def test_blind_transfer_dials_the_destination_through_the_calls_api(
    fake: FakeTwilio, model: FakeOpenAI, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    transfer = TransferSettings(
        enabled=True,
        mode=TransferMode.WARM,  # Twilio hands over blind whatever the agent asks
        targets=[TransferTarget(name="sales", target=SALES_NUMBER)],
        ring_timeout_s=20,
    )
    proc = TransferringProcess(
        fake, pg_pool, redis, stt_script=["Can I talk to sales?"], model=model, transfer=transfer
    )
    # Sales rings, then talks with the caller for a while: long enough for a hang-up of ours to
    # land on the transferred call.
    fake.callees[SALES_NUMBER] = Callee(ring_s=1.5)
    await proc.start()
    try:
        agent = await make_twilio_agent(pg_pool, proc.box, fake)
        call = await fake.inbound_call(proc.voice_url, from_="+15557654321", to=agent.did)
        await asyncio.wait_for(call.stream_ready.wait(), 5)
        stream = call.stream
        assert stream is not None
        await quiet(stream)
        stream.say(speech_pcm(800) + silence_pcm(700))
        await asyncio.wait_for(call.done.wait(), 15)
        # The caller heard the announcement before the stream ended.
        assert ANNOUNCED in proc.tts[0].requests
        assert stream.heard_ms >= proc.tts[0].duration_ms(ANNOUNCED)
        [twiml] = call.redirects
        assert twiml == (
            f'<Response><Dial timeout="20" callerId="{agent.did}">{SALES_NUMBER}</Dial></Response>'
        )
        assert call.dials == [(SALES_NUMBER, "completed")]
        assert not call.hung_up_by_api  # the transferred call was not ours to end
        record = await record_of(pg_pool, agent.tenant_id)
    finally:
        await proc.stop()
    assert (record.status, record.outcome, record.transport) == (
        "completed",
        "transferred",
        "twilio",
    )
    assert record.variables["transferred_to"] == "sales"
    assert [e["kind"] for e in record.events if e["kind"].startswith("transfer.")] == [
        "transfer.started",
        "transfer.done",
    ]
    [done] = [e for e in record.events if e["kind"] == "transfer.done"]
    assert done["detail"] == {"target": "sales", "mode": "blind"}
    assert proc.events.types(record.id) == [
        "call.started",
        "call.answered",
        "call.transferred",
        "call.ended",
    ]
