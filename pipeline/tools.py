"""The tool loop of one reply: the model's text streams out to be spoken, its tool calls run,
their results go back to the model, and the reply goes on.

While a tool runs, what the model said before the call is spoken, and the tool's filler phrase
after a threshold, so the caller does not hear dead air. A tool that fails or is slow answers
with text the model can use; the call goes on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Protocol

import msgspec

from pipeline.records import CallEvent, TurnMetrics
from providers.base import LLMEvent, Message, TextDelta, ToolCall, ToolSpec

# Rounds of tool calls one reply may make; calls beyond them are not run and the reply ends
# there, so a model stuck calling tools cannot keep the caller waiting. (Tools stay offered on
# every request: Claude refuses a history with tool calls in a request that offers none.)
MAX_TOOL_ROUNDS = 3
# Characters of a tool's arguments and result kept in the call record's event.
RECORD_CHARS = 1000
# The result of a call the caller talked over: the reply was dropped, the tool may have acted.
INTERRUPTED = "The caller interrupted before this tool answered; it may or may not have run."


class ToolOutcome(msgspec.Struct, frozen=True):
    """What a tool gave back, as text for the model; `ok` False: it failed (the text says how).
    `end_call`: the call ends once the reply so far has been heard (no further model round)."""

    content: str
    ok: bool
    end_call: bool = False


class ToolRunner(Protocol):
    """The tools of one call."""

    @property
    def specs(self) -> Sequence[ToolSpec]: ...

    def filler(self, name: str) -> tuple[str, float] | None:
        """The phrase to say while tool `name` runs, and after how many seconds."""

    async def run(self, call: ToolCall) -> ToolOutcome:
        """Run `call`; failures are outcomes, not exceptions."""


# One model request: the history so far and the tools offered -> its events.
OpenRound = Callable[[list[Message], Sequence[ToolSpec]], AsyncIterator[LLMEvent]]


class ToolLoop:
    """Runs one reply through as many model requests as its tool calls need.

    `say` speaks a phrase; `pause` speaks what the model said so far (the text before a
    call); `remember` adds a turn to the call's history; `record` keeps a call event; `turn`
    counts the calls and the time they took.
    """

    def __init__(
        self,
        runner: ToolRunner | None,
        turn: TurnMetrics,
        *,
        say: Callable[[str], None],
        pause: Callable[[], None],
        remember: Callable[[Message], None],
        record: Callable[[CallEvent], None],
        clock_ms: Callable[[], int],
    ) -> None:
        self._runner = runner
        self._turn = turn
        self._say = say
        self._pause = pause
        self._remember = remember
        self._record = record
        self._clock_ms = clock_ms
        self.ends_call = False  # a tool asked to end the call after this reply
        self._closing = False

    def close_round(self) -> None:
        """The reply is complete (its end-of-call marker came): the rest of this round is read
        only for the model's usage report, which comes last; nothing more is said or run."""
        self._closing = True

    async def reply(self, history: list[Message], open_round: OpenRound) -> AsyncIterator[str]:
        """Text deltas of the whole reply; `history` grows by the tool turns."""
        tools: Sequence[ToolSpec] = self._runner.specs if self._runner is not None else ()
        for round_number in range(MAX_TOOL_ROUNDS + 1):
            text: list[str] = []
            calls: list[ToolCall] = []
            async for event in open_round(history, tools):
                if self._closing:
                    continue
                if isinstance(event, TextDelta):
                    text.append(event.text)
                    yield event.text
                else:
                    calls.append(event)
            if self._closing or not calls or self._runner is None:
                return
            if round_number == MAX_TOOL_ROUNDS:
                names = ",".join(call.name for call in calls)
                self._record(CallEvent("tool.limit", self._clock_ms(), {"not_run": names}))
                return
            self._pause()
            history.append(Message("assistant", "".join(text), tool_calls=tuple(calls)))
            results = await self._run_all(self._runner, calls)
            history.extend(results)
            if self.ends_call:
                return

    async def _run_all(self, runner: ToolRunner, calls: list[ToolCall]) -> list[Message]:
        """Each call's result turn. The call's history gets the calls and a result for each,
        also when the caller interrupts (a call left unanswered would make every later request
        invalid); the spoken text stays once, in the reply that follows."""
        results: list[Message] = []
        try:
            for call in calls:
                results.append(Message("tool", await self._run(runner, call), tool_call_id=call.id))
        finally:
            self._remember(Message("assistant", "", tool_calls=tuple(calls)))
            for message in results:
                self._remember(message)
            for call in calls[len(results) :]:
                self._remember(Message("tool", INTERRUPTED, tool_call_id=call.id))
        return results

    async def _run(self, runner: ToolRunner, call: ToolCall) -> str:
        started = time.monotonic()
        task = asyncio.ensure_future(runner.run(call))
        outcome = ToolOutcome(INTERRUPTED, ok=False)
        try:
            filler = runner.filler(call.name)
            if filler is not None:
                phrase, after_s = filler
                done, _ = await asyncio.wait({task}, timeout=after_s)
                if not done:
                    self._say(phrase)
            outcome = await task
        except asyncio.CancelledError:
            if task.done() and not task.cancelled() and task.exception() is None:
                outcome = task.result()  # it answered as the call ended (a transfer, say)
            else:
                task.cancel()
            raise
        except Exception as exc:  # a broken tool is an answer, never a dropped call
            outcome = ToolOutcome(f"{call.name} failed ({type(exc).__name__}).", ok=False)
        finally:
            self._recorded(call, outcome, int((time.monotonic() - started) * 1000))
        self.ends_call = self.ends_call or outcome.end_call
        return outcome.content

    def _recorded(self, call: ToolCall, outcome: ToolOutcome, latency_ms: int) -> None:
        self._turn.tool_calls += 1
        self._turn.tool_ms += latency_ms
        self._record(
            CallEvent(
                "tool.call",
                self._clock_ms(),
                {
                    "name": call.name,
                    "id": call.id,
                    "arguments": call.arguments[:RECORD_CHARS],
                    "result": outcome.content[:RECORD_CHARS],
                    "ok": str(outcome.ok).lower(),
                    "latency_ms": str(latency_ms),
                },
            )
        )
