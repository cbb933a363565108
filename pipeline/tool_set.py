"""The tools of one call, gathered from every source the agent has (HTTP, MCP, built-in call
control), as the one `ToolRunner` the reply's tool loop talks to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from pipeline.tools import ToolOutcome, ToolRunner
from providers.base import ToolCall, ToolSpec


@runtime_checkable
class ConnectedTools(Protocol):
    """A runner whose tools are known only once it has connected (an MCP server's)."""

    async def open(self) -> dict[str, str]:
        """Connect; what could not be reached, by source name, with the reason."""

    async def close(self) -> None: ...


class ToolSet:
    """Several runners as one: a tool name belongs to the first runner that offers it."""

    def __init__(self, runners: Sequence[ToolRunner]) -> None:
        self._runners = list(runners)

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
        runner = self._owner(name)
        return runner.filler(name) if runner is not None else None

    async def run(self, call: ToolCall) -> ToolOutcome:
        runner = self._owner(call.name)
        if runner is None:
            return ToolOutcome(f"There is no tool named {call.name}.", ok=False)
        return await runner.run(call)

    async def open(self) -> dict[str, str]:
        """Connect the runners that need it; what failed, by source name."""
        problems: dict[str, str] = {}
        for runner in self._runners:
            if isinstance(runner, ConnectedTools):
                problems.update(await runner.open())
        return problems

    async def close(self) -> None:
        for runner in self._runners:
            if isinstance(runner, ConnectedTools):
                await runner.close()

    def _owner(self, name: str) -> ToolRunner | None:
        for runner in self._runners:
            if any(spec.name == name for spec in runner.specs):
                return runner
        return None


def combined(*runners: ToolRunner | None) -> ToolRunner | None:
    """The runners that offer tools (or may once connected) as one; None when there are none."""
    present = [r for r in runners if r is not None and (r.specs or isinstance(r, ConnectedTools))]
    if not present:
        return None
    return present[0] if len(present) == 1 else ToolSet(present)
