"""transfer_call on an Asterisk call, end to end: the fake Asterisk, the controller, the real
pipeline with the OpenAI-compatible client against its fake emitting a `transfer_call` tool
call, a second simulated party dialled over ARI; records in PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg
import numpy as np
import pytest
from redis.asyncio import Redis

from api.webhooks.lifecycle import WebhookEventSink
from api.webhooks.worker import WebhookWorker
from ari_app.call import Call
from ari_app.transfer_hold import HOLD_TONE
from pipeline.agent import AgentSettings
from pipeline.call_control import TransferMode, TransferSettings, TransferTarget
from pipeline.engine import CallProviders
from pipeline.transfer_tool import HOLD_MESSAGE
from providers import builtin
from providers.base import LLMProvider, ProviderConfig, ProviderKind
from providers.registry import build
from store.repositories.calls import CallRepository
from store.repositories.config import WebhookRepository
from store.secrets import SecretBox
from tests.api.webhook_receiver import WebhookReceiver
from tests.ari.harness import Process, eventually, make_agent
from tests.fakes.asterisk import FakeAsterisk
from tests.fakes.asterisk.caller import Callee, ScriptedCaller, tone
from tests.fakes.fake_providers import FakeSTT, FakeTTS
from tests.fakes.openai_compatible import FakeOpenAI, ScriptedTurn
from tests.pipeline.harness import agent_settings
from tests.pipeline.memory_leg import silence_pcm, speech_pcm

HUMAN = "1001"
ANNOUNCED = "Let me put you through to sales."
SUMMARY = "Alice Caller wants a quote for three tables."
SORRY = "I'm sorry, nobody at sales could take your call right now."
# Each TTS request is this much louder than the one before: the level heard names the text.
LEVEL_STEP = 3000
# The agent's voice, told apart from the hold tone (440 Hz) by its pitch.
VOICE_HZ = 300


def transfer_turn(destination: str = "sales") -> ScriptedTurn:
    arguments = f'{{"destination": "{destination}", "summary": "{SUMMARY}"}}'
    return ScriptedTurn(ANNOUNCED, [("transfer_call", arguments)])


@pytest.fixture(scope="module", autouse=True)
def _builtins() -> None:
    builtin.load_all()


@pytest.fixture
async def fake() -> AsyncIterator[FakeAsterisk]:
    server = FakeAsterisk(endpoints=("trunk1", HUMAN), time_scale=0.2)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def model() -> AsyncIterator[FakeOpenAI]:
    server = FakeOpenAI()
    await server.start()
    yield server
    await server.stop()


@dataclass
class TransferProcess(Process):
    """A Vocals process whose agent may transfer to `targets`, with a tool-calling model."""

    model: FakeOpenAI | None = None
    transfer: TransferSettings = field(default_factory=TransferSettings)
    tts: list[FakeTTS] = field(default_factory=list)

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
        tts = FakeTTS(amplitude=3000, amplitude_step=LEVEL_STEP, tone_hz=VOICE_HZ)
        self.tts.append(tts)
        return agent, CallProviders(FakeSTT(script=self.stt_script), llm, tts)


def settings(target: str, mode: TransferMode = TransferMode.WARM) -> TransferSettings:
    return TransferSettings(
        enabled=True,
        mode=mode,
        targets=[TransferTarget(name="sales", target=target, description="quotes and orders")],
        ring_timeout_s=5,
    )


def peak(pcm: bytes | bytearray) -> int:
    samples = np.frombuffer(bytes(pcm), dtype="<i2")
    return int(np.abs(samples.astype(np.int32)).max()) if len(samples) else 0


def hold_tone_ms(pcm: bytes | bytearray) -> int:
    """How much of `pcm` is the hold tone: 20 ms frames whose pitch is the tone's."""
    hz = float(HOLD_TONE.removeprefix("tone:").split("/")[0])
    samples = np.frombuffer(bytes(pcm), dtype="<i2").astype(np.float64)
    frames = samples[: len(samples) // 160 * 160].reshape(-1, 160)
    spectra = np.abs(np.fft.rfft(frames, axis=1))
    pitch = np.fft.rfftfreq(160, 1 / 8000)[spectra.argmax(axis=1)]
    loud = np.abs(frames).max(axis=1) > 1000
    return int(np.count_nonzero(loud & (np.abs(pitch - hz) < 30))) * 20


def level_of(tts: FakeTTS, text: str) -> int:
    return tts.amplitude + tts.requests.index(text) * LEVEL_STEP


async def ask_for_sales(caller: ScriptedCaller) -> None:
    await asyncio.wait_for(caller.answered.wait(), 5)
    await caller.wait_received(500)  # the welcome
    caller.play(speech_pcm(800) + silence_pcm(700))


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    server = WebhookReceiver()
    await server.start()
    yield server
    await server.stop()


async def test_warm_transfer_briefs_the_human_then_bridges_the_caller(
    fake: FakeAsterisk,
    model: FakeOpenAI,
    pg_pool: asyncpg.Pool,
    redis: Redis,
    receiver: WebhookReceiver,
) -> None:
    fake.callees[HUMAN] = Callee(ring_s=0.3)
    model.turns = [transfer_turn()]
    agent = await make_agent(pg_pool)
    box = SecretBox("transfer-tests-secret-key-0123456789")
    await WebhookRepository(pg_pool, box).create(
        agent.tenant_id,
        {
            "url": receiver.url,
            "events": ["call.answered", "call.transferred", "call.ended"],
            "secret": "whsec-transfer-tests",
            "active": True,
        },
    )
    worker = WebhookWorker(pg_pool, box, allow_private=True, poll_interval_s=0.05)
    worker.start()
    proc = TransferProcess(
        fake, pg_pool, redis, stt_script=["Can I talk to sales?"], model=model,
        transfer=settings(f"PJSIP/{HUMAN}"), events=WebhookEventSink(pg_pool, box, redis),
    )  # fmt: skip
    await proc.start()
    try:
        caller = await fake.inbound_call(agent.did)
        await ask_for_sales(caller)
        human = await asyncio.wait_for(fake.answered.get(), 10)
        assert human.number == HUMAN
        # The human hears the summary (the agent's loudest speech so far), alone.
        (tts,) = proc.tts
        await eventually(lambda: SUMMARY in " ".join(tts.requests))
        summary = next(text for text in tts.requests if SUMMARY in text)
        await eventually(lambda: peak(human.received) > level_of(tts, summary) - 1000)
        # Then caller and human are bridged, the agent gone: they hear each other.
        await eventually(lambda: len(fake.live_bridges()) == 1 and not _media(fake))
        # Meanwhile the caller, asked to hold, heard the hold tone, never silence alone.
        assert HOLD_MESSAGE in tts.requests
        assert peak(caller.received) > level_of(tts, HOLD_MESSAGE) - 1000
        assert hold_tone_ms(caller.received) >= 200
        [bridge] = fake.live_bridges()
        assert sorted(bridge.channels) == sorted([caller.channel_id, human.channel_id])
        heard_by_human = len(human.received)
        caller.play(tone(700, 0.5))
        await eventually(lambda: len(human.received) > heard_by_human + 4000)
        heard_by_caller = len(caller.received)
        human.play(tone(500, 0.5))
        await eventually(lambda: len(caller.received) > heard_by_caller + 4000)
        # Nothing of the briefing reached the caller.
        assert peak(caller.received) < level_of(tts, summary) - 1500
        await caller.hangup()
        await human.wait_ended(5)
        assert human.ended_by == "asterisk"
        await eventually(lambda: not fake.live_channels() and not fake.live_bridges())
        await eventually(lambda: len(receiver.received) >= 3)
    finally:
        await proc.stop()
        await worker.stop()
    # Announced to webhooks between the answer and the end, with where and how.
    envelopes = [json.loads(r.body) for r in receiver.received]
    assert [e["type"] for e in envelopes] == ["call.answered", "call.transferred", "call.ended"]
    assert envelopes[1]["data"]["target"] == "sales"
    assert envelopes[1]["data"]["mode"] == "warm"
    assert envelopes[2]["data"]["outcome"] == "transferred"
    [record] = (await CallRepository(pg_pool).list_page(agent.tenant_id)).items
    assert (record.status, record.outcome) == ("completed", "transferred")
    assert record.variables["transferred_to"] == "sales"
    assert record.variables["ended_by"] == "caller"
    kinds = [e["kind"] for e in record.events]
    assert kinds.index("transfer.started") < kinds.index("transfer.done")
    assert "transfer.failed" not in kinds
    # The briefing is kept as said to the human, not as agent speech the caller heard.
    assert not any(SUMMARY in e["text"] for e in record.transcript)
    [held] = [e for e in record.transcript if HOLD_MESSAGE in e["text"]]
    assert held["role"] == "agent"
    assert not held["interrupted"]  # heard in full before the hand-over ended the agent's part
    [briefing] = [e for e in record.events if e["kind"] == "transfer.briefing"]
    assert briefing["detail"]["to"] == "transfer_target"
    assert SUMMARY in briefing["detail"]["text"]
    # The human was rung with the caller's number, into our app, for this call.
    [dialled] = [c for c in fake.calls_to("POST", "/channels/") if "endpoint" in c.params]
    assert dialled.params["endpoint"] == f"PJSIP/{HUMAN}"
    assert dialled.params["appArgs"] == f"transfer,{record.id}"


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [("no-answer", "no_answer"), ("busy", "busy"), ("rejected", "rejected")],
)
async def test_nobody_answering_leaves_the_caller_with_the_agent(
    fake: FakeAsterisk,
    model: FakeOpenAI,
    pg_pool: asyncpg.Pool,
    redis: Redis,
    outcome: str,
    reason: str,
) -> None:
    fake.callees[HUMAN] = Callee(outcome=outcome, ring_s=0.3)  # type: ignore[arg-type]
    model.turns = [transfer_turn(), ScriptedTurn(SORRY)]
    agent = await make_agent(pg_pool)
    proc = TransferProcess(
        fake, pg_pool, redis, stt_script=["Can I talk to sales?"], model=model,
        transfer=settings(f"PJSIP/{HUMAN}"),
    )  # fmt: skip
    await proc.start()
    try:
        caller = await fake.inbound_call(agent.did)
        await ask_for_sales(caller)
        (tts,) = proc.tts
        # The model learns why, and the caller hears the agent say so.
        await eventually(lambda: SORRY in tts.requests, timeout_s=15)
        await eventually(lambda: peak(caller.received) > level_of(tts, SORRY) - 1000)
        result = model.requests[1].body["messages"][-1]
        assert result["role"] == "tool"
        assert "did not happen" in result["content"]
        assert SUMMARY not in " ".join(tts.requests)  # nobody to brief
        # The caller held, hearing the tone while it rang (a busy line: briefly), then came
        # back to the agent.
        assert hold_tone_ms(caller.received) >= 40
        await caller.wait_quiet()
        await caller.hangup()
        await eventually(lambda: not fake.live_channels() and not fake.live_bridges())
    finally:
        await proc.stop()
    [record] = (await CallRepository(pg_pool).list_page(agent.tenant_id)).items
    assert (record.status, record.outcome) == ("completed", "caller_hung_up")
    [failed] = [e for e in record.events if e["kind"] == "transfer.failed"]
    assert failed["detail"]["reason"] == reason
    assert failed["detail"]["target"] == "sales"


async def test_blind_transfer_to_the_dialplan(
    fake: FakeAsterisk, model: FakeOpenAI, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    model.turns = [transfer_turn()]
    agent = await make_agent(pg_pool)
    proc = TransferProcess(
        fake, pg_pool, redis, stt_script=["Can I talk to sales?"], model=model,
        transfer=settings("sales-queue,100"),  # warm, which the dialplan cannot be
    )  # fmt: skip
    await proc.start()
    try:
        caller = await fake.inbound_call(agent.did)
        await ask_for_sales(caller)
        await eventually(lambda: bool(fake.continued), timeout_s=10)
        assert fake.continued == [(caller.channel_id, "sales-queue", "100", 1)]
        (tts,) = proc.tts
        # The caller heard the agent announce it before leaving.
        assert peak(caller.received) > level_of(tts, ANNOUNCED) - 1000
        # The agent's media and bridge are gone; the caller runs the dialplan, still up.
        await eventually(lambda: not fake.live_bridges() and not _media(fake))
        assert [c.id for c in fake.live_channels()] == [caller.channel_id]
        assert not caller.ended.is_set()
        await caller.hangup()
        assert not fake.live_channels()
        assert proc.controller is not None
        await eventually(lambda: not proc.controller.sessions)  # type: ignore[union-attr]
    finally:
        await proc.stop()
    [record] = (await CallRepository(pg_pool).list_page(agent.tenant_id)).items
    assert (record.status, record.outcome) == ("completed", "transferred")
    assert record.error_reason is None
    # Whoever the dialplan reaches cannot be briefed: handed over blind, and recorded so.
    [done] = [e for e in record.events if e["kind"] == "transfer.done"]
    assert done["detail"] == {"target": "sales", "mode": "blind"}


def _media(fake: FakeAsterisk) -> list[str]:
    return [c.id for c in fake.live_channels() if c.kind == "audiosocket"]
