"""The built-in "stop calling me" tool: the callee asks not to be called again, and the model
puts them on the tenant's do-not-call list at once, then says goodbye.

The list itself is behind `AddToList` (given by the wiring), so the pipeline knows nothing of
the store.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

import structlog

from pipeline.tools import ToolOutcome
from providers.base import ToolCall, ToolSpec

log = structlog.get_logger(__name__)

NAME: Final = "add_to_do_not_call"
# Puts the person on the call on the list; raises when it could not.
AddToList = Callable[[], Awaitable[None]]
DESCRIPTION: Final = (
    "Put the person on this call on the do-not-call list so they are never called again. "
    "Call it at once when they ask not to be called again, to stop calling, to be removed "
    "from the list, or say they are not interested in any further calls; then confirm "
    "briefly and end the call."
)
PARAMETERS: Final[dict[str, Any]] = {"type": "object", "properties": {}}
DONE: Final = "Done: this number is on the do-not-call list and will not be called again."
FAILED: Final = (
    "The list could not be updated just now; tell them their request is noted and end the call."
)


class DoNotCallTool:
    """The `ToolRunner` of the one built-in tool."""

    def __init__(self, add: AddToList) -> None:
        self._add = add

    @property
    def specs(self) -> list[ToolSpec]:
        return [ToolSpec(NAME, DESCRIPTION, PARAMETERS)]

    def filler(self, name: str) -> tuple[str, float] | None:
        return None

    async def run(self, call: ToolCall) -> ToolOutcome:
        if call.name != NAME:
            return ToolOutcome(f"There is no tool named {call.name}.", ok=False)
        try:
            await self._add()
        except Exception as e:  # the caller still hears an answer; the event records the failure
            log.warning("do-not-call request not stored", error=repr(e))
            return ToolOutcome(FAILED, ok=False)
        return ToolOutcome(DONE, ok=True)
