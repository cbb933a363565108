"""One `ToolRunner` over several (built-in tools, the agent's HTTP tools ...), by tool name."""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.tools import ToolOutcome, ToolRunner
from providers.base import ToolCall, ToolSpec


class ToolSet:
    """Offers the tools of `runners`; a name two runners offer belongs to the first."""

    def __init__(self, runners: Sequence[ToolRunner]) -> None:
        self._owners: dict[str, ToolRunner] = {}
        self._specs: list[ToolSpec] = []
        for runner in runners:
            for spec in runner.specs:
                if spec.name not in self._owners:
                    self._owners[spec.name] = runner
                    self._specs.append(spec)

    @property
    def specs(self) -> list[ToolSpec]:
        return list(self._specs)

    def filler(self, name: str) -> tuple[str, float] | None:
        owner = self._owners.get(name)
        return owner.filler(name) if owner is not None else None

    async def run(self, call: ToolCall) -> ToolOutcome:
        owner = self._owners.get(call.name)
        if owner is None:
            return ToolOutcome(f"There is no tool named {call.name}.", ok=False)
        return await owner.run(call)


def combined(*runners: ToolRunner | None) -> ToolRunner | None:
    """The runners that offer tools as one, or None when none does."""
    present = [r for r in runners if r is not None and r.specs]
    if not present:
        return None
    return present[0] if len(present) == 1 else ToolSet(present)
