"""Several `ToolRunner`s offered to the model as one: each call goes to the runner whose tool
it names (an agent's HTTP tools beside the built-in call-control tools)."""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.tools import ToolOutcome, ToolRunner
from providers.base import ToolCall, ToolSpec


class ToolSet:
    """The `ToolRunner` of several runners; a name offered twice goes to the first."""

    def __init__(self, runners: Sequence[ToolRunner]) -> None:
        self._runners = list(runners)

    def _owner(self, name: str) -> ToolRunner | None:
        return next((r for r in self._runners if any(spec.name == name for spec in r.specs)), None)

    @property
    def specs(self) -> list[ToolSpec]:
        seen: set[str] = set()
        specs: list[ToolSpec] = []
        for runner in self._runners:
            for spec in runner.specs:
                if spec.name not in seen:
                    seen.add(spec.name)
                    specs.append(spec)
        return specs

    def filler(self, name: str) -> tuple[str, float] | None:
        owner = self._owner(name)
        return None if owner is None else owner.filler(name)

    async def run(self, call: ToolCall) -> ToolOutcome:
        owner = self._owner(call.name)
        if owner is None:
            return ToolOutcome(f"There is no tool named {call.name}.", ok=False)
        return await owner.run(call)


def combined(*runners: ToolRunner | None) -> ToolRunner | None:
    """The runners given as one; None when there are none."""
    present = [r for r in runners if r is not None]
    if len(present) <= 1:
        return present[0] if present else None
    return ToolSet(present)
