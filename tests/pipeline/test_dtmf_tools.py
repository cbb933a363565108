"""The built-in keypad and hang-up tools: what the model may send, what it gets back, and the
caller's keys going to a waiting `wait_for_digits` instead of the conversation."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from media.formats import SLIN_8K
from pipeline.dtmf_tools import CallTool, DtmfTools, KeyPad
from pipeline.engine import CallInfo, CallPipeline, CallProviders
from pipeline.sink import MemorySink
from pipeline.speech_cache import SpeechCache
from pipeline.states import CallState
from pipeline.tool_set import ToolSet, combined
from pipeline.tools import ToolOutcome
from providers import builtin
from providers.base import LLMProvider, ProviderConfig, ProviderKind, ToolCall, ToolSpec
from providers.registry import build
from tests.fakes.fake_providers import FakeSTT, FakeTTS
from tests.fakes.openai_compatible import FakeOpenAI, ScriptedTurn
from tests.pipeline.harness import FAST_TIMEOUTS, agent_settings, until
from tests.pipeline.memory_leg import MemoryLeg, silence_pcm, speech_pcm


class LinePort:
    """The far end of a line: the keys that reached it, or a refusal."""

    def __init__(self, refuse: Exception | None = None) -> None:
        self.sent: list[str] = []
        self.refuse = refuse

    async def send_dtmf(self, digits: str) -> None:
        if self.refuse is not None:
            raise self.refuse
        self.sent.append(digits)


def call(name: str, arguments: str = "{}") -> ToolCall:
    return ToolCall(f"id-{name}", name, arguments)


async def test_send_dtmf_sends_valid_keys_and_refuses_the_rest() -> None:
    port = LinePort()
    tools = DtmfTools([CallTool.SEND_DTMF], port=port, keypad=KeyPad())
    assert [s.name for s in tools.specs] == ["send_dtmf"]
    assert await tools.run(call("send_dtmf", '{"digits": "12 34#"}')) == ToolOutcome(
        "Pressed 1 2 3 4 #.", ok=True
    )
    for bad in ('{"digits": "12x"}', '{"digits": ""}', '{"digits": "' + "1" * 33 + '"}', "{"):
        outcome = await tools.run(call("send_dtmf", bad))
        assert not outcome.ok, bad
    assert port.sent == ["1234#"]
    refused = DtmfTools([CallTool.SEND_DTMF], port=LinePort(ConnectionError()), keypad=KeyPad())
    outcome = await refused.run(call("send_dtmf", '{"digits": "1"}'))
    assert outcome == ToolOutcome("The keys could not be sent (ConnectionError).", ok=False)


async def test_send_dtmf_is_not_offered_without_a_port() -> None:
    tools = DtmfTools(list(CallTool), port=None, keypad=KeyPad())
    assert [s.name for s in tools.specs] == ["wait_for_digits", "end_call"]
    assert not (await tools.run(call("send_dtmf", '{"digits": "1"}'))).ok


async def test_wait_for_digits_collects_until_terminator_count_or_quiet() -> None:
    keypad = KeyPad()
    tools = DtmfTools([CallTool.WAIT_FOR_DIGITS], port=None, keypad=keypad)
    assert not keypad.offer("1")  # nobody waits: the key goes to the conversation

    async def press(keys: str) -> None:
        await asyncio.sleep(0.05)
        for key in keys:
            assert keypad.offer(key)

    cases = [
        ('{"terminator": "#"}', "1234#9", "The caller pressed 1234 (ended with #)."),
        ('{"max_digits": 2}', "567", "The caller pressed 56 (2 keys)."),
        ('{"max_digits": "3", "timeout": "2"}', "9876", "The caller pressed 987 (3 keys)."),
        ('{"timeout": 1}', "8", "The caller pressed 8 (then stopped pressing)."),
    ]
    for arguments, keys, result in cases:
        pressing = asyncio.create_task(press(keys))
        outcome = await tools.run(call("wait_for_digits", arguments))
        await pressing
        assert outcome == ToolOutcome(result, ok=True)
    silent = await tools.run(call("wait_for_digits", '{"timeout": 1}'))
    assert silent == ToolOutcome("The caller pressed no keys.", ok=False)
    assert not (await tools.run(call("wait_for_digits", '{"terminator": "5"}'))).ok


async def test_end_call_asks_to_end_after_the_reply() -> None:
    tools = DtmfTools([CallTool.END_CALL], port=None, keypad=KeyPad())
    outcome = await tools.run(call("end_call"))
    assert outcome.ok and outcome.end_call
    assert not (await tools.run(call("wait_for_digits"))).ok  # not enabled


class Named:
    """A runner offering one tool, answering with its own name."""

    def __init__(self, name: str, answer: str) -> None:
        self._name = name
        self._answer = answer

    @property
    def specs(self) -> list[ToolSpec]:
        return [ToolSpec(self._name, "", {"type": "object"})]

    def filler(self, name: str) -> tuple[str, float] | None:
        return (f"{self._answer} filler", 1.0)

    async def run(self, call: ToolCall) -> ToolOutcome:
        return ToolOutcome(self._answer, ok=True)


async def test_tool_set_dispatches_by_name_and_the_first_owner_wins() -> None:
    assert combined(None, DtmfTools([], port=None, keypad=KeyPad())) is None
    one = Named("a", "first")
    assert combined(one, None) is one
    both = combined(one, Named("a", "second"), Named("b", "third"))
    assert isinstance(both, ToolSet)
    assert [s.name for s in both.specs] == ["a", "b"]
    assert (await both.run(call("a"))).content == "first"
    assert (await both.run(call("b"))).content == "third"
    assert both.filler("b") == ("third filler", 1.0)
    assert not (await both.run(call("c"))).ok


async def test_talking_over_a_reply_that_pressed_keys_does_not_ask_again() -> None:
    """The menu speaks again right after the agent pressed a key and before it said anything:
    the reply is dropped, but its question is not asked again (the key was pressed)."""
    builtin.load_all()
    model = FakeOpenAI(first_token_delay=1.0)
    model.turns = [ScriptedTurn(tool_calls=[("send_dtmf", '{"digits": "2"}')])]
    model.reply = "Okay."
    await model.start()
    port = LinePort()
    try:
        config = ProviderConfig(
            vendor="openai_compatible", api_key=model.api_key, options={"base_url": model.base_url}
        )
        llm = build(ProviderKind.LLM, config)
        assert isinstance(llm, LLMProvider)
        agent = agent_settings(llm=config, call_tools=[CallTool.SEND_DTMF])
        leg = MemoryLeg(SLIN_8K)
        pipeline = CallPipeline(
            call=CallInfo(call_id="call-keys", tenant_id="tenant-test", direction="outbound"),
            agent=agent,
            providers=CallProviders(FakeSTT(script=["For support press two.", "Support."]), llm,
                                    FakeTTS()),
            leg=leg, sink=MemorySink(), speech_cache=SpeechCache(),
            timeouts=replace(FAST_TIMEOUTS, llm_first_token_s=3.0),
            dtmf=port,
        )  # fmt: skip
        leg.start()
        running = asyncio.create_task(pipeline.run())
        leg.say(speech_pcm(700) + silence_pcm(600))
        await until(lambda: port.sent == ["2"], wait_s=8, what="the key")
        leg.say(speech_pcm(700) + silence_pcm(600))  # the menu's next prompt, at once
        await until(lambda: len(model.requests) >= 3, wait_s=8, what="the next turn")
        await until(lambda: pipeline.state is CallState.LISTENING, wait_s=8, what="answered")
        leg.caller_hangup()
        await asyncio.wait_for(running, 10)
    finally:
        await model.stop()
    users = [m["content"] for m in model.requests[-1].body["messages"] if m["role"] == "user"]
    assert users == ["For support press two.", "Support."]
    assert port.sent == ["2"]
