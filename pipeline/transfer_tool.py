"""The built-in `transfer_call` tool: the model hands the caller to one of the agent's named
destinations, through the call's transport (`pipeline.call_control.CallControl`).

Before the hand-over the caller hears what the agent said (and cannot talk over it: the
transfer is under way). A warm transfer asks the caller to hold, then speaks the model's
summary to the human alone: an aside kept as a call event, not in the caller's transcript.
A transfer that fails is a result the model reads, with the caller still on the line.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final, Protocol

import msgspec
import structlog

from pipeline.call_control import (
    CallControl,
    TransferFailure,
    TransferMode,
    TransferResult,
    TransferSettings,
    TransferTarget,
)
from pipeline.tools import ToolOutcome
from providers.base import ToolCall, ToolSpec

log = structlog.get_logger(__name__)

TOOL_NAME: Final = "transfer_call"
# Longest wait for the agent's words to be heard before the hand-over goes ahead anyway
# (a sentence whose speech failed never reports being heard).
HEARD_WAIT_S: Final = 20.0
# A call ending while the transport hands it over waits this long for the hand-over to finish.
HANDOVER_FINISH_S: Final = 2.0
# What the human hears before the model's summary.
SUMMARY_OPENING: Final = "Hello, I have a caller for you."
# What the caller hears before a warm transfer's hold audio and briefing.
HOLD_MESSAGE: Final = "Please hold while I connect you."
FAILURE_WORDS: Final = {
    TransferFailure.BUSY: "the line is busy",
    TransferFailure.NO_ANSWER: "nobody answered",
    TransferFailure.REJECTED: "the call was declined",
    TransferFailure.FAILED: "the line could not be reached",
}


class AgentVoice(Protocol):
    """What the tool needs of the call's pipeline."""

    async def say_and_wait(self, text: str, *, aside: bool = False) -> None:
        """Say `text` after what is queued ('' says nothing more), the caller unable to talk
        over it, and return once all of it was heard (an `aside` by the transfer target alone,
        left out of what the caller heard)."""

    def note(self, kind: str, **detail: str) -> None:
        """Keep an event in the call record."""

    def transferred(self) -> None:
        """The caller was handed over: the agent's part of the call is over."""


class _Arguments(msgspec.Struct, forbid_unknown_fields=False):
    destination: str
    summary: str = ""


class TransferTool:
    """The `ToolRunner` of `transfer_call` for one call; `bind` the pipeline before it runs."""

    def __init__(self, settings: TransferSettings, control: CallControl) -> None:
        self._settings = settings
        self._control = control
        self._targets = {t.name: t for t in settings.targets}
        self._voice: AgentVoice | None = None
        self._lock = asyncio.Lock()
        self._done = False

    def bind(self, voice: AgentVoice) -> None:
        self._voice = voice

    @property
    def specs(self) -> list[ToolSpec]:
        return [ToolSpec(TOOL_NAME, self._description(), self._parameters())]

    def filler(self, name: str) -> tuple[str, float] | None:
        return None  # the agent announced the transfer itself; hold is silent

    def _description(self) -> str:
        lines = [
            "Transfer the caller to a person. Use it only when the caller asks for a person or "
            "needs what only one of these destinations can do; first tell the caller you are "
            "transferring them. Destinations:"
        ]
        for target in self._settings.targets:
            lines.append(
                f"- {target.name}" + (f": {target.description}" if target.description else "")
            )
        return "\n".join(lines)

    def _parameters(self) -> dict[str, Any]:
        properties: dict[str, Any] = {
            "destination": {"type": "string", "enum": list(self._targets)},
        }
        required = ["destination"]
        if self._settings.mode is TransferMode.WARM:
            properties["summary"] = {
                "type": "string",
                "description": "Told to the person before the caller is put through: who is "
                "calling and why, in one or two short sentences.",
            }
            required.append("summary")
        return {"type": "object", "properties": properties, "required": required}

    async def run(self, call: ToolCall) -> ToolOutcome:
        if call.name != TOOL_NAME:
            return ToolOutcome(f"There is no tool named {call.name}.", ok=False)
        try:
            arguments = msgspec.json.decode(call.arguments or "{}", type=_Arguments)
        except msgspec.DecodeError:
            return ToolOutcome("The arguments were not understood; call it again.", ok=False)
        target = self._targets.get(arguments.destination)
        if target is None:
            names = ", ".join(self._targets)
            return ToolOutcome(
                f"There is no destination named {arguments.destination!r}; choose one of: {names}.",
                ok=False,
            )
        voice = self._voice
        if voice is None:
            raise RuntimeError("transfer tool used before it was bound to a call")
        async with self._lock:
            if self._done:
                return ToolOutcome("The caller was already transferred.", ok=False)
            return await self._transfer(voice, target, arguments.summary.strip())

    async def _transfer(
        self, voice: AgentVoice, target: TransferTarget, summary: str
    ) -> ToolOutcome:
        mode = self._settings.mode
        await self._heard(voice, HOLD_MESSAGE if mode is TransferMode.WARM else "")
        announce = None
        if mode is TransferMode.WARM:
            speech = f"{SUMMARY_OPENING} {summary}" if summary else SUMMARY_OPENING

            async def announce() -> None:
                await self._heard(voice, speech, aside=True)
                voice.note(
                    "transfer.briefing", target=target.name, to="transfer_target", text=speech
                )

        voice.note("transfer.started", target=target.name, mode=mode.value)
        transfer = asyncio.ensure_future(
            self._control.transfer(
                target, mode, ring_timeout_s=self._settings.ring_timeout_s, announce=announce
            )
        )
        try:
            result = await asyncio.shield(transfer)
        except asyncio.CancelledError:
            # The call is ending, maybe because the hand-over itself closed the agent's leg
            # (Twilio ends the stream as it takes the new TwiML): let a hand-over about to
            # complete complete, so that the record says what happened.
            done, _ = await asyncio.wait({transfer}, timeout=HANDOVER_FINISH_S)
            if not done:
                transfer.cancel()
            elif not transfer.cancelled() and transfer.exception() is None and transfer.result().ok:
                self._handed_over(voice, target, transfer.result().mode or mode)
            raise
        except Exception as exc:  # a broken transport is a failed transfer, not a dropped call
            log.exception("transfer failed", target=target.name)
            result = TransferResult(failure=TransferFailure.FAILED, detail=type(exc).__name__)
        if result.ok:
            self._handed_over(voice, target, result.mode or mode)
            return ToolOutcome(f"The caller was transferred to {target.name}.", ok=True)
        assert result.failure is not None
        voice.note(
            "transfer.failed",
            target=target.name,
            mode=mode.value,
            reason=result.failure.value,
            detail=result.detail,
        )
        return ToolOutcome(
            f"The transfer to {target.name} did not happen: {FAILURE_WORDS[result.failure]}. "
            "The caller is still with you: tell them, and offer to help another way.",
            ok=False,
        )

    def _handed_over(self, voice: AgentVoice, target: TransferTarget, mode: TransferMode) -> None:
        self._done = True
        voice.note("transfer.done", target=target.name, mode=mode.value)
        voice.transferred()

    @staticmethod
    async def _heard(voice: AgentVoice, text: str, *, aside: bool = False) -> None:
        try:
            async with asyncio.timeout(HEARD_WAIT_S):
                await voice.say_and_wait(text, aside=aside)
        except TimeoutError:
            log.warning("agent speech not confirmed heard before the transfer")
