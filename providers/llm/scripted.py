"""Scripted dialogue: a deterministic "LLM" driven by an agent-configurable flow.

The flow matches intents on the caller's last message with regular expressions and answers
with templates whose `{slots}` come from the flow's variables or from named groups any
pattern captured in the caller's messages so far. An intent marked `end_call` ends the call
(its reply gets `[END_CALL]`). An intent with a `tool` calls it first when the agent offers
it (arguments from the slots), then answers with the fields of the tool's JSON answer as
slots too. Everything is derived from the history the pipeline passes in, so barge-in
truncation and retries need no hidden state.

The reply streams word by word, so the pipeline's sentence splitter and marker handling get
the same kind of input a real LLM gives them. Useful for IVR-like agents, demos on a machine
with no model, and load tests (optional per-word latency).
"""

from __future__ import annotations

import asyncio
import re
import string
from collections.abc import AsyncIterator, Sequence
from typing import Annotated

import msgspec

from providers.base import (
    LLMEvent,
    LLMProvider,
    Message,
    ProviderConfig,
    ProviderKind,
    TextDelta,
    ToolCall,
    ToolSpec,
)
from providers.registry import InvalidOptions, VendorInfo, parse_options, register

END_CALL = "[END_CALL]"
# The slot holding a tool's answer as text, whatever its shape.
TOOL_RESULT = "tool_result"


class IntentTool(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A tool an intent calls before it answers, when the agent offers a tool of that name."""

    name: str
    # Argument templates (`{slots}` as in responses); one whose slots are not known is left out.
    arguments: dict[str, str] = msgspec.field(default_factory=dict)
    # Fields of the tool's JSON answer that responses may use as `{slots}`.
    result_slots: list[str] = msgspec.field(default_factory=list)
    # The answer is said first, in the same reply as the call (a tool whose answer it does
    # not need, such as end_call: the goodbye, then the hang-up).
    say_first: bool = False


class Intent(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What the caller may say and how the agent answers it."""

    name: str
    # Regular expressions searched (case-insensitive) in the caller's last message.
    patterns: list[str]
    # Answers in order of preference: the first whose `{slots}` are all known is said.
    responses: list[str]
    # The reply ends the call: `[END_CALL]` is appended.
    end_call: bool = False
    tool: IntentTool | None = None


DEFAULT_VARIABLES = {
    "business_name": "Riverside Hair Studio",
    "hours": "nine in the morning to six in the evening, Monday to Saturday",
    "haircut_price": "thirty five dollars",
    "address": "twelve River Street, next to the library",
}

_DAY = r"(?P<day>today|tomorrow|monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_PART = r"(?P<part>morning|afternoon|evening)"

DEFAULT_INTENTS = [
    Intent(
        name="goodbye",
        patterns=[
            r"\b(good ?bye|bye)\b",
            r"\bthat'?s (all|it|everything)\b",
            r"\bthat is (all|it|everything)\b",
            r"\bnothing else\b",
            r"\bno,? thanks?\b",
        ],
        responses=["You're welcome. Thanks for calling {business_name}, goodbye!"],
        end_call=True,
    ),
    Intent(
        name="hours",
        patterns=[r"\b(hours|open|opening|close|closing)\b"],
        responses=["We're open {hours}. Is there anything else I can help with?"],
    ),
    Intent(
        name="price",
        patterns=[r"\b(price|prices|cost|costs|how much)\b"],
        responses=[
            "A haircut is {haircut_price}. Would you like to book an appointment?",
        ],
    ),
    Intent(
        name="location",
        patterns=[r"\b(where|address|located|location|find you)\b"],
        responses=["We're at {address}. Anything else?"],
    ),
    Intent(
        name="availability",
        patterns=[r"\b(free|available|availability|any room)\b"],
        responses=[
            "Good news, {day} {part} at {time} is free. Shall I book it for you?",
            "Sorry, {day} {part} is fully booked, but {alternative} is free. Would that suit you?",
            "We usually have room {day} {part}. Shall I book it for you?",
            "Which day would you like to come in?",
        ],
        tool=IntentTool(
            name="check_availability",
            arguments={"day": "{day}", "part": "{part}"},
            result_slots=["time", "alternative"],
        ),
    ),
    Intent(
        name="booking",
        patterns=[r"\b(book|booking|appointment|reserve|schedule)\b", _DAY, _PART],
        responses=[
            "Perfect, you're booked for {day} {part}. Is there anything else I can help with?",
            "Sure, {day} works. Would you prefer the morning or the afternoon?",
            "Great, {part} it is. Which day would you like to come in?",
            "Of course. Which day would you like to come in?",
        ],
    ),
    Intent(
        name="greeting",
        patterns=[r"^\W*(hi|hello|hey|good (morning|afternoon|evening))\b"],
        responses=["Hello! How can I help you today?"],
    ),
    Intent(
        name="thanks",
        patterns=[r"\b(thanks|thank you)\b"],
        responses=["You're welcome. Is there anything else I can help with?"],
    ),
    Intent(
        name="yes",
        patterns=[r"^\W*(yes|yeah|yep|sure|okay|ok)\b"],
        responses=["Great. Which day would you like to come in?"],
    ),
]


class ScriptedOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A dialogue flow; the defaults are a small hair-salon receptionist."""

    intents: list[Intent] = msgspec.field(default_factory=lambda: list(DEFAULT_INTENTS))
    variables: dict[str, str] = msgspec.field(default_factory=lambda: dict(DEFAULT_VARIABLES))
    # Said when the history has no caller message yet.
    greeting: str = "Hello, thanks for calling. How can I help you?"
    fallback: str = (
        "Sorry, I didn't catch that. I can tell you our opening hours and prices, or book "
        "an appointment."
    )
    # After this many caller turns the agent says `closing` and ends the call.
    max_turns: Annotated[int, msgspec.Meta(ge=1)] | None = None
    closing: str = "I have to wrap up now. Thanks for calling, goodbye!"
    # Simulated model latency, for load tests: before the first word and between words.
    first_token_delay_ms: Annotated[float, msgspec.Meta(ge=0, le=60000)] = 0.0
    word_delay_ms: Annotated[float, msgspec.Meta(ge=0, le=10000)] = 0.0


class _CompiledIntent(msgspec.Struct, frozen=True):
    intent: Intent
    patterns: list[re.Pattern[str]]


@register(
    VendorInfo(
        kind=ProviderKind.LLM,
        vendor="scripted",
        display_name="Scripted dialogue (offline)",
        description=(
            "A deterministic flow of intents and templated replies: IVR-like agents, demos "
            "with no model, load tests. No account, no network."
        ),
        offline=True,
    ),
    options=ScriptedOptions,
)
class ScriptedLLM(LLMProvider):
    """Replies from the configured flow, streamed word by word."""

    vendor = "scripted"

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        self.options = parse_options(config, ScriptedOptions)
        self._intents = _compile(self.options)

    def reply(self, messages: Sequence[Message]) -> str:
        """The reply when no tool is offered (what `stream` sends, joined)."""
        answer, _ = self.respond(messages, frozenset())  # no tool offered: none is called
        return answer

    def respond(
        self, messages: Sequence[Message], offered: frozenset[str]
    ) -> tuple[str, ToolCall | None]:
        """The reply to `messages`, and the call of a tool among `offered` the matching intent
        makes (the reply is then empty, unless the tool is said after its answer)."""
        user_turns = [m.content for m in messages if m.role == "user"]
        slots = dict(self.options.variables)
        for text in user_turns:
            slots.update(self._captures(text))
        if not user_turns:
            return _fill(self.options.greeting, slots) or "", None
        if self.options.max_turns is not None and len(user_turns) > self.options.max_turns:
            return f"{_fill(self.options.closing, slots)} {END_CALL}", None
        last = user_turns[-1]
        result = _tool_result(messages)
        for compiled in self._intents:
            if not any(p.search(last) for p in compiled.patterns):
                continue
            tool = compiled.intent.tool
            calls = tool is not None and tool.name in offered
            if calls and tool is not None and result is None and not tool.say_first:
                return "", _tool_call(tool, slots, len(messages))
            if calls and result is not None and tool is not None and tool.say_first:
                return "", None  # said before the call already
            known = slots if result is None else {**slots, **_result_slots(tool, result)}
            filled = (_fill(r, known) for r in compiled.intent.responses)
            answer = next((a for a in filled if a is not None), None)
            if answer is None:
                continue  # its slots are not known yet: the next matching intent answers
            if calls and tool is not None and result is None:  # said first, then called
                return answer, _tool_call(tool, slots, len(messages))
            return (f"{answer} {END_CALL}" if compiled.intent.end_call else answer), None
        return _fill(self.options.fallback, slots) or self.options.fallback, None

    def understand(self, text: str) -> tuple[str | None, dict[str, str]]:
        """The intent the flow answers `text` with (None: its fallback), and the slots the
        flow's patterns capture in it."""
        intent = next(
            (c.intent.name for c in self._intents if any(p.search(text) for p in c.patterns)),
            None,
        )
        return intent, self._captures(text)

    async def stream(self, messages: Sequence[Message], system_prompt: str) -> AsyncIterator[str]:
        async for word in self._say(self.reply(messages)):
            yield word

    async def generate(
        self, messages: Sequence[Message], system_prompt: str, tools: Sequence[ToolSpec] = ()
    ) -> AsyncIterator[LLMEvent]:
        answer, call = self.respond(messages, frozenset(tool.name for tool in tools))
        if answer:
            async for word in self._say(answer):
                yield TextDelta(word)
        else:
            self.usage.requests += 1
        if call is not None:
            yield call

    async def _say(self, text: str) -> AsyncIterator[str]:
        self.usage.requests += 1
        words = text.split(" ")
        if self.options.first_token_delay_ms:
            await asyncio.sleep(self.options.first_token_delay_ms / 1000)
        for index, word in enumerate(words):
            if index and self.options.word_delay_ms:
                await asyncio.sleep(self.options.word_delay_ms / 1000)
            self.usage.output_tokens += 1
            yield word if index == 0 else " " + word

    def _captures(self, text: str) -> dict[str, str]:
        found: dict[str, str] = {}
        for compiled in self._intents:
            for pattern in compiled.patterns:
                match = pattern.search(text)
                if match is not None:
                    found.update({k: v for k, v in match.groupdict().items() if v is not None})
        return {k: v.lower() for k, v in found.items()}


def _tool_result(messages: Sequence[Message]) -> str | None:
    """What a tool answered since the caller's last message, if one was called."""
    for message in reversed(messages):
        if message.role == "user":
            return None
        if message.role == "tool":
            return message.content
    return None


def _tool_call(tool: IntentTool, slots: dict[str, str], turn: int) -> ToolCall:
    arguments = {k: v for k, t in tool.arguments.items() if (v := _fill(t, slots)) is not None}
    # Deterministic from the history, as everything here: the same history, the same call.
    call_id = f"scripted_{turn}"
    return ToolCall(call_id, tool.name, msgspec.json.encode(arguments).decode())


def _result_slots(tool: IntentTool | None, result: str) -> dict[str, str]:
    """The tool's answer as slots: its text, and the declared fields of a JSON object."""
    slots = {TOOL_RESULT: result}
    try:
        decoded = msgspec.json.decode(result)
    except msgspec.DecodeError:
        return slots
    if tool is not None and isinstance(decoded, dict):
        for name in tool.result_slots:
            value = decoded.get(name)
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                slots[name] = str(value)
    return slots


def _fields(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def _fill(template: str, slots: dict[str, str]) -> str | None:
    """`template` with its slots filled, or None when one is not known yet."""
    if any(name not in slots for name in _fields(template)):
        return None
    return template.format_map(slots)


def _tool_slots(tool: IntentTool | None) -> set[str]:
    """The slots a tool's answer may fill in its intent's responses (none when they are said
    before the call)."""
    if tool is None or tool.say_first:
        return set()
    return {TOOL_RESULT, *tool.result_slots}


def _compile(options: ScriptedOptions) -> list[_CompiledIntent]:
    """Compile the flow, rejecting bad regexes and slots no pattern or variable can fill."""
    compiled: list[_CompiledIntent] = []
    groups: set[str] = set()
    for i, intent in enumerate(options.intents):
        for field in ("patterns", "responses"):
            if not getattr(intent, field):
                raise InvalidOptions("scripted", "must not be empty", f"intents[{i}].{field}")
        patterns = []
        for j, source in enumerate(intent.patterns):
            try:
                pattern = re.compile(source, re.IGNORECASE)
            except re.error as exc:
                where = f"intents[{i}].patterns[{j}]"
                raise InvalidOptions("scripted", f"is not a valid regex: {exc}", where) from exc
            groups.update(pattern.groupindex)
            patterns.append(pattern)
        compiled.append(_CompiledIntent(intent, patterns))
    known = groups | set(options.variables)
    templates = [
        (f"intents[{i}].responses[{j}]", response, _tool_slots(intent.tool))
        for i, intent in enumerate(options.intents)
        for j, response in enumerate(intent.responses)
    ]
    templates += [
        (f"intents[{i}].tool.arguments.{name}", argument, set())
        for i, intent in enumerate(options.intents)
        if intent.tool is not None
        for name, argument in intent.tool.arguments.items()
    ]
    templates += [
        ("greeting", options.greeting, set()),
        ("fallback", options.fallback, set()),
        ("closing", options.closing, set()),
    ]
    for where, template, extra in templates:
        try:
            names = _fields(template)
        except ValueError as exc:
            raise InvalidOptions("scripted", f"is not a valid template: {exc}", where) from exc
        unknown = [n for n in names if n not in known and n not in extra]
        if unknown:
            raise InvalidOptions(
                "scripted",
                f"uses slot {{{unknown[0]}}}, which no variable or pattern group provides",
                where,
            )
    return compiled
