"""An agent's MCP servers: their tools, listed when the call starts, called when the model asks.

Each server is reached over MCP's streamable HTTP transport through the official SDK. One task
per server holds its session for the whole call (the SDK's task groups must be entered and left
by the same task); tool calls from the reply go through that session. A server that cannot be
reached, refuses the destination check, or answers slowly costs its tools, never the call:
failures are text the model can answer from.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Annotated, Any

import httpx2
import msgspec
import structlog
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, TextContent

from pipeline.http_tools import MAX_RESULT_CHARS, TOOL_NAME_PATTERN, CheckUrl
from pipeline.tools import ToolOutcome
from providers.base import ToolCall, ToolSpec

log = structlog.get_logger(__name__)

# Listing a server's tools happens while the greeting plays; a server slower than this is left
# out of the call rather than holding the first reply.
LIST_TIMEOUT_S = 5.0
# Closing a session (the DELETE the transport sends) must not hold the call's record.
CLOSE_TIMEOUT_S = 2.0
# Tools one server may add: each is described to the model on every request.
MAX_TOOLS_PER_SERVER = 32


class McpServer(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One MCP server whose tools the agent may use, and what it says while one runs."""

    name: Annotated[str, msgspec.Meta(pattern=TOOL_NAME_PATTERN)]
    url: Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
    # Only these of the server's tools are offered; None: all it lists.
    allowed_tools: list[str] | None = None
    timeout_s: Annotated[float, msgspec.Meta(gt=0, le=30)] = 10.0
    filler: Annotated[str, msgspec.Meta(max_length=200)] = "One moment while I check that."
    filler_after_s: Annotated[float, msgspec.Meta(ge=0, le=10)] = 1.0

    def __post_init__(self) -> None:
        if not self.url.lower().startswith(("http://", "https://")):
            raise ValueError("MCP server url must be http or https")


class _Session:
    """One server's connection for the call, held open by its own task."""

    def __init__(self, server: McpServer) -> None:
        self.server = server
        self.tools: list[ToolSpec] = []
        self.client: Client | None = None
        self._ready = asyncio.Event()
        self._closing = asyncio.Event()
        self._error: BaseException | None = None
        self._task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """Connect and list the tools; raises what went wrong."""
        self._task = asyncio.create_task(self._hold(), name=f"mcp:{self.server.name}")
        waiter = asyncio.create_task(self._ready.wait())
        try:
            async with asyncio.timeout(LIST_TIMEOUT_S):
                await asyncio.wait({waiter, self._task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if self._error is not None:
            raise self._error
        if not self._ready.is_set():
            raise RuntimeError("the connection closed before listing its tools")

    async def close(self) -> None:
        self._closing.set()
        if self._task is None:
            return
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await asyncio.shield(self._task)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _hold(self) -> None:
        http = httpx2.AsyncClient(timeout=httpx2.Timeout(self.server.timeout_s))
        try:
            transport = streamable_http_client(self.server.url, http_client=http)
            async with Client(transport, read_timeout_seconds=self.server.timeout_s) as client:
                listed = await client.list_tools()
                self.tools = _offered(self.server, listed.tools)
                self.client = client
                self._ready.set()
                await self._closing.wait()
        except Exception as exc:
            self._error = exc
        finally:
            self.client = None
            await http.aclose()


def _offered(server: McpServer, tools: Sequence[Any]) -> list[ToolSpec]:
    allowed = set(server.allowed_tools) if server.allowed_tools is not None else None
    specs = [
        ToolSpec(tool.name, tool.description or tool.name, tool.input_schema)
        for tool in tools
        if allowed is None or tool.name in allowed
    ]
    return specs[:MAX_TOOLS_PER_SERVER]


class McpTools:
    """The `ToolRunner` of an agent's MCP servers for one call; `open` before use."""

    def __init__(self, servers: Sequence[McpServer], *, check_url: CheckUrl | None) -> None:
        self._sessions = [_Session(server) for server in servers]
        self._check_url = check_url
        self._by_tool: dict[str, _Session] = {}
        self._specs: list[ToolSpec] = []

    @property
    def specs(self) -> list[ToolSpec]:
        return self._specs

    def filler(self, name: str) -> tuple[str, float] | None:
        session = self._by_tool.get(name)
        if session is None or not session.server.filler.strip():
            return None
        return session.server.filler, session.server.filler_after_s

    async def open(self) -> dict[str, str]:
        """Connect every server; what failed, by server name (their tools are left out)."""
        results = await asyncio.gather(
            *(self._open(session) for session in self._sessions), return_exceptions=True
        )
        problems: dict[str, str] = {}
        for session, result in zip(self._sessions, results, strict=True):
            if isinstance(result, BaseException):
                problems[session.server.name] = _reason(result)
                continue
            for spec in session.tools:
                # A name two servers share goes to the first, so the model's choice is defined.
                if spec.name not in self._by_tool:
                    self._by_tool[spec.name] = session
                    self._specs.append(spec)
        return problems

    async def close(self) -> None:
        await asyncio.gather(*(session.close() for session in self._sessions))

    async def _open(self, session: _Session) -> None:
        if self._check_url is not None:
            try:
                await self._check_url(session.server.url)
            except Exception as exc:
                raise _Refused("its address may not be reached from here") from exc
        await session.open()

    async def run(self, call: ToolCall) -> ToolOutcome:
        session = self._by_tool.get(call.name)
        if session is None or session.client is None:
            return ToolOutcome(f"There is no tool named {call.name}.", ok=False)
        try:
            arguments = msgspec.json.decode(call.arguments or "{}", type=dict[str, Any])
        except msgspec.DecodeError:
            return ToolOutcome("The arguments were not a JSON object; call it again.", ok=False)
        started = time.monotonic()
        outcome = await self._call(session, session.client, call.name, arguments)
        log.info(
            "tool_called",
            tool=call.name,
            mcp_server=session.server.name,
            ok=outcome.ok,
            latency_ms=int((time.monotonic() - started) * 1000),
        )
        return outcome

    async def _call(
        self, session: _Session, client: Client, name: str, arguments: dict[str, Any]
    ) -> ToolOutcome:
        timeout_s = session.server.timeout_s
        try:
            async with asyncio.timeout(timeout_s):
                result = await client.call_tool(name, arguments)
        except TimeoutError:
            return ToolOutcome(f"{name} is not answering (no reply within {timeout_s:g} s).", False)
        except Exception as exc:
            return ToolOutcome(f"{name} failed ({_reason(exc)}).", ok=False)
        text = _text(result)[:MAX_RESULT_CHARS]
        if result.is_error:
            return ToolOutcome(f"{name} failed: {text}", ok=False)
        return ToolOutcome(text, ok=True)


class _Refused(Exception):
    """The destination check refused the server's URL."""


def _text(result: CallToolResult) -> str:
    """What the model reads: the text blocks, else the structured content as JSON."""
    parts = [block.text for block in result.content if isinstance(block, TextContent)]
    if parts:
        return "\n".join(parts)
    if result.structured_content is not None:
        return msgspec.json.encode(result.structured_content).decode()
    return ""


def _reason(error: BaseException) -> str:
    """A failure in a few words, for the model and the record (never a URL or a header)."""
    if isinstance(error, BaseExceptionGroup) and error.exceptions:
        return _reason(error.exceptions[0])
    if isinstance(error, _Refused):
        return str(error)
    if isinstance(error, TimeoutError):
        return "no answer in time"
    if isinstance(error, httpx2.HTTPError):
        return f"could not be reached ({type(error).__name__})"
    return type(error).__name__
