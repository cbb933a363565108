"""The scripted dialogue provider: the default flow holds a conversation and ends the call."""

from __future__ import annotations

import time

import msgspec
import pytest

from providers.base import Message, ProviderConfig, TextDelta, ToolCall, ToolSpec
from providers.llm.scripted import END_CALL, ScriptedLLM
from providers.registry import InvalidOptions, build, get


def scripted(**options: object) -> ScriptedLLM:
    llm = build("llm", ProviderConfig(vendor="scripted", options=options))
    assert isinstance(llm, ScriptedLLM)
    return llm


async def say(llm: ScriptedLLM, history: list[Message], caller: str | None) -> str:
    """Add the caller's line, stream the agent's reply into the history, return it."""
    if caller is not None:
        history.append(Message("user", caller))
    deltas = [d async for d in llm.stream(history, "You are a receptionist.")]
    reply = "".join(deltas)
    assert len(deltas) == len(reply.split(" ")), "streamed word by word"
    history.append(Message("assistant", reply))
    return reply


async def test_default_flow_holds_a_call_and_ends_it() -> None:
    llm = scripted()
    history: list[Message] = []
    assert "How can I help" in await say(llm, history, None)
    # Lower-case, unpunctuated lines as pocketsphinx transcribes them.
    assert "nine in the morning" in await say(llm, history, "what are your opening hours")
    reply = await say(llm, history, "i would like to book an appointment for tomorrow")
    assert reply == "Sure, tomorrow works. Would you prefer the morning or the afternoon?"
    reply = await say(llm, history, "morning please")
    assert reply.startswith("Perfect, you're booked for tomorrow morning.")
    assert "thirty five dollars" in await say(llm, history, "how much is a haircut")
    assert "didn't catch that" in await say(llm, history, "purple elephants")
    assert END_CALL not in "".join(m.content for m in history)
    final = await say(llm, history, "no that's all thank you bye")
    assert final.endswith(f"goodbye! {END_CALL}")
    assert llm.usage.requests == 7


async def test_custom_flow_with_slots_and_variables() -> None:
    llm = scripted(
        intents=[
            {
                "name": "name",
                "patterns": [r"my name is (?P<name>\w+)"],
                "responses": ["Nice to meet you, {name}. Your balance is {balance}."],
            },
            {
                "name": "done",
                "patterns": [r"\bdone\b"],
                "responses": ["Goodbye {name}.", "Goodbye."],
                "end_call": True,
            },
        ],
        variables={"balance": "ten dollars"},
        fallback="Say your name.",
    )
    history: list[Message] = []
    assert await say(llm, history, "done") == f"Goodbye. {END_CALL}"
    assert await say(llm, history, "hmm") == "Say your name."
    reply = await say(llm, history, "My name is Ada")
    assert reply == "Nice to meet you, ada. Your balance is ten dollars."
    assert await say(llm, history, "I am done") == f"Goodbye ada. {END_CALL}"


async def test_max_turns_closes_the_call() -> None:
    llm = scripted(max_turns=2)
    history: list[Message] = []
    await say(llm, history, "hello")
    await say(llm, history, "what are your hours")
    assert (await say(llm, history, "and your prices")).endswith(END_CALL)


async def test_simulated_latency() -> None:
    llm = scripted(first_token_delay_ms=100, word_delay_ms=10)
    started = time.monotonic()
    stream = llm.stream([Message("user", "hello")], "")
    await anext(stream)
    assert time.monotonic() - started >= 0.09
    rest = [d async for d in stream]
    assert len(rest) == len(["Hello!", "How", "can", "I", "help", "you", "today?"]) - 1


@pytest.mark.parametrize(
    ("options", "option", "message"),
    [
        (
            {"intents": [{"name": "x", "patterns": ["(oops"], "responses": ["hi"]}]},
            "intents[0].patterns[0]",
            "is not a valid regex",
        ),
        (
            {"intents": [{"name": "x", "patterns": ["a"], "responses": ["{who}"]}]},
            "intents[0].responses[0]",
            "uses slot {who}",
        ),
        (
            {"intents": [{"name": "x", "patterns": [], "responses": ["hi"]}]},
            "intents[0].patterns",
            "must not be empty",
        ),
        ({"fallback": "Hi {nobody}"}, "fallback", "uses slot {nobody}"),
        ({"max_turns": 0}, "max_turns", "Expected `int` >= 1"),
        ({"intents": [{"name": "x", "patterns": ["a"]}]}, "intents[0]", "responses"),
    ],
)
def test_bad_flow_is_rejected_naming_the_option(
    options: dict[str, object], option: str, message: str
) -> None:
    with pytest.raises(InvalidOptions, match=message) as caught:
        scripted(**options)
    assert caught.value.option is not None
    assert caught.value.option.startswith(option)


def test_catalog_schema_describes_the_flow() -> None:
    info = get("llm", "scripted")
    assert info.offline and not info.needs_api_key
    assert "intents" in info.options_schema["properties"]
    assert "Intent" in info.options_schema["$defs"]


async def test_intent_calls_its_tool_then_answers_from_the_result() -> None:
    llm = scripted()
    offered = [ToolSpec("check_availability", "Free times.", {"type": "object"})]
    history = [Message("user", "do you have anything free tomorrow morning")]
    (call,) = [e async for e in llm.generate(history, "", offered)]
    assert isinstance(call, ToolCall) and call.name == "check_availability"
    assert msgspec.json.decode(call.arguments) == {"day": "tomorrow", "part": "morning"}

    history += [
        Message("assistant", "", tool_calls=(call,)),
        Message("tool", '{"time": "ten o\'clock"}', tool_call_id=call.id),
    ]
    answer = [e async for e in llm.generate(history, "", offered)]
    assert all(isinstance(e, TextDelta) for e in answer), "answered, not called again"
    reply = "".join(e.text for e in answer if isinstance(e, TextDelta))
    assert reply == "Good news, tomorrow morning at ten o'clock is free. Shall I book it for you?"
    # A full morning: the calendar's alternative is offered instead.
    history[-1] = Message("tool", '{"alternative": "tomorrow afternoon"}', tool_call_id=call.id)
    reply = "".join([e.text async for e in llm.generate(history, "", offered)
                     if isinstance(e, TextDelta)])  # fmt: skip
    assert reply.startswith("Sorry, tomorrow morning is fully booked, but tomorrow afternoon")
    # Not offered the tool (or it failed with plain text): the answer needs no result.
    plain = [Message("user", "do you have anything free tomorrow morning")]
    assert llm.reply(plain) == "We usually have room tomorrow morning. Shall I book it for you?"


def test_intent_tool_slots_are_checked() -> None:
    intent = {"name": "x", "patterns": ["a"], "responses": ["{free}"],
              "tool": {"name": "t", "arguments": {"day": "{when}"}}}  # fmt: skip
    with pytest.raises(InvalidOptions, match="uses slot") as caught:
        scripted(intents=[intent])
    assert caught.value.option == "intents[0].responses[0]"
    intent["tool"] = {"name": "t", "arguments": {"day": "{when}"}, "result_slots": ["free"]}
    with pytest.raises(InvalidOptions, match="uses slot") as caught:
        scripted(intents=[intent])
    assert caught.value.option == "intents[0].tool.arguments.day"


async def test_intent_says_its_answer_before_a_tool_it_does_not_wait_for() -> None:
    bye = {"name": "bye", "patterns": ["bye"], "responses": ["Goodbye then."],
           "tool": {"name": "end_call", "say_first": True}}  # fmt: skip
    llm = scripted(intents=[bye])
    offered = [ToolSpec("end_call", "Hang up.", {"type": "object"})]
    history = [Message("user", "bye")]
    events = [e async for e in llm.generate(history, "", offered)]
    *words, call = events
    assert "".join(w.text for w in words if isinstance(w, TextDelta)) == "Goodbye then."
    assert isinstance(call, ToolCall) and call.name == "end_call"
    history += [
        Message("assistant", "Goodbye then.", tool_calls=(call,)),
        Message("tool", "The call ends.", tool_call_id=call.id),
    ]
    assert [e async for e in llm.generate(history, "", offered)] == []
