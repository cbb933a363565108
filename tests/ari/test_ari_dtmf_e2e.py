"""Keys during a call, end to end against the fake Asterisk with the model behind its
OpenAI-compatible fake (tool-call arguments streamed in pieces).

An outbound call reaches an automated menu: the model presses keys with `send_dtmf`, Vocals
sends them with ARI's `dtmf` on the callee's channel, the menu answers each choice, and the
agent hangs up with `end_call`. An inbound caller types an account number the model asked
for with `wait_for_digits`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

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
from store.models import CallRecord
from store.outbound_queue import OutboundJob, OutboundQueue
from store.repositories.calls import CallRepository
from tests.ari.harness import Process, Tenancy, eventually, make_agent
from tests.fakes.asterisk import Callee, FakeAsterisk, IvrMenu
from tests.fakes.fake_providers import FakeSTT, FakeTTS
from tests.fakes.openai_compatible import FakeOpenAI, ScriptedTurn
from tests.media.speechlike import speechlike
from tests.pipeline.harness import agent_settings

pytestmark = pytest.mark.usefixtures("empty_outbound_queue")

MENU = "Welcome to Acme. For sales press 1, for support press 2."
SUPPORT = "Support. Enter your account number, then the hash key."
CONNECTING = "Thank you. Connecting you to a support agent."
GOODBYE = "Thanks, I will call back later. Goodbye."


def said(ms: int, seed: int) -> bytes:
    """A prompt of `ms` of speech, then the quiet that ends it for the agent's VAD."""
    return speechlike(8000, [(True, ms), (False, 700)], seed=seed)


@dataclass
class ToolProcess(Process):
    """A process whose agent talks through the OpenAI-compatible client to `model`."""

    model: FakeOpenAI | None = None
    call_tools: Sequence[CallTool] = ()
    stts: list[FakeSTT] = field(default_factory=list)

    async def _prepare(self, call: Call) -> tuple[AgentSettings, CallProviders]:
        assert self.model is not None
        config = ProviderConfig(
            vendor="openai_compatible",
            api_key=self.model.api_key,
            options={"base_url": self.model.base_url},
        )
        agent = agent_settings(
            welcome_message=self.welcome, llm=config, call_tools=list(self.call_tools)
        )
        llm = build(ProviderKind.LLM, config)
        assert isinstance(llm, LLMProvider)
        stt = FakeSTT(script=self.stt_script)
        self.stts.append(stt)
        return agent, CallProviders(stt, llm, FakeTTS())


@pytest.fixture(scope="module", autouse=True)
def _builtins() -> None:
    builtin.load_all()


@pytest.fixture
async def fake() -> AsyncIterator[FakeAsterisk]:
    server = FakeAsterisk(time_scale=0.02)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def model() -> AsyncIterator[FakeOpenAI]:
    server = FakeOpenAI()
    await server.start()
    yield server
    await server.stop()


async def finished_record(pool: asyncpg.Pool, agent: Tenancy, call_id: uuid.UUID) -> CallRecord:
    repo = CallRepository(pool)
    for _ in range(300):
        record = await repo.get(agent.tenant_id, call_id)
        if record is not None and record.ended_at is not None:
            return record
        await asyncio.sleep(0.05)
    raise AssertionError("no finished call record")


def tool_events(record: CallRecord) -> list[dict[str, str]]:
    return [e["detail"] for e in record.events if e["kind"] == "tool.call"]


async def test_outbound_call_navigates_a_menu_by_keys(
    fake: FakeAsterisk, model: FakeOpenAI, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    agent = await make_agent(pg_pool)
    fake.callees["15551239001"] = Callee(
        ivr=IvrMenu(
            prompt=said(1200, 1),
            options={"2": said(1200, 2), "4321#": said(1000, 3)},
        )
    )
    model.turns = [
        ScriptedTurn(tool_calls=[("send_dtmf", '{"digits": "2"}')]),
        ScriptedTurn(),
        ScriptedTurn(tool_calls=[("send_dtmf", '{"digits": "4321#"}')]),
        ScriptedTurn(),
        ScriptedTurn(GOODBYE, [("end_call", "{}")]),
    ]
    proc = ToolProcess(
        fake,
        pg_pool,
        redis,
        app="vocals-dtmf1",
        welcome="",
        stt_script=(MENU, SUPPORT, CONNECTING),
        model=model,
        call_tools=(CallTool.SEND_DTMF, CallTool.END_CALL),
    )
    await proc.start(dispatch=True)
    try:
        call_id = uuid.uuid4()
        await OutboundQueue(redis).enqueue(
            OutboundJob(
                call_id=call_id,
                tenant_id=agent.tenant_id,
                agent_id=agent.agent_id,
                to_number="15551239001",
                from_number="15550001111",
            )
        )
        callee = await asyncio.wait_for(fake.answered.get(), 10)
        await callee.wait_ended(20)
        record = await finished_record(pg_pool, agent, call_id)
    finally:
        await proc.stop()

    # The keys reached the menu in order, sent on the callee's channel (the call's own id).
    assert callee.channel_id == str(call_id)
    assert callee.dtmf_received == list("24321#")
    sent = fake.calls_to("POST", "/channels/")
    sent = [c for c in sent if c.path.endswith("/dtmf")]
    assert [(c.path, c.params["dtmf"], c.status) for c in sent] == [
        (f"/channels/{call_id}/dtmf", "2", 204),
        (f"/channels/{call_id}/dtmf", "4321#", 204),
    ]
    # The menu's answers were heard: each choice's prompt became the next caller turn.
    (stt,) = proc.stts
    assert stt.finals == [MENU, SUPPORT, CONNECTING]
    second = model.requests[1].body["messages"]
    assert second[-1]["role"] == "tool" and second[-1]["content"] == "Pressed 2."
    assert {t["function"]["name"] for t in model.requests[0].body["tools"]} == {
        "send_dtmf",
        "end_call",
    }
    # The call went on to the agent's goodbye and its own hang-up.
    assert [(e["name"], e["ok"]) for e in tool_events(record)] == [
        ("send_dtmf", "true"),
        ("send_dtmf", "true"),
        ("end_call", "true"),
    ]
    assert (record.status, record.outcome) == ("completed", "agent_ended")
    assert [t["text"] for t in record.transcript if t["role"] == "agent"] == [GOODBYE]
    assert callee.ended_by == "asterisk"
    assert not fake.live_channels() and not fake.live_bridges()


async def test_caller_types_digits_the_model_waits_for(
    fake: FakeAsterisk, model: FakeOpenAI, pg_pool: asyncpg.Pool, redis: Redis
) -> None:
    agent = await make_agent(pg_pool)
    ask = "Please type your account number, then the hash key."
    model.turns = [
        ScriptedTurn(
            ask, [("wait_for_digits", '{"max_digits": 8, "terminator": "#", "timeout": 5}')]
        ),
        ScriptedTurn("Thank you, account 1234 has ten dollars. Goodbye.", [("end_call", "{}")]),
    ]
    proc = ToolProcess(
        fake,
        pg_pool,
        redis,
        app="vocals-dtmf2",
        welcome="",
        stt_script=("What is my balance?",),
        model=model,
        call_tools=(CallTool.WAIT_FOR_DIGITS, CallTool.END_CALL),
    )
    await proc.start()
    try:
        caller = await fake.inbound_call(agent.did, app="vocals-dtmf2")
        await eventually(lambda: caller.answered.is_set(), 5)
        await asyncio.sleep(0.3)  # the media is bridged
        caller.play(said(800, 4))
        await eventually(lambda: len(model.requests) >= 1, 10)
        await caller.wait_received(500)  # the agent is asking for the number
        await caller.press("1234#")
        await caller.wait_ended(10)
        await eventually(lambda: bool(fake.calls_to("DELETE", "/channels/")), 5)
    finally:
        await proc.stop()

    # The keys were the tool's result, not a caller turn of their own (no third request).
    assert len(model.requests) == 2
    second = model.requests[1].body["messages"]
    assert second[-1]["role"] == "tool"
    assert second[-1]["content"] == "The caller pressed 1234 (ended with #)."
    (answer,) = proc.stts
    assert answer.finals == ["What is my balance?"]
    assert caller.ended_by == "asterisk"
