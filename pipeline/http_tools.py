"""Per-agent HTTP tools: the agent's configured endpoints, called when the model asks.

A tool is one URL the model may call with JSON arguments (`POST` body, or `GET` query). Every
failure (refused destination, timeout, HTTP error, unreadable arguments) becomes text the
model can answer from; nothing here raises into the call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, Literal

import httpx
import msgspec
import structlog

from pipeline.tools import ToolOutcome
from providers.base import ToolCall, ToolSpec

log = structlog.get_logger(__name__)

# Raises when a URL may not be connected to (the process's SSRF guard, given by its wiring).
CheckUrl = Callable[[str], Awaitable[None]]

# What the model reads of a tool's answer: enough for a booking system's reply, bounded so
# one verbose endpoint cannot fill the context (and the bill) of every later turn.
MAX_RESULT_CHARS = 4000
# OpenAI's and Anthropic's rule for function names.
TOOL_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


class HttpTool(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One HTTP endpoint the agent may call during a call, and what it says while waiting."""

    name: Annotated[str, msgspec.Meta(pattern=TOOL_NAME_PATTERN)]
    description: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
    url: Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
    method: Literal["GET", "POST"] = "POST"
    # JSON schema of the arguments, given to the model as it is.
    parameters: dict[str, Any] = msgspec.field(default_factory=lambda: dict(EMPTY_SCHEMA))
    timeout_s: Annotated[float, msgspec.Meta(gt=0, le=30)] = 10.0
    # Spoken when the tool has not answered after `filler_after_s`, so the line is not silent.
    filler: Annotated[str, msgspec.Meta(max_length=200)] = "One moment while I check that."
    filler_after_s: Annotated[float, msgspec.Meta(ge=0, le=10)] = 1.0
    # Sent with every request, in clear only in this process's memory (e.g. Authorization).
    headers: dict[str, str] = msgspec.field(default_factory=dict)

    def __repr__(self) -> str:
        # Header values are secrets: a logged or printed tool shows only their names.
        return f"HttpTool(name={self.name!r}, url={self.url!r}, headers={sorted(self.headers)})"

    def __post_init__(self) -> None:
        if self.parameters.get("type") != "object":
            raise ValueError("tool parameters must be a JSON schema of type object")
        if not self.url.lower().startswith(("http://", "https://")):
            raise ValueError("tool url must be http or https")


class HttpTools:
    """The `ToolRunner` of an agent's HTTP tools for one call."""

    def __init__(self, tools: Sequence[HttpTool], *, check_url: CheckUrl | None) -> None:
        self._tools = {tool.name: tool for tool in tools}
        self._check_url = check_url

    @property
    def specs(self) -> list[ToolSpec]:
        return [ToolSpec(t.name, t.description, t.parameters) for t in self._tools.values()]

    def filler(self, name: str) -> tuple[str, float] | None:
        tool = self._tools.get(name)
        if tool is None or not tool.filler.strip():
            return None
        return tool.filler, tool.filler_after_s

    async def run(self, call: ToolCall) -> ToolOutcome:
        tool = self._tools.get(call.name)
        if tool is None:
            return ToolOutcome(f"There is no tool named {call.name}.", ok=False)
        try:
            arguments = msgspec.json.decode(call.arguments or "{}", type=dict[str, Any])
        except msgspec.DecodeError:
            return ToolOutcome("The arguments were not a JSON object; call it again.", ok=False)
        started = time.monotonic()
        outcome = await self._request(tool, arguments)
        log.info(
            "tool_called",
            tool=tool.name,
            ok=outcome.ok,
            latency_ms=int((time.monotonic() - started) * 1000),
        )
        return outcome

    async def _request(self, tool: HttpTool, arguments: dict[str, Any]) -> ToolOutcome:
        try:
            if self._check_url is not None:
                await self._check_url(tool.url)
        except Exception:
            return ToolOutcome(f"{tool.name} may not be reached from here.", ok=False)
        try:
            async with asyncio.timeout(tool.timeout_s):
                async with httpx.AsyncClient(timeout=tool.timeout_s) as http:
                    if tool.method == "GET":
                        response = await http.get(
                            tool.url, params=_query(arguments), headers=tool.headers
                        )
                    else:
                        response = await http.post(tool.url, json=arguments, headers=tool.headers)
        except TimeoutError:
            return ToolOutcome(
                f"{tool.name} is not answering (no reply within {tool.timeout_s:g} s).", ok=False
            )
        except httpx.HTTPError as exc:
            return ToolOutcome(
                f"{tool.name} could not be reached ({type(exc).__name__}).", ok=False
            )
        body = response.text[:MAX_RESULT_CHARS]
        if response.status_code >= 400:
            return ToolOutcome(
                f"{tool.name} failed with HTTP {response.status_code}: {body}", ok=False
            )
        return ToolOutcome(body, ok=True)


def _query(arguments: dict[str, Any]) -> dict[str, str]:
    """Arguments as query parameters: strings as they are, anything else as JSON."""
    return {
        key: value if isinstance(value, str) else msgspec.json.encode(value).decode()
        for key, value in arguments.items()
    }
