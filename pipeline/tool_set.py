"""Several `ToolRunner`s offered to the model as one (the agent's HTTP tools and built-ins)."""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.tools import ToolOutcome, ToolRunner
from providers.base import ToolCall, ToolSpec


class ToolSet:
    """Runs each call on the runner that offers its name; the first runner wins a clash."""

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

    def _runner(self, name: str) -> ToolRunner | None:
        for runner in self._runners:
            if any(spec.name == name for spec in runner.specs):
                return runner
        return None

    def filler(self, name: str) -> tuple[str, float] | None:
        runner = self._runner(name)
        return None if runner is None else runner.filler(name)

    async def run(self, call: ToolCall) -> ToolOutcome:
        runner = self._runner(call.name)
        if runner is None:
            return ToolOutcome(f"There is no tool named {call.name}.", ok=False)
        return await runner.run(call)
