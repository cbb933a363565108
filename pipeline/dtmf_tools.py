"""Built-in keypad and hang-up tools: `send_dtmf`, `wait_for_digits` and `end_call`.

The pipeline knows neither Asterisk nor Twilio: digits go out through a `DtmfPort` the call's
transport gives (ARI's channel `dtmf` operation, in-band tones on a Media Stream), and the
caller's keys come from the leg's DTMF events, which the engine offers to the `KeyPad` first.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, Protocol

import msgspec
import structlog

from pipeline.tool_set import combined
from pipeline.tools import ToolOutcome, ToolRunner
from providers.base import ToolCall, ToolSpec

log = structlog.get_logger(__name__)

# The keys of a phone pad (A-D exist on the DTMF grid and some IVRs use them).
KEYS = "0123456789*#ABCD"
# ARI's `dtmf` operation also takes "," (a pause); an IVR entry needs no more than keys.
SEND_PATTERN = re.compile(r"^[0-9*#A-D]{1,32}$")
# An account or card number with its check digits fits; longer is a model that lost its way.
MAX_WAIT_DIGITS = 32
DEFAULT_WAIT_TIMEOUT_S = 10.0
# A caller may look for a card; longer than this the line is better handed back to the model.
MAX_WAIT_TIMEOUT_S = 60.0
ENDING = "The call ends once what you said has been heard."


class CallTool(StrEnum):
    """The built-in tools an agent may enable."""

    SEND_DTMF = "send_dtmf"
    WAIT_FOR_DIGITS = "wait_for_digits"
    END_CALL = "end_call"


class DtmfPort(Protocol):
    """Sends keys to the far end of one call, the way its transport can."""

    async def send_dtmf(self, digits: str) -> None:
        """Play `digits` (keys of `KEYS`) to the far end; raises when the transport refuses."""


class KeyPad:
    """The caller's keys while a `wait_for_digits` call listens; otherwise they are not taken
    (and reach the conversation as a caller turn)."""

    def __init__(self) -> None:
        self._keys: asyncio.Queue[str] | None = None

    def offer(self, digit: str) -> bool:
        """True when a waiting tool took `digit`."""
        if self._keys is None:
            return False
        self._keys.put_nowait(digit)
        return True

    async def collect(self, max_digits: int, terminator: str, timeout_s: float) -> tuple[str, str]:
        """Up to `max_digits` keys, until `terminator` (not included) or `timeout_s` without a
        key; the keys and why the wait ended."""
        if self._keys is not None:
            raise RuntimeError("already waiting for digits")
        self._keys = asyncio.Queue()
        digits = ""
        try:
            while len(digits) < max_digits:
                try:
                    key = await asyncio.wait_for(self._keys.get(), timeout_s)
                except TimeoutError:
                    return digits, "timeout"
                if key == terminator:
                    return digits, "terminator"
                digits += key
            return digits, "max_digits"
        finally:
            self._keys = None


class _WaitArguments(msgspec.Struct, forbid_unknown_fields=True):
    max_digits: int = MAX_WAIT_DIGITS
    terminator: str = "#"
    timeout: float = DEFAULT_WAIT_TIMEOUT_S


class _SendArguments(msgspec.Struct, forbid_unknown_fields=True):
    digits: str


SPECS: dict[CallTool, ToolSpec] = {
    CallTool.SEND_DTMF: ToolSpec(
        CallTool.SEND_DTMF.value,
        "Press keys on the phone, as a person would to navigate an automated menu (IVR). "
        "Use it when a recorded menu asks you to press a key; the keys are heard by the other "
        "side, not spoken.",
        {
            "type": "object",
            "properties": {
                "digits": {
                    "type": "string",
                    "description": "The keys to press in order: 0-9, * and #, e.g. '2' or '1234#'.",
                    "pattern": SEND_PATTERN.pattern,
                }
            },
            "required": ["digits"],
        },
    ),
    CallTool.WAIT_FOR_DIGITS: ToolSpec(
        CallTool.WAIT_FOR_DIGITS.value,
        "Ask the caller to type a number on their keypad (an account number, a PIN, a menu "
        "choice) and wait for it. Say what to type first, in the same reply; the result is the "
        "keys pressed.",
        {
            "type": "object",
            "properties": {
                "max_digits": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_WAIT_DIGITS,
                    "description": "Stop after this many keys.",
                },
                "terminator": {
                    "type": "string",
                    "enum": ["#", "*"],
                    "description": "The key that ends the entry (default #).",
                },
                "timeout": {
                    "type": "number",
                    "minimum": 1,
                    "maximum": MAX_WAIT_TIMEOUT_S,
                    "description": "Seconds to wait for each key (default 10).",
                },
            },
        },
    ),
    CallTool.END_CALL: ToolSpec(
        CallTool.END_CALL.value,
        "Hang up. Say a short goodbye first, in the same reply; the line is closed once it has "
        "been heard.",
        {"type": "object", "properties": {}},
    ),
}


class DtmfTools:
    """The `ToolRunner` of an agent's enabled built-in tools for one call."""

    def __init__(
        self, enabled: Sequence[CallTool], *, port: DtmfPort | None, keypad: KeyPad
    ) -> None:
        # Without a port (a transport that cannot send keys) send_dtmf is not offered.
        self._enabled = [t for t in enabled if t is not CallTool.SEND_DTMF or port is not None]
        self._port = port
        self._keypad = keypad

    @property
    def specs(self) -> list[ToolSpec]:
        return [SPECS[tool] for tool in self._enabled]

    def filler(self, name: str) -> tuple[str, float] | None:
        return None  # keys and hang-ups need no "one moment"

    async def run(self, call: ToolCall) -> ToolOutcome:
        try:
            tool = CallTool(call.name)
        except ValueError:
            tool = None
        if tool is None or tool not in self._enabled:
            return ToolOutcome(f"There is no tool named {call.name}.", ok=False)
        try:
            arguments = msgspec.json.decode(call.arguments or "{}", type=dict[str, Any])
        except msgspec.DecodeError:
            return ToolOutcome("The arguments were not a JSON object; call it again.", ok=False)
        if tool is CallTool.END_CALL:
            return ToolOutcome(ENDING, ok=True, end_call=True)
        if tool is CallTool.SEND_DTMF:
            return await self._send(arguments)
        return await self._wait(arguments)

    async def _send(self, arguments: dict[str, Any]) -> ToolOutcome:
        digits = str(arguments.get("digits", "")).upper().replace(" ", "")
        if not SEND_PATTERN.match(digits):
            return ToolOutcome(
                "digits must be 1 to 32 keys among 0-9, *, # and A-D; nothing was pressed.",
                ok=False,
            )
        assert self._port is not None
        try:
            await self._port.send_dtmf(digits)
        except Exception as exc:  # the line refused: an answer for the model, not a crash
            log.warning("send_dtmf_failed", error=f"{type(exc).__name__}: {exc}")
            return ToolOutcome(f"The keys could not be sent ({type(exc).__name__}).", ok=False)
        return ToolOutcome(f"Pressed {' '.join(digits)}.", ok=True)

    async def _wait(self, arguments: dict[str, Any]) -> ToolOutcome:
        try:
            # Lenient: models (and the scripted dialogue's templates) write numbers as text.
            wanted = msgspec.convert(arguments, _WaitArguments, strict=False)
        except msgspec.ValidationError as exc:
            return ToolOutcome(f"Bad arguments: {exc}.", ok=False)
        if wanted.terminator not in ("#", "*"):
            return ToolOutcome("terminator must be # or *.", ok=False)
        max_digits = min(max(wanted.max_digits, 1), MAX_WAIT_DIGITS)
        timeout_s = min(max(wanted.timeout, 1.0), MAX_WAIT_TIMEOUT_S)
        digits, why = await self._keypad.collect(max_digits, wanted.terminator, timeout_s)
        if not digits:
            return ToolOutcome("The caller pressed no keys.", ok=False)
        ended = {
            "terminator": f"ended with {wanted.terminator}",
            "max_digits": f"{max_digits} keys",
            "timeout": "then stopped pressing",
        }[why]
        return ToolOutcome(f"The caller pressed {digits} ({ended}).", ok=True)


def call_tools(
    enabled: Sequence[CallTool], port: DtmfPort | None, others: ToolRunner | None
) -> tuple[KeyPad, ToolRunner | None]:
    """A call's keypad and every tool it offers: the enabled built-ins first, then `others`."""
    keypad = KeyPad()
    return keypad, combined(DtmfTools(enabled, port=port, keypad=keypad), others)
